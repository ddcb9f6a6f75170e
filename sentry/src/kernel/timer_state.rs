//! What a process holds of its timers, as data: the interval timers'
//! settings and the table of POSIX timers. The thread group holds these;
//! what acts on them is `itimers.rs` and `posix_timers.rs`.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::errno::Errno;
use crate::kernel::cpu_timers::CpuTimerKey;
use crate::kernel::signal::SigInfo;
use crate::kernel::timers::TimerKey;

/// Where an armed expiry waits: the timer service, or a group's CPU-time
/// list.
#[derive(Clone, Copy, Debug)]
pub enum ItimerKey {
    Host(TimerKey),
    Cpu(CpuTimerKey),
}

/// One interval timer of a process (setitimer).
#[derive(Default, Debug)]
pub struct Itimer {
    /// Bumped by each setting: an expiry of an older one does nothing.
    pub gen: u64,
    /// The next expiry on the timer's clock.
    pub expiry: Option<Duration>,
    pub interval: Duration,
    pub key: Option<ItimerKey>,
}

/// The three timers, by `which` (ITIMER_REAL, _VIRTUAL, _PROF).
pub type Itimers = [Itimer; 3];

/// A POSIX timer as the process's table sees it.
pub trait ProcessTimer: Send + Sync {
    /// timer_delete, exec, exit: it never fires again.
    fn delete(&self);
    /// Its signal of setting `gen` was dequeued: record the overrun in
    /// `info` and arm the next period.
    fn delivered(self: Arc<Self>, gen: u32, info: &mut SigInfo);
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// The timers of one process, by id.
#[derive(Default)]
pub struct PosixTimers {
    inner: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    timers: BTreeMap<i32, Arc<dyn ProcessTimer>>,
    /// Linux hands ids out in order, wrapping at INT_MAX.
    next_id: i32,
}

impl PosixTimers {
    /// Adds the timer `make` builds with a fresh id; EAGAIN once `limit`
    /// timers exist (Linux counts timers against RLIMIT_SIGPENDING).
    pub fn create(
        &self,
        limit: u64,
        make: impl FnOnce(i32) -> Arc<dyn ProcessTimer>,
    ) -> Result<i32, Errno> {
        let mut t = self.inner.lock().unwrap();
        if t.timers.len() as u64 >= limit {
            return Err(Errno::EAGAIN);
        }
        let mut id = t.next_id;
        while t.timers.contains_key(&id) {
            id = id.checked_add(1).unwrap_or(0);
        }
        t.next_id = id.checked_add(1).unwrap_or(0);
        t.timers.insert(id, make(id));
        Ok(id)
    }

    /// The timer `id`; EINVAL if there is none.
    pub fn get(&self, id: i32) -> Result<Arc<dyn ProcessTimer>, Errno> {
        self.inner
            .lock()
            .unwrap()
            .timers
            .get(&id)
            .cloned()
            .ok_or(Errno::EINVAL)
    }

    pub fn delete(&self, id: i32) -> Result<(), Errno> {
        let t = self
            .inner
            .lock()
            .unwrap()
            .timers
            .remove(&id)
            .ok_or(Errno::EINVAL)?;
        t.delete();
        Ok(())
    }

    /// Deletes every timer (execve, and the process's exit).
    pub fn clear(&self) {
        let all = std::mem::take(&mut self.inner.lock().unwrap().timers);
        for t in all.values() {
            t.delete();
        }
    }

    /// Every timer, newest first (/proc/PID/timers, in Linux's order).
    pub fn list(&self) -> Vec<Arc<dyn ProcessTimer>> {
        let t = self.inner.lock().unwrap();
        t.timers.values().rev().cloned().collect()
    }
}
