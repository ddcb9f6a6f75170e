//! devtmpfs: /dev as a tmpfs holding the nodes of the character devices
//! the Sentry implements (`fsimpl::dev`), /dev/shm, /dev/pts and the
//! links to the looking task's descriptors.

use std::sync::Arc;

use super::Tmpfs;
use crate::fsimpl::dev::DEVICES;
use crate::mm::MemoryFile;
use crate::vfs::{InodeRef, Owner};

/// A fresh /dev, its files' data in `memfile`.
pub fn new_devfs(memfile: &Arc<MemoryFile>) -> InodeRef {
    let root = Tmpfs::new_root(memfile, 0o755, Owner::default());
    let owner = Owner::default();
    for (name, major, minor, mode) in DEVICES {
        let _ = root.make(
            name,
            libc::S_IFCHR,
            mode,
            owner,
            libc::makedev(major, minor),
            None,
            false,
        );
    }
    let _ = root.make(b"shm", libc::S_IFDIR, 0o1777, owner, 0, None, false);
    let _ = root.make(b"pts", libc::S_IFDIR, 0o755, owner, 0, None, false);
    // procfs makes these lead to the looking task's descriptors.
    let links: [(&[u8], &[u8]); 4] = [
        (b"stdin", b"/proc/self/fd/0"),
        (b"stdout", b"/proc/self/fd/1"),
        (b"stderr", b"/proc/self/fd/2"),
        (b"fd", b"/proc/self/fd"),
    ];
    for (name, target) in links {
        let _ = root.make(name, libc::S_IFLNK, 0o777, owner, 0, Some(target), false);
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errno::Errno;

    #[test]
    fn devfs_has_the_usual_nodes() {
        let d = new_devfs(&MemoryFile::new().unwrap());
        for n in [
            &b"null"[..],
            b"zero",
            b"full",
            b"random",
            b"urandom",
            b"tty",
            b"console",
            b"ptmx",
        ] {
            assert_eq!(d.lookup(n).unwrap().mode() & libc::S_IFMT, libc::S_IFCHR);
        }
        assert_eq!(
            d.lookup(b"stderr").unwrap().readlink().unwrap(),
            b"/proc/self/fd/2"
        );
    }

    #[test]
    fn devices_behave_as_on_linux() {
        let d = new_devfs(&MemoryFile::new().unwrap());
        let null = d.lookup(b"null").unwrap().open(libc::O_RDWR).unwrap();
        let mut buf = [1u8; 16];
        assert_eq!(null.read_at(&mut buf, 0).unwrap(), 0);
        assert_eq!(null.write_at(b"xyz", 0).unwrap(), 3);
        let full = d.lookup(b"full").unwrap().open(libc::O_RDWR).unwrap();
        assert_eq!(full.write_at(b"x", 0), Err(Errno::ENOSPC));
        assert_eq!(full.read_at(&mut buf, 0).unwrap(), 16);
        assert_eq!(buf, [0u8; 16]);
        let r = d.lookup(b"urandom").unwrap().open(libc::O_RDONLY).unwrap();
        let mut a = [0u8; 32];
        assert_eq!(r.read_at(&mut a, 0).unwrap(), 32);
        assert_ne!(a, [0u8; 32]);
        assert_eq!(
            d.lookup(b"tty").unwrap().open(libc::O_RDWR).err(),
            Some(Errno::ENXIO)
        );
        // /dev/ptmx makes a new pty master, listed in the devpts of the
        // namespace that opens it: opened in none, there is no devpts.
        assert_eq!(
            d.lookup(b"ptmx").unwrap().open(libc::O_RDWR).err(),
            Some(Errno::ENXIO)
        );
        let vfs = crate::vfs::Vfs::with_root(d, "devtmpfs");
        let devpts = crate::fsimpl::devpts::DevptsType::default();
        vfs.register_filesystem("devpts", std::sync::Arc::new(devpts));
        let ctx = crate::vfs::ops::Ctx::new(&vfs, vfs.root(), crate::vfs::Cred::root(), 0o022);
        let m = crate::vfs::ops::open_at(&ctx, vfs.root(), b"/ptmx", libc::O_RDWR, 0).unwrap();
        let any: &dyn std::any::Any = m.ops().as_ref();
        assert!(any.is::<crate::fsimpl::devpts::Master>());
    }
}
