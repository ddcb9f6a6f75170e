//! Extended attributes: the get/set/list/remove families on a path
//! (following a final symlink or, for the `l` variants, not) or an fd.
//! The checks are `vfs::xattr`'s; tmpfs stores attributes, the overlay
//! root serves them from the file's top layer (copying it up to change
//! them), and host files have the host's, through the Gofer.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::usermem::UserAddr;
use crate::vfs::Caller;
use crate::vfs::{ops, xattr, Dentry};

pub fn register(t: &mut Table) {
    let full = Support::Partial(
        "tmpfs, the overlay root (copy-up, as overlayfs) and host files through the Gofer \
         (changed only with --overlay=none or writable bind mounts); proc, sys, dev and \
         sockets have none",
    );
    t.add(libc::SYS_getxattr, "getxattr", full, sys_getxattr);
    t.add(libc::SYS_lgetxattr, "lgetxattr", full, sys_lgetxattr);
    t.add(libc::SYS_fgetxattr, "fgetxattr", full, sys_fgetxattr);
    t.add(libc::SYS_listxattr, "listxattr", full, sys_listxattr);
    t.add(libc::SYS_llistxattr, "llistxattr", full, sys_llistxattr);
    t.add(libc::SYS_flistxattr, "flistxattr", full, sys_flistxattr);
    t.add(libc::SYS_setxattr, "setxattr", full, sys_setxattr);
    t.add(libc::SYS_lsetxattr, "lsetxattr", full, sys_lsetxattr);
    t.add(libc::SYS_fsetxattr, "fsetxattr", full, sys_fsetxattr);
    t.add(libc::SYS_removexattr, "removexattr", full, sys_removexattr);
    t.add(
        libc::SYS_lremovexattr,
        "lremovexattr",
        full,
        sys_lremovexattr,
    );
    t.add(
        libc::SYS_fremovexattr,
        "fremovexattr",
        full,
        sys_fremovexattr,
    );
    // Linux 6.13's *at family (the libc crate has no numbers for them yet).
    t.add(SYS_SETXATTRAT, "setxattrat", full, sys_setxattrat);
    t.add(SYS_GETXATTRAT, "getxattrat", full, sys_getxattrat);
    t.add(SYS_LISTXATTRAT, "listxattrat", full, sys_listxattrat);
    t.add(SYS_REMOVEXATTRAT, "removexattrat", full, sys_removexattrat);
}

const SYS_SETXATTRAT: i64 = 463;
const SYS_GETXATTRAT: i64 = 464;
const SYS_LISTXATTRAT: i64 = 465;
const SYS_REMOVEXATTRAT: i64 = 466;

/// Which file a call names.
#[derive(Clone, Copy)]
enum Target {
    Path {
        addr: UserAddr,
        follow: bool,
    },
    Fd(i32),
    /// The *xattrat calls: `path` from `dirfd`, `AT_SYMLINK_NOFOLLOW` and
    /// `AT_EMPTY_PATH` in `flags`.
    At {
        dirfd: i32,
        addr: UserAddr,
        flags: u64,
    },
}

fn dentry_of(t: &Task, target: Target) -> Result<Arc<Dentry>, Errno> {
    match target {
        Target::Path { addr, follow } => {
            let p = t.read_path(addr)?;
            if p.is_empty() {
                return Err(Errno::ENOENT);
            }
            ops::dentry_at(t, libc::AT_FDCWD, &p, follow, false)
        }
        Target::Fd(fd) => {
            let f = t.fds.get(fd)?;
            if f.is_path_only() {
                return Err(Errno::EBADF);
            }
            // Pipes and sockets have no attributes to keep.
            f.dentry().cloned().ok_or(Errno::EOPNOTSUPP)
        }
        Target::At { dirfd, addr, flags } => {
            let known = (libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH) as u64;
            if flags & !known != 0 {
                return Err(Errno::EINVAL);
            }
            let empty_ok = flags & libc::AT_EMPTY_PATH as u64 != 0;
            let p = t.read_path(addr)?;
            if p.is_empty() && !empty_ok {
                return Err(Errno::ENOENT);
            }
            let follow = flags & libc::AT_SYMLINK_NOFOLLOW as u64 == 0;
            ops::dentry_at(t, dirfd, &p, follow, empty_ok)
        }
    }
}

/// struct xattr_args of the *xattrat calls: `value[8] size[4] flags[4]`,
/// `usize` bytes long (at least those 16; any more must be zero, as
/// `copy_struct_from_user` wants).
fn read_xattr_args(t: &Task, addr: UserAddr, usize_: u64) -> Result<(u64, u64, i32), Errno> {
    const VER0: u64 = 16;
    if usize_ < VER0 {
        return Err(Errno::EINVAL);
    }
    // Linux refuses more than a page.
    if usize_ > 4096 {
        return Err(Errno::E2BIG);
    }
    let raw = t.read_bytes(addr, usize_ as usize)?;
    if raw[16..].iter().any(|&b| b != 0) {
        return Err(Errno::E2BIG);
    }
    let word = |i: usize, n: usize| {
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(&raw[i..i + n]);
        u64::from_le_bytes(w)
    };
    Ok((word(0, 8), word(8, 4), word(12, 4) as u32 as i32))
}

/// An attribute name: 1..=255 bytes (ERANGE otherwise, as Linux).
fn read_name(t: &Task, name: UserAddr) -> Result<Vec<u8>, Errno> {
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
    Ok(n)
}

/// Copies `data` out to a buffer of `size` bytes at `buf`: size 0 asks
/// for the length; a smaller buffer is ERANGE.
fn copy_out_sized(t: &Task, data: &[u8], buf: UserAddr, size: u64) -> SysResult {
    let size = usize::try_from(size)
        .unwrap_or(usize::MAX)
        .min(xattr::SIZE_MAX);
    if size == 0 {
        return Ok(data.len() as u64);
    }
    if data.len() > size {
        return Err(Errno::ERANGE);
    }
    t.write_bytes(buf, data)?;
    Ok(data.len() as u64)
}

fn do_get(t: &Task, target: Target, a: &SyscallArgs) -> SysResult {
    let d = dentry_of(t, target)?;
    let name = read_name(t, a.addr(1))?;
    let value = xattr::get(&t.fs_cred(), &d, &name)?;
    copy_out_sized(t, &value, a.addr(2), a.ulong(3))
}

fn do_list(t: &Task, target: Target, a: &SyscallArgs) -> SysResult {
    let d = dentry_of(t, target)?;
    let names = xattr::list(&t.fs_cred(), &d)?;
    copy_out_sized(t, &names, a.addr(1), a.ulong(2))
}

fn do_set(t: &Task, target: Target, a: &SyscallArgs) -> SysResult {
    let flags = a.int(4);
    if flags & !(xattr::CREATE | xattr::REPLACE) != 0 {
        return Err(Errno::EINVAL);
    }
    let name = read_name(t, a.addr(1))?;
    let size = usize::try_from(a.ulong(3)).map_err(|_| Errno::E2BIG)?;
    if size > xattr::SIZE_MAX {
        return Err(Errno::E2BIG);
    }
    let value = if size == 0 {
        Vec::new()
    } else {
        t.read_bytes(a.addr(2), size)?
    };
    let d = dentry_of(t, target)?;
    xattr::set(&t.fs_cred(), &d, &name, &value, flags)?;
    Ok(0)
}

fn do_remove(t: &Task, target: Target, a: &SyscallArgs) -> SysResult {
    let name = read_name(t, a.addr(1))?;
    let d = dentry_of(t, target)?;
    xattr::remove(&t.fs_cred(), &d, &name)?;
    Ok(0)
}

fn at(a: &SyscallArgs) -> Target {
    Target::At {
        dirfd: a.int(0),
        addr: a.addr(1),
        flags: a.ulong(2),
    }
}

/// The arguments of a *xattrat call rearranged as the plain call's
/// (`target`, name, value, size, flags), which the shared code reads.
fn plain(name: UserAddr, value: u64, size: u64, flags: i32) -> SyscallArgs {
    SyscallArgs {
        a: [0, name.get(), value, size, flags as u32 as u64, 0],
    }
}

fn sys_setxattrat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (value, size, flags) = read_xattr_args(t, a.addr(4), a.ulong(5))?;
    do_set(t, at(a), &plain(a.addr(3), value, size, flags))
}

fn sys_getxattrat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (value, size, flags) = read_xattr_args(t, a.addr(4), a.ulong(5))?;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    do_get(t, at(a), &plain(a.addr(3), value, size, 0))
}

fn sys_listxattrat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let p = SyscallArgs {
        a: [0, a.addr(3).get(), a.ulong(4), 0, 0, 0],
    };
    do_list(t, at(a), &p)
}

fn sys_removexattrat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_remove(t, at(a), &plain(a.addr(3), 0, 0, 0))
}

fn path(a: &SyscallArgs, follow: bool) -> Target {
    Target::Path {
        addr: a.addr(0),
        follow,
    }
}

fn sys_getxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_get(t, path(a, true), a)
}

fn sys_lgetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_get(t, path(a, false), a)
}

fn sys_fgetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_get(t, Target::Fd(a.int(0)), a)
}

fn sys_listxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_list(t, path(a, true), a)
}

fn sys_llistxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_list(t, path(a, false), a)
}

fn sys_flistxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_list(t, Target::Fd(a.int(0)), a)
}

fn sys_setxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_set(t, path(a, true), a)
}

fn sys_lsetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_set(t, path(a, false), a)
}

fn sys_fsetxattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_set(t, Target::Fd(a.int(0)), a)
}

fn sys_removexattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_remove(t, path(a, true), a)
}

fn sys_lremovexattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_remove(t, path(a, false), a)
}

fn sys_fremovexattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_remove(t, Target::Fd(a.int(0)), a)
}
