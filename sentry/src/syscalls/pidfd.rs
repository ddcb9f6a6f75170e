//! Process descriptors: pidfd_open, pidfd_send_signal and pidfd_getfd
//! (clone's CLONE_PIDFD is in `kernel/clone.rs`, waitid's P_PIDFD in
//! `thread.rs`; the file is `kernel/pidfd.rs`).

use super::signal::may_signal;
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::access::PtraceMode;
use crate::kernel::pidfd::PidFd;
use crate::kernel::signal::{SigInfo, NSIG};
use crate::kernel::signal_send::send_group;
use crate::kernel::task::Task;

/// pidfd_open's flag: the description is non-blocking (O_NONBLOCK).
const PIDFD_NONBLOCK: i32 = libc::O_NONBLOCK;
/// pidfd_send_signal's scopes (linux/pidfd.h): the thread the pidfd
/// names, its process, or the process group whose id is its pid.
const PIDFD_SIGNAL_THREAD: u32 = 1 << 0;
const PIDFD_SIGNAL_THREAD_GROUP: u32 = 1 << 1;
const PIDFD_SIGNAL_PROCESS_GROUP: u32 = 1 << 2;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_pidfd_open,
        "pidfd_open",
        Support::Partial("PIDFD_THREAD (a descriptor for one thread) is refused with EINVAL"),
        sys_pidfd_open,
    );
    t.add(
        libc::SYS_pidfd_send_signal,
        "pidfd_send_signal",
        Support::Full,
        sys_pidfd_send_signal,
    );
    t.add(
        libc::SYS_pidfd_getfd,
        "pidfd_getfd",
        Support::Full,
        sys_pidfd_getfd,
    );
}

fn sys_pidfd_open(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (pid, flags) = (a.int(0), a.uint(1));
    if flags & !(PIDFD_NONBLOCK as u32) != 0 || pid <= 0 {
        return Err(Errno::EINVAL);
    }
    let Some(g) = t.group_by_vpid(pid) else {
        // A thread that leads no process has no process descriptor.
        return Err(if t.task_by_vpid(pid).is_some() {
            Errno::EINVAL
        } else {
            Errno::ESRCH
        });
    };
    let f = PidFd::open(&t.kernel, &g, flags as i32);
    Ok(t.fds.install(f, true)? as u64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Thread,
    Process,
    ProcessGroup,
}

fn sys_pidfd_send_signal(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (sig, flags) = (a.int(1), a.uint(3));
    let scope = match flags {
        0 | PIDFD_SIGNAL_THREAD_GROUP => Scope::Process,
        PIDFD_SIGNAL_THREAD => Scope::Thread,
        PIDFD_SIGNAL_PROCESS_GROUP => Scope::ProcessGroup,
        _ => return Err(Errno::EINVAL),
    };
    let f = t.fds.get(a.int(0))?;
    // A pidfd, or a descriptor of a /proc/PID directory as Linux also takes.
    let (g, reaped) = match PidFd::of(&f) {
        Ok(p) => (p.group().clone(), p.reaped()),
        Err(e) => {
            let g = crate::fsimpl::proc::task::process_of_dir(&f).ok_or(e)?;
            let reaped = !t
                .kernel
                .group(g.tgid)
                .is_some_and(|x| std::sync::Arc::ptr_eq(&x, &g));
            (g, reaped)
        }
    };
    let info = if a.addr(2).is_null() {
        let code = if scope == Scope::Thread {
            libc::SI_TKILL
        } else {
            libc::SI_USER
        };
        SigInfo::user(sig, code, g.pidns.nr(t.tgid()), t.creds().uid)
    } else {
        let info: SigInfo = t.copy_in(a.ptr(2))?;
        if info.signo != sig {
            return Err(Errno::EINVAL);
        }
        // Only to itself may a process send a siginfo that claims to come
        // from the kernel or from kill.
        let to_self = g.tgid == t.tid && scope != Scope::ProcessGroup;
        if !to_self && (info.code >= 0 || info.code == libc::SI_TKILL) {
            return Err(Errno::EPERM);
        }
        info
    };
    if reaped {
        return Err(Errno::ESRCH);
    }
    if !(0..=NSIG as i32).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let targets = match scope {
        Scope::Process | Scope::Thread => vec![g.clone()],
        Scope::ProcessGroup => {
            let v: Vec<_> = t
                .kernel
                .all_groups()
                .into_iter()
                .filter(|o| o.inner.lock().unwrap().pgid == g.tgid)
                .collect();
            if v.is_empty() {
                return Err(Errno::ESRCH);
            }
            v
        }
    };
    for target in &targets {
        if !may_signal(t, target, sig) {
            return Err(Errno::EPERM);
        }
    }
    if sig == 0 {
        return Ok(0);
    }
    for target in targets {
        match (scope, t.kernel.task(target.tgid)) {
            (Scope::Thread, Some(leader)) if sig != libc::SIGKILL => leader.send(info),
            _ => send_group(&target, info),
        }
    }
    Ok(0)
}

fn sys_pidfd_getfd(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.uint(2) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = t.fds.get(a.int(0))?;
    let g = PidFd::of(&f)?.group().clone();
    let leader = t.kernel.task(g.tgid).ok_or(Errno::ESRCH)?;
    if !t.may_access(&leader, PtraceMode::AttachRealCreds) {
        return Err(Errno::EPERM);
    }
    let fds = leader.view.lock().unwrap().fds.upgrade();
    let file = fds.ok_or(Errno::EBADF)?.get(a.int(1))?;
    Ok(t.fds.install(file, true)? as u64)
}
