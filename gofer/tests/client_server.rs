//! The client against the real server (`gofer::server::serve`, i.e. p9) over
//! a socket pair, on a scratch tree.

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

use common::{big_contents, Served, BIG_LEN, DEPTH, HELLO};
use gofer_protocol::wire::{QTDIR, QTSYMLINK};
use gofer_protocol::{Client, Fid, SetAttr};

const O_RDONLY: u32 = libc::O_RDONLY as u32;
const O_RDWR: u32 = libc::O_RDWR as u32;
const O_DIRECTORY: u32 = libc::O_DIRECTORY as u32;

fn open_path(c: &Client, path: &[&[u8]], flags: u32) -> Fid {
    let (fid, _) = c.walk(c.root(), path).unwrap();
    c.lopen(fid, flags).unwrap();
    fid
}

fn read_all(c: &Client, fid: Fid) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = c.read(fid, out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Every entry of an open directory, reading `count` bytes at a time.
fn list(c: &Client, dir: Fid, count: u32) -> Vec<gofer_protocol::DirEntry> {
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let batch = c.readdir(dir, offset, count).unwrap();
        let Some(last) = batch.last() else {
            return all;
        };
        offset = last.offset;
        all.extend(batch);
        assert!(all.len() < 10_000, "readdir does not end");
    }
}

#[test]
fn walk_and_getattr_match_the_host() {
    let s = Served::new("getattr");
    let c = s.client();
    for (names, host) in [
        (vec![&b"hello.txt"[..]], "hello.txt"),
        (vec![b"big.bin"], "big.bin"),
        (vec![b"sub"], "sub"),
        (vec![b"sub", b"inner.txt"], "sub/inner.txt"),
        (vec![b"link"], "link"),
        (vec![b"empty"], "empty"),
    ] {
        let md = std::fs::symlink_metadata(s.tree.path.join(host)).unwrap();
        let (fid, qids) = c.walk(c.root(), &names).unwrap();
        assert_eq!(qids.len(), names.len());
        let attr = c.getattr(fid).unwrap();
        assert_eq!(attr.mode, md.mode(), "{host}");
        assert_eq!(attr.size, md.size(), "{host}");
        assert_eq!(attr.nlink, md.nlink(), "{host}");
        assert_eq!((attr.uid, attr.gid), (md.uid(), md.gid()), "{host}");
        assert_eq!(attr.mtime_sec, md.mtime() as u64, "{host}");
        assert_eq!(attr.qid.path, md.ino(), "{host}");
        assert_eq!(attr.qid, *qids.last().unwrap(), "{host}");
        assert_eq!(attr.qid.ty & QTDIR != 0, md.is_dir(), "{host}");
        assert_eq!(attr.qid.ty & QTSYMLINK != 0, md.is_symlink(), "{host}");
        c.clunk(fid).unwrap();
    }
    let (fid, attr) = c.walk_getattr(c.root(), &[b"hello.txt"]).unwrap();
    assert_eq!(attr.size, HELLO.len() as u64);
    assert_eq!(attr.mode & libc::S_IFMT, libc::S_IFREG);
    c.clunk(fid).unwrap();
    let root = std::fs::metadata(&s.tree.path).unwrap();
    assert_eq!(c.root_qid().path, root.ino());
    assert!(c.msize() >= 4096 && c.msize() <= 1 << 20);
    s.finish().unwrap();
}

#[test]
fn walking_zero_names_clones_the_fid() {
    let s = Served::new("clone");
    let c = s.client();
    let (fid, qids) = c.walk(c.root(), &[]).unwrap();
    assert!(qids.is_empty());
    assert_ne!(fid, c.root());
    assert_eq!(c.getattr(fid).unwrap().qid, c.root_qid());
    // The clone walks on its own.
    let (f2, _) = c.walk(fid, &[b"sub"]).unwrap();
    assert_eq!(c.getattr(f2).unwrap().mode & libc::S_IFMT, libc::S_IFDIR);
    c.clunk(f2).unwrap();
    c.clunk(fid).unwrap();
}

#[test]
fn walk_of_a_missing_name_is_enoent_and_leaks_no_fid() {
    let s = Served::new("enoent");
    let c = s.client();
    let (probe, _) = c.walk(c.root(), &[b"sub"]).unwrap();
    c.clunk(probe).unwrap();
    // First element missing (the server answers Rlerror) ...
    assert_eq!(c.walk(c.root(), &[b"nope"]).unwrap_err(), libc::ENOENT);
    // ... a later one (a short Rwalk) ...
    assert_eq!(
        c.walk(c.root(), &[b"sub", b"nope"]).unwrap_err(),
        libc::ENOENT
    );
    // Stopped by a regular file: ENOTDIR, as Linux says.
    assert_eq!(
        c.walk(c.root(), &[b"sub", b"inner.txt", b"x"]).unwrap_err(),
        libc::ENOTDIR
    );
    // ... and in the second Twalk of a long walk, after the first created it.
    let mut names: Vec<Vec<u8>> = (0..DEPTH).map(|i| format!("d{i}").into_bytes()).collect();
    names[18] = b"nope".to_vec();
    let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
    assert_eq!(c.walk(c.root(), &refs).unwrap_err(), libc::ENOENT);
    // The fid number comes back, and the server knows it as free: a walk into
    // a fid the server still held would fail (EBADF).
    let (again, _) = c.walk(c.root(), &[b"sub"]).unwrap();
    assert_eq!(again, probe);
    c.clunk(again).unwrap();
}

#[test]
fn walks_of_more_than_16_names_are_split() {
    let s = Served::new("deep");
    let c = s.client();
    let mut names: Vec<Vec<u8>> = (0..DEPTH).map(|i| format!("d{i}").into_bytes()).collect();
    names.push(b"bottom".to_vec());
    let refs: Vec<&[u8]> = names.iter().map(|n| n.as_slice()).collect();
    let (fid, qids) = c.walk(c.root(), &refs).unwrap();
    assert_eq!(qids.len(), DEPTH + 1);
    assert!(qids[..DEPTH].iter().all(|q| q.ty & QTDIR != 0));
    assert_eq!(qids[DEPTH].ty & QTDIR, 0);
    c.lopen(fid, O_RDONLY).unwrap();
    assert_eq!(read_all(c, fid), b"bottom");
    c.clunk(fid).unwrap();
    // Exactly 16, and 32 (two full Twalks).
    let (f16, q16) = c.walk(c.root(), &refs[..16]).unwrap();
    assert_eq!(q16.len(), 16);
    // d0/.../d15/d0 does not exist: the second Twalk fails on its first name.
    let twice = [&refs[..16], &refs[..16]].concat();
    assert_eq!(c.walk(c.root(), &twice).unwrap_err(), libc::ENOENT);
    c.clunk(f16).unwrap();
    // Nothing leaked: the next fid is the lowest again.
    let (next, _) = c.walk(c.root(), &[]).unwrap();
    assert_eq!(next, f16);
}

#[test]
fn read_returns_files_byte_for_byte() {
    let s = Served::new("read");
    let c = s.client();
    let fid = open_path(c, &[b"hello.txt"], O_RDONLY);
    let mut buf = [0u8; 100];
    assert_eq!(c.read(fid, 0, &mut buf).unwrap(), HELLO.len());
    assert_eq!(&buf[..HELLO.len()], HELLO);
    assert_eq!(c.read(fid, 7, &mut buf[..3]).unwrap(), 3);
    assert_eq!(&buf[..3], &HELLO[7..10]);
    assert_eq!(c.read(fid, HELLO.len() as u64, &mut buf).unwrap(), 0);
    assert_eq!(c.read(fid, 1 << 40, &mut buf).unwrap(), 0);
    assert_eq!(c.read(fid, 0, &mut []).unwrap(), 0);
    c.clunk(fid).unwrap();

    // Bigger than msize: one call, many Treads.
    assert!(c.msize() < BIG_LEN as u32);
    let want = big_contents();
    let fid = open_path(c, &[b"big.bin"], O_RDONLY);
    let mut got = vec![0u8; BIG_LEN + 4096];
    assert_eq!(c.read(fid, 0, &mut got).unwrap(), BIG_LEN);
    assert!(got[..BIG_LEN] == want[..], "3 MiB read differs");
    // From an odd offset to the end.
    let off = 1_234_567;
    assert_eq!(c.read(fid, off as u64, &mut got).unwrap(), BIG_LEN - off);
    assert!(got[..BIG_LEN - off] == want[off..]);
    c.clunk(fid).unwrap();

    // Reading a fid that is not open is the server's EBADF.
    let (fid, _) = c.walk(c.root(), &[b"hello.txt"]).unwrap();
    assert_eq!(c.read(fid, 0, &mut buf).unwrap_err(), libc::EBADF);
    c.clunk(fid).unwrap();
}

#[test]
fn readdir_lists_every_entry() {
    let s = Served::new("readdir");
    let c = s.client();
    let want = s.tree.top_names();
    // Small batches (a few entries each) and one big one.
    for count in [64, 200, 1 << 20] {
        let dir = open_path(c, &[], O_RDONLY | O_DIRECTORY);
        let entries = list(c, dir, count);
        let mut names: Vec<Vec<u8>> = entries.iter().map(|e| e.name.clone()).collect();
        names.sort();
        assert_eq!(names, want, "count {count}");
        for e in &entries {
            let ty = match e.name.as_slice() {
                b"link" | b"dangling" => libc::DT_LNK,
                b"sub" | b"." | b".." | b"d0" => libc::DT_DIR,
                _ => libc::DT_REG,
            };
            assert_eq!(e.ty, ty, "{:?}", String::from_utf8_lossy(&e.name));
        }
        let sub = entries.iter().find(|e| e.name == b"sub").unwrap();
        let md = std::fs::metadata(s.tree.path.join("sub")).unwrap();
        assert_eq!(sub.qid.path, md.ino());
        c.clunk(dir).unwrap();
    }
    // A subdirectory.
    let dir = open_path(c, &[b"sub"], O_RDONLY | O_DIRECTORY);
    let names: BTreeSet<Vec<u8>> = list(c, dir, 4096).into_iter().map(|e| e.name).collect();
    let expect: BTreeSet<Vec<u8>> = [&b"."[..], b"..", b"inner.txt"]
        .iter()
        .map(|n| n.to_vec())
        .collect();
    assert_eq!(names, expect);
    c.clunk(dir).unwrap();
    // readdir of a regular file.
    let f = open_path(c, &[b"hello.txt"], O_RDONLY);
    assert_eq!(c.readdir(f, 0, 4096).unwrap_err(), libc::ENOTDIR);
    c.clunk(f).unwrap();
}

#[test]
fn readlink_returns_the_target() {
    let s = Served::new("readlink");
    let c = s.client();
    let (fid, _) = c.walk(c.root(), &[b"link"]).unwrap();
    assert_eq!(c.readlink(fid).unwrap(), b"hello.txt");
    c.clunk(fid).unwrap();
    let (fid, _) = c.walk(c.root(), &[b"dangling"]).unwrap();
    assert_eq!(c.readlink(fid).unwrap(), b"does/not/exist");
    c.clunk(fid).unwrap();
    let (fid, _) = c.walk(c.root(), &[b"hello.txt"]).unwrap();
    // Linux says EINVAL; p9 0.3.2 says ENOENT (readlinkat of "" on a file):
    // the Sentry checks the file type itself.
    assert!(c.readlink(fid).is_err());
    c.clunk(fid).unwrap();
}

#[test]
fn statfs_matches_the_host() {
    let s = Served::new("statfs");
    let c = s.client();
    let st = c.statfs(c.root()).unwrap();
    let host = nix::sys::statfs::statfs(&s.tree.path).unwrap();
    assert_eq!(st.ty as i64, host.filesystem_type().0 as i64);
    assert_eq!(st.bsize as i64, host.block_size() as i64);
    assert_eq!(st.namelen as i64, host.maximum_name_length() as i64);
    assert!(st.blocks > 0 && st.bfree <= st.blocks && st.bavail <= st.blocks);
}

#[test]
fn clunk_releases_the_fid() {
    let s = Served::new("clunk");
    let c = s.client();
    let (fid, _) = c.walk(c.root(), &[b"hello.txt"]).unwrap();
    c.clunk(fid).unwrap();
    assert_eq!(c.getattr(fid).unwrap_err(), libc::EBADF);
    assert_eq!(c.clunk(fid).unwrap_err(), libc::EBADF);
    // The number is handed out again.
    let (again, _) = c.walk(c.root(), &[b"sub"]).unwrap();
    assert_eq!(again, fid);
    assert_eq!(c.getattr(again).unwrap().mode & libc::S_IFMT, libc::S_IFDIR);
}

#[test]
fn four_threads_share_one_client() {
    let s = Served::new("threads");
    let c = s.client();
    let big = big_contents();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let big = &big;
            scope.spawn(move || {
                for i in 0..40 {
                    let (fid, attr) = c.walk_getattr(c.root(), &[b"big.bin"]).unwrap();
                    assert_eq!(attr.size, BIG_LEN as u64);
                    c.lopen(fid, O_RDONLY).unwrap();
                    let off = (t * 100_003 + i * 7_919) % (BIG_LEN - 200_000);
                    let mut buf = vec![0u8; 150_000];
                    assert_eq!(c.read(fid, off as u64, &mut buf).unwrap(), buf.len());
                    assert!(buf[..] == big[off..off + buf.len()], "thread {t} iter {i}");
                    c.clunk(fid).unwrap();
                    let (fid, _) = c.walk(c.root(), &[b"sub", b"inner.txt"]).unwrap();
                    assert_eq!(c.getattr(fid).unwrap().size, 5);
                    assert_eq!(c.walk(c.root(), &[b"missing"]).unwrap_err(), libc::ENOENT);
                    c.clunk(fid).unwrap();
                }
            });
        }
    });
    // Every fid went back: the next one is the lowest.
    let (fid, _) = c.walk(c.root(), &[]).unwrap();
    assert_eq!(fid, 1);
}

#[test]
fn create_write_rename_and_remove() {
    let s = Served::new("write");
    let c = s.client();
    let gid = std::fs::metadata(&s.tree.path).unwrap().gid();
    // lcreate turns the directory fid into the new file: use a clone.
    let (dir, _) = c.walk(c.root(), &[]).unwrap();
    let (qid, _) = c.lcreate(dir, b"new.bin", O_RDWR, 0o640, gid).unwrap();
    assert_eq!(qid.ty & QTDIR, 0);
    let data = &big_contents()[..200_000];
    assert_eq!(c.write(dir, 0, data).unwrap(), data.len());
    assert_eq!(c.write(dir, 0, &[]).unwrap(), 0);
    c.fsync(dir, false).unwrap();
    assert_eq!(read_all(c, dir), data);
    assert_eq!(std::fs::read(s.tree.path.join("new.bin")).unwrap(), data);
    let attr = c.getattr(dir).unwrap();
    assert_eq!(attr.mode & 0o7777, 0o640);
    c.setattr(
        dir,
        &SetAttr {
            valid: gofer_protocol::wire::P9_SETATTR_SIZE | gofer_protocol::wire::P9_SETATTR_MODE,
            mode: 0o600,
            size: 10,
            ..SetAttr::default()
        },
    )
    .unwrap();
    let attr = c.getattr(dir).unwrap();
    assert_eq!((attr.size, attr.mode & 0o7777), (10, 0o600));
    c.clunk(dir).unwrap();

    let root = c.root();
    let q = c.mkdir(root, b"newdir", 0o755, gid).unwrap();
    assert_ne!(q.ty & QTDIR, 0);
    assert_eq!(
        c.mkdir(root, b"newdir", 0o755, gid).unwrap_err(),
        libc::EEXIST
    );
    let (nd, _) = c.walk(root, &[b"newdir"]).unwrap();
    c.renameat(root, b"new.bin", nd, b"moved.bin").unwrap();
    assert!(s.tree.path.join("newdir/moved.bin").exists());
    let (moved, _) = c.walk(root, &[b"newdir", b"moved.bin"]).unwrap();
    c.link(root, moved, b"hard").unwrap();
    assert_eq!(c.getattr(moved).unwrap().nlink, 2);
    c.clunk(moved).unwrap();
    c.unlinkat(root, b"hard", 0).unwrap();
    c.unlinkat(nd, b"moved.bin", 0).unwrap();
    assert_eq!(
        c.unlinkat(root, b"newdir", 0).unwrap_err(),
        libc::EISDIR,
        "unlink of a directory without AT_REMOVEDIR"
    );
    c.unlinkat(root, b"newdir", libc::AT_REMOVEDIR as u32)
        .unwrap();
    assert!(!s.tree.path.join("newdir").exists());
    c.clunk(nd).unwrap();
    // p9 refuses symlink and mknod.
    assert_eq!(c.symlink(root, b"s", b"t", gid).unwrap_err(), libc::EACCES);
}

#[test]
fn names_that_leave_the_directory_are_refused() {
    let s = Served::new("dotdot");
    let c = s.client();
    for bad in [&b".."[..], b".", b"", b"sub/inner.txt", b"../etc"] {
        assert_eq!(
            c.walk(c.root(), &[bad]).unwrap_err(),
            libc::EINVAL,
            "{bad:?}"
        );
        assert_eq!(
            c.walk(c.root(), &[b"sub", bad]).unwrap_err(),
            libc::EINVAL,
            "{bad:?}"
        );
        assert_eq!(
            c.mkdir(c.root(), bad, 0o755, 0).unwrap_err(),
            libc::EINVAL,
            "{bad:?}"
        );
    }
    // The connection is still fine.
    let (fid, _) = c.walk(c.root(), &[b"sub"]).unwrap();
    c.clunk(fid).unwrap();
}

#[test]
fn serve_returns_ok_when_the_client_hangs_up() {
    let s = Served::new("hangup");
    let fid = open_path(s.client(), &[b"hello.txt"], O_RDONLY);
    assert_eq!(s.client().read(fid, 0, &mut [0u8; 4]).unwrap(), 4);
    s.finish().unwrap();
}
