//! eventfd: a 64-bit counter that read() drains and write() adds to.

use std::sync::Mutex;

use crate::errno::Errno;
use crate::vfs::Caller;
use crate::vfs::{File, FileOps};
use crate::waiter::WaitQueue;

const MAX: u64 = u64::MAX - 1;

pub struct EventFd {
    count: Mutex<u64>,
    semaphore: bool,
    queue: WaitQueue,
    ino: u64,
}

impl EventFd {
    pub fn new(initial: u64, semaphore: bool) -> EventFd {
        EventFd {
            count: Mutex::new(initial),
            semaphore,
            queue: WaitQueue::new(),
            ino: super::anon_ino(),
        }
    }

    fn try_read(&self) -> Option<u64> {
        let mut c = self.count.lock().unwrap();
        if *c == 0 {
            return None;
        }
        let v = if self.semaphore { 1 } else { *c };
        *c -= v;
        Some(v)
    }

    fn try_write(&self, v: u64) -> bool {
        let mut c = self.count.lock().unwrap();
        if MAX - *c < v {
            return false;
        }
        *c += v;
        true
    }
}

impl EventFd {
    /// Adds `n` for a completion (Linux's eventfd_signal, as AIO and
    /// io_uring notify): never blocks; at the counter's top the addition
    /// is lost, as Linux's saturates.
    pub fn signal(&self, n: u64) {
        {
            let mut c = self.count.lock().unwrap();
            *c = c.saturating_add(n).min(MAX);
        }
        self.queue.notify_all();
    }

    /// The eventfd behind `f`, if it is one.
    pub fn of(f: &File) -> Option<&EventFd> {
        f.ops().as_any()?.downcast_ref::<EventFd>()
    }
}

impl FileOps for EventFd {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        let n = super::read_counter(t, f, &self.queue, buf, &|| self.try_read())?;
        // A read may make room for a blocked writer.
        self.queue.notify_all();
        Ok(n)
    }

    fn write(&self, t: &dyn Caller, f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let Some(b) = buf.get(..8) else {
            return Err(Errno::EINVAL);
        };
        let v = u64::from_ne_bytes(b.try_into().map_err(|_| Errno::EINVAL)?);
        if v == u64::MAX {
            return Err(Errno::EINVAL);
        }
        if !self.try_write(v) {
            if f.nonblocking() {
                return Err(Errno::EAGAIN);
            }
            t.block(&[&self.queue], None, &mut || self.try_write(v))?;
        }
        self.queue.notify_all();
        Ok(8)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        super::anon_stat(self.ino)
    }

    fn readiness(&self, mask: i16) -> i16 {
        let c = *self.count.lock().unwrap();
        let mut r = 0;
        if c > 0 {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if c < MAX {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r & mask
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[eventfd]".to_vec()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
