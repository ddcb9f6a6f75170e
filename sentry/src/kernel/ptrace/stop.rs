//! The tracee's side: its ptrace-stops, and the hooks the run loop, signal
//! delivery, clone, exec and exit call (each a no-op for an untraced
//! task, decided by one atomic load).
//!
//! A stop runs on the tracee's own Sentry thread, between two switches
//! into the application: the registers are published in the link, the
//! tracer is told (its wait wakes, it gets SIGCHLD with CLD_TRAPPED), and
//! the thread sleeps serving the tracer's jobs until it is resumed,
//! detached or killed; changed registers are taken back on the way out.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::kernel::activity::WaitOn;
use crate::kernel::ptrace::{
    new_link, tracer_exited, Link, Resume, ResumeMode, State, StopKind, Stopped, STOPPED,
};
use crate::kernel::signal::{bit, SigInfo};
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::{Kernel, TaskHandle};

/// EFLAGS.TF: the CPU traps after the next instruction.
pub const TRAP_FLAG: u64 = 0x100;

/// A stop status: `sig` (with a PTRACE_EVENT in bits 8-15) as wait sees it.
fn stop_status(code: i32) -> i32 {
    (code << 8) | STOPPED
}

fn event_code(event: i32) -> i32 {
    libc::SIGTRAP | (event << 8)
}

impl Task {
    pub fn ptrace_link(&self) -> Option<Arc<Link>> {
        self.handle.ptrace.link()
    }

    /// A ptrace-stop of kind `kind`, reported with wait status `status`
    /// and `info` for PTRACE_GETSIGINFO. None when it ends without the
    /// tracer resuming it (killed, or the tracer went away).
    fn ptrace_stop(
        &mut self,
        l: &Arc<Link>,
        kind: StopKind,
        status: i32,
        info: SigInfo,
    ) -> Option<Resume> {
        {
            let mut s = l.state.lock().unwrap();
            if s.detached {
                return None;
            }
            s.stop = Some(Stopped {
                kind,
                status,
                reported: false,
                regs: self.regs,
                regs_dirty: false,
            });
            s.siginfo = Some(info);
            s.resume = None;
            s.listening = false;
        }
        l.notify_tracer(libc::CLD_TRAPPED, (status >> 8) & 0x7f);
        // An exit stop is made by a task already marked to leave; only the
        // tracer (or its going) ends it.
        let exiting = kind == StopKind::Event && self.exit_code.is_some();
        self.handle.activity.sleeping_on(WaitOn::Other);
        let w = self.handle.waiter.clone();
        let resume = loop {
            let job = l.state.lock().unwrap().jobs.pop_front();
            if let Some(job) = job {
                job(self);
                continue;
            }
            if self.handle.killed.load(Ordering::SeqCst) && !exiting {
                break None;
            }
            let group_stopped = self.tg.inner.lock().unwrap().stopped.is_some();
            {
                let mut s = l.state.lock().unwrap();
                if let Some(r) = s.resume.take() {
                    break Some(r);
                }
                if s.detached {
                    break None;
                }
                if s.listening && (s.trap || !group_stopped) {
                    // The group stop ended (or the tracer interrupts): a
                    // new PTRACE_EVENT_STOP reports it.
                    s.trap = true;
                    break Some(Resume {
                        mode: ResumeMode::Cont,
                        sig: 0,
                    });
                }
            }
            w.wait(None);
        };
        self.handle.activity.awake();
        let mut s = l.state.lock().unwrap();
        if let Some(st) = s.stop.take() {
            if st.regs_dirty {
                self.regs = st.regs;
            }
        }
        s.jobs.clear();
        s.listening = false;
        if let Some(r) = resume {
            s.syscalls = r.mode == ResumeMode::Syscall;
            if r.mode == ResumeMode::SingleStep {
                s.stepping = true;
                self.regs.eflags |= TRAP_FLAG;
            } else if s.stepping {
                s.stepping = false;
                self.regs.eflags &= !TRAP_FLAG;
            }
        }
        resume
    }

    /// A PTRACE_EVENT stop with `msg` for PTRACE_GETEVENTMSG, if the
    /// tracer asked for the event with `option`.
    fn ptrace_event(&mut self, option: i32, event: i32, msg: u64) {
        let Some(l) = self.ptrace_link() else { return };
        {
            let mut s = l.state.lock().unwrap();
            if s.options & option as u32 == 0 {
                return;
            }
            s.event_msg = msg;
        }
        let code = event_code(event);
        let info = SigInfo::user(libc::SIGTRAP, code, self.tgid(), self.creds().uid);
        self.ptrace_stop(&l, StopKind::Event, stop_status(code), info);
    }

    /// At the top of the run loop: a due PTRACE_EVENT_STOP (interrupt, a
    /// new seized child) or this task's report of its group's stop. True
    /// when a stop was made (the loop looks again).
    pub fn ptrace_trap(&mut self) -> bool {
        let Some(l) = self.ptrace_link() else {
            return false;
        };
        let group = self.tg.inner.lock().unwrap().stopped;
        let seized = {
            let mut s = l.state.lock().unwrap();
            if group.is_none() {
                s.group_stop_seen = false;
            }
            let due = s.trap || (group.is_some() && !s.group_stop_seen);
            if !due {
                return false;
            }
            s.trap = false;
            if group.is_some() {
                s.group_stop_seen = true;
            }
            s.seized
        };
        let (sig, code) = if seized {
            let sig = group.unwrap_or(libc::SIGTRAP);
            (sig, sig | (libc::PTRACE_EVENT_STOP << 8))
        } else {
            let sig = group.unwrap_or(libc::SIGSTOP);
            (sig, sig)
        };
        let info = SigInfo::user(sig, code, self.tgid(), self.creds().uid);
        self.ptrace_stop(&l, StopKind::Group, stop_status(code), info);
        true
    }

    /// A traced task's part in a group stop it started: a ptrace-stop
    /// instead of sleeping with the group. False if not traced.
    pub fn ptrace_group_stop(&mut self) -> bool {
        let Some(l) = self.ptrace_link() else {
            return false;
        };
        l.state.lock().unwrap().group_stop_seen = false;
        // A stop ended by PTRACE_LISTEN and SIGCONT reports that at once,
        // before the SIGCONT is delivered.
        while self.ptrace_trap() && !self.handle.killed.load(Ordering::SeqCst) {}
        true
    }

    /// Syscall-enter-stop (PTRACE_SYSCALL). The tracer may change the
    /// number and arguments in the registers; false when it cancelled the
    /// call (number -1: rax keeps -ENOSYS or what the tracer put there).
    pub fn ptrace_syscall_enter(&mut self) -> bool {
        let Some(l) = self.ptrace_link() else {
            return true;
        };
        let (on, good) = {
            let s = l.state.lock().unwrap();
            (
                s.syscalls,
                s.options & libc::PTRACE_O_TRACESYSGOOD as u32 != 0,
            )
        };
        if !on {
            return true;
        }
        // What Linux shows at entry: rax is -ENOSYS until the call runs.
        self.regs.rax = crate::errno::Errno::ENOSYS.to_ret();
        self.ptrace_syscall_stop(&l, StopKind::SyscallEnter, good);
        !self.handle.killed.load(Ordering::SeqCst) && self.regs.orig_rax != u64::MAX
    }

    /// Syscall-exit-stop, or the trap of a single step over a syscall.
    pub fn ptrace_syscall_exit(&mut self) {
        let Some(l) = self.ptrace_link() else { return };
        let (on, good, stepping) = {
            let s = l.state.lock().unwrap();
            (
                s.syscalls,
                s.options & libc::PTRACE_O_TRACESYSGOOD as u32 != 0,
                s.stepping,
            )
        };
        if stepping {
            // The step ends after the syscall instruction, as on Linux.
            self.force_signal(SigInfo::new(libc::SIGTRAP, libc::TRAP_TRACE));
        } else if on {
            self.ptrace_syscall_stop(&l, StopKind::SyscallExit, good);
        }
    }

    fn ptrace_syscall_stop(&mut self, l: &Arc<Link>, kind: StopKind, good: bool) {
        let code = libc::SIGTRAP | if good { 0x80 } else { 0 };
        let info = SigInfo::user(libc::SIGTRAP, code, self.tgid(), self.creds().uid);
        if let Some(r) = self.ptrace_stop(l, kind, stop_status(code), info) {
            // A signal given when resuming from a syscall stop is sent.
            if r.sig != 0 {
                self.handle.send(SigInfo::user(r.sig, libc::SI_USER, 0, 0));
            }
        }
    }

    /// Signal-delivery-stop: the tracer sees `info` first and may cancel
    /// it, replace it (a new siginfo through PTRACE_SETSIGINFO or a
    /// made-up SI_USER one) or let it through. None: nothing to deliver.
    pub fn ptrace_signal(&mut self, info: SigInfo) -> Option<SigInfo> {
        let Some(l) = self.ptrace_link() else {
            return Some(info);
        };
        if info.signo == libc::SIGKILL {
            return Some(info);
        }
        let Some(r) = self.ptrace_stop(&l, StopKind::Signal, stop_status(info.signo), info) else {
            // The tracer went away: the signal is delivered as it was.
            return (!self.handle.killed.load(Ordering::SeqCst)).then_some(info);
        };
        if r.sig == 0 {
            return None;
        }
        let given = l.state.lock().unwrap().siginfo;
        let out = given.filter(|i| i.signo == r.sig).unwrap_or_else(|| {
            let pid = l.tracer().map(|g| g.tgid).unwrap_or(0);
            SigInfo::user(r.sig, libc::SI_USER, pid, 0)
        });
        if self.signal_mask() & bit(out.signo) != 0 {
            // A replacement the tracee blocks waits until it unblocks it.
            self.handle.send(out);
            return None;
        }
        Some(out)
    }

    /// A trap the platform reported (EFLAGS.TF or int3): ends a single
    /// step the tracer asked for, with TF cleared and si_code TRAP_TRACE.
    pub fn ptrace_trap_signal(&mut self, info: SigInfo) -> SigInfo {
        let Some(l) = self.ptrace_link() else {
            return info;
        };
        let mut s = l.state.lock().unwrap();
        if info.signo != libc::SIGTRAP || !s.stepping || info.code == libc::SI_KERNEL {
            return info;
        }
        s.stepping = false;
        self.regs.eflags &= !TRAP_FLAG;
        SigInfo::new(libc::SIGTRAP, libc::TRAP_TRACE)
    }

    /// After a successful execve: PTRACE_EVENT_EXEC, or for a tracee
    /// attached the old way without that option, a SIGTRAP.
    pub fn ptrace_exec(&mut self, former_tid: i32) {
        let Some(l) = self.ptrace_link() else { return };
        let (opt, seized) = {
            let s = l.state.lock().unwrap();
            (s.options, s.seized)
        };
        if opt & libc::PTRACE_O_TRACEEXEC as u32 != 0 {
            // The message is the id the thread had before (a thread
            // other than the leader took the leader's).
            let tid = former_tid as u64;
            self.ptrace_event(libc::PTRACE_O_TRACEEXEC, libc::PTRACE_EVENT_EXEC, tid);
        } else if !seized {
            self.handle
                .send(SigInfo::user(libc::SIGTRAP, libc::SI_USER, 0, 0));
        }
    }

    /// Before a new task first runs: it is traced by this task's tracer
    /// if the options ask for its kind (or CLONE_PTRACE does). Returns
    /// the event to report once it is started.
    pub fn ptrace_clone(
        &self,
        child: &Arc<TaskHandle>,
        flags: u64,
        exit_signal: i32,
    ) -> Option<(i32, i32)> {
        let l = self.ptrace_link()?;
        if flags & libc::CLONE_UNTRACED as u64 != 0 {
            return None;
        }
        let (option, event) = if flags & libc::CLONE_VFORK as u64 != 0 {
            (libc::PTRACE_O_TRACEVFORK, libc::PTRACE_EVENT_VFORK)
        } else if exit_signal != libc::SIGCHLD {
            (libc::PTRACE_O_TRACECLONE, libc::PTRACE_EVENT_CLONE)
        } else {
            (libc::PTRACE_O_TRACEFORK, libc::PTRACE_EVENT_FORK)
        };
        let (options, seized) = {
            let s = l.state.lock().unwrap();
            (s.options, s.seized)
        };
        let wanted = options & option as u32 != 0;
        if !wanted && flags & libc::CLONE_PTRACE as u64 == 0 {
            return None;
        }
        let tracer = l.tracer()?;
        let state = State {
            options,
            seized,
            trap: seized,
            ..Default::default()
        };
        let cl = new_link(child, l.tracer_tid, &tracer, state);
        self.kernel.ptrace.add(cl.clone());
        child.ptrace.set(Some(cl));
        if !seized {
            child.send(SigInfo::user(libc::SIGSTOP, libc::SI_USER, 0, 0));
        }
        wanted.then_some((option, event))
    }

    /// The event [`Task::ptrace_clone`] chose, once the child is started.
    pub fn ptrace_clone_event(&mut self, event: Option<(i32, i32)>, child: i32) {
        if let Some((option, event)) = event {
            self.ptrace_event(option, event, child as u64);
        }
    }

    /// PTRACE_EVENT_VFORK_DONE once a vfork child let its parent go.
    pub fn ptrace_vfork_done(&mut self, child: i32) {
        self.ptrace_event(
            libc::PTRACE_O_TRACEVFORKDONE,
            libc::PTRACE_EVENT_VFORK_DONE,
            child as u64,
        );
    }

    /// PTRACE_EVENT_EXIT, as the task starts to leave (registers still
    /// readable). Not for a task killed from elsewhere.
    pub fn ptrace_exit_event(&mut self) {
        if !self.handle.ptrace.is_traced() {
            return;
        }
        let Some(status) = self.exit_code else { return };
        if status == crate::kernel::thread_group::signal_status(libc::SIGKILL, false) {
            return;
        }
        self.ptrace_event(
            libc::PTRACE_O_TRACEEXIT,
            libc::PTRACE_EVENT_EXIT,
            status as u32 as u64,
        );
    }
}

/// After a task left (`exit.rs`, once its group knows): its tracer hears
/// of it, and what it traced is let go.
pub fn exited(k: &Kernel, handle: &Arc<TaskHandle>, tg: &Arc<ThreadGroup>, status: i32) {
    let (zombie, group_status) = {
        let i = tg.inner.lock().unwrap();
        (i.exit, i.group_exit)
    };
    if let Some(l) = handle.ptrace.link() {
        let leader = handle.tid == tg.tgid;
        {
            let mut s = l.state.lock().unwrap();
            s.stop = None;
            s.jobs.clear();
            if !leader {
                s.exited = Some(group_status.unwrap_or(status));
            }
        }
        if !leader {
            l.notify_tracer(libc::CLD_EXITED, status);
        }
    }
    if let Some(st) = zombie {
        // The group is a zombie: the tracer of its leader hears of it.
        let leader = k
            .ptrace
            .all()
            .into_iter()
            .find(|l| Arc::ptr_eq(&l.tracee_tg, tg) && l.tracee_tid == tg.tgid);
        if let Some(l) = leader {
            l.notify_tracer(libc::CLD_EXITED, st);
        }
    }
    tracer_exited(k, handle.tid, tg, zombie.is_some());
}
