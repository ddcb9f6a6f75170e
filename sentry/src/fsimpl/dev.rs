//! The character devices the Sentry implements (null, zero, full, random,
//! urandom; tty and ptmx from [`super::devpts`], whose filesystem is
//! mounted on /dev/pts). /dev itself is a tmpfs holding their nodes
//! (`tmpfs::devtmpfs`).
//!
//! Device nodes in any filesystem open through [`open_device_by`], by
//! number, as Linux's char-device table does.

use std::sync::Arc;

use crate::errno::Errno;
use crate::vfs::ops::Ctx;
use crate::vfs::{Caller, File, FileOps};

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

const MISC_MAJOR: u32 = 10;
/// A dynamic misc minor on Linux; this is the one it usually gets.
const USERFAULTFD_MINOR: u32 = 257;

/// The character devices /dev holds, by name, number and permissions
/// (`tmpfs::devtmpfs` makes the nodes).
pub(crate) const DEVICES: [(&[u8], u32, u32, u32); 9] = [
    (b"null", MEM_MAJOR, NULL_MINOR, 0o666),
    (b"zero", MEM_MAJOR, ZERO_MINOR, 0o666),
    (b"full", MEM_MAJOR, FULL_MINOR, 0o666),
    (b"random", MEM_MAJOR, RANDOM_MINOR, 0o666),
    (b"urandom", MEM_MAJOR, URANDOM_MINOR, 0o666),
    (b"tty", TTYAUX_MAJOR, TTY_MINOR, 0o666),
    (b"console", TTYAUX_MAJOR, CONSOLE_MINOR, 0o666),
    (b"ptmx", TTYAUX_MAJOR, PTMX_MINOR, 0o666),
    // Root's alone, as udev makes it: whoever may open it may make
    // userfaultfds that handle the Sentry's own faults too.
    (b"userfaultfd", MISC_MAJOR, USERFAULTFD_MINOR, 0o600),
];

/// Opens the character device `rdev` for no task in particular, in no
/// namespace (so no terminal).
pub fn open_device(rdev: u64, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
    open_device_by(rdev, flags, None)
}

/// Opens the character device `rdev` as `ctx` does it (terminals depend
/// on who opens them, and a new pty is listed in the namespace's devpts).
pub fn open_device_by(
    rdev: u64,
    flags: i32,
    ctx: Option<&Ctx<'_>>,
) -> Result<Arc<dyn FileOps>, Errno> {
    let t = ctx.and_then(|c| c.caller);
    match (libc::major(rdev), libc::minor(rdev)) {
        (MEM_MAJOR, NULL_MINOR) => Ok(Arc::new(Null)),
        (MEM_MAJOR, ZERO_MINOR) => Ok(Arc::new(Zero)),
        (MEM_MAJOR, FULL_MINOR) => Ok(Arc::new(Full)),
        (MEM_MAJOR, RANDOM_MINOR) | (MEM_MAJOR, URANDOM_MINOR) => Ok(Arc::new(Random)),
        // The caller's controlling terminal; ENXIO without one.
        (TTYAUX_MAJOR, TTY_MINOR) => super::devpts::open_controlling(t, flags),
        (TTYAUX_MAJOR, PTMX_MINOR) => {
            let ptys = ctx.and_then(|c| super::devpts::ptys_of(c.vfs));
            super::devpts::open_master(&ptys.ok_or(Errno::ENXIO)?, t)
        }
        // The console is the terminal a runtime attaches (`--console-socket`
        // gives the container a pty); until one is, there is none, as in a
        // container started without a terminal.
        (TTYAUX_MAJOR, CONSOLE_MINOR) => Err(Errno::ENXIO),
        (MISC_MAJOR, USERFAULTFD_MINOR) => Ok(Arc::new(DevUserfaultfd)),
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

/// /dev/userfaultfd: its one ioctl, USERFAULTFD_IOC_NEW, makes a
/// userfaultfd over the caller's address space with userfaultfd(2)'s flags
/// (and no CAP_SYS_PTRACE rule: opening the node was the permission).
struct DevUserfaultfd;

impl FileOps for DevUserfaultfd {
    fn ioctl(&self, t: &dyn Caller, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        if cmd != super::userfaultfd::USERFAULTFD_IOC_NEW {
            return Err(Errno::EINVAL);
        }
        let flags = arg as i32;
        super::userfaultfd::check_flags(flags)?;
        let mm = super::userfaultfd::caller_mm(t)?;
        let f = super::userfaultfd::new_file(&mm, flags);
        Ok(t.fds().install(f, flags & libc::O_CLOEXEC != 0)? as u64)
    }
}
