//! pipe and pipe2.

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::pipe::new_pipe_files;
use crate::kernel::task::Task;
use crate::usermem::UserPtr;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_pipe, "pipe", Support::Full, sys_pipe);
    t.add(
        libc::SYS_pipe2,
        "pipe2",
        Support::Partial("O_DIRECT (packet mode) is EINVAL"),
        sys_pipe2,
    );
}

fn do_pipe(t: &Task, addr: UserPtr<[i32; 2]>, flags: i32) -> SysResult {
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = new_pipe_files(flags);
    let (fr, fw) = t.fds.install_pair(r, w, flags & libc::O_CLOEXEC != 0)?;
    if let Err(e) = t.copy_out(addr, &[fr, fw]) {
        // Nothing the application can see happened.
        let _ = t.fds.remove(fr);
        let _ = t.fds.remove(fw);
        return Err(e);
    }
    Ok(0)
}

fn sys_pipe(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_pipe(t, a.ptr(0), 0)
}

fn sys_pipe2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_pipe(t, a.ptr(0), a.int(1))
}
