//! Pids as the application sees them: every pid a syscall takes is a
//! number in the caller's PID namespace, turned into a kernel id here, and
//! every pid it returns is a kernel id turned into the caller's number
//! (0 for a task the caller's namespace cannot see, as Linux answers).
//! See `namespaces/pid.rs` for the two kinds of ids.

use std::sync::Arc;

use crate::kernel::namespaces::PidNs;
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::TaskHandle;

impl Task {
    /// The PID namespace this task lives in.
    pub fn pid_ns(&self) -> &Arc<PidNs> {
        &self.tg.pidns
    }

    /// Kernel id `kid` as this task sees it (0: not in its namespace).
    pub fn vpid(&self, kid: i32) -> i32 {
        self.tg.pidns.nr(kid)
    }

    /// The kernel id of the task this task calls `pid`.
    pub fn kpid(&self, pid: i32) -> Option<i32> {
        self.tg.pidns.kernel_pid(pid)
    }

    /// The task this task calls `tid`.
    pub fn task_by_vpid(&self, tid: i32) -> Option<Arc<TaskHandle>> {
        self.kernel.task(self.kpid(tid)?)
    }

    /// The process this task calls `pid`.
    pub fn group_by_vpid(&self, pid: i32) -> Option<Arc<ThreadGroup>> {
        self.kernel.group(self.kpid(pid)?)
    }

    /// Whether this task's namespace sees `tg` (its own namespace or a
    /// descendant's).
    pub fn sees(&self, tg: &ThreadGroup) -> bool {
        self.tg.pidns.pid_of(tg.tgid).is_some()
    }

    /// The pid of this task's parent as it sees it: 0 for the init of a
    /// namespace (its parent lies outside) and for the sandbox's init.
    pub fn vppid(&self) -> i32 {
        self.tg.parent().map_or(0, |p| self.vpid(p.tgid))
    }
}
