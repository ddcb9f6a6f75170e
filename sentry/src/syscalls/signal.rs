//! Signal syscalls.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::deadline;
use crate::kernel::signal::{bit, SigAction, SigInfo, NSIG, UNBLOCKABLE};
use crate::kernel::signal_send::send_group;
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;
use crate::usermem::UserPtr;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_restart_syscall,
        "restart_syscall",
        Support::Partial("continues nanosleep and relative clock_nanosleep"),
        sys_restart_syscall,
    );
    t.add(
        libc::SYS_rt_sigaction,
        "rt_sigaction",
        Support::Full,
        sys_rt_sigaction,
    );
    t.add(
        libc::SYS_rt_sigprocmask,
        "rt_sigprocmask",
        Support::Full,
        sys_rt_sigprocmask,
    );
    t.add(
        libc::SYS_rt_sigreturn,
        "rt_sigreturn",
        Support::Full,
        sys_rt_sigreturn,
    );
    t.add(
        libc::SYS_sigaltstack,
        "sigaltstack",
        Support::Full,
        sys_sigaltstack,
    );
    t.add(libc::SYS_kill, "kill", Support::Full, sys_kill);
    t.add(libc::SYS_tgkill, "tgkill", Support::Full, sys_tgkill);
    t.add(libc::SYS_tkill, "tkill", Support::Full, sys_tkill);
    t.add(
        libc::SYS_rt_sigqueueinfo,
        "rt_sigqueueinfo",
        Support::Full,
        sys_rt_sigqueueinfo,
    );
    t.add(
        libc::SYS_rt_tgsigqueueinfo,
        "rt_tgsigqueueinfo",
        Support::Full,
        sys_rt_tgsigqueueinfo,
    );
    t.add(
        libc::SYS_rt_sigsuspend,
        "rt_sigsuspend",
        Support::Full,
        sys_rt_sigsuspend,
    );
    t.add(
        libc::SYS_rt_sigtimedwait,
        "rt_sigtimedwait",
        Support::Full,
        sys_rt_sigtimedwait,
    );
    t.add(
        libc::SYS_rt_sigpending,
        "rt_sigpending",
        Support::Full,
        sys_rt_sigpending,
    );
    t.add(libc::SYS_pause, "pause", Support::Full, sys_pause);
}

fn valid_sig(sig: u64) -> Result<i32, Errno> {
    if sig == 0 || sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    Ok(sig as i32)
}

fn sys_rt_sigaction(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let sig = valid_sig(a.ulong(0))?;
    if a.usize(3) != 8 {
        return Err(Errno::EINVAL);
    }
    let new: Option<SigAction> = if !a.addr(1).is_null() {
        Some(t.copy_in(a.ptr(1))?)
    } else {
        None
    };
    if new.is_some() && (sig == libc::SIGKILL || sig == libc::SIGSTOP) {
        return Err(Errno::EINVAL);
    }
    let old = {
        let mut acts = t.tg.actions.lock().unwrap();
        let old = acts[(sig - 1) as usize];
        if let Some(mut n) = new {
            n.mask &= !UNBLOCKABLE;
            acts[(sig - 1) as usize] = n;
        }
        old
    };
    if let Some(n) = new {
        // Setting SIG_IGN discards pending instances (POSIX).
        if n.handler == libc::SIG_IGN as u64 {
            t.handle.sig.lock().unwrap().pending.remove(sig);
            t.tg.inner.lock().unwrap().pending.remove(sig);
        }
    }
    if !a.addr(2).is_null() {
        t.copy_out(a.ptr(2), &old)?;
    }
    Ok(0)
}

fn sys_rt_sigprocmask(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.usize(3) != 8 {
        return Err(Errno::EINVAL);
    }
    let old = t.signal_mask();
    if !a.addr(1).is_null() {
        let set: u64 = t.copy_in(a.ptr(1))?;
        let new = match a.int(0) {
            libc::SIG_BLOCK => old | set,
            libc::SIG_UNBLOCK => old & !set,
            libc::SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        };
        t.set_signal_mask(new);
    }
    if !a.addr(2).is_null() {
        t.copy_out(a.ptr(2), &old)?;
    }
    Ok(0)
}

fn sys_rt_sigreturn(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    // What a handler interrupted is not continued by a later
    // restart_syscall (Linux resets the restart block here too).
    t.restart = None;
    if t.restore_frame().is_err() {
        t.force_signal(SigInfo::new(libc::SIGSEGV, libc::SI_KERNEL));
    }
    t.regs_replaced = true;
    Ok(t.regs.rax)
}

fn sys_sigaltstack(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let cur = t.alt_stack();
    let on = cur.on_stack(t.regs.rsp);
    if !a.addr(1).is_null() {
        let old = libc::stack_t {
            ss_sp: cur.sp as *mut libc::c_void,
            ss_flags: if cur.size == 0 {
                libc::SS_DISABLE
            } else if on {
                libc::SS_ONSTACK
            } else {
                0
            },
            ss_size: cur.size as usize,
        };
        t.copy_out(a.ptr(1), &old)?;
    }
    if !a.addr(0).is_null() {
        let ss: libc::stack_t = t.copy_in(a.ptr(0))?;
        if on {
            return Err(Errno::EPERM);
        }
        let mut s = t.handle.sig.lock().unwrap();
        if ss.ss_flags & libc::SS_DISABLE != 0 {
            s.alt = Default::default();
        } else {
            if ss.ss_flags & !(libc::SS_ONSTACK | (1 << 31)) != 0 {
                return Err(Errno::EINVAL);
            }
            if ss.ss_size < libc::MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            s.alt.sp = ss.ss_sp as u64;
            s.alt.size = ss.ss_size as u64;
        }
    }
    Ok(0)
}

/// May `t` send `sig` to `target`? CAP_KILL, SIGCONT within the session,
/// or Linux's uid rules (kill_ok_by_cred).
pub(super) fn may_signal(t: &Task, target: &ThreadGroup, sig: i32) -> bool {
    let c = t.creds();
    if c.capable(crate::caps::CAP_KILL) {
        return true;
    }
    if sig == libc::SIGCONT {
        let mine = t.tg.inner.lock().unwrap().sid;
        if target.inner.lock().unwrap().sid == mine {
            return true;
        }
    }
    let tasks = target.inner.lock().unwrap().tasks.clone();
    tasks.iter().any(|h| {
        let tc = h.creds.lock().unwrap();
        c.euid == tc.uid || c.euid == tc.suid || c.uid == tc.uid || c.uid == tc.suid
    })
}

/// A signal `t` sends `target` with `code` (SI_USER, SI_TKILL): its
/// si_pid is the sender's pid as the receiver's namespace sees it.
fn user_info(t: &Task, target: &ThreadGroup, sig: i32, code: i32) -> SigInfo {
    SigInfo::user(sig, code, target.pidns.nr(t.tgid()), t.creds().uid)
}

/// Whether the init of a nested PID namespace drops `sig` from `t`: one
/// it has no handler for, sent from inside its namespace; from an
/// ancestor's, SIGKILL and SIGSTOP still reach it (Linux's
/// SIGNAL_UNKILLABLE). The sandbox's own init is left as it was: signals
/// from the runtime are filtered where they enter.
fn init_drops(t: &Task, target: &ThreadGroup, sig: i32) -> bool {
    if sig == 0 || target.pidns.level == 0 || target.pidns.init() != Some(target.tgid) {
        return false;
    }
    let default =
        target.actions.lock().unwrap()[(sig - 1) as usize].handler == libc::SIG_DFL as u64;
    let from_inside = target.pidns.pid_of(t.tgid()).is_some();
    default && (from_inside || !(sig == libc::SIGKILL || sig == libc::SIGSTOP))
}

fn kill_group(t: &Task, g: &Arc<ThreadGroup>, sig: i32) -> Result<(), Errno> {
    if !may_signal(t, g, sig) {
        return Err(Errno::EPERM);
    }
    if sig != 0 && !init_drops(t, g, sig) {
        send_group(g, user_info(t, g, sig, libc::SI_USER));
    }
    Ok(())
}

fn sys_kill(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let pid = a.int(0);
    let sig = a.ulong(1);
    if sig > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let sig = sig as i32;
    if pid > 0 {
        // A thread's id names its process too (Linux's find_vpid).
        let g = t
            .group_by_vpid(pid)
            .or_else(|| t.task_by_vpid(pid).map(|h| h.tg.clone()))
            .ok_or(Errno::ESRCH)?;
        if g.inner.lock().unwrap().exit.is_some() {
            return Ok(0);
        }
        kill_group(t, &g, sig)?;
        return Ok(0);
    }
    let pgid = match pid {
        0 => Some(t.tg.inner.lock().unwrap().pgid),
        -1 => None,
        p if p == i32::MIN => return Err(Errno::ESRCH),
        p => Some(t.kpid(-p).ok_or(Errno::ESRCH)?),
    };
    let mut any = false;
    let mut last_err = Errno::ESRCH;
    for g in t.kernel.all_groups() {
        if !t.sees(&g) {
            continue;
        }
        let gi_pgid = g.inner.lock().unwrap().pgid;
        let hit = match pgid {
            Some(p) => gi_pgid == p,
            // kill(-1) reaches everyone but the caller's init and the
            // caller.
            None => t.vpid(g.tgid) != 1 && g.tgid != t.tgid(),
        };
        if hit {
            match kill_group(t, &g, sig) {
                Ok(()) => any = true,
                Err(e) => last_err = e,
            }
        }
    }
    if any {
        Ok(0)
    } else {
        Err(last_err)
    }
}

fn send_thread(t: &Task, tgid: Option<i32>, tid: i32, info: SigInfo) -> SysResult {
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let h = t.task_by_vpid(tid).ok_or(Errno::ESRCH)?;
    if let Some(g) = tgid {
        if g <= 0 {
            return Err(Errno::EINVAL);
        }
        if t.kpid(g) != Some(h.tg.tgid) {
            return Err(Errno::ESRCH);
        }
    }
    if !may_signal(t, &h.tg, info.signo) {
        return Err(Errno::EPERM);
    }
    if info.signo == 0 || init_drops(t, &h.tg, info.signo) {
        return Ok(0);
    }
    let mut info = info;
    if info.code == libc::SI_TKILL {
        info = user_info(t, &h.tg, info.signo, libc::SI_TKILL);
    }
    if info.signo == libc::SIGKILL {
        send_group(&h.tg, info);
    } else {
        h.send(info);
    }
    Ok(0)
}

fn sys_tgkill(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.ulong(2) > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let info = SigInfo::user(a.int(2), libc::SI_TKILL, t.tgid(), t.creds().uid);
    send_thread(t, Some(a.int(0)), a.int(1), info)
}

fn sys_tkill(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.ulong(1) > NSIG as u64 {
        return Err(Errno::EINVAL);
    }
    let info = SigInfo::user(a.int(1), libc::SI_TKILL, t.tgid(), t.creds().uid);
    send_thread(t, None, a.int(0), info)
}

fn queued_info(t: &Task, sig: u64, uinfo: UserPtr<SigInfo>) -> Result<SigInfo, Errno> {
    let sig = valid_sig(sig)?;
    let mut info: SigInfo = t.copy_in(uinfo)?;
    // Only the kernel may claim kernel codes (and SI_TKILL) for a
    // process other than the caller.
    if info.code >= 0 || info.code == libc::SI_TKILL {
        return Err(Errno::EPERM);
    }
    info.signo = sig;
    Ok(info)
}

fn sys_rt_sigqueueinfo(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let info = queued_info(t, a.ulong(1), a.ptr(2))?;
    let g = t.group_by_vpid(a.int(0)).ok_or(Errno::ESRCH)?;
    if !may_signal(t, &g, info.signo) {
        return Err(Errno::EPERM);
    }
    send_group(&g, info);
    Ok(0)
}

fn sys_rt_tgsigqueueinfo(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let info = queued_info(t, a.ulong(2), a.ptr(3))?;
    send_thread(t, Some(a.int(0)), a.int(1), info)
}

fn sys_rt_sigsuspend(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.usize(1) != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = t.copy_in(a.ptr(0))?;
    let old = t.signal_mask();
    t.handle.sig.lock().unwrap().saved_mask = Some(old);
    t.set_signal_mask(mask);
    let _ = t.sleep(None);
    Err(Errno::ERESTARTNOHAND)
}

fn sys_pause(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    let _ = t.sleep(None);
    Err(Errno::ERESTARTNOHAND)
}

fn sys_rt_sigpending(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.usize(1) > 8 {
        return Err(Errno::EINVAL);
    }
    let set = {
        let g = t.tg.inner.lock().unwrap().pending.set;
        let s = t.handle.sig.lock().unwrap();
        (s.pending.set | g) & s.mask
    };
    t.write_bytes(a.addr(0), &set.to_ne_bytes()[..a.usize(1)])?;
    Ok(0)
}

fn sys_rt_sigtimedwait(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.usize(3) != 8 {
        return Err(Errno::EINVAL);
    }
    let set: u64 = t.copy_in(a.ptr(0))?;
    let set = set & !UNBLOCKABLE;
    let deadline = if !a.addr(2).is_null() {
        let ts: libc::timespec = t.copy_in(a.ptr(2))?;
        Some(deadline::after(deadline::duration_of(&ts)?))
    } else {
        None
    };
    let take = |t: &Task| -> Option<SigInfo> {
        let own = t.handle.sig.lock().unwrap().pending.take(!set);
        let mut info = own.or_else(|| t.tg.inner.lock().unwrap().pending.take(!set))?;
        crate::kernel::posix_timers::delivered(&t.tg, &mut info);
        Some(info)
    };
    // The waited-for signals are unblocked while waiting only in the sense
    // that they end the wait; they are taken here, not delivered.
    let old = t.signal_mask();
    let mut got = take(t);
    if got.is_none() {
        t.set_signal_mask(old & !set);
        t.handle.sig.lock().unwrap().real_blocked = old;
        let mut found = None;
        let tt: &Task = t;
        let r = tt.block(&[], deadline, &mut || {
            if found.is_none() {
                found = take(tt);
            }
            found.is_some()
        });
        t.handle.sig.lock().unwrap().real_blocked = 0;
        t.set_signal_mask(old);
        got = found;
        if got.is_none() {
            return match r {
                Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
                Err(e) => Err(if e == Errno::ERESTARTSYS {
                    Errno::EINTR
                } else {
                    e
                }),
                Ok(()) => Err(Errno::EINTR),
            };
        }
    }
    let info = got.unwrap();
    if !a.addr(1).is_null() {
        t.copy_out(a.ptr(1), &info)?;
    }
    let _ = bit(info.signo);
    Ok(info.signo as u64)
}

/// Continues the call a signal interrupted with ERESTART_RESTARTBLOCK (the
/// run loop points the task here when no handler ran); without a restart
/// block, EINTR, as Linux's do_no_restart_syscall.
fn sys_restart_syscall(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    match t.restart.take() {
        Some(rest) => rest(t),
        None => Err(Errno::EINTR),
    }
}
