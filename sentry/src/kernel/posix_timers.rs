//! POSIX interval timers (timer_create and friends): a process's table of
//! them, and each timer's expiry, period, notification and overrun.
//!
//! A timer on a host clock arms a deadline on the kernel's timer service
//! (`timers.rs`); one on a CPU clock arms one in the CPU-time list of the
//! group that runs that clock (`cpu_timers.rs`). When it fires it queues
//! its signal (SI_TIMER with si_timerid, si_value and si_overrun) to the
//! process or, with SIGEV_THREAD_ID, to one thread; SIGEV_NONE timers arm
//! nothing and are read from their clock.
//!
//! As in Linux, a periodic timer whose signal is queued is not re-armed
//! until that signal is taken: the task that dequeues it calls
//! [`delivered`], which counts the periods missed since the expiry that
//! fired as the overrun (si_overrun, then timer_getoverrun) and arms the
//! next period. So a timer whose signal stays blocked costs nothing, and
//! one period's signal is never queued twice.

use std::any::Any;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::errno::Errno;
use crate::kernel::clock::Clock;
use crate::kernel::cpu_tick;
use crate::kernel::cpu_timers::{CpuTimerKey, TICK};
use crate::kernel::deadline;
use crate::kernel::signal::SigInfo;
use crate::kernel::signal_send::{ignored, send_group};
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::timer_state::ProcessTimer;
use crate::kernel::timers::{TimerKey, TimerService};
use crate::kernel::TaskHandle;

/// The largest overrun reported (POSIX's DELAYTIMER_MAX; Linux's is
/// INT_MAX).
pub const DELAYTIMER_MAX: i32 = i32::MAX;

/// How a timer tells its process it expired.
pub enum Notify {
    /// SIGEV_NONE: nothing; the application polls timer_gettime. The
    /// signal and value it was given are kept for /proc/PID/timers.
    None { signo: i32, value: u64 },
    /// SIGEV_SIGNAL (to the process) or SIGEV_THREAD_ID (to `thread`).
    Signal {
        signo: i32,
        /// si_value (a sigval: an int or a pointer).
        value: u64,
        thread: Option<Weak<TaskHandle>>,
    },
}

/// Where an armed expiry waits.
enum Armed {
    Host(TimerKey),
    Cpu(Weak<ThreadGroup>, CpuTimerKey),
}

#[derive(Default)]
struct State {
    /// The next expiry on the timer's clock; None: disarmed. A periodic
    /// timer whose signal is queued keeps the expiry that fired until the
    /// signal is taken.
    value: Option<Duration>,
    interval: Duration,
    /// Bumped by each setting and by delete: a firing or a queued signal
    /// of an older one is stale. Never 0 once set (0 marks signals that
    /// are not a POSIX timer's, such as ITIMER_REAL's).
    gen: u32,
    armed: Option<Armed>,
    /// The overrun of the last signal delivered (timer_getoverrun).
    overrun_last: i32,
    deleted: bool,
}

pub struct PosixTimer {
    pub id: i32,
    /// The clockid as created, for /proc/PID/timers.
    pub clockid: i32,
    clock: Clock,
    pub notify: Notify,
    owner: Weak<ThreadGroup>,
    service: Arc<TimerService>,
    st: Mutex<State>,
}

/// The words of siginfo's timer fields (after signo, errno, code): si_tid
/// and si_overrun, si_value, si_sys_private (the setting's generation,
/// cleared before the application sees it).
const TID_OVERRUN: usize = 0;
const VALUE: usize = 1;
const SYS_PRIVATE: usize = 2;

impl PosixTimer {
    pub fn new(
        id: i32,
        clockid: i32,
        clock: Clock,
        notify: Notify,
        owner: &Arc<ThreadGroup>,
        service: Arc<TimerService>,
    ) -> Arc<PosixTimer> {
        Arc::new(PosixTimer {
            id,
            clockid,
            clock,
            notify,
            owner: Arc::downgrade(owner),
            service,
            st: Mutex::new(State::default()),
        })
    }

    /// The clock's reading now.
    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Sets the timer to expire at `value` on its clock (None: disarm) and
    /// every `interval` after; returns the old (time left, interval).
    pub fn set(
        self: &Arc<Self>,
        value: Option<Duration>,
        interval: Duration,
    ) -> (Duration, Duration) {
        let mut st = self.st.lock().unwrap();
        let old = self.left(&st);
        self.cancel(&mut st);
        st.gen = st.gen.wrapping_add(1).max(1);
        st.overrun_last = 0;
        st.value = value;
        st.interval = if value.is_some() {
            interval
        } else {
            Duration::ZERO
        };
        let due = value.is_some() && self.arm(&mut st);
        let gen = st.gen;
        drop(st);
        if due {
            self.fire(gen);
        }
        old
    }

    /// (time left, interval), as timer_gettime reports them.
    pub fn get(&self) -> (Duration, Duration) {
        self.left(&self.st.lock().unwrap())
    }

    /// The overrun of the last signal delivered.
    pub fn overrun(&self) -> i32 {
        self.st.lock().unwrap().overrun_last
    }

    /// timer_delete, exec, exit: never fires again.
    fn delete(&self) {
        let mut st = self.st.lock().unwrap();
        st.deleted = true;
        st.gen = st.gen.wrapping_add(1).max(1);
        st.value = None;
        self.cancel(&mut st);
    }

    fn left(&self, st: &State) -> (Duration, Duration) {
        let Some(v) = st.value else {
            return (Duration::ZERO, st.interval);
        };
        let now = self.clock.now();
        if v > now {
            return (v - now, st.interval);
        }
        if !st.interval.is_zero() {
            // Expired periods not yet forwarded (a queued signal, or a
            // SIGEV_NONE timer): the time to the next one.
            let i = st.interval.as_nanos();
            let into = (now - v).as_nanos() % i;
            return (Duration::from_nanos((i - into) as u64), st.interval);
        }
        // Due but not yet fired: Linux reports a nanosecond for a timer
        // that will still signal, and zero for an expired SIGEV_NONE one.
        let left = match self.notify {
            Notify::None { .. } => Duration::ZERO,
            Notify::Signal { .. } => Duration::from_nanos(1),
        };
        (left, st.interval)
    }

    fn cancel(&self, st: &mut State) {
        match st.armed.take() {
            Some(Armed::Host(k)) => {
                self.service.cancel(k);
            }
            Some(Armed::Cpu(g, k)) => {
                if let Some(g) = g.upgrade() {
                    g.cpu_timers.cancel(k);
                }
            }
            None => {}
        }
    }

    /// Arms `st.value` where the clock is watched. Returns true if it is
    /// already reached on a CPU clock: the caller fires it (after
    /// unlocking). A SIGEV_NONE timer arms nothing.
    fn arm(self: &Arc<Self>, st: &mut State) -> bool {
        let Some(value) = st.value else { return false };
        if matches!(self.notify, Notify::None { .. }) {
            return false;
        }
        let gen = st.gen;
        let weak = Arc::downgrade(self);
        let fire = Box::new(move || {
            if let Some(t) = weak.upgrade() {
                t.fire(gen);
            }
        });
        let now = self.clock.now();
        match self.clock.cpu_target() {
            Some((tg, of)) => {
                if now >= value {
                    return true;
                }
                let key = cpu_tick::arm(&tg, &self.service, of, value, fire);
                st.armed = Some(Armed::Cpu(Arc::downgrade(&tg), key));
            }
            None if matches!(self.clock, Clock::ProcessCpu(_) | Clock::ThreadCpu(_)) => {
                // The clock's task or process is gone: it never advances.
            }
            None => {
                let key = self.service.arm(deadline::at(value, now), fire);
                st.armed = Some(Armed::Host(key));
            }
        }
        false
    }

    /// The expiry of setting `gen` is reached: queue the signal.
    fn fire(self: &Arc<Self>, gen: u32) {
        let mut st = self.st.lock().unwrap();
        if st.gen != gen || st.deleted {
            return;
        }
        st.armed = None;
        let Notify::Signal {
            signo,
            value,
            ref thread,
        } = self.notify
        else {
            return;
        };
        let Some(owner) = self.owner.upgrade() else {
            return;
        };
        let target = match thread {
            Some(w) => match w.upgrade() {
                Some(h) => Some(h),
                // The thread has exited: the signal has nowhere to go.
                None => {
                    st.value = None;
                    return;
                }
            },
            None => None,
        };
        let dropped = match &target {
            Some(h) => {
                let s = h.sig.lock().unwrap();
                ignored(&owner, signo, s.mask | s.real_blocked)
            }
            None => {
                let tasks = owner.inner.lock().unwrap().tasks.clone();
                tasks.iter().all(|h| {
                    let s = h.sig.lock().unwrap();
                    ignored(&owner, signo, s.mask | s.real_blocked)
                })
            }
        };
        if dropped {
            // Nobody would see it; a periodic timer runs on, but no more
            // often than the CPU-timer tick, so that a tiny period does not
            // spin (Linux re-arms ignored timers by the jiffy likewise).
            st.value = match st.value {
                Some(v) if !st.interval.is_zero() => {
                    let soon = self.clock.now() + TICK;
                    Some(forward(v, st.interval, soon).0)
                }
                _ => None,
            };
            let due = self.arm(&mut st);
            drop(st);
            if due {
                self.fire(gen);
            }
            return;
        }
        if st.interval.is_zero() {
            st.value = None;
        }
        drop(st);
        let mut info = SigInfo::new(signo, libc::SI_TIMER);
        info.fields[TID_OVERRUN] = self.id as u32 as u64;
        info.fields[VALUE] = value;
        info.fields[SYS_PRIVATE] = u64::from(gen);
        match target {
            Some(h) => h.send(info),
            None => send_group(&owner, info),
        }
    }

    /// The signal of setting `gen` was taken: record its overrun and arm
    /// the next period.
    fn delivered(self: &Arc<Self>, gen: u32, info: &mut SigInfo) {
        let mut st = self.st.lock().unwrap();
        if st.deleted || st.gen != gen {
            return;
        }
        let (Some(v), false) = (st.value, st.interval.is_zero()) else {
            st.overrun_last = 0;
            return;
        };
        let (next, missed) = forward(v, st.interval, self.clock.now());
        let overrun = missed.min(DELAYTIMER_MAX as u64) as i32;
        st.overrun_last = overrun;
        st.value = Some(next);
        info.fields[TID_OVERRUN] |= u64::from(overrun as u32) << 32;
        let due = self.arm(&mut st);
        drop(st);
        if due {
            self.fire(gen);
        }
    }
}

/// The first period of a timer that expired at `v` that ends after `now`,
/// and how many periods ended between (the overrun). A period too long to
/// add saturates at [`deadline::FOREVER`] past `now`.
fn forward(v: Duration, interval: Duration, now: Duration) -> (Duration, u64) {
    if now < v {
        return (v, 0);
    }
    let i = interval.as_nanos().max(1);
    let missed = (now - v).as_nanos() / i;
    let next = v.as_nanos().saturating_add((missed + 1).saturating_mul(i));
    let cap = (now + deadline::FOREVER).as_nanos();
    let next = Duration::from_nanos(next.min(cap) as u64);
    (next, missed.min(u64::MAX as u128) as u64)
}

/// Called by whoever dequeues a signal of `tg` (delivery, sigtimedwait,
/// signalfd): a POSIX timer's signal gets its overrun, and its timer the
/// next period. The private word is cleared, as Linux clears it.
pub fn delivered(tg: &ThreadGroup, info: &mut SigInfo) {
    if info.code != libc::SI_TIMER {
        return;
    }
    let gen = info.fields[SYS_PRIVATE] as u32;
    info.fields[SYS_PRIVATE] = 0;
    if gen == 0 {
        return;
    }
    let id = info.fields[TID_OVERRUN] as u32 as i32;
    if let Ok(t) = tg.posix_timers.get(id) {
        t.delivered(gen, info);
    }
}

/// The POSIX timer `id` of `tg`; EINVAL if there is none.
pub fn lookup(tg: &ThreadGroup, id: i32) -> Result<Arc<PosixTimer>, Errno> {
    let any = tg.posix_timers.get(id)?.into_any();
    any.downcast::<PosixTimer>().map_err(|_| Errno::EINVAL)
}

impl ProcessTimer for PosixTimer {
    fn delete(&self) {
        PosixTimer::delete(self)
    }

    fn delivered(self: Arc<Self>, gen: u32, info: &mut SigInfo) {
        PosixTimer::delivered(&self, gen, info)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarding_counts_missed_periods() {
        let ms = Duration::from_millis;
        assert_eq!(forward(ms(10), ms(5), ms(9)), (ms(10), 0));
        assert_eq!(forward(ms(10), ms(5), ms(10)), (ms(15), 0));
        assert_eq!(forward(ms(10), ms(5), ms(14)), (ms(15), 0));
        assert_eq!(forward(ms(10), ms(5), ms(27)), (ms(30), 3));
        let (next, _) = forward(ms(1), Duration::MAX, ms(2));
        assert!(next > ms(2));
    }
}
