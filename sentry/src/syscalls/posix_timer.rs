//! timer_create, timer_settime, timer_gettime, timer_getoverrun,
//! timer_delete: POSIX per-process timers (the timers themselves are
//! `kernel/posix_timers.rs`).

use std::sync::Arc;
use std::time::Duration;

use super::{Support, SyscallArgs, Table};
use crate::caps::CAP_WAKE_ALARM;
use crate::errno::{Errno, SysResult};
use crate::kernel::clock::Clock;
use crate::kernel::deadline;
use crate::kernel::posix_timers::{self, Notify, PosixTimer};
use crate::kernel::signal::NSIG;
use crate::kernel::task::Task;
use crate::kernel::timer_state::ProcessTimer;
use crate::usermem::UserPtr;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_timer_create,
        "timer_create",
        Support::Partial(
            "SIGEV_SIGNAL, SIGEV_THREAD_ID and SIGEV_NONE on every clock; at most RLIMIT_SIGPENDING timers per process (Linux counts them per user)",
        ),
        sys_timer_create,
    );
    t.add(
        libc::SYS_timer_settime,
        "timer_settime",
        Support::Partial("CPU-clock timers fire within a 4 ms tick of their expiry"),
        sys_timer_settime,
    );
    t.add(
        libc::SYS_timer_gettime,
        "timer_gettime",
        Support::Full,
        sys_timer_gettime,
    );
    t.add(
        libc::SYS_timer_getoverrun,
        "timer_getoverrun",
        Support::Full,
        sys_timer_getoverrun,
    );
    t.add(
        libc::SYS_timer_delete,
        "timer_delete",
        Support::Full,
        sys_timer_delete,
    );
}

/// What a sigevent asks for: EINVAL for an unknown kind, a signal number
/// out of range, or a thread outside the caller's process (Linux's
/// good_sigevent).
fn notify_of(t: &Task, ev: &libc::sigevent) -> Result<Notify, Errno> {
    let signal = |thread| {
        if !(1..=NSIG as i32).contains(&ev.sigev_signo) {
            return Err(Errno::EINVAL);
        }
        Ok(Notify::Signal {
            signo: ev.sigev_signo,
            value: ev.sigev_value.sival_ptr as u64,
            thread,
        })
    };
    match ev.sigev_notify {
        libc::SIGEV_NONE => Ok(Notify::None {
            signo: ev.sigev_signo,
            value: ev.sigev_value.sival_ptr as u64,
        }),
        // Linux takes a SIGEV_THREAD that reaches it (the C library makes
        // its own of SIGEV_THREAD_ID) as SIGEV_SIGNAL.
        libc::SIGEV_SIGNAL | libc::SIGEV_THREAD => signal(None),
        libc::SIGEV_THREAD_ID => {
            let h = t
                .task_by_vpid(ev.sigev_notify_thread_id)
                .filter(|h| Arc::ptr_eq(&h.tg, &t.tg))
                .ok_or(Errno::EINVAL)?;
            signal(Some(Arc::downgrade(&h)))
        }
        _ => Err(Errno::EINVAL),
    }
}

fn sys_timer_create(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = a.int(0);
    let clock = Clock::of(t, id)?;
    if matches!(
        id,
        libc::CLOCK_MONOTONIC_RAW | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE
    ) {
        // Clocks without timers (Linux: no timer_create for them).
        return Err(Errno::EOPNOTSUPP);
    }
    let ev: Option<libc::sigevent> = if a.addr(1).is_null() {
        None
    } else {
        Some(t.copy_in(a.ptr::<libc::sigevent>(1))?)
    };
    let notify = match &ev {
        Some(ev) => notify_of(t, ev)?,
        // No sigevent: SIGALRM to the process, with the timer's id as
        // si_value (filled in below).
        None => Notify::Signal {
            signo: libc::SIGALRM,
            value: 0,
            thread: None,
        },
    };
    let alarm = matches!(id, libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM);
    if alarm && !t.creds().capable(CAP_WAKE_ALARM) {
        return Err(Errno::EPERM);
    }
    let limit = t.rlimit_cur(libc::RLIMIT_SIGPENDING);
    let service = t.kernel.timers.clone();
    let tg = t.tg.clone();
    let default_value = ev.is_none();
    let timer_id = t.tg.posix_timers.create(limit, move |timer_id| {
        let notify = match notify {
            Notify::Signal { signo, thread, .. } if default_value => Notify::Signal {
                signo,
                value: timer_id as u32 as u64,
                thread,
            },
            n => n,
        };
        let timer: Arc<dyn ProcessTimer> =
            PosixTimer::new(timer_id, id, clock, notify, &tg, service);
        timer
    })?;
    if let Err(e) = t.copy_out(a.ptr::<i32>(2), &timer_id) {
        let _ = t.tg.posix_timers.delete(timer_id);
        return Err(e);
    }
    Ok(0)
}

fn ts(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos() as i64,
    }
}

fn spec(left: Duration, interval: Duration) -> libc::itimerspec {
    libc::itimerspec {
        it_interval: ts(interval),
        it_value: ts(left),
    }
}

fn sys_timer_settime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = a.int(0);
    let absolute = a.int(1) & libc::TIMER_ABSTIME != 0;
    let new: UserPtr<libc::itimerspec> = a.ptr(2);
    if new.is_null() {
        return Err(Errno::EINVAL);
    }
    let its: libc::itimerspec = t.copy_in(new)?;
    let value = deadline::duration_of(&its.it_value)?;
    let interval = deadline::duration_of(&its.it_interval)?;
    let timer = posix_timers::lookup(&t.tg, id)?;
    let at = if value.is_zero() {
        None
    } else if absolute {
        Some(value)
    } else {
        Some(timer.now().saturating_add(value.min(deadline::FOREVER)))
    };
    let (left, int) = timer.set(at, interval);
    if !a.addr(3).is_null() {
        t.copy_out(a.ptr(3), &spec(left, int))?;
    }
    Ok(0)
}

fn sys_timer_gettime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (left, int) = posix_timers::lookup(&t.tg, a.int(0))?.get();
    t.copy_out(a.ptr(1), &spec(left, int))?;
    Ok(0)
}

fn sys_timer_getoverrun(t: &mut Task, a: &SyscallArgs) -> SysResult {
    Ok(posix_timers::lookup(&t.tg, a.int(0))?.overrun() as u64)
}

fn sys_timer_delete(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.tg.posix_timers.delete(a.int(0))?;
    Ok(0)
}
