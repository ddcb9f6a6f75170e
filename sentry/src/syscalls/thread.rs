//! Task lifecycle: clone, fork, execve, exit, wait, and thread attributes.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::clone::CloneArgs;
use crate::kernel::namespaces::pid::MAX_PID_NS_LEVEL;
use crate::kernel::ptrace::wait::TraceeEvent;
use crate::kernel::rusage;
use crate::kernel::signal::SigInfo;
use crate::kernel::task::Task;
use crate::kernel::thread_group::{exit_status, ThreadGroup};
use crate::usermem::UserAddr;

/// struct clone_args sizes: the first version, the one adding set_tid and
/// set_tid_size, and the one adding cgroup (Linux's CLONE_ARGS_SIZE_VER*).
const CLONE_ARGS_SIZE_VER0: usize = 64;
const CLONE_ARGS_SIZE_VER1: usize = 80;
const CLONE_ARGS_SIZE_VER2: usize = 88;
/// clone3 reads at most a page of arguments (larger is E2BIG on Linux).
const PAGE_SIZE: usize = 4096;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_clone,
        "clone",
        Support::Partial(
            "CLONE_NEWUTS, NEWIPC, NEWNS, NEWUSER, NEWNET and NEWPID are served by the Sentry; \
             CLONE_NEWCGROUP and NEWTIME, and CLONE_PIDFD with CLONE_THREAD, are EINVAL",
        ),
        sys_clone,
    );
    t.add(
        libc::SYS_clone3,
        "clone3",
        Support::Partial(
            "cgroup and CLONE_NEWCGROUP/NEWTIME are refused; set_tid as Linux's; \
             UTS, IPC, mount, user, network and PID namespaces as clone's",
        ),
        sys_clone3,
    );
    t.add(libc::SYS_fork, "fork", Support::Full, sys_fork);
    t.add(libc::SYS_vfork, "vfork", Support::Full, sys_vfork);
    t.add(libc::SYS_execve, "execve", Support::Full, sys_execve);
    t.add(
        libc::SYS_execveat,
        "execveat",
        Support::Partial(
            "AT_EMPTY_PATH runs the descriptor's file by its path (a rename in between is not seen; \
             a script so run gets that path as its name, not /dev/fd/N)",
        ),
        sys_execveat,
    );
    t.add(libc::SYS_exit, "exit", Support::Full, sys_exit);
    t.add(
        libc::SYS_exit_group,
        "exit_group",
        Support::Full,
        sys_exit_group,
    );
    t.add(
        libc::SYS_wait4,
        "wait4",
        Support::Partial("rusage holds the CPU time and ru_maxrss, its other fields are 0"),
        sys_wait4,
    );
    t.add(libc::SYS_waitid, "waitid", Support::Full, sys_waitid);
    t.add(
        libc::SYS_set_tid_address,
        "set_tid_address",
        Support::Full,
        sys_set_tid_address,
    );
    t.add(
        libc::SYS_set_robust_list,
        "set_robust_list",
        Support::Full,
        sys_set_robust_list,
    );
    t.add(
        libc::SYS_get_robust_list,
        "get_robust_list",
        Support::Full,
        sys_get_robust_list,
    );
    t.add(
        libc::SYS_arch_prctl,
        "arch_prctl",
        Support::Partial("ARCH_SET_FS/GET_FS/SET_GS/GET_GS and CPUID queries"),
        sys_arch_prctl,
    );
    t.add(libc::SYS_getpid, "getpid", Support::Full, sys_getpid);
    t.add(libc::SYS_gettid, "gettid", Support::Full, sys_gettid);
    t.add(libc::SYS_getppid, "getppid", Support::Full, sys_getppid);
    t.add(libc::SYS_getpgid, "getpgid", Support::Full, sys_getpgid);
    t.add(libc::SYS_getpgrp, "getpgrp", Support::Full, sys_getpgrp);
    t.add(libc::SYS_setpgid, "setpgid", Support::Full, sys_setpgid);
    t.add(libc::SYS_getsid, "getsid", Support::Full, sys_getsid);
    t.add(libc::SYS_setsid, "setsid", Support::Full, sys_setsid);
    t.add(
        libc::SYS_prctl,
        "prctl",
        Support::Partial(
            "PR_SET_NAME, PR_GET_NAME, PR_SET_PDEATHSIG (accepted, not acted on), PR_GET_DUMPABLE, \
             PR_SET/GET_NO_NEW_PRIVS, PR_CAPBSET_READ/DROP, PR_SET/GET_KEEPCAPS, \
             PR_SET/GET_SECUREBITS, PR_CAP_AMBIENT, PR_SET/GET_SECCOMP",
        ),
        sys_prctl,
    );
    t.missing(libc::SYS_rseq, "glibc falls back without it");
    t.add(
        libc::SYS_personality,
        "personality",
        Support::Partial(
            "any persona kept, inherited and reported; PER_LINUX32 (uname i686), UNAME26 and \
             READ_IMPLIES_EXEC honoured; the layout is never randomized",
        ),
        sys_personality,
    );
}

fn sys_clone(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.ulong(0);
    let pidfd = flags & libc::CLONE_PIDFD as u64 != 0;
    // clone(2) has one slot for both: the pidfd takes parent_tid's.
    if pidfd && flags & libc::CLONE_PARENT_SETTID as u64 != 0 {
        return Err(Errno::EINVAL);
    }
    let args = CloneArgs {
        flags: flags & !0xff,
        stack: a.ulong(1),
        parent_tid: a.addr(2).get(),
        child_tid: a.addr(3).get(),
        tls: a.ulong(4),
        exit_signal: (flags & 0xff) as i32,
        pidfd: if pidfd { a.addr(2).get() } else { 0 },
        ..Default::default()
    };
    t.clone_task(args).map(|v| v as u64)
}

fn sys_clone3(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let size = a.ulong(1);
    if size > PAGE_SIZE as u64 {
        return Err(Errno::E2BIG);
    }
    let size = size as usize;
    if size < CLONE_ARGS_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    let known = size.min(CLONE_ARGS_SIZE_VER1);
    let mut raw = [0u64; CLONE_ARGS_SIZE_VER1 / 8];
    let bytes = t.read_bytes(a.addr(0).get(), known)?;
    for (word, chunk) in raw.iter_mut().zip(bytes.chunks_exact(8)) {
        *word = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
    }
    if size > CLONE_ARGS_SIZE_VER1 {
        // cgroup (CLONE_INTO_CGROUP) is not served; past it, fields
        // newer than Linux's must be zero (copy_struct_from_user's E2BIG).
        let rest = t.read_bytes(
            a.addr(0).get() + CLONE_ARGS_SIZE_VER1 as u64,
            size - CLONE_ARGS_SIZE_VER1,
        )?;
        let (cgroup, newer) =
            rest.split_at(rest.len().min(CLONE_ARGS_SIZE_VER2 - CLONE_ARGS_SIZE_VER1));
        if newer.iter().any(|b| *b != 0) {
            return Err(Errno::E2BIG);
        }
        if cgroup.iter().any(|b| *b != 0) {
            return Err(Errno::EINVAL);
        }
    }
    let [flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid, set_tid_size] =
        raw;
    // Linux's copy_clone_args_from_user: the array and its size come
    // together, at most one id per PID namespace level.
    if set_tid_size > MAX_PID_NS_LEVEL as u64
        || (set_tid == 0 && set_tid_size != 0)
        || (set_tid != 0 && set_tid_size == 0)
    {
        return Err(Errno::EINVAL);
    }
    let set_tid = t
        .read_bytes(set_tid, set_tid_size as usize * 4)?
        .chunks_exact(4)
        .map(|c| i32::from_ne_bytes(c.try_into().expect("4 bytes")))
        .collect();
    if exit_signal > 64 {
        return Err(Errno::EINVAL);
    }
    let args = CloneArgs {
        flags,
        stack: if stack != 0 {
            stack.wrapping_add(stack_size)
        } else {
            0
        },
        parent_tid,
        child_tid,
        tls,
        exit_signal: exit_signal as i32,
        pidfd,
        set_tid,
    };
    t.clone_task(args).map(|v| v as u64)
}

fn sys_fork(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    t.clone_task(CloneArgs {
        exit_signal: libc::SIGCHLD,
        ..Default::default()
    })
    .map(|v| v as u64)
}

fn sys_vfork(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    let flags = (libc::CLONE_VM | libc::CLONE_VFORK) as u64;
    t.clone_task(CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD,
        ..Default::default()
    })
    .map(|v| v as u64)
}

fn exec_common(
    t: &mut Task,
    dirfd: i32,
    path: UserAddr,
    argv: UserAddr,
    envp: UserAddr,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let mut path = t.read_path(path)?;
    let mut dirfd = dirfd;
    if path.is_empty() {
        if flags & libc::AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        // fexecve: run the file the descriptor names.
        let f = t.fds.get(dirfd)?;
        path = f.path();
        dirfd = libc::AT_FDCWD;
    }
    let argv = t.read_string_array(argv)?;
    let envp = t.read_string_array(envp)?;
    t.execve(dirfd, &path, argv, envp, flags)?;
    Ok(0)
}

fn sys_execve(t: &mut Task, a: &SyscallArgs) -> SysResult {
    exec_common(t, libc::AT_FDCWD, a.addr(0), a.addr(1), a.addr(2), 0)
}

fn sys_execveat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    exec_common(t, a.int(0), a.addr(1), a.addr(2), a.addr(3), a.int(4))
}

fn sys_exit(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.exit_code = Some(exit_status(a.int(0)));
    Ok(0)
}

fn sys_exit_group(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.group_exit(exit_status(a.int(0)));
    Ok(0)
}

/// A wait call's pid argument (a pid, -pgid, 0 or -1 in the caller's
/// PID namespace) with kernel ids; an id the caller's namespace does not
/// have matches no child.
fn kernel_wait_id(t: &Task, pid: i64) -> i64 {
    let k = |p: i64| {
        i32::try_from(p)
            .ok()
            .and_then(|p| t.kpid(p))
            .map_or(i64::MAX, i64::from)
    };
    match pid {
        p if p > 0 => k(p),
        0 | -1 => pid,
        p => -k(-p),
    }
}

/// Which children a wait call asks for.
fn matches(t: &Task, c: &Arc<ThreadGroup>, pid: i64) -> bool {
    match pid {
        p if p > 0 => c.tgid as i64 == p,
        -1 => true,
        0 => c.inner.lock().unwrap().pgid == t.tg.inner.lock().unwrap().pgid,
        p => c.inner.lock().unwrap().pgid as i64 == -p,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ChildEvent {
    Exited,
    Stopped,
    Continued,
    /// A tracee's ptrace-stop.
    Trapped,
    /// A tracee's exit, reported to its tracer (not its parent).
    TraceeExited,
}

/// Waits for a child to exit (or, with WUNTRACED / WCONTINUED, to stop or
/// continue); returns its pid (as the caller numbers it), wait status,
/// what happened and, for an exit, the child's resource usage. `consume`
/// reaps the zombie or clears the stop/continue report (not WNOWAIT).
fn wait_child(
    t: &mut Task,
    pid: i64,
    options: i32,
    consume: bool,
) -> Result<Option<(i32, i32, ChildEvent, libc::rusage)>, Errno> {
    let tg = t.tg.clone();
    let want_exit = options & libc::WEXITED != 0;
    let want_stop = options & libc::WUNTRACED != 0;
    let want_cont = options & libc::WCONTINUED != 0;
    let mut found: Option<(i32, i32, ChildEvent)> = None;
    let mut check = |t: &Task| -> Result<bool, Errno> {
        let (mut any, traced) = t.ptrace_wait(pid, options, consume);
        if let Some(ev) = traced {
            found = Some(match ev {
                TraceeEvent::Stopped { tid, status } => (tid, status, ChildEvent::Trapped),
                TraceeEvent::Exited { tid, status } => (tid, status, ChildEvent::TraceeExited),
            });
            return Ok(true);
        }
        let children: Vec<Arc<ThreadGroup>> = tg.inner.lock().unwrap().children.clone();
        for c in children.iter().filter(|c| matches(t, c, pid)) {
            let mut ci = c.inner.lock().unwrap();
            // __WCLONE selects children whose exit signal is not SIGCHLD.
            let clone_child = ci.exit_signal != libc::SIGCHLD;
            if options & libc::__WALL == 0 && (options & libc::__WCLONE != 0) != clone_child {
                continue;
            }
            any = true;
            if let Some(st) = ci.exit {
                if want_exit {
                    found = Some((c.tgid, st, ChildEvent::Exited));
                    return Ok(true);
                }
                continue;
            }
            if want_stop {
                if let Some(sig) = ci.wait_stop_pending {
                    if consume {
                        ci.wait_stop_pending = None;
                    }
                    found = Some((c.tgid, (sig << 8) | 0x7f, ChildEvent::Stopped));
                    return Ok(true);
                }
            }
            if want_cont && ci.wait_cont_pending {
                if consume {
                    ci.wait_cont_pending = false;
                }
                found = Some((c.tgid, 0xffff, ChildEvent::Continued));
                return Ok(true);
            }
        }
        if !any {
            return Err(Errno::ECHILD);
        }
        Ok(false)
    };
    if !check(t)? {
        if options & libc::WNOHANG != 0 {
            return Ok(None);
        }
        let mut err = None;
        let q = &tg.child_events;
        let tt: &Task = t;
        let on = crate::kernel::activity::WaitOn::Children { pid };
        tt.block_on(on, &[q], None, &mut || match check(tt) {
            Ok(done) => done,
            Err(e) => {
                err = Some(e);
                true
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
    }
    let Some((cpid, st, ev)) = found else {
        return Ok(None);
    };
    // The caller's number for the child, taken before reaping frees it.
    let vpid = t.vpid(cpid);
    let usage = match (ev, t.kernel.group(cpid)) {
        (ChildEvent::Exited, Some(c)) => rusage::reaped(&c),
        _ => crate::usermem::zeroed(),
    };
    if consume && ev == ChildEvent::Exited {
        let k = &t.kernel;
        let child = k.pids.lock().unwrap().remove_group(cpid);
        if let Some(c) = &child {
            rusage::account_reaped(&tg, c);
        }
        tg.inner.lock().unwrap().children.retain(|c| c.tgid != cpid);
    }
    Ok(Some((vpid, st, ev, usage)))
}

fn sys_wait4(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let pid = a.int(0) as i64;
    let options = a.int(2);
    if options
        & !(libc::WNOHANG
            | libc::WUNTRACED
            | libc::WCONTINUED
            | libc::__WALL
            | libc::__WCLONE
            | libc::__WNOTHREAD)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    if pid == i32::MIN as i64 {
        return Err(Errno::ESRCH);
    }
    let pid = kernel_wait_id(t, pid);
    match wait_child(t, pid, options | libc::WEXITED, true)? {
        None => Ok(0),
        Some((cpid, st, _, ru)) => {
            if !a.addr(1).is_null() {
                t.copy_out(a.ptr(1), &st)?;
            }
            if !a.addr(3).is_null() {
                t.copy_out(a.ptr(3), &ru)?;
            }
            Ok(cpid as u64)
        }
    }
}

fn sys_waitid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let idtype = a.uint(0);
    let id = a.int(1) as i64;
    let options = a.int(3);
    // Options first, as Linux checks them before it looks at the id.
    if options & (libc::WEXITED | libc::WSTOPPED | libc::WCONTINUED) == 0
        || options
            & !(libc::WEXITED
                | libc::WSTOPPED
                | libc::WCONTINUED
                | libc::WNOHANG
                | libc::WNOWAIT
                | libc::__WALL
                | libc::__WCLONE
                | libc::__WNOTHREAD)
            != 0
    {
        return Err(Errno::EINVAL);
    }
    let mut nonblocking = false;
    let pid = match idtype {
        libc::P_ALL => -1,
        libc::P_PID => {
            if id <= 0 {
                return Err(Errno::EINVAL);
            }
            kernel_wait_id(t, id)
        }
        libc::P_PGID => {
            if id == 0 {
                0
            } else {
                kernel_wait_id(t, -id)
            }
        }
        libc::P_PIDFD => {
            if id < 0 {
                return Err(Errno::EINVAL);
            }
            let f = t.fds.get(id as i32)?;
            nonblocking = f.nonblocking();
            crate::kernel::pidfd::PidFd::of(&f)?.group().tgid as i64
        }
        _ => return Err(Errno::EINVAL),
    };
    let consume = options & libc::WNOWAIT == 0;
    // A non-blocking pidfd makes the wait WNOHANG, and "nothing yet" EAGAIN.
    let hang = if nonblocking { libc::WNOHANG } else { 0 };
    let r = wait_child(t, pid, options | hang, consume)?;
    if r.is_none() && nonblocking && options & libc::WNOHANG == 0 {
        return Err(Errno::EAGAIN);
    }
    if !a.addr(2).is_null() {
        let info = match r {
            None => SigInfo::new(0, 0),
            Some((cpid, st, ev, _)) => {
                let (code, v) = if ev == ChildEvent::Stopped {
                    (libc::CLD_STOPPED, (st >> 8) & 0xff)
                } else if ev == ChildEvent::Trapped {
                    (libc::CLD_TRAPPED, (st >> 8) & 0xffff)
                } else if ev == ChildEvent::Continued {
                    (libc::CLD_CONTINUED, libc::SIGCONT)
                } else if st & 0x7f == 0 {
                    (libc::CLD_EXITED, (st >> 8) & 0xff)
                } else if st & 0x80 != 0 {
                    (libc::CLD_DUMPED, st & 0x7f)
                } else {
                    (libc::CLD_KILLED, st & 0x7f)
                };
                SigInfo::child(code, cpid, 0, v)
            }
        };
        let mut info = info;
        if r.is_some() {
            info.signo = libc::SIGCHLD;
        }
        t.copy_out(a.ptr(2), &info)?;
    }
    // The raw call's fifth argument (glibc passes NULL).
    if !a.addr(4).is_null() {
        let ru = r.map_or_else(crate::usermem::zeroed, |w| w.3);
        t.copy_out(a.ptr(4), &ru)?;
    }
    Ok(0)
}

fn sys_set_tid_address(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.clear_child_tid = a.addr(0).get();
    Ok(t.vpid(t.tid) as u64)
}

fn sys_set_robust_list(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.usize(1) != 24 {
        return Err(Errno::EINVAL);
    }
    t.robust_list = a.addr(0).get();
    Ok(0)
}

fn sys_get_robust_list(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let pid = a.int(0);
    if pid != 0 && t.kpid(pid) != Some(t.tid) {
        return Err(Errno::EPERM);
    }
    t.copy_out(a.ptr(1), &t.robust_list)?;
    t.copy_out(a.ptr(2), &24u64)?;
    Ok(0)
}

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;
const ARCH_GET_CPUID: u64 = 0x1011;
const ARCH_SET_CPUID: u64 = 0x1012;

fn sys_arch_prctl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let canonical = |v: u64| v < (1 << 47);
    match a.ulong(0) {
        ARCH_SET_FS => {
            if !canonical(a.ulong(1)) {
                return Err(Errno::EPERM);
            }
            t.regs.fs_base = a.ulong(1);
            Ok(0)
        }
        ARCH_SET_GS => {
            if !canonical(a.ulong(1)) {
                return Err(Errno::EPERM);
            }
            t.regs.gs_base = a.ulong(1);
            Ok(0)
        }
        ARCH_GET_FS => t.copy_out(a.ptr(1), &t.regs.fs_base).map(|_| 0),
        ARCH_GET_GS => t.copy_out(a.ptr(1), &t.regs.gs_base).map(|_| 0),
        ARCH_GET_CPUID => Ok(1),
        ARCH_SET_CPUID => Err(Errno::ENODEV),
        other => {
            t.kernel
                .report_unsupported(libc::SYS_arch_prctl as usize, other, "arch_prctl");
            Err(Errno::EINVAL)
        }
    }
}

fn sys_getpid(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    Ok(t.vpid(t.tgid()) as u64)
}

fn sys_gettid(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    Ok(t.vpid(t.tid) as u64)
}

fn sys_getppid(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    Ok(t.vppid() as u64)
}

fn group_of(t: &Task, pid: i32) -> Result<Arc<ThreadGroup>, Errno> {
    if pid == 0 {
        return Ok(t.tg.clone());
    }
    if pid < 0 {
        return Err(Errno::ESRCH);
    }
    t.group_by_vpid(pid).ok_or(Errno::ESRCH)
}

fn sys_getpgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let g = group_of(t, a.int(0))?;
    let pgid = g.inner.lock().unwrap().pgid;
    Ok(t.vpid(pgid) as u64)
}

fn sys_getpgrp(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    let pgid = t.tg.inner.lock().unwrap().pgid;
    Ok(t.vpid(pgid) as u64)
}

fn sys_setpgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let pid = a.int(0);
    let pgid = a.int(1);
    if pgid < 0 {
        return Err(Errno::EINVAL);
    }
    let g = group_of(t, pid)?;
    let is_self = Arc::ptr_eq(&g, &t.tg);
    let is_child = g.parent().is_some_and(|p| Arc::ptr_eq(&p, &t.tg));
    if !is_self && !is_child {
        return Err(Errno::ESRCH);
    }
    let my_sid = t.tg.inner.lock().unwrap().sid;
    let mut gi = g.inner.lock().unwrap();
    if gi.sid != my_sid {
        return Err(Errno::EPERM);
    }
    if gi.sid == g.tgid {
        // A session leader cannot change its group.
        return Err(Errno::EPERM);
    }
    gi.pgid = if pgid == 0 {
        g.tgid
    } else {
        t.kpid(pgid).ok_or(Errno::EPERM)?
    };
    Ok(0)
}

fn sys_getsid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let g = group_of(t, a.int(0))?;
    let sid = g.inner.lock().unwrap().sid;
    Ok(t.vpid(sid) as u64)
}

fn sys_setsid(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    let tgid = t.tgid();
    // A process group leader cannot start a session.
    let in_use = t
        .kernel
        .all_groups()
        .iter()
        .any(|g| g.tgid != tgid && g.inner.lock().unwrap().pgid == tgid);
    let mut gi = t.tg.inner.lock().unwrap();
    if gi.pgid == tgid && (in_use || gi.sid == tgid) {
        return Err(Errno::EPERM);
    }
    gi.pgid = tgid;
    gi.sid = tgid;
    drop(gi);
    Ok(t.vpid(tgid) as u64)
}

fn sys_prctl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    match a.int(0) {
        libc::PR_SET_NAME => {
            let mut name = t
                .read_bytes(a.addr(1), 16)
                .or_else(|_| t.read_cstring(a.addr(1), 15))?;
            if let Some(i) = name.iter().position(|c| *c == 0) {
                name.truncate(i);
            }
            name.truncate(15);
            *t.handle.comm.lock().unwrap() = name;
            Ok(0)
        }
        libc::PR_GET_NAME => {
            let mut name = t.handle.comm.lock().unwrap().clone();
            name.resize(16, 0);
            t.write_bytes(a.addr(1), &name)?;
            Ok(0)
        }
        libc::PR_SET_PDEATHSIG | libc::PR_SET_DUMPABLE => Ok(0),
        libc::PR_GET_DUMPABLE => Ok(1),
        libc::PR_SET_NO_NEW_PRIVS
        | libc::PR_GET_NO_NEW_PRIVS
        | libc::PR_CAPBSET_READ
        | libc::PR_CAPBSET_DROP
        | libc::PR_SET_KEEPCAPS
        | libc::PR_GET_KEEPCAPS
        | libc::PR_GET_SECUREBITS
        | libc::PR_SET_SECUREBITS
        | libc::PR_CAP_AMBIENT => super::identity::prctl_privileges(t, a),
        libc::PR_SET_SECCOMP | libc::PR_GET_SECCOMP => super::seccomp::prctl_seccomp(t, a),
        other => {
            t.kernel
                .report_unsupported(libc::SYS_prctl as usize, other as u64, "prctl option");
            Err(Errno::EINVAL)
        }
    }
}

fn sys_personality(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let old = t.personality();
    let new = a.uint(0);
    if new != crate::kernel::personality::QUERY {
        t.set_personality(new);
    }
    Ok(u64::from(old))
}
