//! Extended attributes: no file in the sandbox has any yet, and none can
//! be set (the overlay's upper layer does not store them).

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    let get = Support::Partial("files have no extended attributes: ENODATA");
    let set = Support::Partial("setting extended attributes is not supported: EOPNOTSUPP");
    t.add(libc::SYS_getxattr, "getxattr", get, sys_getxattr);
    t.add(libc::SYS_lgetxattr, "lgetxattr", get, sys_lgetxattr);
    t.add(libc::SYS_fgetxattr, "fgetxattr", get, sys_fgetxattr);
    t.add(
        libc::SYS_listxattr,
        "listxattr",
        Support::Partial("always an empty list"),
        sys_listxattr,
    );
    t.add(
        libc::SYS_llistxattr,
        "llistxattr",
        Support::Partial("always an empty list"),
        sys_llistxattr,
    );
    t.add(
        libc::SYS_flistxattr,
        "flistxattr",
        Support::Partial("always an empty list"),
        sys_flistxattr,
    );
    t.add(libc::SYS_setxattr, "setxattr", set, sys_setxattr);
    t.add(libc::SYS_lsetxattr, "lsetxattr", set, sys_lsetxattr);
    t.add(libc::SYS_fsetxattr, "fsetxattr", set, sys_fsetxattr);
    t.add(libc::SYS_removexattr, "removexattr", set, sys_removexattr);
    t.add(
        libc::SYS_lremovexattr,
        "lremovexattr",
        set,
        sys_lremovexattr,
    );
    t.add(
        libc::SYS_fremovexattr,
        "fremovexattr",
        set,
        sys_fremovexattr,
    );
}

/// The file named by a path argument must exist (ENOENT, ENOTDIR, ELOOP
/// ... come first, as in Linux).
fn check_path(t: &Task, path: u64, follow: bool) -> Result<(), Errno> {
    let p = t.read_path(path)?;
    if p.is_empty() {
        return Err(Errno::ENOENT);
    }
    let flags = libc::O_PATH | if follow { 0 } else { libc::O_NOFOLLOW };
    crate::vfs::open(t, libc::AT_FDCWD, &p, flags, 0).map(|_| ())
}

/// EROFS when the file a path names is on a read-only mount (after the
/// path's own errors, as Linux's mnt_want_write comes after the lookup).
fn check_writable_path(t: &Task, path: u64, follow: bool) -> Result<(), Errno> {
    let p = t.read_path(path)?;
    let d = crate::vfs::ops::dentry_at(t, libc::AT_FDCWD, &p, follow, false)?;
    crate::vfs::mount::want_write(&d)
}

/// EROFS when the file `fd` names is on a read-only mount.
fn check_writable_fd(t: &Task, fd: u64) -> Result<(), Errno> {
    match t.fds.get(fd as i32)?.dentry() {
        Some(d) => crate::vfs::mount::want_write(d),
        None => Ok(()),
    }
}

/// An attribute name: 1..=255 bytes (ERANGE otherwise, as Linux).
fn check_name(t: &Task, name: u64) -> Result<(), Errno> {
    let n = t.read_cstring(name, 256).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::ERANGE
        } else {
            e
        }
    })?;
    if n.is_empty() || n.len() > 255 {
        return Err(Errno::ERANGE);
    }
    Ok(())
}

fn sys_getxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], true)?;
    check_name(t, a.a[1])?;
    Err(Errno::ENODATA)
}

fn sys_lgetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], false)?;
    check_name(t, a.a[1])?;
    Err(Errno::ENODATA)
}

fn sys_fgetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.fds.get(a.a[0] as i32)?;
    check_name(t, a.a[1])?;
    Err(Errno::ENODATA)
}

fn sys_listxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], true).map(|_| 0)
}

fn sys_llistxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], false).map(|_| 0)
}

fn sys_flistxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.fds.get(a.a[0] as i32).map(|_| 0)
}

fn sys_setxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], true)?;
    check_name(t, a.a[1])?;
    check_writable_path(t, a.a[0], true)?;
    Err(Errno::EOPNOTSUPP)
}

fn sys_lsetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], false)?;
    check_name(t, a.a[1])?;
    check_writable_path(t, a.a[0], false)?;
    Err(Errno::EOPNOTSUPP)
}

fn sys_fsetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.fds.get(a.a[0] as i32)?;
    check_name(t, a.a[1])?;
    check_writable_fd(t, a.a[0])?;
    Err(Errno::EOPNOTSUPP)
}

fn sys_removexattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], true)?;
    check_name(t, a.a[1])?;
    check_writable_path(t, a.a[0], true)?;
    Err(Errno::EOPNOTSUPP)
}

fn sys_lremovexattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    check_path(t, a.a[0], false)?;
    check_name(t, a.a[1])?;
    check_writable_path(t, a.a[0], false)?;
    Err(Errno::EOPNOTSUPP)
}

fn sys_fremovexattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.fds.get(a.a[0] as i32)?;
    check_name(t, a.a[1])?;
    check_writable_fd(t, a.a[0])?;
    Err(Errno::EOPNOTSUPP)
}
