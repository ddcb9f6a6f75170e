//! stat, statx and statfs.

use super::file::path_arg;
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::usermem::UserAddr;
use crate::vfs::ops::{self, AtTarget};

pub fn register(t: &mut Table) {
    t.add(libc::SYS_stat, "stat", Support::Full, sys_stat);
    t.add(libc::SYS_lstat, "lstat", Support::Full, sys_lstat);
    t.add(libc::SYS_fstat, "fstat", Support::Full, sys_fstat);
    t.add(
        libc::SYS_newfstatat,
        "newfstatat",
        Support::Full,
        sys_newfstatat,
    );
    t.add(
        libc::SYS_statx,
        "statx",
        Support::Partial("basic stats only (no btime, attributes or mount id)"),
        sys_statx,
    );
    t.add(libc::SYS_statfs, "statfs", Support::Full, sys_statfs);
    t.add(libc::SYS_fstatfs, "fstatfs", Support::Full, sys_fstatfs);
}

fn stat_at(t: &Task, dirfd: i32, path_addr: UserAddr, flags: i32) -> Result<libc::stat, Errno> {
    let known = libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
    let path = path_arg(t, path_addr, empty_ok)?;
    let follow = flags & libc::AT_SYMLINK_NOFOLLOW == 0;
    let st = ops::resolve_at(t, dirfd, &path, follow, empty_ok)?.stat()?;
    Ok(seen_by(t, st))
}

/// The owner as the caller's user namespace names it: files keep kernel
/// ids, and an id the namespace does not map reads as the overflow id
/// (65534), as Linux's from_kuid_munged.
fn seen_by(t: &Task, mut st: libc::stat) -> libc::stat {
    let ns = t.creds().user_ns.0;
    st.st_uid = ns.uid_from_k(st.st_uid);
    st.st_gid = ns.gid_from_k(st.st_gid);
    st
}

fn sys_stat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let st = stat_at(t, libc::AT_FDCWD, a.addr(0), 0)?;
    t.copy_out(a.ptr(1), &st)?;
    Ok(0)
}

fn sys_lstat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let st = stat_at(t, libc::AT_FDCWD, a.addr(0), libc::AT_SYMLINK_NOFOLLOW)?;
    t.copy_out(a.ptr(1), &st)?;
    Ok(0)
}

fn sys_fstat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    // O_PATH descriptors may be fstat'ed.
    let st = seen_by(t, t.fds.get(a.int(0))?.stat()?);
    t.copy_out(a.ptr(1), &st)?;
    Ok(0)
}

fn sys_newfstatat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let st = stat_at(t, a.int(0), a.addr(1), a.int(3))?;
    t.copy_out(a.ptr(2), &st)?;
    Ok(0)
}

fn set_ts(ts: &mut libc::statx_timestamp, sec: i64, nsec: i64) {
    ts.tv_sec = sec;
    ts.tv_nsec = nsec as u32;
}

/// The statx(2) form of a stat result.
pub fn statx_of(st: &libc::stat) -> libc::statx {
    let mut x: libc::statx = crate::usermem::zeroed();
    x.stx_mask = libc::STATX_BASIC_STATS;
    x.stx_blksize = st.st_blksize as u32;
    x.stx_nlink = st.st_nlink as u32;
    x.stx_uid = st.st_uid;
    x.stx_gid = st.st_gid;
    x.stx_mode = st.st_mode as u16;
    x.stx_ino = st.st_ino;
    x.stx_size = st.st_size as u64;
    x.stx_blocks = st.st_blocks as u64;
    set_ts(&mut x.stx_atime, st.st_atime, st.st_atime_nsec);
    set_ts(&mut x.stx_ctime, st.st_ctime, st.st_ctime_nsec);
    set_ts(&mut x.stx_mtime, st.st_mtime, st.st_mtime_nsec);
    x.stx_rdev_major = libc::major(st.st_rdev);
    x.stx_rdev_minor = libc::minor(st.st_rdev);
    x.stx_dev_major = libc::major(st.st_dev);
    x.stx_dev_minor = libc::minor(st.st_dev);
    x
}

fn sys_statx(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let dirfd = a.int(0);
    let flags = a.int(2);
    let mask = a.uint(3);
    let known = libc::AT_SYMLINK_NOFOLLOW
        | libc::AT_EMPTY_PATH
        | libc::AT_NO_AUTOMOUNT
        | libc::AT_STATX_SYNC_TYPE;
    if flags & !known != 0 || flags & libc::AT_STATX_SYNC_TYPE == libc::AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    if mask & libc::STATX__RESERVED as u32 != 0 {
        return Err(Errno::EINVAL);
    }
    let st = stat_at(t, dirfd, a.addr(1), flags & !libc::AT_STATX_SYNC_TYPE)?;
    t.copy_out(a.ptr(4), &statx_of(&st))?;
    Ok(0)
}

/// statfs of what a target lives on.
fn statfs_of(target: &AtTarget) -> Result<libc::statfs, Errno> {
    match target.dentry() {
        Some(d) => d.inode.statfs().map(|mut s| {
            // ST_RDONLY, ST_NOSUID ...: the mount's, not the filesystem's.
            crate::vfs::mount::set_statfs_flags(&mut s, d.mount.statfs_flags());
            s
        }),
        None => Ok(crate::vfs::statfs_of(PIPEFS_MAGIC, 0, 0)),
    }
}

/// Linux's pipefs magic (not in libc).
const PIPEFS_MAGIC: i64 = 0x5049_5045;

fn sys_statfs(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let path = t.read_path(a.addr(0))?;
    let target = ops::resolve_at(t, libc::AT_FDCWD, &path, true, false)?;
    let s = statfs_of(&target)?;
    t.copy_out(a.ptr(1), &s)?;
    Ok(0)
}

fn sys_fstatfs(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = t.fds.get(a.int(0))?;
    let target = match f.dentry() {
        Some(d) => AtTarget::Dentry(d.clone()),
        None => AtTarget::File(f),
    };
    let s = statfs_of(&target)?;
    t.copy_out(a.ptr(1), &s)?;
    Ok(0)
}
