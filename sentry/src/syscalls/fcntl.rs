//! fcntl, dup and friends, flock.

use super::file::{fd_arg, io_file};
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_fcntl,
        "fcntl",
        Support::Partial("record locks (F_SETLK/F_SETLKW/F_GETLK, OFD) succeed without locking; no leases, F_NOTIFY, seals or F_SETSIG"),
        sys_fcntl,
    );
    t.add(libc::SYS_dup, "dup", Support::Full, sys_dup);
    t.add(libc::SYS_dup2, "dup2", Support::Full, sys_dup2);
    t.add(libc::SYS_dup3, "dup3", Support::Full, sys_dup3);
    t.add(
        libc::SYS_flock,
        "flock",
        Support::Partial("succeeds without locking"),
        sys_flock,
    );
}

fn sys_dup(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = t.fds.get(fd_arg(a.a[0]))?;
    Ok(t.fds.install(f, false)? as u64)
}

fn sys_dup2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let old = fd_arg(a.a[0]);
    let new = fd_arg(a.a[1]);
    let f = t.fds.get(old)?;
    if old == new {
        return Ok(new as u64);
    }
    t.fds.install_at(new, f, false)?;
    Ok(new as u64)
}

fn sys_dup3(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let old = fd_arg(a.a[0]);
    let new = fd_arg(a.a[1]);
    let flags = a.a[2] as i32;
    if flags & !libc::O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    let f = t.fds.get(old)?;
    t.fds.install_at(new, f, flags & libc::O_CLOEXEC != 0)?;
    Ok(new as u64)
}

/// Checks a struct flock as F_SETLK would, without locking anything.
fn check_flock(t: &Task, fd: i32, arg: u64, set: bool) -> Result<libc::flock, Errno> {
    let f = io_file(t, fd)?;
    let mut fl: libc::flock = t.copy_in(arg)?;
    match i32::from(fl.l_whence) {
        libc::SEEK_SET | libc::SEEK_CUR | libc::SEEK_END => {}
        _ => return Err(Errno::EINVAL),
    }
    match i32::from(fl.l_type) {
        libc::F_RDLCK if set && !f.readable() => return Err(Errno::EBADF),
        libc::F_WRLCK if set && !f.writable() => return Err(Errno::EBADF),
        libc::F_RDLCK | libc::F_WRLCK | libc::F_UNLCK => {}
        _ => return Err(Errno::EINVAL),
    }
    if !set {
        // Nobody else holds a lock: the region is free.
        fl.l_type = libc::F_UNLCK as i16;
    }
    Ok(fl)
}

fn sys_fcntl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let fd = fd_arg(a.a[0]);
    let cmd = a.a[1] as i32;
    let arg = a.a[2];
    let (f, cloexec) = t.fds.get_with_flags(fd)?;
    match cmd {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => {
            let min = arg as i32;
            if min < 0 || min as usize >= t.fds.max() {
                return Err(Errno::EINVAL);
            }
            let fd = t
                .fds
                .install_from(f, min as usize, cmd == libc::F_DUPFD_CLOEXEC)?;
            Ok(fd as u64)
        }
        libc::F_GETFD => Ok(if cloexec { libc::FD_CLOEXEC as u64 } else { 0 }),
        libc::F_SETFD => {
            t.fds.set_cloexec(fd, arg as i32 & libc::FD_CLOEXEC != 0)?;
            Ok(0)
        }
        libc::F_GETFL => Ok(f.flags() as u32 as u64),
        libc::F_SETFL => {
            if f.is_path_only() {
                return Err(Errno::EBADF);
            }
            f.set_status_flags(arg as i32);
            Ok(0)
        }
        libc::F_GETLK | libc::F_OFD_GETLK => {
            let fl = check_flock(t, fd, arg, false)?;
            t.copy_out(arg, &fl)?;
            Ok(0)
        }
        libc::F_SETLK | libc::F_SETLKW | libc::F_OFD_SETLK | libc::F_OFD_SETLKW => {
            check_flock(t, fd, arg, true)?;
            Ok(0)
        }
        libc::F_GETPIPE_SZ => match f.ops().as_pipe() {
            Some(p) => Ok(p.capacity() as u64),
            None => Err(Errno::EBADF),
        },
        libc::F_SETPIPE_SZ => match f.ops().as_pipe() {
            Some(p) => Ok(p.set_capacity(arg as u32 as u64)? as u64),
            None => Err(Errno::EBADF),
        },
        libc::F_GETOWN => Ok(0),
        libc::F_SETOWN => {
            io_file(t, fd)?;
            Ok(0)
        }
        libc::F_GETLEASE => Ok(libc::F_UNLCK as u64),
        _ => Err(Errno::EINVAL),
    }
}

fn sys_flock(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let op = a.a[1] as i32 & !libc::LOCK_NB;
    io_file(t, fd_arg(a.a[0]))?;
    match op {
        libc::LOCK_SH | libc::LOCK_EX | libc::LOCK_UN => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}
