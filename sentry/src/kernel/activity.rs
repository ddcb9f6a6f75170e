//! What a task is doing: the syscall it serves and, while it sleeps, what
//! it waits for. Each task records it for the task dump ([`super::debug`]).
//!
//! The recording is a few relaxed stores per syscall (no lock, no clock
//! read): the dump is for people looking at a hang, so a value read while
//! it changes is acceptable, and the hot path stays as fast as before.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// No syscall in progress.
const NONE: u64 = u64::MAX;

/// What a task sleeps on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitOn {
    /// FUTEX_WAIT on an address, keyed by its memory-file offset.
    Futex { addr: u64, key: u64, bitset: u32 },
    /// wait4/waitid: a child's state change (pid as the call gave it).
    Children { pid: i64 },
    /// A vfork child's exec or exit.
    Vfork,
    /// Its thread group is stopped (SIGSTOP and friends).
    GroupStop,
    /// Its container is paused (`runsc-rs pause`).
    Frozen,
    /// Any other wait queue (a pipe, a poll set, a lock ...), or a plain
    /// timed sleep.
    Other,
}

/// One task's current syscall and sleep, written by the task itself.
pub struct Activity {
    nr: AtomicU64,
    args: [AtomicU64; 6],
    sleep: Mutex<Option<(WaitOn, Instant)>>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity {
            nr: AtomicU64::new(NONE),
            args: Default::default(),
            sleep: Mutex::new(None),
        }
    }
}

impl Activity {
    pub fn enter_syscall(&self, nr: u64, args: &[u64; 6]) {
        for (slot, a) in self.args.iter().zip(args) {
            slot.store(*a, Ordering::Relaxed);
        }
        self.nr.store(nr, Ordering::Relaxed);
    }

    pub fn leave_syscall(&self) {
        self.nr.store(NONE, Ordering::Relaxed);
    }

    /// The syscall being served, if any.
    pub fn syscall(&self) -> Option<(u64, [u64; 6])> {
        let nr = self.nr.load(Ordering::Relaxed);
        (nr != NONE).then(|| (nr, self.args.each_ref().map(|a| a.load(Ordering::Relaxed))))
    }

    /// Records what the task is about to sleep on; a later [`Self::sleeping`]
    /// call of the same sleep keeps it.
    pub fn sleeping_on(&self, on: WaitOn) {
        *self.sleep.lock().unwrap() = Some((on, Instant::now()));
    }

    /// Marks the start of a sleep whose cause the caller did not name.
    pub fn sleeping(&self) {
        let mut s = self.sleep.lock().unwrap();
        if s.is_none() {
            *s = Some((WaitOn::Other, Instant::now()));
        }
    }

    pub fn awake(&self) {
        *self.sleep.lock().unwrap() = None;
    }

    pub fn sleep(&self) -> Option<(WaitOn, Instant)> {
        self.sleep.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_reports_the_syscall_until_it_returns() {
        let a = Activity::default();
        assert_eq!(a.syscall(), None);
        a.enter_syscall(202, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(a.syscall(), Some((202, [1, 2, 3, 4, 5, 6])));
        a.leave_syscall();
        assert_eq!(a.syscall(), None);
    }

    #[test]
    fn a_named_sleep_is_not_replaced_by_the_generic_one() {
        let a = Activity::default();
        a.sleeping_on(WaitOn::Children { pid: -1 });
        a.sleeping();
        assert_eq!(a.sleep().unwrap().0, WaitOn::Children { pid: -1 });
        a.awake();
        a.sleeping();
        assert_eq!(a.sleep().unwrap().0, WaitOn::Other);
    }
}
