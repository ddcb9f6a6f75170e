//! Our 9P additions against the real server: Twalkgetattr and Topenfd
//! (descriptor donation over SCM_RIGHTS).

mod common;

use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;

use common::{big_contents, Served, DEPTH, HELLO};
use gofer_protocol::wire::{self, Rmessage, Tmessage};
use gofer_protocol::Keep;

/// Descriptors this process holds.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn lookup_returns_attributes_and_keeps_fids_as_asked() {
    let s = Served::new("lookup");
    let c = s.client();
    let host = std::fs::metadata(s.tree.path.join("hello.txt")).unwrap();
    let (fid, a) = c.lookup(c.root(), &[b"hello.txt"], Keep::Never).unwrap();
    assert_eq!(fid, None);
    assert_eq!(a.qid.path, host.ino());
    assert_eq!(a.size, HELLO.len() as u64);
    assert_eq!(a.mode, host.mode());
    // Keep::Dir keeps a directory's fid only.
    assert_eq!(
        c.lookup(c.root(), &[b"hello.txt"], Keep::Dir).unwrap().0,
        None
    );
    let (dir, a) = c.lookup(c.root(), &[b"sub"], Keep::Dir).unwrap();
    let dir = dir.expect("a directory's fid is kept");
    assert_eq!(a.mode & libc::S_IFMT, libc::S_IFDIR);
    let (_, inner) = c.lookup(dir, &[b"inner.txt"], Keep::Never).unwrap();
    assert_eq!(inner.size, 5);
    // walk_getattr keeps it always.
    let (f, a) = c.walk_getattr(c.root(), &[b"sub", b"inner.txt"]).unwrap();
    assert_eq!(a.size, 5);
    c.clunk(f).unwrap();
    // A symlink is not followed.
    let (_, l) = c.lookup(c.root(), &[b"link"], Keep::Never).unwrap();
    assert_eq!(l.mode & libc::S_IFMT, libc::S_IFLNK);
    // More than 16 names fall back to Twalk + Tgetattr.
    let deep: Vec<String> = (0..DEPTH)
        .map(|i| format!("d{i}"))
        .chain(["bottom".into()])
        .collect();
    let names: Vec<&[u8]> = deep.iter().map(|n| n.as_bytes()).collect();
    let (f, a) = c.lookup(c.root(), &names, Keep::Never).unwrap();
    assert_eq!((f, a.size), (None, 6));
    // Misses create no fid: the next fid allocated is reused.
    assert_eq!(
        c.lookup(c.root(), &[b"nope"], Keep::Always).unwrap_err(),
        libc::ENOENT
    );
    assert_eq!(
        c.lookup(c.root(), &[b"sub", b"nope", b"x"], Keep::Always)
            .unwrap_err(),
        libc::ENOENT
    );
    assert_eq!(
        c.lookup(c.root(), &[b"hello.txt", b"x"], Keep::Always)
            .unwrap_err(),
        libc::ENOTDIR
    );
    c.clunk(dir).unwrap();
    let (f1, _) = c.walk(c.root(), &[]).unwrap();
    assert_eq!(f1, dir);
}

#[test]
fn lookup_names_that_leave_the_directory_are_refused() {
    let s = Served::new("lookup-escape");
    let c = s.client();
    for bad in [&b".."[..], b".", b"", b"a/b", b"/etc", b"x\0y"] {
        assert_eq!(
            c.lookup(c.root(), &[b"sub", bad], Keep::Always)
                .unwrap_err(),
            libc::EINVAL,
            "{bad:?}"
        );
        assert_eq!(
            c.open_fd(&[b"sub", bad], false).unwrap_err(),
            libc::EINVAL,
            "{bad:?}"
        );
    }
}

#[test]
fn open_fd_donates_a_readable_descriptor() {
    let s = Served::new("openfd");
    let c = s.client();
    let before = open_fds();
    let (fd, st) = c.open_fd(&[b"big.bin"], false).unwrap();
    let host = std::fs::metadata(s.tree.path.join("big.bin")).unwrap();
    assert_eq!((st.st_ino, st.st_size as u64), (host.ino(), host.len()));
    // Read-only, close-on-exec.
    // SAFETY: fcntl on a descriptor we own.
    let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(fl & libc::O_ACCMODE, libc::O_RDONLY);
    // SAFETY: as above.
    let fdfl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert_ne!(fdfl & libc::FD_CLOEXEC, 0);
    let mut data = Vec::new();
    File::from(fd).read_to_end(&mut data).unwrap();
    assert!(data == big_contents());
    let (fd, _) = c.open_fd(&[b"sub", b"inner.txt"], false).unwrap();
    let mut data = Vec::new();
    File::from(fd).read_to_end(&mut data).unwrap();
    assert_eq!(data, b"inner");
    // Directories on request, the root included.
    let (d, st) = c.open_fd(&[], true).unwrap();
    assert_eq!(st.st_ino, std::fs::metadata(&s.tree.path).unwrap().ino());
    drop(d);
    c.open_fd(&[b"sub"], true).unwrap();
    assert_eq!(c.open_fd(&[b"sub"], false).unwrap_err(), libc::EISDIR);
    assert_eq!(c.open_fd(&[b"hello.txt"], true).unwrap_err(), libc::ENOTDIR);
    assert_eq!(c.open_fd(&[b"nope"], false).unwrap_err(), libc::ENOENT);
    // Symlinks are never followed, last component or not.
    assert_eq!(c.open_fd(&[b"link"], false).unwrap_err(), libc::ELOOP);
    assert_eq!(c.open_fd(&[b"dangling"], false).unwrap_err(), libc::ELOOP);
    // Nothing leaks on either side of the successful or failed opens.
    // (Other tests run alongside and hold a few descriptors of their own.)
    for _ in 0..100 {
        drop(c.open_fd(&[b"hello.txt"], false).unwrap());
        drop(c.open_fd(&[b"sub"], true).unwrap());
        c.open_fd(&[b"link"], false).unwrap_err();
        c.open_fd(&[b"sub"], false).unwrap_err();
    }
    assert!(open_fds() < before + 50, "{before} -> {}", open_fds());
    // The connection is still in step.
    assert_eq!(
        c.getattr(c.root()).unwrap().qid.ty & wire::QTDIR,
        wire::QTDIR
    );
}

#[test]
fn open_fd_refuses_fifos_without_opening_them() {
    let s = Served::new("openfd-fifo");
    let c = s.client();
    let fifo = std::ffi::CString::new(
        s.tree
            .path
            .join("fifo")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // An open for reading would block the server: it must answer at once.
    assert_eq!(c.open_fd(&[b"fifo"], false).unwrap_err(), libc::ENXIO);
    assert_eq!(c.open_fd(&[b"fifo"], true).unwrap_err(), libc::ENOTDIR);
}

#[test]
fn symlinked_directories_do_not_lead_out_of_the_root() {
    let s = Served::new("openfd-escape");
    let c = s.client();
    std::os::unix::fs::symlink("/etc", s.tree.path.join("out")).unwrap();
    std::os::unix::fs::symlink("..", s.tree.path.join("sub/up")).unwrap();
    assert_eq!(
        c.open_fd(&[b"out", b"passwd"], false).unwrap_err(),
        libc::ELOOP
    );
    assert_eq!(
        c.open_fd(&[b"sub", b"up", b"hello.txt"], false)
            .unwrap_err(),
        libc::ELOOP
    );
}

#[test]
fn open_fd_paths_longer_than_a_message_are_enametoolong() {
    let s = Served::new("openfd-long");
    let c = s.client();
    let name = vec![b'a'; 255];
    let names: Vec<&[u8]> = (0..300).map(|_| name.as_slice()).collect();
    assert_eq!(c.open_fd(&names, false).unwrap_err(), libc::ENAMETOOLONG);
    // Fits a message, too long a path for the host.
    let names: Vec<&[u8]> = (0..40).map(|_| name.as_slice()).collect();
    assert_eq!(c.open_fd(&names, false).unwrap_err(), libc::ENAMETOOLONG);
    c.getattr(c.root()).unwrap();
}

#[test]
fn malformed_additions_are_refused_by_the_server() {
    // Raw frames straight to the server.
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    let tree = common::Tree::new("raw");
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let root = tree.path.clone();
    let server = std::thread::spawn(move || gofer::server::serve(&root, theirs));
    let mut frame = Vec::new();
    let mut call = |frame: &[u8]| -> Vec<u8> {
        ours.write_all(frame).unwrap();
        let mut size = [0u8; 4];
        ours.read_exact(&mut size).unwrap();
        let mut reply = size.to_vec();
        reply.resize(u32::from_le_bytes(size) as usize, 0);
        ours.read_exact(&mut reply[4..]).unwrap();
        reply
    };
    let version = Tmessage::Version {
        msize: 65536,
        version: wire::VERSION_9P2000L,
    };
    wire::encode_tmessage(wire::NOTAG, &version, &mut frame).unwrap();
    call(&frame);
    let attach = Tmessage::Attach {
        fid: 0,
        afid: wire::NOFID,
        uname: b"",
        aname: b"",
        n_uname: wire::NONUNAME,
    };
    wire::encode_tmessage(1, &attach, &mut frame).unwrap();
    call(&frame);
    let errno = |reply: &[u8]| match wire::decode_rmessage(reply).unwrap().1 {
        Rmessage::Lerror { ecode } => ecode as i32,
        other => panic!("{other:?}"),
    };
    // Walking in place, or an unknown keep mode.
    for (newfid, keep) in [(0, 0), (5, 3), (5, u32::MAX)] {
        let m = Tmessage::Walkgetattr {
            fid: 0,
            newfid,
            keep,
            names: vec![b"sub"],
        };
        wire::encode_tmessage(1, &m, &mut frame).unwrap();
        assert_eq!(errno(&call(&frame)), libc::EINVAL);
    }
    // Unknown open flags: no creation, no O_PATH, no writable directory.
    for flags in [
        libc::O_CREAT,
        libc::O_PATH,
        libc::O_RDWR | libc::O_CREAT,
        libc::O_ACCMODE,
        libc::O_DIRECTORY | libc::O_RDWR,
    ] {
        let m = Tmessage::Openfd {
            flags: flags as u32,
            names: vec![b"hello.txt"],
        };
        wire::encode_tmessage(1, &m, &mut frame).unwrap();
        assert_eq!(errno(&call(&frame)), libc::EINVAL);
    }
    // Truncated bodies and name counts beyond the frame.
    for ty in [wire::TWALKGETATTR, wire::TOPENFD] {
        for body in [
            &b""[..],
            b"\x01\x00",
            b"\0\0\0\0\xff\xff",
            b"\0\0\0\0\0\0\0\0\0\0\0\0\x02\x00",
        ] {
            let mut f = vec![0u8; 4];
            f.push(ty);
            f.extend_from_slice(&7u16.to_le_bytes());
            f.extend_from_slice(body);
            let n = f.len() as u32;
            f[..4].copy_from_slice(&n.to_le_bytes());
            let reply = call(&f);
            assert_eq!(wire::decode_rmessage(&reply).unwrap().0, 7);
            assert_eq!(errno(&reply), libc::EINVAL);
        }
    }
    drop(ours);
    server.join().unwrap().unwrap();
}

#[test]
fn lookup_fd_answers_attributes_targets_and_descriptors() {
    let s = Served::new("lookupfd");
    let c = s.client();
    let fifo = std::ffi::CString::new(
        s.tree
            .path
            .join("fifo")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    // A regular file: the same attributes as p9's getattr, and a descriptor.
    let l = c.lookup_fd(&[b"sub", b"inner.txt"]).unwrap();
    let (f, a) = c.walk_getattr(c.root(), &[b"sub", b"inner.txt"]).unwrap();
    c.clunk(f).unwrap();
    assert_eq!(l.attr, a);
    assert!(l.target.is_empty());
    let mut data = Vec::new();
    File::from(l.fd.expect("a descriptor"))
        .read_to_end(&mut data)
        .unwrap();
    assert_eq!(data, b"inner");
    // A directory: its descriptor too, to list.
    let l = c.lookup_fd(&[b"sub"]).unwrap();
    let (f, a) = c.walk_getattr(c.root(), &[b"sub"]).unwrap();
    c.clunk(f).unwrap();
    assert_eq!(l.attr, a);
    let d = l.fd.expect("a directory's descriptor");
    // SAFETY: fcntl on a descriptor we own.
    let fl = unsafe { libc::fcntl(d.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(fl & libc::O_ACCMODE, libc::O_RDONLY);
    assert_eq!(
        c.lookup_fd(&[]).unwrap().attr.qid.ty & wire::QTDIR,
        wire::QTDIR
    );
    // A symlink: its target, not followed.
    let l = c.lookup_fd(&[b"dangling"]).unwrap();
    assert_eq!(l.attr.mode & libc::S_IFMT, libc::S_IFLNK);
    assert_eq!(l.target, b"does/not/exist");
    assert!(l.fd.is_none());
    // A FIFO: attributes, never opened.
    let l = c.lookup_fd(&[b"fifo"]).unwrap();
    assert_eq!(
        (l.attr.mode & libc::S_IFMT, l.fd.is_none()),
        (libc::S_IFIFO, true)
    );
    // Misses, symlinks on the way, names that leave the directory.
    assert_eq!(c.lookup_fd(&[b"nope"]).unwrap_err(), libc::ENOENT);
    assert_eq!(
        c.lookup_fd(&[b"hello.txt", b"x"]).unwrap_err(),
        libc::ENOTDIR
    );
    assert_eq!(c.lookup_fd(&[b"link", b"x"]).unwrap_err(), libc::ELOOP);
    for bad in [&b".."[..], b".", b"", b"a/b"] {
        assert_eq!(c.lookup_fd(&[b"sub", bad]).unwrap_err(), libc::EINVAL);
    }
    let deep: Vec<String> = (0..DEPTH)
        .map(|i| format!("d{i}"))
        .chain(["bottom".into()])
        .collect();
    let names: Vec<&[u8]> = deep.iter().map(|n| n.as_bytes()).collect();
    assert_eq!(c.lookup_fd(&names).unwrap().attr.size, 6);
}

#[test]
fn readdir_plus_lists_every_entry_with_the_hosts_attributes() {
    use std::os::unix::ffi::OsStrExt;
    let s = Served::new("readdirplus");
    // Enough entries (with long names) for several replies of one msize.
    let many = s.tree.path.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..1500 {
        std::fs::write(many.join(format!("{i:0>200}")), i.to_string()).unwrap();
    }
    std::os::unix::fs::symlink("target/of/link", many.join("l")).unwrap();
    let c = s.client();
    for (dir, names) in [
        (s.tree.path.clone(), Vec::<&[u8]>::new()),
        (many.clone(), vec![&b"many"[..]]),
    ] {
        let listed = c.readdir_plus(&names, 1 << 20).unwrap();
        let mut host: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().as_bytes().to_vec())
            .collect();
        host.sort();
        let mut got: Vec<Vec<u8>> = listed.iter().map(|e| e.name.clone()).collect();
        got.sort();
        assert_eq!(got, host, "{}", dir.display());
        for e in &listed {
            let path = dir.join(std::ffi::OsStr::from_bytes(&e.name));
            let m = std::fs::symlink_metadata(&path).unwrap();
            assert_eq!(
                (e.attr.qid.path, e.attr.mode, e.attr.size, e.attr.nlink),
                (m.ino(), m.mode(), m.size(), m.nlink()),
                "{}",
                path.display()
            );
            let target = if m.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else {
                Vec::new()
            };
            assert_eq!(e.target, target, "{}", path.display());
        }
    }
    // A listing longer than its bound, files, misses, names that leave.
    assert_eq!(c.readdir_plus(&[b"many"], 100).unwrap_err(), libc::EIO);
    assert_eq!(
        c.readdir_plus(&[b"hello.txt"], 10).unwrap_err(),
        libc::ENOTDIR
    );
    assert_eq!(c.readdir_plus(&[b"nope"], 10).unwrap_err(), libc::ENOENT);
    // A symlink is not followed, even to a directory.
    assert_eq!(c.readdir_plus(&[b"link"], 10).unwrap_err(), libc::ENOTDIR);
    for bad in [&b".."[..], b".", b"", b"a/b"] {
        assert_eq!(c.readdir_plus(&[bad], 10).unwrap_err(), libc::EINVAL);
    }
    s.finish().unwrap();
}

#[test]
fn open_fds_opens_regular_files_of_a_directory_in_one_round_trip() {
    let s = Served::new("openfds");
    let fifo = std::ffi::CString::new(
        s.tree
            .path
            .join("fifo")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let c = s.client();
    let names: [&[u8]; 7] = [
        b"hello.txt",
        b"sub",
        b"nope",
        b"link",
        b"fifo",
        b"empty",
        b"big.bin",
    ];
    let got = c.open_fds(&[], &names).unwrap();
    let mut results = got.into_iter();
    let read = |r: Option<Result<gofer_protocol::client::OpenedFd, i32>>, name: &str| {
        let (fd, ino) = r.unwrap().unwrap();
        let m = std::fs::metadata(s.tree.path.join(name)).unwrap();
        assert_eq!(ino, m.ino(), "{name}");
        let mut data = Vec::new();
        File::from(fd).read_to_end(&mut data).unwrap();
        data
    };
    assert_eq!(read(results.next(), "hello.txt"), HELLO);
    // A directory, a miss, a symlink (not followed) and a FIFO (never
    // opened for real): each its errno, the others still served.
    assert_eq!(results.next().unwrap().unwrap_err(), libc::EISDIR);
    assert_eq!(results.next().unwrap().unwrap_err(), libc::ENOENT);
    assert_eq!(results.next().unwrap().unwrap_err(), libc::ELOOP);
    assert_eq!(results.next().unwrap().unwrap_err(), libc::ENXIO);
    assert_eq!(read(results.next(), "empty"), b"");
    assert_eq!(read(results.next(), "big.bin"), big_contents());
    assert!(results.next().is_none());
    // Inside a subdirectory; names that leave it; too many names.
    let (fd, _) = c
        .open_fds(&[b"sub"], &[b"inner.txt"])
        .unwrap()
        .remove(0)
        .unwrap();
    drop(fd);
    for bad in [&b".."[..], b".", b"", b"a/b"] {
        assert_eq!(c.open_fds(&[b"sub"], &[bad]).unwrap_err(), libc::EINVAL);
    }
    let many = vec![&b"hello.txt"[..]; wire::MAX_OPENFDS + 1];
    assert_eq!(c.open_fds(&[], &many).unwrap_err(), libc::EINVAL);
    s.finish().unwrap();
}

/// Sets `name` = `value` on `path` on the host, not followed; false if
/// the filesystem has no user xattrs.
fn host_setxattr(path: &std::path::Path, name: &str, value: &[u8]) -> bool {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    // SAFETY: both strings are NUL-terminated; the value pointer and
    // length describe `value`.
    let r = unsafe {
        libc::lsetxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    r == 0
}

/// The host's value of `name` on `path` (not followed), or its errno.
fn host_getxattr(path: &std::path::Path, name: &str) -> Result<Vec<u8>, i32> {
    let p = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    let mut buf = vec![0u8; 256];
    // SAFETY: as above; `buf` is writable for its length.
    let r = unsafe { libc::lgetxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap());
    }
    buf.truncate(r as usize);
    Ok(buf)
}

fn user_names(list: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut v: Vec<_> = list
        .into_iter()
        .filter(|n| n.starts_with(b"user."))
        .collect();
    v.sort();
    v
}

#[test]
fn xattrs_are_read_by_path_without_following_or_opening() {
    let s = Served::read_only("xattrs");
    let p = &s.tree.path;
    if !host_setxattr(&p.join("hello.txt"), "user.a", b"1") {
        common::skip(&format!("no user xattrs on {}", p.display()));
        return;
    }
    assert!(host_setxattr(&p.join("hello.txt"), "user.b", b"\0two\xff"));
    assert!(host_setxattr(&p.join("sub"), "user.dir", b"x"));
    let fifo =
        std::ffi::CString::new(p.join("fifo").into_os_string().into_encoded_bytes()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    let c = s.client();
    assert_eq!(
        c.getxattr_at(&[b"hello.txt"], b"user.a", 100).unwrap(),
        b"1"
    );
    assert_eq!(
        c.getxattr_at(&[b"hello.txt"], b"user.b", 100).unwrap(),
        b"\0two\xff"
    );
    assert_eq!(
        c.getxattr_at(&[b"hello.txt"], b"user.b", 3).unwrap_err(),
        libc::ERANGE
    );
    assert_eq!(
        c.getxattr_at(&[b"hello.txt"], b"user.none", 100)
            .unwrap_err(),
        libc::ENODATA
    );
    assert_eq!(c.getxattr_at(&[b"sub"], b"user.dir", 100).unwrap(), b"x");
    assert_eq!(
        user_names(c.listxattr_at(&[b"hello.txt"], 4096).unwrap()),
        vec![b"user.a".to_vec(), b"user.b".to_vec()]
    );
    assert_eq!(
        c.listxattr_at(&[b"hello.txt"], 3).unwrap_err(),
        libc::ERANGE
    );
    assert_eq!(
        user_names(c.listxattr_at(&[], 4096).unwrap()),
        Vec::<Vec<u8>>::new()
    );
    // The symlink's own attributes, not its target's; a FIFO's without
    // opening it (an open would block with no writer).
    assert_eq!(
        c.getxattr_at(&[b"link"], b"user.a", 100).unwrap_err(),
        libc::ENODATA
    );
    assert!(user_names(c.listxattr_at(&[b"link"], 4096).unwrap()).is_empty());
    assert_eq!(
        c.getxattr_at(&[b"fifo"], b"user.a", 100).unwrap_err(),
        libc::ENODATA
    );
    assert_eq!(
        c.getxattr_at(&[b"nope"], b"user.a", 100).unwrap_err(),
        libc::ENOENT
    );
    // A symlink on the way is not followed either (as a parent it is
    // not a directory).
    assert_eq!(
        c.getxattr_at(&[b"link", b"x"], b"user.a", 100).unwrap_err(),
        libc::ENOTDIR
    );
    for bad in [&b".."[..], b".", b"", b"a/b"] {
        assert_eq!(
            c.getxattr_at(&[bad], b"user.a", 100).unwrap_err(),
            libc::EINVAL
        );
        assert_eq!(c.listxattr_at(&[bad], 100).unwrap_err(), libc::EINVAL);
    }
    assert_eq!(
        c.getxattr_at(&[b"hello.txt"], b"", 100).unwrap_err(),
        libc::ERANGE
    );
    assert_eq!(
        c.getxattr_at(&[b"hello.txt"], b"user.a\0b", 100)
            .unwrap_err(),
        libc::EINVAL
    );
    // A read-only server changes nothing.
    assert_eq!(
        c.setxattr_at(&[b"hello.txt"], b"user.a", b"2", 0)
            .unwrap_err(),
        libc::EROFS
    );
    assert_eq!(
        c.removexattr_at(&[b"hello.txt"], b"user.a").unwrap_err(),
        libc::EROFS
    );
    assert_eq!(
        host_getxattr(&p.join("hello.txt"), "user.a"),
        Ok(b"1".to_vec())
    );
    s.finish().unwrap();
}

#[test]
fn xattrs_are_set_and_removed_by_path_on_a_writable_server() {
    let s = Served::new("setxattrs");
    let p = &s.tree.path;
    if !host_setxattr(&p.join("hello.txt"), "user.a", b"1") {
        common::skip(&format!("no user xattrs on {}", p.display()));
        return;
    }
    let c = s.client();
    let f: [&[u8]; 1] = [b"hello.txt"];
    c.setxattr_at(&f, b"user.b", b"2", libc::XATTR_CREATE as u32)
        .unwrap();
    assert_eq!(
        host_getxattr(&p.join("hello.txt"), "user.b"),
        Ok(b"2".to_vec())
    );
    assert_eq!(
        c.setxattr_at(&f, b"user.b", b"3", libc::XATTR_CREATE as u32)
            .unwrap_err(),
        libc::EEXIST
    );
    assert_eq!(
        c.setxattr_at(&f, b"user.c", b"3", libc::XATTR_REPLACE as u32)
            .unwrap_err(),
        libc::ENODATA
    );
    assert_eq!(
        c.setxattr_at(&f, b"user.c", b"3", 4).unwrap_err(),
        libc::EINVAL
    );
    c.removexattr_at(&f, b"user.a").unwrap();
    assert_eq!(
        host_getxattr(&p.join("hello.txt"), "user.a"),
        Err(libc::ENODATA)
    );
    assert_eq!(c.removexattr_at(&f, b"user.a").unwrap_err(), libc::ENODATA);
    // Through a symlink nothing reaches its target.
    assert!(c.setxattr_at(&[b"link"], b"user.l", b"1", 0).is_err());
    assert_eq!(
        host_getxattr(&p.join("hello.txt"), "user.l"),
        Err(libc::ENODATA)
    );
    s.finish().unwrap();
}

#[test]
fn readdir_plus_brings_each_entrys_xattr_names() {
    let s = Served::new("readdirplus-xattrs");
    let file = std::ffi::CString::new(
        s.tree
            .path
            .join("hello.txt")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .unwrap();
    // SAFETY: valid C strings and a value of the length given.
    let set = unsafe {
        libc::setxattr(
            file.as_ptr(),
            c"user.one".as_ptr(),
            b"1".as_ptr().cast(),
            1,
            0,
        )
    };
    if set != 0 {
        common::skip("the test directory's filesystem has no user xattrs");
        return;
    }
    let listed = s.client().readdir_plus(&[], 1000).unwrap();
    let hello = listed.iter().find(|e| e.name == b"hello.txt").unwrap();
    assert_eq!(hello.xattrs, Some(vec![b"user.one".to_vec()]));
    let empty = listed.iter().find(|e| e.name == b"empty").unwrap();
    assert_eq!(empty.xattrs, Some(Vec::new()));
    s.finish().unwrap();
}
