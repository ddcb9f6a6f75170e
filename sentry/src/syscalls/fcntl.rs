//! fcntl, dup and friends, flock.

use super::file::io_file;
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::net::socket::SocketFile;
use crate::usermem::UserPtr;
use crate::vfs::dnotify::SignalOwner;
use crate::vfs::lock::RecordLock;
use crate::vfs::File;
use std::sync::Arc;

// <asm-generic/fcntl.h>; the libc crate lacks them.
const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;
const F_SETOWN_EX: i32 = 15;
const F_GETOWN_EX: i32 = 16;
const F_OWNER_TID: i32 = 0;
const F_OWNER_PID: i32 = 1;
const F_OWNER_PGRP: i32 = 2;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_fcntl,
        "fcntl",
        Support::Partial(
            "no leases; seals only on tmpfs files (memfd); F_SETOWN and F_SETSIG serve only F_NOTIFY and a TCP socket's SIGURG (no O_ASYNC; a process group owner gets no SIGURG); F_SETLKW does not detect deadlocks (EDEADLK)",
        ),
        sys_fcntl,
    );
    t.add(libc::SYS_dup, "dup", Support::Full, sys_dup);
    t.add(libc::SYS_dup2, "dup2", Support::Full, sys_dup2);
    t.add(libc::SYS_dup3, "dup3", Support::Full, sys_dup3);
    t.add(libc::SYS_flock, "flock", Support::Full, sys_flock);
}

fn sys_dup(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = t.fds.get(a.int(0))?;
    Ok(t.fds.install(f, false)? as u64)
}

fn sys_dup2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let old = a.int(0);
    let new = a.int(1);
    let f = t.fds.get(old)?;
    if old == new {
        return Ok(new as u64);
    }
    t.fds.install_at(new, f, false)?;
    Ok(new as u64)
}

fn sys_dup3(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let old = a.int(0);
    let new = a.int(1);
    let flags = a.int(2);
    if flags & !libc::O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    let f = t.fds.get(old)?;
    t.fds.install_at(new, f, flags & libc::O_CLOEXEC != 0)?;
    Ok(new as u64)
}

/// Reads a struct flock and resolves it to an absolute byte range.
fn read_flock(
    t: &Task,
    f: &File,
    arg: UserPtr<libc::flock>,
    set: bool,
) -> Result<RecordLock, Errno> {
    let fl: libc::flock = t.copy_in(arg)?;
    let typ = i32::from(fl.l_type);
    match typ {
        libc::F_RDLCK if set && !f.readable() => return Err(Errno::EBADF),
        libc::F_WRLCK if set && !f.writable() => return Err(Errno::EBADF),
        libc::F_RDLCK | libc::F_WRLCK | libc::F_UNLCK => {}
        _ => return Err(Errno::EINVAL),
    }
    let base: i64 = match i32::from(fl.l_whence) {
        libc::SEEK_SET => 0,
        libc::SEEK_CUR => i64::try_from(f.offset()).map_err(|_| Errno::EOVERFLOW)?,
        libc::SEEK_END => f.stat()?.st_size,
        _ => return Err(Errno::EINVAL),
    };
    let start = base.checked_add(fl.l_start).ok_or(Errno::EOVERFLOW)?;
    // A negative length covers the bytes before start.
    let (start, end) = match fl.l_len {
        0 => (start, i64::MAX),
        l if l > 0 => (start, start.checked_add(l).ok_or(Errno::EOVERFLOW)?),
        l => (start.checked_add(l).ok_or(Errno::EINVAL)?, start),
    };
    if start < 0 {
        return Err(Errno::EINVAL);
    }
    let end = if end == i64::MAX {
        u64::MAX
    } else {
        end as u64
    };
    Ok(RecordLock {
        typ,
        start: start as u64,
        end,
    })
}

fn record_lock(t: &Task, fd: i32, cmd: i32, arg: UserPtr<libc::flock>) -> SysResult {
    let f = io_file(t, fd)?;
    let ofd = matches!(
        cmd,
        libc::F_OFD_GETLK | libc::F_OFD_SETLK | libc::F_OFD_SETLKW
    );
    if ofd {
        // OFD locks need l_pid == 0.
        let fl: libc::flock = t.copy_in(arg)?;
        if fl.l_pid != 0 {
            return Err(Errno::EINVAL);
        }
    }
    let locks = &t.kernel.locks;
    match cmd {
        libc::F_GETLK | libc::F_OFD_GETLK => {
            let req = read_flock(t, &f, arg, false)?;
            if req.typ == libc::F_UNLCK {
                return Err(Errno::EINVAL);
            }
            let mut fl: libc::flock = t.copy_in(arg)?;
            match locks.test(t, &f, &req, ofd)? {
                None => fl.l_type = libc::F_UNLCK as i16,
                Some((r, pid)) => {
                    fl.l_type = r.typ as i16;
                    fl.l_whence = libc::SEEK_SET as i16;
                    fl.l_start = r.start as i64;
                    fl.l_len = if r.end == u64::MAX {
                        0
                    } else {
                        (r.end - r.start) as i64
                    };
                    fl.l_pid = pid;
                }
            }
            t.copy_out(arg, &fl)?;
            Ok(0)
        }
        _ => {
            let req = read_flock(t, &f, arg, true)?;
            let wait = matches!(cmd, libc::F_SETLKW | libc::F_OFD_SETLKW);
            locks.set(t, &f, req, ofd, wait).map(|_| 0)
        }
    }
}

fn sys_fcntl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let fd = a.int(0);
    let cmd = a.int(1);
    let arg = a.ulong(2);
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
        libc::F_GETLK
        | libc::F_OFD_GETLK
        | libc::F_SETLK
        | libc::F_SETLKW
        | libc::F_OFD_SETLK
        | libc::F_OFD_SETLKW => record_lock(t, fd, cmd, UserPtr::new(arg)),
        libc::F_GETPIPE_SZ => match crate::fsimpl::pipe::pipe_of(&f) {
            Some(p) => Ok(p.capacity() as u64),
            None => Err(Errno::EBADF),
        },
        libc::F_SETPIPE_SZ => match crate::fsimpl::pipe::pipe_of(&f) {
            Some(p) => Ok(p.set_capacity(arg as u32 as u64)? as u64),
            None => Err(Errno::EBADF),
        },
        libc::F_ADD_SEALS => {
            // Linux asks for a writable description first.
            let inode = crate::fsimpl::tmpfs::of_file(&f).ok_or(Errno::EINVAL)?;
            if !f.writable() {
                return Err(Errno::EPERM);
            }
            inode.add_seals(arg as u32).map(|_| 0)
        }
        libc::F_GET_SEALS => crate::fsimpl::tmpfs::of_file(&f)
            .and_then(|i| i.seals())
            .map(u64::from)
            .ok_or(Errno::EINVAL),
        libc::F_GETOWN => match SocketFile::of(&f) {
            Ok(s) => Ok(s.sock.owner() as i64 as u64),
            Err(_) => Ok(0),
        },
        // glibc's F_GETOWN is this one.
        F_GETOWN_EX => {
            let pid = SocketFile::of(&f).map_or(0, |s| s.sock.owner());
            let ex: [i32; 2] = match pid {
                0 => [F_OWNER_TID, 0],
                p if p < 0 => [F_OWNER_PGRP, -p],
                p => [F_OWNER_PID, p],
            };
            t.copy_out(arg, &ex)?;
            Ok(0)
        }
        F_SETOWN_EX => {
            let f = io_file(t, fd)?;
            let ex: [i32; 2] = t.copy_in(arg)?;
            let pid = match ex[0] {
                // A thread owner is taken as its process.
                F_OWNER_TID | F_OWNER_PID => ex[1],
                F_OWNER_PGRP => ex[1].checked_neg().ok_or(Errno::EINVAL)?,
                _ => return Err(Errno::EINVAL),
            };
            if let Ok(s) = SocketFile::of(&f) {
                set_socket_owner(t, s, pid)?;
            }
            Ok(0)
        }
        libc::F_SETOWN => {
            let f = io_file(t, fd)?;
            if let Ok(s) = SocketFile::of(&f) {
                set_socket_owner(t, s, arg as i32)?;
            }
            Ok(0)
        }
        libc::F_GETLEASE => Ok(libc::F_UNLCK as u64),
        F_GETSIG => Ok(io_file(t, fd)?.notify_signal() as u64),
        F_SETSIG => {
            let f = io_file(t, fd)?;
            // 0 is the default (SIGIO); anything else a valid signal.
            let sig = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
            if !(0..=64).contains(&sig) {
                return Err(Errno::EINVAL);
            }
            f.set_notify_signal(sig);
            Ok(0)
        }
        libc::F_NOTIFY => {
            let f = io_file(t, fd)?;
            let d = f.dentry().ok_or(Errno::ENOTDIR)?;
            if !d.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            d.mount
                .notify()
                .marks()
                .set(&f, fd, &d.inode, t.tg.clone(), a.ulong(2))?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// F_SETOWN on a socket: the process its SIGURG goes to, found now as
/// Linux's f_setown finds it (ESRCH for none). A process group is kept
/// for F_GETOWN but signalled nothing.
fn set_socket_owner(t: &Task, s: &SocketFile, pid: i32) -> Result<(), Errno> {
    let target = if pid > 0 {
        let g = t
            .kernel
            .group(pid)
            .or_else(|| t.kernel.task(pid).map(|h| h.tg.clone()))
            .ok_or(Errno::ESRCH)?;
        let g: Arc<dyn SignalOwner> = g;
        Some(Arc::downgrade(&g))
    } else {
        None
    };
    s.sock.set_owner(pid, target);
    Ok(())
}

fn sys_flock(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = io_file(t, a.int(0))?;
    t.kernel.locks.flock(t, &f, a.int(1)).map(|_| 0)
}
