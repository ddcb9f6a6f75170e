use super::*;

fn root() -> Arc<TmpInode> {
    root_of_size(64 * PAGE as u64)
}

/// A tmpfs of `max_bytes`, in a memory file of its own.
fn root_of_size(max_bytes: u64) -> Arc<TmpInode> {
    Tmpfs::with_limit(
        &MemoryFile::new().unwrap(),
        0o755,
        Owner::default(),
        max_bytes,
    )
}

#[test]
fn rename_exchange_swaps_entries_and_moves_dir_links() {
    let r = root();
    let me: InodeRef = r.clone();
    let d = r.mkdir(b"d", 0o755, Owner::default()).unwrap();
    let f = r.create(b"f", 0o644, Owner::default()).unwrap();
    let sub = d.mkdir(b"sub", 0o755, Owner::default()).unwrap();
    r.rename(b"d", &me, b"f", libc::RENAME_EXCHANGE).unwrap();
    assert_eq!(r.lookup(b"f").unwrap().ino(), d.ino());
    assert_eq!(r.lookup(b"d").unwrap().ino(), f.ino());
    assert_eq!(
        r.rename(b"d", &me, b"none", libc::RENAME_EXCHANGE),
        Err(Errno::ENOENT)
    );
    // A directory swapped with a file of another directory takes its
    // `..` link along.
    let dref: InodeRef = d.clone();
    let before = (r.stat().unwrap().st_nlink, d.stat().unwrap().st_nlink);
    d.rename(b"sub", &me, b"d", libc::RENAME_EXCHANGE).unwrap();
    assert_eq!(r.lookup(b"d").unwrap().ino(), sub.ino());
    assert_eq!(dref.lookup(b"sub").unwrap().ino(), f.ino());
    assert_eq!(r.stat().unwrap().st_nlink, before.0 + 1);
    assert_eq!(d.stat().unwrap().st_nlink, before.1 - 1);
}

#[test]
fn tmpfile_has_no_links_until_linked_unless_exclusive() {
    let r = root();
    let t = r.tmpfile(0o600, Owner::default(), true).unwrap();
    assert_eq!(t.stat().unwrap().st_nlink, 0);
    r.link(b"named", &t).unwrap();
    assert_eq!(t.stat().unwrap().st_nlink, 1);
    let x = r.tmpfile(0o600, Owner::default(), false).unwrap();
    assert_eq!(r.link(b"never", &x), Err(Errno::ENOENT));
}

#[test]
fn xattrs_are_stored_created_replaced_and_removed() {
    let r = root();
    let f = r.create(b"f", 0o644, Owner::default()).unwrap();
    f.xattr_set(b"user.a", Some(b"1"), 0).unwrap();
    assert_eq!(
        f.xattr_set(b"user.a", Some(b"2"), vfs::xattr::CREATE),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        f.xattr_set(b"user.b", Some(b"2"), vfs::xattr::REPLACE),
        Err(Errno::ENODATA)
    );
    f.xattr_set(b"user.b", Some(b""), 0).unwrap();
    assert_eq!(f.xattr_get(b"user.a").unwrap(), b"1");
    assert_eq!(
        f.xattr_list().unwrap(),
        vec![b"user.b".to_vec(), b"user.a".to_vec()]
    );
    f.xattr_set(b"user.a", None, 0).unwrap();
    assert_eq!(f.xattr_set(b"user.a", None, 0), Err(Errno::ENODATA));
    assert_eq!(f.xattr_get(b"user.a"), Err(Errno::ENODATA));
}

#[test]
fn punch_hole_zeroes_inside_the_file_and_keeps_the_size() {
    let r = root();
    let f = r.create(b"f", 0o644, Owner::default()).unwrap();
    let ops = f.clone().open(libc::O_RDWR).unwrap();
    let data = vec![7u8; 3 * PAGE];
    assert_eq!(ops.write_at(&data, 0).unwrap(), data.len());
    f.punch_hole(10, 2 * PAGE as u64).unwrap();
    let mut back = vec![0u8; 3 * PAGE];
    assert_eq!(ops.read_at(&mut back, 0).unwrap(), back.len());
    assert!(back[..10].iter().all(|&b| b == 7));
    assert!(back[10..10 + 2 * PAGE].iter().all(|&b| b == 0));
    assert!(back[10 + 2 * PAGE..].iter().all(|&b| b == 7));
    assert_eq!(f.stat().unwrap().st_size, 3 * PAGE as i64);
    // Past the end: nothing to do.
    f.punch_hole(1 << 40, 1 << 20).unwrap();
}

#[test]
fn sparse_write_reads_back_with_zero_holes() {
    let r = root();
    let f = r.create(b"f", 0o644, Owner::default()).unwrap();
    let ops = f.clone().open(libc::O_RDWR).unwrap();
    assert_eq!(ops.write_at(b"abc", 1 << 40).unwrap(), 3);
    assert_eq!(f.stat().unwrap().st_size, (1 << 40) + 3);
    let mut buf = [7u8; 8];
    assert_eq!(ops.read_at(&mut buf, (1 << 40) - 5).unwrap(), 8);
    assert_eq!(&buf, b"\0\0\0\0\0abc");
    assert_eq!(ops.read_at(&mut buf, (1 << 40) + 3).unwrap(), 0);
}

#[test]
fn full_filesystem_gives_short_write_then_enospc() {
    let r = root_of_size(2 * PAGE as u64);
    let f = r.create(b"f", 0o644, Owner::default()).unwrap();
    let ops = f.clone().open(libc::O_RDWR).unwrap();
    let big = vec![1u8; 3 * PAGE];
    assert_eq!(ops.write_at(&big, 0).unwrap(), 2 * PAGE);
    assert_eq!(ops.write_at(&big, 2 * PAGE as u64), Err(Errno::ENOSPC));
    // Freeing space makes room again.
    f.setattr(&SetAttr {
        size: Some(0),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(ops.write_at(&big[..PAGE], 0).unwrap(), PAGE);
}

#[test]
fn truncate_then_grow_reads_zeros() {
    let r = root();
    let f = r.create(b"f", 0o644, Owner::default()).unwrap();
    let ops = f.clone().open(libc::O_RDWR).unwrap();
    ops.write_at(&[9u8; 100], 0).unwrap();
    f.setattr(&SetAttr {
        size: Some(10),
        ..Default::default()
    })
    .unwrap();
    f.setattr(&SetAttr {
        size: Some(100),
        ..Default::default()
    })
    .unwrap();
    let mut buf = [1u8; 100];
    assert_eq!(ops.read_at(&mut buf, 0).unwrap(), 100);
    assert!(buf[..10].iter().all(|&b| b == 9));
    assert!(buf[10..].iter().all(|&b| b == 0));
}

fn reg_file(r: &Arc<TmpInode>, name: &[u8]) -> Arc<TmpInode> {
    r.make(name, libc::S_IFREG, 0o644, Owner::default(), 0, None, false)
        .unwrap()
}

/// The file's chunks: index and memory-file range.
fn chunks(f: &TmpInode) -> Vec<(u64, Arc<MemRange>)> {
    match &f.lock().data {
        Data::Reg(r) => r.chunks.iter().map(|(k, c)| (*k, c.mem.clone())).collect(),
        _ => panic!("not a regular file"),
    }
}

fn peek(seg: &MemSegment, at: u64, len: usize) -> Vec<u8> {
    let p = seg.0.ptr(seg.1 + at, len as u64).unwrap();
    let mut v = vec![0u8; len];
    // SAFETY: `p` points at `len` bytes of the segment (checked).
    unsafe { std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), len) };
    v
}

fn poke(seg: &MemSegment, at: u64, data: &[u8]) {
    let p = seg.0.ptr(seg.1 + at, data.len() as u64).unwrap();
    // SAFETY: `p` points at `data.len()` bytes of the segment (checked).
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
}

#[test]
fn chunks_grow_geometrically_then_stay_at_the_maximum() {
    const K: u64 = 1024;
    assert_eq!(chunk_of(0), (0, 0, 64 * K));
    assert_eq!(chunk_of(64 * K - 1), (0, 0, 64 * K));
    assert_eq!(chunk_of(64 * K), (1, 64 * K, 128 * K));
    assert_eq!(chunk_of(192 * K), (2, 192 * K, 256 * K));
    assert_eq!(
        chunk_of(GEOMETRIC_END - 1),
        (10, GEOMETRIC_END - CHUNK_MAX, CHUNK_MAX)
    );
    assert_eq!(chunk_of(GEOMETRIC_END), (11, GEOMETRIC_END, 64 << 20));
    assert_eq!(
        chunk_of(GEOMETRIC_END + 3 * CHUNK_MAX + 5),
        (14, GEOMETRIC_END + 3 * CHUNK_MAX, CHUNK_MAX)
    );
    // Chunks tile the file: each starts where the previous ends, at a
    // page boundary.
    let mut end = 0;
    for k in 0..40 {
        let (i, start, len) = chunk_of(chunk_start(k));
        assert_eq!((i, start), (k, end));
        assert_eq!(chunk_of(start + len - 1).0, k);
        assert!(start.is_multiple_of(PAGE as u64) && len.is_multiple_of(PAGE as u64));
        end = start + len;
    }
    // The largest file offset still has a chunk, inside u64.
    let (k, start, len) = chunk_of(MAX_FILE_SIZE);
    assert!(start <= MAX_FILE_SIZE && start.checked_add(len).is_some());
    assert_eq!(chunk_start(k), start);
}

#[test]
fn writes_allocate_the_chunks_they_touch_and_reads_past_eof_are_empty() {
    let r = root();
    let f = reg_file(&r, b"f");
    // One byte in chunk 0, one in chunk 3 (at 448 KiB).
    f.write_data(b"a", 10).unwrap();
    f.write_data(b"b", 500 << 10).unwrap();
    let ks: Vec<u64> = chunks(&f).iter().map(|c| c.0).collect();
    assert_eq!(ks, vec![0, 3]);
    assert_eq!(chunks(&f)[1].1.len, 512 << 10);
    // Two pages charged, whatever the chunk sizes.
    assert_eq!(f.stat().unwrap().st_blocks, 2 * (PAGE as i64 / 512));
    let mut buf = [9u8; 4];
    assert_eq!(f.read_data(&mut buf, 100 << 10).unwrap(), 4);
    assert_eq!(buf, [0; 4]);
    assert_eq!(f.read_data(&mut buf, (500 << 10) + 1).unwrap(), 0);
    assert_eq!(f.read_data(&mut buf, 1 << 40).unwrap(), 0);
    // A read across chunk boundaries.
    let mut big = vec![7u8; 600 << 10];
    f.write_data(&vec![5u8; 100 << 10], 40 << 10).unwrap();
    assert_eq!(f.read_data(&mut big, 0).unwrap(), (500 << 10) + 1);
    assert_eq!(big[10], b'a');
    assert!(big[40 << 10..140 << 10].iter().all(|&b| b == 5));
    assert_eq!(big[500 << 10], b'b');
}

#[test]
fn shared_memory_is_the_file_data_even_past_the_end() {
    let r = root();
    let f = reg_file(&r, b"f");
    f.write_data(b"hello", 0).unwrap();
    let segs = f.shared_memory(0, 256 << 10).unwrap().unwrap();
    let shape: Vec<(u64, u64, u64)> = segs.iter().map(|s| (s.0.len, s.1, s.2)).collect();
    assert_eq!(
        shape,
        vec![
            (64 << 10, 0, 64 << 10),
            (128 << 10, 0, 128 << 10),
            (256 << 10, 0, 64 << 10)
        ]
    );
    // The mapping sees write(); read() sees stores through it.
    assert_eq!(peek(&segs[0], 0, 5), b"hello");
    poke(&segs[0], 1, b"E");
    let mut buf = [0u8; 5];
    f.read_data(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"hEllo");
    f.write_data(b"xyz", 70 << 10).unwrap();
    assert_eq!(peek(&segs[1], 6 << 10, 3), b"xyz");
    // Memory past the end is there, but reads stop at the size.
    poke(&segs[2], 0, b"beyond");
    assert_eq!(f.read_data(&mut buf, (70 << 10) + 3).unwrap(), 0);
    // A later request gets the same pages, from inside a chunk.
    let again = f.shared_memory(68 << 10, 8 << 10).unwrap().unwrap();
    assert_eq!(again.len(), 1);
    assert!(Arc::ptr_eq(&again[0].0, &segs[1].0));
    assert_eq!((again[0].1, again[0].2), (4 << 10, 8 << 10));
    // Bad requests.
    assert!(f.shared_memory(1, PAGE as u64).unwrap().is_err());
    assert_eq!(
        f.shared_memory(MAX_FILE_SIZE & !(PAGE as u64 - 1), 2 * PAGE as u64)
            .unwrap()
            .err(),
        Some(Errno::EOVERFLOW)
    );
    assert!(r.shared_memory(0, PAGE as u64).is_none());
    // The probe allocates nothing.
    let probe = reg_file(&r, b"probe");
    assert!(probe.shared_memory(0, 0).unwrap().unwrap().is_empty());
    assert!(chunks(&probe).is_empty());
}

#[test]
fn truncate_punches_the_tail_and_frees_unmapped_chunks() {
    let r = root_of_size(4 << 20);
    let f = reg_file(&r, b"f");
    let g = reg_file(&r, b"g");
    for x in [&f, &g] {
        x.write_data(&vec![1u8; 300 << 10], 0).unwrap();
    }
    // Map all of f (chunks 0..=2); nobody maps g.
    let segs = f.shared_memory(0, 448 << 10).unwrap().unwrap();
    for x in [&f, &g] {
        x.setattr(&SetAttr {
            size: Some(100),
            ..Default::default()
        })
        .unwrap();
    }
    // The mapped chunks stay (data never moves) but hold zeros past
    // the end; the byte before the end is kept.
    let ks: Vec<u64> = chunks(&f).iter().map(|c| c.0).collect();
    assert_eq!(ks, vec![0, 1, 2]);
    assert_eq!(peek(&segs[0], 99, 2), vec![1, 0]);
    assert!(peek(&segs[0], 0, 64 << 10)[100..].iter().all(|&b| b == 0));
    assert!(peek(&segs[1], 0, 128 << 10).iter().all(|&b| b == 0));
    assert_eq!(f.stat().unwrap().st_blocks, PAGE as i64 / 512);
    // g's chunks past the end are freed.
    let gk: Vec<u64> = chunks(&g).iter().map(|c| c.0).collect();
    assert_eq!(gk, vec![0]);
    // Growing again reads zeros, and writes land in the mapped pages.
    f.write_data(b"again", 70 << 10).unwrap();
    assert_eq!(peek(&segs[1], 6 << 10, 5), b"again");
    let mut buf = [1u8; 8];
    assert_eq!(f.read_data(&mut buf, 200).unwrap(), 8);
    assert_eq!(buf, [0; 8]);
    // Dropping the mappings lets the next truncation free the chunks.
    drop(segs);
    f.setattr(&SetAttr {
        size: Some(0),
        ..Default::default()
    })
    .unwrap();
    assert!(chunks(&f).is_empty());
    assert_eq!(f.stat().unwrap().st_blocks, 0);
}

#[test]
fn a_failed_shared_memory_request_keeps_no_chunk() {
    // A memory file of its own: this test fills it.
    let mf = MemoryFile::new().unwrap();
    let r = Tmpfs::with_limit(&mf, 0o755, Owner::default(), 64 * PAGE as u64);
    let f = reg_file(&r, b"f");
    f.write_data(b"x", 0).unwrap();
    assert_eq!(
        f.shared_memory(0, 2 << 40).unwrap().err(),
        Some(Errno::ENOMEM)
    );
    let ks: Vec<u64> = chunks(&f).iter().map(|c| c.0).collect();
    assert_eq!(ks, vec![0]);
    // Everything it took is back: the next allocation follows chunk 0.
    assert_eq!(mf.allocate(PAGE as u64).unwrap(), 64 << 10);
}

#[test]
fn directory_link_counts_follow_subdirectories() {
    let r = root();
    r.mkdir(b"a", 0o755, Owner::default()).unwrap();
    r.mkdir(b"b", 0o755, Owner::default()).unwrap();
    assert_eq!(r.stat().unwrap().st_nlink, 4);
    let any: InodeRef = r.clone();
    r.rename(b"a", &any.lookup(b"b").unwrap(), b"a", 0).unwrap();
    assert_eq!(r.stat().unwrap().st_nlink, 3);
    assert_eq!(r.lookup(b"b").unwrap().stat().unwrap().st_nlink, 3);
    assert_eq!(r.rmdir(b"b"), Err(Errno::ENOTEMPTY));
}

#[test]
fn rename_checks_types_and_noreplace() {
    let r = root();
    let me: InodeRef = r.clone();
    r.mkdir(b"d", 0o755, Owner::default()).unwrap();
    r.create(b"f", 0o644, Owner::default()).unwrap();
    assert_eq!(r.rename(b"d", &me, b"f", 0), Err(Errno::ENOTDIR));
    assert_eq!(r.rename(b"f", &me, b"d", 0), Err(Errno::EISDIR));
    r.create(b"g", 0o644, Owner::default()).unwrap();
    assert_eq!(
        r.rename(b"f", &me, b"g", libc::RENAME_NOREPLACE),
        Err(Errno::EEXIST)
    );
    r.rename(b"f", &me, b"g", 0).unwrap();
    assert_eq!(r.lookup(b"f").err(), Some(Errno::ENOENT));
    assert_eq!(r.readdir().unwrap().len(), 2);
}

#[test]
fn hard_links_share_data_and_count() {
    let r = root();
    let f = r.create(b"f", 0o644, Owner::default()).unwrap();
    r.link(b"g", &f).unwrap();
    assert_eq!(f.stat().unwrap().st_nlink, 2);
    r.unlink(b"f").unwrap();
    assert_eq!(f.stat().unwrap().st_nlink, 1);
    assert_eq!(r.lookup(b"g").unwrap().ino(), f.ino());
}

/// `data` cut into buffers of the given sizes (the last takes the rest),
/// as an application's iovecs would cut it.
fn cut(data: &mut [u8], sizes: &[usize]) -> Vec<(*mut u8, usize)> {
    let mut out = Vec::new();
    let mut rest = data;
    for &n in sizes {
        let (a, b) = rest.split_at_mut(n.min(rest.len()));
        out.push((a.as_mut_ptr(), a.len()));
        rest = b;
    }
    out.push((rest.as_mut_ptr(), rest.len()));
    out
}

#[test]
fn scattered_buffers_read_and_write_what_one_buffer_does() {
    let r = root_of_size(4 << 20);
    let f = reg_file(&r, b"f");
    // Across chunks 0 to 2, from an offset inside a page.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut src = data.clone();
    let pieces = cut(&mut src, &[1, 4095, 10_000, 70_001]);
    let n = f.write_pieces(&mut Pieces::new(&pieces), 100).unwrap();
    assert_eq!(n, data.len());
    let mut back = vec![1u8; 100 + data.len()];
    assert_eq!(f.read_data(&mut back, 0).unwrap(), back.len());
    assert_eq!(&back[..100], &[0u8; 100][..]);
    assert_eq!(&back[100..], &data[..]);

    // Read from inside the hole to past the end, into uneven buffers: the
    // bytes past the end of the file stay as they were.
    let mut dst = vec![0xeeu8; back.len() + 5000];
    let pieces = cut(&mut dst, &[3, 65_533, 1, 200_000]);
    let n = f.read_pieces(&mut Pieces::new(&pieces), 50).unwrap();
    assert_eq!(n, back.len() - 50);
    assert_eq!(&dst[..n], &back[50..]);
    assert!(dst[n..].iter().all(|b| *b == 0xee));
    let n = f
        .read_pieces(&mut Pieces::new(&pieces), back.len() as u64)
        .unwrap();
    assert_eq!(n, 0);
}

#[test]
fn a_read_into_a_shared_mapping_of_the_same_file_moves_bytes_as_memmove() {
    let f = reg_file(&root(), b"f");
    let data: Vec<u8> = (0..8192u32).map(|i| (i % 253) as u8).collect();
    f.write_data(&data, 0).unwrap();
    let segs = f.shared_memory(0, 64 << 10).unwrap().unwrap();
    let page = segs[0].0.ptr(segs[0].1, 8192).unwrap();
    // The application's buffer is the file's own bytes, one further on.
    let n = f
        .read_pieces(&mut Pieces::new(&[(page.wrapping_add(1), 4096)]), 0)
        .unwrap();
    assert_eq!(n, 4096);
    let mut back = vec![0u8; 8192];
    f.read_data(&mut back, 0).unwrap();
    assert_eq!(back[0], data[0]);
    assert_eq!(&back[1..4097], &data[..4096]);
    assert_eq!(&back[4097..], &data[4097..]);
}
