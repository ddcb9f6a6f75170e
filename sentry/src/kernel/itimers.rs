//! A process's interval timers (setitimer, getitimer, alarm): ITIMER_REAL
//! on the monotonic clock, armed on the kernel's timer service, with
//! SIGALRM; ITIMER_VIRTUAL and ITIMER_PROF on the process's CPU clock,
//! armed in its CPU-time list, with SIGVTALRM and SIGPROF. (The Sentry
//! counts no system time apart, so both CPU timers count the same time.)
//!
//! Each expiry queues the signal and arms the next period at once, as
//! Linux does for these timers: a period missed while the signal was still
//! pending is lost, not counted.

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::kernel::clock::monotonic_now;
use crate::kernel::cpu_tick;
use crate::kernel::cpu_timers::CpuClockOf;
use crate::kernel::deadline;
use crate::kernel::signal::SigInfo;
use crate::kernel::signal_send::send_group;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::timer_state::{Itimer, ItimerKey as Key};
use crate::kernel::timers::TimerService;

fn is_real(which: usize) -> bool {
    which == libc::ITIMER_REAL as usize
}

fn signal(which: usize) -> (i32, i32) {
    match which as i32 {
        libc::ITIMER_REAL => (libc::SIGALRM, libc::SI_TIMER),
        libc::ITIMER_VIRTUAL => (libc::SIGVTALRM, libc::SI_KERNEL),
        _ => (libc::SIGPROF, libc::SI_KERNEL),
    }
}

fn now(tg: &ThreadGroup, which: usize) -> Duration {
    if is_real(which) {
        monotonic_now()
    } else {
        Duration::from_nanos(tg.cpu_time_ns())
    }
}

/// Sets timer `which` (0..3) to expire in `value` (zero: disarm) and every
/// `interval` after; returns the old (time left, interval).
pub fn set(
    tg: &Arc<ThreadGroup>,
    service: &Arc<TimerService>,
    which: usize,
    value: Duration,
    interval: Duration,
) -> (Duration, Duration) {
    let now = now(tg, which);
    let (old, old_key, gen) = {
        let mut g = tg.inner.lock().unwrap();
        let it = &mut g.itimers[which];
        let old = left(it, now);
        it.gen += 1;
        it.interval = interval;
        it.expiry = (!value.is_zero()).then(|| now.saturating_add(value.min(deadline::FOREVER)));
        (old, it.key.take(), it.gen)
    };
    cancel(tg, service, old_key);
    if !value.is_zero() {
        arm(tg, service, which, gen, now + value.min(deadline::FOREVER));
    }
    old
}

/// (time left, interval) of timer `which`.
pub fn get(tg: &ThreadGroup, which: usize) -> (Duration, Duration) {
    let now = now(tg, which);
    left(&tg.inner.lock().unwrap().itimers[which], now)
}

fn left(it: &Itimer, now: Duration) -> (Duration, Duration) {
    let left = it.expiry.map(|e| e.saturating_sub(now)).unwrap_or_default();
    (left, it.interval)
}

fn cancel(tg: &ThreadGroup, service: &TimerService, key: Option<Key>) {
    match key {
        Some(Key::Host(k)) => {
            service.cancel(k);
        }
        Some(Key::Cpu(k)) => {
            tg.cpu_timers.cancel(k);
        }
        None => {}
    }
}

/// Arms the expiry `at` of setting `gen` (without the group's lock held:
/// the CPU-time list's tick takes it inside its own).
fn arm(tg: &Arc<ThreadGroup>, service: &Arc<TimerService>, which: usize, gen: u64, at: Duration) {
    let weak = Arc::downgrade(tg);
    let svc = service.clone();
    let fire = Box::new(move || expired(weak, svc, which, gen, at));
    let key = if is_real(which) {
        Key::Host(service.arm(deadline::at(at, monotonic_now()), fire))
    } else {
        Key::Cpu(cpu_tick::arm(tg, service, CpuClockOf::Process, at, fire))
    };
    let mut g = tg.inner.lock().unwrap();
    let it = &mut g.itimers[which];
    if it.gen == gen {
        it.key = Some(key);
    } else {
        // Set again meanwhile: this expiry is stale.
        drop(g);
        cancel(tg, service, Some(key));
    }
}

fn expired(
    weak: Weak<ThreadGroup>,
    service: Arc<TimerService>,
    which: usize,
    gen: u64,
    at: Duration,
) {
    let Some(tg) = weak.upgrade() else { return };
    let next = {
        let mut g = tg.inner.lock().unwrap();
        if g.exit.is_some() || g.itimers[which].gen != gen {
            return;
        }
        let it = &mut g.itimers[which];
        it.key = None;
        it.expiry = if it.interval.is_zero() {
            None
        } else if is_real(which) {
            // The next period after now: periods the host slept through
            // are dropped, as Linux forwards its hrtimer.
            let now = monotonic_now();
            let i = it.interval.as_nanos().max(1);
            let k = now.saturating_sub(at).as_nanos() / i + 1;
            let step =
                Duration::from_nanos(k.saturating_mul(i).min(deadline::FOREVER.as_nanos()) as u64);
            Some(at.saturating_add(step))
        } else {
            Some(at.saturating_add(it.interval))
        };
        it.expiry
    };
    let (sig, code) = signal(which);
    send_group(&tg, SigInfo::new(sig, code));
    if let Some(n) = next {
        arm(&tg, &service, which, gen, n);
    }
}
