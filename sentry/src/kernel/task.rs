//! Tasks: one application thread, served by one Sentry OS thread.
//!
//! [`Task`] is owned by its Sentry thread and holds what only that thread
//! touches (registers, the platform context). [`TaskHandle`] is the part other
//! tasks see: signal state, the waiter to wake it, the kill flag.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use platform::{Context, Event, Interrupter, PendingContext, Regs, XSave};

use crate::errno::{Errno, SysResult};
use crate::kernel::signal::{
    self, bit, default_action, AltStack, DefaultAction, Pending, SigInfo, UNBLOCKABLE,
};
use crate::kernel::thread_group::{signal_status, ThreadGroup};
use crate::kernel::{Credentials, Kernel};
use crate::mm::MemoryManager;
use crate::usermem::{as_bytes, from_bytes, Pod, UserAddr, UserPtr};
use crate::vfs::{FdTable, FsContext};
use crate::waiter::{WaitQueue, Waiter};

/// Per-thread signal state.
#[derive(Default)]
pub struct TaskSignals {
    pub mask: u64,
    pub pending: Pending,
    /// The mask to restore after a handler that interrupted sigsuspend.
    pub saved_mask: Option<u64>,
    pub alt: AltStack,
}

/// The shared face of a task.
pub struct TaskHandle {
    pub tid: i32,
    pub tg: Arc<ThreadGroup>,
    pub waiter: Arc<Waiter>,
    pub sig: Mutex<TaskSignals>,
    pub interrupter: Mutex<Option<Interrupter>>,
    /// The task must exit at its next chance (exit_group, execve by another
    /// thread, a fatal signal).
    pub killed: AtomicBool,
    pub creds: Mutex<Credentials>,
    pub comm: Mutex<Vec<u8>>,
    /// CPU time spent in the application and in the Sentry, nanoseconds.
    pub utime_ns: AtomicU64,
    pub stime_ns: AtomicU64,
    /// What /proc shows of this task to others, published by the task.
    pub view: Mutex<TaskView>,
    /// Asleep in [`Task::block`] (state S in /proc; R otherwise).
    pub sleeping: AtomicBool,
    /// Times the task went to sleep (voluntary_ctxt_switches).
    pub nvcsw: AtomicU64,
    /// Its nice value and CPU affinity, as the application set them.
    pub sched: Mutex<SchedAttrs>,
    /// The syscall it serves and what it sleeps on, for the task dump.
    pub activity: crate::kernel::debug::Activity,
}

/// What setpriority and sched_setaffinity set, kept per thread as Linux
/// keeps them (and inherited by a new thread or process). The Sentry
/// reports them back; the host scheduler keeps its own pinning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedAttrs {
    /// -20 (most favoured) to 19.
    pub nice: i32,
    /// The CPUs allowed, a bit per CPU (bytes as the syscall passes them),
    /// or `None` for all.
    pub affinity: Option<Vec<u8>>,
}

/// A task's address space, descriptors and filesystem context as /proc
/// sees them from another task. Weak: a reader never keeps them alive (an
/// address space is destroyed with its last strong reference), so after
/// exit or exec the old ones simply fail to upgrade.
#[derive(Default)]
pub struct TaskView {
    pub mm: Weak<MemoryManager>,
    pub fds: Weak<FdTable>,
    pub fs: Weak<FsContext>,
}

impl TaskHandle {
    /// Wakes the task wherever it is: blocked in the Sentry or running
    /// application code.
    pub fn kick(&self) {
        self.waiter.notify();
        if let Some(i) = self.interrupter.lock().unwrap().as_ref() {
            i.interrupt();
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kick();
    }

    /// Queues a thread-directed signal (dropped at once if it would be
    /// ignored, as Linux does).
    pub fn send(&self, info: SigInfo) {
        crate::kernel::exit::prepare_signal(&self.tg, info.signo);
        {
            let mut s = self.sig.lock().unwrap();
            if ignored(&self.tg, info.signo, s.mask) {
                return;
            }
            s.pending.push(info);
        }
        self.kick();
    }
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

impl TaskHandle {}

pub struct Task {
    pub kernel: Arc<Kernel>,
    pub tid: i32,
    pub handle: Arc<TaskHandle>,
    pub tg: Arc<ThreadGroup>,
    pub mm: Arc<MemoryManager>,
    pub fds: Arc<FdTable>,
    pub fs: Arc<FsContext>,
    pub regs: Regs,
    pub ctx: Option<Box<dyn Context>>,
    /// CLONE_CHILD_CLEARTID / set_tid_address.
    pub clear_child_tid: u64,
    pub robust_list: u64,
    /// Woken when a vfork child execs or exits.
    pub vfork_parent: Option<Arc<VforkDone>>,
    /// Set by a handler that replaced all registers (execve, rt_sigreturn):
    /// the return value must not be written to rax.
    pub regs_replaced: bool,
    pub exit_code: Option<i32>,
}

/// How a vfork parent waits for its child to exec or exit.
#[derive(Default)]
pub struct VforkDone {
    pub done: AtomicBool,
    pub queue: WaitQueue,
}

impl VforkDone {
    pub fn complete(&self) {
        self.done.store(true, Ordering::SeqCst);
        self.queue.notify_all();
    }
}

/// Arguments of one syscall: six registers, read through typed
/// accessors that say what each argument is (as Linux's SYSCALL_DEFINE
/// types them) instead of casts.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyscallArgs {
    pub a: [u64; 6],
}

impl SyscallArgs {
    /// A C `int` (or a descriptor, flags, a signal number): the low 32 bits.
    pub fn int(&self, i: usize) -> i32 {
        self.a[i] as i32
    }

    /// A C `unsigned int`.
    pub fn uint(&self, i: usize) -> u32 {
        self.a[i] as u32
    }

    /// A `size_t`.
    pub fn usize(&self, i: usize) -> usize {
        self.a[i] as usize
    }

    /// An `unsigned long` (flags and counts of the 64-bit ABI).
    pub fn ulong(&self, i: usize) -> u64 {
        self.a[i]
    }

    /// A `long`, `off_t` or `loff_t`.
    pub fn long(&self, i: usize) -> i64 {
        self.a[i] as i64
    }

    /// An untyped user address (`void __user *`).
    pub fn addr(&self, i: usize) -> UserAddr {
        UserAddr(self.a[i])
    }

    /// A typed user pointer (`struct T __user *`).
    pub fn ptr<T>(&self, i: usize) -> UserPtr<T> {
        UserPtr::new(self.a[i])
    }
}

impl Task {
    pub fn ctx(&mut self) -> &mut dyn Context {
        self.ctx
            .as_deref_mut()
            .expect("task without a platform context")
    }

    pub fn creds(&self) -> Credentials {
        self.handle.creds.lock().unwrap().clone()
    }

    pub fn tgid(&self) -> i32 {
        self.tg.tgid
    }

    /// Publishes this task's MM, fd table and fs context for /proc (when
    /// it is spawned, at the start of `run`, and when execve replaces the
    /// MM).
    pub fn publish_view(&self) {
        *self.handle.view.lock().unwrap() = TaskView {
            mm: Arc::downgrade(&self.mm),
            fds: Arc::downgrade(&self.fds),
            fs: Arc::downgrade(&self.fs),
        };
    }

    // ---- application memory ----

    pub fn read_bytes(&self, addr: impl Into<UserAddr>, len: usize) -> Result<Vec<u8>, Errno> {
        let addr = addr.into().get();
        if !self.mm.is_mapped(addr, len as u64) {
            return Err(Errno::EFAULT);
        }
        let mut v = vec![0u8; len];
        self.mm.read(addr, &mut v)?;
        Ok(v)
    }

    pub fn read_into(&self, addr: impl Into<UserAddr>, buf: &mut [u8]) -> Result<(), Errno> {
        self.mm.read(addr.into().get(), buf)
    }

    pub fn write_bytes(&self, addr: impl Into<UserAddr>, data: &[u8]) -> Result<(), Errno> {
        self.mm.write(addr.into().get(), data)
    }

    /// One `T` from application memory (EFAULT unless every byte is
    /// readable).
    pub fn copy_in<T: Pod>(&self, p: impl Into<UserPtr<T>>) -> Result<T, Errno> {
        let mut buf = vec![0u8; std::mem::size_of::<T>()];
        self.mm.read(p.into().addr(), &mut buf)?;
        Ok(from_bytes(&buf))
    }

    /// One `T` into application memory (EFAULT unless every byte is
    /// writable).
    pub fn copy_out<T: Pod>(&self, p: impl Into<UserPtr<T>>, v: &T) -> Result<(), Errno> {
        self.mm.write(p.into().addr(), as_bytes(v))
    }

    pub fn read_cstring(&self, addr: impl Into<UserAddr>, max: usize) -> Result<Vec<u8>, Errno> {
        self.mm.read_cstring(addr.into().get(), max)
    }

    /// A path argument: at most PATH_MAX bytes including the NUL.
    pub fn read_path(&self, addr: impl Into<UserAddr>) -> Result<Vec<u8>, Errno> {
        let p = self
            .mm
            .read_cstring(addr.into().get(), libc::PATH_MAX as usize)?;
        if p.len() >= libc::PATH_MAX as usize {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(p)
    }

    /// Reads an iovec array: (base, len) pairs; EINVAL past IOV_MAX or if
    /// the total overflows ssize_t.
    pub fn read_iovecs(
        &self,
        iov: impl Into<UserPtr<libc::iovec>>,
        count: u64,
    ) -> Result<Vec<(u64, usize)>, Errno> {
        let array = iov.into();
        if count > 1024 {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::with_capacity(count as usize);
        let mut total: u64 = 0;
        for i in 0..count {
            let iov = self.copy_in(array.index(i).ok_or(Errno::EFAULT)?)?;
            let len = iov.iov_len as u64;
            total = total.checked_add(len).ok_or(Errno::EINVAL)?;
            if total > isize::MAX as u64 {
                return Err(Errno::EINVAL);
            }
            out.push((iov.iov_base as u64, len as usize));
        }
        Ok(out)
    }

    /// Reads a NULL-terminated array of string pointers (argv, envp).
    pub fn read_string_array(&self, addr: impl Into<UserAddr>) -> Result<Vec<Vec<u8>>, Errno> {
        let addr = addr.into().get();
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        let mut total = 0usize;
        for i in 0.. {
            let p: u64 = self.copy_in(addr + i * 8)?;
            if p == 0 {
                break;
            }
            let s = self.read_cstring(p, 128 * 1024)?;
            total += s.len() + 1 + 8;
            if total > 2 * 1024 * 1024 {
                return Err(Errno::E2BIG);
            }
            out.push(s);
        }
        Ok(out)
    }

    // ---- signals ----

    pub fn signal_mask(&self) -> u64 {
        self.handle.sig.lock().unwrap().mask
    }

    pub fn set_signal_mask(&self, mask: u64) {
        self.handle.sig.lock().unwrap().mask = mask & !UNBLOCKABLE;
    }

    pub fn alt_stack(&self) -> AltStack {
        self.handle.sig.lock().unwrap().alt
    }

    /// Whether a signal is pending that is not blocked (so a blocking call
    /// must return), or the task must die.
    pub fn interrupted(&self) -> bool {
        if self.handle.killed.load(Ordering::SeqCst) {
            return true;
        }
        // Lock order everywhere: thread group, then task signals, then actions.
        let group = self.tg.inner.lock().unwrap().pending.set;
        let s = self.handle.sig.lock().unwrap();
        (s.pending.set | group) & !s.mask != 0
    }

    /// Sends a signal to this task itself (SIGPIPE, SIGXFSZ ...).
    pub fn send_signal_self(&self, sig: i32) {
        self.handle.send(SigInfo::user(sig, libc::SI_KERNEL, 0, 0));
    }

    /// Sleeps until `cond` holds, a signal arrives (ERESTARTSYS) or the
    /// deadline passes (ETIMEDOUT).
    pub fn block(
        &self,
        queues: &[&WaitQueue],
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno> {
        let w = &self.handle.waiter;
        for q in queues {
            q.add(w);
        }
        let r = self.sleep_until(deadline, cond);
        for q in queues {
            q.remove(w);
        }
        r
    }

    /// The sleep of [`Task::block`] without its queues: the caller has put
    /// this task's waiter (`handle.waiter`) on whatever queues notify it,
    /// and takes it off them afterwards. For a wait that must not keep its
    /// objects alive while it sleeps (epoll_wait).
    pub fn sleep_until(
        &self,
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno> {
        let w = &self.handle.waiter;
        let r = loop {
            if cond() {
                break Ok(());
            }
            if self.interrupted() {
                break Err(Errno::ERESTARTSYS);
            }
            // For /proc: state S and a voluntary context switch.
            self.handle.sleeping.store(true, Ordering::Relaxed);
            self.handle.nvcsw.fetch_add(1, Ordering::Relaxed);
            self.handle.activity.sleeping();
            let woken = w.wait(deadline);
            self.handle.sleeping.store(false, Ordering::Relaxed);
            if !woken {
                break if cond() {
                    Ok(())
                } else {
                    Err(Errno::ETIMEDOUT)
                };
            }
        };
        self.handle.activity.awake();
        r
    }

    /// [`Task::block`], naming what it waits on for the task dump.
    pub fn block_on(
        &self,
        on: crate::kernel::debug::WaitOn,
        queues: &[&WaitQueue],
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno> {
        self.handle.activity.sleeping_on(on);
        self.block(queues, deadline, cond)
    }

    /// Sleeps until the deadline or a signal (nanosleep, pause).
    pub fn sleep(&self, deadline: Option<Instant>) -> Result<(), Errno> {
        match self.block(&[], deadline, &mut || false) {
            Err(Errno::ETIMEDOUT) => Ok(()),
            other => other,
        }
    }

    // ---- FPU state through the platform ----

    pub fn ctx_fpu(&mut self) -> Vec<u8> {
        self.ctx().fpu().map(|x| x.0).unwrap_or_default()
    }

    /// The size of this CPU's XSAVE image as the platform hands it out
    /// (the kernel accepts exactly that size back).
    pub fn ctx_fpu_len(&mut self) -> usize {
        self.ctx().fpu().map(|x| x.0.len()).unwrap_or(0)
    }

    pub fn ctx_set_fpu(&mut self, fp: Vec<u8>) -> Result<(), Errno> {
        self.ctx().set_fpu(&XSave(fp)).map_err(|_| Errno::EFAULT)
    }

    // ---- the run loop ----

    /// Runs the task until it exits. Called on the task's own Sentry thread
    /// after its context is attached.
    pub fn run(mut self) {
        *self.handle.interrupter.lock().unwrap() = self.ctx.as_ref().map(|c| c.interrupter());
        self.publish_view();
        let mut restart: Option<Errno> = None;
        loop {
            if self.handle.killed.load(Ordering::SeqCst) {
                break;
            }
            if self.tg.inner.lock().unwrap().stopped.is_some() {
                self.wait_while_stopped();
                continue;
            }
            self.handle_signals(restart.take());
            if self.handle.killed.load(Ordering::SeqCst) {
                break;
            }
            let mut regs = self.regs;
            let t0 = Instant::now();
            let ev = self.ctx().switch(&mut regs);
            self.handle
                .utime_ns
                .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
            self.regs = regs;
            match ev {
                Event::Syscall => {
                    let nr = self.regs.orig_rax;
                    let args = SyscallArgs {
                        a: [
                            self.regs.rdi,
                            self.regs.rsi,
                            self.regs.rdx,
                            self.regs.r10,
                            self.regs.r8,
                            self.regs.r9,
                        ],
                    };
                    self.regs_replaced = false;
                    self.handle.activity.enter_syscall(nr, &args.a);
                    let r = crate::kernel::syscall_table::dispatch(&mut self, nr, &args);
                    self.handle.activity.leave_syscall();
                    if self.exit_code.is_some() {
                        break;
                    }
                    if !self.regs_replaced {
                        match r {
                            Ok(v) => self.regs.rax = v,
                            Err(e) if e == Errno::ERESTARTSYS || e == Errno::ERESTARTNOHAND => {
                                self.regs.rax = Errno::EINTR.to_ret();
                                restart = Some(e);
                            }
                            Err(e) => self.regs.rax = e.to_ret(),
                        }
                    }
                }
                Event::Fault { signo, addr, code } => {
                    // A store into a page shared copy-on-write is the MM's
                    // to serve; the instruction then runs again.
                    if signo == libc::SIGSEGV && self.mm.fault(addr, code, self.regs.rip) {
                        continue;
                    }
                    self.force_signal(SigInfo::fault(signo, code, addr));
                }
                Event::Trap { signo, addr, code } => {
                    self.force_signal(SigInfo::fault(signo, code, addr));
                }
                Event::Interrupted => {}
                Event::Gone => {
                    // The address space was destroyed under us (exit_group or
                    // execve elsewhere in the group, or a kill).
                    self.handle.killed.store(true, Ordering::SeqCst);
                    break;
                }
            }
        }
        self.exit();
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

    fn take_signal(&mut self) -> Option<SigInfo> {
        let mut s = self.handle.sig.lock().unwrap();
        let mask = s.mask;
        if let Some(i) = s.pending.take(mask) {
            return Some(i);
        }
        drop(s);
        self.tg.inner.lock().unwrap().pending.take(mask)
    }

    /// Delivers pending signals before returning to the application, and
    /// settles an interrupted syscall: restarted, or -EINTR.
    fn handle_signals(&mut self, restart: Option<Errno>) {
        let mut restart = restart;
        while let Some(info) = self.take_signal() {
            let sig = info.signo;
            let act = self.tg.actions.lock().unwrap()[(sig - 1) as usize];
            if act.handler == libc::SIG_IGN as u64 && sig != libc::SIGKILL {
                continue;
            }
            if act.handler == libc::SIG_DFL as u64 || sig == libc::SIGKILL {
                match default_action(sig) {
                    DefaultAction::Ignore | DefaultAction::Continue => continue,
                    DefaultAction::Stop => {
                        self.group_stop(sig);
                        self.wait_while_stopped();
                        continue;
                    }
                    DefaultAction::Terminate | DefaultAction::Core => {
                        let core = default_action(sig) == DefaultAction::Core;
                        self.group_exit(signal_status(sig, core));
                        return;
                    }
                }
            }
            // A handler runs.
            if let Some(e) = restart.take() {
                if e == Errno::ERESTARTSYS && act.flags & libc::SA_RESTART as u64 != 0 {
                    self.rewind_syscall();
                } else {
                    self.regs.rax = Errno::EINTR.to_ret();
                }
            }
            let saved = self.handle.sig.lock().unwrap().saved_mask.take();
            if let Some(m) = saved {
                // The frame must record the mask from before sigsuspend.
                self.set_signal_mask(m);
            }
            if self.setup_frame(&info, &act).is_err() {
                self.force_signal(SigInfo::new(libc::SIGSEGV, libc::SI_KERNEL));
                continue;
            }
            if act.flags & libc::SA_RESETHAND as u64 != 0 {
                self.tg.actions.lock().unwrap()[(sig - 1) as usize] = signal::SigAction::default();
            }
            return;
        }
        if let Some(_e) = restart {
            // No handler ran: the call restarts transparently.
            self.rewind_syscall();
        }
        let saved = self.handle.sig.lock().unwrap().saved_mask.take();
        if let Some(m) = saved {
            self.set_signal_mask(m);
        }
    }

    /// Stops the whole thread group (a stop signal's default action).
    fn group_stop(&mut self, sig: i32) {
        let others = {
            let mut g = self.tg.inner.lock().unwrap();
            if g.group_exit.is_some() {
                return;
            }
            g.stopped = Some(sig);
            g.wait_stop_pending = Some(sig);
            g.wait_cont_pending = false;
            g.tasks
                .iter()
                .filter(|t| t.tid != self.tid)
                .cloned()
                .collect::<Vec<_>>()
        };
        for t in others {
            t.kick();
        }
        crate::kernel::exit::notify_parent_stop(&self.tg, libc::CLD_STOPPED, sig);
    }

    /// Sleeps while the group is stopped; only SIGCONT or a kill ends it.
    pub fn wait_while_stopped(&self) {
        let w = &self.handle.waiter;
        self.tg.stop_queue.add(w);
        self.handle
            .activity
            .sleeping_on(crate::kernel::debug::WaitOn::GroupStop);
        loop {
            if self.handle.killed.load(Ordering::SeqCst)
                || self.tg.inner.lock().unwrap().stopped.is_none()
            {
                break;
            }
            w.wait(None);
        }
        self.handle.activity.awake();
        self.tg.stop_queue.remove(w);
    }

    fn rewind_syscall(&mut self) {
        self.regs.rax = self.regs.orig_rax;
        self.regs.rip -= 2;
    }

    /// Ends the whole thread group with `status` (exit_group, fatal signal).
    pub fn group_exit(&mut self, status: i32) {
        let others: Vec<Arc<TaskHandle>> = {
            let mut tg = self.tg.inner.lock().unwrap();
            if tg.group_exit.is_none() {
                tg.group_exit = Some(status);
            }
            tg.tasks
                .iter()
                .filter(|t| t.tid != self.tid)
                .cloned()
                .collect()
        };
        for t in others {
            t.kill();
        }
        self.exit_code = Some(status);
        self.handle.killed.store(true, Ordering::SeqCst);
    }

    /// Leaves: releases the platform thread, wakes CLONE_CHILD_CLEARTID
    /// waiters, and turns the group into a zombie if this was its last task.
    fn exit(mut self) {
        if self.clear_child_tid != 0
            && self
                .mm
                .write(self.clear_child_tid, &0u32.to_ne_bytes())
                .is_ok()
        {
            let _ = self
                .kernel
                .futexes
                .wake(&self, self.clear_child_tid, 1, u32::MAX, false);
        }
        if let Some(v) = self.vfork_parent.take() {
            v.complete();
        }
        *self.handle.interrupter.lock().unwrap() = None;
        if let Some(ctx) = self.ctx.take() {
            ctx.release();
        }
        // Descriptors close before the parent hears of the exit, as in
        // Linux's do_exit (exit_files before exit_notify): a parent that
        // reaped its child must find the child's pipe ends closed and its
        // epoll interests gone.
        drop(std::mem::replace(&mut self.fds, FdTable::new()));
        // So is the memory (exit_mm): pages the child shared copy-on-write
        // have one owner fewer by the time its parent hears of the exit.
        let empty = MemoryManager::new(self.mm.file.clone(), self.mm.layout.max_addr);
        drop(std::mem::replace(&mut self.mm, empty));
        let status = self.exit_code.unwrap_or(0);
        crate::kernel::exit::task_exited(&self.kernel, &self.handle, &self.tg, status);
    }
}

/// Starts a task on a new Sentry thread. `attach` runs on that thread and
/// produces the platform context (a new thread of an existing address space,
/// or a new address space the task's MM is mapped into).
pub fn spawn(mut task: Task, attach: Attach, fpu: Option<XSave>) -> std::io::Result<()> {
    // Visible in /proc from the moment it exists, not only once running.
    task.publish_view();
    std::thread::Builder::new()
        .name(format!("task-{}", task.tid))
        .stack_size(1 << 20)
        .spawn(move || {
            let ctx = match attach {
                Attach::Thread(p) => p.attach().map_err(|e| e.to_string()),
                Attach::NewAddressSpace => task
                    .kernel
                    .platform
                    .new_address_space()
                    .map_err(|e| e.to_string())
                    .and_then(|mut c| {
                        task.mm.set_address_space(c.address_space());
                        task.mm.map_all(c.as_mut()).map_err(|e| e.to_string())?;
                        Ok(c)
                    }),
            };
            match ctx {
                Ok(mut c) => {
                    if let Some(f) = fpu {
                        let _ = c.set_fpu(&f);
                    }
                    task.ctx = Some(c);
                    task.run();
                }
                Err(e) => {
                    tracing::error!("task {}: cannot start: {e}", task.tid);
                    task.exit_code = Some(signal_status(libc::SIGKILL, false));
                    task.exit();
                }
            }
        })
        .map(|_| ())
}

pub enum Attach {
    Thread(Box<dyn PendingContext>),
    NewAddressSpace,
}

impl Task {
    pub fn new_handle(
        kernel: &Arc<Kernel>,
        tid: i32,
        tg: &Arc<ThreadGroup>,
        creds: Credentials,
        comm: Vec<u8>,
        mask: u64,
    ) -> Arc<TaskHandle> {
        let _ = kernel;
        Arc::new(TaskHandle {
            tid,
            tg: tg.clone(),
            waiter: Waiter::new(),
            sig: Mutex::new(TaskSignals {
                mask,
                ..Default::default()
            }),
            interrupter: Mutex::new(None),
            killed: AtomicBool::new(false),
            creds: Mutex::new(creds),
            comm: Mutex::new(comm),
            utime_ns: AtomicU64::new(0),
            stime_ns: AtomicU64::new(0),
            view: Mutex::new(TaskView::default()),
            sleeping: AtomicBool::new(false),
            nvcsw: AtomicU64::new(0),
            sched: Mutex::new(SchedAttrs::default()),
            activity: Default::default(),
        })
    }

    pub fn syscall_result_for_strace(r: &SysResult) -> i64 {
        match r {
            Ok(v) => *v as i64,
            Err(e) => -(e.0 as i64),
        }
    }
}
