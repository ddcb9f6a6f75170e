//! io_uring_setup, io_uring_enter, io_uring_register: the instance and
//! its rings are `fsimpl::io_uring`'s, the operations
//! `io_uring_ops.rs`'s; this file takes SQEs off the ring, follows links,
//! drains and timeouts, and drives parked operations while a task waits
//! for completions.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::io_uring_ops::{self as ops, Outcome};
use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::eventfd::EventFd;
use crate::fsimpl::io_uring::{self as ring, Cqe, IoUring, Pending, Sqe, State, Wait};
use crate::kernel::task::Task;
use crate::usermem::{Pod, UserPtr};
use crate::vfs::File;
use crate::waiter::WaitQueue;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_io_uring_setup,
        "io_uring_setup",
        Support::Partial(
            "IORING_SETUP_CQSIZE and CLAMP (SUBMIT_ALL, COOP_TASKRUN, SINGLE_ISSUER accepted); \
             SQPOLL, IOPOLL and the other flags EINVAL: no kernel thread polls the SQ ring",
        ),
        sys_io_uring_setup,
    );
    t.add(
        libc::SYS_io_uring_enter,
        "io_uring_enter",
        Support::Partial(
            "NOP, READ(V), WRITE(V), READ/WRITE_FIXED, FSYNC, POLL_ADD/REMOVE, TIMEOUT(_REMOVE), \
             LINK_TIMEOUT, ACCEPT, CONNECT, SEND, RECV, SENDMSG, RECVMSG, OPENAT, CLOSE, STATX, \
             ASYNC_CANCEL, FALLOCATE, FADVISE, MADVISE, SYNC_FILE_RANGE, EPOLL_CTL, SHUTDOWN, \
             RENAMEAT, UNLINKAT, MKDIRAT, SYMLINKAT, LINKAT with IOSQE_IO_LINK/HARDLINK/DRAIN/ASYNC/\
             FIXED_FILE/CQE_SKIP_SUCCESS; an operation that would block completes when a later \
             io_uring_enter finds its file ready (no kernel worker completes it meanwhile); \
             multishot, provided buffers and personalities EINVAL",
        ),
        sys_io_uring_enter,
    );
    t.add(
        libc::SYS_io_uring_register,
        "io_uring_register",
        Support::Partial(
            "BUFFERS, FILES, EVENTFD(_ASYNC) and their unregistering, PROBE; others EINVAL",
        ),
        sys_io_uring_register,
    );
}

const SETUP_IOPOLL: u32 = 1 << 0;
const SETUP_SQPOLL: u32 = 1 << 1;
const SETUP_CQSIZE: u32 = 1 << 3;
const SETUP_CLAMP: u32 = 1 << 4;
const SETUP_SUBMIT_ALL: u32 = 1 << 7;
const SETUP_COOP_TASKRUN: u32 = 1 << 8;
const SETUP_SINGLE_ISSUER: u32 = 1 << 12;
/// Flags that change nothing here: submission stops at no error anyway
/// only for SUBMIT_ALL's sake, and there is no task work to defer.
const SETUP_ACCEPTED: u32 =
    SETUP_CQSIZE | SETUP_CLAMP | SETUP_SUBMIT_ALL | SETUP_COOP_TASKRUN | SETUP_SINGLE_ISSUER;

const FEAT_SINGLE_MMAP: u32 = 1 << 0;
const FEAT_NODROP: u32 = 1 << 1;
const FEAT_SUBMIT_STABLE: u32 = 1 << 2;
const FEAT_RW_CUR_POS: u32 = 1 << 3;
const FEAT_EXT_ARG: u32 = 1 << 8;
const FEATURES: u32 =
    FEAT_SINGLE_MMAP | FEAT_NODROP | FEAT_SUBMIT_STABLE | FEAT_RW_CUR_POS | FEAT_EXT_ARG;

const ENTER_GETEVENTS: u32 = 1 << 0;
const ENTER_SQ_WAKEUP: u32 = 1 << 1;
const ENTER_SQ_WAIT: u32 = 1 << 2;
const ENTER_EXT_ARG: u32 = 1 << 3;

const REGISTER_BUFFERS: u32 = 0;
const UNREGISTER_BUFFERS: u32 = 1;
const REGISTER_FILES: u32 = 2;
const UNREGISTER_FILES: u32 = 3;
const REGISTER_EVENTFD: u32 = 4;
const UNREGISTER_EVENTFD: u32 = 5;
const REGISTER_EVENTFD_ASYNC: u32 = 7;
const REGISTER_PROBE: u32 = 8;
/// Linux's caps on registrations (IORING_MAX_REG_BUFFERS,
/// IORING_MAX_FIXED_FILES) and a probe's operations.
const MAX_REG_BUFFERS: u64 = 1 << 14;
const MAX_FIXED_FILES: u64 = 1 << 20;
const PROBE_MAX_OPS: u64 = 256;
/// The largest registered buffer (SZ_1G).
const MAX_REG_BUFFER_LEN: u64 = 1 << 30;
/// IO_URING_OP_SUPPORTED.
const OP_SUPPORTED: u16 = 1;

/// `struct io_uring_params` with its `io_sqring_offsets` and
/// `io_cqring_offsets`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    // sq_off: head, tail, ring_mask, ring_entries, flags, dropped, array,
    // resv1, user_addr.
    sq_off: [u32; 8],
    sq_user_addr: u64,
    // cq_off: head, tail, ring_mask, ring_entries, overflow, cqes, flags,
    // resv1, user_addr.
    cq_off: [u32; 8],
    cq_user_addr: u64,
}

// SAFETY: integers, no padding (120 bytes as Linux's).
unsafe impl Pod for Params {}

fn sys_io_uring_setup(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let entries = a.uint(0);
    let pp: UserPtr<Params> = a.ptr(1);
    let mut p: Params = t.copy_in(pp)?;
    if p.resv.iter().any(|&r| r != 0) {
        return Err(Errno::EINVAL);
    }
    if p.flags & !SETUP_ACCEPTED != 0 {
        if p.flags & (SETUP_SQPOLL | SETUP_IOPOLL) != 0 {
            t.kernel.report_unsupported(
                libc::SYS_io_uring_setup as usize,
                u64::from(p.flags),
                "io_uring_setup with SQPOLL or IOPOLL",
            );
        }
        return Err(Errno::EINVAL);
    }
    let clamp = p.flags & SETUP_CLAMP != 0;
    if entries == 0 || (entries > ring::MAX_ENTRIES && !clamp) {
        return Err(Errno::EINVAL);
    }
    let sq = entries.min(ring::MAX_ENTRIES).next_power_of_two();
    let cq = if p.flags & SETUP_CQSIZE != 0 {
        if p.cq_entries == 0 || (p.cq_entries > ring::MAX_CQ_ENTRIES && !clamp) {
            return Err(Errno::EINVAL);
        }
        let cq = p.cq_entries.min(ring::MAX_CQ_ENTRIES).next_power_of_two();
        if cq < sq {
            return Err(Errno::EINVAL);
        }
        cq
    } else {
        2 * sq
    };
    let uring = IoUring::new(&t.mm.file, sq, cq, p.flags)?;
    p.sq_entries = sq;
    p.cq_entries = cq;
    p.features = FEATURES;
    p.sq_off = [
        ring::SQ_HEAD,
        ring::SQ_TAIL,
        ring::SQ_RING_MASK,
        ring::SQ_RING_ENTRIES,
        ring::SQ_FLAGS,
        ring::SQ_DROPPED,
        uring.sq_array,
        0,
    ];
    p.cq_off = [
        ring::CQ_HEAD,
        ring::CQ_TAIL,
        ring::CQ_RING_MASK,
        ring::CQ_RING_ENTRIES,
        ring::CQ_OVERFLOW,
        ring::CQES,
        ring::CQ_FLAGS,
        0,
    ];
    t.copy_out(pp, &p)?;
    let f = File::new(Arc::new(uring), None, libc::O_RDWR);
    Ok(t.fds.install(f, true)? as u64)
}

/// The io_uring behind descriptor `fd` (EBADF; EOPNOTSUPP for another
/// kind of file, as Linux answers).
fn ring_file(t: &Task, fd: i32) -> Result<Arc<File>, Errno> {
    let f = t.fds.get(fd)?;
    if IoUring::of(&f).is_none() {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(f)
}

/// `struct io_uring_getevents_arg`.
#[repr(C)]
#[derive(Clone, Copy)]
struct GeteventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    pad: u32,
    ts: u64,
}

// SAFETY: integers without padding.
unsafe impl Pod for GeteventsArg {}

fn sys_io_uring_enter(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (to_submit, min_complete, flags) = (a.uint(1), a.uint(2), a.uint(3));
    let known = ENTER_GETEVENTS | ENTER_SQ_WAKEUP | ENTER_SQ_WAIT | ENTER_EXT_ARG;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let f = ring_file(t, a.int(0))?;
    let uring = IoUring::of(&f).ok_or(Errno::EOPNOTSUPP)?;
    let (mask, mask_size, deadline) = if flags & ENTER_EXT_ARG != 0 {
        if a.ulong(5) != std::mem::size_of::<GeteventsArg>() as u64 {
            return Err(Errno::EINVAL);
        }
        let arg: GeteventsArg = if a.addr(4).is_null() {
            GeteventsArg {
                sigmask: 0,
                sigmask_sz: 0,
                pad: 0,
                ts: 0,
            }
        } else {
            t.copy_in(a.ptr::<GeteventsArg>(4))?
        };
        let d = if arg.ts == 0 {
            None
        } else {
            Some(ops::deadline_of(t, arg.ts, 0)?)
        };
        (arg.sigmask, u64::from(arg.sigmask_sz), d)
    } else {
        (a.ulong(4), a.ulong(5), None)
    };
    let submitted = submit(t, uring, to_submit);
    if flags & ENTER_GETEVENTS == 0 {
        drive(t, uring);
        return Ok(u64::from(submitted));
    }
    let r = super::poll::with_sigmask(t, UserPtr::new(mask), mask_size, |t| {
        wait(t, uring, min_complete, deadline)
    });
    match r {
        Err(e) if submitted == 0 => Err(e),
        _ => Ok(u64::from(submitted)),
    }
}

/// Takes up to `to_submit` SQEs off the ring and starts them, chain by
/// chain; the count taken.
fn submit(t: &mut Task, uring: &IoUring, to_submit: u32) -> u32 {
    let (n, sqes) = {
        let mut st = uring.lock();
        let ready = uring.sq_ready(&st).min(to_submit);
        // Submission stops at an SQ array entry out of range (dropped),
        // as Linux's: the count is of those before it.
        let sqes: Vec<Sqe> = (0..ready).map_while(|_| uring.next_sqe(&mut st)).collect();
        (sqes.len() as u32, sqes)
    };
    let mut it = sqes.into_iter().peekable();
    while let Some(first) = it.next() {
        let mut chain = VecDeque::from([first]);
        while chain.back().is_some_and(linked) {
            match it.next() {
                Some(s) => chain.push_back(s),
                None => break,
            }
        }
        run_chain(t, uring, chain, None);
    }
    uring.queue.notify_all();
    n
}

fn linked(s: &Sqe) -> bool {
    s.flags & (ops::IOSQE_IO_LINK | ops::IOSQE_IO_HARDLINK) != 0
}

fn post(uring: &IoUring, st: &mut State, sqe: &Sqe, res: i32) {
    if res >= 0 && sqe.flags & ops::IOSQE_CQE_SKIP_SUCCESS != 0 {
        return;
    }
    uring.post(
        st,
        Cqe {
            user_data: sqe.user_data,
            res,
            flags: 0,
        },
    );
}

/// Fails the rest of a broken chain with -ECANCELED.
fn cancel_chain(uring: &IoUring, st: &mut State, chain: VecDeque<Sqe>) {
    for s in chain {
        post(uring, st, &s, -Errno::ECANCELED.0);
    }
}

/// Runs a chain's operations in order until one parks (the rest wait
/// with it) or fails (the rest are cancelled). `seq` is the head's
/// submission number when it was taken before (a parked head resumed).
fn run_chain(t: &mut Task, uring: &IoUring, mut chain: VecDeque<Sqe>, seq: Option<u64>) {
    let mut seq = seq;
    while let Some(sqe) = chain.pop_front() {
        let this = seq.take().unwrap_or_else(|| {
            let mut st = uring.lock();
            st.submitted += 1;
            st.submitted
        });
        let lt = if linked(&sqe)
            && chain
                .front()
                .is_some_and(|n| n.opcode == ops::IORING_OP_LINK_TIMEOUT)
        {
            chain.pop_front()
        } else {
            None
        };
        let link_timeout = match lt {
            Some(l) if l.len != 1 || l.op_flags & !ops::TIMEOUT_ABS != 0 => {
                let mut st = uring.lock();
                post(uring, &mut st, &sqe, -Errno::ECANCELED.0);
                post(uring, &mut st, &l, -Errno::EINVAL.0);
                cancel_chain(uring, &mut st, chain);
                return;
            }
            Some(l) => match ops::deadline_of(t, l.addr, l.op_flags) {
                Ok(d) => Some((d, l)),
                Err(e) => {
                    let mut st = uring.lock();
                    post(uring, &mut st, &sqe, -Errno::ECANCELED.0);
                    post(uring, &mut st, &l, -e.0);
                    cancel_chain(uring, &mut st, chain);
                    return;
                }
            },
            None => None,
        };
        if let Err(e) = ops::check_init(&sqe) {
            let mut st = uring.lock();
            post(uring, &mut st, &sqe, -e.0);
            if let Some((_, l)) = link_timeout {
                post(uring, &mut st, &l, -Errno::ECANCELED.0);
            }
            cancel_chain(uring, &mut st, chain);
            return;
        }
        let drained = sqe.flags & ops::IOSQE_IO_DRAIN != 0
            && uring.lock().pending.iter().any(|p| p.seq < this);
        let outcome = if drained {
            Outcome::Park(Wait::Drain(this))
        } else {
            match sqe.opcode {
                ops::IORING_OP_POLL_REMOVE
                | ops::IORING_OP_TIMEOUT_REMOVE
                | ops::IORING_OP_ASYNC_CANCEL => Outcome::Done(cancel_op(uring, &sqe)),
                _ => ops::run(t, uring, &sqe),
            }
        };
        let mut st = uring.lock();
        match outcome {
            Outcome::Done(res) => {
                post(uring, &mut st, &sqe, res);
                if let Some((_, l)) = link_timeout {
                    post(uring, &mut st, &l, -Errno::ECANCELED.0);
                }
                let failed = res < 0 && sqe.flags & ops::IOSQE_IO_HARDLINK == 0;
                if failed && !chain.is_empty() {
                    cancel_chain(uring, &mut st, std::mem::take(&mut chain));
                }
            }
            Outcome::Park(wait) => {
                st.pending.push(Pending {
                    seq: this,
                    sqe,
                    wait,
                    link_timeout: link_timeout.map(|(d, l)| (d, l.user_data)),
                    chain: chain.into_iter().collect(),
                });
                return;
            }
        }
    }
}

/// POLL_REMOVE, TIMEOUT_REMOVE, ASYNC_CANCEL: the parked operation with
/// user_data `addr` (of the right kind) completes with -ECANCELED; the
/// result is 0, or -ENOENT when none is parked.
fn cancel_op(uring: &IoUring, sqe: &Sqe) -> i32 {
    if sqe.op_flags != 0 || sqe.fd != -1 && sqe.opcode != ops::IORING_OP_ASYNC_CANCEL {
        // Updates (IORING_TIMEOUT_UPDATE, IORING_POLL_UPDATE_*) and
        // cancel-by-descriptor are not supported.
        if sqe.op_flags != 0 {
            return -Errno::EINVAL.0;
        }
    }
    let mut st = uring.lock();
    let kind_ok = |p: &Pending| match sqe.opcode {
        ops::IORING_OP_POLL_REMOVE => p.sqe.opcode == ops::IORING_OP_POLL_ADD,
        ops::IORING_OP_TIMEOUT_REMOVE => p.sqe.opcode == ops::IORING_OP_TIMEOUT,
        _ => true,
    };
    let Some(i) = st
        .pending
        .iter()
        .position(|p| p.sqe.user_data == sqe.addr && kind_ok(p))
    else {
        return -Errno::ENOENT.0;
    };
    let p = st.pending.remove(i);
    post(uring, &mut st, &p.sqe, -Errno::ECANCELED.0);
    if let Some((_, ud)) = p.link_timeout {
        uring.post(
            &mut st,
            Cqe {
                user_data: ud,
                res: -Errno::ECANCELED.0,
                flags: 0,
            },
        );
    }
    cancel_chain(uring, &mut st, p.chain.into());
    0
}

/// Whether a parked operation may go on now, and how: None (still
/// waiting), Some(None) run it again, Some(Some(res)) it is done with res.
fn ready(st: &State, p: &Pending, now: Instant) -> Option<Option<i32>> {
    if p.link_timeout.is_some_and(|(d, _)| now >= d) {
        return Some(Some(-Errno::ECANCELED.0));
    }
    match &p.wait {
        Wait::File(f, ev) => {
            let always = libc::POLLERR | libc::POLLHUP;
            (f.ops().readiness(*ev | always) != 0).then_some(None)
        }
        Wait::Timeout { deadline, count } => {
            if count.is_some_and(|c| st.posted >= c) {
                Some(Some(0))
            } else if deadline.is_some_and(|d| now >= d) {
                Some(Some(-Errno::ETIME.0))
            } else {
                None
            }
        }
        Wait::Drain(seq) => (!st.pending.iter().any(|o| o.seq < *seq)).then_some(None),
    }
}

/// Finishes every parked operation that can go on, one at a time (each
/// may change what the others wait for); whether any did.
fn drive(t: &mut Task, uring: &IoUring) -> bool {
    let mut any = false;
    loop {
        let now = Instant::now();
        let next = {
            let mut st = uring.lock();
            let hit =
                (0..st.pending.len()).find_map(|i| ready(&st, &st.pending[i], now).map(|r| (i, r)));
            hit.map(|(i, r)| (st.pending.remove(i), r))
        };
        let Some((p, r)) = next else {
            break;
        };
        any = true;
        match r {
            Some(res) => {
                let mut st = uring.lock();
                post(uring, &mut st, &p.sqe, res);
                if let Some((d, ud)) = p.link_timeout {
                    let lres = if now >= d && res == -Errno::ECANCELED.0 {
                        -Errno::ETIME.0
                    } else {
                        -Errno::ECANCELED.0
                    };
                    uring.post(
                        &mut st,
                        Cqe {
                            user_data: ud,
                            res: lres,
                            flags: 0,
                        },
                    );
                }
                let ok = res >= 0 || p.sqe.flags & ops::IOSQE_IO_HARDLINK != 0;
                // A TIMEOUT's -ETIME is its normal end, not a failure of
                // the link.
                let ok = ok || (p.sqe.opcode == ops::IORING_OP_TIMEOUT && res == -Errno::ETIME.0);
                if ok {
                    drop(st);
                    run_chain(t, uring, p.chain.into(), None);
                } else {
                    cancel_chain(uring, &mut st, p.chain.into());
                }
            }
            None => {
                // Run again, as a head taken before: its link timeout and
                // chain stay with it.
                let mut chain: VecDeque<Sqe> = p.chain.into();
                let outcome = ops::run(t, uring, &p.sqe);
                let mut st = uring.lock();
                match outcome {
                    Outcome::Park(wait) => st.pending.push(Pending {
                        wait,
                        chain: chain.into_iter().collect(),
                        ..p
                    }),
                    Outcome::Done(res) => {
                        post(uring, &mut st, &p.sqe, res);
                        if let Some((_, ud)) = p.link_timeout {
                            uring.post(
                                &mut st,
                                Cqe {
                                    user_data: ud,
                                    res: -Errno::ECANCELED.0,
                                    flags: 0,
                                },
                            );
                        }
                        let failed = res < 0 && p.sqe.flags & ops::IOSQE_IO_HARDLINK == 0;
                        if failed {
                            cancel_chain(uring, &mut st, std::mem::take(&mut chain));
                        } else {
                            drop(st);
                            run_chain(t, uring, chain, None);
                        }
                    }
                }
            }
        }
    }
    if any {
        uring.queue.notify_all();
    }
    any
}

/// IORING_ENTER_GETEVENTS: drives parked operations until `min` CQEs wait
/// in the ring, a signal (EINTR), or `deadline` (ETIME).
fn wait(t: &mut Task, uring: &IoUring, min: u32, deadline: Option<Instant>) -> SysResult {
    loop {
        drive(t, uring);
        if uring.completions(&mut uring.lock()) >= u64::from(min) {
            return Ok(0);
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(Errno::ETIME);
        }
        let (files, mut until) = {
            let st = uring.lock();
            let mut until = deadline;
            let mut files = Vec::new();
            for p in &st.pending {
                let d = match &p.wait {
                    Wait::File(f, ev) => {
                        files.push((f.clone(), *ev));
                        None
                    }
                    Wait::Timeout { deadline, .. } => *deadline,
                    Wait::Drain(_) => None,
                };
                for d in d.into_iter().chain(p.link_timeout.map(|(d, _)| d)) {
                    until = Some(until.map_or(d, |u| u.min(d)));
                }
            }
            (files, until)
        };
        let mut queues: Vec<&WaitQueue> = files
            .iter()
            .filter_map(|(f, _)| f.ops().wait_queue())
            .collect();
        if queues.len() < files.len() {
            let slice = now + crate::vfs::poll::SLICE;
            until = Some(until.map_or(slice, |u| u.min(slice)));
        }
        queues.push(&uring.queue);
        let r = t.block(&queues, until, &mut || {
            let always = libc::POLLERR | libc::POLLHUP;
            files
                .iter()
                .any(|(f, ev)| f.ops().readiness(*ev | always) != 0)
                || uring.completions(&mut uring.lock()) >= u64::from(min)
        });
        match r {
            Ok(()) | Err(Errno::ETIMEDOUT) => {}
            Err(_) => return Err(Errno::EINTR),
        }
    }
}

fn sys_io_uring_register(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let f = ring_file(t, a.int(0))?;
    let uring = IoUring::of(&f).ok_or(Errno::EOPNOTSUPP)?;
    let (op, arg, nr) = (a.uint(1), a.ulong(2), a.ulong(3));
    match op {
        REGISTER_BUFFERS => {
            if nr == 0 || nr > MAX_REG_BUFFERS {
                return Err(Errno::EINVAL);
            }
            if uring.lock().reg.buffers.is_some() {
                return Err(Errno::EBUSY);
            }
            let iovs: UserPtr<libc::iovec> = UserPtr::new(arg);
            let mut bufs = Vec::with_capacity(nr as usize);
            for i in 0..nr {
                let iov: libc::iovec = t.copy_in(iovs.index(i).ok_or(Errno::EFAULT)?)?;
                let (base, len) = (iov.iov_base as u64, iov.iov_len as u64);
                // Linux pins the pages (at most 1 GiB a buffer): they must
                // be mapped memory.
                if len == 0 || len > MAX_REG_BUFFER_LEN {
                    return Err(Errno::EFAULT);
                }
                let last = base.checked_add(len - 1).ok_or(Errno::EFAULT)?;
                t.read_bytes(base, 1)?;
                t.read_bytes(last, 1)?;
                bufs.push((base, len));
            }
            uring.lock().reg.buffers = Some(bufs);
            Ok(0)
        }
        UNREGISTER_BUFFERS => {
            if arg != 0 || nr != 0 {
                return Err(Errno::EINVAL);
            }
            uring.lock().reg.buffers.take().ok_or(Errno::ENXIO)?;
            Ok(0)
        }
        REGISTER_FILES => {
            if nr == 0 || nr > MAX_FIXED_FILES {
                return Err(Errno::EINVAL);
            }
            if uring.lock().reg.files.is_some() {
                return Err(Errno::EBUSY);
            }
            let fds: UserPtr<i32> = UserPtr::new(arg);
            let mut files = Vec::with_capacity(nr as usize);
            for i in 0..nr {
                let fd: i32 = t.copy_in(fds.index(i).ok_or(Errno::EFAULT)?)?;
                if fd == -1 {
                    files.push(None);
                    continue;
                }
                let file = t.fds.get(fd)?;
                // A ring in its own table would keep itself alive.
                if IoUring::of(&file).is_some() {
                    return Err(Errno::EBADF);
                }
                files.push(Some(file));
            }
            uring.lock().reg.files = Some(files);
            Ok(0)
        }
        UNREGISTER_FILES => {
            if arg != 0 || nr != 0 {
                return Err(Errno::EINVAL);
            }
            uring.lock().reg.files.take().ok_or(Errno::ENXIO)?;
            Ok(0)
        }
        REGISTER_EVENTFD | REGISTER_EVENTFD_ASYNC => {
            if nr != 1 {
                return Err(Errno::EINVAL);
            }
            if uring.lock().reg.eventfd.is_some() {
                return Err(Errno::EBUSY);
            }
            let fd: i32 = t.copy_in(UserPtr::<i32>::new(arg))?;
            let e = t.fds.get(fd)?;
            if EventFd::of(&e).is_none() {
                return Err(Errno::EINVAL);
            }
            uring.lock().reg.eventfd = Some(e);
            Ok(0)
        }
        UNREGISTER_EVENTFD => {
            if arg != 0 || nr != 0 {
                return Err(Errno::EINVAL);
            }
            uring.lock().reg.eventfd.take().ok_or(Errno::ENXIO)?;
            Ok(0)
        }
        REGISTER_PROBE => probe(t, arg, nr),
        _ => Err(Errno::EINVAL),
    }
}

/// IORING_REGISTER_PROBE: `struct io_uring_probe` (16 bytes) and `nr`
/// `struct io_uring_probe_op`s (8 bytes each), which must come zeroed.
fn probe(t: &Task, arg: u64, nr: u64) -> SysResult {
    let nr = nr.min(PROBE_MAX_OPS);
    let size = 16 + 8 * nr as usize;
    let mut buf = t.read_bytes(arg, size)?;
    if buf.iter().any(|&b| b != 0) {
        return Err(Errno::EINVAL);
    }
    let last = ops::SUPPORTED.iter().copied().max().unwrap_or(0);
    buf[0] = last;
    buf[1] = (u64::from(last) + 1).min(nr) as u8;
    for i in 0..(u64::from(last) + 1).min(nr) as usize {
        let at = 16 + 8 * i;
        buf[at] = i as u8;
        if ops::SUPPORTED.contains(&(i as u8)) {
            buf[at + 2..at + 4].copy_from_slice(&OP_SUPPORTED.to_ne_bytes());
        }
    }
    t.write_bytes(arg, &buf)?;
    Ok(0)
}
