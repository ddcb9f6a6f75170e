//! Whom a /proc/PID directory and its files are about ([`Target`]), and
//! the snapshot of it they read ([`Snap`]): shared by the directories
//! (`task`) and the files' contents (`files`).

use std::sync::{Arc, Weak};

use super::{path_ino, GenFn, GenInode, ProcState};
use crate::errno::Errno;
use crate::kernel::access::PtraceMode;
use crate::kernel::task::Task;
use crate::kernel::TaskHandle;
use crate::kernel::{Kernel, ThreadGroup};
use crate::mm::MemoryManager;
use crate::vfs::ops::Ctx;
use crate::vfs::{FdTable, FsContext};

/// The key of /proc/PID (tid None) or /proc/PID/task/TID, of which its
/// inode numbers are made.
pub(super) fn dir_key(pid: i32, tid: Option<i32>) -> String {
    match tid {
        Some(t) => format!("proc:/{pid}/task/{t}"),
        None => format!("proc:/{pid}"),
    }
}

/// A task's MM, fd table and fs context, when it still has them.
pub(super) type View = (
    Option<Arc<MemoryManager>>,
    Option<Arc<FdTable>>,
    Option<Arc<FsContext>>,
);

/// Whom a /proc/PID directory and its files are about.
#[derive(Clone)]
pub(crate) struct Target {
    pub(super) kernel: Weak<Kernel>,
    pub(super) tg: Weak<ThreadGroup>,
    /// The number in the path (`/proc/PID`).
    pub(super) pid: i32,
    /// A thread's directory (task/TID, or /proc/TID of a non-leader);
    /// None: the whole process.
    pub(super) tid: Option<i32>,
    /// The task that looked the directory up (files it opens show it
    /// running).
    pub(super) looker: Option<i32>,
    pub(super) state: Arc<ProcState>,
}

/// A snapshot of what the files show of a task.
pub(super) struct Snap {
    pub(super) tg: Arc<ThreadGroup>,
    /// The task the per-task fields come from (the leader, or the first
    /// live thread); None for a zombie.
    pub(super) task: Option<Arc<TaskHandle>>,
    pub(super) tids: Vec<i32>,
}

impl Target {
    pub(super) fn tg(&self) -> Result<Arc<ThreadGroup>, Errno> {
        self.tg.upgrade().ok_or(Errno::ESRCH)
    }

    pub(super) fn kernel(&self) -> Result<Arc<Kernel>, Errno> {
        self.kernel.upgrade().ok_or(Errno::ESRCH)
    }

    /// The namespaces of the task the directory is about (a zombie has
    /// none: ESRCH).
    pub(super) fn namespaces(&self) -> Result<Arc<crate::kernel::namespaces::Namespaces>, Errno> {
        let task = self.snap()?.task.ok_or(Errno::ESRCH)?;
        let ns = task.ns.lock().unwrap().clone();
        Ok(ns)
    }

    /// Its network namespace (/proc/PID/net is the target's).
    pub(super) fn net_ns(&self) -> Result<Arc<crate::kernel::namespaces::NetNs>, Errno> {
        Ok(self.namespaces()?.net.clone())
    }

    /// The PID namespace the files show pids in (their procfs's).
    pub(super) fn pidns(&self) -> Result<Arc<crate::kernel::namespaces::PidNs>, Errno> {
        Ok(self.state.pidns(&*self.kernel()?))
    }

    /// Kernel id `kid` as the procfs's namespace numbers it (0: outside).
    pub(super) fn nr(&self, kid: i32) -> i32 {
        self.pidns().map_or(kid, |ns| ns.nr(kid))
    }

    pub(super) fn snap(&self) -> Result<Snap, Errno> {
        let tg = self.tg()?;
        let (task, tids) = {
            let g = tg.inner.lock().unwrap();
            let tids: Vec<i32> = g.tasks.iter().map(|t| t.tid).collect();
            let task = match self.tid {
                Some(tid) => Some(
                    g.tasks
                        .iter()
                        .find(|t| t.tid == tid)
                        .cloned()
                        .ok_or(Errno::ESRCH)?,
                ),
                None => g
                    .tasks
                    .iter()
                    .find(|t| t.tid == tg.tgid)
                    .or(g.tasks.first())
                    .cloned(),
            };
            (task, tids)
        };
        Ok(Snap { tg, task, tids })
    }

    /// The target's MM, fd table and fs context, from the chosen task or
    /// (for the process) any of its threads.
    pub(super) fn view(&self) -> View {
        let Ok(s) = self.snap() else {
            return (None, None, None);
        };
        let mut tasks: Vec<Arc<TaskHandle>> = s.task.into_iter().collect();
        if self.tid.is_none() {
            tasks.extend(s.tg.inner.lock().unwrap().tasks.iter().cloned());
        }
        let (mut mm, mut fds, mut fs) = (None, None, None);
        for t in tasks {
            let v = t.view.lock().unwrap();
            mm = mm.or_else(|| v.mm.upgrade());
            fds = fds.or_else(|| v.fds.upgrade());
            fs = fs.or_else(|| v.fs.upgrade());
            if mm.is_some() && fds.is_some() && fs.is_some() {
                break;
            }
        }
        (mm, fds, fs)
    }

    pub(super) fn mm(&self) -> Option<Arc<MemoryManager>> {
        self.view().0
    }

    /// The owner of the directory and its files: the task's effective ids.
    pub(super) fn ids(&self) -> (u32, u32) {
        match self.snap().ok().and_then(|s| s.task) {
            Some(t) => {
                let c = t.creds.lock().unwrap();
                (c.euid, c.egid)
            }
            None => (0, 0),
        }
    }

    pub(super) fn key(&self) -> String {
        dir_key(self.pid, self.tid)
    }

    /// Whether this is a thread's directory (not a whole process's).
    pub(super) fn is_task_entry(&self) -> bool {
        self.tid.is_some()
    }

    pub(super) fn file(&self, name: &str, perm: u32, gen: GenFn) -> GenInode {
        let mut g = GenInode::new(path_ino(&format!("{}/{name}", self.key())), perm, gen);
        g.owner = self.ids();
        g
    }

    /// Whether the task in `ctx` may see or change this one's secrets
    /// (links, fds, memory): the kernel's one ptrace access check. Only
    /// a task asks; a process with no task left (a zombie) has nothing to
    /// show.
    pub(super) fn may_access(&self, ctx: &Ctx<'_>, mode: PtraceMode) -> bool {
        let Some(me) = ctx.caller.and_then(Task::of) else {
            return false;
        };
        match self.snap().ok().and_then(|s| s.task) {
            Some(them) => me.may_access(&them, mode),
            None => true,
        }
    }
}
