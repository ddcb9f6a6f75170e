//! eventfd and eventfd2.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::eventfd::EventFd;
use crate::kernel::task::Task;
use crate::vfs::File;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_eventfd, "eventfd", Support::Full, sys_eventfd);
    t.add(libc::SYS_eventfd2, "eventfd2", Support::Full, sys_eventfd2);
}

fn make(t: &Task, initval: u32, flags: i32) -> SysResult {
    if flags & !(libc::EFD_CLOEXEC | libc::EFD_NONBLOCK | libc::EFD_SEMAPHORE) != 0 {
        return Err(Errno::EINVAL);
    }
    let ops = Arc::new(EventFd::new(
        u64::from(initval),
        flags & libc::EFD_SEMAPHORE != 0,
    ));
    let f = File::new(ops, None, libc::O_RDWR | (flags & libc::O_NONBLOCK));
    Ok(t.fds.install(f, flags & libc::EFD_CLOEXEC != 0)? as u64)
}

fn sys_eventfd(t: &mut Task, a: &SyscallArgs) -> SysResult {
    make(t, a.uint(0), 0)
}

fn sys_eventfd2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    make(t, a.uint(0), a.int(1))
}
