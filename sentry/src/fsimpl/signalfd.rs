//! signalfd: reading takes pending signals of the reading task (those in
//! the descriptor's mask) as `struct signalfd_siginfo` records.
//!
//! Readiness (for poll/epoll) looks at the task that created the descriptor:
//! Linux looks at the caller, which for the usual single event loop is the
//! same task.

use std::sync::{Arc, Mutex, Weak};

use crate::errno::Errno;
use crate::kernel::signal::{SigInfo, UNBLOCKABLE};
use crate::kernel::{Task, TaskHandle};
use crate::vfs::Caller;
use crate::vfs::{File, FileOps};

/// sizeof(struct signalfd_siginfo).
const RECORD: usize = 128;

pub struct SignalFd {
    mask: Mutex<u64>,
    owner: Weak<TaskHandle>,
    ino: u64,
}

impl SignalFd {
    pub fn new(owner: &Arc<TaskHandle>, mask: u64) -> SignalFd {
        SignalFd {
            mask: Mutex::new(mask & !UNBLOCKABLE),
            owner: Arc::downgrade(owner),
            ino: super::anon_ino(),
        }
    }

    pub fn set_mask(&self, mask: u64) {
        *self.mask.lock().unwrap() = mask & !UNBLOCKABLE;
    }

    fn pending(h: &TaskHandle) -> u64 {
        // Lock order: thread group, then task signals.
        let group = h.tg.inner.lock().unwrap().pending.set;
        group | h.sig.lock().unwrap().pending.set
    }

    /// Takes one pending signal in the mask: the thread's own first, then
    /// the process's.
    fn dequeue(&self, h: &TaskHandle) -> Option<SigInfo> {
        let take = !*self.mask.lock().unwrap();
        let own = h.sig.lock().unwrap().pending.take(take);
        let mut info = own.or_else(|| h.tg.inner.lock().unwrap().pending.take(take))?;
        crate::kernel::posix_timers::delivered(&h.tg, &mut info);
        Some(info)
    }
}

/// Lays a SigInfo out as Linux's struct signalfd_siginfo.
fn record(i: &SigInfo) -> [u8; RECORD] {
    let mut r = [0u8; RECORD];
    let mut put = |off: usize, v: &[u8]| r[off..off + v.len()].copy_from_slice(v);
    put(0, &(i.signo as u32).to_ne_bytes());
    put(4, &i.errno.to_ne_bytes());
    put(8, &i.code.to_ne_bytes());
    // si_pid / si_uid for signals sent by processes (and SIGCHLD).
    put(12, &(i.fields[0] as u32).to_ne_bytes());
    put(16, &((i.fields[0] >> 32) as u32).to_ne_bytes());
    if i.signo == libc::SIGCHLD {
        put(40, &(i.fields[1] as u32).to_ne_bytes());
    }
    if matches!(
        i.signo,
        libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE | libc::SIGTRAP
    ) {
        put(72, &i.fields[0].to_ne_bytes());
        put(12, &[0u8; 8]);
    }
    r
}

impl FileOps for SignalFd {
    fn read(&self, c: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        let t = Task::from_caller(c)?;
        if buf.len() < RECORD {
            return Err(Errno::EINVAL);
        }
        let h = &t.handle;
        let mut n = 0;
        while n + RECORD <= buf.len() {
            match self.dequeue(h) {
                Some(i) => {
                    buf[n..n + RECORD].copy_from_slice(&record(&i));
                    n += RECORD;
                }
                None if n > 0 => break,
                None if f.nonblocking() => return Err(Errno::EAGAIN),
                None => {
                    // Signals in the mask are normally blocked, so they do not
                    // interrupt this wait; their arrival kicks the task.
                    t.block(&[], None, &mut || {
                        Self::pending(h) & *self.mask.lock().unwrap() != 0
                    })?;
                }
            }
        }
        Ok(n)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        super::anon_stat(self.ino)
    }

    fn readiness(&self, mask: i16) -> i16 {
        let Some(h) = self.owner.upgrade() else {
            return 0;
        };
        if Self::pending(&h) & *self.mask.lock().unwrap() != 0 {
            (libc::POLLIN | libc::POLLRDNORM) & mask
        } else {
            0
        }
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[signalfd]".to_vec()
    }
}
