//! The task a VFS operation acts for, as the layers under the kernel see it
//! (gVisor's `context.Context`): its credentials, filesystem context,
//! descriptors and memory, and how it blocks. The kernel's `Task`
//! implements it; the VFS, the MM and the loader take `&dyn Caller` and so
//! never name the kernel.
//!
//! A filesystem above the kernel that needs more (a terminal's job control,
//! procfs's view of who looks) asks the kernel for the task behind a caller
//! (`kernel::task::Task::of`).

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use super::{Cred, FdTable, FsContext, Vfs};
use crate::errno::Errno;
use crate::usermem::{Pod, UserAddr, UserMemory, UserPtr};
use crate::waiter::WaitQueue;

/// Linux's default `net.ipv4.ip_unprivileged_port_start`.
pub const DEFAULT_UNPRIVILEGED_PORT_START: u16 = 1024;

pub trait Caller {
    /// The VFS the caller's paths resolve in.
    fn vfs(&self) -> &Arc<Vfs>;
    /// Root, working directory and umask.
    fn fs(&self) -> &Arc<FsContext>;
    /// The caller's descriptors.
    fn fds(&self) -> &Arc<FdTable>;
    /// Filesystem (effective) credentials.
    fn fs_cred(&self) -> Cred;
    /// Real credentials, which access(2) checks with.
    fn real_cred(&self) -> Cred;
    /// The caller's process (thread group) id: the owner of its POSIX locks.
    fn tgid(&self) -> i32;
    /// The process id the caller sees for the kernel id `kid` (0 when
    /// its PID namespace does not see that process).
    fn pid_seen(&self, kid: i32) -> i32 {
        kid
    }
    /// The caller's address space.
    fn memory(&self) -> &dyn UserMemory;
    /// Sleeps until `cond` holds, a signal arrives (ERESTARTSYS) or the
    /// deadline passes (ETIMEDOUT), woken by any of `queues`.
    fn block(
        &self,
        queues: &[&WaitQueue],
        deadline: Option<Instant>,
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), Errno>;
    /// Sends a signal to the calling thread (SIGPIPE, SIGXFSZ ...).
    fn send_signal_self(&self, sig: i32);
    /// The largest size a write may make a regular file (RLIMIT_FSIZE's
    /// soft limit; RLIM_INFINITY for none).
    fn file_size_limit(&self) -> u64 {
        libc::RLIM_INFINITY
    }
    /// RLIMIT_NOFILE's soft limit (RLIM_INFINITY for none): the most
    /// descriptors the caller's user may have in flight in AF_UNIX
    /// messages, as Linux's `too_many_unix_fds` reads it.
    fn open_files_limit(&self) -> u64 {
        libc::RLIM_INFINITY
    }
    /// The lowest port a bind needs no CAP_NET_BIND_SERVICE for
    /// (`net.ipv4.ip_unprivileged_port_start`).
    fn unprivileged_port_start(&self) -> u16 {
        DEFAULT_UNPRIVILEGED_PORT_START
    }
    /// Kernel id `kid` as the caller's PID namespace numbers it (0: out
    /// of its sight). Pids kept inside the Sentry are kernel ids.
    fn pid_nr(&self, kid: i32) -> i32 {
        kid
    }
    /// The kernel id of the process the caller calls `pid`.
    fn pid_kernel(&self, pid: i32) -> Option<i32> {
        Some(pid)
    }
    /// For the kernel to recover its task.
    fn as_any(&self) -> &dyn Any;
}

impl dyn Caller + '_ {
    pub fn copy_in<T: Pod>(&self, p: impl Into<UserPtr<T>>) -> Result<T, Errno> {
        self.memory().copy_in(p)
    }

    pub fn copy_out<T: Pod>(&self, p: impl Into<UserPtr<T>>, v: &T) -> Result<(), Errno> {
        self.memory().copy_out(p, v)
    }

    pub fn read_bytes(&self, addr: impl Into<UserAddr>, len: usize) -> Result<Vec<u8>, Errno> {
        let mut v = vec![0u8; len];
        self.memory().read(addr.into().get(), &mut v)?;
        Ok(v)
    }

    pub fn write_bytes(&self, addr: impl Into<UserAddr>, data: &[u8]) -> Result<(), Errno> {
        self.memory().write(addr.into().get(), data)
    }
}
