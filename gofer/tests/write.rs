//! A writable server: our path-based changes (Tcreateat, Tlinkat,
//! Tremoveat, Trenameat2, Tsetattrat, writable Topenfd) against the real
//! server, the confinement of each, and a read-only server's EROFS.

mod common;

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

use common::{Served, HELLO};
use gofer_protocol::wire;
use gofer_protocol::SetAttr;

const REG: u32 = libc::S_IFREG;

fn pwrite(fd: &impl AsRawFd, data: &[u8], off: i64) {
    // SAFETY: `data` is readable for its length.
    let n = unsafe { libc::pwrite(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), off) };
    assert_eq!(n, data.len() as isize);
}

fn write(fd: &impl AsRawFd, data: &[u8]) {
    // SAFETY: `data` is readable for its length.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    assert_eq!(n, data.len() as isize);
}

#[test]
fn created_files_have_the_callers_owner_and_exact_mode() {
    let s = Served::new("create");
    let c = s.client();
    let p = &s.tree.path;
    let (a, fd) = c
        .create_at(&[b"new.txt"], REG | 0o640, 1234, 5678, b"")
        .unwrap();
    let fd = fd.expect("a new regular file comes with its descriptor");
    pwrite(&fd, b"written", 0);
    let m = std::fs::metadata(p.join("new.txt")).unwrap();
    assert_eq!(std::fs::read(p.join("new.txt")).unwrap(), b"written");
    assert_eq!((m.uid(), m.gid(), m.mode()), (1234, 5678, REG | 0o640));
    assert_eq!((a.qid.path, a.uid, a.mode), (m.ino(), 1234, REG | 0o640));
    // The umask of the Gofer plays no part; set-id bits survive the chown.
    let (a, fd) = c
        .create_at(&[b"sub", b"d"], libc::S_IFDIR | 0o2777, 7, 8, b"")
        .unwrap();
    assert!(fd.is_none());
    let m = std::fs::metadata(p.join("sub/d")).unwrap();
    assert_eq!((m.mode(), m.uid(), m.gid()), (libc::S_IFDIR | 0o2777, 7, 8));
    assert_eq!(a.mode, m.mode());
    c.create_at(
        &[b"sub", b"d", b"l"],
        libc::S_IFLNK | 0o777,
        9,
        10,
        b"/etc/passwd",
    )
    .unwrap();
    let m = std::fs::symlink_metadata(p.join("sub/d/l")).unwrap();
    assert_eq!((m.uid(), m.gid()), (9, 10));
    assert_eq!(
        std::fs::read_link(p.join("sub/d/l")).unwrap(),
        PathBuf::from("/etc/passwd")
    );
    c.create_at(&[b"fifo"], libc::S_IFIFO | 0o600, 0, 0, b"")
        .unwrap();
    let m = std::fs::symlink_metadata(p.join("fifo")).unwrap();
    assert_eq!(m.mode(), libc::S_IFIFO | 0o600);
    // Devices are never made on the host; existing names are EEXIST.
    assert_eq!(
        c.create_at(&[b"dev"], libc::S_IFCHR | 0o600, 0, 0, b"")
            .unwrap_err(),
        libc::EPERM
    );
    for name in [&b"hello.txt"[..], b"link", b"dangling", b"sub"] {
        assert_eq!(
            c.create_at(&[name], REG | 0o644, 0, 0, b"").unwrap_err(),
            libc::EEXIST
        );
    }
    // Nothing followed the dangling symlink.
    assert!(!p.join("does").exists());
}

#[test]
fn writable_descriptors_write_truncate_and_append() {
    let s = Served::new("openw");
    let c = s.client();
    let p = &s.tree.path;
    let (fd, _) = c.open_fd_flags(&[b"hello.txt"], libc::O_RDWR).unwrap();
    pwrite(&fd, b"HELLO", 0);
    assert_eq!(
        std::fs::read(p.join("hello.txt")).unwrap(),
        b"HELLO, gofer\n"
    );
    let (fd, st) = c
        .open_fd_flags(&[b"hello.txt"], libc::O_WRONLY | libc::O_TRUNC)
        .unwrap();
    assert_eq!(st.st_size, 0);
    write(&fd, b"a");
    let (fd, _) = c
        .open_fd_flags(&[b"hello.txt"], libc::O_WRONLY | libc::O_APPEND)
        .unwrap();
    pwrite(&fd, b"b", 0);
    assert_eq!(std::fs::read(p.join("hello.txt")).unwrap(), b"ab");
    // Not through a symlink, not a directory, no unknown flags.
    assert_eq!(
        c.open_fd_flags(&[b"link"], libc::O_WRONLY).unwrap_err(),
        libc::ELOOP
    );
    assert_eq!(
        c.open_fd_flags(&[b"sub"], libc::O_RDWR).unwrap_err(),
        libc::EISDIR
    );
    assert_eq!(
        c.open_fd_flags(&[b"empty"], libc::O_RDWR | libc::O_CREAT)
            .unwrap_err(),
        libc::EINVAL
    );
    assert_eq!(
        c.open_fd_flags(&[b"sub"], libc::O_DIRECTORY | libc::O_RDWR)
            .unwrap_err(),
        libc::EINVAL
    );
}

#[test]
fn link_rename_remove_and_setattr() {
    let s = Served::new("change");
    let c = s.client();
    let p = &s.tree.path;
    let a = c.link_at(&[b"hello.txt"], &[b"sub", b"hard"]).unwrap();
    assert_eq!(a.nlink, 2);
    assert_eq!(std::fs::read(p.join("sub/hard")).unwrap(), HELLO);
    // A symlink is linked, not followed.
    c.link_at(&[b"link"], &[b"link2"]).unwrap();
    assert!(std::fs::symlink_metadata(p.join("link2"))
        .unwrap()
        .is_symlink());
    assert_eq!(
        c.link_at(&[b"empty"], &[b"hello.txt"]).unwrap_err(),
        libc::EEXIST
    );
    assert_eq!(
        c.rename_at2(&[b"empty"], &[b"hello.txt"], libc::RENAME_NOREPLACE)
            .unwrap_err(),
        libc::EEXIST
    );
    c.rename_at2(&[b"empty"], &[b"sub", b"moved"], 0).unwrap();
    assert!(p.join("sub/moved").exists() && !p.join("empty").exists());
    c.rename_at2(&[b"sub", b"moved"], &[b"hello.txt"], 0)
        .unwrap();
    assert_eq!(std::fs::read(p.join("hello.txt")).unwrap(), b"");
    assert_eq!(
        c.rename_at2(&[b"sub"], &[b"x"], libc::RENAME_WHITEOUT)
            .unwrap_err(),
        libc::EINVAL
    );
    assert_eq!(
        c.remove_at(&[b"sub"], libc::AT_REMOVEDIR as u32)
            .unwrap_err(),
        libc::ENOTEMPTY
    );
    c.remove_at(&[b"sub", b"hard"], 0).unwrap();
    c.remove_at(&[b"sub", b"inner.txt"], 0).unwrap();
    c.remove_at(&[b"sub"], libc::AT_REMOVEDIR as u32).unwrap();
    assert!(!p.join("sub").exists());
    // Removing a symlink removes the link only.
    c.remove_at(&[b"link"], 0).unwrap();
    assert!(p.join("hello.txt").exists());

    std::fs::write(p.join("f"), b"0123456789").unwrap();
    let set = SetAttr {
        valid: wire::P9_SETATTR_MODE
            | wire::P9_SETATTR_UID
            | wire::P9_SETATTR_GID
            | wire::P9_SETATTR_SIZE
            | wire::P9_SETATTR_ATIME
            | wire::P9_SETATTR_ATIME_SET
            | wire::P9_SETATTR_MTIME
            | wire::P9_SETATTR_MTIME_SET,
        mode: 0o751,
        uid: 42,
        gid: 43,
        size: 4,
        atime_sec: 1_000_000,
        atime_nsec: 5,
        mtime_sec: 2_000_000,
        mtime_nsec: 6,
    };
    let a = c.setattr_at(&[b"f"], &set).unwrap();
    let m = std::fs::metadata(p.join("f")).unwrap();
    assert_eq!(
        (m.mode(), m.uid(), m.gid(), m.len()),
        (REG | 0o751, 42, 43, 4)
    );
    assert_eq!((m.atime(), m.atime_nsec()), (1_000_000, 5));
    assert_eq!((m.mtime(), m.mtime_nsec()), (2_000_000, 6));
    assert_eq!((a.size, a.mode, a.mtime_sec), (4, REG | 0o751, 2_000_000));
    // Times "now"; the root itself by the empty path.
    let now = SetAttr {
        valid: wire::P9_SETATTR_MTIME,
        ..SetAttr::default()
    };
    let a = c.setattr_at(&[], &now).unwrap();
    assert_eq!(a.qid.path, std::fs::metadata(p).unwrap().ino());
    let a = c.setattr_at(&[b"f"], &now).unwrap();
    assert!(a.mtime_sec > 2_000_000);
}

/// A directory next to the served tree that nothing may reach.
struct Outside(PathBuf);

impl Outside {
    fn new(tree: &std::path::Path) -> Outside {
        let o = PathBuf::from(format!("{}-outside", tree.display()));
        let _ = std::fs::remove_dir_all(&o);
        std::fs::create_dir(&o).unwrap();
        std::fs::write(o.join("secret"), b"secret").unwrap();
        std::fs::set_permissions(o.join("secret"), std::fs::Permissions::from_mode(0o600)).unwrap();
        Outside(o)
    }

    fn untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("secret")]);
        let m = std::fs::metadata(self.0.join("secret")).unwrap();
        assert_eq!((m.len(), m.mode() & 0o7777, m.nlink()), (6, 0o600, 1));
    }
}

impl Drop for Outside {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Refused for meeting a symlink on the way: ELOOP (RESOLVE_NO_SYMLINKS),
/// or ENOTDIR for a symlink where the parent directory should be.
fn walled<T: std::fmt::Debug>(r: Result<T, i32>) {
    let e = r.unwrap_err();
    assert!(e == libc::ELOOP || e == libc::ENOTDIR, "errno {e}");
}

#[test]
fn hostile_names_and_symlinks_cannot_leave_the_tree() {
    let s = Served::new("hostile");
    let c = s.client();
    let p = &s.tree.path;
    let out = Outside::new(p);
    std::os::unix::fs::symlink(&out.0, p.join("out")).unwrap();
    std::os::unix::fs::symlink(out.0.join("secret"), p.join("secretlink")).unwrap();
    std::os::unix::fs::symlink("..", p.join("up")).unwrap();
    let bad: [&[u8]; 5] = [b"..", b".", b"", b"a/b", b"../x"];
    for name in bad {
        let r = c.create_at(&[name], REG | 0o644, 0, 0, b"");
        assert_eq!(r.unwrap_err(), libc::EINVAL, "{name:?}");
        assert_eq!(
            c.create_at(&[name, b"x"], REG | 0o644, 0, 0, b"")
                .unwrap_err(),
            libc::EINVAL
        );
        assert_eq!(c.remove_at(&[name], 0).unwrap_err(), libc::EINVAL);
        assert_eq!(
            c.link_at(&[b"hello.txt"], &[name]).unwrap_err(),
            libc::EINVAL
        );
        assert_eq!(
            c.rename_at2(&[b"hello.txt"], &[name], 0).unwrap_err(),
            libc::EINVAL
        );
        assert_eq!(c.rename_at2(&[name], &[b"x"], 0).unwrap_err(), libc::EINVAL);
        let set = SetAttr {
            valid: wire::P9_SETATTR_MODE,
            mode: 0o777,
            ..SetAttr::default()
        };
        assert_eq!(c.setattr_at(&[name], &set).unwrap_err(), libc::EINVAL);
    }
    // A symlinked directory is never walked through.
    for dir in [&b"out"[..], b"up"] {
        walled(c.create_at(&[dir, b"x"], REG | 0o644, 0, 0, b""));
        walled(c.create_at(&[dir, b"x"], libc::S_IFDIR | 0o755, 0, 0, b""));
        walled(c.rename_at2(&[b"hello.txt"], &[dir, b"x"], 0));
        walled(c.rename_at2(&[dir, b"secret"], &[b"stolen"], 0));
        walled(c.link_at(&[dir, b"secret"], &[b"stolen"]));
        walled(c.link_at(&[b"hello.txt"], &[dir, b"x"]));
        walled(c.remove_at(&[dir, b"secret"], 0));
        walled(c.open_fd_flags(&[dir, b"secret"], libc::O_RDWR));
    }
    // A final symlink is changed itself or refused, never followed.
    let chmod = SetAttr {
        valid: wire::P9_SETATTR_MODE,
        mode: 0o777,
        ..SetAttr::default()
    };
    assert_eq!(
        c.setattr_at(&[b"secretlink"], &chmod).unwrap_err(),
        libc::EOPNOTSUPP
    );
    let trunc = SetAttr {
        valid: wire::P9_SETATTR_SIZE,
        ..SetAttr::default()
    };
    assert_eq!(
        c.setattr_at(&[b"secretlink"], &trunc).unwrap_err(),
        libc::EINVAL
    );
    let chown = SetAttr {
        valid: wire::P9_SETATTR_UID,
        uid: 4321,
        ..SetAttr::default()
    };
    c.setattr_at(&[b"secretlink"], &chown).unwrap();
    assert_eq!(
        std::fs::symlink_metadata(p.join("secretlink"))
            .unwrap()
            .uid(),
        4321
    );
    assert_eq!(
        c.open_fd_flags(&[b"secretlink"], libc::O_WRONLY | libc::O_TRUNC)
            .unwrap_err(),
        libc::ELOOP
    );
    // A hard link to a symlink is a link to the symlink.
    c.link_at(&[b"secretlink"], &[b"l2"]).unwrap();
    assert!(std::fs::symlink_metadata(p.join("l2"))
        .unwrap()
        .is_symlink());
    // Renaming and removing the symlinks touch the symlinks only.
    c.rename_at2(&[b"out"], &[b"out2"], 0).unwrap();
    c.remove_at(&[b"out2"], 0).unwrap();
    assert_eq!(
        c.remove_at(&[b"up"], libc::AT_REMOVEDIR as u32)
            .unwrap_err(),
        libc::ENOTDIR
    );
    out.untouched();
}

#[test]
fn a_read_only_server_refuses_every_change() {
    let s = Served::read_only("ro");
    let c = s.client();
    let p = &s.tree.path;
    let set = SetAttr {
        valid: wire::P9_SETATTR_MODE,
        mode: 0o777,
        ..SetAttr::default()
    };
    assert_eq!(
        c.create_at(&[b"x"], REG | 0o644, 0, 0, b"").unwrap_err(),
        libc::EROFS
    );
    assert_eq!(
        c.link_at(&[b"hello.txt"], &[b"x"]).unwrap_err(),
        libc::EROFS
    );
    assert_eq!(c.remove_at(&[b"hello.txt"], 0).unwrap_err(), libc::EROFS);
    assert_eq!(
        c.rename_at2(&[b"hello.txt"], &[b"x"], 0).unwrap_err(),
        libc::EROFS
    );
    assert_eq!(
        c.setattr_at(&[b"hello.txt"], &set).unwrap_err(),
        libc::EROFS
    );
    for flags in [libc::O_WRONLY, libc::O_RDWR, libc::O_TRUNC, libc::O_APPEND] {
        assert_eq!(
            c.open_fd_flags(&[b"hello.txt"], flags).unwrap_err(),
            libc::EROFS
        );
    }
    // The plain 9P way is refused too.
    let root = c.root();
    assert_eq!(c.mkdir(root, b"d", 0o755, 0).unwrap_err(), libc::EROFS);
    assert_eq!(c.unlinkat(root, b"hello.txt", 0).unwrap_err(), libc::EROFS);
    let (fid, _) = c.walk(root, &[b"hello.txt"]).unwrap();
    assert_eq!(c.lopen(fid, libc::O_RDWR as u32).unwrap_err(), libc::EROFS);
    assert_eq!(c.setattr(fid, &set).unwrap_err(), libc::EROFS);
    c.lopen(fid, libc::O_RDONLY as u32).unwrap();
    // Reading still works.
    let (fd, _) = c.open_fd_flags(&[b"hello.txt"], libc::O_RDONLY).unwrap();
    drop(fd);
    assert_eq!(std::fs::read(p.join("hello.txt")).unwrap(), HELLO);
    assert!(!p.join("x").exists() && !p.join("d").exists());
}

#[test]
fn writes_only_below_the_writable_paths() {
    let s = Served::configured("below", |srv| {
        srv.set_writable_below(vec![vec![b"sub".to_vec()]]);
    });
    let c = s.client();
    let p = &s.tree.path;
    let set = SetAttr {
        valid: wire::P9_SETATTR_MODE,
        mode: 0o700,
        ..SetAttr::default()
    };
    // Inside the volume: allowed; the volume's root may be chmod'ed.
    c.create_at(&[b"sub", b"new"], REG | 0o644, 0, 0, b"")
        .unwrap();
    c.rename_at2(&[b"sub", b"new"], &[b"sub", b"newer"], 0)
        .unwrap();
    c.link_at(&[b"sub", b"newer"], &[b"sub", b"third"]).unwrap();
    c.remove_at(&[b"sub", b"third"], 0).unwrap();
    c.setattr_at(&[b"sub"], &set).unwrap();
    c.open_fd_flags(&[b"sub", b"inner.txt"], libc::O_RDWR)
        .unwrap();
    assert!(p.join("sub/newer").exists());
    // Anything touching the rest: EROFS, links and renames included.
    let rofs = libc::EROFS;
    assert_eq!(
        c.create_at(&[b"x"], REG | 0o644, 0, 0, b"").unwrap_err(),
        rofs
    );
    assert_eq!(
        c.create_at(&[b"sub"], REG | 0o644, 0, 0, b"").unwrap_err(),
        rofs
    );
    assert_eq!(
        c.remove_at(&[b"sub"], libc::AT_REMOVEDIR as u32)
            .unwrap_err(),
        rofs
    );
    assert_eq!(
        c.link_at(&[b"hello.txt"], &[b"sub", b"h"]).unwrap_err(),
        rofs
    );
    assert_eq!(
        c.rename_at2(&[b"hello.txt"], &[b"sub", b"h"], 0)
            .unwrap_err(),
        rofs
    );
    assert_eq!(
        c.rename_at2(&[b"sub", b"newer"], &[b"out"], 0).unwrap_err(),
        rofs
    );
    assert_eq!(c.setattr_at(&[b"hello.txt"], &set).unwrap_err(), rofs);
    assert_eq!(
        c.open_fd_flags(&[b"hello.txt"], libc::O_WRONLY)
            .unwrap_err(),
        rofs
    );
    assert_eq!(
        c.open_fd_flags(&[b"subx"], libc::O_WRONLY).unwrap_err(),
        rofs
    );
    // Extended attributes: below the volume (its root included) only.
    // A filesystem without user xattrs answers EOPNOTSUPP there.
    for (names, ok) in [
        (&[&b"sub"[..], b"inner.txt"][..], true),
        (&[&b"sub"[..]][..], true),
        (&[&b"hello.txt"[..]][..], false),
        (&[][..], false),
    ] {
        let set = c.setxattr_at(names, b"user.v", b"1", 0);
        let remove = c.removexattr_at(names, b"user.v");
        if ok {
            assert!(!matches!(set, Err(libc::EROFS)), "{names:?}: {set:?}");
            assert!(!matches!(remove, Err(libc::EROFS)), "{names:?}: {remove:?}");
        } else {
            assert_eq!((set, remove), (Err(rofs), Err(rofs)), "{names:?}");
        }
    }
    // 9P's fid-named changes are refused: no path to check.
    let (dir, _) = c.walk(c.root(), &[b"sub"]).unwrap();
    assert_eq!(c.mkdir(dir, b"d", 0o755, 0).unwrap_err(), rofs);
    assert_eq!(std::fs::read(p.join("hello.txt")).unwrap(), HELLO);
    assert!(!p.join("sub/h").exists() && !p.join("out").exists() && !p.join("x").exists());
}
