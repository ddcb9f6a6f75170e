//! timerfd: a timer whose expirations are read as a 64-bit count.

use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::errno::Errno;
use crate::vfs::Caller;
use crate::vfs::{File, FileOps};
use crate::waiter::WaitQueue;

#[derive(Default)]
struct State {
    deadline: Option<Instant>,
    interval: Duration,
    expirations: u64,
    /// Bumped by every settime: a waker thread of an older setting stops.
    generation: u64,
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

pub struct TimerFd {
    /// The clock absolute settings are measured on.
    pub clock: i32,
    st: Mutex<State>,
    queue: WaitQueue,
    /// Wakes the waker thread: a read took the expirations (the next one
    /// is news again), or a new setting replaced its own.
    rearm: Condvar,
    ino: u64,
}

/// How long a waker waits at most before it looks whether its timer is
/// still open.
const RECHECK: Duration = Duration::from_secs(1);

impl TimerFd {
    pub fn new(clock: i32) -> Arc<TimerFd> {
        Arc::new(TimerFd {
            clock,
            st: Mutex::new(State::default()),
            queue: WaitQueue::new(),
            rearm: Condvar::new(),
            ino: super::anon_ino(),
        })
    }

    /// Arms (or with `value` zero disarms) the timer; returns the old
    /// (time left, interval).
    pub fn set(
        self: &Arc<Self>,
        first: Option<Instant>,
        interval: Duration,
    ) -> (Duration, Duration) {
        let now = Instant::now();
        let (old, gen) = {
            let mut st = self.st.lock().unwrap();
            st.update(now);
            let old = (
                st.deadline
                    .map(|d| d.saturating_duration_since(now))
                    .unwrap_or_default(),
                st.interval,
            );
            st.deadline = first;
            st.interval = interval;
            st.expirations = 0;
            st.generation += 1;
            (old, st.generation)
        };
        self.rearm.notify_all();
        if first.is_some() {
            let weak: Weak<TimerFd> = Arc::downgrade(self);
            let _ = std::thread::Builder::new()
                .name("timerfd".into())
                .spawn(move || waker(weak, gen));
        }
        self.queue.notify_all();
        old
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
        drop(st);
        self.rearm.notify_all();
        Some(n)
    }
}

/// Tells readers and pollers of the timer of setting `gen` when it
/// expires. Once it has, nothing is new until a read takes the count: the
/// waker then waits for that read, not for each period, so a timer of a
/// nanosecond period costs a wake-up per read, not a spinning thread
/// (stress-ng's timerfd stressor arms a thousand such timers).
fn waker(weak: Weak<TimerFd>, gen: u64) {
    loop {
        let Some(tf) = weak.upgrade() else { return };
        let mut st = tf.st.lock().unwrap();
        if st.generation != gen {
            return;
        }
        let now = Instant::now();
        st.update(now);
        if st.expirations > 0 {
            drop(st);
            tf.queue.notify_all();
            let st = tf.st.lock().unwrap();
            if st.generation == gen && st.expirations > 0 {
                drop(tf.rearm.wait_timeout(st, RECHECK).unwrap());
            }
            continue;
        }
        let Some(d) = st.deadline else { return };
        let wait = d.saturating_duration_since(now).min(RECHECK);
        drop(tf.rearm.wait_timeout(st, wait).unwrap());
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
