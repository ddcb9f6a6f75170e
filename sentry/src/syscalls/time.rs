//! Clocks, sleeps and interval timers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::deadline;
use crate::kernel::signal::SigInfo;
use crate::kernel::signal_send::send_group;
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
        Support::Partial("only CPU times are filled in"),
        sys_getrusage,
    );
    t.add(libc::SYS_alarm, "alarm", Support::Full, sys_alarm);
    t.add(
        libc::SYS_setitimer,
        "setitimer",
        Support::Partial(
            "ITIMER_VIRTUAL and ITIMER_PROF both count the group's CPU time, checked every 5 ms",
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
        libc::SYS_settimeofday,
        "settimeofday",
        Support::Partial("the sandbox may not set the clock: EPERM"),
        sys_settimeofday,
    );
}

pub fn monotonic_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

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
    let ns = match clock {
        libc::CLOCK_THREAD_CPUTIME_ID => t.handle.utime_ns.load(Ordering::Relaxed),
        _ => {
            t.tg.inner
                .lock()
                .unwrap()
                .tasks
                .iter()
                .map(|h| h.utime_ns.load(Ordering::Relaxed))
                .sum()
        }
    };
    Duration::from_nanos(ns)
}

/// The CPU time of a clock named by a pid or tid (clock_getcpuclockid,
/// pthread_getcpuclockid): Linux encodes it as ~(id << 3) | flags, where bit
/// 2 means a thread and the low bits the kind (PROF, VIRT, SCHED).
fn dynamic_cpu_clock(t: &Task, clock: i32) -> Result<Duration, Errno> {
    let id = !(clock >> 3);
    if clock & 3 == 3 {
        return Err(Errno::EINVAL);
    }
    if clock & 4 != 0 {
        let h = if id == 0 {
            t.handle.clone()
        } else {
            t.kernel.task(id).ok_or(Errno::EINVAL)?
        };
        return Ok(Duration::from_nanos(h.utime_ns.load(Ordering::Relaxed)));
    }
    let tg = if id == 0 {
        t.tg.clone()
    } else {
        t.kernel.group(id).ok_or(Errno::EINVAL)?
    };
    Ok(group_cpu(&tg))
}

fn group_cpu(tg: &ThreadGroup) -> Duration {
    let ns: u64 = tg
        .inner
        .lock()
        .unwrap()
        .tasks
        .iter()
        .map(|h| h.utime_ns.load(Ordering::Relaxed))
        .sum();
    Duration::from_nanos(ns)
}

fn clock_now(t: &Task, clock: i32) -> Result<Duration, Errno> {
    if clock < 0 {
        return dynamic_cpu_clock(t, clock);
    }
    match clock {
        libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_COARSE | libc::CLOCK_TAI => {
            Ok(SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default())
        }
        libc::CLOCK_MONOTONIC
        | libc::CLOCK_MONOTONIC_RAW
        | libc::CLOCK_MONOTONIC_COARSE
        | libc::CLOCK_BOOTTIME => Ok(monotonic_now()),
        libc::CLOCK_PROCESS_CPUTIME_ID | libc::CLOCK_THREAD_CPUTIME_ID => Ok(cpu_time(t, clock)),
        _ => Err(Errno::EINVAL),
    }
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
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
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
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    if !a.addr(0).is_null() {
        t.copy_out(a.ptr(0), &now)?;
    }
    Ok(now)
}

/// Sleeps until `deadline`; if a signal interrupts, writes the time left to
/// `rem` (when non-zero) and asks for a restart-or-EINTR.
fn sleep_until(t: &mut Task, deadline: Instant, rem: UserPtr<libc::timespec>) -> SysResult {
    match t.sleep(Some(deadline)) {
        Ok(()) => Ok(0),
        Err(e) => {
            if !rem.is_null() {
                let left = deadline.saturating_duration_since(Instant::now());
                t.copy_out(rem, &to_ts(left))?;
            }
            // Linux restarts nanosleep only through restart_syscall, which
            // recomputes the remaining time; a handler sees EINTR.
            Err(if e == Errno::ERESTARTSYS {
                Errno::ERESTARTNOHAND
            } else {
                e
            })
        }
    }
}

fn sys_nanosleep(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let d = read_ts(t, a.ptr(0))?;
    sleep_until(t, deadline::after(d), a.ptr(1))
}

fn sys_clock_nanosleep(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let clock = a.int(0);
    let flags = a.int(1);
    let d = read_ts(t, a.ptr(2))?;
    if clock == libc::CLOCK_THREAD_CPUTIME_ID {
        return Err(Errno::EINVAL);
    }
    let now = clock_now(t, clock)?;
    let rel = if flags & libc::TIMER_ABSTIME != 0 {
        d.saturating_sub(now)
    } else {
        d
    };
    let deadline = deadline::after(rel);
    let rem = if flags & libc::TIMER_ABSTIME != 0 {
        UserPtr::new(0)
    } else {
        a.ptr(3)
    };
    sleep_until(t, deadline, rem)
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
    let who = a.int(0);
    let d = match who {
        libc::RUSAGE_SELF => cpu_time(t, libc::CLOCK_PROCESS_CPUTIME_ID),
        libc::RUSAGE_THREAD => cpu_time(t, libc::CLOCK_THREAD_CPUTIME_ID),
        libc::RUSAGE_CHILDREN => t.tg.inner.lock().unwrap().children_utime,
        _ => return Err(Errno::EINVAL),
    };
    let mut ru: libc::rusage = crate::usermem::zeroed();
    ru.ru_utime = libc::timeval {
        tv_sec: d.as_secs() as i64,
        tv_usec: d.subsec_micros() as i64,
    };
    t.copy_out(a.ptr(1), &ru)?;
    Ok(0)
}

/// Arms ITIMER_REAL; returns the old (remaining, interval).
fn arm_real_timer(
    tg: &Arc<ThreadGroup>,
    value: Duration,
    interval: Duration,
) -> (Duration, Duration) {
    let mut g = tg.inner.lock().unwrap();
    let old_left = g
        .itimer_deadline
        .map(|d| d.saturating_duration_since(Instant::now()))
        .unwrap_or_default();
    let old_int = g.itimer_interval;
    g.itimer_gen += 1;
    g.itimer_interval = interval;
    if value.is_zero() {
        g.itimer_deadline = None;
        return (old_left, old_int);
    }
    let deadline = deadline::after(value);
    g.itimer_deadline = Some(deadline);
    let gen = g.itimer_gen;
    drop(g);
    let weak = Arc::downgrade(tg);
    let _ = std::thread::Builder::new()
        .name("itimer".into())
        .spawn(move || {
            let mut deadline = deadline;
            loop {
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                let Some(tg) = weak.upgrade() else { return };
                let next = {
                    let mut g = tg.inner.lock().unwrap();
                    if g.itimer_gen != gen || g.exit.is_some() {
                        return;
                    }
                    if g.itimer_interval.is_zero() {
                        g.itimer_deadline = None;
                        None
                    } else {
                        let n = deadline::later(deadline, g.itimer_interval);
                        g.itimer_deadline = Some(n);
                        Some(n)
                    }
                };
                send_group(&tg, SigInfo::new(libc::SIGALRM, libc::SI_TIMER));
                match next {
                    Some(n) => deadline = n,
                    None => return,
                }
            }
        });
    (old_left, old_int)
}

fn sys_alarm(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (left, _) = arm_real_timer(
        &t.tg,
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

/// Arms ITIMER_VIRTUAL (which = 1) or ITIMER_PROF (2): they expire when the
/// group's CPU time reaches the value; a watcher thread checks every 5 ms.
fn arm_cpu_timer(
    tg: &Arc<ThreadGroup>,
    which: usize,
    value: Duration,
    interval: Duration,
) -> (Duration, Duration) {
    let now = group_cpu(tg);
    let mut g = tg.inner.lock().unwrap();
    let (gen, old_exp, old_int) = g.cpu_timers[which - 1];
    let old_left = old_exp.map(|e| e.saturating_sub(now)).unwrap_or_default();
    let gen = gen + 1;
    if value.is_zero() {
        g.cpu_timers[which - 1] = (gen, None, interval);
        return (old_left, old_int);
    }
    g.cpu_timers[which - 1] = (gen, Some(now + value), interval);
    drop(g);
    let sig = if which == 1 {
        libc::SIGVTALRM
    } else {
        libc::SIGPROF
    };
    let weak = Arc::downgrade(tg);
    let _ = std::thread::Builder::new()
        .name("cpu-itimer".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(5));
            let Some(tg) = weak.upgrade() else { return };
            let cpu = group_cpu(&tg);
            let fire = {
                let mut g = tg.inner.lock().unwrap();
                let (cur_gen, exp, int) = g.cpu_timers[which - 1];
                if cur_gen != gen || g.exit.is_some() {
                    return;
                }
                match exp {
                    Some(e) if cpu >= e => {
                        g.cpu_timers[which - 1].1 = (!int.is_zero()).then(|| cpu + int);
                        Some(int.is_zero())
                    }
                    Some(_) => None,
                    None => return,
                }
            };
            if let Some(last) = fire {
                send_group(&tg, SigInfo::new(sig, libc::SI_KERNEL));
                if last {
                    return;
                }
            }
        });
    (old_left, old_int)
}

fn sys_setitimer(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let which = a.int(0);
    if which == libc::ITIMER_VIRTUAL || which == libc::ITIMER_PROF {
        let (value, interval) = if !a.addr(1).is_null() {
            let it: libc::itimerval = t.copy_in(a.ptr(1))?;
            (from_tv(it.it_value)?, from_tv(it.it_interval)?)
        } else {
            (Duration::ZERO, Duration::ZERO)
        };
        let (left, int) = arm_cpu_timer(&t.tg, which as usize, value, interval);
        if !a.addr(2).is_null() {
            let old = libc::itimerval {
                it_interval: tv(int),
                it_value: tv(left),
            };
            t.copy_out(a.ptr(2), &old)?;
        }
        return Ok(0);
    }
    if which != libc::ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (value, interval) = if !a.addr(1).is_null() {
        let it: libc::itimerval = t.copy_in(a.ptr(1))?;
        (from_tv(it.it_value)?, from_tv(it.it_interval)?)
    } else {
        (Duration::ZERO, Duration::ZERO)
    };
    let (left, int) = arm_real_timer(&t.tg, value, interval);
    if !a.addr(2).is_null() {
        t.copy_out(
            a.ptr(2),
            &libc::itimerval {
                it_interval: tv(int),
                it_value: tv(left),
            },
        )?;
    }
    Ok(0)
}

fn sys_getitimer(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let which = a.int(0);
    if which == libc::ITIMER_VIRTUAL || which == libc::ITIMER_PROF {
        let now = group_cpu(&t.tg);
        let (_, exp, int) = t.tg.inner.lock().unwrap().cpu_timers[which as usize - 1];
        let left = exp.map(|e| e.saturating_sub(now)).unwrap_or_default();
        let cur = libc::itimerval {
            it_interval: tv(int),
            it_value: tv(left),
        };
        t.copy_out(a.ptr(1), &cur)?;
        return Ok(0);
    }
    if which != libc::ITIMER_REAL {
        return Err(Errno::EINVAL);
    }
    let (left, int) = {
        let g = t.tg.inner.lock().unwrap();
        (
            g.itimer_deadline
                .map(|d| d.saturating_duration_since(Instant::now()))
                .unwrap_or_default(),
            g.itimer_interval,
        )
    };
    t.copy_out(
        a.ptr(1),
        &libc::itimerval {
            it_interval: tv(int),
            it_value: tv(left),
        },
    )?;
    Ok(0)
}
