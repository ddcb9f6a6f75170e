//! A task's sleep as the layers below the kernel reach it: the
//! [`ThreadSleeper`] each task thread installs, so the MM can wait for a
//! userfaultfd to fill a page the Sentry itself touches, and the sleep
//! loop [`Task::block`] shares with it.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::errno::Errno;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::TaskHandle;
use crate::waiter::{ThreadSleeper, WaitQueue};

/// Whether a signal is pending that is not blocked (so a blocking call
/// must return), or the task must die.
pub(super) fn interrupted(handle: &TaskHandle, tg: &ThreadGroup) -> bool {
    if handle.killed.load(Ordering::SeqCst) || handle.ptrace.trap_wanted() {
        return true;
    }
    // Lock order everywhere: thread group, then task signals, then actions.
    let group = tg.inner.lock().unwrap().pending.set;
    let s = handle.sig.lock().unwrap();
    (s.pending.set | group) & !s.mask != 0
}

/// Sleeps on the task's waiter (which the caller has put on the queues
/// that notify it) until `cond` holds, the task is interrupted
/// (ERESTARTSYS) or the deadline passes (ETIMEDOUT).
pub(super) fn sleep_until(
    handle: &TaskHandle,
    tg: &ThreadGroup,
    deadline: Option<Instant>,
    cond: &mut dyn FnMut() -> bool,
) -> Result<(), Errno> {
    let w = &handle.waiter;
    let r = loop {
        if cond() {
            break Ok(());
        }
        if interrupted(handle, tg) {
            break Err(Errno::ERESTARTSYS);
        }
        // For /proc: state S and a voluntary context switch.
        handle.sleeping.store(true, Ordering::Relaxed);
        handle.nvcsw.fetch_add(1, Ordering::Relaxed);
        handle.activity.sleeping();
        let woken = w.wait(deadline);
        handle.sleeping.store(false, Ordering::Relaxed);
        if !woken {
            break if cond() {
                Ok(())
            } else {
                Err(Errno::ETIMEDOUT)
            };
        }
    };
    handle.activity.awake();
    r
}

/// The [`ThreadSleeper`] of one task's thread.
pub struct TaskSleeper {
    pub tid: i32,
    pub handle: Arc<TaskHandle>,
    pub tg: Arc<ThreadGroup>,
}

impl ThreadSleeper for TaskSleeper {
    fn tid(&self) -> i32 {
        self.tid
    }

    fn block(&self, queues: &[&WaitQueue], cond: &mut dyn FnMut() -> bool) -> Result<(), Errno> {
        let w = &self.handle.waiter;
        for q in queues {
            q.add(w);
        }
        let r = sleep_until(&self.handle, &self.tg, None, cond);
        for q in queues {
            q.remove(w);
        }
        r
    }
}
