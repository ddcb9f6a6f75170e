//! timerfd: a timer whose expirations are read as a 64-bit count.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::errno::Errno;
use crate::kernel::timers::{TimerKey, TimerService};
use crate::vfs::Caller;
use crate::vfs::{File, FileOps};
use crate::waiter::WaitQueue;

#[derive(Default)]
struct State {
    deadline: Option<Instant>,
    interval: Duration,
    expirations: u64,
    /// Bumped by every settime: an expiry armed for an older setting does
    /// nothing.
    generation: u64,
    /// The expiry armed on the timer service, if any.
    armed: Option<TimerKey>,
}

impl State {
    /// Counts the expirations up to now.
    fn update(&mut self, now: Instant) {
        let Some(d) = self.deadline else { return };
        if now < d {
            return;
        }
        if self.interval.is_zero() {
            self.expirations += 1;
            self.deadline = None;
            return;
        }
        let late = now.duration_since(d).as_nanos() / self.interval.as_nanos().max(1);
        let n = late.min(u64::MAX as u128 / 2) as u64 + 1;
        self.expirations = self.expirations.saturating_add(n);
        // A period too long to add stops the timer, as it never fires again.
        self.deadline = self
            .interval
            .checked_mul(n.min(u32::MAX as u64) as u32)
            .and_then(|step| d.checked_add(step));
    }
}

/// A timerfd. Its expiries are counted from the clock when it is read or
/// polled; the kernel's timer service only tells readers and pollers when
/// the next one is due. Once it has, nothing is news until a read takes
/// the count, so the next expiry is armed by that read, not by each
/// period: a timer of a nanosecond period costs a wake-up per read
/// (stress-ng's timerfd stressor arms a thousand such timers), and an
/// armed timerfd costs an entry in the service's heap, not a thread.
pub struct TimerFd {
    /// The clock absolute settings are measured on.
    pub clock: i32,
    st: Mutex<State>,
    queue: WaitQueue,
    service: Arc<TimerService>,
    /// Itself, for the service's callbacks (which must not keep it open).
    me: Weak<TimerFd>,
    ino: u64,
}

impl TimerFd {
    pub fn new(clock: i32, service: Arc<TimerService>) -> Arc<TimerFd> {
        Arc::new_cyclic(|me| TimerFd {
            clock,
            st: Mutex::new(State::default()),
            queue: WaitQueue::new(),
            service,
            me: me.clone(),
            ino: super::anon_ino(),
        })
    }

    /// Arms (or with `value` zero disarms) the timer; returns the old
    /// (time left, interval).
    pub fn set(&self, first: Option<Instant>, interval: Duration) -> (Duration, Duration) {
        let now = Instant::now();
        let old = {
            let mut st = self.st.lock().unwrap();
            st.update(now);
            let old = (
                st.deadline
                    .map(|d| d.saturating_duration_since(now))
                    .unwrap_or_default(),
                st.interval,
            );
            if let Some(k) = st.armed.take() {
                self.service.cancel(k);
            }
            st.deadline = first;
            st.interval = interval;
            st.expirations = 0;
            st.generation += 1;
            self.arm(&mut st);
            old
        };
        self.queue.notify_all();
        old
    }

    /// Arms the service for the next expiry of the current setting.
    fn arm(&self, st: &mut State) {
        let Some(d) = st.deadline else { return };
        let gen = st.generation;
        let weak = self.me.clone();
        st.armed = Some(self.service.arm(
            d,
            Box::new(move || {
                if let Some(tf) = weak.upgrade() {
                    tf.expired(gen);
                }
            }),
        ));
    }

    /// The expiry armed for setting `gen` is due: wake readers and
    /// pollers (a read arms the next one).
    fn expired(&self, gen: u64) {
        {
            let mut st = self.st.lock().unwrap();
            if st.generation != gen {
                return;
            }
            st.armed = None;
            st.update(Instant::now());
            if st.expirations == 0 {
                // A read took the count first: wait for the next expiry.
                self.arm(&mut st);
                return;
            }
        }
        self.queue.notify_all();
    }

    /// (time left, interval) for timerfd_gettime.
    pub fn get(&self) -> (Duration, Duration) {
        let now = Instant::now();
        let mut st = self.st.lock().unwrap();
        st.update(now);
        (
            st.deadline
                .map(|d| d.saturating_duration_since(now))
                .unwrap_or_default(),
            st.interval,
        )
    }

    fn take(&self) -> Option<u64> {
        let mut st = self.st.lock().unwrap();
        st.update(Instant::now());
        if st.expirations == 0 {
            return None;
        }
        let n = std::mem::take(&mut st.expirations);
        // The count is taken: the next expiry is news again.
        if st.armed.is_none() {
            self.arm(&mut st);
        }
        Some(n)
    }
}

impl Drop for TimerFd {
    fn drop(&mut self) {
        if let Some(k) = self.st.get_mut().unwrap().armed.take() {
            self.service.cancel(k);
        }
    }
}

impl FileOps for TimerFd {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        super::read_counter(t, f, &self.queue, buf, &|| self.take())
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        super::anon_stat(self.ino)
    }

    fn readiness(&self, mask: i16) -> i16 {
        let mut st = self.st.lock().unwrap();
        st.update(Instant::now());
        if st.expirations > 0 {
            (libc::POLLIN | libc::POLLRDNORM) & mask
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[timerfd]".to_vec()
    }
}
