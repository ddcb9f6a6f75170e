//! ptrace between sandboxed tasks: the tracer/tracee relation and its
//! stops (Linux's kernel/ptrace.c and the ptrace half of kernel/signal.c;
//! gVisor's kernel/ptrace.go).
//!
//! A traced task's [`TaskHandle`] holds its [`Link`] (`TaskHandle::ptrace`);
//! the kernel's [`Registry`] lists every link, so a tracer's wait finds
//! its tracees and a tracer's exit finds what it traced. The tracee stops
//! on its own Sentry thread ([`stop`]): it publishes its registers in the
//! link and sleeps until the tracer resumes or detaches it; meanwhile the
//! tracer reads and changes the published copy, and what needs the
//! tracee's platform context (its FPU state) runs as a [`Job`] on the
//! tracee's thread. Memory goes through the tracee's MM directly.
//!
//! Files: this one holds the relation (attach, detach, access checks, the
//! tracer's exit); `stop.rs` the tracee's side (the hooks the run loop,
//! signal delivery, clone, exec and exit call); `wait.rs` what a tracer's
//! wait sees; `user.rs` the register views (`struct user`, regsets).

pub mod stop;
pub mod user;
pub mod wait;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use platform::Regs;

use crate::errno::Errno;
use crate::kernel::signal::SigInfo;
use crate::kernel::signal_send::send_group;
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::{Kernel, TaskHandle};

/// Every PTRACE_O_* option Linux knows (PTRACE_O_MASK).
pub const OPTIONS_MASK: u32 = (libc::PTRACE_O_TRACESYSGOOD
    | libc::PTRACE_O_TRACEFORK
    | libc::PTRACE_O_TRACEVFORK
    | libc::PTRACE_O_TRACECLONE
    | libc::PTRACE_O_TRACEEXEC
    | libc::PTRACE_O_TRACEVFORKDONE
    | libc::PTRACE_O_TRACEEXIT
    | libc::PTRACE_O_TRACESECCOMP
    | libc::PTRACE_O_EXITKILL
    | libc::PTRACE_O_SUSPEND_SECCOMP) as u32;

/// The wait status of a stopped child: the low byte.
pub const STOPPED: i32 = 0x7f;

/// What a stop is, for PTRACE_GET_SYSCALL_INFO and PTRACE_LISTEN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopKind {
    /// A signal is about to be delivered; the tracer may change it.
    Signal,
    SyscallEnter,
    SyscallExit,
    /// A PTRACE_EVENT_* stop other than PTRACE_EVENT_STOP.
    Event,
    /// PTRACE_EVENT_STOP (seized: interrupt, group stop, new child) or a
    /// group stop of a task attached the old way.
    Group,
}

/// How the tracer lets the tracee go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResumeMode {
    Cont,
    Syscall,
    SingleStep,
    /// PTRACE_LISTEN: stay stopped, but report the end of the group stop.
    Listen,
    Detach,
}

#[derive(Clone, Copy, Debug)]
pub struct Resume {
    pub mode: ResumeMode,
    /// The signal to deliver (a signal-delivery-stop's replacement), or 0.
    pub sig: i32,
}

/// Work the tracer needs done on the tracee's own thread (anything that
/// needs its platform context).
pub type Job = Box<dyn FnOnce(&mut Task) + Send>;

/// A stop in progress: what the tracee published for the tracer.
pub struct Stopped {
    pub kind: StopKind,
    /// The wait status the tracer's wait returns.
    pub status: i32,
    /// Whether a wait has returned it already.
    pub reported: bool,
    /// The tracee's registers; the tracer may change them.
    pub regs: Regs,
    /// The tracer changed `regs`.
    pub regs_dirty: bool,
}

/// The relation of one tracee and its tracer, and the stop in progress.
pub struct Link {
    pub tracee_tid: i32,
    pub tracee: Weak<TaskHandle>,
    pub tracee_tg: Arc<ThreadGroup>,
    /// The thread that attached (PTRACE_TRACEME: the parent's leader).
    pub tracer_tid: i32,
    pub tracer_tg: Weak<ThreadGroup>,
    pub state: Mutex<State>,
}

#[derive(Default)]
pub struct State {
    pub options: u32,
    pub seized: bool,
    pub stop: Option<Stopped>,
    pub resume: Option<Resume>,
    pub jobs: VecDeque<Job>,
    /// PTRACE_GETEVENTMSG.
    pub event_msg: u64,
    /// The siginfo of the last stop (PTRACE_GETSIGINFO/SETSIGINFO).
    pub siginfo: Option<SigInfo>,
    /// Stop at syscall entry and exit (PTRACE_SYSCALL).
    pub syscalls: bool,
    /// The tracee runs one instruction (PTRACE_SINGLESTEP); we set TF.
    pub stepping: bool,
    /// A PTRACE_EVENT_STOP is due (PTRACE_INTERRUPT, a new seized child).
    pub trap: bool,
    /// The tracee reported the current group stop and was let go.
    pub group_stop_seen: bool,
    pub listening: bool,
    /// The tracee (a thread other than its group's leader) exited with
    /// this wait status, not yet reaped by the tracer.
    pub exited: Option<i32>,
    /// The link is gone (detached, or the tracee reaped).
    pub detached: bool,
    /// u_debugreg: the addresses and status gdb reads and writes back.
    pub debugreg: [u64; 8],
}

impl Link {
    pub fn tracer(&self) -> Option<Arc<ThreadGroup>> {
        self.tracer_tg.upgrade()
    }

    /// Tells the tracer its tracee changed state: its waiters wake and it
    /// gets SIGCHLD (which gdb's event loop waits for).
    pub fn notify_tracer(&self, code: i32, status: i32) {
        let Some(tracer) = self.tracer() else { return };
        let uid = self
            .tracee
            .upgrade()
            .map(|h| h.creds.lock().unwrap().uid)
            .unwrap_or(0);
        send_group(&tracer, SigInfo::child(code, self.tracee_tid, uid, status));
        tracer.child_events.notify_all();
    }

    fn kick_tracee(&self) {
        if let Some(h) = self.tracee.upgrade() {
            h.kick();
        }
    }
}

/// A task's side of the relation: its link while it is traced.
#[derive(Default)]
pub struct TraceeSlot {
    /// A lock-free answer for the per-syscall check.
    traced: AtomicBool,
    link: Mutex<Option<Arc<Link>>>,
}

impl TraceeSlot {
    pub fn is_traced(&self) -> bool {
        self.traced.load(Ordering::Acquire)
    }

    pub fn link(&self) -> Option<Arc<Link>> {
        if !self.is_traced() {
            return None;
        }
        self.link.lock().unwrap().clone()
    }

    fn set(&self, l: Option<Arc<Link>>) {
        let mut g = self.link.lock().unwrap();
        self.traced.store(l.is_some(), Ordering::Release);
        *g = l;
    }

    /// Whether the task sits in a ptrace-stop (/proc's `t`).
    pub fn in_stop(&self) -> bool {
        self.link()
            .is_some_and(|l| l.state.lock().unwrap().stop.is_some())
    }

    /// Its tracer's process id, or 0 (/proc's TracerPid).
    pub fn tracer_pid(&self) -> i32 {
        self.link()
            .and_then(|l| l.tracer())
            .map(|g| g.tgid)
            .unwrap_or(0)
    }

    /// Whether the tracee must come to a PTRACE_EVENT_STOP (a sleeping
    /// syscall returns for it, as for a signal).
    pub fn trap_wanted(&self) -> bool {
        self.link().is_some_and(|l| l.state.lock().unwrap().trap)
    }
}

/// Every link of a kernel, for the tracers' waits and exits.
#[derive(Default)]
pub struct Registry {
    links: Mutex<Vec<Arc<Link>>>,
}

impl Registry {
    /// The links whose tracer is in thread group `tgid`.
    pub fn traced_by(&self, tracer: &Arc<ThreadGroup>) -> Vec<Arc<Link>> {
        self.links
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.tracer_tg.as_ptr() == Arc::as_ptr(tracer))
            .cloned()
            .collect()
    }

    pub fn all(&self) -> Vec<Arc<Link>> {
        self.links.lock().unwrap().clone()
    }

    fn add(&self, l: Arc<Link>) {
        self.links.lock().unwrap().push(l);
    }

    pub fn remove(&self, l: &Arc<Link>) {
        self.links.lock().unwrap().retain(|x| !Arc::ptr_eq(x, l));
    }
}

/// Ends a link: the tracee is no longer traced (it may already be gone).
pub fn unlink(k: &Kernel, l: &Arc<Link>) {
    k.ptrace.remove(l);
    let mut s = l.state.lock().unwrap();
    s.detached = true;
    s.jobs.clear();
    drop(s);
    if let Some(h) = l.tracee.upgrade() {
        let mine = h
            .ptrace
            .link
            .lock()
            .unwrap()
            .as_ref()
            .is_some_and(|x| Arc::ptr_eq(x, l));
        if mine {
            h.ptrace.set(None);
        }
    }
}

/// A tracee that took its leader's id at execve (`exec.rs`) stays traced
/// under its new handle: its link is made anew with the new id and the
/// old link's state.
pub fn move_tracee(k: &Kernel, old: &Arc<TaskHandle>, new: &Arc<TaskHandle>) {
    let Some(l) = old.ptrace.link() else { return };
    let state = std::mem::take(&mut *l.state.lock().unwrap());
    let moved = Arc::new(Link {
        tracee_tid: new.tid,
        tracee: Arc::downgrade(new),
        tracee_tg: new.tg.clone(),
        tracer_tid: l.tracer_tid,
        tracer_tg: l.tracer_tg.clone(),
        state: Mutex::new(state),
    });
    k.ptrace.remove(&l);
    old.ptrace.set(None);
    k.ptrace.add(moved.clone());
    new.ptrace.set(Some(moved));
}

fn new_link(
    tracee: &Arc<TaskHandle>,
    tracer_tid: i32,
    tracer_tg: &Arc<ThreadGroup>,
    state: State,
) -> Arc<Link> {
    Arc::new(Link {
        tracee_tid: tracee.tid,
        tracee: Arc::downgrade(tracee),
        tracee_tg: tracee.tg.clone(),
        tracer_tid,
        tracer_tg: Arc::downgrade(tracer_tg),
        state: Mutex::new(state),
    })
}

impl Task {
    /// PTRACE_TRACEME: the parent becomes the tracer.
    pub fn ptrace_traceme(&self) -> Result<(), Errno> {
        if self.handle.ptrace.is_traced() {
            return Err(Errno::EPERM);
        }
        let parent = self.tg.parent().ok_or(Errno::EPERM)?;
        let l = new_link(&self.handle, parent.tgid, &parent, State::default());
        self.kernel.ptrace.add(l.clone());
        self.handle.ptrace.set(Some(l));
        Ok(())
    }

    /// PTRACE_ATTACH (a SIGSTOP follows) and PTRACE_SEIZE (with options).
    pub fn ptrace_attach(&self, tid: i32, seize: Option<u32>) -> Result<(), Errno> {
        let target = self.task_by_vpid(tid).ok_or(Errno::ESRCH)?;
        if Arc::ptr_eq(&target.tg, &self.tg) {
            return Err(Errno::EPERM);
        }
        if target.tg.inner.lock().unwrap().group_exit.is_some() {
            return Err(Errno::EPERM);
        }
        if !self.may_access(&target, crate::kernel::access::PtraceMode::AttachRealCreds) {
            return Err(Errno::EPERM);
        }
        let state = State {
            options: seize.unwrap_or(0),
            seized: seize.is_some(),
            ..Default::default()
        };
        let l = new_link(&target, self.tid, &self.tg, state);
        {
            // Checked and set under the slot's lock: two tracers racing
            // for one task cannot both win.
            let mut g = target.ptrace.link.lock().unwrap();
            if g.is_some() {
                return Err(Errno::EPERM);
            }
            target.ptrace.traced.store(true, Ordering::Release);
            *g = Some(l.clone());
        }
        // Belt and braces: a tracer sees calls only after a stop, which
        // takes a new snapshot anyway.
        target.revoke_guest_answers();
        self.kernel.ptrace.add(l);
        if seize.is_none() {
            target.send(SigInfo::user(
                libc::SIGSTOP,
                libc::SI_USER,
                target.tg.pidns.nr(self.tgid()),
                self.creds().uid,
            ));
        } else if target.tg.inner.lock().unwrap().stopped.is_some() {
            // A seized task already in a group stop reports it.
            target.kick();
        }
        Ok(())
    }

    /// Whether an execve must not honour set-user-ID and set-group-ID
    /// bits: the task is traced by one without CAP_SYS_PTRACE.
    pub fn ptrace_exec_unsafe(&self) -> bool {
        let Some(l) = self.handle.ptrace.link() else {
            return false;
        };
        let tracer = self.kernel.task(l.tracer_tid);
        !tracer.is_some_and(|t| t.creds.lock().unwrap().capable(crate::caps::CAP_SYS_PTRACE))
    }

    /// The link through which this task traces `tid`; ESRCH unless it is
    /// this task's tracee.
    pub fn ptrace_tracee(&self, tid: i32) -> Result<Arc<Link>, Errno> {
        let h = self.task_by_vpid(tid).ok_or(Errno::ESRCH)?;
        let l = h.ptrace.link().ok_or(Errno::ESRCH)?;
        if l.tracer_tg.as_ptr() != Arc::as_ptr(&self.tg) {
            return Err(Errno::ESRCH);
        }
        Ok(l)
    }

    /// The link of a tracee in a ptrace-stop (not listening): what most
    /// requests need (Linux's ptrace_check_attach).
    pub fn ptrace_stopped(&self, tid: i32) -> Result<Arc<Link>, Errno> {
        let l = self.ptrace_tracee(tid)?;
        {
            let s = l.state.lock().unwrap();
            if s.stop.is_none() || s.listening || s.detached {
                return Err(Errno::ESRCH);
            }
        }
        Ok(l)
    }
}

/// Runs `f` on the stopped tracee's own thread and returns its result;
/// ESRCH if the tracee leaves the stop (it was killed) first.
pub fn on_tracee<R: Send + 'static>(
    l: &Link,
    f: impl FnOnce(&mut Task) -> R + Send + 'static,
) -> Result<R, Errno> {
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let mut s = l.state.lock().unwrap();
        if s.stop.is_none() || s.detached {
            return Err(Errno::ESRCH);
        }
        s.jobs.push_back(Box::new(move |t: &mut Task| {
            let _ = tx.send(f(t));
        }));
    }
    if let Some(h) = l.tracee.upgrade() {
        h.waiter.notify();
    }
    rx.recv().map_err(|_| Errno::ESRCH)
}

/// Lets a stopped tracee go on.
pub fn resume(k: &Kernel, l: &Arc<Link>, mode: ResumeMode, sig: i32) -> Result<(), Errno> {
    if !(0..=crate::kernel::signal::NSIG as i32).contains(&sig) {
        return Err(Errno::EIO);
    }
    {
        let mut s = l.state.lock().unwrap();
        if mode == ResumeMode::Listen {
            let group = s.stop.as_ref().is_some_and(|st| st.kind == StopKind::Group);
            if !s.seized || !group {
                return Err(Errno::EIO);
            }
            s.listening = true;
            drop(s);
            l.kick_tracee();
            return Ok(());
        }
        s.resume = Some(Resume { mode, sig });
    }
    if mode == ResumeMode::Detach {
        unlink(k, l);
    }
    if let Some(h) = l.tracee.upgrade() {
        h.waiter.notify();
    }
    Ok(())
}

/// PTRACE_INTERRUPT: a PTRACE_EVENT_STOP at the tracee's next chance.
pub fn interrupt(l: &Arc<Link>) -> Result<(), Errno> {
    {
        let mut s = l.state.lock().unwrap();
        if !s.seized {
            return Err(Errno::EIO);
        }
        s.trap = true;
    }
    l.kick_tracee();
    Ok(())
}

/// A tracer thread left: what it traced is let go, or killed with
/// PTRACE_O_EXITKILL. `group_gone`: its whole thread group is gone, so
/// are links made through PTRACE_TRACEME to it.
pub fn tracer_exited(k: &Kernel, tid: i32, tg: &Arc<ThreadGroup>, group_gone: bool) {
    for l in k.ptrace.traced_by(tg) {
        if l.tracer_tid != tid && !group_gone {
            continue;
        }
        let kill = l.state.lock().unwrap().options & libc::PTRACE_O_EXITKILL as u32 != 0;
        {
            let mut s = l.state.lock().unwrap();
            if s.stop.is_some() {
                s.resume = Some(Resume {
                    mode: ResumeMode::Detach,
                    sig: 0,
                });
            }
        }
        unlink(k, &l);
        if kill {
            send_group(&l.tracee_tg, SigInfo::new(libc::SIGKILL, libc::SI_USER));
        }
        l.kick_tracee();
    }
}
