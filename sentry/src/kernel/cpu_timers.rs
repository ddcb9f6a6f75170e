//! Timers on CPU-time clocks: a process's (CLOCK_PROCESS_CPUTIME_ID, a
//! pid's clock_getcpuclockid) or one thread's (CLOCK_THREAD_CPUTIME_ID,
//! pthread_getcpuclockid).
//!
//! CPU time advances only while a task runs application code, and the
//! Sentry counts it when the task comes back from the platform
//! (`task_run.rs`). So that is where these timers are checked: each group
//! keeps its armed CPU deadlines here, and a task that has just counted
//! its time fires those it has reached ([`CpuTimers::fire_due`]). A task
//! spinning in application code makes no syscall that would bring it back,
//! so while any deadline is armed a tick on the timer service interrupts
//! the group's running tasks every [`TICK`] (Linux, too, checks CPU timers
//! from its scheduler tick); the tick stops when nothing is armed.
//!
//! This file is the list, data the thread group holds; arming a deadline
//! with its tick is `cpu_tick.rs`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::kernel::timers::Callback;

/// How often a group with armed CPU timers has its running tasks count
/// their time: the resolution of CPU timers (Linux's tick at HZ=250).
pub const TICK: Duration = Duration::from_millis(4);

/// Which CPU clock a deadline is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuClockOf {
    /// The whole process: every thread's time, the exited ones' included.
    Process,
    /// One thread, by tid.
    Thread(i32),
}

struct Entry {
    key: u64,
    of: CpuClockOf,
    /// The clock's reading at which it fires.
    at: Duration,
    fire: Callback,
}

#[derive(Default)]
struct List {
    entries: Vec<Entry>,
    next: u64,
    /// The tick on the timer service is armed.
    ticking: bool,
}

/// A thread group's armed CPU-time deadlines.
#[derive(Default)]
pub struct CpuTimers {
    /// Something is armed: the run loop looks only then.
    armed: AtomicBool,
    list: Mutex<List>,
}

/// Names an armed CPU deadline, to cancel it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTimerKey(u64);

impl CpuTimers {
    /// Whether any deadline is armed (cheap: the run loop asks after every
    /// return from the application).
    pub fn any(&self) -> bool {
        self.armed.load(Ordering::Relaxed)
    }

    /// Arms `fire` for when `of`'s CPU time reaches `at` (the caller
    /// fires at once itself a deadline already reached: this one waits for
    /// the next count of some task's time). Returns its key, and whether
    /// the caller must start the tick (none runs).
    pub fn arm(&self, of: CpuClockOf, at: Duration, fire: Callback) -> (CpuTimerKey, bool) {
        let mut l = self.list.lock().unwrap();
        l.next += 1;
        let key = l.next;
        l.entries.push(Entry { key, of, at, fire });
        self.armed.store(true, Ordering::SeqCst);
        let start = !l.ticking;
        l.ticking = true;
        (CpuTimerKey(key), start)
    }

    /// For the tick: whether it goes on (something is armed and the
    /// process lives); if not, it is marked stopped.
    pub fn keep_ticking(&self, exited: bool) -> bool {
        let mut l = self.list.lock().unwrap();
        if l.entries.is_empty() || exited {
            l.ticking = false;
            return false;
        }
        true
    }

    /// Cancels an armed deadline: whether it was still armed.
    pub fn cancel(&self, key: CpuTimerKey) -> bool {
        let mut l = self.list.lock().unwrap();
        let before = l.entries.len();
        l.entries.retain(|e| e.key != key.0);
        let removed = l.entries.len() != before;
        if l.entries.is_empty() {
            self.armed.store(false, Ordering::SeqCst);
        }
        removed
    }

    /// Runs the callbacks of the deadlines reached now that thread `tid`
    /// has counted its time (`thread_ns`); the process's time
    /// (`process_ns`) is read only if a process deadline is armed.
    pub fn fire_due(&self, tid: i32, thread_ns: u64, process_ns: &dyn Fn() -> u64) {
        let mut l = self.list.lock().unwrap();
        let needs_process = l.entries.iter().any(|e| e.of == CpuClockOf::Process);
        let process = if needs_process {
            drop(l);
            let p = Duration::from_nanos(process_ns());
            l = self.list.lock().unwrap();
            p
        } else {
            Duration::ZERO
        };
        let thread = Duration::from_nanos(thread_ns);
        let mut due = Vec::new();
        let mut i = 0;
        while i < l.entries.len() {
            let e = &l.entries[i];
            let reached = match e.of {
                CpuClockOf::Process => needs_process && process >= e.at,
                CpuClockOf::Thread(t) => t == tid && thread >= e.at,
            };
            if reached {
                due.push(l.entries.swap_remove(i).fire);
            } else {
                i += 1;
            }
        }
        if l.entries.is_empty() {
            self.armed.store(false, Ordering::SeqCst);
        }
        drop(l);
        for f in due {
            f();
        }
    }

    /// Drops every deadline on thread `tid`'s clock (the thread exited:
    /// its clock stops for good).
    pub fn thread_exited(&self, tid: i32) {
        let mut l = self.list.lock().unwrap();
        l.entries.retain(|e| e.of != CpuClockOf::Thread(tid));
        if l.entries.is_empty() {
            self.armed.store(false, Ordering::SeqCst);
        }
    }
}
