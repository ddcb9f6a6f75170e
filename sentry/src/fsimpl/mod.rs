//! Filesystem implementations behind the VFS.
//!
//! * [`gofer`] serves the container root as the Gofer does over 9P
//!   (read-only here: it is the lower layer of the root overlay).
//! * [`tmpfs`] keeps files in the Sentry's memory (`/tmp`, the overlay's
//!   upper layer, devfs's directory).
//! * [`overlay`] puts a writable upper layer over a read-only lower one.
//! * [`dev`] is /dev and its character devices.
//! * [`devpts`] is pseudo-terminals: /dev/ptmx, /dev/pts, /dev/tty.
//! * [`host`] wraps the caller's stdin/stdout/stderr.
//! * [`pipe`] is pipes.
//! * [`proc`] is procfs: /proc/PID for every task, the system files,
//!   /proc/sys.
//! * [`sys`] is a minimal read-only sysfs (CPU lists for glibc, nproc,
//!   Python and the JVM).

pub mod aio;
pub mod chunks;
pub mod console;
pub mod dev;
pub mod devpts;
pub mod epoll;
pub mod eventfd;
pub mod gofer;
pub mod host;
pub mod io_uring;
pub mod memfd;
pub mod mqueue;
pub mod namespace;
pub mod overlay;
pub mod pipe;
pub mod proc;
pub mod signalfd;
pub mod sys;
pub mod timerfd;
pub mod tmpfs;
pub mod userfaultfd;

use crate::errno::Errno;
pub(crate) use crate::vfs::anon::{anon_ino, anon_stat};
use crate::vfs::FileOps;

/// The open file of a directory: entries come from the inode through the
/// VFS (getdents), reads and writes are EISDIR.
pub struct DirFile;

impl FileOps for DirFile {
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EISDIR)
    }
}

/// A read(2) of one 8-byte counter (eventfd, timerfd): EINVAL for a short
/// buffer, EAGAIN when `take` has nothing and the file is non-blocking,
/// otherwise sleeps on `queue` until it has.
pub(crate) fn read_counter(
    t: &dyn crate::vfs::Caller,
    f: &crate::vfs::File,
    queue: &crate::waiter::WaitQueue,
    buf: &mut [u8],
    take: &dyn Fn() -> Option<u64>,
) -> Result<usize, Errno> {
    if buf.len() < 8 {
        return Err(Errno::EINVAL);
    }
    let mut got = take();
    if got.is_none() {
        if f.nonblocking() {
            return Err(Errno::EAGAIN);
        }
        t.block(&[queue], None, &mut || {
            got = take();
            got.is_some()
        })?;
    }
    let v = got.ok_or(Errno::EAGAIN)?;
    buf[..8].copy_from_slice(&v.to_ne_bytes());
    Ok(8)
}
