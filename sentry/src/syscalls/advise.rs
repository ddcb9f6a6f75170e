//! Advice about file I/O the Sentry may ignore: fadvise64, readahead,
//! sync_file_range. Arguments are still checked as Linux checks them.

use super::file::io_file;
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_fadvise64,
        "fadvise64",
        Support::Partial("advice is checked and ignored"),
        sys_fadvise64,
    );
    t.add(
        libc::SYS_readahead,
        "readahead",
        Support::Partial("checked and ignored"),
        sys_readahead,
    );
    t.add(
        libc::SYS_sync_file_range,
        "sync_file_range",
        Support::Partial("checked; nothing to write back"),
        sys_sync_file_range,
    );
}

fn seekable_file(t: &Task, fd: i32) -> Result<(), Errno> {
    let f = io_file(t, fd)?;
    if !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    Ok(())
}

fn sys_fadvise64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    seekable_file(t, a.int(0))?;
    if a.long(2) < 0 {
        return Err(Errno::EINVAL);
    }
    match a.int(3) {
        libc::POSIX_FADV_NORMAL
        | libc::POSIX_FADV_RANDOM
        | libc::POSIX_FADV_SEQUENTIAL
        | libc::POSIX_FADV_WILLNEED
        | libc::POSIX_FADV_DONTNEED
        | libc::POSIX_FADV_NOREUSE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

fn sys_readahead(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = io_file(t, a.int(0))?;
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    let st = f.stat()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

fn sys_sync_file_range(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.uint(3);
    let valid = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    if flags & !valid != 0 || a.long(1) < 0 || a.long(2) < 0 {
        return Err(Errno::EINVAL);
    }
    if a.long(1).checked_add(a.long(2)).is_none() {
        return Err(Errno::EINVAL);
    }
    let f = io_file(t, a.int(0))?;
    let st = f.stat()?;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFDIR | libc::S_IFBLK | libc::S_IFLNK => Ok(0),
        _ => Err(Errno::ESPIPE),
    }
}
