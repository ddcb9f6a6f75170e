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

pub mod dev;
pub mod devpts;
pub mod epoll;
pub mod eventfd;
pub mod gofer;
pub mod host;
pub mod overlay;
pub mod pipe;
pub mod proc;
pub mod signalfd;
pub mod sys;
pub mod timerfd;
pub mod tmpfs;

use crate::errno::Errno;
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

/// Inode numbers for files outside any mounted filesystem (pipes).
pub(crate) fn anon_ino() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
