use super::*;

fn qid(n: u64) -> Qid {
    Qid {
        ty: (n as u8) | QTDIR,
        version: n as u32 + 7,
        path: n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    }
}

fn all_tmessages() -> Vec<Tmessage<'static>> {
    static NAMES: [&[u8]; 3] = [b"a", b"", b"\xff\xfe not utf-8"];
    vec![
        Tmessage::Version {
            msize: 1 << 20,
            version: VERSION_9P2000L,
        },
        Tmessage::Attach {
            fid: 0,
            afid: NOFID,
            uname: b"root",
            aname: b"",
            n_uname: NONUNAME,
        },
        Tmessage::Walk {
            fid: 1,
            newfid: 2,
            names: NAMES.to_vec(),
        },
        Tmessage::Walk {
            fid: 1,
            newfid: 2,
            names: Vec::new(),
        },
        Tmessage::Getattr {
            fid: 3,
            request_mask: P9_GETATTR_BASIC,
        },
        Tmessage::Setattr {
            fid: 4,
            attr: SetAttr {
                valid: P9_SETATTR_MODE | P9_SETATTR_SIZE,
                mode: 0o644,
                uid: 1,
                gid: 2,
                size: 1 << 40,
                atime_sec: 3,
                atime_nsec: 4,
                mtime_sec: 5,
                mtime_nsec: 6,
            },
        },
        Tmessage::Lopen {
            fid: 5,
            flags: libc::O_RDWR as u32,
        },
        Tmessage::Lcreate {
            fid: 6,
            name: b"new",
            flags: 2,
            mode: 0o600,
            gid: 9,
        },
        Tmessage::Symlink {
            dfid: 7,
            name: b"l",
            target: b"/x/y",
            gid: 1,
        },
        Tmessage::Mknod {
            dfid: 7,
            name: b"n",
            mode: 0o20666,
            major: 1,
            minor: 3,
            gid: 0,
        },
        Tmessage::Mkdir {
            dfid: 8,
            name: b"d",
            mode: 0o755,
            gid: 0,
        },
        Tmessage::Link {
            dfid: 8,
            fid: 9,
            name: b"h",
        },
        Tmessage::Renameat {
            olddfid: 1,
            oldname: b"o",
            newdfid: 2,
            newname: b"n",
        },
        Tmessage::Unlinkat {
            dfid: 1,
            name: b"x",
            flags: libc::AT_REMOVEDIR as u32,
        },
        Tmessage::Read {
            fid: 10,
            offset: u64::MAX,
            count: 4096,
        },
        Tmessage::Write {
            fid: 11,
            offset: 12,
            data: b"hello",
        },
        Tmessage::Readdir {
            fid: 12,
            offset: 99,
            count: 8192,
        },
        Tmessage::Readlink { fid: 13 },
        Tmessage::Statfs { fid: 14 },
        Tmessage::Fsync {
            fid: 15,
            datasync: 1,
        },
        Tmessage::Flush { oldtag: 3 },
        Tmessage::Clunk { fid: 16 },
        Tmessage::Walkgetattr {
            fid: 17,
            newfid: 18,
            keep: WALK_KEEP_DIR,
            names: NAMES.to_vec(),
        },
        Tmessage::Walkgetattr {
            fid: 17,
            newfid: 18,
            keep: WALK_KEEP_NEVER,
            names: Vec::new(),
        },
        Tmessage::Openfd {
            flags: libc::O_DIRECTORY as u32,
            names: NAMES.to_vec(),
        },
        Tmessage::Openfd {
            flags: 0,
            names: Vec::new(),
        },
        Tmessage::Lookupfd {
            names: NAMES.to_vec(),
        },
        Tmessage::Lookupfd { names: Vec::new() },
        Tmessage::Createat {
            mode: libc::S_IFLNK | 0o777,
            rdev: 7,
            uid: 1000,
            gid: 1001,
            names: NAMES.to_vec(),
            target: b"../t",
        },
        Tmessage::Linkat {
            old: NAMES.to_vec(),
            new: vec![b"b"],
        },
        Tmessage::Removeat {
            flags: libc::AT_REMOVEDIR as u32,
            names: NAMES.to_vec(),
        },
        Tmessage::Renameat2 {
            flags: libc::RENAME_NOREPLACE,
            old: Vec::new(),
            new: NAMES.to_vec(),
        },
        Tmessage::Setattrat {
            attr: SetAttr {
                valid: P9_SETATTR_SIZE,
                size: 9,
                ..SetAttr::default()
            },
            names: NAMES.to_vec(),
        },
        Tmessage::Getxattrat {
            size: 65536,
            names: NAMES.to_vec(),
            name: b"user.a",
        },
        Tmessage::Listxattrat {
            size: 0,
            names: Vec::new(),
        },
        Tmessage::Setxattrat {
            flags: 1,
            names: NAMES.to_vec(),
            name: b"user.b",
            value: b"\0binary\xff",
        },
        Tmessage::Removexattrat {
            names: NAMES.to_vec(),
            name: b"user.c",
        },
        Tmessage::Connectat {
            kind: libc::SOCK_STREAM as u32,
            names: NAMES.to_vec(),
        },
        Tmessage::Readdirplus {
            offset: u64::MAX - 1,
            count: 65536,
            names: NAMES.to_vec(),
        },
        Tmessage::Openfds {
            dir: NAMES.to_vec(),
            names: vec![b"x", b"y"],
        },
        Tmessage::Openfds {
            dir: Vec::new(),
            names: Vec::new(),
        },
    ]
}

fn all_rmessages() -> Vec<Rmessage<'static>> {
    let attr = Attr {
        qid: qid(1),
        mode: 0o100644,
        uid: 1000,
        gid: 1001,
        nlink: 2,
        rdev: 3,
        size: 4,
        blksize: 4096,
        blocks: 8,
        atime_sec: 9,
        atime_nsec: 10,
        mtime_sec: 11,
        mtime_nsec: 12,
        ctime_sec: 13,
        ctime_nsec: 14,
    };
    vec![
        Rmessage::Lerror {
            ecode: libc::ENOENT as u32,
        },
        Rmessage::Version {
            msize: 65560,
            version: VERSION_9P2000L,
        },
        Rmessage::Attach { qid: qid(2) },
        Rmessage::Walk {
            qids: (0..16).map(qid).collect(),
        },
        Rmessage::Walk { qids: Vec::new() },
        Rmessage::Getattr(Box::new(Rgetattr {
            valid: P9_GETATTR_BASIC,
            attr,
            btime_sec: 15,
            btime_nsec: 16,
            gen: 17,
            data_version: 18,
        })),
        Rmessage::Setattr,
        Rmessage::Lopen {
            qid: qid(3),
            iounit: 0,
        },
        Rmessage::Lcreate {
            qid: qid(4),
            iounit: 8192,
        },
        Rmessage::Symlink { qid: qid(5) },
        Rmessage::Mknod { qid: qid(6) },
        Rmessage::Mkdir { qid: qid(7) },
        Rmessage::Link,
        Rmessage::Renameat,
        Rmessage::Unlinkat,
        Rmessage::Read { data: b"data" },
        Rmessage::Read { data: b"" },
        Rmessage::Write { count: 5 },
        Rmessage::Readdir { data: b"" },
        Rmessage::Readlink { target: b"../t" },
        Rmessage::Statfs(StatFs {
            ty: 0x01021994,
            bsize: 4096,
            blocks: 1,
            bfree: 2,
            bavail: 3,
            files: 4,
            ffree: 5,
            fsid: 6,
            namelen: 255,
        }),
        Rmessage::Fsync,
        Rmessage::Flush,
        Rmessage::Clunk,
        Rmessage::Walkgetattr {
            kept: true,
            qids: vec![qid(8), qid(9)],
            attr: Box::new(Rgetattr {
                valid: P9_GETATTR_BASIC,
                attr,
                ..Rgetattr::default()
            }),
        },
        Rmessage::Walkgetattr {
            kept: false,
            qids: Vec::new(),
            attr: Box::default(),
        },
        Rmessage::Openfd,
        Rmessage::Createat {
            fd: true,
            attr: Box::default(),
        },
        Rmessage::Linkat {
            attr: Box::default(),
        },
        Rmessage::Removeat,
        Rmessage::Renameat2,
        Rmessage::Setattrat {
            attr: Box::default(),
        },
        Rmessage::Lookupfd {
            fd: true,
            attr: Box::new(Rgetattr {
                attr,
                ..Rgetattr::default()
            }),
            target: b"",
        },
        Rmessage::Lookupfd {
            fd: false,
            attr: Box::default(),
            target: b"../x",
        },
        Rmessage::Getxattrat { value: b"v\0" },
        Rmessage::Listxattrat {
            list: b"user.a\0user.b\0",
        },
        Rmessage::Setxattrat,
        Rmessage::Removexattrat,
        Rmessage::Connectat,
        Rmessage::Readdirplus {
            next: 77,
            data: b"\x01\x00a",
        },
        Rmessage::Readdirplus { next: 0, data: b"" },
        Rmessage::Openfds {
            results: vec![(0, 12), (libc::ENOENT as u32, 0)],
        },
        Rmessage::Openfds {
            results: Vec::new(),
        },
    ]
}

#[test]
fn tmessages_round_trip() {
    let mut buf = Vec::new();
    for (i, m) in all_tmessages().iter().enumerate() {
        let tag = i as u16;
        encode_tmessage(tag, m, &mut buf).unwrap();
        assert_eq!(
            u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize,
            buf.len()
        );
        assert_eq!(buf[4], m.type_byte());
        let (t, back) = decode_tmessage(&buf).unwrap();
        assert_eq!(t, tag);
        assert_eq!(&back, m);
    }
}

#[test]
fn rmessages_round_trip() {
    let mut buf = Vec::new();
    for (i, m) in all_rmessages().iter().enumerate() {
        let tag = 1000 + i as u16;
        encode_rmessage(tag, m, &mut buf).unwrap();
        assert_eq!(
            u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize,
            buf.len()
        );
        let (t, back) = decode_rmessage(&buf).unwrap();
        assert_eq!(t, tag);
        assert_eq!(&back, m);
    }
}

#[test]
fn known_encodings() {
    // Tversion, tag NOTAG, msize 8192, "9P2000.L".
    let mut buf = Vec::new();
    encode_tmessage(
        NOTAG,
        &Tmessage::Version {
            msize: 8192,
            version: VERSION_9P2000L,
        },
        &mut buf,
    )
    .unwrap();
    assert_eq!(
        buf,
        b"\x15\x00\x00\x00\x64\xff\xff\x00\x20\x00\x00\x08\x009P2000.L".to_vec()
    );
    // Rlerror ENOENT, tag 1.
    encode_rmessage(1, &Rmessage::Lerror { ecode: 2 }, &mut buf).unwrap();
    assert_eq!(
        buf,
        b"\x0b\x00\x00\x00\x07\x01\x00\x02\x00\x00\x00".to_vec()
    );
    // Rgetattr is 7 + 153 bytes.
    encode_rmessage(1, &Rmessage::Getattr(Box::default()), &mut buf).unwrap();
    assert_eq!(buf.len(), HEADER_LEN + 153);
    // Rstatfs is 7 + 60 bytes.
    encode_rmessage(1, &Rmessage::Statfs(StatFs::default()), &mut buf).unwrap();
    assert_eq!(buf.len(), HEADER_LEN + 60);
    // The header constants agree with the encoder.
    encode_tmessage(
        1,
        &Tmessage::Write {
            fid: 0,
            offset: 0,
            data: b"",
        },
        &mut buf,
    )
    .unwrap();
    assert_eq!(buf.len(), TWRITE_HEADER_LEN as usize);
    encode_rmessage(1, &Rmessage::Read { data: b"" }, &mut buf).unwrap();
    assert_eq!(buf.len(), RREAD_HEADER_LEN as usize);
}

#[test]
fn truncated_or_padded_frames_are_eio() {
    let mut buf = Vec::new();
    for m in all_rmessages() {
        encode_rmessage(5, &m, &mut buf).unwrap();
        for cut in 0..buf.len() {
            let mut short = buf[..cut].to_vec();
            // Truncated with the size field as sent...
            assert_eq!(decode_rmessage(&short), Err(libc::EIO), "{m:?} cut {cut}");
            // ...and with the size field fixed up to the shorter frame.
            if cut >= 4 {
                short[..4].copy_from_slice(&(cut as u32).to_le_bytes());
                assert_eq!(decode_rmessage(&short), Err(libc::EIO), "{m:?} cut {cut}");
            }
        }
        let mut long = buf.clone();
        long.push(0);
        let n = long.len() as u32;
        long[..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(decode_rmessage(&long), Err(libc::EIO), "{m:?} padded");
    }
    for m in all_tmessages() {
        encode_tmessage(5, &m, &mut buf).unwrap();
        for cut in 0..buf.len() {
            assert_eq!(decode_tmessage(&buf[..cut]), Err(libc::EIO));
        }
    }
}

#[test]
fn hostile_counts_are_eio() {
    // An Rwalk promising 65535 qids in a tiny frame.
    let frame = b"\x09\x00\x00\x00\x6f\x01\x00\xff\xff";
    assert_eq!(decode_rmessage(frame), Err(libc::EIO));
    // An Rread promising 4 GiB of data.
    let frame = b"\x0b\x00\x00\x00\x75\x01\x00\xff\xff\xff\xff";
    assert_eq!(decode_rmessage(frame), Err(libc::EIO));
    // An Rreadlink whose string runs past the frame.
    let frame = b"\x0b\x00\x00\x00\x17\x01\x00\x05\x00ab";
    assert_eq!(decode_rmessage(frame), Err(libc::EIO));
    // Unknown message types.
    assert_eq!(
        decode_rmessage(b"\x07\x00\x00\x00\xee\x01\x00"),
        Err(libc::EIO)
    );
    assert_eq!(
        decode_tmessage(b"\x07\x00\x00\x00\x07\x01\x00"),
        Err(libc::EIO)
    );
    // Size fields.
    assert_eq!(frame_len(0u32.to_le_bytes(), 8192), Err(libc::EIO));
    assert_eq!(frame_len(6u32.to_le_bytes(), 8192), Err(libc::EIO));
    assert_eq!(frame_len(7u32.to_le_bytes(), 8192), Ok(7));
    assert_eq!(frame_len(8192u32.to_le_bytes(), 8192), Ok(8192));
    assert_eq!(frame_len(8193u32.to_le_bytes(), 8192), Err(libc::EIO));
    assert_eq!(frame_len(u32::MAX.to_le_bytes(), 8192), Err(libc::EIO));
}

#[test]
fn random_bytes_never_panic() {
    // xorshift64: deterministic, no dependency.
    let mut s: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut buf = Vec::new();
    for _ in 0..20_000 {
        let len = (next() % 64) as usize;
        buf.clear();
        buf.extend((0..len).map(|_| next() as u8));
        if len >= 7 {
            // Make the frame well-sized and of a known type half the time.
            buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
            if next() % 2 == 0 {
                buf[4] = [RWALK, RREAD, RREADDIR, RGETATTR, RLERROR, RVERSION][next() as usize % 6];
            }
        }
        let _ = decode_rmessage(&buf);
        let _ = decode_tmessage(&buf);
        let _ = decode_dirents(&buf);
    }
}

#[test]
fn dirents_round_trip() {
    let entries = vec![
        DirEntry {
            qid: qid(1),
            offset: 1,
            ty: libc::DT_DIR,
            name: b".".to_vec(),
        },
        DirEntry {
            qid: qid(2),
            offset: u64::MAX,
            ty: libc::DT_REG,
            name: b"file \xff".to_vec(),
        },
    ];
    let mut data = Vec::new();
    for e in &entries {
        encode_dirent(e, &mut data).unwrap();
    }
    let back = decode_dirents(&data).unwrap();
    assert_eq!(back.len(), 2);
    for (a, b) in entries.iter().zip(&back) {
        assert_eq!(
            (a.qid, a.offset, a.ty, &a.name),
            (b.qid, b.offset, b.ty, &b.name)
        );
    }
    assert!(decode_dirents(&[]).unwrap().is_empty());
    assert_eq!(
        decode_dirents(&data[..data.len() - 1]).map(|v| v.len()),
        Err(libc::EIO)
    );
}

#[test]
fn encoder_limits() {
    let mut buf = Vec::new();
    let long = vec![b'x'; 65536];
    assert_eq!(
        encode_tmessage(
            1,
            &Tmessage::Mkdir {
                dfid: 0,
                name: &long,
                mode: 0,
                gid: 0
            },
            &mut buf
        ),
        Err(libc::ENAMETOOLONG)
    );
    let names: Vec<&[u8]> = vec![b"a"; MAXWELEM + 1];
    assert_eq!(
        encode_tmessage(
            1,
            &Tmessage::Walk {
                fid: 0,
                newfid: 1,
                names
            },
            &mut buf
        ),
        Err(libc::EINVAL)
    );
}

#[test]
fn encoder_limits_of_the_additions() {
    let mut buf = Vec::new();
    let long = vec![b'x'; 65536];
    let many: Vec<&[u8]> = vec![b"a"; MAX_OPENFD_NAMES + 1];
    let walk: Vec<&[u8]> = vec![b"a"; MAXWELEM + 1];
    let files: Vec<&[u8]> = vec![b"a"; MAX_OPENFDS + 1];
    let cases = [
        (
            Tmessage::Walkgetattr {
                fid: 0,
                newfid: 1,
                keep: 0,
                names: walk,
            },
            libc::EINVAL,
        ),
        (
            Tmessage::Lookupfd {
                names: many.clone(),
            },
            libc::ENAMETOOLONG,
        ),
        (
            Tmessage::Linkat {
                old: vec![b"a"],
                new: vec![&long],
            },
            libc::ENAMETOOLONG,
        ),
        // The count of files is checked before the directory's names.
        (
            Tmessage::Openfds {
                dir: many,
                names: files.clone(),
            },
            libc::EINVAL,
        ),
        (
            Tmessage::Openfds {
                dir: vec![&long],
                names: files,
            },
            libc::EINVAL,
        ),
    ];
    for (m, errno) in cases {
        assert_eq!(
            encode_tmessage(1, &m, &mut buf),
            Err(errno),
            "{:?}",
            m.type_byte()
        );
    }
    let results = vec![(0, 0); MAX_OPENFDS + 1];
    assert_eq!(
        encode_rmessage(1, &Rmessage::Openfds { results }, &mut buf),
        Err(libc::EINVAL)
    );
}
