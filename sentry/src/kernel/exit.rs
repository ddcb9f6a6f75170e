//! What happens when a task or a whole thread group ends: exit_group's
//! and a fatal signal's group exit, a task's leaving, and the zombie its
//! parent reaps.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::kernel::signal::SigInfo;
use crate::kernel::signal_send::send_group;
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::{Kernel, TaskHandle};
use crate::mm::MemoryManager;
use crate::vfs::FdTable;

/// Removes an exited task; if it was the last of its group, the group
/// becomes a zombie for its parent to reap (or is reaped at once if the
/// parent ignores SIGCHLD), and its children go to init.
pub fn task_exited(k: &Arc<Kernel>, handle: &Arc<TaskHandle>, tg: &Arc<ThreadGroup>, status: i32) {
    let last = {
        let mut i = tg.inner.lock().unwrap();
        i.tasks.retain(|t| t.tid != handle.tid);
        tg.exited_cpu_ns
            .fetch_add(handle.utime_ns.load(Ordering::Relaxed), Ordering::Relaxed);
        i.tasks.is_empty()
    };
    tg.cpu_timers.thread_exited(handle.tid);
    {
        // A leader's id may already be the thread's that execs in its
        // place (`exec.rs`, take_leader_tid).
        let mut pids = k.pids.lock().unwrap();
        if pids
            .tasks
            .get(&handle.tid)
            .is_some_and(|h| Arc::ptr_eq(h, handle))
        {
            pids.remove_task(handle.tid);
        }
    }
    if !last {
        return;
    }
    k.locks.exited(tg.tgid);
    tg.posix_timers.clear();
    let ipc = handle.ns.lock().unwrap().ipc.clone();
    ipc.sem.exit(tg.tgid);
    let (wait_status, children, exit_signal) = {
        let mut i = tg.inner.lock().unwrap();
        let s = i.group_exit.unwrap_or(status);
        i.exit = Some(s);
        i.exit_comm = handle.comm.lock().unwrap().clone();
        (s, std::mem::take(&mut i.children), i.exit_signal)
    };
    tg.exit_waiters.notify_all();
    let ns_init = tg.pidns.init() == Some(tg.tgid);
    if ns_init {
        // When a namespace's init dies the namespace dies with it: every
        // task left in it, and in the namespaces below, is killed, and
        // none may enter (Linux's zap_pid_ns_processes).
        tg.pidns.close();
        for g in k.all_groups() {
            if crate::kernel::namespaces::pid::contains(&tg.pidns, &g.pidns) {
                send_group(&g, SigInfo::user(libc::SIGKILL, libc::SI_KERNEL, 0, 0));
            }
        }
    }
    // A nested namespace's init takes its children with it: they are
    // dying, and nobody outside adopts them (Linux's init reaps them
    // before it goes).
    let init = if ns_init && tg.pidns.level > 0 {
        None
    } else {
        reaper(k, tg)
    };
    for c in children {
        let zombie = c.inner.lock().unwrap().exit.is_some();
        match &init {
            Some(init) if !zombie => {
                c.inner.lock().unwrap().parent = Some(Arc::downgrade(init));
                // getppid may be answered in place: not with the old parent.
                let tasks = c.inner.lock().unwrap().tasks.clone();
                for t in tasks {
                    t.revoke_guest_answers();
                }
                init.inner.lock().unwrap().children.push(c);
            }
            _ => {
                k.pids.lock().unwrap().remove_group(c.tgid);
            }
        }
    }
    if tg.tgid == 1 {
        // When the sandbox's init dies the sandbox ends.
        k.pids.lock().unwrap().remove_group(1);
        for g in k.all_groups() {
            let tasks = g.inner.lock().unwrap().tasks.clone();
            for t in tasks {
                t.kill();
            }
        }
        k.set_top_exit(1, wait_status);
        return;
    }
    let Some(parent) = tg.parent() else {
        k.pids.lock().unwrap().remove_group(tg.tgid);
        if tg.inner.lock().unwrap().parent.is_none() {
            // A process the runtime's `exec` started: its status goes
            // there (not one whose namespace's init died before it).
            k.set_top_exit(tg.tgid, wait_status);
        }
        return;
    };
    let act = parent.actions.lock().unwrap()[(libc::SIGCHLD - 1) as usize];
    // The child of a namespace init that died before it has nobody to
    // wait for it.
    let parent_dead = parent.inner.lock().unwrap().exit.is_some();
    let autoreap = parent_dead
        || act.handler == libc::SIG_IGN as u64
        || act.flags & libc::SA_NOCLDWAIT as u64 != 0;
    if autoreap {
        parent
            .inner
            .lock()
            .unwrap()
            .children
            .retain(|c| !Arc::ptr_eq(c, tg));
        k.pids.lock().unwrap().remove_group(tg.tgid);
    } else if exit_signal > 0 {
        let (code, st) = if wait_status & 0x7f == 0 {
            (libc::CLD_EXITED, (wait_status >> 8) & 0xff)
        } else if wait_status & 0x80 != 0 {
            (libc::CLD_DUMPED, wait_status & 0x7f)
        } else {
            (libc::CLD_KILLED, wait_status & 0x7f)
        };
        let uid = handle.creds.lock().unwrap().uid;
        let mut info = SigInfo::child(code, parent.pidns.nr(tg.tgid), uid, st);
        info.signo = exit_signal;
        send_group(&parent, info);
    }
    parent.child_events.notify_all();
}

/// Who adopts the orphans of `tg`: the init of its PID namespace, or,
/// when that is `tg` itself, the nearest live init above it (Linux's
/// find_child_reaper). None: nobody, the orphans are reaped at once.
fn reaper(k: &Kernel, tg: &Arc<ThreadGroup>) -> Option<Arc<ThreadGroup>> {
    for ns in crate::kernel::namespaces::pid::chain(&tg.pidns) {
        if let Some(g) = ns.init().and_then(|id| k.group(id)) {
            if !Arc::ptr_eq(&g, tg) && g.inner.lock().unwrap().exit.is_none() {
                return Some(g);
            }
        }
    }
    None
}

impl Task {
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
    pub(super) fn exit(mut self) {
        self.ptrace_exit_event();
        // Linux's order: the robust list, then CLONE_CHILD_CLEARTID.
        self.release_robust_list();
        self.kernel.futexes.pi_owner_exited(self.vpid(self.tid));
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
        // The platform thread goes last: under ptrace a leader's exit is
        // reported only when every other thread of its host process has
        // gone (a vfork child's, or the thread that execs in the leader's
        // place), so releasing it may wait for them, and the group must
        // know of this exit before then (init's death is what ends the
        // sandbox).
        let ctx = self.ctx.take();
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
        task_exited(&self.kernel, &self.handle, &self.tg, status);
        crate::kernel::ptrace::stop::exited(&self.kernel, &self.handle, &self.tg, status);
        if let Some(ctx) = ctx {
            ctx.release();
        }
    }
}
