//! One container of a pod paused and resumed (`runsc-rs pause ID` of a
//! container that runs in another's sandbox), as the cgroup freezer
//! pauses a runc container: the container's tasks run no more application
//! code until it is resumed, and the pod's other containers run on. A
//! task stops where it would go back to the application or start a
//! syscall; one asleep in a blocking call sleeps on, and stops when the
//! call returns. Signals sent meanwhile stay pending until the resume,
//! but a kill (SIGKILL, or a signal that kills) ends a paused task, as
//! runc thaws a paused container to kill it.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::kernel::activity::WaitOn;
use crate::kernel::{Kernel, Task, TaskHandle};
use crate::waiter::WaitQueue;

/// How long a pause waits for the container's tasks to stop: a task
/// inside a long host call (a big copy, a Gofer round trip) stops when it
/// comes back, after the pause has returned.
const SETTLE: Duration = Duration::from_secs(2);
/// How often the pause looks at the tasks it waits for.
const SETTLE_POLL: Duration = Duration::from_millis(1);

/// The paused containers, by number.
#[derive(Default)]
pub struct Freezer {
    /// Whether any container is paused: the run loop's cheap check.
    any: AtomicBool,
    frozen: Mutex<HashSet<u32>>,
    /// Tasks stopped by a pause, by tid.
    parked: Mutex<HashSet<i32>>,
    /// Where stopped tasks wait for the resume.
    thawed: WaitQueue,
}

impl Freezer {
    /// Whether container `number` is paused.
    pub fn holds(&self, number: u32) -> bool {
        self.any.load(Ordering::Acquire) && self.frozen.lock().unwrap().contains(&number)
    }
}

impl Kernel {
    /// Pauses (`frozen`) or resumes container `number`. A pause returns
    /// once each of its tasks has stopped, sleeps in a blocking call or
    /// is gone (or after [`SETTLE`]).
    pub fn freeze_container(&self, number: u32, frozen: bool) {
        {
            let mut f = self.freezer.frozen.lock().unwrap();
            if frozen {
                f.insert(number);
            } else {
                f.remove(&number);
            }
            self.freezer.any.store(!f.is_empty(), Ordering::Release);
        }
        if !frozen {
            self.freezer.thawed.notify_all();
            return;
        }
        let tasks: Vec<Arc<TaskHandle>> = self
            .all_groups()
            .into_iter()
            .filter(|g| g.container() == number)
            .flat_map(|g| g.inner.lock().unwrap().tasks.clone())
            .collect();
        // Application code is left only when something interrupts it.
        for t in &tasks {
            t.kick();
        }
        let deadline = Instant::now() + SETTLE;
        while !tasks.iter().all(|t| self.settled(t)) && Instant::now() < deadline {
            std::thread::sleep(SETTLE_POLL);
        }
    }

    /// Whether task `t` of a paused container runs no application code
    /// and starts no syscall until the resume.
    fn settled(&self, t: &TaskHandle) -> bool {
        t.killed.load(Ordering::SeqCst)
            || t.sleeping.load(Ordering::Relaxed)
            || self.freezer.parked.lock().unwrap().contains(&t.tid)
            || !self.pids.lock().unwrap().tasks.contains_key(&t.tid)
            || t.tg.inner.lock().unwrap().stopped.is_some()
    }
}

impl Task {
    /// Waits while the task's container is paused, unless it is killed.
    pub fn wait_while_frozen(&self) {
        let f = &self.kernel.freezer;
        let number = self.tg.container();
        if !f.holds(number) {
            return;
        }
        let w = &self.handle.waiter;
        f.thawed.add(w);
        f.parked.lock().unwrap().insert(self.tid);
        self.handle.activity.sleeping_on(WaitOn::Frozen);
        while f.holds(number) && !self.handle.killed.load(Ordering::SeqCst) {
            w.wait(None);
        }
        self.handle.activity.awake();
        f.parked.lock().unwrap().remove(&self.tid);
        f.thawed.remove(w);
    }
}
