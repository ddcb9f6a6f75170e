//! Moving data between descriptors inside the Sentry: sendfile,
//! copy_file_range, splice, tee. The bytes go through a bounded buffer in
//! the Sentry (never through application memory), in steps of at most
//! `CHUNK`. And vmsplice, between a pipe and application memory.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::pipe::{pipe_of, Io, Pipe};
use crate::kernel::task::Task;
use crate::usermem::UserPtr;
use crate::vfs::File;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_sendfile, "sendfile", Support::Full, sys_sendfile);
    t.add(
        libc::SYS_copy_file_range,
        "copy_file_range",
        Support::Full,
        sys_copy_file_range,
    );
    t.add(
        libc::SYS_splice,
        "splice",
        Support::Partial("copies through the Sentry; SPLICE_F_MOVE/MORE are hints and ignored"),
        sys_splice,
    );
    t.add(libc::SYS_tee, "tee", Support::Full, sys_tee);
    t.add(
        libc::SYS_vmsplice,
        "vmsplice",
        Support::Partial(
            "copies the bytes (SPLICE_F_GIFT is accepted, no page is lent or given); a pipe slot holds bytes of several segments, so more of a many-segment vector may fit than on Linux",
        ),
        sys_vmsplice,
    );
}

/// Every splice flag.
const SPLICE_F_ALL: u32 =
    libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MORE | libc::SPLICE_F_GIFT;

const CHUNK: usize = 1 << 16;
/// Linux caps one transfer at MAX_RW_COUNT.
const MAX_COUNT: u64 = 0x7fff_f000;

/// Where bytes come from or go to: the file's own position, or an offset
/// the caller passed by pointer (updated at the end).
enum Pos {
    Own,
    At(UserPtr<i64>, u64),
}

impl Pos {
    fn from_ptr(t: &Task, ptr: UserPtr<i64>) -> Result<Pos, Errno> {
        if ptr.is_null() {
            return Ok(Pos::Own);
        }
        let off: i64 = t.copy_in(ptr)?;
        if off < 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Pos::At(ptr, off as u64))
    }

    fn read(&mut self, t: &Task, f: &File, buf: &mut [u8]) -> Result<usize, Errno> {
        match self {
            Pos::Own => f.read(t, buf),
            Pos::At(_, off) => {
                let n = f.pread(t, buf, *off)?;
                *off += n as u64;
                Ok(n)
            }
        }
    }

    fn write(&mut self, t: &Task, f: &File, buf: &[u8]) -> Result<usize, Errno> {
        match self {
            Pos::Own => f.write(t, buf),
            Pos::At(_, off) => {
                let n = f.pwrite(t, buf, *off)?;
                *off += n as u64;
                Ok(n)
            }
        }
    }

    fn store(&self, t: &Task) -> Result<(), Errno> {
        if let Pos::At(ptr, off) = self {
            t.copy_out(*ptr, &(*off as i64))?;
        }
        Ok(())
    }
}

/// Copies up to `count` bytes; stops at EOF or a short write. An error after
/// some progress returns the progress, as Linux does.
fn transfer(t: &Task, src: &File, sp: &mut Pos, dst: &File, dp: &mut Pos, count: u64) -> SysResult {
    let count = count.min(MAX_COUNT);
    let mut buf = vec![0u8; (count as usize).min(CHUNK)];
    let mut done = 0u64;
    while done < count {
        let want = ((count - done) as usize).min(buf.len());
        let n = match sp.read(t, src, &mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if done > 0 && e != Errno::EFAULT => break,
            Err(e) => return Err(e),
        };
        let mut written = 0;
        while written < n {
            match dp.write(t, dst, &buf[written..n]) {
                Ok(0) => break,
                Ok(w) => written += w,
                // Progress is reported; bytes read but not written are
                // lost, the same window Linux's pipe splice has.
                Err(_) if done + written as u64 > 0 => break,
                Err(e) => return Err(e),
            }
        }
        done += written as u64;
        if written < n || n < want {
            break;
        }
    }
    // As Linux's sendfile and splice: one event each side per call.
    if done > 0 {
        src.accessed(done as usize);
        dst.modified(done as usize);
    }
    Ok(done)
}

fn readable(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = t.fds.get(fd)?;
    if !f.readable() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

fn writable(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = t.fds.get(fd)?;
    if !f.writable() {
        return Err(Errno::EBADF);
    }
    Ok(f)
}

fn is_pipe(f: &File) -> bool {
    pipe_of(f).is_some()
}

fn sys_sendfile(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let out = writable(t, a.int(0))?;
    let inp = readable(t, a.int(1))?;
    if inp.is_dir() {
        return Err(Errno::EINVAL);
    }
    if out.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EINVAL);
    }
    let mut sp = Pos::from_ptr(t, a.ptr(2))?;
    let r = transfer(t, &inp, &mut sp, &out, &mut Pos::Own, a.ulong(3));
    sp.store(t)?;
    r
}

fn sys_copy_file_range(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.ulong(5) != 0 {
        return Err(Errno::EINVAL);
    }
    let inp = readable(t, a.int(0))?;
    let out = writable(t, a.int(2))?;
    if inp.is_dir() || out.is_dir() {
        return Err(Errno::EISDIR);
    }
    let regular = |f: &File| f.stat().map(|s| s.st_mode & libc::S_IFMT == libc::S_IFREG);
    if !regular(&inp)? || !regular(&out)? {
        return Err(Errno::EINVAL);
    }
    if out.flags() & libc::O_APPEND != 0 {
        return Err(Errno::EBADF);
    }
    let mut sp = Pos::from_ptr(t, a.ptr(1))?;
    let mut dp = Pos::from_ptr(t, a.ptr(3))?;
    let r = transfer(t, &inp, &mut sp, &out, &mut dp, a.ulong(4));
    sp.store(t)?;
    dp.store(t)?;
    r
}

fn sys_splice(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.uint(5);
    if flags
        & !(libc::SPLICE_F_MOVE
            | libc::SPLICE_F_NONBLOCK
            | libc::SPLICE_F_MORE
            | libc::SPLICE_F_GIFT)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    let inp = readable(t, a.int(0))?;
    let out = writable(t, a.int(2))?;
    if !is_pipe(&inp) && !is_pipe(&out) {
        return Err(Errno::EINVAL);
    }
    // A pipe has no offset.
    if (is_pipe(&inp) && !a.addr(1).is_null()) || (is_pipe(&out) && !a.addr(3).is_null()) {
        return Err(Errno::ESPIPE);
    }
    if out.flags() & libc::O_APPEND != 0 && !is_pipe(&out) {
        return Err(Errno::EINVAL);
    }
    let mut sp = Pos::from_ptr(t, a.ptr(1))?;
    let mut dp = Pos::from_ptr(t, a.ptr(3))?;
    // One step only, as splice returns what one pipe buffer holds.
    let r = transfer(
        t,
        &inp,
        &mut sp,
        &out,
        &mut dp,
        a.ulong(4).min(CHUNK as u64),
    );
    sp.store(t)?;
    dp.store(t)?;
    r
}

fn sys_tee(t: &mut Task, a: &SyscallArgs) -> SysResult {
    // Linux checks the flags, then answers a zero length before it looks
    // at the descriptors.
    if a.uint(3) & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    if a.usize(2) == 0 {
        return Ok(0);
    }
    let inp = readable(t, a.int(0))?;
    let out = writable(t, a.int(1))?;
    let (Some(src), Some(_)) = (pipe_of(&inp), pipe_of(&out)) else {
        return Err(Errno::EINVAL);
    };
    if Arc::ptr_eq(&inp, &out) {
        return Err(Errno::EINVAL);
    }
    let nonblock = a.uint(3) & libc::SPLICE_F_NONBLOCK != 0;
    let len = a.usize(2).min(CHUNK);
    let mut buf = vec![0u8; len];
    let n = loop {
        match src.try_peek(&mut buf) {
            Io::Done(n) => break n,
            Io::Closed => return Ok(0),
            Io::WouldBlock if nonblock => return Err(Errno::EAGAIN),
            Io::WouldBlock => {
                t.block(&[src.wait_queue()], None, &mut || {
                    !matches!(src.try_peek(&mut [0u8; 1]), Io::WouldBlock)
                })?;
            }
        }
    };
    let w = out.write(t, &buf[..n])?;
    out.modified(w);
    Ok(w as u64)
}

/// vmsplice(2): a descriptor open for writing takes the application's
/// bytes into its pipe, one open only for reading gives the pipe's bytes
/// to the application, in Linux's order of checks (flags, descriptor,
/// vector, an empty vector is 0, then "not a pipe" is EBADF). Each call
/// waits (unless SPLICE_F_NONBLOCK; the file's O_NONBLOCK does not count,
/// as on Linux) until it can move something, then moves what it can.
fn sys_vmsplice(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.uint(3);
    if flags & !SPLICE_F_ALL != 0 {
        return Err(Errno::EINVAL);
    }
    let f = t.fds.get(a.int(0))?;
    let to_pipe = if f.writable() {
        true
    } else if f.readable() {
        false
    } else {
        return Err(Errno::EBADF);
    };
    let iovs = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    if iovs.iter().all(|&(_, len)| len == 0) {
        return Ok(0);
    }
    let pipe = pipe_of(&f).ok_or(Errno::EBADF)?;
    let nonblock = flags & libc::SPLICE_F_NONBLOCK != 0;
    let n = if to_pipe {
        vmsplice_to_pipe(t, pipe, &iovs, nonblock)?
    } else {
        vmsplice_to_user(t, pipe, &iovs, nonblock)?
    };
    Ok(n as u64)
}

fn vmsplice_to_pipe(
    t: &Task,
    pipe: &Pipe,
    iovs: &[(u64, usize)],
    nonblock: bool,
) -> Result<usize, Errno> {
    let has_room = || !matches!(pipe.try_write(&[], false), Io::WouldBlock);
    if !has_room() {
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        t.block(&[pipe.wait_queue()], None, &mut || has_room())?;
    }
    let mut done = 0;
    for &(addr, len) in iovs {
        let mut off = 0;
        while off < len {
            let step = (len - off).min(CHUNK);
            let bytes = match t.read_bytes(addr + off as u64, step) {
                Ok(b) => b,
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            };
            match pipe.try_write(&bytes, false) {
                Io::Done(n) => {
                    done += n;
                    off += n;
                    if n < step {
                        return Ok(done);
                    }
                }
                Io::WouldBlock => return Ok(done),
                Io::Closed if done > 0 => return Ok(done),
                Io::Closed => {
                    t.send_signal_self(libc::SIGPIPE);
                    return Err(Errno::EPIPE);
                }
            }
        }
    }
    Ok(done)
}

fn vmsplice_to_user(
    t: &Task,
    pipe: &Pipe,
    iovs: &[(u64, usize)],
    nonblock: bool,
) -> Result<usize, Errno> {
    let has_data = || !matches!(pipe.try_peek(&mut [0u8; 1]), Io::WouldBlock);
    if !has_data() {
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        t.block(&[pipe.wait_queue()], None, &mut || has_data())?;
    }
    let mut done = 0;
    let mut buf = vec![0u8; CHUNK];
    for &(addr, len) in iovs {
        let mut off = 0;
        while off < len {
            let step = (len - off).min(CHUNK);
            // Peek, copy out, then take: a bad buffer leaves the bytes in
            // the pipe, as Linux's copy does.
            let n = match pipe.try_peek(&mut buf[..step]) {
                Io::Done(n) => n,
                Io::WouldBlock | Io::Closed => return Ok(done),
            };
            if let Err(e) = t.write_bytes(addr + off as u64, &buf[..n]) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            let Io::Done(taken) = pipe.try_read(&mut buf[..n]) else {
                return Ok(done);
            };
            done += taken;
            off += taken;
            if taken < step {
                return Ok(done);
            }
        }
    }
    Ok(done)
}
