//! Arming a deadline on a CPU-time clock: into its group's list
//! (`cpu_timers.rs`), with the tick that makes the group's running tasks
//! count their time while anything is armed.

use std::sync::{Arc, Weak};
use std::time::Instant;

use crate::kernel::cpu_timers::{CpuClockOf, CpuTimerKey, TICK};
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::timers::{Callback, TimerService};

/// Arms `fire` for when `of` (a clock of `tg` or of one of its threads)
/// reaches `at`; the caller fires at once a deadline already reached.
pub fn arm(
    tg: &Arc<ThreadGroup>,
    service: &Arc<TimerService>,
    of: CpuClockOf,
    at: std::time::Duration,
    fire: Callback,
) -> CpuTimerKey {
    let (key, start) = tg.cpu_timers.arm(of, at, fire);
    if start {
        schedule_tick(Arc::downgrade(tg), service.clone());
    }
    key
}

/// The tick: while the group has armed CPU deadlines, interrupt its tasks
/// that run application code, so they come back and count their time.
fn schedule_tick(weak: Weak<ThreadGroup>, service: Arc<TimerService>) {
    let s2 = service.clone();
    service.arm(
        Instant::now() + TICK,
        Box::new(move || {
            let Some(tg) = weak.upgrade() else { return };
            let (tasks, exited) = {
                let g = tg.inner.lock().unwrap();
                (g.tasks.clone(), g.exit.is_some())
            };
            if !tg.cpu_timers.keep_ticking(exited) {
                return;
            }
            for h in tasks {
                // Only out of the application: a task asleep in the
                // Sentry uses no CPU and must not be woken.
                if let Some(i) = h.interrupter.lock().unwrap().as_ref() {
                    i.interrupt();
                }
            }
            schedule_tick(weak, s2);
        }),
    );
}
