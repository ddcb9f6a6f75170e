//! Process descriptors (pidfd_open, clone's CLONE_PIDFD): a file that names
//! one thread group for signals (pidfd_send_signal), descriptor copies
//! (pidfd_getfd) and waits (waitid's P_PIDFD), and becomes readable when
//! the process exits.

use std::sync::{Arc, Weak};

use crate::errno::Errno;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::Kernel;
use crate::vfs::{anon, File, FileOps};
use crate::waiter::WaitQueue;

pub struct PidFd {
    tg: Arc<ThreadGroup>,
    kernel: Weak<Kernel>,
    ino: u64,
}

impl PidFd {
    /// A descriptor file for `tg`, its status flags O_RDWR plus `flags`
    /// (O_NONBLOCK), as Linux opens them.
    pub fn open(kernel: &Arc<Kernel>, tg: &Arc<ThreadGroup>, flags: i32) -> Arc<File> {
        let ops = Arc::new(PidFd {
            tg: tg.clone(),
            kernel: Arc::downgrade(kernel),
            ino: anon::anon_ino(),
        });
        File::new(ops, None, libc::O_RDWR | flags)
    }

    /// The process a file names, or EBADF if it is not a pidfd.
    pub fn of(f: &File) -> Result<&PidFd, Errno> {
        f.ops()
            .as_any()
            .and_then(|a| a.downcast_ref::<PidFd>())
            .ok_or(Errno::EBADF)
    }

    pub fn group(&self) -> &Arc<ThreadGroup> {
        &self.tg
    }

    /// Every task of the process has exited (it is a zombie, or reaped).
    pub fn exited(&self) -> bool {
        self.tg.inner.lock().unwrap().exit.is_some()
    }

    /// The process is gone from the PID namespace: its parent reaped it
    /// (or it was never waited for).
    pub fn reaped(&self) -> bool {
        let Some(k) = self.kernel.upgrade() else {
            return true;
        };
        !k.group(self.tg.tgid)
            .is_some_and(|g| Arc::ptr_eq(&g, &self.tg))
    }
}

impl FileOps for PidFd {
    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        anon::anon_stat(self.ino)
    }

    /// Readable once the process has exited; hung up once it is reaped.
    fn readiness(&self, mask: i16) -> i16 {
        let mut r = 0;
        if self.exited() {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if self.reaped() {
            r |= libc::POLLIN | libc::POLLRDNORM | libc::POLLHUP;
        }
        r & (mask | libc::POLLHUP)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.tg.exit_waiters)
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[pidfd]".to_vec()
    }

    /// The pid (-1 once reaped), in the one PID namespace of the sandbox.
    fn fdinfo(&self) -> Vec<u8> {
        let pid = if self.reaped() { -1 } else { self.tg.tgid };
        format!("Pid:\t{pid}\nNSpid:\t{pid}\n").into_bytes()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
