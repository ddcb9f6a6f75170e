//! inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::vfs::inotify::{Inotify, ALL_EVENTS};
use crate::vfs::ops;
use crate::vfs::Caller;
use crate::vfs::{File, MAY_READ};

pub fn register(t: &mut Table) {
    let events =
        Support::Partial("IN_UNMOUNT only when an unmount is not lazy; changes the host makes to Gofer files are not seen");
    t.add(
        libc::SYS_inotify_init,
        "inotify_init",
        events,
        sys_inotify_init,
    );
    t.add(
        libc::SYS_inotify_init1,
        "inotify_init1",
        events,
        sys_inotify_init1,
    );
    t.add(
        libc::SYS_inotify_add_watch,
        "inotify_add_watch",
        events,
        sys_inotify_add_watch,
    );
    t.add(
        libc::SYS_inotify_rm_watch,
        "inotify_rm_watch",
        Support::Full,
        sys_inotify_rm_watch,
    );
}

fn make(t: &Task, flags: i32) -> SysResult {
    if flags & !(libc::IN_CLOEXEC | libc::IN_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let f = File::new(
        Arc::new(Inotify::new(t.kernel.vfs.notify().watches())),
        None,
        libc::O_RDONLY | (flags & libc::O_NONBLOCK),
    );
    Ok(t.fds.install(f, flags & libc::IN_CLOEXEC != 0)? as u64)
}

fn sys_inotify_init(t: &mut Task, _a: &SyscallArgs) -> SysResult {
    make(t, 0)
}

fn sys_inotify_init1(t: &mut Task, a: &SyscallArgs) -> SysResult {
    make(t, a.int(0))
}

/// The inotify instance behind `fd` (EBADF, or EINVAL for another file).
fn instance(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = t.fds.get(fd)?;
    let any: &dyn std::any::Any = &**f.ops();
    if any.downcast_ref::<Inotify>().is_none() {
        return Err(Errno::EINVAL);
    }
    Ok(f)
}

fn with_instance<R>(f: &File, op: impl FnOnce(&Inotify) -> Result<R, Errno>) -> Result<R, Errno> {
    let any: &dyn std::any::Any = &**f.ops();
    op(any.downcast_ref::<Inotify>().ok_or(Errno::EINVAL)?)
}

fn sys_inotify_add_watch(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mask = a.uint(2);
    let flag_bits = libc::IN_DONT_FOLLOW
        | libc::IN_EXCL_UNLINK
        | libc::IN_MASK_CREATE
        | libc::IN_MASK_ADD
        | libc::IN_ONLYDIR
        | libc::IN_ONESHOT;
    if mask & (ALL_EVENTS | flag_bits) == 0 || mask & ALL_EVENTS == 0 && mask & !flag_bits == 0 {
        return Err(Errno::EINVAL);
    }
    let f = t.fds.get(a.int(0))?;
    if mask & libc::IN_MASK_ADD != 0 && mask & libc::IN_MASK_CREATE != 0 {
        return Err(Errno::EINVAL);
    }
    let f = {
        drop(f);
        instance(t, a.int(0))?
    };
    let path = t.read_path(a.addr(1))?;
    let d = ops::dentry_at(
        t,
        libc::AT_FDCWD,
        &path,
        mask & libc::IN_DONT_FOLLOW == 0,
        false,
    )?;
    if mask & libc::IN_ONLYDIR != 0 && !d.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    t.fs_cred().may_stat(&d.inode.stat()?, MAY_READ)?;
    let wd = with_instance(&f, |i| i.add_watch(d.inode.clone(), &d.mount.sb, mask))?;
    Ok(wd as u64)
}

fn sys_inotify_rm_watch(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = instance(t, a.int(0))?;
    with_instance(&f, |i| i.rm_watch(a.int(1)))?;
    Ok(0)
}
