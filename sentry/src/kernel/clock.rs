//! The clocks a clockid names, and what each reads now: the wall clock,
//! the monotonic clock, and the CPU-time clocks of a process or a thread
//! (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, and the negative
//! ids clock_getcpuclockid and pthread_getcpuclockid make from a pid or a
//! tid). clock_gettime, clock_nanosleep and timer_create all resolve their
//! clockid here.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use crate::errno::Errno;
use crate::kernel::cpu_timers::CpuClockOf;
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::TaskHandle;

/// Bits of a CPU clockid (Linux's CPUCLOCK_*): the kind in the low two
/// bits, bit 2 set for a thread, and the one's-complemented id above.
const CPUCLOCK_KIND_MASK: i32 = 3;
/// The kind no CPU clock has.
const CPUCLOCK_MAX: i32 = 3;
const CPUCLOCK_PERTHREAD: i32 = 4;
const CPUCLOCK_ID_SHIFT: u32 = 3;

/// A resolved clock. CPU clocks hold their task or group weakly: a timer
/// on one must not keep an exited process alive.
#[derive(Clone)]
pub enum Clock {
    /// CLOCK_REALTIME and its alarm, coarse and TAI forms.
    Realtime,
    /// CLOCK_MONOTONIC, _RAW, _COARSE, CLOCK_BOOTTIME and its alarm form
    /// (the sandbox never suspends, so boot time is monotonic time).
    Monotonic,
    ProcessCpu(Weak<ThreadGroup>),
    ThreadCpu(Weak<TaskHandle>),
}

/// The host's monotonic clock.
pub fn monotonic_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The wall clock, since the epoch.
pub fn realtime_now() -> Duration {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Whether `clock` names a CPU-time clock of a thread (the caller's own,
/// or one of pthread_getcpuclockid).
pub fn is_thread_cpu_clock(clock: i32) -> bool {
    clock == libc::CLOCK_THREAD_CPUTIME_ID || (clock < 0 && clock & CPUCLOCK_PERTHREAD != 0)
}

/// The pid or tid a negative (dynamic) CPU clockid names; 0 is the caller.
pub fn cpu_clock_id(clock: i32) -> i32 {
    !(clock >> CPUCLOCK_ID_SHIFT)
}

impl Clock {
    /// The clock `clock` names for task `t`: EINVAL for an unknown id or a
    /// CPU clock of a task or process that does not exist (a thread's
    /// clock only within the caller's process, as Linux looks it up).
    pub fn of(t: &Task, clock: i32) -> Result<Clock, Errno> {
        if clock < 0 {
            if clock & CPUCLOCK_KIND_MASK == CPUCLOCK_MAX {
                return Err(Errno::EINVAL);
            }
            let id = cpu_clock_id(clock);
            if clock & CPUCLOCK_PERTHREAD != 0 {
                let h = if id == 0 {
                    t.handle.clone()
                } else {
                    t.task_by_vpid(id).ok_or(Errno::EINVAL)?
                };
                if !Arc::ptr_eq(&h.tg, &t.tg) {
                    return Err(Errno::EINVAL);
                }
                return Ok(Clock::ThreadCpu(Arc::downgrade(&h)));
            }
            // Any thread's id names its process's clock.
            let tg = if id == 0 {
                t.tg.clone()
            } else {
                t.group_by_vpid(id)
                    .or_else(|| t.task_by_vpid(id).map(|h| h.tg.clone()))
                    .ok_or(Errno::EINVAL)?
            };
            return Ok(Clock::ProcessCpu(Arc::downgrade(&tg)));
        }
        Ok(match clock {
            libc::CLOCK_REALTIME
            | libc::CLOCK_REALTIME_COARSE
            | libc::CLOCK_TAI
            | libc::CLOCK_REALTIME_ALARM => Clock::Realtime,
            libc::CLOCK_MONOTONIC
            | libc::CLOCK_MONOTONIC_RAW
            | libc::CLOCK_MONOTONIC_COARSE
            | libc::CLOCK_BOOTTIME
            | libc::CLOCK_BOOTTIME_ALARM => Clock::Monotonic,
            libc::CLOCK_PROCESS_CPUTIME_ID => Clock::ProcessCpu(Arc::downgrade(&t.tg)),
            libc::CLOCK_THREAD_CPUTIME_ID => Clock::ThreadCpu(Arc::downgrade(&t.handle)),
            _ => return Err(Errno::EINVAL),
        })
    }

    /// The clock's reading; a CPU clock of a task or process that has gone
    /// reads zero.
    pub fn now(&self) -> Duration {
        match self {
            Clock::Realtime => realtime_now(),
            Clock::Monotonic => monotonic_now(),
            Clock::ProcessCpu(g) => g
                .upgrade()
                .map(|g| Duration::from_nanos(g.cpu_time_ns()))
                .unwrap_or_default(),
            Clock::ThreadCpu(h) => h
                .upgrade()
                .map(|h| Duration::from_nanos(h.utime_ns.load(Ordering::Relaxed)))
                .unwrap_or_default(),
        }
    }

    /// For a CPU clock: the group whose run loops check its deadlines and
    /// which of its clocks it is. None for the host clocks (or a CPU clock
    /// whose task has gone).
    pub fn cpu_target(&self) -> Option<(Arc<ThreadGroup>, CpuClockOf)> {
        match self {
            Clock::ProcessCpu(g) => Some((g.upgrade()?, CpuClockOf::Process)),
            Clock::ThreadCpu(h) => {
                let h = h.upgrade()?;
                Some((h.tg.clone(), CpuClockOf::Thread(h.tid)))
            }
            _ => None,
        }
    }
}
