//! mount(2) over tmpfs trees: flags, options, remounts, umount.

use std::sync::Arc;

use crate::errno::Errno;
use crate::fsimpl::namespace;
use crate::fsimpl::tmpfs::Tmpfs;
use crate::mm::MemoryFile;
use crate::vfs::ops::{self, Ctx};
use crate::vfs::{Cred, Dentry, Inode, MountSpec, Owner, Vfs};

fn vfs() -> Arc<Vfs> {
    let root = Tmpfs::new_root(&MemoryFile::new().unwrap(), 0o755, Owner::default());
    let a = root.mkdir(b"a", 0o755, Owner::default()).unwrap();
    a.create(b"file", 0o644, Owner::default()).unwrap();
    namespace::with_root(root, "tmpfs", &MemoryFile::new().unwrap())
}

fn spec(source: &[u8], dest: &[u8], fstype: &str, flags: u64, data: &[u8]) -> MountSpec {
    MountSpec {
        source: source.to_vec(),
        dest: dest.to_vec(),
        fstype: fstype.to_string(),
        flags,
        data: data.to_vec(),
    }
}

fn at(v: &Vfs, p: &[u8]) -> Result<Arc<Dentry>, Errno> {
    let c = Ctx::new(v, v.root(), Cred::root(), 0);
    ops::walk(&c, v.root(), p, true)
}

#[test]
fn boot_mounts_make_their_mount_points() {
    let v = vfs();
    v.mount_spec(&spec(
        b"tmpfs",
        b"/x/y",
        "tmpfs",
        libc::MS_NOSUID,
        b"size=64k",
    ))
    .unwrap();
    let m = at(&v, b"/x/y").unwrap().mount.clone();
    assert_eq!(m.fstype, "tmpfs");
    assert_eq!(m.mounts_options(), "rw,nosuid,relatime,size=64k");
    // A bind of a file makes an empty file to cover.
    v.mount_spec(&spec(b"/a/file", b"/etc/f", "", libc::MS_BIND, b""))
        .unwrap();
    let f = at(&v, b"/etc/f").unwrap();
    assert!(!f.is_dir());
    assert_eq!(f.mount.fs_root, b"/a/file");
    assert_eq!(
        v.mount_spec(&spec(b"", b"/z", "nosuchfs", 0, b"")).err(),
        Some(Errno::ENODEV)
    );
}

#[test]
fn a_read_only_root_refuses_writes_in_linux_order() {
    let v = vfs();
    v.set_root_readonly(true).unwrap();
    let c = Ctx::new(&v, v.root(), Cred::root(), 0);
    let r = v.root();
    assert_eq!(ops::mkdirat(&c, r.clone(), b"/m", 0o755), Err(Errno::EROFS));
    assert_eq!(
        ops::mkdirat(&c, r.clone(), b"/a", 0o755),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        ops::mkdirat(&c, r.clone(), b"/no/m", 0o755),
        Err(Errno::ENOENT)
    );
    let creat = libc::O_CREAT | libc::O_WRONLY;
    assert_eq!(
        ops::open_at(&c, r.clone(), b"/n", creat, 0o644).err(),
        Some(Errno::EROFS)
    );
    assert_eq!(
        ops::open_at(&c, r.clone(), b"/a/file", creat | libc::O_EXCL, 0o644).err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(
        ops::open_at(&c, r.clone(), b"/a/file", libc::O_RDWR, 0).err(),
        Some(Errno::EROFS)
    );
    assert!(ops::open_at(&c, r.clone(), b"/a/file", libc::O_RDONLY, 0).is_ok());
    // unlink asks for write access before looking the name up.
    assert_eq!(ops::unlinkat(&c, r.clone(), b"/a/none"), Err(Errno::EROFS));
    assert_eq!(ops::rmdirat(&c, r.clone(), b"/a"), Err(Errno::EROFS));
    assert_eq!(
        ops::symlinkat(&c, b"t", r.clone(), b"/s"),
        Err(Errno::EROFS)
    );
    let f = at(&v, b"/a/file").unwrap();
    assert_eq!(ops::chmod(&c.cred, &f, 0o600), Err(Errno::EROFS));
    assert_eq!(ops::chown(&c.cred, &f, None, None), Err(Errno::EROFS));
    assert_eq!(ops::truncate(&c.cred, &f, 0), Err(Errno::EROFS));
    v.set_root_readonly(false).unwrap();
    ops::mkdirat(&c, r, b"/m", 0o755).unwrap();
}

#[test]
fn umount_waits_for_open_files_unless_detached() {
    let v = vfs();
    v.mount_spec(&spec(b"tmpfs", b"/t", "tmpfs", 0, b""))
        .unwrap();
    let c = Ctx::new(&v, v.root(), Cred::root(), 0);
    let f = ops::open_at(&c, v.root(), b"/t/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
    let t = at(&v, b"/t").unwrap();
    assert_eq!(v.umount(&t, 0), Err(Errno::EBUSY));
    // A read-only remount waits for writers too.
    assert_eq!(
        v.do_mount(
            &c,
            v.root(),
            &t,
            &spec(
                b"",
                b"/t",
                "",
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                b""
            )
        ),
        Err(Errno::EBUSY)
    );
    drop(f);
    assert_eq!(v.umount(&at(&v, b"/a").unwrap(), 0), Err(Errno::EINVAL));
    v.umount(&t, 0).unwrap();
    drop(t);
    assert_eq!(at(&v, b"/t/f").err(), Some(Errno::ENOENT));
    v.mount_spec(&spec(b"tmpfs", b"/t", "tmpfs", 0, b""))
        .unwrap();
    let f = ops::open_at(&c, v.root(), b"/t/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
    let t = at(&v, b"/t").unwrap();
    v.umount(&t, libc::MNT_DETACH).unwrap();
    // The detached file still works.
    assert_eq!(f.dentry().unwrap().path(), b"/t/f");
    assert!(f.stat().is_ok());
}

#[test]
fn tmpfs_options_show_what_differs_from_the_defaults() {
    let v = vfs();
    let fs = v
        .new_filesystem("tmpfs", b"size=1m,mode=755,uid=5,nr_inodes=100")
        .unwrap();
    assert_eq!(fs.options, "size=1024k,nr_inodes=100,mode=755,uid=5");
    assert_eq!(fs.root.statfs().unwrap().f_blocks, 256);
    let fs = v.new_filesystem("tmpfs", b"").unwrap();
    assert_eq!(fs.options, "");
    let fs = v.new_filesystem("tmpfs", b"ro,size=5000").unwrap();
    assert_eq!(fs.sb_flags, libc::MS_RDONLY);
    assert_eq!(fs.options, "size=8k");
}

#[test]
fn bad_options_and_types_are_refused() {
    let v = vfs();
    let e = |t: &str, d: &[u8]| v.new_filesystem(t, d).err();
    assert_eq!(e("tmpfs", b"bogus"), Some(Errno::EINVAL));
    assert_eq!(e("tmpfs", b"size=lots"), Some(Errno::EINVAL));
    assert_eq!(e("tmpfs", b"mode=9"), Some(Errno::EINVAL));
    assert_eq!(e("tmpfs", b"uid=-1"), Some(Errno::EINVAL));
    assert_eq!(e("sysfs", b"size=1"), Some(Errno::EINVAL));
    assert_eq!(e("ext4", b""), Some(Errno::ENODEV));
    assert_eq!(e("tmpfs", b"\xff"), Some(Errno::EINVAL));
}
