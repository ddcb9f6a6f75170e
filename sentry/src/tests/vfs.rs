//! Resolution, namespace and fd-table tests over tmpfs trees (no task
//! needed).

use std::sync::Arc;

use crate::errno::Errno;
use crate::fsimpl::overlay::OverlayFs;
use crate::fsimpl::tmpfs::Tmpfs;
use crate::mm::MemoryFile;
use crate::vfs::ops::{self, Ctx};
use crate::vfs::*;

/// `/` a tmpfs with /a/b/file, /a/link -> b, /loop1 <-> /loop2,
/// /abs -> /a/b, /dangling -> nowhere, /tmp a second tmpfs.
fn setup() -> Arc<Vfs> {
    let root = Tmpfs::new_root(&MemoryFile::new().unwrap(), 0o755, Owner::default());
    let o = Owner::default();
    let a = root.mkdir(b"a", 0o755, o).unwrap();
    let b = a.mkdir(b"b", 0o755, o).unwrap();
    b.create(b"file", 0o644, o).unwrap();
    a.symlink(b"link", b"b", o).unwrap();
    root.symlink(b"loop1", b"loop2", o).unwrap();
    root.symlink(b"loop2", b"loop1", o).unwrap();
    root.symlink(b"abs", b"/a/b", o).unwrap();
    root.symlink(b"dangling", b"nowhere", o).unwrap();
    root.symlink(b"up", b"../../..", o).unwrap();
    root.mkdir(b"tmp", 0o1777, o).unwrap();
    let vfs = Vfs::with_root(root, "tmpfs");
    vfs.mount_at(
        b"/tmp",
        Tmpfs::new_root(&MemoryFile::new().unwrap(), 0o1777, o),
        "tmpfs",
    )
    .unwrap();
    vfs
}

fn ctx(vfs: &Vfs) -> Ctx<'_> {
    Ctx::new(vfs, vfs.root(), Cred::root(), 0o022)
}

fn walk(vfs: &Vfs, path: &[u8]) -> Result<Arc<Dentry>, Errno> {
    ops::walk(&ctx(vfs), vfs.root(), path, true)
}

fn lwalk(vfs: &Vfs, path: &[u8]) -> Result<Arc<Dentry>, Errno> {
    ops::walk(&ctx(vfs), vfs.root(), path, false)
}

#[test]
fn walks_follow_symlinks_and_keep_their_path() {
    let v = setup();
    // Paths name where the walk went, as /proc/self/fd shows them.
    assert_eq!(walk(&v, b"/a/link/file").unwrap().path(), b"/a/b/file");
    assert!(walk(&v, b"/abs/file").unwrap().stat().is_ok());
    // `..` goes to the parent of where the walk went, not lexically.
    assert_eq!(walk(&v, b"/abs/..").unwrap().path(), b"/a");
    assert_eq!(walk(&v, b"/up").unwrap().path(), b"/");
    assert_eq!(walk(&v, b"/../../a/./b/").unwrap().path(), b"/a/b");
}

#[test]
fn walk_errors_are_linux_errors() {
    let v = setup();
    assert_eq!(walk(&v, b"/loop1").err(), Some(Errno::ELOOP));
    assert_eq!(walk(&v, b"/dangling").err(), Some(Errno::ENOENT));
    assert!(lwalk(&v, b"/dangling").is_ok());
    assert_eq!(walk(&v, b"/a/b/file/x").err(), Some(Errno::ENOTDIR));
    assert_eq!(walk(&v, b"/a/b/file/").err(), Some(Errno::ENOTDIR));
    assert_eq!(walk(&v, b"/a/b/file/.").err(), Some(Errno::ENOTDIR));
    assert_eq!(walk(&v, b"").err(), Some(Errno::ENOENT));
    assert_eq!(walk(&v, b"/nope").err(), Some(Errno::ENOENT));
    let long = [b'x'; NAME_MAX + 1];
    assert_eq!(walk(&v, &long).err(), Some(Errno::ENAMETOOLONG));
    // A trailing slash follows a final symlink.
    assert!(is_dir(lwalk(&v, b"/a/link/").unwrap().mode()));
    assert!(is_symlink(lwalk(&v, b"/a/link").unwrap().mode()));
}

#[test]
fn mounts_are_crossed_both_ways() {
    let v = setup();
    let tmp = walk(&v, b"/tmp").unwrap();
    assert_eq!(tmp.mount.fstype, "tmpfs");
    assert_ne!(tmp.mount.id, v.root().mount.id);
    assert_ne!(tmp.stat().unwrap().st_dev, v.root().stat().unwrap().st_dev);
    assert_eq!(walk(&v, b"/tmp/..").unwrap().path(), b"/");
    let c = ctx(&v);
    ops::mkdirat(&c, v.root(), b"/tmp/x", 0o777).unwrap();
    assert_eq!(walk(&v, b"/tmp/x").unwrap().mode() & 0o777, 0o755);
    // The mount point is busy and other filesystems are another device.
    assert_eq!(
        ops::rmdirat(&c, v.root(), b"/tmp").err(),
        Some(Errno::EBUSY)
    );
    assert_eq!(
        ops::renameat(&c, v.root(), b"/tmp/x", v.root(), b"/x", 0).err(),
        Some(Errno::EXDEV)
    );
}

#[test]
fn dotdot_stops_at_the_task_root() {
    let v = setup();
    let chroot = walk(&v, b"/a").unwrap();
    let c = Ctx::new(&v, chroot.clone(), Cred::root(), 0);
    assert_eq!(
        ops::walk(&c, chroot.clone(), b"../../..", true)
            .unwrap()
            .path(),
        b"/a"
    );
    assert_eq!(
        ops::walk(&c, chroot, b"/b/file", true).unwrap().path(),
        b"/a/b/file"
    );
}

#[test]
fn open_create_excl_trunc_directory() {
    let v = setup();
    let c = ctx(&v);
    let creat = libc::O_CREAT | libc::O_WRONLY;
    let f = ops::open_at(&c, v.root(), b"/a/new", creat, 0o666).unwrap();
    assert_eq!(f.stat().unwrap().st_mode, libc::S_IFREG | 0o644);
    f.ops().write_at(b"data", 0).unwrap();
    assert_eq!(
        ops::open_at(&c, v.root(), b"/a/new", creat | libc::O_EXCL, 0).err(),
        Some(Errno::EEXIST)
    );
    let f = ops::open_at(&c, v.root(), b"/a/new", libc::O_RDWR | libc::O_TRUNC, 0).unwrap();
    assert_eq!(f.stat().unwrap().st_size, 0);
    assert_eq!(
        ops::open_at(&c, v.root(), b"/a", libc::O_WRONLY, 0).err(),
        Some(Errno::EISDIR)
    );
    assert_eq!(
        ops::open_at(&c, v.root(), b"/a/new", libc::O_DIRECTORY, 0).err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(
        ops::open_at(&c, v.root(), b"/a/link", libc::O_NOFOLLOW, 0).err(),
        Some(Errno::ELOOP)
    );
    assert!(ops::open_at(&c, v.root(), b"/a/link", libc::O_NOFOLLOW | libc::O_PATH, 0).is_ok());
    assert_eq!(
        ops::open_at(&c, v.root(), b"/a/missing/", creat, 0).err(),
        Some(Errno::EISDIR)
    );
    assert_eq!(
        ops::open_at(&c, v.root(), b"/nodir/x", creat, 0).err(),
        Some(Errno::ENOENT)
    );
    // O_CREAT through a dangling symlink fails; through a good one opens.
    assert!(ops::open_at(&c, v.root(), b"/abs", libc::O_RDONLY, 0).is_ok());
}

#[test]
fn unlink_rmdir_rename_errnos() {
    let v = setup();
    let c = ctx(&v);
    let r = || v.root();
    assert_eq!(ops::unlinkat(&c, r(), b"/a").err(), Some(Errno::EISDIR));
    assert_eq!(
        ops::unlinkat(&c, r(), b"/a/b/file/").err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(
        ops::rmdirat(&c, r(), b"/a/b/file").err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(ops::rmdirat(&c, r(), b"/a").err(), Some(Errno::ENOTEMPTY));
    assert_eq!(ops::rmdirat(&c, r(), b"/a/.").err(), Some(Errno::EINVAL));
    assert_eq!(
        ops::rmdirat(&c, r(), b"/a/..").err(),
        Some(Errno::ENOTEMPTY)
    );
    assert_eq!(
        ops::mkdirat(&c, r(), b"/a", 0o755).err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(
        ops::mkdirat(&c, r(), b"/a/b/file/x", 0o755).err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(
        ops::renameat(&c, r(), b"/a", r(), b"/a/b/inside", 0).err(),
        Some(Errno::EINVAL)
    );
    // Onto its own ancestor: ENOTEMPTY before the type check, as Linux
    // (lock_rename's trap).
    assert_eq!(
        ops::renameat(&c, r(), b"/a/b/file", r(), b"/a", 0).err(),
        Some(Errno::ENOTEMPTY)
    );
    ops::renameat(&c, r(), b"/a/b/file", r(), b"/moved", 0).unwrap();
    assert!(walk(&v, b"/moved").is_ok());
    assert_eq!(walk(&v, b"/a/b/file").err(), Some(Errno::ENOENT));
    ops::unlinkat(&c, r(), b"/moved").unwrap();
    ops::rmdirat(&c, r(), b"/a/b/").unwrap();
    ops::symlinkat(&c, b"target", r(), b"/s").unwrap();
    assert_eq!(
        ops::readlink(&c, &lwalk(&v, b"/s").unwrap()).unwrap(),
        b"target"
    );
    assert_eq!(
        ops::symlinkat(&c, b"", r(), b"/s2").err(),
        Some(Errno::ENOENT)
    );
}

#[test]
fn permissions_apply_to_other_users() {
    let v = setup();
    let user = Cred::user(1000, 1000, vec![]);
    let c = Ctx::new(&v, v.root(), user.clone(), 0o022);
    // / is 0755 root: no creating there.
    assert_eq!(
        ops::open_at(&c, v.root(), b"/f", libc::O_CREAT | libc::O_WRONLY, 0o644).err(),
        Some(Errno::EACCES)
    );
    // /tmp is sticky and world-writable.
    ops::open_at(
        &c,
        v.root(),
        b"/tmp/mine",
        libc::O_CREAT | libc::O_WRONLY,
        0o600,
    )
    .unwrap();
    let root_ctx = ctx(&v);
    ops::open_at(
        &root_ctx,
        v.root(),
        b"/tmp/roots",
        libc::O_CREAT | libc::O_WRONLY,
        0o644,
    )
    .unwrap();
    assert_eq!(
        ops::unlinkat(&c, v.root(), b"/tmp/roots").err(),
        Some(Errno::EPERM)
    );
    ops::unlinkat(&c, v.root(), b"/tmp/mine").unwrap();
    let file = walk(&v, b"/tmp/roots").unwrap();
    assert_eq!(
        ops::access(&user, &file.stat().unwrap(), libc::W_OK).err(),
        Some(Errno::EACCES)
    );
    assert!(ops::access(&user, &file.stat().unwrap(), libc::R_OK).is_ok());
    assert_eq!(ops::chmod(&user, &file, 0o777).err(), Some(Errno::EPERM));
}

#[test]
fn overlay_root_keeps_the_lower_tree_unchanged() {
    let lower = Tmpfs::new_root(&MemoryFile::new().unwrap(), 0o755, Owner::default());
    let etc = lower.mkdir(b"etc", 0o755, Owner::default()).unwrap();
    etc.create(b"hosts", 0o644, Owner::default()).unwrap();
    let v = Vfs::with_root(
        OverlayFs::new_root(lower.clone(), &MemoryFile::new().unwrap()),
        "overlay",
    );
    let c = ctx(&v);
    let f = ops::open_at(
        &c,
        v.root(),
        b"/etc/hosts",
        libc::O_WRONLY | libc::O_APPEND,
        0,
    )
    .unwrap();
    f.ops().write_at(b"x", 0).unwrap();
    ops::mkdirat(&c, v.root(), b"/etc/new", 0o755).unwrap();
    ops::unlinkat(&c, v.root(), b"/etc/hosts").unwrap();
    assert_eq!(walk(&v, b"/etc/hosts").err(), Some(Errno::ENOENT));
    let names: Vec<_> = lower
        .lookup(b"etc")
        .unwrap()
        .readdir()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, vec![b"hosts".to_vec()]);
    assert_eq!(
        lower
            .lookup(b"etc")
            .unwrap()
            .lookup(b"hosts")
            .unwrap()
            .stat()
            .unwrap()
            .st_size,
        0
    );
}

#[test]
fn deep_dentry_chains_drop_without_recursion() {
    let v = setup();
    let mut d = v.root();
    let tmp = walk(&v, b"/tmp").unwrap();
    let inode = tmp.inode.clone();
    for _ in 0..200_000 {
        d = d.child(tmp.mount.clone(), inode.clone(), b"x");
    }
    drop(d);
}

// ---- fd table ----

fn null_file() -> Arc<File> {
    File::new(Arc::new(crate::fsimpl::dev::Null), None, libc::O_RDWR)
}

#[test]
fn fds_are_lowest_free_and_limited() {
    let t = FdTable::new();
    assert_eq!(t.install(null_file(), false).unwrap(), 0);
    assert_eq!(t.install(null_file(), true).unwrap(), 1);
    assert_eq!(t.install(null_file(), false).unwrap(), 2);
    t.remove(1).unwrap();
    assert_eq!(t.install(null_file(), false).unwrap(), 1);
    assert_eq!(t.remove(7).err(), Some(Errno::EBADF));
    assert_eq!(t.get(-1).err(), Some(Errno::EBADF));
    t.set_max(4);
    assert_eq!(t.install(null_file(), false).unwrap(), 3);
    assert_eq!(t.install(null_file(), false).err(), Some(Errno::EMFILE));
    assert_eq!(
        t.install_at(4, null_file(), false).err(),
        Some(Errno::EBADF)
    );
    assert_eq!(
        t.install_from(null_file(), 10, false).err(),
        Some(Errno::EMFILE)
    );
}

#[test]
fn cloexec_is_per_descriptor_and_fork_copies() {
    let t = FdTable::new();
    let f = null_file();
    t.install(f.clone(), true).unwrap();
    t.install(f.clone(), false).unwrap();
    let child = t.fork();
    t.close_on_exec();
    assert_eq!(t.get(0).err(), Some(Errno::EBADF));
    assert!(t.get(1).is_ok());
    // The copy kept both, and shares the description (flags included).
    assert!(child.get(0).is_ok());
    child.get(1).unwrap().set_status_flags(libc::O_NONBLOCK);
    assert!(t.get(1).unwrap().nonblocking());
    child.close_all();
    assert_eq!(child.count(), 0);
    assert_eq!(t.count(), 1);
}

#[test]
fn dup2_replaces_and_pair_installs_both_or_none() {
    let t = FdTable::new();
    let a = null_file();
    t.install(a.clone(), false).unwrap();
    t.install_at(5, a.clone(), true).unwrap();
    assert!(Arc::ptr_eq(&t.get(5).unwrap(), &a));
    assert!(t.get_with_flags(5).unwrap().1);
    t.set_max(7);
    let (r, w) = t.install_pair(null_file(), null_file(), false).unwrap();
    assert_eq!((r, w), (1, 2));
    for _ in 0..2 {
        t.install(null_file(), false).unwrap();
    }
    // Only fd 6 is left: a pair fails as a whole.
    assert_eq!(t.count(), 6);
    assert_eq!(
        t.install_pair(null_file(), null_file(), false).err(),
        Some(Errno::EMFILE)
    );
    assert_eq!(t.count(), 6);
}

#[test]
fn status_flags_only_change_what_setfl_may() {
    let f = File::new(
        Arc::new(crate::fsimpl::dev::Null),
        None,
        libc::O_WRONLY | libc::O_CREAT,
    );
    assert_eq!(f.flags() & libc::O_ACCMODE, libc::O_WRONLY);
    assert_eq!(f.flags() & libc::O_CREAT, 0);
    f.set_status_flags(libc::O_APPEND | libc::O_RDWR | libc::O_NONBLOCK);
    assert_eq!(f.flags() & libc::O_ACCMODE, libc::O_WRONLY);
    assert!(f.nonblocking());
    assert!(f.writable() && !f.readable());
}

#[test]
fn seek_rules() {
    let v = setup();
    let c = ctx(&v);
    let f = ops::open_at(&c, v.root(), b"/tmp/s", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
    f.ops().write_at(b"0123456789", 0).unwrap();
    assert_eq!(f.seek(-3, libc::SEEK_END).unwrap(), 7);
    assert_eq!(f.seek(2, libc::SEEK_CUR).unwrap(), 9);
    assert_eq!(f.seek(-10, libc::SEEK_CUR).err(), Some(Errno::EINVAL));
    assert_eq!(f.seek(0, 99).err(), Some(Errno::EINVAL));
    assert_eq!(f.seek(3, libc::SEEK_DATA).unwrap(), 3);
    assert_eq!(f.seek(3, libc::SEEK_HOLE).unwrap(), 10);
    assert_eq!(f.seek(10, libc::SEEK_DATA).err(), Some(Errno::ENXIO));
    assert_eq!(
        f.seek(i64::MAX, libc::SEEK_END).err(),
        Some(Errno::EOVERFLOW)
    );
    let (r, _w) = crate::fsimpl::pipe::new_pipe_files(0);
    assert_eq!(r.seek(0, libc::SEEK_SET).err(), Some(Errno::ESPIPE));
}

#[test]
fn directory_listing_starts_with_dot_entries_and_resumes() {
    let v = setup();
    let c = ctx(&v);
    let d = ops::open_at(&c, v.root(), b"/a", libc::O_RDONLY | libc::O_DIRECTORY, 0).unwrap();
    let mut names = Vec::new();
    d.read_dir(&c, |_, e| {
        names.push(e.name.clone());
        names.len() < 2
    })
    .unwrap();
    assert_eq!(names, vec![b".".to_vec(), b"..".to_vec()]);
    names.clear();
    d.read_dir(&c, |_, e| {
        names.push(e.name.clone());
        true
    })
    .unwrap();
    // The entry refused last time comes again.
    assert_eq!(names, vec![b"..".to_vec(), b"b".to_vec(), b"link".to_vec()]);
    d.seek(0, libc::SEEK_SET).unwrap();
    let mut n = 0;
    d.read_dir(&c, |_, _| {
        n += 1;
        true
    })
    .unwrap();
    assert_eq!(n, 4);
}

#[test]
fn fd_links_reach_the_callers_descriptors() {
    let v = setup();
    ops::mkdirat(&ctx(&v), v.root(), b"/fd", 0o755).unwrap();
    v.mount_at(b"/fd", crate::fsimpl::proc::FdDir::new(), "proc")
        .unwrap();
    let o = Owner::default();
    let root = v.root();
    root.inode.symlink(b"stdout", b"/fd/1", o).unwrap();
    root.inode.symlink(b"stdin", b"/fd/0", o).unwrap();
    let fds = FdTable::new();
    let (r, w) = crate::fsimpl::pipe::new_pipe_files(0);
    let mut c = ctx(&v);
    let file = ops::open_at(
        &c,
        v.root(),
        b"/tmp/out",
        libc::O_CREAT | libc::O_RDWR,
        0o644,
    )
    .unwrap();
    fds.install_at(1, w.clone(), false).unwrap();
    fds.install_at(2, file, false).unwrap();
    drop(r);
    c.fds = Some(fds);
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
    let out = ops::open_at(&c, v.root(), b"/stdout", flags, 0o666).unwrap();
    assert!(Arc::ptr_eq(&out, &w));
    let err = ops::open_at(&c, v.root(), b"/fd/2", libc::O_WRONLY, 0).unwrap();
    assert_eq!(err.path(), b"/tmp/out");
    let link = ops::walk(&c, v.root(), b"/fd/2", false).unwrap();
    assert_eq!(ops::readlink(&c, &link).unwrap(), b"/tmp/out");
    assert_eq!(
        ops::open_at(&c, v.root(), b"/stdin", libc::O_RDONLY, 0).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(
        ops::walk(&c, v.root(), b"/stdout/x", true).err(),
        Some(Errno::ENOTDIR)
    );
    let d = ops::open_at(&c, v.root(), b"/fd", libc::O_RDONLY, 0).unwrap();
    let mut names = Vec::new();
    d.read_dir(&c, |_, e| {
        names.push(e.name.clone());
        true
    })
    .unwrap();
    let want: Vec<Vec<u8>> = vec![b".".to_vec(), b"..".to_vec(), b"1".to_vec(), b"2".to_vec()];
    assert_eq!(names, want);
}
