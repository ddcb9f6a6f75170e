//! devfs: /dev as a tmpfs holding device nodes, and the character devices
//! the Sentry implements (null, zero, full, random, urandom; tty and ptmx
//! from [`super::devpts`], whose filesystem is mounted on /dev/pts).
//!
//! Device nodes in any tmpfs open through [`open_device_by`], by number, as
//! Linux's char-device table does.

use std::sync::Arc;

use super::tmpfs::Tmpfs;
use crate::errno::Errno;
use crate::vfs::Caller;
use crate::vfs::{FileOps, InodeRef, Owner};

const MEM_MAJOR: u32 = 1;
const NULL_MINOR: u32 = 3;
const ZERO_MINOR: u32 = 5;
const FULL_MINOR: u32 = 7;
const RANDOM_MINOR: u32 = 8;
const URANDOM_MINOR: u32 = 9;
const TTYAUX_MAJOR: u32 = 5;
const TTY_MINOR: u32 = 0;
const CONSOLE_MINOR: u32 = 1;
const PTMX_MINOR: u32 = 2;

/// A fresh /dev.
pub fn new_devfs() -> InodeRef {
    let root = Tmpfs::new_root(0o755, Owner::default());
    let owner = Owner::default();
    let devices: [(&[u8], u32, u32); 8] = [
        (b"null", MEM_MAJOR, NULL_MINOR),
        (b"zero", MEM_MAJOR, ZERO_MINOR),
        (b"full", MEM_MAJOR, FULL_MINOR),
        (b"random", MEM_MAJOR, RANDOM_MINOR),
        (b"urandom", MEM_MAJOR, URANDOM_MINOR),
        (b"tty", TTYAUX_MAJOR, TTY_MINOR),
        (b"console", TTYAUX_MAJOR, CONSOLE_MINOR),
        (b"ptmx", TTYAUX_MAJOR, PTMX_MINOR),
    ];
    for (name, major, minor) in devices {
        let _ = root.make(
            name,
            libc::S_IFCHR,
            0o666,
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

/// Opens the character device `rdev` for no task in particular.
pub fn open_device(rdev: u64, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
    open_device_by(rdev, flags, None)
}

/// Opens the character device `rdev` for `t` (terminals depend on who
/// opens them).
pub fn open_device_by(
    rdev: u64,
    flags: i32,
    t: Option<&dyn Caller>,
) -> Result<Arc<dyn FileOps>, Errno> {
    match (libc::major(rdev), libc::minor(rdev)) {
        (MEM_MAJOR, NULL_MINOR) => Ok(Arc::new(Null)),
        (MEM_MAJOR, ZERO_MINOR) => Ok(Arc::new(Zero)),
        (MEM_MAJOR, FULL_MINOR) => Ok(Arc::new(Full)),
        (MEM_MAJOR, RANDOM_MINOR) | (MEM_MAJOR, URANDOM_MINOR) => Ok(Arc::new(Random)),
        // The caller's controlling terminal; ENXIO without one.
        (TTYAUX_MAJOR, TTY_MINOR) => super::devpts::open_controlling(t, flags),
        (TTYAUX_MAJOR, PTMX_MINOR) => super::devpts::open_master(t),
        // The console is the terminal a runtime attaches (`--console-socket`
        // gives the container a pty); until one is, there is none, as in a
        // container started without a terminal.
        (TTYAUX_MAJOR, CONSOLE_MINOR) => Err(Errno::ENXIO),
        (super::devpts::PTS_MAJOR, _) => Err(Errno::ENXIO),
        _ => Err(Errno::ENXIO),
    }
}

/// /dev/null: reads end at once, writes vanish.
pub struct Null;

impl FileOps for Null {
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Ok(0)
    }
    fn write_at(&self, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Ok(buf.len())
    }
}

/// /dev/zero.
pub struct Zero;

impl FileOps for Zero {
    fn read_at(&self, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write_at(&self, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Ok(buf.len())
    }
}

/// /dev/full: zeros to read, no space to write.
pub struct Full;

impl FileOps for Full {
    fn read_at(&self, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        buf.fill(0);
        Ok(buf.len())
    }
    fn write_at(&self, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        Err(Errno::ENOSPC)
    }
}

/// /dev/random and /dev/urandom: the host's generator (which, like
/// Linux's since 5.6, does not block once seeded). Writes are accepted
/// and dropped: they would only add entropy.
pub struct Random;

impl FileOps for Random {
    fn read_at(&self, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        fill_random(buf)?;
        Ok(buf.len())
    }
    fn write_at(&self, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Ok(buf.len())
    }
}

/// Fills `buf` from the host's getrandom(2).
pub fn fill_random(buf: &mut [u8]) -> Result<(), Errno> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the pointer and length describe `rest`, a live buffer
        // the kernel may write anywhere in.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(Errno::from_io(&e));
        }
        done += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devfs_has_the_usual_nodes() {
        let d = new_devfs();
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
        let d = new_devfs();
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
        // /dev/ptmx makes a new pty master.
        let m = d.lookup(b"ptmx").unwrap().open(libc::O_RDWR).unwrap();
        let any: &dyn std::any::Any = m.as_ref();
        assert!(any.is::<crate::fsimpl::devpts::Master>());
    }
}
