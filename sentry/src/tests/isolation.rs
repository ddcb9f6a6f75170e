//! Two namespaces in one process (two sandboxes' worth of state, as two
//! kernels hold) share nothing: inotify watches, dnotify and fanotify
//! marks, ptys
//! and the memfd filesystem belong to one VFS each, and the pages of
//! in-memory files to one kernel's memory file each.

use std::sync::Arc;

use crate::fsimpl::memfd;
use crate::fsimpl::namespace;
use crate::fsimpl::tmpfs::Tmpfs;
use crate::mm::MemoryFile;
use crate::vfs::fanotify::{Group, HeldObject, Object};
use crate::vfs::inotify::{Inotify, ALL_EVENTS};
use crate::vfs::ops::{self, Ctx};
use crate::vfs::{Cred, Dentry, FileOps, Inode, InodeRef, Owner, Vfs};

/// A namespace over `root` with devpts on /pts, its in-memory files in
/// `memfile`.
fn namespace_over(root: InodeRef, memfile: &Arc<MemoryFile>) -> Arc<Vfs> {
    let vfs = namespace::with_root(root, "tmpfs", memfile);
    let pts = vfs.new_filesystem("devpts", b"").unwrap();
    vfs.mount_at(b"/pts", pts.root, "devpts").unwrap();
    vfs
}

fn walk(v: &Vfs, path: &[u8]) -> Arc<Dentry> {
    let c = Ctx::new(v, v.root(), Cred::root(), 0o022);
    ops::walk(&c, v.root(), path, true).unwrap()
}

fn names(v: &Vfs, path: &[u8]) -> Vec<Vec<u8>> {
    let mut n: Vec<Vec<u8>> = walk(v, path)
        .inode
        .readdir()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    n.sort();
    n
}

#[test]
fn two_namespaces_in_one_process_share_no_watch_pty_memfd_or_page() {
    // Both over the same tmpfs tree: only the namespace tells them apart,
    // so a registry keyed by inode alone would mix them.
    let root = Tmpfs::new_root(&MemoryFile::new().unwrap(), 0o755, Owner::default());
    root.mkdir(b"d", 0o755, Owner::default()).unwrap();
    let (mfa, mfb) = (MemoryFile::new().unwrap(), MemoryFile::new().unwrap());
    let (a, b) = (
        namespace_over(root.clone(), &mfa),
        namespace_over(root, &mfb),
    );

    // inotify: a watch made in `a` hears `a`'s changes, not `b`'s.
    let i = Inotify::new(a.notify().watches());
    let d = walk(&a, b"/d");
    let wd = i
        .add_watch(d.inode.clone(), &d.mount.sb, ALL_EVENTS)
        .unwrap();
    assert!(a.notify().watching());
    assert!(!b.notify().watching());
    let cb = Ctx::new(&b, b.root(), Cred::root(), 0o022);
    ops::mkdirat(&cb, b.root(), b"/d/from_b", 0o755).unwrap();
    let mut buf = [0u8; 256];
    assert!(
        i.try_read(&mut buf).is_none(),
        "b's mkdir reached a's watch"
    );
    let ca = Ctx::new(&a, a.root(), Cred::root(), 0o022);
    ops::mkdirat(&ca, a.root(), b"/d/from_a", 0o755).unwrap();
    let n = i.try_read(&mut buf).unwrap().unwrap();
    assert!(n > 0);
    assert_eq!(i32::from_ne_bytes(buf[..4].try_into().unwrap()), wd);

    // fanotify: a mark made in `a` hears `a`'s changes, not `b`'s.
    let g = Group::new(
        a.notify().fanotify(),
        libc::FAN_REPORT_DFID_NAME,
        libc::O_RDONLY,
        false,
    );
    g.add_mark(
        Object::inode(&d.inode),
        HeldObject::Inode(d.inode.clone()),
        libc::FAN_CREATE | libc::FAN_ONDIR,
        false,
        0,
    )
    .unwrap();
    assert!(!b.notify().watching());
    ops::mkdirat(&cb, b.root(), b"/d/fan_b", 0o755).unwrap();
    assert_eq!(g.readiness(libc::POLLIN), 0, "b's mkdir reached a's mark");
    ops::mkdirat(&ca, a.root(), b"/d/fan_a", 0o755).unwrap();
    assert_eq!(g.readiness(libc::POLLIN), libc::POLLIN);

    // devpts: a pty made in `a` is listed in `a` alone, and `b` numbers
    // its own from 0.
    let pa = ops::open_at(&ca, a.root(), b"/pts/ptmx", libc::O_RDWR, 0).unwrap();
    assert_eq!(names(&a, b"/pts"), vec![b"0".to_vec(), b"ptmx".to_vec()]);
    assert_eq!(names(&b, b"/pts"), vec![b"ptmx".to_vec()]);
    let pb = ops::open_at(&cb, b.root(), b"/pts/ptmx", libc::O_RDWR, 0).unwrap();
    assert_eq!(names(&b, b"/pts"), vec![b"0".to_vec(), b"ptmx".to_vec()]);
    drop(pa);
    assert_eq!(names(&a, b"/pts"), vec![b"ptmx".to_vec()]);
    assert_eq!(names(&b, b"/pts"), vec![b"0".to_vec(), b"ptmx".to_vec()]);
    drop(pb);

    // memfd: each namespace has its own filesystem for them.
    let owner = Owner::default();
    let m = |v: &Vfs, mf| memfd::create(v, mf, b"x", owner, 0, memfd::Sealing::None).unwrap();
    let (ma1, ma2, mb) = (m(&a, &mfa), m(&a, &mfa), m(&b, &mfb));
    let sb = |f: &crate::vfs::File| f.dentry().unwrap().mount.sb.clone();
    assert!(Arc::ptr_eq(&sb(&ma1), &sb(&ma2)));
    assert!(!Arc::ptr_eq(&sb(&ma1), &sb(&mb)));

    // Memory: a tmpfs mounted in each keeps its pages in its own kernel's
    // memory file.
    for (v, mf) in [(&a, &mfa), (&b, &mfb)] {
        let tmp = v.new_filesystem("tmpfs", b"").unwrap();
        let f = tmp.root.create(b"f", 0o644, owner).unwrap();
        let pages = f.shared_memory(0, 4096).unwrap().unwrap();
        assert!(Arc::ptr_eq(&pages[0].0.file, mf));
    }
    let memfd_pages = |f: &crate::vfs::File| {
        let inode = &f.dentry().unwrap().inode;
        inode.shared_memory(0, 4096).unwrap().unwrap()[0]
            .0
            .file
            .clone()
    };
    assert!(Arc::ptr_eq(&memfd_pages(&ma1), &mfa));
    assert!(Arc::ptr_eq(&memfd_pages(&mb), &mfb));
}
