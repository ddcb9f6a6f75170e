//! Scheduling: affinity, yield, priorities, getcpu.

use super::{Support, SyscallArgs, Table};
use crate::caps::CAP_SYS_NICE;
use crate::errno::{Errno, SysResult};
use std::sync::Arc;

use crate::kernel::{Task, TaskHandle};

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
        Support::Partial("kept and reported; the host schedules as the platform pins"),
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
        |t, a| {
            check_pid(t, a.int(0))?;
            Ok(libc::SCHED_OTHER as u64)
        },
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
        Support::Partial("kept and reported; the host schedules every task alike"),
        sys_getpriority,
    );
    t.add(
        libc::SYS_setpriority,
        "setpriority",
        Support::Partial("kept and reported; the host schedules every task alike"),
        sys_setpriority,
    );
}

/// The task `pid` names for the affinity calls: 0 is the caller; any
/// other (negative included) must exist (ESRCH, as Linux's lookup says).
fn target(t: &Task, pid: i32) -> Result<Arc<TaskHandle>, Errno> {
    match pid {
        0 => Ok(t.handle.clone()),
        p => t.task_by_vpid(p).ok_or(Errno::ESRCH),
    }
}

/// Whether the caller may change `other`'s scheduling: CAP_SYS_NICE, or
/// an effective uid equal to the other's real or effective uid (Linux's
/// check_same_owner).
fn may_change(t: &Task, other: &TaskHandle) -> bool {
    let me = t.creds();
    let them = other.creds.lock().unwrap().clone();
    me.capable(CAP_SYS_NICE) || me.euid == them.uid || me.euid == them.euid
}

const PRIO_PROCESS: u64 = 0;
const PRIO_PGRP: u64 = 1;
const PRIO_USER: u64 = 2;

/// The threads `which`/`who` name (getpriority/setpriority), ESRCH if
/// none.
fn prio_targets(t: &Task, which: u64, who: u32) -> Result<Vec<Arc<TaskHandle>>, Errno> {
    // A snapshot, so no task's locks are taken under the pid table's.
    let all = || -> Vec<Arc<TaskHandle>> {
        t.kernel
            .pids
            .lock()
            .unwrap()
            .tasks
            .values()
            .cloned()
            .collect()
    };
    let found: Vec<Arc<TaskHandle>> = match which {
        PRIO_PROCESS => return target(t, who as i32).map(|h| vec![h]),
        PRIO_PGRP => {
            let pgid = match who {
                0 => t.tg.inner.lock().unwrap().pgid,
                p => p as i32,
            };
            all()
                .into_iter()
                .filter(|h| h.tg.inner.lock().unwrap().pgid == pgid)
                .collect()
        }
        PRIO_USER => {
            let uid = match who {
                0 => t.creds().uid,
                u => u,
            };
            all()
                .into_iter()
                .filter(|h| h.creds.lock().unwrap().uid == uid)
                .collect()
        }
        _ => return Err(Errno::EINVAL),
    };
    if found.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(found)
}

/// The kernel's answer is 20 - nice (1..=40), so no success is negative;
/// the C library turns it back into a nice value.
fn sys_getpriority(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let best = prio_targets(t, a.ulong(0), a.uint(1))?
        .iter()
        .map(|h| h.sched.lock().unwrap().nice)
        .min()
        .unwrap_or(0);
    Ok((20 - best) as u64)
}

fn sys_setpriority(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let nice = a.int(2).clamp(-20, 19);
    let may_raise = t.creds().capable(CAP_SYS_NICE);
    let mut result = Ok(0);
    for h in prio_targets(t, a.ulong(0), a.uint(1))? {
        if !may_change(t, &h) {
            result = Err(Errno::EPERM);
            continue;
        }
        let mut s = h.sched.lock().unwrap();
        if nice < s.nice && !may_raise {
            result = Err(Errno::EACCES);
            continue;
        }
        s.nice = nice;
    }
    result
}

fn ncpus(t: &Task) -> usize {
    t.kernel.config.cpus.max(1)
}

fn check_pid(t: &Task, pid: i32) -> Result<(), Errno> {
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    if pid != 0 && t.task_by_vpid(pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

/// The size of the kernel's CPU mask, in bytes (whole longs).
fn mask_len(t: &Task) -> usize {
    ncpus(t).div_ceil(64) * 8
}

fn sys_sched_getaffinity(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let len = a.usize(1);
    let need = mask_len(t);
    if len < need || !len.is_multiple_of(8) {
        return Err(Errno::EINVAL);
    }
    let h = target(t, a.int(0))?;
    let mask = h
        .sched
        .lock()
        .unwrap()
        .affinity
        .clone()
        .unwrap_or_else(|| all_cpus(t));
    t.write_bytes(a.addr(2), &mask)?;
    Ok(need as u64)
}

/// The mask of every CPU the sandbox has.
fn all_cpus(t: &Task) -> Vec<u8> {
    let mut mask = vec![0u8; mask_len(t)];
    for cpu in 0..ncpus(t) {
        mask[cpu / 8] |= 1 << (cpu % 8);
    }
    mask
}

fn sys_sched_setaffinity(t: &mut Task, a: &SyscallArgs) -> SysResult {
    // As Linux: the mask is read first (a shorter one is zero-extended, a
    // longer one cut), then the task looked up.
    let need = mask_len(t);
    let mut mask = t.read_bytes(a.addr(2), a.usize(1).min(need))?;
    mask.resize(need, 0);
    let h = target(t, a.int(0))?;
    if !may_change(t, &h) {
        return Err(Errno::EPERM);
    }
    // Only the CPUs that exist.
    let all = all_cpus(t);
    for (m, a) in mask.iter_mut().zip(&all) {
        *m &= a;
    }
    if mask.iter().all(|b| *b == 0) {
        return Err(Errno::EINVAL);
    }
    h.sched.lock().unwrap().affinity = (mask != all).then_some(mask);
    Ok(0)
}

fn sys_getcpu(t: &mut Task, a: &SyscallArgs) -> SysResult {
    // SAFETY: sched_getcpu has no arguments.
    let cpu = unsafe { libc::sched_getcpu() }.max(0) as u32;
    if !a.addr(0).is_null() {
        t.copy_out(a.ptr(0), &cpu)?;
    }
    if !a.addr(1).is_null() {
        t.copy_out(a.ptr(1), &0u32)?;
    }
    Ok(0)
}

fn sys_sched_getparam(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.int(0))?;
    t.copy_out(a.ptr(1), &0i32)?;
    Ok(0)
}

fn prio_range(_t: &mut Task, a: &SyscallArgs) -> SysResult {
    match a.int(0) {
        libc::SCHED_OTHER | libc::SCHED_BATCH | libc::SCHED_IDLE => Ok(0),
        libc::SCHED_FIFO | libc::SCHED_RR => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

fn sys_sched_setscheduler(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.int(0))?;
    let policy = a.int(1) & !libc::SCHED_RESET_ON_FORK;
    let prio: i32 = t.copy_in(a.ptr(2))?;
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
    check_pid(t, a.int(0))?;
    let prio: i32 = t.copy_in(a.ptr(1))?;
    if prio != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

fn sys_sched_rr_get_interval(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_pid(t, a.int(0))?;
    // Linux's default SCHED_RR timeslice.
    t.copy_out(
        a.ptr(1),
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
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_USER).contains(&a.ulong(0)) {
        return Err(Errno::EINVAL);
    }
    if a.ulong(0) == IOPRIO_WHO_PROCESS {
        check_pid(t, a.int(1))?;
    }
    // IOPRIO_CLASS_BE (2) at level 4, what Linux reports by default.
    Ok((2 << 13) | 4)
}

fn sys_ioprio_set(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if !(IOPRIO_WHO_PROCESS..=IOPRIO_WHO_USER).contains(&a.ulong(0)) {
        return Err(Errno::EINVAL);
    }
    if a.ulong(0) == IOPRIO_WHO_PROCESS {
        check_pid(t, a.int(1))?;
    }
    Ok(0)
}
