//! clone(2): new threads and processes.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use platform::XSave;

use crate::caps::{CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN};
use crate::errno::Errno;
use crate::kernel::namespaces::UserNamespace;
use crate::kernel::task::{Task, VforkDone};
use crate::kernel::task_run::{spawn, Attach};
use crate::kernel::thread_group::{default_actions, ThreadGroup};
use crate::kernel::TaskHandle;

#[derive(Clone, Debug, Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub stack: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
    pub exit_signal: i32,
    /// CLONE_PIDFD: where the parent's descriptor for the child goes (an
    /// int; clone(2) passes parent_tid's slot).
    pub pidfd: u64,
    /// clone3's set_tid: the ids wanted, innermost PID namespace first.
    pub set_tid: Vec<i32>,
}

const SUPPORTED: u64 = (libc::CLONE_VM
    | libc::CLONE_FS
    | libc::CLONE_FILES
    | libc::CLONE_SIGHAND
    | libc::CLONE_THREAD
    | libc::CLONE_SYSVSEM
    | libc::CLONE_SETTLS
    | libc::CLONE_PARENT_SETTID
    | libc::CLONE_CHILD_CLEARTID
    | libc::CLONE_CHILD_SETTID
    | libc::CLONE_VFORK
    | libc::CLONE_PARENT
    | libc::CLONE_DETACHED
    | libc::CLONE_PTRACE
    | libc::CLONE_UNTRACED
    | libc::CLONE_PIDFD) as u64
    | crate::kernel::namespaces::unshare::NS_FLAGS;

impl Task {
    pub fn clone_task(&mut self, a: CloneArgs) -> Result<i32, Errno> {
        let f = a.flags;
        let has = |bit: i32| f & bit as u64 != 0;
        if f & !SUPPORTED != 0 {
            self.kernel
                .report_unsupported(libc::SYS_clone as usize, f & !SUPPORTED, "clone flags");
            return Err(Errno::EINVAL);
        }
        // The same consistency rules as Linux's copy_process.
        if has(libc::CLONE_THREAD) && !has(libc::CLONE_SIGHAND) {
            return Err(Errno::EINVAL);
        }
        if has(libc::CLONE_SIGHAND) && !has(libc::CLONE_VM) {
            return Err(Errno::EINVAL);
        }
        if !(0..=64).contains(&a.exit_signal) {
            return Err(Errno::EINVAL);
        }
        // A pidfd names a process: not a new thread (Linux 6.9's thread
        // pidfds are not served), and not with the obsolete CLONE_DETACHED.
        if has(libc::CLONE_PIDFD) && (has(libc::CLONE_THREAD) || has(libc::CLONE_DETACHED)) {
            return Err(Errno::EINVAL);
        }
        self.check_nproc()?;
        let (ns, creds) = self.clone_namespaces(f)?;
        // A thread lives in its process's PID namespace, which must then
        // be where the process makes children (Linux's copy_process).
        if has(libc::CLONE_THREAD) && !Arc::ptr_eq(&ns.pid, self.pid_ns()) {
            return Err(Errno::EINVAL);
        }
        // The init of a PID namespace cannot make a sibling (it has no
        // parent there to share).
        if has(libc::CLONE_PARENT) && self.pid_ns().init() == Some(self.tgid()) {
            return Err(Errno::EINVAL);
        }
        let pidns = if has(libc::CLONE_THREAD) {
            self.pid_ns().clone()
        } else {
            ns.pid.clone()
        };
        let kernel = self.kernel.clone();
        let tid = {
            let mut pids = kernel.pids.lock().unwrap();
            // The container's pids limit counts every task, as the pids
            // cgroup does; fork fails with EAGAIN at the limit.
            if kernel
                .config
                .pids_limit
                .is_some_and(|max| pids.tasks.len() >= max)
            {
                return Err(Errno::EAGAIN);
            }
            // clone3's set_tid asks the caller's capabilities (Linux's
            // checkpoint_restore_ns_capable), not the child's.
            let mine = self.creds();
            let may_choose = |owner: &UserNamespace| {
                mine.capable_in(owner, CAP_CHECKPOINT_RESTORE)
                    || mine.capable_in(owner, CAP_SYS_ADMIN)
            };
            pids.number(&pidns, !has(libc::CLONE_THREAD), &a.set_tid, &may_choose)?
        };
        // The child's number in its own namespace and in its parent's.
        let (own_tid, parent_view) = (pidns.nr(tid), self.vpid(tid));

        let mm = if has(libc::CLONE_VM) {
            self.mm.clone()
        } else {
            let mm = self.mm.fork()?;
            // The child's copies of SysV shared memory attaches are its
            // own (a new process: CLONE_THREAD needs CLONE_VM).
            crate::kernel::ipc::shm::adopt(&mm, tid);
            mm
        };
        let fds = if has(libc::CLONE_FILES) {
            self.fds.clone()
        } else {
            self.fds.fork()
        };
        let fs = if has(libc::CLONE_FS) {
            self.fs.clone()
        } else {
            self.fs.fork()
        };
        if !Arc::ptr_eq(&ns.mnt, &self.ns.mnt) {
            // A new mount namespace: the child's root and working
            // directory move into its copy of the mounts.
            fs.set_root(ns.mnt.rebase(&fs.root()));
            fs.set_cwd(ns.mnt.rebase(&fs.cwd()));
        }
        let tg = if has(libc::CLONE_THREAD) {
            self.tg.clone()
        } else {
            let parent = if has(libc::CLONE_PARENT) {
                self.tg.parent().unwrap_or(self.tg.clone())
            } else {
                self.tg.clone()
            };
            let actions = if has(libc::CLONE_SIGHAND) {
                self.tg.actions.clone()
            } else {
                let a = default_actions();
                *a.lock().unwrap() = *self.tg.actions.lock().unwrap();
                a
            };
            let g = ThreadGroup::new(tid, Some(&parent), actions, pidns.clone());
            let limits = self.tg.inner.lock().unwrap().rlimits.clone();
            let mut gi = g.inner.lock().unwrap();
            gi.exit_signal = a.exit_signal;
            // A child starts with its parent's limits.
            gi.rlimits = limits;
            drop(gi);
            crate::kernel::rlimits::watch_cpu_limit(&g);
            g
        };
        if !has(libc::CLONE_VM) {
            // The child's own address space: its peak is the child's.
            mm.report_peak_to(tg.maxrss.clone());
        }
        let comm = self.handle.comm.lock().unwrap().clone();
        let handle = TaskHandle::new(tid, &tg, creds, comm, self.signal_mask(), ns.clone());
        *handle.sched.lock().unwrap() = self.handle.sched.lock().unwrap().clone();
        handle.seccomp.inherit(&self.handle.seccomp);
        handle.set_personality_from(&self.handle);
        {
            let mut pids = kernel.pids.lock().unwrap();
            pids.tasks.insert(tid, handle.clone());
            if !has(libc::CLONE_THREAD) {
                pids.groups.insert(tid, tg.clone());
            }
        }
        {
            let mut g = tg.inner.lock().unwrap();
            if g.group_exit.is_some() {
                drop(g);
                kernel.pids.lock().unwrap().remove_task(tid);
                return Err(Errno::EAGAIN);
            }
            g.tasks.push(handle.clone());
        }
        if !has(libc::CLONE_THREAD) {
            let parent = tg.parent().expect("new group has a parent");
            parent.inner.lock().unwrap().children.push(tg.clone());
        }

        let mut regs = self.regs;
        regs.rax = 0;
        if a.stack != 0 {
            regs.rsp = a.stack;
        }
        if has(libc::CLONE_SETTLS) {
            regs.fs_base = a.tls;
        }
        if has(libc::CLONE_PARENT_SETTID) {
            let _ = self.mm.write(a.parent_tid, &parent_view.to_ne_bytes());
            if !has(libc::CLONE_VM) {
                let _ = mm.write(a.parent_tid, &parent_view.to_ne_bytes());
            }
        }
        if has(libc::CLONE_CHILD_SETTID) {
            let _ = mm.write(a.child_tid, &own_tid.to_ne_bytes());
        }
        if has(libc::CLONE_PIDFD) {
            // After the child's copies of memory and descriptors were
            // made: neither shows the new descriptor unless shared.
            if let Err(e) = self.install_child_pidfd(&tg, a.pidfd) {
                self.undo_clone(&handle, &tg, false);
                return Err(e);
            }
        }
        let vfork = has(libc::CLONE_VFORK).then(|| Arc::new(VforkDone::default()));
        let fpu = self.ctx().fpu().ok().unwrap_or(XSave(Vec::new()));
        let attach = if has(libc::CLONE_VM) {
            match self.ctx().new_thread() {
                Ok(p) => Attach::Thread(p),
                Err(e) => {
                    tracing::warn!("clone: {e}");
                    self.undo_clone(&handle, &tg, has(libc::CLONE_THREAD));
                    return Err(Errno::EAGAIN);
                }
            }
        } else {
            Attach::NewAddressSpace
        };
        let child = Task {
            kernel: kernel.clone(),
            tid,
            handle: handle.clone(),
            tg: tg.clone(),
            mm,
            fds,
            fs,
            ns,
            regs,
            ctx: None,
            clear_child_tid: if has(libc::CLONE_CHILD_CLEARTID) {
                a.child_tid
            } else {
                0
            },
            robust_list: 0,
            vfork_parent: vfork.clone(),
            regs_replaced: false,
            restart: None,
            cpu_charge: Default::default(),
            exit_code: None,
        };
        let fpu = (!fpu.0.is_empty()).then_some(fpu);
        let traced = self.ptrace_clone(&handle, f, a.exit_signal);
        if let Err(e) = spawn(child, attach, fpu) {
            tracing::warn!("clone: cannot start a thread: {e}");
            return Err(Errno::EAGAIN);
        }
        self.ptrace_clone_event(traced, parent_view);
        if let Some(v) = vfork {
            // The parent sleeps until the child execs or exits; signals do
            // not end the wait early (as Linux's killable wait).
            while !v.done.load(Ordering::SeqCst) {
                if self.handle.killed.load(Ordering::SeqCst) {
                    break;
                }
                let _ = self.block_on(
                    crate::kernel::activity::WaitOn::Vfork,
                    &[&v.queue],
                    None,
                    &mut || v.done.load(Ordering::SeqCst),
                );
                if self.interrupted() && !v.done.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
            }
            self.ptrace_vfork_done(parent_view);
        }
        Ok(parent_view)
    }

    fn install_child_pidfd(&self, tg: &Arc<ThreadGroup>, at: u64) -> Result<(), Errno> {
        let f = crate::kernel::pidfd::PidFd::open(&self.kernel, tg, 0);
        let fd = self.fds.install(f, true)?;
        if let Err(e) = self.mm.write(at, &fd.to_ne_bytes()) {
            let _ = self.fds.remove(fd);
            return Err(e);
        }
        Ok(())
    }

    fn undo_clone(
        &self,
        handle: &Arc<crate::kernel::TaskHandle>,
        tg: &Arc<ThreadGroup>,
        thread: bool,
    ) {
        let k = &self.kernel;
        k.pids.lock().unwrap().remove_task(handle.tid);
        tg.inner
            .lock()
            .unwrap()
            .tasks
            .retain(|t| t.tid != handle.tid);
        if !thread {
            k.pids.lock().unwrap().remove_group(tg.tgid);
            self.tg
                .inner
                .lock()
                .unwrap()
                .children
                .retain(|c| !Arc::ptr_eq(c, tg));
        }
    }
}
