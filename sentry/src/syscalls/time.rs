//! Clocks, sleeps and interval timers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::clock::{is_thread_cpu_clock, realtime_now, Clock};
use crate::kernel::cpu_tick;
use crate::kernel::cpu_timers::CpuClockOf;
use crate::kernel::deadline;
use crate::kernel::itimers;
use crate::kernel::rusage::Who;
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;
use crate::usermem::UserPtr;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_clock_gettime,
        "clock_gettime",
        Support::Full,
        sys_clock_gettime,
    );
    t.add(
        libc::SYS_clock_getres,
        "clock_getres",
        Support::Full,
        sys_clock_getres,
    );
    t.add(
        libc::SYS_gettimeofday,
        "gettimeofday",
        Support::Full,
        sys_gettimeofday,
    );
    t.add(libc::SYS_time, "time", Support::Full, sys_time);
    t.add(
        libc::SYS_nanosleep,
        "nanosleep",
        Support::Full,
        sys_nanosleep,
    );
    t.add(
        libc::SYS_clock_nanosleep,
        "clock_nanosleep",
        Support::Full,
        sys_clock_nanosleep,
    );
    t.add(
        libc::SYS_times,
        "times",
        Support::Partial("system time is counted as user time"),
        sys_times,
    );
    t.add(
        libc::SYS_getrusage,
        "getrusage",
        Support::Partial("CPU time and the peak resident size (ru_maxrss); the other fields are 0"),
        sys_getrusage,
    );
    t.add(libc::SYS_alarm, "alarm", Support::Full, sys_alarm);
    t.add(
        libc::SYS_setitimer,
        "setitimer",
        Support::Partial(
            "ITIMER_VIRTUAL and ITIMER_PROF both count the process's CPU time, checked every 4 ms",
        ),
        sys_setitimer,
    );
    t.add(
        libc::SYS_getitimer,
        "getitimer",
        Support::Full,
        sys_getitimer,
    );
    t.add(
        libc::SYS_clock_settime,
        "clock_settime",
        Support::Partial("the sandbox may not set the clock: EPERM"),
        sys_clock_settime,
    );
    t.add(
        libc::SYS_adjtimex,
        "adjtimex",
        Support::Partial(
            "reads only (a synchronised clock, TIME_OK); any change is EPERM: the sandbox cannot steer the host clock",
        ),
        sys_adjtimex,
    );
    t.add(
        libc::SYS_clock_adjtime,
        "clock_adjtime",
        Support::Partial(
            "CLOCK_REALTIME reads only, as adjtimex; any change is EPERM; other clocks EOPNOTSUPP",
        ),
        sys_clock_adjtime,
    );
    t.add(
        libc::SYS_settimeofday,
        "settimeofday",
        Support::Partial("the sandbox may not set the clock: EPERM"),
        sys_settimeofday,
    );
}

pub use crate::kernel::clock::monotonic_now;

fn to_ts(d: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos() as i64,
    }
}

fn read_ts(t: &Task, addr: UserPtr<libc::timespec>) -> Result<Duration, Errno> {
    let ts: libc::timespec = t.copy_in(addr)?;
    deadline::duration_of(&ts)
}

fn cpu_time(t: &Task, clock: i32) -> Duration {
    match clock {
        libc::CLOCK_THREAD_CPUTIME_ID => {
            Duration::from_nanos(t.handle.utime_ns.load(Ordering::Relaxed))
        }
        _ => Duration::from_nanos(t.tg.cpu_time_ns()),
    }
}

fn clock_now(t: &Task, clock: i32) -> Result<Duration, Errno> {
    Ok(Clock::of(t, clock)?.now())
}

fn sys_clock_gettime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let now = clock_now(t, a.int(0))?;
    t.copy_out(a.ptr(1), &to_ts(now))?;
    Ok(0)
}

fn sys_clock_getres(t: &mut Task, a: &SyscallArgs) -> SysResult {
    clock_now(t, a.int(0))?;
    if !a.addr(1).is_null() {
        let coarse = matches!(
            a.int(0),
            libc::CLOCK_REALTIME_COARSE | libc::CLOCK_MONOTONIC_COARSE
        );
        let res = if coarse {
            Duration::from_millis(4)
        } else {
            Duration::from_nanos(1)
        };
        t.copy_out(a.ptr(1), &to_ts(res))?;
    }
    Ok(0)
}

fn sys_gettimeofday(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if !a.addr(0).is_null() {
        let now = realtime_now();
        let tv = libc::timeval {
            tv_sec: now.as_secs() as i64,
            tv_usec: now.subsec_micros() as i64,
        };
        t.copy_out(a.ptr(0), &tv)?;
    }
    if !a.addr(1).is_null() {
        // struct timezone { int tz_minuteswest; int tz_dsttime; }: UTC.
        t.copy_out(a.ptr(1), &[0i32; 2])?;
    }
    Ok(0)
}

fn sys_time(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let now = realtime_now().as_secs();
    if !a.addr(0).is_null() {
        t.copy_out(a.ptr(0), &now)?;
    }
    Ok(now)
}

/// Sleeps until `clock` reads `target`. A signal with a handler ends it
/// with EINTR and, for a relative sleep, the time left in `rem`; without
/// one (a stop and SIGCONT, a signal only a tracer sees) a relative sleep
/// goes on through restart_syscall to the same target, and an absolute
/// one simply starts again.
fn sleep_on(
    t: &mut Task,
    clock: Clock,
    target: Duration,
    rem: UserPtr<libc::timespec>,
    absolute: bool,
) -> SysResult {
    let r = match clock.cpu_target() {
        Some((tg, of)) => sleep_cpu(t, &clock, &tg, of, target),
        None => t.sleep(Some(deadline::at(target, clock.now()))),
    };
    match r {
        Ok(()) => Ok(0),
        Err(e) if e == Errno::ERESTARTSYS => {
            if absolute {
                return Err(Errno::ERESTARTNOHAND);
            }
            if !rem.is_null() {
                t.copy_out(rem, &to_ts(target.saturating_sub(clock.now())))?;
            }
            t.restart = Some(Box::new(move |t: &mut Task| {
                sleep_on(t, clock, target, rem, false)
            }));
            Err(Errno::ERESTART_RESTARTBLOCK)
        }
        Err(e) => Err(e),
    }
}

/// Sleeps until a CPU clock reaches `target`: the group's run loops wake
/// this task when one of them has counted enough time.
fn sleep_cpu(
    t: &Task,
    clock: &Clock,
    tg: &Arc<ThreadGroup>,
    of: CpuClockOf,
    target: Duration,
) -> Result<(), Errno> {
    let w = t.handle.waiter.clone();
    let key = cpu_tick::arm(
        tg,
        &t.kernel.timers,
        of,
        target,
        Box::new(move || w.notify()),
    );
    let r = t.block(&[], None, &mut || clock.now() >= target);
    tg.cpu_timers.cancel(key);
    r
}

fn sys_nanosleep(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let d = read_ts(t, a.ptr(0))?;
    let target = monotonic_now().saturating_add(d.min(deadline::FOREVER));
    sleep_on(t, Clock::Monotonic, target, a.ptr(1), false)
}

fn sys_clock_nanosleep(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = a.int(0);
    let absolute = a.int(1) & libc::TIMER_ABSTIME != 0;
    let clock = Clock::of(t, id)?;
    // Clocks Linux cannot sleep on.
    if matches!(
        id,
        libc::CLOCK_MONOTONIC_RAW
            | libc::CLOCK_REALTIME_COARSE
            | libc::CLOCK_MONOTONIC_COARSE
            | libc::CLOCK_THREAD_CPUTIME_ID
    ) {
        return Err(Errno::EOPNOTSUPP);
    }
    let d = read_ts(t, a.ptr(2))?;
    // Nor on a thread's CPU clock named by its tid (Linux's
    // posix_cpu_nsleep); a process's clock is fine, its own included.
    if is_thread_cpu_clock(id) {
        return Err(Errno::EINVAL);
    }
    let target = if absolute {
        d
    } else {
        clock.now().saturating_add(d.min(deadline::FOREVER))
    };
    sleep_on(t, clock, target, a.ptr(3), absolute)
}

fn ticks(d: Duration) -> i64 {
    (d.as_millis() / 10) as i64
}

fn sys_times(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let cpu = cpu_time(t, libc::CLOCK_PROCESS_CPUTIME_ID);
    let cu = t.tg.inner.lock().unwrap().children_utime;
    if !a.addr(0).is_null() {
        let tms = libc::tms {
            tms_utime: ticks(cpu),
            tms_stime: 0,
            tms_cutime: ticks(cu),
            tms_cstime: 0,
        };
        t.copy_out(a.ptr(0), &tms)?;
    }
    Ok(ticks(t.kernel.boot.elapsed()) as u64)
}

fn sys_getrusage(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let who = Who::from_raw(a.int(0)).ok_or(Errno::EINVAL)?;
    let ru = t.rusage(who);
    t.copy_out(a.ptr(1), &ru)?;
    Ok(0)
}

fn sys_alarm(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (left, _) = itimers::set(
        &t.tg,
        &t.kernel.timers,
        libc::ITIMER_REAL as usize,
        Duration::from_secs(u64::from(a.uint(0))),
        Duration::ZERO,
    );
    // alarm rounds the remaining time to the nearest second, at least 1.
    let secs = left.as_secs() + u64::from(left.subsec_micros() >= 500_000);
    Ok(if left.is_zero() { 0 } else { secs.max(1) })
}

fn tv(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as i64,
        tv_usec: d.subsec_micros() as i64,
    }
}

fn from_tv(v: libc::timeval) -> Result<Duration, Errno> {
    if v.tv_sec < 0 || !(0..1_000_000).contains(&v.tv_usec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(v.tv_sec as u64, v.tv_usec as u32 * 1000))
}

fn sys_clock_settime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let clock = a.int(0);
    read_ts(t, a.ptr(1))?;
    if clock == libc::CLOCK_REALTIME {
        return Err(Errno::EPERM);
    }
    // Other clocks cannot be set at all (Linux: EINVAL).
    Err(Errno::EINVAL)
}

fn sys_settimeofday(_t: &mut Task, _a: &SyscallArgs) -> SysResult {
    Err(Errno::EPERM)
}

/// `which` as an index of the process's timers; EINVAL for another value.
fn which_of(which: i32) -> Result<usize, Errno> {
    match which {
        libc::ITIMER_REAL | libc::ITIMER_VIRTUAL | libc::ITIMER_PROF => Ok(which as usize),
        _ => Err(Errno::EINVAL),
    }
}

fn sys_setitimer(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let which = which_of(a.int(0))?;
    let (value, interval) = if !a.addr(1).is_null() {
        let it: libc::itimerval = t.copy_in(a.ptr(1))?;
        (from_tv(it.it_value)?, from_tv(it.it_interval)?)
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let (left, int) = itimers::set(&t.tg, &t.kernel.timers, which, value, interval);
    if !a.addr(2).is_null() {
        let old = libc::itimerval {
            it_interval: tv(int),
            it_value: tv(left),
        };
        t.copy_out(a.ptr(2), &old)?;
    }
    Ok(0)
}

fn sys_getitimer(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let which = which_of(a.int(0))?;
    let (left, int) = itimers::get(&t.tg, which);
    let cur = libc::itimerval {
        it_interval: tv(int),
        it_value: tv(left),
    };
    t.copy_out(a.ptr(1), &cur)?;
    Ok(0)
}

/// adjtimex's mode bits as the kernel reads them (the C library's
/// ADJ_OFFSET_SINGLESHOT and ADJ_OFFSET_SS_READ are combinations):
/// old-fashioned adjtime, and read-only.
const ADJ_ADJTIME: u32 = libc::ADJ_OFFSET_SINGLESHOT & !libc::ADJ_OFFSET;
const ADJ_OFFSET_READONLY: u32 = libc::ADJ_OFFSET_SS_READ & !libc::ADJ_OFFSET_SINGLESHOT;
/// The tick in microseconds at USER_HZ (100).
const TICK_USEC: i64 = 10_000;
/// The frequency tolerance Linux reports: 500 ppm, scaled by 2^16.
const MAXFREQ_SCALED_PPM: i64 = 500 << 16;
/// Linux's initial PLL time constant.
const TIME_CONSTANT: i64 = 2;
/// The estimated maximum error reported, microseconds.
const MAX_ERROR_US: i64 = 1_000;

/// adjtimex and clock_adjtime(CLOCK_REALTIME): the kernel clock's
/// discipline, read only. The sandbox reports a clock kept in step by the
/// host (TIME_OK, no offset, no frequency correction). Any change is
/// EPERM, with or without CAP_SYS_TIME: the host clock is not the
/// sandbox's to steer (gVisor answers EPERM without CAP_SYS_TIME and ENOSYS
/// with it, even for a read).
fn adjtimex(t: &Task, addr: UserPtr<libc::timex>) -> SysResult {
    let mut tx: libc::timex = t.copy_in(addr)?;
    let modes = tx.modes;
    if modes & ADJ_ADJTIME != 0 {
        if modes & libc::ADJ_OFFSET == 0 {
            return Err(Errno::EINVAL);
        }
        if modes & ADJ_OFFSET_READONLY == 0 {
            return Err(Errno::EPERM);
        }
    } else if modes != 0 {
        return Err(Errno::EPERM);
    }
    let now = realtime_now();
    tx.offset = 0;
    tx.freq = 0;
    tx.maxerror = MAX_ERROR_US;
    tx.esterror = 0;
    tx.status = 0;
    tx.constant = TIME_CONSTANT;
    tx.precision = 1;
    tx.tolerance = MAXFREQ_SCALED_PPM;
    tx.time = tv(now);
    tx.tick = TICK_USEC;
    tx.ppsfreq = 0;
    tx.jitter = 0;
    tx.shift = 0;
    tx.stabil = 0;
    tx.jitcnt = 0;
    tx.calcnt = 0;
    tx.errcnt = 0;
    tx.stbcnt = 0;
    tx.tai = 0;
    t.copy_out(addr, &tx)?;
    Ok(libc::TIME_OK as u64)
}

fn sys_adjtimex(t: &mut Task, a: &SyscallArgs) -> SysResult {
    adjtimex(t, a.ptr(0))
}

fn sys_clock_adjtime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = a.int(0);
    // Linux reads the struct before it looks at the clock.
    t.copy_in(a.ptr::<libc::timex>(1))?;
    match Clock::of(t, id)? {
        Clock::Realtime if id == libc::CLOCK_REALTIME => adjtimex(t, a.ptr(1)),
        // Only the wall clock is disciplined.
        _ => Err(Errno::EOPNOTSUPP),
    }
}
