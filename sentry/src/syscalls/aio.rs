//! Linux AIO: io_setup, io_destroy, io_submit, io_cancel, io_getevents,
//! io_pgetevents. The contexts and their ring are `fsimpl::aio`'s; these
//! handlers check arguments in Linux's order and run the requests.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::aio::{self, AioContext, IoEvent, Iocb};
use crate::fsimpl::eventfd::EventFd;
use crate::kernel::task::Task;
use crate::mm::{MapRequest, VmaKind};
use crate::usermem::UserPtr;
use crate::vfs::{Caller, File, IoSeq};

/// x86-64's io_pgetevents (the libc crate leaves it out).
const SYS_IO_PGETEVENTS: i64 = 333;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_io_setup, "io_setup", Support::Full, sys_io_setup);
    t.add(
        libc::SYS_io_destroy,
        "io_destroy",
        Support::Full,
        sys_io_destroy,
    );
    t.add(
        libc::SYS_io_submit,
        "io_submit",
        Support::Partial(
            "PREAD, PWRITE, PREADV, PWRITEV, FSYNC, FDSYNC and POLL with IOCB_FLAG_RESFD; \
             reads and writes run at submission (as Linux runs them without O_DIRECT); a poll \
             completes when a later io_submit or io_getevents finds its file ready",
        ),
        sys_io_submit,
    );
    t.add(
        libc::SYS_io_cancel,
        "io_cancel",
        Support::Full,
        sys_io_cancel,
    );
    t.add(
        libc::SYS_io_getevents,
        "io_getevents",
        Support::Full,
        sys_io_getevents,
    );
    t.add(
        SYS_IO_PGETEVENTS,
        "io_pgetevents",
        Support::Full,
        sys_io_pgetevents,
    );
}

fn sys_io_setup(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let nr_events = a.uint(0);
    let idp: UserPtr<u64> = a.ptr(1);
    let old: u64 = t.copy_in(idp)?;
    if old != 0 || nr_events == 0 {
        return Err(Errno::EINVAL);
    }
    let limits = t.kernel.aio_limits.clone();
    let max = limits.lock().unwrap().max;
    let (nr, bytes) = aio::ring_size(nr_events, max)?;
    let (ring, res) = AioContext::make_ring(&t.mm.file, nr_events, nr, bytes, &limits)?;
    let mut req = MapRequest::anon(bytes, libc::PROT_READ | libc::PROT_WRITE);
    req.shared = true;
    req.mem = Some((ring.clone(), 0));
    // As /proc/PID/maps shows Linux's ring.
    req.kind = VmaKind::File {
        path: b"/[aio] (deleted)".to_vec(),
        offset: 0,
        dev: 0,
        ino: crate::fsimpl::anon_ino(),
    };
    let mm = t.mm.clone();
    let addr = mm.mmap(t.ctx(), req)?;
    let ctx = AioContext::at(ring, addr, nr, res);
    if let Err(e) = t.copy_out(idp, &addr) {
        let _ = mm.munmap(t.ctx(), addr, bytes);
        return Err(e);
    }
    aio::table_of(&t.mm).insert(ctx);
    Ok(0)
}

fn sys_io_destroy(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let ctx = aio::table_of(&t.mm).remove(a.ulong(0))?;
    ctx.kill();
    let mm = t.mm.clone();
    // The application may have unmapped or moved it already.
    let _ = mm.munmap(t.ctx(), ctx.addr, ctx.ring_len());
    Ok(0)
}

fn sys_io_submit(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let nr = a.long(1);
    if nr < 0 {
        return Err(Errno::EINVAL);
    }
    let ctx = aio::table_of(&t.mm).get(a.ulong(0))?;
    ctx.drive();
    let nr = (nr as u64).min(u64::from(ctx.capacity()));
    let list: UserPtr<u64> = a.ptr(2);
    let mut done = 0u64;
    for i in 0..nr {
        let r = list
            .index(i)
            .ok_or(Errno::EFAULT)
            .and_then(|p| t.copy_in(p))
            .and_then(|iocbp: u64| submit_one(t, &ctx, iocbp));
        match r {
            Ok(()) => done += 1,
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// One iocb: Linux's io_submit_one, errors in its order. A request that
/// gets this far completes with an event, even when the I/O fails.
fn submit_one(t: &Task, ctx: &Arc<AioContext>, iocbp: u64) -> Result<(), Errno> {
    let cb: Iocb = t.copy_in(UserPtr::<Iocb>::new(iocbp))?;
    if cb.aio_reserved2 != 0 || (cb.aio_nbytes as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if !ctx.has_room() {
        return Err(Errno::EAGAIN);
    }
    let file = super::file::io_file(t, cb.aio_fildes as i32)?;
    let resfd = if cb.aio_flags & aio::IOCB_FLAG_RESFD != 0 {
        let e = t.fds.get(cb.aio_resfd as i32)?;
        if EventFd::of(&e).is_none() {
            return Err(Errno::EINVAL);
        }
        Some(e)
    } else {
        None
    };
    // Linux marks the iocb as submitted before running it.
    let key = UserPtr::<u32>::new(iocbp.wrapping_add(std::mem::offset_of!(Iocb, aio_key) as u64));
    t.copy_out(key, &aio::KIOCB_KEY)?;
    let event = |res: i64| IoEvent {
        data: cb.aio_data,
        obj: iocbp,
        res,
        res2: 0,
    };
    let res = match cb.aio_lio_opcode {
        aio::IOCB_CMD_PREAD
        | aio::IOCB_CMD_PREADV
        | aio::IOCB_CMD_PWRITE
        | aio::IOCB_CMD_PWRITEV => rw(t, &file, &cb)?,
        aio::IOCB_CMD_FSYNC | aio::IOCB_CMD_FDSYNC => {
            if cb.aio_buf != 0 || cb.aio_offset != 0 || cb.aio_nbytes != 0 || cb.aio_rw_flags != 0 {
                return Err(Errno::EINVAL);
            }
            match file.ops().fsync() {
                Ok(()) => 0,
                Err(e) => -i64::from(e.0),
            }
        }
        aio::IOCB_CMD_POLL => {
            if cb.aio_buf > u64::from(u16::MAX)
                || cb.aio_offset != 0
                || cb.aio_nbytes != 0
                || cb.aio_rw_flags != 0
            {
                return Err(Errno::EINVAL);
            }
            ctx.add_poll(file, cb.aio_buf as i16, cb.aio_data, iocbp, resfd);
            return Ok(());
        }
        // IOCB_CMD_NOOP included: Linux defines it and refuses it.
        _ => return Err(Errno::EINVAL),
    };
    ctx.complete(event(res), resfd.as_ref());
    Ok(())
}

/// A read or write request: checks that fail io_submit, then the I/O,
/// whose result (a count or -errno) is the event's.
fn rw(t: &Task, file: &Arc<File>, cb: &Iocb) -> Result<i64, Errno> {
    let known = libc::RWF_HIPRI | libc::RWF_DSYNC | libc::RWF_SYNC | libc::RWF_APPEND;
    if cb.aio_rw_flags & !known != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let write = matches!(
        cb.aio_lio_opcode,
        aio::IOCB_CMD_PWRITE | aio::IOCB_CMD_PWRITEV
    );
    if if write {
        !file.writable()
    } else {
        !file.readable()
    } {
        return Err(Errno::EBADF);
    }
    if file.is_dir() {
        return Err(Errno::EINVAL);
    }
    let vectored = matches!(
        cb.aio_lio_opcode,
        aio::IOCB_CMD_PREADV | aio::IOCB_CMD_PWRITEV
    );
    let iovs = if vectored {
        t.read_iovecs(UserPtr::<libc::iovec>::new(cb.aio_buf), cb.aio_nbytes)?
    } else {
        vec![(cb.aio_buf, cb.aio_nbytes as usize)]
    };
    if cb.aio_offset < 0 {
        return Err(Errno::EINVAL);
    }
    let off = cb.aio_offset as u64;
    let mut seq = IoSeq::new(t.memory(), &iovs);
    if seq.is_empty() {
        return Ok(0);
    }
    // Streams ignore the offset, as Linux's aio on a pipe or socket does.
    let r = match (write, file.ops().seekable()) {
        (false, true) => file.pread_seq(t, &mut seq, off),
        (false, false) => file.read_seq(t, &mut seq),
        (true, true) => file.pwrite_seq(t, &mut seq, off),
        (true, false) => file.write_seq(t, &mut seq),
    };
    Ok(match r {
        Ok(n) => {
            if write {
                file.modified(n);
            } else {
                file.accessed(n);
            }
            n as i64
        }
        Err(e) if e == Errno::ERESTARTSYS => -i64::from(Errno::EINTR.0),
        Err(e) => -i64::from(e.0),
    })
}

fn sys_io_cancel(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let ctx = aio::table_of(&t.mm).get(a.ulong(0))?;
    let iocbp = a.ulong(1);
    let key = UserPtr::<u32>::new(iocbp.wrapping_add(std::mem::offset_of!(Iocb, aio_key) as u64));
    if t.copy_in(key)? != aio::KIOCB_KEY {
        return Err(Errno::EINVAL);
    }
    ctx.cancel(iocbp).map(|_| 0)
}

/// A timeout as Linux's io_getevents reads it: not validated, a negative
/// one waits not at all.
fn timeout_of(t: &Task, p: UserPtr<libc::timespec>) -> Result<Option<Instant>, Errno> {
    if p.is_null() {
        return Ok(None);
    }
    let ts: libc::timespec = t.copy_in(p)?;
    let ns = (ts.tv_sec as i128) * 1_000_000_000 + ts.tv_nsec as i128;
    let d = Duration::from_nanos(ns.clamp(0, i128::from(u64::MAX)) as u64);
    Ok(Some(crate::kernel::deadline::after(d)))
}

fn getevents(
    t: &mut Task,
    id: u64,
    min_nr: i64,
    nr: i64,
    events: UserPtr<IoEvent>,
    deadline: Option<Instant>,
) -> SysResult {
    if min_nr > nr || min_nr < 0 || nr < 0 {
        return Err(Errno::EINVAL);
    }
    let ctx = aio::table_of(&t.mm).get(id)?;
    let (min_nr, nr) = (min_nr as usize, nr as usize);
    let r = loop {
        ctx.drive();
        let ready = ctx.ready().min(nr);
        if ready >= min_nr || ready == nr {
            break Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break Ok(());
        }
        let files = ctx.pending_files();
        let mut queues: Vec<&crate::waiter::WaitQueue> =
            files.iter().filter_map(|f| f.ops().wait_queue()).collect();
        queues.push(&ctx.queue);
        // Files without a queue are looked at again each slice.
        let slice = (queues.len() <= files.len()).then(|| Instant::now() + crate::vfs::poll::SLICE);
        let until = match (deadline, slice) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        let c = ctx.clone();
        match t.block(&queues, until, &mut || {
            c.drive();
            c.ready() >= min_nr.min(nr)
        }) {
            Ok(()) | Err(Errno::ETIMEDOUT) => {}
            Err(e) => break Err(e),
        }
    };
    // Events leave the ring only once they reached the application.
    let got = ctx.peek(nr);
    for (i, ev) in got.iter().enumerate() {
        t.copy_out(events.index(i as u64).ok_or(Errno::EFAULT)?, ev)?;
    }
    ctx.consume(got.len());
    match r {
        Err(_) if got.is_empty() => Err(Errno::EINTR),
        _ => Ok(got.len() as u64),
    }
}

fn sys_io_getevents(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let deadline = timeout_of(t, a.ptr(4))?;
    getevents(t, a.ulong(0), a.long(1), a.long(2), a.ptr(3), deadline)
}

/// `struct __aio_sigset`.
#[repr(C)]
#[derive(Clone, Copy)]
struct AioSigset {
    sigmask: u64,
    sigsetsize: u64,
}

// SAFETY: two integers.
unsafe impl crate::usermem::Pod for AioSigset {}

fn sys_io_pgetevents(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let deadline = timeout_of(t, a.ptr(4))?;
    let (mask, size) = if a.addr(5).is_null() {
        (0, 0)
    } else {
        let s: AioSigset = t.copy_in(a.ptr::<AioSigset>(5))?;
        (s.sigmask, s.sigsetsize)
    };
    let (id, min_nr, nr, ev) = (a.ulong(0), a.long(1), a.long(2), a.ptr(3));
    super::poll::with_sigmask(t, UserPtr::new(mask), size, |t| {
        getevents(t, id, min_nr, nr, ev, deadline)
    })
}
