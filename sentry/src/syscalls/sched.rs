//! Scheduling: affinity, yield, priorities, getcpu.

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_sched_getaffinity,
        "sched_getaffinity",
        Support::Full,
        sys_sched_getaffinity,
    );
    t.add(
        libc::SYS_sched_setaffinity,
        "sched_setaffinity",
        Support::Partial("accepted; the Sentry schedules"),
        sys_sched_setaffinity,
    );
    t.add(
        libc::SYS_sched_yield,
        "sched_yield",
        Support::Full,
        |_, _| {
            std::thread::yield_now();
            Ok(0)
        },
    );
    t.add(libc::SYS_getcpu, "getcpu", Support::Full, sys_getcpu);
    t.add(
        libc::SYS_sched_setscheduler,
        "sched_setscheduler",
        Support::Partial("only SCHED_OTHER/BATCH/IDLE at priority 0"),
        sys_sched_setscheduler,
    );
    t.add(
        libc::SYS_sched_setparam,
        "sched_setparam",
        Support::Partial("only priority 0"),
        sys_sched_setparam,
    );
    t.add(
        libc::SYS_sched_rr_get_interval,
        "sched_rr_get_interval",
        Support::Full,
        sys_sched_rr_get_interval,
    );
    t.add(
        libc::SYS_ioprio_get,
        "ioprio_get",
        Support::Partial("always the default class"),
        sys_ioprio_get,
    );
    t.add(
        libc::SYS_ioprio_set,
        "ioprio_set",
        Support::Partial("accepted without effect"),
        sys_ioprio_set,
    );
    t.add(
        libc::SYS_sched_getscheduler,
        "sched_getscheduler",
        Support::Full,
        |_, _| Ok(libc::SCHED_OTHER as u64),
    );
    t.add(
        libc::SYS_sched_getparam,
        "sched_getparam",
        Support::Full,
        sys_sched_getparam,
    );
    t.add(
        libc::SYS_sched_get_priority_max,
        "sched_get_priority_max",
        Support::Full,
        prio_range,
    );
    t.add(
        libc::SYS_sched_get_priority_min,
        "sched_get_priority_min",
        Support::Full,
        prio_range,
    );
    t.add(
        libc::SYS_getpriority,
        "getpriority",
        Support::Partial("always the default nice value"),
        |_, _| Ok(20),
    );
    t.add(
        libc::SYS_setpriority,
        "setpriority",
        Support::Partial("accepted without effect"),
        |_, _| Ok(0),
    );
}

fn ncpus(t: &Task) -> usize {
    t.kernel.config.cpus.max(1)
}

fn check_pid(t: &Task, pid: u64) -> Result<(), Errno> {
    let pid = pid as i32;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid != 0 && t.kernel.task(pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

fn sys_sched_getaffinity(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.a[0])?;
    let len = a.a[1] as usize;
    let n = ncpus(t);
    let need = n.div_ceil(64) * 8;
    if len < need || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let mut mask = vec![0u8; need];
    for cpu in 0..n {
        mask[cpu / 8] |= 1 << (cpu % 8);
    }
    t.write_bytes(a.a[2], &mask)?;
    Ok(need as u64)
}

fn sys_sched_setaffinity(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.a[0])?;
    let len = (a.a[1] as usize).min(128);
    let mask = t.read_bytes(a.a[2], len)?;
    if mask.iter().all(|b| *b == 0) {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

fn sys_getcpu(t: &mut Task, a: &SyscallArgs) -> SysResult {
    // SAFETY: sched_getcpu has no arguments.
    let cpu = unsafe { libc::sched_getcpu() }.max(0) as u32;
    if a.a[0] != 0 {
        t.copy_out(a.a[0], &cpu)?;
    }
    if a.a[1] != 0 {
        t.copy_out(a.a[1], &0u32)?;
    }
    Ok(0)
}

fn sys_sched_getparam(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.a[0])?;
    t.copy_out(a.a[1], &0i32)?;
    Ok(0)
}

fn prio_range(_t: &mut Task, a: &SyscallArgs) -> SysResult {
    match a.a[0] as i32 {
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => Ok(0),
        libc::SCHED_FIFO | libc::SCHED_RR => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

fn sys_sched_setscheduler(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.a[0])?;
    let policy = a.a[1] as i32 & !libc::SCHED_RESET_ON_FORK;
    let prio: i32 = t.copy_in(a.a[2])?;
    match policy {
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE if prio == 0 => Ok(0),
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => Err(Errno::EINVAL),
        // Real-time scheduling needs CAP_SYS_NICE on the host, which the
        // sandbox never has.
        libc::SCHED_FIFO | libc::SCHED_RR => Err(Errno::EPERM),
        _ => Err(Errno::EINVAL),
    }
}

fn sys_sched_setparam(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.a[0])?;
    let prio: i32 = t.copy_in(a.a[1])?;
    if prio != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

fn sys_sched_rr_get_interval(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.a[0])?;
    // Linux's default SCHED_RR timeslice.
    t.copy_out(
        a.a[1],
        &libc::timespec {
            tv_sec: 0,
            tv_nsec: 100_000_000,
        },
    )?;
    Ok(0)
}

const IOPRIO_WHO_PROCESS: u64 = 1;
const IOPRIO_WHO_USER: u64 = 3;

fn sys_ioprio_get(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_USER).contains(&a.a[0]) {
        return Err(Errno::EINVAL);
    }
    if a.a[0] == IOPRIO_WHO_PROCESS {
        check_pid(t, a.a[1])?;
    }
    // IOPRIO_CLASS_BE (2) at level 4, what Linux reports by default.
    Ok((2 << 13) | 4)
}

fn sys_ioprio_set(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_USER).contains(&a.a[0]) {
        return Err(Errno::EINVAL);
    }
    if a.a[0] == IOPRIO_WHO_PROCESS {
        check_pid(t, a.a[1])?;
    }
    Ok(0)
}
