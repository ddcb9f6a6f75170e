//! The kernel's timer service: deadlines on the host's monotonic clock
//! (what CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME and their alarm
//! forms are measured in once armed), each with a callback run when it
//! passes.
//!
//! One service thread per kernel holds every armed deadline in a heap and
//! sleeps until the earliest, so an armed timer costs a heap entry, not a
//! host thread (stress-ng's timer stressor arms thousands). Callbacks run
//! on the service thread, one after the other, without the service's lock:
//! they must be short (queue a signal, wake a waiter, arm the next period)
//! and never block. CPU-time clocks are not here: they advance only when
//! tasks run, and are checked where that time is counted
//! (`cpu_timers.rs`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Instant;

/// What runs when a deadline passes.
pub type Callback = Box<dyn FnOnce() + Send>;

/// Names an armed deadline, to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerKey(u64);

#[derive(Default)]
struct State {
    /// Deadlines by time; an entry whose key is no longer in `armed` was
    /// cancelled and is skipped when it comes up.
    heap: BinaryHeap<Reverse<(Instant, TimerKey)>>,
    armed: HashMap<TimerKey, Callback>,
    next: u64,
    /// The service thread runs (started on the first arm).
    running: bool,
    /// The kernel is gone: the thread ends.
    closed: bool,
}

#[derive(Default)]
struct Shared {
    st: Mutex<State>,
    cv: Condvar,
}

/// The kernel's timer service. Dropping it ends its thread.
#[derive(Default)]
pub struct TimerService {
    shared: Arc<Shared>,
}

impl TimerService {
    pub fn new() -> TimerService {
        TimerService::default()
    }

    /// Runs `f` on the service thread once `deadline` has passed (at once
    /// if it already has).
    pub fn arm(&self, deadline: Instant, f: Callback) -> TimerKey {
        let mut st = self.shared.st.lock().unwrap();
        st.next += 1;
        let key = TimerKey(st.next);
        st.armed.insert(key, f);
        let earliest = st.heap.peek().is_none_or(|Reverse((d, _))| deadline < *d);
        st.heap.push(Reverse((deadline, key)));
        if !st.running {
            st.running = true;
            let weak = Arc::downgrade(&self.shared);
            let spawned = std::thread::Builder::new()
                .name("timers".into())
                .spawn(move || serve(weak));
            if spawned.is_err() {
                // Without a thread nothing fires; the next arm tries again.
                st.running = false;
                tracing::error!("timer service: cannot start its thread");
            }
        } else if earliest {
            self.shared.cv.notify_one();
        }
        key
    }

    /// Cancels an armed deadline: whether it was still armed (false: its
    /// callback has run or is running).
    pub fn cancel(&self, key: TimerKey) -> bool {
        self.shared.st.lock().unwrap().armed.remove(&key).is_some()
    }

    /// How many deadlines are armed (for tests and the task dump).
    pub fn armed(&self) -> usize {
        self.shared.st.lock().unwrap().armed.len()
    }
}

impl Drop for TimerService {
    fn drop(&mut self) {
        let mut st = self.shared.st.lock().unwrap();
        st.closed = true;
        st.armed.clear();
        drop(st);
        self.shared.cv.notify_one();
    }
}

/// The service thread: sleeps until the earliest deadline, runs what is
/// due, and ends with the service.
fn serve(weak: Weak<Shared>) {
    let Some(shared) = weak.upgrade() else { return };
    let mut st = shared.st.lock().unwrap();
    loop {
        if st.closed {
            return;
        }
        let now = Instant::now();
        let mut due = Vec::new();
        while let Some(Reverse((d, key))) = st.heap.peek().copied() {
            if d > now {
                break;
            }
            st.heap.pop();
            if let Some(f) = st.armed.remove(&key) {
                due.push(f);
            }
        }
        if !due.is_empty() {
            drop(st);
            for f in due {
                f();
            }
            st = shared.st.lock().unwrap();
            continue;
        }
        st = match st.heap.peek() {
            Some(Reverse((d, _))) => {
                let wait = d.saturating_duration_since(now);
                shared.cv.wait_timeout(st, wait).unwrap().0
            }
            None => shared.cv.wait(st).unwrap(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn deadlines_fire_in_order_and_cancelled_ones_never() {
        let s = TimerService::new();
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        for (i, ms) in [(3, 30u64), (1, 10), (2, 20)] {
            let tx = tx.clone();
            s.arm(
                now + Duration::from_millis(ms),
                Box::new(move || tx.send(i).unwrap()),
            );
        }
        let tx2 = tx.clone();
        let k = s.arm(
            now + Duration::from_millis(15),
            Box::new(move || tx2.send(99).unwrap()),
        );
        assert!(s.cancel(k));
        let got: Vec<i32> = (0..3)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        assert_eq!(got, vec![1, 2, 3]);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        assert_eq!(s.armed(), 0);
    }

    #[test]
    fn a_callback_may_arm_the_next_period() {
        let s = Arc::new(TimerService::new());
        let (tx, rx) = mpsc::channel();
        let s2 = s.clone();
        s.arm(
            Instant::now(),
            Box::new(move || {
                s2.arm(Instant::now(), Box::new(move || tx.send(()).unwrap()));
            }),
        );
        rx.recv_timeout(Duration::from_secs(5)).unwrap();
    }
}
