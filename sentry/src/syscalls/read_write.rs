//! read, write and their vectored and positioned forms; lseek.
//!
//! The Sentry never allocates what the application asks for: data moves
//! through a buffer of at most IO_CHUNK bytes, step by step, so a read of
//! 1 TiB costs what the file actually holds.

use std::os::fd::RawFd;
use std::sync::Arc;

use super::file::{fd_arg, io_file};
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::vfs::{File, IO_CHUNK, MAX_RW_COUNT};

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

/// The byte count of a transfer over `iovs`, capped as Linux caps it.
fn total_len(iovs: &[(u64, usize)]) -> usize {
    iovs.iter()
        .fold(0usize, |acc, &(_, len)| acc.saturating_add(len))
        .min(MAX_RW_COUNT)
}

/// A short transfer after progress is a success; an error before any is
/// the error.
fn progress(done: usize, e: Errno) -> SysResult {
    if done > 0 {
        Ok(done as u64)
    } else {
        Err(e)
    }
}

/// Copies `data` out to the application buffers `iovs`, starting `skip`
/// bytes into them.
fn scatter(t: &Task, iovs: &[(u64, usize)], mut skip: usize, data: &[u8]) -> Result<(), Errno> {
    let mut from = 0;
    for &(base, len) in iovs {
        if from == data.len() {
            break;
        }
        if skip >= len {
            skip -= len;
            continue;
        }
        let n = (len - skip).min(data.len() - from);
        let addr = base.checked_add(skip as u64).ok_or(Errno::EFAULT)?;
        t.write_bytes(addr, &data[from..from + n])?;
        from += n;
        skip = 0;
    }
    Ok(())
}

/// Copies `len` bytes in from the application buffers `iovs`, starting
/// `skip` bytes into them.
fn gather(t: &Task, iovs: &[(u64, usize)], mut skip: usize, len: usize) -> Result<Vec<u8>, Errno> {
    let mut out = vec![0u8; len];
    let mut at = 0;
    for &(base, l) in iovs {
        if at == len {
            break;
        }
        if skip >= l {
            skip -= l;
            continue;
        }
        let n = (l - skip).min(len - at);
        let addr = base.checked_add(skip as u64).ok_or(Errno::EFAULT)?;
        t.read_into(addr, &mut out[at..at + n])?;
        at += n;
        skip = 0;
    }
    Ok(out)
}

/// read(2) of a file backed by a host descriptor into one buffer: pread
/// straight into the application's pages (one copy, as natively). None
/// when the buffer is not plain writable memory: the general path decides.
fn read_host(
    t: &Task,
    f: &File,
    at: At,
    (base, _): (u64, usize),
    total: usize,
    src: (RawFd, u64),
) -> Option<SysResult> {
    let (fd, size) = src;
    let off = match at {
        At::Pos => f.offset(),
        At::Off(o) => o,
    };
    if off >= size {
        return Some(Ok(0));
    }
    let want = ((size - off).min(total as u64)) as usize;
    let r =
        t.mm.with_user_ranges(base, want, libc::PROT_WRITE, |pieces| {
            let mut done = 0usize;
            for &(p, n) in pieces {
                let mut got = 0usize;
                while got < n {
                    let Ok(at) = i64::try_from(off + (done + got) as u64) else {
                        return Err(Errno::EINVAL);
                    };
                    // SAFETY: p..p+n is application memory in the memory file,
                    // mapped in the Sentry and kept mapped by the MM lock held
                    // around this closure; the kernel writes into it.
                    let r = unsafe { libc::pread64(fd, p.add(got).cast(), n - got, at) };
                    if r < 0 {
                        let e = Errno(nix::errno::Errno::last_raw());
                        if e == Errno::EINTR {
                            continue;
                        }
                        return if done + got > 0 {
                            Ok(done + got)
                        } else {
                            Err(e)
                        };
                    }
                    if r == 0 {
                        return Ok(done + got);
                    }
                    got += r as usize;
                }
                done += n;
            }
            Ok(done)
        });
    let n = match r {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return Some(Err(e)),
        Err(_) => return None,
    };
    if let At::Pos = at {
        if let Err(e) = f.seek((off + n as u64) as i64, libc::SEEK_SET) {
            return Some(Err(e));
        }
    }
    Some(Ok(n as u64))
}

/// read, pread, readv ...: one IN_ACCESS for the call, however many
/// steps it took.
fn do_read(t: &Task, f: &File, at: At, iovs: &[(u64, usize)]) -> SysResult {
    let n = read_iovs(t, f, at, iovs)?;
    f.accessed(n as usize);
    Ok(n)
}

fn read_iovs(t: &Task, f: &File, at: At, iovs: &[(u64, usize)]) -> SysResult {
    let total = total_len(iovs);
    if total == 0 {
        return Ok(0);
    }
    if let ([iov], Some(src)) = (iovs, f.ops().host_source()) {
        if let Some(r) = read_host(t, f, at, *iov, total, src) {
            return r;
        }
    }
    let mut buf = vec![0u8; total.min(IO_CHUNK)];
    if !f.ops().seekable() {
        // One read only: a stream must not block for more once it has
        // given something.
        if let At::Off(_) = at {
            return Err(Errno::ESPIPE);
        }
        let n = f.read_with(t, &mut buf, |data| scatter(t, iovs, 0, data))?;
        return Ok(n as u64);
    }
    let mut done = 0;
    while done < total {
        let want = (total - done).min(buf.len());
        let chunk = &mut buf[..want];
        let r = match at {
            At::Pos => f.read_with(t, chunk, |data| scatter(t, iovs, done, data)),
            At::Off(off) => {
                let off = off.checked_add(done as u64).ok_or(Errno::EINVAL);
                off.and_then(|off| f.pread(t, chunk, off))
                    .and_then(|n| scatter(t, iovs, done, &chunk[..n]).map(|_| n))
            }
        };
        match r {
            Ok(n) => {
                done += n;
                if n < want {
                    break;
                }
            }
            Err(e) => return progress(done, e),
        }
    }
    Ok(done as u64)
}

/// write, pwrite, writev ...: one IN_MODIFY for the call.
fn do_write(t: &Task, f: &File, at: At, iovs: &[(u64, usize)]) -> SysResult {
    let n = write_iovs(t, f, at, iovs)?;
    f.modified(n as usize);
    Ok(n)
}

fn write_iovs(t: &Task, f: &File, at: At, iovs: &[(u64, usize)]) -> SysResult {
    let total = total_len(iovs);
    if total == 0 {
        return Ok(0);
    }
    if let (At::Off(_), false) = (at, f.ops().seekable()) {
        return Err(Errno::ESPIPE);
    }
    let mut done = 0;
    while done < total {
        let want = (total - done).min(IO_CHUNK);
        let chunk = match gather(t, iovs, done, want) {
            Ok(c) => c,
            Err(e) => return progress(done, e),
        };
        let r = match at {
            At::Pos => f.write(t, &chunk),
            At::Off(off) => match off.checked_add(done as u64) {
                Some(off) => f.pwrite(t, &chunk, off),
                None => Err(Errno::EINVAL),
            },
        };
        match r {
            Ok(n) => {
                done += n;
                if n < want {
                    break;
                }
            }
            Err(e) => return progress(done, e),
        }
    }
    Ok(done as u64)
}

/// An offset argument: negative is EINVAL.
fn off_arg(a: u64) -> Result<u64, Errno> {
    if (a as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(a)
}

fn sys_read(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = readable_file(t, fd_arg(a.a[0]))?;
    do_read(t, &f, At::Pos, &[(a.a[1], a.a[2] as usize)])
}

fn sys_write(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, fd_arg(a.a[0]))?;
    do_write(t, &f, At::Pos, &[(a.a[1], a.a[2] as usize)])
}

fn sys_pread64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = readable_file(t, fd_arg(a.a[0]))?;
    let off = off_arg(a.a[3])?;
    if !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    do_read(t, &f, At::Off(off), &[(a.a[1], a.a[2] as usize)])
}

fn sys_pwrite64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, fd_arg(a.a[0]))?;
    let off = off_arg(a.a[3])?;
    if !f.ops().seekable() {
        return Err(Errno::ESPIPE);
    }
    do_write(t, &f, At::Off(off), &[(a.a[1], a.a[2] as usize)])
}

fn sys_readv(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = readable_file(t, fd_arg(a.a[0]))?;
    let iovs = t.read_iovecs(a.a[1], a.a[2])?;
    do_read(t, &f, At::Pos, &iovs)
}

fn sys_writev(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, fd_arg(a.a[0]))?;
    let iovs = t.read_iovecs(a.a[1], a.a[2])?;
    do_write(t, &f, At::Pos, &iovs)
}

/// preadv's offset: on x86-64 the low word is the whole offset.
fn vec_at(f: &File, off: u64, allow_pos: bool) -> Result<At, Errno> {
    if allow_pos && off as i64 == -1 {
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
    let f = readable_file(t, fd_arg(a.a[0]))?;
    let iovs = t.read_iovecs(a.a[1], a.a[2])?;
    let at = vec_at(&f, a.a[3], false)?;
    do_read(t, &f, at, &iovs)
}

fn sys_pwritev(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = writable_file(t, fd_arg(a.a[0]))?;
    let iovs = t.read_iovecs(a.a[1], a.a[2])?;
    let at = vec_at(&f, a.a[3], false)?;
    do_write(t, &f, at, &iovs)
}

fn sys_preadv2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    rwf_flags(a.a[5])?;
    let f = readable_file(t, fd_arg(a.a[0]))?;
    let iovs = t.read_iovecs(a.a[1], a.a[2])?;
    let at = vec_at(&f, a.a[3], true)?;
    do_read(t, &f, at, &iovs)
}

fn sys_pwritev2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    rwf_flags(a.a[5])?;
    let f = writable_file(t, fd_arg(a.a[0]))?;
    let iovs = t.read_iovecs(a.a[1], a.a[2])?;
    let at = vec_at(&f, a.a[3], true)?;
    do_write(t, &f, at, &iovs)
}

fn sys_lseek(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = io_file(t, fd_arg(a.a[0]))?;
    f.seek(a.a[1] as i64, a.a[2] as i32)
}
