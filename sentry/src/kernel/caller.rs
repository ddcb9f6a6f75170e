//! The task as the layers below the kernel see it ([`Caller`]).

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use crate::errno::Errno;
use crate::kernel::task::Task;
use crate::usermem::UserMemory;
use crate::vfs::{Caller, Cred, FdTable, FsContext, Vfs};
use crate::waiter::WaitQueue;

impl Caller for Task {
    fn vfs(&self) -> &Arc<Vfs> {
        &self.ns.mnt
    }

    fn fs(&self) -> &Arc<FsContext> {
        &self.fs
    }

    fn fds(&self) -> &Arc<FdTable> {
        &self.fds
    }

    fn fs_cred(&self) -> Cred {
        let c = self.creds();
        // Files belong to the whole sandbox: capabilities count for them
        // only in the initial user namespace (stricter than Linux, which
        // lets a namespace's root override permissions on files whose
        // owner and group are mapped into it).
        let caps = if c.user_ns.0.is_init() {
            c.effective
        } else {
            crate::caps::CapSet::EMPTY
        };
        Cred {
            uid: c.fsuid,
            gid: c.fsgid,
            groups: c.groups,
            caps,
        }
    }

    fn real_cred(&self) -> Cred {
        let c = self.creds();
        // access(2) as Linux's do_faccessat: the real ids, with no
        // capabilities for a real uid other than 0 and the permitted set
        // for 0 (unless SECBIT_NO_SETUID_FIXUP keeps the effective set).
        let caps = if !c.user_ns.0.is_init() {
            crate::caps::CapSet::EMPTY
        } else if c.securebits & libc::SECBIT_NO_SETUID_FIXUP as u32 != 0 {
            c.effective
        } else if c.uid == 0 {
            c.permitted
        } else {
            crate::caps::CapSet::EMPTY
        };
        Cred {
            uid: c.uid,
            gid: c.gid,
            groups: c.groups,
            caps,
        }
    }

    fn tgid(&self) -> i32 {
        self.tg.tgid
    }

    fn pid_seen(&self, kid: i32) -> i32 {
        self.vpid(kid)
    }

    fn memory(&self) -> &dyn UserMemory {
        &*self.mm
    }

    fn block(
        &self,
        queues: &[&WaitQueue],
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno> {
        Task::block(self, queues, deadline, cond)
    }

    fn send_signal_self(&self, sig: i32) {
        Task::send_signal_self(self, sig)
    }

    fn file_size_limit(&self) -> u64 {
        self.rlimit_cur(libc::RLIMIT_FSIZE)
    }

    fn open_files_limit(&self) -> u64 {
        self.rlimit_cur(libc::RLIMIT_NOFILE)
    }

    fn unprivileged_port_start(&self) -> u16 {
        self.kernel
            .config
            .unprivileged_port_start
            .unwrap_or(crate::vfs::DEFAULT_UNPRIVILEGED_PORT_START)
    }

    fn pid_nr(&self, kid: i32) -> i32 {
        self.vpid(kid)
    }

    fn pid_kernel(&self, pid: i32) -> Option<i32> {
        self.kpid(pid)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Task {
    /// The task behind a caller; None for a caller that is not a task
    /// (a unit test's).
    pub fn of(c: &dyn Caller) -> Option<&Task> {
        c.as_any().downcast_ref::<Task>()
    }
}

impl Task {
    /// [`Task::of`] for what only a task can do (a terminal's job control,
    /// a signalfd's queue): EINVAL for any other caller.
    pub fn from_caller(c: &dyn Caller) -> Result<&Task, Errno> {
        Task::of(c).ok_or(Errno::EINVAL)
    }
}
