//! io_uring's operations: one SQE (already copied out of the ring) run in
//! the task that submitted or is waiting, to a result or to a wait.
//!
//! An operation that would block on a pollable file opened without
//! O_NONBLOCK (a read of an empty pipe, an accept, a recv) is not run but
//! parked until the file is ready, as Linux arms a poll for it; so
//! io_uring_enter returns at once and the completion comes when a later
//! io_uring_enter (or a waiting one) finds the file ready. With O_NONBLOCK
//! the operation runs and may complete with -EAGAIN, as on Linux.
//! Path and socket operations run through the system call's own handler,
//! so their checks are the call's.

use std::sync::Arc;
use std::time::Instant;

use crate::errno::Errno;
use crate::fsimpl::io_uring::{IoUring, Sqe, Wait};
use crate::kernel::task::{SyscallArgs, Task};
use crate::usermem::UserPtr;
use crate::vfs::{Caller, File, IoSeq};

pub const IORING_OP_NOP: u8 = 0;
pub const IORING_OP_READV: u8 = 1;
pub const IORING_OP_WRITEV: u8 = 2;
pub const IORING_OP_FSYNC: u8 = 3;
pub const IORING_OP_READ_FIXED: u8 = 4;
pub const IORING_OP_WRITE_FIXED: u8 = 5;
pub const IORING_OP_POLL_ADD: u8 = 6;
pub const IORING_OP_POLL_REMOVE: u8 = 7;
pub const IORING_OP_SYNC_FILE_RANGE: u8 = 8;
pub const IORING_OP_SENDMSG: u8 = 9;
pub const IORING_OP_RECVMSG: u8 = 10;
pub const IORING_OP_TIMEOUT: u8 = 11;
pub const IORING_OP_TIMEOUT_REMOVE: u8 = 12;
pub const IORING_OP_ACCEPT: u8 = 13;
pub const IORING_OP_ASYNC_CANCEL: u8 = 14;
pub const IORING_OP_LINK_TIMEOUT: u8 = 15;
pub const IORING_OP_CONNECT: u8 = 16;
pub const IORING_OP_FALLOCATE: u8 = 17;
pub const IORING_OP_OPENAT: u8 = 18;
pub const IORING_OP_CLOSE: u8 = 19;
pub const IORING_OP_STATX: u8 = 21;
pub const IORING_OP_READ: u8 = 22;
pub const IORING_OP_WRITE: u8 = 23;
pub const IORING_OP_FADVISE: u8 = 24;
pub const IORING_OP_MADVISE: u8 = 25;
pub const IORING_OP_SEND: u8 = 26;
pub const IORING_OP_RECV: u8 = 27;
pub const IORING_OP_EPOLL_CTL: u8 = 29;
pub const IORING_OP_SHUTDOWN: u8 = 34;
pub const IORING_OP_RENAMEAT: u8 = 35;
pub const IORING_OP_UNLINKAT: u8 = 36;
pub const IORING_OP_MKDIRAT: u8 = 37;
pub const IORING_OP_SYMLINKAT: u8 = 38;
pub const IORING_OP_LINKAT: u8 = 39;

/// The operations this file runs (for IORING_REGISTER_PROBE).
pub const SUPPORTED: &[u8] = &[
    IORING_OP_NOP,
    IORING_OP_READV,
    IORING_OP_WRITEV,
    IORING_OP_FSYNC,
    IORING_OP_READ_FIXED,
    IORING_OP_WRITE_FIXED,
    IORING_OP_POLL_ADD,
    IORING_OP_POLL_REMOVE,
    IORING_OP_SYNC_FILE_RANGE,
    IORING_OP_SENDMSG,
    IORING_OP_RECVMSG,
    IORING_OP_TIMEOUT,
    IORING_OP_TIMEOUT_REMOVE,
    IORING_OP_ACCEPT,
    IORING_OP_ASYNC_CANCEL,
    IORING_OP_LINK_TIMEOUT,
    IORING_OP_CONNECT,
    IORING_OP_FALLOCATE,
    IORING_OP_OPENAT,
    IORING_OP_CLOSE,
    IORING_OP_STATX,
    IORING_OP_READ,
    IORING_OP_WRITE,
    IORING_OP_FADVISE,
    IORING_OP_MADVISE,
    IORING_OP_SEND,
    IORING_OP_RECV,
    IORING_OP_EPOLL_CTL,
    IORING_OP_SHUTDOWN,
    IORING_OP_RENAMEAT,
    IORING_OP_UNLINKAT,
    IORING_OP_MKDIRAT,
    IORING_OP_SYMLINKAT,
    IORING_OP_LINKAT,
];

/// SQE flags (IOSQE_*).
pub const IOSQE_FIXED_FILE: u8 = 1 << 0;
pub const IOSQE_IO_DRAIN: u8 = 1 << 1;
pub const IOSQE_IO_LINK: u8 = 1 << 2;
pub const IOSQE_IO_HARDLINK: u8 = 1 << 3;
pub const IOSQE_ASYNC: u8 = 1 << 4;
pub const IOSQE_CQE_SKIP_SUCCESS: u8 = 1 << 6;

/// IORING_FSYNC_DATASYNC.
const FSYNC_DATASYNC: u32 = 1;
/// IORING_TIMEOUT_ABS: the time is absolute on CLOCK_MONOTONIC.
pub const TIMEOUT_ABS: u32 = 1;
/// IORING_POLL_ADD_MULTI (in `len`): multishot polls are not supported.
const POLL_ADD_MULTI: u32 = 1;

/// What running an SQE came to.
pub enum Outcome {
    Done(i32),
    Park(Wait),
}

fn errno(e: Errno) -> i32 {
    match e {
        Errno::ERESTARTSYS | Errno::ERESTARTNOHAND | Errno::ERESTART_RESTARTBLOCK => {
            -Errno::EINTR.0
        }
        e => -e.0,
    }
}

fn result(r: Result<u64, Errno>) -> i32 {
    match r {
        Ok(v) => v as i32,
        Err(e) => errno(e),
    }
}

/// Runs system call `nr`'s handler with `args` (as the task's own call
/// would, without its seccomp filter: io_uring bypasses it on Linux too).
fn call(t: &mut Task, nr: i64, args: [u64; 6]) -> i32 {
    let Some(h) = t.kernel.table.get(nr as u64).and_then(|e| e.handler) else {
        return -Errno::EINVAL.0;
    };
    result(h(t, &SyscallArgs { a: args }))
}

/// The file an SQE names: a registered one with IOSQE_FIXED_FILE.
pub fn file_of(t: &Task, ring: &IoUring, sqe: &Sqe) -> Result<Arc<File>, Errno> {
    if sqe.flags & IOSQE_FIXED_FILE != 0 {
        let st = ring.lock();
        let files = st.reg.files.as_ref().ok_or(Errno::EBADF)?;
        return files
            .get(sqe.fd as u32 as usize)
            .cloned()
            .flatten()
            .ok_or(Errno::EBADF);
    }
    super::file::io_file(t, sqe.fd)
}

/// Parks the operation when `file` would make it block.
fn would_block(file: &Arc<File>, events: i16) -> Option<Outcome> {
    let always = libc::POLLERR | libc::POLLHUP;
    let pollable = file.ops().wait_queue().is_some();
    if !file.nonblocking() && pollable && file.ops().readiness(events | always) == 0 {
        return Some(Outcome::Park(Wait::File(file.clone(), events)));
    }
    None
}

/// A timespec argument (`struct __kernel_timespec`) as a deadline.
pub fn deadline_of(t: &Task, addr: u64, flags: u32) -> Result<Instant, Errno> {
    let ts: libc::timespec = t.copy_in(UserPtr::<libc::timespec>::new(addr))?;
    let d = crate::kernel::deadline::duration_of(&ts)?;
    Ok(if flags & TIMEOUT_ABS != 0 {
        crate::kernel::deadline::at(d, crate::kernel::clock::monotonic_now())
    } else {
        crate::kernel::deadline::after(d)
    })
}

/// Linux's checks when it takes an SQE (io_init_req): a failure here
/// fails the rest of its chain even through IOSQE_IO_HARDLINK.
pub fn check_init(sqe: &Sqe) -> Result<(), Errno> {
    let valid = IOSQE_FIXED_FILE
        | IOSQE_IO_DRAIN
        | IOSQE_IO_LINK
        | IOSQE_IO_HARDLINK
        | IOSQE_ASYNC
        | IOSQE_CQE_SKIP_SUCCESS;
    // IOSQE_ASYNC changes nothing: an operation that would block parks
    // either way. Provided buffers and personalities are not supported.
    if sqe.flags & !valid != 0 || sqe.personality != 0 || !SUPPORTED.contains(&sqe.opcode) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Runs `sqe`. Cancellation operations (POLL_REMOVE, TIMEOUT_REMOVE,
/// ASYNC_CANCEL) are the caller's: they act on the parked list.
pub fn run(t: &mut Task, ring: &IoUring, sqe: &Sqe) -> Outcome {
    let s = *sqe;
    let (fd, addr, off, len, fl) = (
        s.fd as u64,
        s.addr,
        s.off,
        u64::from(s.len),
        u64::from(s.op_flags),
    );
    // Socket and path operations go through the call's handler, which
    // takes a descriptor: a registered file has none.
    let needs_fd = !matches!(
        s.opcode,
        IORING_OP_NOP
            | IORING_OP_READV
            | IORING_OP_WRITEV
            | IORING_OP_READ
            | IORING_OP_WRITE
            | IORING_OP_READ_FIXED
            | IORING_OP_WRITE_FIXED
            | IORING_OP_FSYNC
            | IORING_OP_POLL_ADD
            | IORING_OP_TIMEOUT
    );
    if needs_fd && s.flags & IOSQE_FIXED_FILE != 0 {
        return Outcome::Done(-Errno::EBADF.0);
    }
    let done = Outcome::Done;
    match s.opcode {
        IORING_OP_NOP => done(0),
        IORING_OP_READV | IORING_OP_READ | IORING_OP_READ_FIXED => rw(t, ring, &s, false),
        IORING_OP_WRITEV | IORING_OP_WRITE | IORING_OP_WRITE_FIXED => rw(t, ring, &s, true),
        IORING_OP_FSYNC => {
            if s.op_flags & !FSYNC_DATASYNC != 0 {
                return done(-Errno::EINVAL.0);
            }
            match file_of(t, ring, &s) {
                Ok(f) => done(result(f.ops().fsync().map(|_| 0))),
                Err(e) => done(errno(e)),
            }
        }
        IORING_OP_POLL_ADD => {
            if s.len & POLL_ADD_MULTI != 0 {
                return done(-Errno::EINVAL.0);
            }
            let file = match file_of(t, ring, &s) {
                Ok(f) => f,
                Err(e) => return done(errno(e)),
            };
            let events = s.op_flags as u16 as i16;
            let always = libc::POLLERR | libc::POLLHUP;
            let ready = file.ops().readiness(events | always) & (events | always);
            if ready != 0 {
                done(i32::from(ready as u16))
            } else {
                Outcome::Park(Wait::File(file, events))
            }
        }
        IORING_OP_TIMEOUT => {
            if s.len != 1 || s.op_flags & !TIMEOUT_ABS != 0 {
                return done(-Errno::EINVAL.0);
            }
            match deadline_of(t, s.addr, s.op_flags) {
                Ok(d) => {
                    let count = (s.off > 0).then(|| ring.lock().posted + s.off);
                    Outcome::Park(Wait::Timeout {
                        deadline: Some(d),
                        count,
                    })
                }
                Err(e) => done(errno(e)),
            }
        }
        // A LINK_TIMEOUT reaching here follows no linked operation.
        IORING_OP_LINK_TIMEOUT => done(-Errno::EINVAL.0),
        IORING_OP_SENDMSG | IORING_OP_SEND | IORING_OP_RECVMSG | IORING_OP_RECV
        | IORING_OP_ACCEPT => {
            let file = match t.fds.get(s.fd) {
                Ok(f) => f,
                Err(e) => return done(errno(e)),
            };
            let out = matches!(s.opcode, IORING_OP_SENDMSG | IORING_OP_SEND);
            let ev = if out { libc::POLLOUT } else { libc::POLLIN };
            if let Some(p) = would_block(&file, ev) {
                return p;
            }
            let r = match s.opcode {
                IORING_OP_SEND => call(t, libc::SYS_sendto, [fd, addr, len, fl, 0, 0]),
                IORING_OP_RECV => call(t, libc::SYS_recvfrom, [fd, addr, len, fl, 0, 0]),
                IORING_OP_SENDMSG => call(t, libc::SYS_sendmsg, [fd, addr, fl, 0, 0, 0]),
                IORING_OP_RECVMSG => call(t, libc::SYS_recvmsg, [fd, addr, fl, 0, 0, 0]),
                _ => call(t, libc::SYS_accept4, [fd, addr, off, fl, 0, 0]),
            };
            // Readiness another reader took first: wait again.
            if r == -Errno::EAGAIN.0 && !file.nonblocking() {
                return Outcome::Park(Wait::File(file, ev));
            }
            done(r)
        }
        IORING_OP_CONNECT => done(call(t, libc::SYS_connect, [fd, addr, off, 0, 0, 0])),
        IORING_OP_OPENAT => {
            if s.file_index != 0 {
                return done(-Errno::EINVAL.0);
            }
            done(call(t, libc::SYS_openat, [fd, addr, fl, len, 0, 0]))
        }
        IORING_OP_CLOSE => {
            if s.file_index != 0 || s.addr != 0 || s.len != 0 || s.off != 0 {
                return done(-Errno::EINVAL.0);
            }
            // Linux will not close a ring from inside a ring.
            if t.fds.get(s.fd).is_ok_and(|f| IoUring::of(&f).is_some()) {
                return done(-Errno::EBADF.0);
            }
            done(call(t, libc::SYS_close, [fd, 0, 0, 0, 0, 0]))
        }
        IORING_OP_STATX => done(call(t, libc::SYS_statx, [fd, addr, fl, len, off, 0])),
        IORING_OP_FALLOCATE => done(call(t, libc::SYS_fallocate, [fd, len, off, addr, 0, 0])),
        IORING_OP_FADVISE => done(call(t, libc::SYS_fadvise64, [fd, off, len, fl, 0, 0])),
        IORING_OP_MADVISE => done(call(t, libc::SYS_madvise, [addr, len, fl, 0, 0, 0])),
        IORING_OP_SYNC_FILE_RANGE => {
            done(call(t, libc::SYS_sync_file_range, [fd, off, len, fl, 0, 0]))
        }
        IORING_OP_EPOLL_CTL => done(call(t, libc::SYS_epoll_ctl, [fd, len, off, addr, 0, 0])),
        IORING_OP_SHUTDOWN => done(call(t, libc::SYS_shutdown, [fd, len, 0, 0, 0, 0])),
        IORING_OP_RENAMEAT => done(call(
            t,
            libc::SYS_renameat2,
            [fd, addr, len as i32 as u64, off, fl, 0],
        )),
        IORING_OP_UNLINKAT => done(call(t, libc::SYS_unlinkat, [fd, addr, fl, 0, 0, 0])),
        IORING_OP_MKDIRAT => done(call(t, libc::SYS_mkdirat, [fd, addr, len, 0, 0, 0])),
        IORING_OP_SYMLINKAT => done(call(t, libc::SYS_symlinkat, [addr, fd, off, 0, 0, 0])),
        IORING_OP_LINKAT => done(call(
            t,
            libc::SYS_linkat,
            [fd, addr, len as i32 as u64, off, fl, 0],
        )),
        _ => done(-Errno::EINVAL.0),
    }
}

/// READ, WRITE, their vectored and fixed-buffer forms.
fn rw(t: &mut Task, ring: &IoUring, s: &Sqe, write: bool) -> Outcome {
    match rw_inner(t, ring, s, write) {
        Ok(o) => o,
        Err(e) => Outcome::Done(errno(e)),
    }
}

fn rw_inner(t: &mut Task, ring: &IoUring, s: &Sqe, write: bool) -> Result<Outcome, Errno> {
    let known = libc::RWF_HIPRI | libc::RWF_DSYNC | libc::RWF_SYNC | libc::RWF_NOWAIT;
    if s.op_flags as i32 & !known != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let file = file_of(t, ring, s)?;
    if (write && !file.writable()) || (!write && !file.readable()) {
        return Err(Errno::EBADF);
    }
    let iovs = match s.opcode {
        IORING_OP_READV | IORING_OP_WRITEV => {
            t.read_iovecs(UserPtr::<libc::iovec>::new(s.addr), u64::from(s.len))?
        }
        IORING_OP_READ_FIXED | IORING_OP_WRITE_FIXED => {
            // Inside the registered buffer, or EFAULT.
            let st = ring.lock();
            let bufs = st.reg.buffers.as_ref().ok_or(Errno::EFAULT)?;
            let &(base, blen) = bufs.get(usize::from(s.buf_index)).ok_or(Errno::EFAULT)?;
            let end = s.addr.checked_add(u64::from(s.len)).ok_or(Errno::EFAULT)?;
            if s.addr < base || end > base + blen {
                return Err(Errno::EFAULT);
            }
            vec![(s.addr, s.len as usize)]
        }
        _ => vec![(s.addr, s.len as usize)],
    };
    let ev = if write { libc::POLLOUT } else { libc::POLLIN };
    if let Some(p) = would_block(&file, ev) {
        return Ok(p);
    }
    let mut seq = IoSeq::new(t.memory(), &iovs);
    if seq.is_empty() {
        return Ok(Outcome::Done(0));
    }
    // An offset of -1 is the file position (IORING_FEAT_RW_CUR_POS);
    // streams have none.
    let at_pos = s.off == u64::MAX || !file.ops().seekable();
    if !at_pos && s.off > i64::MAX as u64 {
        return Err(Errno::EINVAL);
    }
    let r = match (write, at_pos) {
        (false, true) => file.read_seq(t, &mut seq),
        (false, false) => file.pread_seq(t, &mut seq, s.off),
        (true, true) => file.write_seq(t, &mut seq),
        (true, false) => file.pwrite_seq(t, &mut seq, s.off),
    };
    if r == Err(Errno::EAGAIN) && !file.nonblocking() {
        return Ok(Outcome::Park(Wait::File(file, ev)));
    }
    let n = r?;
    if write {
        file.modified(n);
    } else {
        file.accessed(n);
    }
    Ok(Outcome::Done(n as i32))
}
