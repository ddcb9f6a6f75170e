//! read, write and their vectored and positioned forms; lseek.
//!
//! The handlers only check descriptors and arguments: each file moves the
//! bytes between itself and the application's buffers ([`IoSeq`]) its own
//! way, never through a buffer the size the application asked for, so a
//! read of 1 TiB costs what the file actually holds.

use std::sync::Arc;

use super::file::io_file;
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::vfs::{Caller, File, IoSeq};

pub fn register(t: &mut Table) {
    t.add(libc::SYS_read, "read", Support::Full, sys_read);
    t.add(libc::SYS_write, "write", Support::Full, sys_write);
    t.add(libc::SYS_pread64, "pread64", Support::Full, sys_pread64);
    t.add(libc::SYS_pwrite64, "pwrite64", Support::Full, sys_pwrite64);
    t.add(libc::SYS_readv, "readv", Support::Full, sys_readv);
    t.add(libc::SYS_writev, "writev", Support::Full, sys_writev);
    t.add(libc::SYS_preadv, "preadv", Support::Full, sys_preadv);
    t.add(libc::SYS_pwritev, "pwritev", Support::Full, sys_pwritev);
    let v2 = "RWF_* flags are accepted and ignored";
    t.add(
        libc::SYS_preadv2,
        "preadv2",
        Support::Partial(v2),
        sys_preadv2,
    );
    t.add(
        libc::SYS_pwritev2,
        "pwritev2",
        Support::Partial(v2),
        sys_pwritev2,
    );
    t.add(libc::SYS_lseek, "lseek", Support::Full, sys_lseek);
}

/// Where a transfer happens: at the file offset, or at an explicit one.
#[derive(Clone, Copy)]
enum At {
    Pos,
    Off(u64),
}

fn readable_file(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = io_file(t, fd)?;
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    if f.is_dir() {
        return Err(Errno::EISDIR);
    }
    Ok(f)
}

fn writable_file(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = io_file(t, fd)?;
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

/// read, pread, readv ...: the file moves the bytes into the
/// application's buffers its own way (`FileOps::read_to`); one IN_ACCESS
/// for the call, however many steps it took.
fn do_read(t: &Task, f: &File, at: At, iovs: &[(u64, usize)]) -> SysResult {
    let mut dst = IoSeq::new(t.memory(), iovs);
    if dst.is_empty() {
        return Ok(0);
    }
    f.may_access(t)?;
    let n = match at {
        At::Pos => f.read_seq(t, &mut dst)?,
        At::Off(off) => f.pread_seq(t, &mut dst, off)?,
    };
    f.accessed(n);
    Ok(n as u64)
}

/// write, pwrite, writev ...: one IN_MODIFY for the call.
fn do_write(t: &Task, f: &File, at: At, iovs: &[(u64, usize)]) -> SysResult {
    let mut src = IoSeq::new(t.memory(), iovs);
    if src.is_empty() {
        return Ok(0);
    }
    let n = match at {
        At::Pos => f.write_seq(t, &mut src)?,
        At::Off(off) => f.pwrite_seq(t, &mut src, off)?,
    };
    f.modified(n);
    Ok(n as u64)
}

/// An offset argument: negative is EINVAL.
fn off_arg(off: i64) -> Result<u64, Errno> {
    u64::try_from(off).map_err(|_| Errno::EINVAL)
}

fn sys_read(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = readable_file(t, a.int(0))?;
    do_read(t, &f, At::Pos, &[(a.addr(1).get(), a.usize(2))])
}

fn sys_write(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, a.int(0))?;
    do_write(t, &f, At::Pos, &[(a.addr(1).get(), a.usize(2))])
}

fn sys_pread64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = readable_file(t, a.int(0))?;
    let off = off_arg(a.long(3))?;
    if !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    do_read(t, &f, At::Off(off), &[(a.addr(1).get(), a.usize(2))])
}

fn sys_pwrite64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, a.int(0))?;
    let off = off_arg(a.long(3))?;
    if !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    do_write(t, &f, At::Off(off), &[(a.addr(1).get(), a.usize(2))])
}

fn sys_readv(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = readable_file(t, a.int(0))?;
    let iovs = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    do_read(t, &f, At::Pos, &iovs)
}

fn sys_writev(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, a.int(0))?;
    let iovs = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    do_write(t, &f, At::Pos, &iovs)
}

/// preadv's offset: on x86-64 the low word is the whole offset.
fn vec_at(f: &File, off: i64, allow_pos: bool) -> Result<At, Errno> {
    if allow_pos && off == -1 {
        return Ok(At::Pos);
    }
    let off = off_arg(off)?;
    if !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    Ok(At::Off(off))
}

fn rwf_flags(flags: u64) -> Result<(), Errno> {
    let known = libc::RWF_HIPRI
        | libc::RWF_DSYNC
        | libc::RWF_SYNC
        | libc::RWF_NOWAIT
        | libc::RWF_APPEND
        | libc::RWF_NOAPPEND;
    if flags as i32 & !known != 0 || flags >> 32 != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

fn sys_preadv(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = readable_file(t, a.int(0))?;
    let iovs = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    let at = vec_at(&f, a.long(3), false)?;
    do_read(t, &f, at, &iovs)
}

fn sys_pwritev(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, a.int(0))?;
    let iovs = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    let at = vec_at(&f, a.long(3), false)?;
    do_write(t, &f, at, &iovs)
}

fn sys_preadv2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    rwf_flags(a.ulong(5))?;
    let f = readable_file(t, a.int(0))?;
    let iovs = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    let at = vec_at(&f, a.long(3), true)?;
    do_read(t, &f, at, &iovs)
}

fn sys_pwritev2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    rwf_flags(a.ulong(5))?;
    let f = writable_file(t, a.int(0))?;
    let iovs = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    let at = vec_at(&f, a.long(3), true)?;
    do_write(t, &f, at, &iovs)
}

fn sys_lseek(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = io_file(t, a.int(0))?;
    f.seek(a.long(1), a.int(2))
}
