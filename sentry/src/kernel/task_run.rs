//! A task's run loop: switch into the application, serve what stopped it
//! (a syscall through the table, a fault), deliver pending signals, and
//! stop with the group; and starting a task on its own Sentry thread.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use platform::{Event, PendingContext, XSave};

use crate::errno::Errno;
use crate::kernel::activity::WaitOn;
use crate::kernel::guest_answers;
use crate::kernel::posix_timers;
use crate::kernel::signal::{default_action, DefaultAction, SigAction, SigInfo};
use crate::kernel::signal_send::notify_parent_stop;
use crate::kernel::sleeper::TaskSleeper;
use crate::kernel::syscall_table::dispatch;
use crate::kernel::task::{SyscallArgs, Task};
use crate::kernel::thread_group::signal_status;
use crate::mm::Fault;

impl Task {
    /// Runs the task until it exits. Called on the task's own Sentry thread
    /// after its context is attached.
    pub fn run(mut self) {
        *self.handle.interrupter.lock().unwrap() = self.ctx.as_ref().map(|c| c.interrupter());
        // The MM waits for a userfaultfd with this when the Sentry itself
        // touches a page one must fill.
        crate::waiter::set_thread_sleeper(Some(Arc::new(TaskSleeper {
            tid: self.tid,
            handle: self.handle.clone(),
            tg: self.tg.clone(),
        })));
        // fanotify events name the process acting on this thread: set once
        // for the thread's task (and again by exec, which may change its
        // tid), not on every syscall.
        crate::vfs::fanotify::set_actor(self.tg.tgid, self.tid);
        self.publish_view();
        let mut restart: Option<Errno> = None;
        loop {
            if self.handle.killed.load(Ordering::SeqCst) {
                break;
            }
            if self.ptrace_trap() {
                continue;
            }
            // A traced task reports a group stop to its tracer instead.
            if !self.handle.ptrace.is_traced() && self.tg.inner.lock().unwrap().stopped.is_some() {
                self.wait_while_stopped();
                continue;
            }
            self.handle_signals(restart.take());
            if self.handle.killed.load(Ordering::SeqCst) {
                break;
            }
            if self.kernel.freezer.holds(self.tg.container()) {
                // Paused: signals that came meanwhile are delivered after.
                self.wait_while_frozen();
                continue;
            }
            let mut regs = self.regs;
            let (kernel, handle, tg, tid) = (&self.kernel, &self.handle, &self.tg, self.tid);
            if let Some(ctx) = self.ctx.as_deref_mut() {
                ctx.offer_guest_answers(&mut || guest_answers::snapshot(kernel, handle, tg, tid));
            }
            let t0 = Instant::now();
            let ev = self.ctx().switch(&mut regs);
            let clock = self.ctx().host_cpu_clock();
            let ran = self.cpu_charge.charge(t0.elapsed(), clock);
            self.handle
                .utime_ns
                .fetch_add(ran.as_nanos() as u64, Ordering::Relaxed);
            self.regs = regs;
            if self.tg.cpu_watched.load(Ordering::Relaxed) {
                self.check_cpu_limit();
            }
            if self.tg.cpu_timers.any() {
                let ns = self.handle.utime_ns.load(Ordering::Relaxed);
                let tg = &self.tg;
                tg.cpu_timers.fire_due(self.tid, ns, &|| tg.cpu_time_ns());
            }
            let ev = self.syscall_in_patch(ev);
            match ev {
                Event::Syscall => {
                    // A call made as the pause came starts after the resume.
                    self.wait_while_frozen();
                    if self.handle.killed.load(Ordering::SeqCst) {
                        break;
                    }
                    self.patch_syscall_site();
                    if !self.ptrace_syscall_enter() {
                        // The tracer cancelled the call: rax is what it
                        // left there.
                        self.ptrace_syscall_exit();
                        continue;
                    }
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
                    let r = dispatch(&mut self, nr, &args);
                    self.handle.activity.leave_syscall();
                    if self.exit_code.is_some() {
                        break;
                    }
                    if !self.regs_replaced {
                        match r {
                            Ok(v) => self.regs.rax = v,
                            Err(e)
                                if e == Errno::ERESTARTSYS
                                    || e == Errno::ERESTARTNOINTR
                                    || e == Errno::ERESTARTNOHAND
                                    || e == Errno::ERESTART_RESTARTBLOCK =>
                            {
                                // Until signal delivery settles it (EINTR or
                                // a restart), a tracer sees what Linux shows.
                                self.regs.rax = e.to_ret();
                                restart = Some(e);
                            }
                            Err(e) => self.regs.rax = e.to_ret(),
                        }
                    }
                    self.ptrace_syscall_exit();
                }
                Event::Fault { signo, addr, code } => {
                    // A store into a page shared copy-on-write, or a touch
                    // of a file mapping not read in yet, is the MM's to
                    // serve; the instruction then runs again.
                    match self.mm.fault(signo, addr, code, self.regs.rip) {
                        Fault::Served => continue,
                        Fault::Missing(uffd) => {
                            // The page is a userfaultfd's to fill: wait for
                            // it (a signal ends the wait; the instruction
                            // faults again after its handler), then run
                            // the instruction again.
                            let _ = uffd
                                .wait_fault(addr, 0, self.tid, &mut |q, c| self.block(q, None, c));
                            continue;
                        }
                        Fault::Signal { signo, code } => {
                            self.force_signal(SigInfo::fault(signo, code, addr))
                        }
                    }
                }
                Event::Trap { signo, addr, code } => {
                    let info = self.ptrace_trap_signal(SigInfo::fault(signo, code, addr));
                    self.force_signal(info);
                }
                Event::Interrupted => {}
                Event::Gone => {
                    // The address space was destroyed under us: exit_group or
                    // execve elsewhere in the group, or a kill, each of which
                    // marks this task first; otherwise the host killed the
                    // process the application runs in (its OOM killer under
                    // a memory limit), which is a SIGKILL of the group, as
                    // Linux's OOM killer gives it.
                    let asked = self.handle.killed.load(Ordering::SeqCst)
                        || self.tg.inner.lock().unwrap().group_exit.is_some();
                    if !asked {
                        tracing::warn!(
                            "task {}: the host killed its process (out of memory?); the group dies by SIGKILL",
                            self.tid
                        );
                        self.group_exit(signal_status(libc::SIGKILL, false));
                    }
                    self.handle.killed.store(true, Ordering::SeqCst);
                    break;
                }
            }
        }
        self.exit();
    }

    fn take_signal(&mut self) -> Option<SigInfo> {
        let mut s = self.handle.sig.lock().unwrap();
        let mask = s.mask;
        let own = s.pending.take(mask);
        drop(s);
        let mut info = own.or_else(|| self.tg.inner.lock().unwrap().pending.take(mask))?;
        posix_timers::delivered(&self.tg, &mut info);
        Some(info)
    }

    /// Delivers pending signals before returning to the application, and
    /// settles an interrupted syscall: restarted, or -EINTR.
    fn handle_signals(&mut self, restart: Option<Errno>) {
        let mut restart = restart;
        while let Some(info) = self.take_signal() {
            let Some(info) = self.ptrace_signal(info) else {
                continue;
            };
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
                        if !self.ptrace_group_stop() {
                            self.wait_while_stopped();
                        }
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
                let restarts = e == Errno::ERESTARTNOINTR
                    || (e == Errno::ERESTARTSYS && act.flags & libc::SA_RESTART as u64 != 0);
                if restarts {
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
                self.tg.actions.lock().unwrap()[(sig - 1) as usize] = SigAction::default();
            }
            return;
        }
        if let Some(e) = restart {
            // No handler ran: the call restarts transparently (through
            // restart_syscall if it left a restart block).
            self.rewind_syscall();
            if e == Errno::ERESTART_RESTARTBLOCK {
                self.regs.rax = libc::SYS_restart_syscall as u64;
            }
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
        notify_parent_stop(&self.tg, libc::CLD_STOPPED, sig);
    }

    /// Sleeps while the group is stopped; only SIGCONT or a kill ends it.
    pub fn wait_while_stopped(&self) {
        let w = &self.handle.waiter;
        self.tg.stop_queue.add(w);
        self.handle.activity.sleeping_on(WaitOn::GroupStop);
        loop {
            if self.handle.killed.load(Ordering::SeqCst)
                || self.tg.inner.lock().unwrap().stopped.is_none()
                || self.handle.ptrace.is_traced()
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
