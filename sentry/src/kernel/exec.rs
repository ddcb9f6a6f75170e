//! execve(2): replace the task's program.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::errno::Errno;
use crate::kernel::signal::{AltStack, SigAction};
use crate::kernel::task::Task;
use crate::kernel::thread_group::signal_status;
use crate::kernel::TaskHandle;
use crate::loader;
use crate::mm::MemoryManager;

/// The ids a set-user-ID or set-group-ID program asks to run with: its
/// file's owner and group, unless its mount is nosuid. (A set-group-ID
/// file without group execute permission is a locking mark, not a
/// request.)
fn set_ids_of(f: &crate::vfs::File) -> Result<(Option<u32>, Option<u32>), Errno> {
    if f.dentry().is_some_and(|d| d.mount.nosuid()) {
        return Ok((None, None));
    }
    let st = f.stat()?;
    let uid = (st.st_mode & libc::S_ISUID != 0).then_some(st.st_uid);
    let gid = (st.st_mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP))
        .then_some(st.st_gid);
    Ok((uid, gid))
}

impl Task {
    /// Loads the program; on success the task runs it when it next switches.
    /// Errors before the point of no return leave the caller untouched.
    pub fn execve(
        &mut self,
        dirfd: i32,
        path: &[u8],
        argv: Vec<Vec<u8>>,
        envp: Vec<Vec<u8>>,
        flags: i32,
    ) -> Result<(), Errno> {
        let open_flags = if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
            libc::O_NOFOLLOW
        } else {
            0
        };
        let t0 = std::time::Instant::now();
        let mut creds = self.creds();
        let mut env = loader::Env {
            caller: self,
            file_cache: &self.kernel.file_cache,
            memfile: &self.kernel.memfile,
            ids: loader::Ids {
                uid: creds.uid,
                euid: creds.euid,
                gid: creds.gid,
                egid: creds.egid,
                secure: false,
            },
            vdso: self.kernel.platform.vdso(),
        };
        let resolved = loader::resolve(&env, dirfd, path, argv, open_flags)?;
        // The credentials the new program runs with, committed at the
        // point of no return.
        // A traced program gains no ids its tracer could then control
        // (Linux's LSM_UNSAFE_PTRACE), unless the tracer may trace anyone.
        let set_ids = if self.ptrace_exec_unsafe() {
            (None, None)
        } else {
            set_ids_of(&resolved.file)?
        };
        let secure = creds.exec(set_ids);
        env.ids = loader::Ids {
            uid: creds.uid,
            euid: creds.euid,
            gid: creds.gid,
            egid: creds.egid,
            secure,
        };

        // Build the new image in a new address space before touching the
        // old one, so a bad binary returns an error to the caller.
        let mut ctx = self.kernel.platform.new_address_space().map_err(|e| {
            tracing::warn!("execve: {e}");
            Errno::ENOMEM
        })?;
        let mm = MemoryManager::new(
            self.kernel.memfile.clone(),
            self.kernel.platform.max_user_address(),
        );
        mm.set_address_space(ctx.address_space());
        let image = match loader::load(&env, &mm, ctx.as_mut(), &resolved, &envp) {
            Ok(i) => i,
            Err(loader::LoadError::Refused(e)) => return Err(e),
            Err(loader::LoadError::Fatal(e)) => {
                // Linux would already have replaced the image: the whole
                // process dies of SIGSEGV, whatever its handlers.
                tracing::debug!("execve: the new image cannot be mapped ({e}): SIGSEGV");
                self.group_exit(signal_status(libc::SIGSEGV, false));
                return Ok(());
            }
        };

        // Point of no return: other threads of the group die. This
        // thread's old platform thread goes first: under ptrace a leader's
        // exit is reported only once every other thread of its host
        // process is gone, ours included, and the leader's task waits for
        // that report before it leaves.
        *self.handle.interrupter.lock().unwrap() = None;
        if let Some(c) = self.ctx.take() {
            c.release();
        }
        self.kill_other_threads();
        let former_tid = self.tid;
        if self.tid != self.tg.tgid && !self.handle.killed.load(Ordering::SeqCst) {
            self.take_leader_tid();
        }
        *self.handle.creds.lock().unwrap() = creds;
        self.set_personality(crate::kernel::personality::after_exec(
            self.personality(),
            secure,
        ));

        // Futexes held in the old image are its owner's death (exec_mm_release).
        self.release_robust_list();
        self.kernel.futexes.pi_owner_exited(self.vpid(self.tid));
        // The old address space reports its peak to the process as it
        // goes (ru_maxrss keeps it); so will the new one.
        mm.report_peak_to(self.tg.maxrss.clone());
        let old_mm = std::mem::replace(&mut self.mm, mm.clone());
        self.publish_view();
        drop(old_mm);
        tracing::debug!(
            "execve {} took {:?}",
            String::from_utf8_lossy(&image.path),
            t0.elapsed()
        );
        *self.handle.interrupter.lock().unwrap() = Some(ctx.interrupter());
        self.ctx = Some(ctx);

        let old = self.regs;
        // SAFETY: user_regs_struct is plain data; zero is a valid value.
        let mut regs: platform::Regs = unsafe { std::mem::zeroed() };
        regs.rip = image.entry;
        regs.rsp = image.sp;
        regs.cs = old.cs;
        regs.ss = old.ss;
        regs.ds = old.ds;
        regs.es = old.es;
        regs.eflags = 0x202;
        regs.orig_rax = u64::MAX;
        self.regs = regs;
        self.regs_replaced = true;
        self.clear_child_tid = 0;

        self.fds.close_on_exec();
        // POSIX timers do not survive exec (ITIMER_REAL does).
        self.tg.posix_timers.clear();
        {
            let mut acts = self.tg.actions.lock().unwrap();
            for a in acts.iter_mut() {
                if a.handler != libc::SIG_IGN as u64 {
                    *a = SigAction::default();
                }
            }
        }
        self.handle.sig.lock().unwrap().alt = AltStack::default();
        // The name is the last component of the path as the caller gave
        // it (not the resolved file: `sh` stays `sh`, not `dash`), as in
        // Linux; fexecve has no path and takes the file's.
        let given: &[u8] = if path.is_empty() { &image.path } else { path };
        let name = given.rsplit(|c| *c == b'/').next().unwrap_or(given);
        *self.handle.comm.lock().unwrap() = name.iter().take(15).copied().collect();
        if let Some(v) = self.vfork_parent.take() {
            v.complete();
        }
        self.ptrace_exec(former_tid);
        Ok(())
    }

    /// Linux's de_thread for a thread other than the leader: once the
    /// others are gone it takes the leader's id (the thread group's), so
    /// the process keeps its pid and its parent sees nothing of the
    /// change. The handle others find it by is made anew under that id,
    /// with this thread's signal state, credentials, name, times,
    /// scheduling attributes, seccomp filters and tracer.
    fn take_leader_tid(&mut self) {
        let old = self.handle.clone();
        let tgid = self.tg.tgid;
        let h = TaskHandle::new(
            tgid,
            &self.tg,
            old.creds.lock().unwrap().clone(),
            old.comm.lock().unwrap().clone(),
            0,
            old.ns.lock().unwrap().clone(),
        );
        *h.sig.lock().unwrap() = std::mem::take(&mut *old.sig.lock().unwrap());
        for (to, from) in [
            (&h.utime_ns, &old.utime_ns),
            (&h.stime_ns, &old.stime_ns),
            (&h.nvcsw, &old.nvcsw),
        ] {
            to.store(from.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        *h.sched.lock().unwrap() = old.sched.lock().unwrap().clone();
        h.seccomp.inherit(&old.seccomp);
        h.set_personality_from(&old);
        {
            let mut pids = self.kernel.pids.lock().unwrap();
            pids.remove_task(old.tid);
            pids.tasks.insert(tgid, h.clone());
        }
        {
            let mut g = self.tg.inner.lock().unwrap();
            for t in g.tasks.iter_mut().filter(|t| t.tid == old.tid) {
                *t = h.clone();
            }
        }
        crate::kernel::ptrace::move_tracee(&self.kernel, &old, &h);
        self.tg.cpu_timers.thread_exited(old.tid);
        self.tid = tgid;
        crate::vfs::fanotify::set_actor(self.tg.tgid, self.tid);
        self.handle = h;
        self.publish_view();
    }

    /// Kills every other task of the thread group and waits until they are
    /// gone (execve and exit_group semantics).
    pub fn kill_other_threads(&mut self) {
        let others: Vec<Arc<crate::kernel::TaskHandle>> = {
            let g = self.tg.inner.lock().unwrap();
            g.tasks
                .iter()
                .filter(|t| t.tid != self.tid)
                .cloned()
                .collect()
        };
        if others.is_empty() {
            return;
        }
        for t in &others {
            t.kill();
        }
        // They remove themselves from the group as they exit.
        loop {
            let left = self.tg.inner.lock().unwrap().tasks.len();
            if left <= 1 || self.handle.killed.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
}
