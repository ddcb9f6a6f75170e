//! Opening, closing, creating, removing and renaming files, and their
//! permissions, owners, sizes and times.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::usermem::{UserAddr, UserPtr};
use crate::vfs::ops::{self, AtTarget, Ctx};
use crate::vfs::Caller;
use crate::vfs::{self, File, Time};

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_open,
        "open",
        Support::Partial("O_TMPFILE is EOPNOTSUPP"),
        sys_open,
    );
    t.add(
        libc::SYS_openat,
        "openat",
        Support::Partial("O_TMPFILE is EOPNOTSUPP"),
        sys_openat,
    );
    t.add(libc::SYS_creat, "creat", Support::Full, sys_creat);
    t.add(libc::SYS_close, "close", Support::Full, sys_close);
    t.add(
        libc::SYS_close_range,
        "close_range",
        Support::Partial("CLOSE_RANGE_UNSHARE closes in a table shared by CLONE_FILES"),
        sys_close_range,
    );
    t.add(libc::SYS_access, "access", Support::Full, sys_access);
    t.add(
        libc::SYS_faccessat,
        "faccessat",
        Support::Full,
        sys_faccessat,
    );
    t.add(
        libc::SYS_faccessat2,
        "faccessat2",
        Support::Full,
        sys_faccessat2,
    );
    t.add(libc::SYS_mkdir, "mkdir", Support::Full, sys_mkdir);
    t.add(libc::SYS_mkdirat, "mkdirat", Support::Full, sys_mkdirat);
    t.add(libc::SYS_unlink, "unlink", Support::Full, sys_unlink);
    t.add(libc::SYS_unlinkat, "unlinkat", Support::Full, sys_unlinkat);
    t.add(libc::SYS_rmdir, "rmdir", Support::Full, sys_rmdir);
    let rename_gap = "RENAME_WHITEOUT is EINVAL; in the overlay root, directories with lower-layer contents are EXDEV (moved or exchanged)";
    t.add(
        libc::SYS_rename,
        "rename",
        Support::Partial(rename_gap),
        sys_rename,
    );
    t.add(
        libc::SYS_renameat,
        "renameat",
        Support::Partial(rename_gap),
        sys_renameat,
    );
    t.add(
        libc::SYS_renameat2,
        "renameat2",
        Support::Partial(rename_gap),
        sys_renameat2,
    );
    t.add(libc::SYS_symlink, "symlink", Support::Full, sys_symlink);
    t.add(
        libc::SYS_symlinkat,
        "symlinkat",
        Support::Full,
        sys_symlinkat,
    );
    t.add(libc::SYS_link, "link", Support::Full, sys_link);
    t.add(libc::SYS_linkat, "linkat", Support::Full, sys_linkat);
    t.add(libc::SYS_readlink, "readlink", Support::Full, sys_readlink);
    t.add(
        libc::SYS_readlinkat,
        "readlinkat",
        Support::Full,
        sys_readlinkat,
    );
    t.add(libc::SYS_chmod, "chmod", Support::Full, sys_chmod);
    t.add(libc::SYS_fchmod, "fchmod", Support::Full, sys_fchmod);
    t.add(libc::SYS_fchmodat, "fchmodat", Support::Full, sys_fchmodat);
    t.add(
        libc::SYS_fchmodat2,
        "fchmodat2",
        Support::Full,
        sys_fchmodat2,
    );
    t.add(libc::SYS_chown, "chown", Support::Full, sys_chown);
    t.add(libc::SYS_fchown, "fchown", Support::Full, sys_fchown);
    t.add(libc::SYS_lchown, "lchown", Support::Full, sys_lchown);
    t.add(libc::SYS_fchownat, "fchownat", Support::Full, sys_fchownat);
    t.add(libc::SYS_truncate, "truncate", Support::Full, sys_truncate);
    t.add(
        libc::SYS_ftruncate,
        "ftruncate",
        Support::Full,
        sys_ftruncate,
    );
    t.add(libc::SYS_fsync, "fsync", Support::Full, sys_fsync);
    t.add(
        libc::SYS_fdatasync,
        "fdatasync",
        Support::Full,
        sys_fdatasync,
    );
    t.add(libc::SYS_sync, "sync", Support::Full, sys_sync);
    t.add(libc::SYS_syncfs, "syncfs", Support::Full, sys_syncfs);
    t.add(libc::SYS_umask, "umask", Support::Full, sys_umask);
    t.add(
        libc::SYS_utimensat,
        "utimensat",
        Support::Full,
        sys_utimensat,
    );
    t.add(libc::SYS_utime, "utime", Support::Full, sys_utime);
    t.add(libc::SYS_utimes, "utimes", Support::Full, sys_utimes);
    t.add(
        libc::SYS_futimesat,
        "futimesat",
        Support::Full,
        sys_futimesat,
    );
    t.add(libc::SYS_mknod, "mknod", Support::Full, sys_mknod);
    t.add(libc::SYS_mknodat, "mknodat", Support::Full, sys_mknodat);
    t.add(
        libc::SYS_fallocate,
        "fallocate",
        Support::Partial("KEEP_SIZE and PUNCH_HOLE; no COLLAPSE, ZERO or INSERT_RANGE"),
        sys_fallocate,
    );
}

// ---- argument helpers shared by the file syscall families ----

/// A file from the fd table that may do I/O: O_PATH descriptors are EBADF
/// for everything but a few calls.
pub(super) fn io_file(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = t.fds.get(fd)?;
    if f.is_path_only() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

/// A path argument; `empty_ok` lets an empty string (or, with
/// AT_EMPTY_PATH, a null pointer as Linux 6.11 does) through.
pub(super) fn path_arg(t: &Task, addr: UserAddr, empty_ok: bool) -> Result<Vec<u8>, Errno> {
    if addr.is_null() && empty_ok {
        return Ok(Vec::new());
    }
    t.read_path(addr)
}

// ---- open / close ----

fn do_open(t: &Task, dirfd: i32, path: &[u8], flags: i32, mode: u32) -> SysResult {
    let f = vfs::open(t, dirfd, path, flags, mode)?;
    let fd = t.fds.install(f, flags & libc::O_CLOEXEC != 0)?;
    Ok(fd as u64)
}

fn sys_open(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.addr(0))?;
    do_open(t, libc::AT_FDCWD, &path, a.int(1), a.uint(2))
}

fn sys_openat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.addr(1))?;
    do_open(t, a.int(0), &path, a.int(2), a.uint(3))
}

fn sys_creat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.addr(0))?;
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC;
    do_open(t, libc::AT_FDCWD, &path, flags, a.uint(1))
}

fn sys_close(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = t.fds.remove(a.int(0))?;
    closed(t, &f);
    drop(f);
    Ok(0)
}

/// What closing a descriptor of `f` ends for the process: its POSIX
/// locks on the file, its message-queue notification.
fn closed(t: &Task, f: &crate::vfs::File) {
    t.kernel.locks.closed(t.tgid(), f);
    crate::fsimpl::mqueue::closed(t.tgid(), f);
}

fn sys_close_range(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let first = a.uint(0);
    let last = a.uint(1);
    let flags = a.uint(2);
    if flags & !(libc::CLOSE_RANGE_CLOEXEC | libc::CLOSE_RANGE_UNSHARE) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    // With CLONE_FILES sharing, UNSHARE would need a new table installed
    // in the task: closing in the shared one is what it asks for otherwise.
    for fd in t.fds.fds() {
        let u = fd as u32;
        if u < first || u > last {
            continue;
        }
        if flags & libc::CLOSE_RANGE_CLOEXEC != 0 {
            let _ = t.fds.set_cloexec(fd, true);
        } else if let Ok(f) = t.fds.remove(fd) {
            closed(t, &f);
            drop(f);
        }
    }
    Ok(0)
}

// ---- access ----

fn do_access(t: &Task, dirfd: i32, path_addr: UserAddr, mode: i32, flags: i32) -> SysResult {
    let known = libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
    let path = path_arg(t, path_addr, empty_ok)?;
    let target = ops::resolve_at(
        t,
        dirfd,
        &path,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        empty_ok,
    )?;
    let cred = if flags & libc::AT_EACCESS != 0 {
        t.fs_cred()
    } else {
        t.real_cred()
    };
    let st = target.stat()?;
    if mode & libc::W_OK != 0
        && matches!(
            st.st_mode & libc::S_IFMT,
            libc::S_IFREG | libc::S_IFDIR | libc::S_IFLNK
        )
    {
        if let Some(d) = target.dentry() {
            d.mount.want_write()?;
        }
    }
    ops::access(&cred, &st, mode)?;
    Ok(0)
}

fn sys_access(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_access(t, libc::AT_FDCWD, a.addr(0), a.int(1), 0)
}

fn sys_faccessat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_access(t, a.int(0), a.addr(1), a.int(2), 0)
}

fn sys_faccessat2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_access(t, a.int(0), a.addr(1), a.int(2), a.int(3))
}

// ---- mkdir, unlink, rmdir, rename, symlink, link ----

fn do_mkdir(t: &Task, dirfd: i32, path_addr: UserAddr, mode: u32) -> SysResult {
    let path = t.read_path(path_addr)?;
    let start = ops::start_dir(t, dirfd, &path)?;
    ops::mkdirat(&Ctx::of(t), start, &path, mode)?;
    Ok(0)
}

fn sys_mkdir(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_mkdir(t, libc::AT_FDCWD, a.addr(0), a.uint(1))
}

fn sys_mkdirat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_mkdir(t, a.int(0), a.addr(1), a.uint(2))
}

fn do_unlink(t: &Task, dirfd: i32, path_addr: UserAddr, flags: i32) -> SysResult {
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(path_addr)?;
    let start = ops::start_dir(t, dirfd, &path)?;
    let ctx = Ctx::of(t);
    if flags & libc::AT_REMOVEDIR != 0 {
        ops::rmdirat(&ctx, start, &path)?;
    } else {
        ops::unlinkat(&ctx, start, &path)?;
    }
    Ok(0)
}

fn sys_unlink(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_unlink(t, libc::AT_FDCWD, a.addr(0), 0)
}

fn sys_unlinkat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_unlink(t, a.int(0), a.addr(1), a.int(2))
}

fn sys_rmdir(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_unlink(t, libc::AT_FDCWD, a.addr(0), libc::AT_REMOVEDIR)
}

fn do_rename(
    t: &Task,
    olddirfd: i32,
    old_addr: UserAddr,
    newdirfd: i32,
    new_addr: UserAddr,
    flags: u32,
) -> SysResult {
    let old = t.read_path(old_addr)?;
    let new = t.read_path(new_addr)?;
    let old_start = ops::start_dir(t, olddirfd, &old)?;
    let new_start = ops::start_dir(t, newdirfd, &new)?;
    ops::renameat(&Ctx::of(t), old_start, &old, new_start, &new, flags)?;
    Ok(0)
}

fn sys_rename(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_rename(t, libc::AT_FDCWD, a.addr(0), libc::AT_FDCWD, a.addr(1), 0)
}

fn sys_renameat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_rename(t, a.int(0), a.addr(1), a.int(2), a.addr(3), 0)
}

fn sys_renameat2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_rename(t, a.int(0), a.addr(1), a.int(2), a.addr(3), a.uint(4))
}

fn do_symlink(t: &Task, target_addr: UserAddr, dirfd: i32, path_addr: UserAddr) -> SysResult {
    let target = t.read_path(target_addr)?;
    let path = t.read_path(path_addr)?;
    let start = ops::start_dir(t, dirfd, &path)?;
    ops::symlinkat(&Ctx::of(t), &target, start, &path)?;
    Ok(0)
}

fn sys_symlink(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_symlink(t, a.addr(0), libc::AT_FDCWD, a.addr(1))
}

fn sys_symlinkat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_symlink(t, a.addr(0), a.int(1), a.addr(2))
}

fn do_link(
    t: &Task,
    olddirfd: i32,
    old_addr: UserAddr,
    newdirfd: i32,
    new_addr: UserAddr,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_SYMLINK_FOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
    let old = path_arg(t, old_addr, empty_ok)?;
    let new = t.read_path(new_addr)?;
    let src = match ops::resolve_at(
        t,
        olddirfd,
        &old,
        flags & libc::AT_SYMLINK_FOLLOW != 0,
        empty_ok,
    )? {
        AtTarget::Dentry(d) => d,
        // A pipe has no name to link to.
        AtTarget::File(_) => return Err(Errno::ENOENT),
    };
    let new_start = ops::start_dir(t, newdirfd, &new)?;
    ops::linkat(&Ctx::of(t), &src, new_start, &new)?;
    Ok(0)
}

fn sys_link(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_link(t, libc::AT_FDCWD, a.addr(0), libc::AT_FDCWD, a.addr(1), 0)
}

fn sys_linkat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_link(t, a.int(0), a.addr(1), a.int(2), a.addr(3), a.int(4))
}

// ---- readlink ----

fn do_readlink(t: &Task, dirfd: i32, path_addr: UserAddr, buf: UserAddr, size: i32) -> SysResult {
    let path = t.read_path(path_addr)?;
    if size <= 0 {
        return Err(Errno::EINVAL);
    }
    let target = if path.is_empty() {
        // An empty path reads the symlink dirfd names (O_PATH|O_NOFOLLOW).
        match ops::resolve_at(t, dirfd, &path, false, true)?.dentry() {
            Some(d) if vfs::is_symlink(d.mode()) => d.inode.readlink_by(&Ctx::of(t))?,
            _ => return Err(Errno::ENOENT),
        }
    } else {
        let d = ops::dentry_at(t, dirfd, &path, false, false)?;
        ops::readlink(&Ctx::of(t), &d)?
    };
    let n = target.len().min(size as usize);
    t.write_bytes(buf, &target[..n])?;
    Ok(n as u64)
}

fn sys_readlink(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_readlink(t, libc::AT_FDCWD, a.addr(0), a.addr(1), a.int(2))
}

fn sys_readlinkat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_readlink(t, a.int(0), a.addr(1), a.addr(2), a.int(3))
}

// ---- chmod, chown ----

fn chmod_target(t: &Task, target: AtTarget, mode: u32) -> SysResult {
    // Pipes have nowhere to keep a mode, and nobody can look it up.
    if let Some(d) = target.dentry() {
        ops::chmod(&t.fs_cred(), d, mode)?;
    }
    Ok(0)
}

fn do_fchmodat(t: &Task, dirfd: i32, path_addr: UserAddr, mode: u32, flags: i32) -> SysResult {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
    let path = path_arg(t, path_addr, empty_ok)?;
    let target = ops::resolve_at(
        t,
        dirfd,
        &path,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        empty_ok,
    )?;
    if target.dentry().is_some_and(|d| vfs::is_symlink(d.mode())) {
        // Linux has no symlink modes to change.
        return Err(Errno::EOPNOTSUPP);
    }
    chmod_target(t, target, mode)
}

fn sys_chmod(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_fchmodat(t, libc::AT_FDCWD, a.addr(0), a.uint(1), 0)
}

fn sys_fchmod(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = io_file(t, a.int(0))?;
    let target = match f.dentry() {
        Some(d) => AtTarget::Dentry(d.clone()),
        None => AtTarget::File(f),
    };
    chmod_target(t, target, a.uint(1))
}

fn sys_fchmodat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_fchmodat(t, a.int(0), a.addr(1), a.uint(2), 0)
}

fn sys_fchmodat2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_fchmodat(t, a.int(0), a.addr(1), a.uint(2), a.int(3))
}

/// A uid/gid argument: -1 keeps the current one.
fn id_arg(v: u32) -> Option<u32> {
    (v != u32::MAX).then_some(v)
}

fn do_fchownat(
    t: &Task,
    dirfd: i32,
    path_addr: UserAddr,
    uid: u32,
    gid: u32,
    flags: i32,
) -> SysResult {
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
    let path = path_arg(t, path_addr, empty_ok)?;
    let target = ops::resolve_at(
        t,
        dirfd,
        &path,
        flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        empty_ok,
    )?;
    if let Some(d) = target.dentry() {
        ops::chown(&t.fs_cred(), d, id_arg(uid), id_arg(gid))?;
    }
    Ok(0)
}

fn sys_chown(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_fchownat(t, libc::AT_FDCWD, a.addr(0), a.uint(1), a.uint(2), 0)
}

fn sys_lchown(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_fchownat(
        t,
        libc::AT_FDCWD,
        a.addr(0),
        a.uint(1),
        a.uint(2),
        libc::AT_SYMLINK_NOFOLLOW,
    )
}

fn sys_fchown(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = io_file(t, a.int(0))?;
    if let Some(d) = f.dentry() {
        ops::chown(&t.fs_cred(), d, id_arg(a.uint(1)), id_arg(a.uint(2)))?;
    }
    Ok(0)
}

fn sys_fchownat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_fchownat(t, a.int(0), a.addr(1), a.uint(2), a.uint(3), a.int(4))
}

// ---- sizes, sync, umask, times ----

fn sys_truncate(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.addr(0))?;
    let d = ops::dentry_at(t, libc::AT_FDCWD, &path, true, false)?;
    if a.long(1) >= 0 && vfs::is_reg(d.mode()) {
        t.check_file_size(a.long(1) as u64)?;
    }
    ops::truncate(&t.fs_cred(), &d, a.long(1))?;
    Ok(0)
}

fn sys_ftruncate(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let len = a.long(1);
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let f = io_file(t, a.int(0))?;
    let d = match f.dentry() {
        Some(d) if vfs::is_reg(d.mode()) && f.writable() => d.clone(),
        _ => return Err(Errno::EINVAL),
    };
    t.check_file_size(len as u64)?;
    d.inode.setattr(&vfs::SetAttr {
        size: Some(len as u64),
        ..vfs::SetAttr::default()
    })?;
    d.mount.notify().file_event(&d, libc::IN_MODIFY);
    Ok(0)
}

fn sys_fsync(t: &mut Task, a: &SyscallArgs) -> SysResult {
    io_file(t, a.int(0))?.ops().fsync()?;
    Ok(0)
}

fn sys_fdatasync(t: &mut Task, a: &SyscallArgs) -> SysResult {
    sys_fsync(t, a)
}

/// Everything lives in memory or on a read-only lower layer: nothing to
/// flush.
fn sys_sync(_t: &mut Task, _a: &SyscallArgs) -> SysResult {
    Ok(0)
}

fn sys_syncfs(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.fds.get(a.int(0))?;
    Ok(0)
}

fn sys_umask(t: &mut Task, a: &SyscallArgs) -> SysResult {
    Ok(u64::from(t.fs.swap_umask(a.uint(0) & 0o777)))
}

/// One utimensat timestamp: `None` to leave it, `Some(None)` for now.
fn utime_arg(ts: &libc::timespec) -> Result<Option<Option<Time>>, Errno> {
    match ts.tv_nsec {
        libc::UTIME_OMIT => Ok(None),
        libc::UTIME_NOW => Ok(Some(None)),
        n if (0..1_000_000_000).contains(&n) => Ok(Some(Some(Time {
            sec: ts.tv_sec,
            nsec: n,
        }))),
        _ => Err(Errno::EINVAL),
    }
}

/// Times as utimensat takes them: `None` leaves one, `Some(None)` is now.
type Times = (Option<Option<Time>>, Option<Option<Time>>);

fn sys_utimensat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (atime, mtime) = if a.addr(2).is_null() {
        (Some(None), Some(None))
    } else {
        let ts: [libc::timespec; 2] = t.copy_in(a.ptr(2))?;
        (utime_arg(&ts[0])?, utime_arg(&ts[1])?)
    };
    do_utimes(t, a.int(0), a.addr(1), a.int(3), (atime, mtime))
}

/// utimes(2) and futimesat(2) times: microseconds, or now for a null
/// pointer.
fn timeval_times(t: &Task, addr: UserPtr<[libc::timeval; 2]>) -> Result<Times, Errno> {
    if addr.is_null() {
        return Ok((Some(None), Some(None)));
    }
    let tv: [libc::timeval; 2] = t.copy_in(addr)?;
    let one = |v: &libc::timeval| {
        if !(0..1_000_000).contains(&v.tv_usec) {
            return Err(Errno::EINVAL);
        }
        Ok(Some(Some(Time {
            sec: v.tv_sec,
            nsec: v.tv_usec * 1000,
        })))
    };
    Ok((one(&tv[0])?, one(&tv[1])?))
}

fn sys_utime(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let times = if a.addr(1).is_null() {
        (Some(None), Some(None))
    } else {
        let ub: [i64; 2] = t.copy_in(a.ptr(1))?;
        let at = |sec| Some(Some(Time { sec, nsec: 0 }));
        (at(ub[0]), at(ub[1]))
    };
    if a.addr(0).is_null() {
        return Err(Errno::EFAULT);
    }
    do_utimes(t, libc::AT_FDCWD, a.addr(0), 0, times)
}

fn sys_utimes(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let times = timeval_times(t, a.ptr(1))?;
    if a.addr(0).is_null() {
        return Err(Errno::EFAULT);
    }
    do_utimes(t, libc::AT_FDCWD, a.addr(0), 0, times)
}

fn sys_futimesat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let times = timeval_times(t, a.ptr(2))?;
    do_utimes(t, a.int(0), a.addr(1), 0, times)
}

fn do_utimes(t: &Task, dirfd: i32, path_addr: UserAddr, flags: i32, times: Times) -> SysResult {
    let (atime, mtime) = times;
    if flags & !(libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let a1 = path_addr;
    // A null path is futimens(2): the file dirfd names.
    let target = if a1.is_null() {
        if dirfd == libc::AT_FDCWD {
            return Err(Errno::EFAULT);
        }
        ops::resolve_at(t, dirfd, b"", true, true)?
    } else {
        let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
        let path = t.read_path(a1)?;
        ops::resolve_at(
            t,
            dirfd,
            &path,
            flags & libc::AT_SYMLINK_NOFOLLOW == 0,
            empty_ok,
        )?
    };
    if atime.is_none() && mtime.is_none() {
        return Ok(0);
    }
    if let Some(d) = target.dentry() {
        ops::utimes(&t.fs_cred(), d, atime, mtime)?;
    }
    Ok(0)
}

// ---- mknod, fallocate ----

/// `dev` is the 32-bit dev_t the kernel takes from the application
/// (new_decode_dev).
fn do_mknod(t: &Task, dirfd: i32, path_addr: UserAddr, mode: u32, dev: u32) -> SysResult {
    let path = t.read_path(path_addr)?;
    let start = ops::start_dir(t, dirfd, &path)?;
    let rdev = libc::makedev((dev & 0xfff00) >> 8, (dev & 0xff) | ((dev >> 12) & 0xfff00));
    ops::mknodat(&Ctx::of(t), start, &path, mode, rdev)?;
    Ok(0)
}

fn sys_mknod(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_mknod(t, libc::AT_FDCWD, a.addr(0), a.uint(1), a.uint(2))
}

fn sys_mknodat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_mknod(t, a.int(0), a.addr(1), a.uint(2), a.uint(3))
}

/// fallocate(2), checked in Linux's order (vfs_fallocate). Filesystems
/// here allocate on write, so reserving is only the size change.
fn sys_fallocate(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = t.fds.get(a.int(0))?;
    let mode = a.int(1);
    let (off, len) = (a.long(2), a.long(3));
    if off < 0 || len <= 0 {
        return Err(Errno::EINVAL);
    }
    let known = libc::FALLOC_FL_KEEP_SIZE | libc::FALLOC_FL_PUNCH_HOLE;
    if mode & !known != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let punch = mode & libc::FALLOC_FL_PUNCH_HOLE != 0;
    if punch && mode & libc::FALLOC_FL_KEEP_SIZE == 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if !f.writable() || f.is_path_only() {
        return Err(Errno::EBADF);
    }
    let st = f.stat()?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => return Err(Errno::ESPIPE),
        libc::S_IFDIR => return Err(Errno::EISDIR),
        libc::S_IFREG => {}
        _ => return Err(Errno::ENODEV),
    }
    let end = off.checked_add(len).ok_or(Errno::EFBIG)?;
    let d = f.dentry().ok_or(Errno::EOPNOTSUPP)?;
    if punch {
        d.inode.punch_hole(off as u64, len as u64)?;
        d.mount.notify().path_event(d, libc::IN_MODIFY);
        return Ok(0);
    }
    if mode & libc::FALLOC_FL_KEEP_SIZE == 0 && end > st.st_size {
        t.check_file_size(end as u64)?;
        d.inode.setattr(&vfs::SetAttr {
            size: Some(end as u64),
            ..vfs::SetAttr::default()
        })?;
        d.mount.notify().path_event(d, libc::IN_MODIFY);
    }
    Ok(0)
}
