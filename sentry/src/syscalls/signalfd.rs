//! signalfd and signalfd4.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::signalfd::SignalFd;
use crate::kernel::task::Task;
use crate::usermem::UserPtr;
use crate::vfs::File;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_signalfd, "signalfd", Support::Full, sys_signalfd);
    t.add(
        libc::SYS_signalfd4,
        "signalfd4",
        Support::Partial("poll/epoll readiness follows the creating thread"),
        sys_signalfd4,
    );
}

fn make(t: &Task, fd: i32, mask_addr: UserPtr<u64>, size: u64, flags: i32) -> SysResult {
    if flags & !(libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) != 0 || size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = t.copy_in(mask_addr)?;
    if fd != -1 {
        let any: Arc<dyn std::any::Any + Send + Sync> = t.fds.get(fd)?.ops().clone();
        let sfd = any.downcast::<SignalFd>().map_err(|_| Errno::EINVAL)?;
        sfd.set_mask(mask);
        return Ok(fd as u64);
    }
    let ops = Arc::new(SignalFd::new(&t.handle, mask));
    let f = File::new(ops, None, libc::O_RDWR | (flags & libc::O_NONBLOCK));
    Ok(t.fds.install(f, flags & libc::SFD_CLOEXEC != 0)? as u64)
}

fn sys_signalfd(t: &mut Task, a: &SyscallArgs) -> SysResult {
    make(t, a.int(0), a.ptr(1), a.ulong(2), 0)
}

fn sys_signalfd4(t: &mut Task, a: &SyscallArgs) -> SysResult {
    make(t, a.int(0), a.ptr(1), a.ulong(2), a.int(3))
}
