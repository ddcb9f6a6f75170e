//! Sending signals: to a task, to a thread group, to oneself, from the
//! runtime or the host outside the sandbox, and the notices a parent gets
//! when its child stops or continues (Linux's
//! kernel/signal.c, the sending half; delivery is the run loop's).

use crate::errno::Errno;
use crate::kernel::signal::{bit, default_action, DefaultAction, SigInfo, NSIG};
use crate::kernel::task::Task;
use crate::kernel::thread_group::{signal_status, ThreadGroup};
use crate::kernel::{Kernel, TaskHandle};
use crate::vfs::dnotify::{Notice, SignalOwner};

impl TaskHandle {
    /// Queues a thread-directed signal (dropped at once if it would be
    /// ignored, as Linux does).
    pub fn send(&self, info: SigInfo) {
        prepare_signal(&self.tg, info.signo);
        {
            let mut s = self.sig.lock().unwrap();
            // A tracer sees even ignored signals.
            if !self.ptrace.is_traced() && ignored(&self.tg, info.signo, s.mask | s.real_blocked) {
                return;
            }
            s.pending.push(info);
        }
        if !kill_group_if_fatal(&self.tg, info.signo, self) {
            self.kick();
        }
    }
}

/// Linux's complete_signal: a signal whose action is to end the process
/// (SIG_DFL, terminate without a core) and that a thread will take ends
/// the whole group at once, as SIGKILL would, instead of waiting for a
/// thread to reach signal delivery. A thread wedged in the Sentry (an
/// execve waiting for its siblings, any sleep that only a kill ends) then
/// dies all the same, so `docker stop` and a forwarded SIGTERM end a stuck
/// sandbox. Not for a traced group (its tracer sees the signal first), nor
/// one sigtimedwait waits for (`real_blocked`).
fn kill_group_if_fatal(tg: &ThreadGroup, sig: i32, taker: &TaskHandle) -> bool {
    if sig == libc::SIGKILL || default_action(sig) != DefaultAction::Terminate {
        return false;
    }
    if tg.actions.lock().unwrap()[(sig - 1) as usize].handler != libc::SIG_DFL as u64 {
        return false;
    }
    {
        let s = taker.sig.lock().unwrap();
        if (s.mask | s.real_blocked) & bit(sig) != 0 {
            return false;
        }
    }
    let tasks = {
        let mut i = tg.inner.lock().unwrap();
        if i.exit.is_some()
            || i.group_exit.is_some()
            || i.tasks.iter().any(|t| t.ptrace.is_traced())
        {
            return false;
        }
        i.group_exit = Some(signal_status(sig, false));
        i.tasks.clone()
    };
    for t in tasks {
        t.kill();
    }
    true
}

/// Whether a signal would be discarded on arrival: ignored (explicitly or by
/// default) and not blocked (a blocked signal's action may change before it
/// is unblocked).
pub fn ignored(tg: &ThreadGroup, sig: i32, mask: u64) -> bool {
    if sig == libc::SIGKILL || sig == libc::SIGSTOP || mask & bit(sig) != 0 {
        return false;
    }
    let a = tg.actions.lock().unwrap()[(sig - 1) as usize];
    a.handler == libc::SIG_IGN as u64
        || (a.handler == libc::SIG_DFL as u64
            && matches!(
                default_action(sig),
                DefaultAction::Ignore | DefaultAction::Continue
            ))
}

impl Task {
    /// Sends a signal to this task itself (SIGPIPE, SIGXFSZ ...).
    pub fn send_signal_self(&self, sig: i32) {
        self.handle.send(SigInfo::user(sig, libc::SI_KERNEL, 0, 0));
    }

    /// A synchronous signal from a fault: if it is blocked or ignored the
    /// task dies of it, as Linux's force_sig does.
    pub fn force_signal(&mut self, info: SigInfo) {
        let sig = info.signo;
        let mask = self.signal_mask();
        let blocked = mask & bit(sig) != 0;
        let reset = {
            let mut acts = self.tg.actions.lock().unwrap();
            let a = &mut acts[(sig - 1) as usize];
            let reset = blocked || a.handler == libc::SIG_IGN as u64;
            if reset {
                a.handler = libc::SIG_DFL as u64;
            }
            reset
        };
        if reset {
            self.set_signal_mask(mask & !bit(sig));
        }
        self.handle.sig.lock().unwrap().pending.push(info);
    }
}

fn is_stop_signal(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU
    )
}

const STOP_SIGNALS: [i32; 4] = [libc::SIGSTOP, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// What sending `sig` does before it is queued (Linux's prepare_signal):
/// SIGCONT resumes a stopped group and discards pending stop signals; a stop
/// signal discards a pending SIGCONT.
pub fn prepare_signal(tg: &ThreadGroup, sig: i32) {
    if sig == libc::SIGCONT {
        let (tasks, resumed) = {
            let mut i = tg.inner.lock().unwrap();
            for s in STOP_SIGNALS {
                i.pending.remove(s);
            }
            let resumed = i.stopped.take().is_some();
            if resumed {
                i.wait_cont_pending = true;
                i.wait_stop_pending = None;
            }
            (i.tasks.clone(), resumed)
        };
        for t in &tasks {
            let mut s = t.sig.lock().unwrap();
            for st in STOP_SIGNALS {
                s.pending.remove(st);
            }
        }
        if resumed {
            tg.stop_queue.notify_all();
            for t in &tasks {
                t.waiter.notify();
            }
            notify_parent_stop(tg, libc::CLD_CONTINUED, libc::SIGCONT);
        }
    } else if is_stop_signal(sig) {
        let tasks = {
            let mut i = tg.inner.lock().unwrap();
            i.pending.remove(libc::SIGCONT);
            i.tasks.clone()
        };
        for t in tasks {
            t.sig.lock().unwrap().pending.remove(libc::SIGCONT);
        }
    }
}

/// Tells the parent a child stopped or continued: SIGCHLD (unless the
/// parent asked for SA_NOCLDSTOP) and a wake-up of its waiters.
pub fn notify_parent_stop(tg: &ThreadGroup, code: i32, sig: i32) {
    let Some(parent) = tg.parent() else { return };
    let act = parent.actions.lock().unwrap()[(libc::SIGCHLD - 1) as usize];
    if act.flags & libc::SA_NOCLDSTOP as u64 == 0 {
        send_group(
            &parent,
            SigInfo::child(code, parent.pidns.nr(tg.tgid), 0, sig),
        );
    }
    parent.child_events.notify_all();
}

/// Queues a process-directed signal and wakes the group's tasks so one that
/// does not block it takes it.
pub fn send_group(tg: &ThreadGroup, info: SigInfo) {
    prepare_signal(tg, info.signo);
    let tasks = {
        let mut i = tg.inner.lock().unwrap();
        if i.exit.is_some() {
            return;
        }
        if info.signo == libc::SIGKILL {
            i.group_exit.get_or_insert(libc::SIGKILL);
            i.tasks.clone()
        } else if i.tasks.iter().all(|t| {
            let s = t.sig.lock().unwrap();
            !t.ptrace.is_traced() && ignored(tg, info.signo, s.mask | s.real_blocked)
        }) {
            return;
        } else {
            i.pending.push(info);
            i.tasks.clone()
        }
    };
    let mut taken = false;
    for t in &tasks {
        if info.signo == libc::SIGKILL {
            t.kill();
        } else if t.sig.lock().unwrap().mask & bit(info.signo) == 0 {
            if !kill_group_if_fatal(tg, info.signo, t) {
                t.kick();
            }
            taken = true;
            break;
        }
    }
    if !taken && info.signo != libc::SIGKILL {
        // Blocked everywhere: nobody is interrupted, but sleepers that wait
        // for pending signals (signalfd, sigtimedwait) must look again.
        for t in &tasks {
            t.waiter.notify();
        }
    }
}

impl Kernel {
    /// Delivers a host signal the sandbox received from outside (`docker
    /// kill`, a terminal's Ctrl-C): one sent by a process goes to init, as a
    /// container runtime's kill does; one from the terminal driver goes to
    /// init's whole process group, as a terminal's foreground job gets it.
    pub fn signal_from_outside(&self, sig: i32, from_terminal: bool) {
        let Some(init) = self.group(1) else { return };
        let info = SigInfo::user(
            sig,
            if from_terminal {
                libc::SI_KERNEL
            } else {
                libc::SI_USER
            },
            0,
            0,
        );
        if !from_terminal {
            send_group(&init, info);
            return;
        }
        let pgid = init.inner.lock().unwrap().pgid;
        for g in self.all_groups() {
            if g.inner.lock().unwrap().pgid == pgid {
                send_group(&g, info);
            }
        }
    }

    /// A signal from the runtime to one process (an `exec`ed one's host
    /// waiter was signalled).
    pub fn signal_process(&self, pid: i32, sig: i32) -> Result<(), Errno> {
        if !(1..=NSIG as i32).contains(&sig) {
            return Err(Errno::EINVAL);
        }
        let g = self.group(pid).ok_or(Errno::ESRCH)?;
        send_group(&g, SigInfo::user(sig, libc::SI_USER, 0, 0));
        Ok(())
    }

    /// A signal from the container runtime (`kill`): to PID 1, or to every
    /// process with `all`. As Linux treats signals from an ancestor PID
    /// namespace, PID 1 ignores those it has no handler for, SIGKILL and
    /// SIGSTOP aside: `docker stop` of a program that does not handle
    /// SIGTERM waits for the grace period, as with runc.
    pub fn signal_from_runtime(&self, sig: i32, all: bool) -> Result<(), Errno> {
        self.signal_container(sig, 0, 1, all)
    }

    /// [`Kernel::signal_from_runtime`] for one container of a pod: to its
    /// init `init`, or with `all` to every process of `container`. A
    /// container's init is treated as the PID 1 of its own namespace.
    pub fn signal_container(
        &self,
        sig: i32,
        container: u32,
        init: i32,
        all: bool,
    ) -> Result<(), Errno> {
        if !(1..=NSIG as i32).contains(&sig) {
            return Err(Errno::EINVAL);
        }
        let info = SigInfo::user(sig, libc::SI_USER, 0, 0);
        let groups = if all {
            self.all_groups()
                .into_iter()
                .filter(|g| g.container() == container)
                .collect()
        } else {
            vec![self.group(init).ok_or(Errno::ESRCH)?]
        };
        for g in groups {
            let default = g
                .actions
                .lock()
                .unwrap()
                .get(sig as usize - 1)
                .is_none_or(|a| a.handler == 0);
            let unstoppable = sig == libc::SIGKILL || sig == libc::SIGSTOP;
            if g.tgid == init && default && !unstoppable {
                continue;
            }
            send_group(&g, info);
        }
        Ok(())
    }
}

/// dnotify's signal to the process that set the mark.
impl SignalOwner for ThreadGroup {
    fn send_notice(&self, n: Notice) {
        let mut info = SigInfo::new(n.signo, n.code);
        if let Some((band, fd)) = n.band {
            // struct sigpoll: si_band (a long), then si_fd.
            info.fields[0] = band;
            info.fields[1] = fd as u32 as u64;
        }
        send_group(self, info);
    }
}
