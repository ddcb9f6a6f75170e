//! Directories: getdents, the working directory, chroot.

use super::file::io_file;
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::vfs::ops;
use crate::vfs::Caller;
use crate::vfs::{Dentry, DirEntry, IO_CHUNK, MAY_EXEC};

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_getdents64,
        "getdents64",
        Support::Full,
        sys_getdents64,
    );
    t.add(libc::SYS_getdents, "getdents", Support::Full, sys_getdents);
    t.add(libc::SYS_getcwd, "getcwd", Support::Full, sys_getcwd);
    t.add(libc::SYS_chdir, "chdir", Support::Full, sys_chdir);
    t.add(libc::SYS_fchdir, "fchdir", Support::Full, sys_fchdir);
    t.add(libc::SYS_chroot, "chroot", Support::Full, sys_chroot);
}

/// Rounds a record length up to the 8-byte alignment getdents uses.
fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// linux_dirent64: ino u64, off i64, reclen u16, type u8, name, NUL.
fn dirent64(out: &mut Vec<u8>, next: u64, e: &DirEntry) -> usize {
    let reclen = align8(19 + e.name.len() + 1);
    out.extend_from_slice(&e.ino.to_ne_bytes());
    out.extend_from_slice(&next.to_ne_bytes());
    out.extend_from_slice(&(reclen as u16).to_ne_bytes());
    out.push(e.ty);
    out.extend_from_slice(&e.name);
    out.resize(out.len() + reclen - 19 - e.name.len(), 0);
    reclen
}

/// linux_dirent: ino, off (unsigned long), reclen u16, name, NUL, padding,
/// and the type in the record's last byte.
fn dirent(out: &mut Vec<u8>, next: u64, e: &DirEntry) -> usize {
    let reclen = align8(18 + e.name.len() + 2);
    let start = out.len();
    out.extend_from_slice(&e.ino.to_ne_bytes());
    out.extend_from_slice(&next.to_ne_bytes());
    out.extend_from_slice(&(reclen as u16).to_ne_bytes());
    out.extend_from_slice(&e.name);
    out.resize(start + reclen, 0);
    out[start + reclen - 1] = e.ty;
    reclen
}

fn record_len64(e: &DirEntry) -> usize {
    align8(19 + e.name.len() + 1)
}

fn record_len(e: &DirEntry) -> usize {
    align8(18 + e.name.len() + 2)
}

fn do_getdents(
    t: &Task,
    a: &SyscallArgs,
    len: fn(&DirEntry) -> usize,
    put: fn(&mut Vec<u8>, u64, &DirEntry) -> usize,
) -> SysResult {
    let f = io_file(t, a.int(0))?;
    let count = (a.uint(2) as usize).min(IO_CHUNK);
    let mut out = Vec::new();
    let mut too_small = false;
    let ctx = ops::Ctx::of(t);
    f.read_dir(&ctx, |next, e| {
        if out.len() + len(e) > count {
            too_small = out.is_empty();
            return false;
        }
        put(&mut out, next, e);
        true
    })?;
    if too_small {
        return Err(Errno::EINVAL);
    }
    t.write_bytes(a.addr(1), &out)?;
    // Linux's iterate_dir reports every listing, the empty last one too.
    if let Some(d) = f.dentry() {
        d.mount.notify().path_event(d, libc::IN_ACCESS);
    }
    Ok(out.len() as u64)
}

fn sys_getdents64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_getdents(t, a, record_len64, dirent64)
}

fn sys_getdents(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_getdents(t, a, record_len, dirent)
}

fn sys_getcwd(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let cwd = t.fs.cwd();
    let root = t.fs.root();
    let mut path = if cwd.is_within(&root) {
        relative_to(&cwd, &root)
    } else {
        // Outside the root (after a chroot): Linux's marker.
        let mut p = b"(unreachable)".to_vec();
        p.extend_from_slice(&cwd.path());
        p
    };
    path.push(0);
    if path.len() > crate::vfs::PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let size = a.usize(1);
    if size < path.len() {
        return Err(Errno::ERANGE);
    }
    t.write_bytes(a.addr(0), &path)?;
    Ok(path.len() as u64)
}

/// The path of `d` as seen from `root` (`/` for the root itself).
fn relative_to(d: &Dentry, root: &Dentry) -> Vec<u8> {
    let full = d.path();
    let base = root.path();
    if base == b"/" {
        return full;
    }
    match full.strip_prefix(base.as_slice()) {
        Some([]) => b"/".to_vec(),
        Some(rest) => rest.to_vec(),
        None => full,
    }
}

fn check_dir(t: &Task, d: &Dentry) -> Result<(), Errno> {
    if !d.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    t.fs_cred().may_stat(&d.stat()?, MAY_EXEC)
}

fn sys_chdir(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.addr(0))?;
    let d = ops::dentry_at(t, libc::AT_FDCWD, &path, true, false)?;
    check_dir(t, &d)?;
    t.fs.set_cwd(d);
    Ok(0)
}

fn sys_fchdir(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = t.fds.get(a.int(0))?;
    let d = f.dentry().cloned().ok_or(Errno::ENOTDIR)?;
    check_dir(t, &d)?;
    t.fs.set_cwd(d);
    Ok(0)
}

fn sys_chroot(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.addr(0))?;
    let d = ops::dentry_at(t, libc::AT_FDCWD, &path, true, false)?;
    check_dir(t, &d)?;
    if !t.fs_cred().capable(crate::caps::CAP_SYS_CHROOT) {
        return Err(Errno::EPERM);
    }
    t.fs.set_root(d);
    Ok(0)
}
