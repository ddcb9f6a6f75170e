//! timerfd_create, timerfd_settime, timerfd_gettime.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::timerfd::TimerFd;
use crate::kernel::task::Task;
use crate::usermem::UserPtr;
use crate::vfs::File;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_timerfd_create,
        "timerfd_create",
        Support::Full,
        sys_timerfd_create,
    );
    t.add(
        libc::SYS_timerfd_settime,
        "timerfd_settime",
        Support::Partial("TFD_TIMER_CANCEL_ON_SET is accepted but clock changes are not seen"),
        sys_timerfd_settime,
    );
    t.add(
        libc::SYS_timerfd_gettime,
        "timerfd_gettime",
        Support::Full,
        sys_timerfd_gettime,
    );
}

fn sys_timerfd_create(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let clock = a.int(0);
    let flags = a.int(1);
    match clock {
        libc::CLOCK_REALTIME
        | libc::CLOCK_MONOTONIC
        | libc::CLOCK_BOOTTIME
        | libc::CLOCK_REALTIME_ALARM
        | libc::CLOCK_BOOTTIME_ALARM => {}
        _ => return Err(Errno::EINVAL),
    }
    if flags & !(libc::TFD_CLOEXEC | libc::TFD_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    // The alarm clocks need CAP_WAKE_ALARM: the effective root user here
    // (stress-ng's timerfd stressor, as nobody, hung when they did not).
    let alarm = matches!(
        clock,
        libc::CLOCK_REALTIME_ALARM | libc::CLOCK_BOOTTIME_ALARM
    );
    if alarm && t.creds().euid != 0 {
        return Err(Errno::EPERM);
    }
    let f = File::new(
        TimerFd::new(clock, t.kernel.timers.clone()),
        None,
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    );
    Ok(t.fds.install(f, flags & libc::TFD_CLOEXEC != 0)? as u64)
}

fn timer_of(t: &Task, fd: i32) -> Result<Arc<TimerFd>, Errno> {
    let any: Arc<dyn std::any::Any + Send + Sync> = t.fds.get(fd)?.ops().clone();
    any.downcast::<TimerFd>().map_err(|_| Errno::EINVAL)
}

fn read_spec(t: &Task, addr: UserPtr<libc::itimerspec>) -> Result<(Duration, Duration), Errno> {
    let its: libc::itimerspec = t.copy_in(addr)?;
    let d = |ts: libc::timespec| {
        if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
            return Err(Errno::EINVAL);
        }
        Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    };
    Ok((d(its.it_value)?, d(its.it_interval)?))
}

fn spec(left: Duration, interval: Duration) -> libc::itimerspec {
    let ts = |d: Duration| libc::timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: d.subsec_nanos() as i64,
    };
    libc::itimerspec {
        it_interval: ts(interval),
        it_value: ts(left),
    }
}

fn sys_timerfd_settime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.int(1);
    if flags & !(libc::TFD_TIMER_ABSTIME | libc::TFD_TIMER_CANCEL_ON_SET) != 0 {
        return Err(Errno::EINVAL);
    }
    let timer = timer_of(t, a.int(0))?;
    let (value, interval) = read_spec(t, a.ptr(2))?;
    let first = if value.is_zero() {
        None
    } else if flags & libc::TFD_TIMER_ABSTIME != 0 {
        // An absolute time on the timer's clock, turned into a deadline now.
        let now = match timer.clock {
            libc::CLOCK_REALTIME | libc::CLOCK_REALTIME_ALARM => SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default(),
            _ => super::time::monotonic_now(),
        };
        Some(crate::kernel::deadline::at(value, now))
    } else {
        Some(crate::kernel::deadline::after(value))
    };
    let (left, int) = timer.set(first, interval);
    if !a.addr(3).is_null() {
        t.copy_out(a.ptr(3), &spec(left, int))?;
    }
    Ok(0)
}

fn sys_timerfd_gettime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (left, int) = timer_of(t, a.int(0))?.get();
    t.copy_out(a.ptr(1), &spec(left, int))?;
    Ok(0)
}
