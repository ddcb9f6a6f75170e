//! An io_uring instance: its rings in the memory file, and what it holds
//! between calls (registered files and buffers, the eventfd, operations
//! waiting for a file or a time). The operations themselves run in
//! `syscalls/io_uring*.rs`, in the task that calls io_uring_enter.
//!
//! The SQ ring, the CQ ring and the SQE array are memory-file pages the
//! application maps from this file (`mmap` at IORING_OFF_SQ_RING,
//! IORING_OFF_CQ_RING, IORING_OFF_SQES; both rings are one region, as
//! Linux's IORING_FEAT_SINGLE_MMAP), and the Sentry reads and writes them
//! through its own mapping of the same pages. The application may change
//! them at any time, so:
//! * an index it owns (the SQ tail, the CQ head, an SQ array entry) is
//!   read once and bounded before use, and every access goes through
//!   [`MemRange::ptr`], which checks it against the region;
//! * an SQE is copied once into a local [`Sqe`] and only the copy is
//!   looked at;
//! * indexes the Sentry owns (SQ head, CQ tail) are kept here and only
//!   written to the ring, never read back.
//!
//! Memory order: the SQ tail is loaded with Acquire (the application's
//! SQEs are visible before it), the CQ tail stored with Release after the
//! CQE's bytes, the SQ head stored with Release, the CQ head loaded with
//! Acquire.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::errno::Errno;
use crate::fsimpl::eventfd::EventFd;
use crate::memfile::{MemRange, MemoryFile, PAGE_SIZE};
use crate::usermem::Pod;
use crate::vfs::{File, FileOps, MemSegment};
use crate::waiter::WaitQueue;

/// mmap offsets of the regions (IORING_OFF_*).
pub const IORING_OFF_SQ_RING: u64 = 0;
pub const IORING_OFF_CQ_RING: u64 = 0x800_0000;
pub const IORING_OFF_SQES: u64 = 0x1000_0000;
const IORING_OFF_MMAP_MASK: u64 = 0xf800_0000;

/// The most SQ and CQ entries (IORING_MAX_ENTRIES, IORING_MAX_CQ_ENTRIES).
pub const MAX_ENTRIES: u32 = 32768;
pub const MAX_CQ_ENTRIES: u32 = 2 * MAX_ENTRIES;

/// A CQ kept past the ring's space (IORING_FEAT_NODROP) holds at most this
/// many before completions are dropped and counted in `cq_overflow`: the
/// application could otherwise make the Sentry's memory grow without end.
const MAX_OVERFLOW: usize = 65536;

/// The rings' layout (what io_uring_setup reports in sq_off and cq_off).
/// The heads and tails sit on cache lines of their own, as Linux's.
pub const SQ_HEAD: u32 = 0;
pub const SQ_TAIL: u32 = 64;
pub const CQ_HEAD: u32 = 128;
pub const CQ_TAIL: u32 = 192;
pub const SQ_RING_MASK: u32 = 256;
pub const CQ_RING_MASK: u32 = 260;
pub const SQ_RING_ENTRIES: u32 = 264;
pub const CQ_RING_ENTRIES: u32 = 268;
pub const SQ_DROPPED: u32 = 272;
pub const SQ_FLAGS: u32 = 276;
pub const CQ_FLAGS: u32 = 280;
pub const CQ_OVERFLOW: u32 = 284;
pub const CQES: u32 = 320;

const CQE_SIZE: u64 = std::mem::size_of::<Cqe>() as u64;
const SQE_SIZE: u64 = std::mem::size_of::<Sqe>() as u64;

/// `struct io_uring_sqe`, copied out of the ring once.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Sqe {
    pub opcode: u8,
    pub flags: u8,
    pub ioprio: u16,
    pub fd: i32,
    /// `off`, or `addr2`.
    pub off: u64,
    /// `addr`, or `splice_off_in`.
    pub addr: u64,
    pub len: u32,
    /// rw_flags, fsync_flags, poll32_events, msg_flags, timeout_flags,
    /// accept_flags, cancel_flags, open_flags, statx_flags ...
    pub op_flags: u32,
    pub user_data: u64,
    pub buf_index: u16,
    pub personality: u16,
    pub file_index: i32,
    pub addr3: u64,
    pub pad: u64,
}

// SAFETY: a repr(C) struct of integers laid out without padding.
unsafe impl Pod for Sqe {}

/// `struct io_uring_cqe`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cqe {
    pub user_data: u64,
    pub res: i32,
    pub flags: u32,
}

/// What a parked operation waits for.
#[derive(Clone)]
pub enum Wait {
    /// `events` of a file (a read of an empty pipe, an accept, POLL_ADD).
    File(Arc<File>, i16),
    /// A time (TIMEOUT), or `count` more completions, whichever is first.
    Timeout {
        deadline: Option<Instant>,
        count: Option<u64>,
    },
    /// IOSQE_IO_DRAIN: every operation submitted before it to finish.
    Drain(u64),
}

/// An operation that could not finish at submission, with the operations
/// linked after it (IOSQE_IO_LINK), which run when it completes.
#[derive(Clone)]
pub struct Pending {
    /// Submission order, for IOSQE_IO_DRAIN.
    pub seq: u64,
    pub sqe: Sqe,
    pub wait: Wait,
    /// A LINK_TIMEOUT guarding it: when it passes, the operation is
    /// cancelled and the timeout's user_data completes with -ETIME.
    pub link_timeout: Option<(Instant, u64)>,
    pub chain: Vec<Sqe>,
}

/// Registered files and buffers, and the eventfd.
#[derive(Default)]
pub struct Registered {
    pub files: Option<Vec<Option<Arc<File>>>>,
    pub buffers: Option<Vec<(u64, u64)>>,
    pub eventfd: Option<Arc<File>>,
}

pub struct State {
    /// The next SQ entry to take (the ring's head, ours).
    sq_head: u32,
    /// Where the next CQE goes (the ring's tail, ours).
    cq_tail: u32,
    overflow: VecDeque<Cqe>,
    /// CQEs posted, for TIMEOUT's completion count.
    pub posted: u64,
    /// Submissions so far, for IOSQE_IO_DRAIN.
    pub submitted: u64,
    pub pending: Vec<Pending>,
    pub reg: Registered,
}

pub struct IoUring {
    rings: Arc<MemRange>,
    sqes: Arc<MemRange>,
    pub sq_entries: u32,
    pub cq_entries: u32,
    /// Where the SQ array starts in the rings region.
    pub sq_array: u32,
    pub flags: u32,
    state: Mutex<State>,
    /// Notified at each completion and submission: io_uring_enter's
    /// waiters and poll(2) on the ring.
    pub queue: WaitQueue,
    ino: u64,
}

impl IoUring {
    /// Rings for `sq_entries` and `cq_entries` (powers of two, checked by
    /// the caller), zeroed but for their constants.
    pub fn new(
        file: &Arc<MemoryFile>,
        sq_entries: u32,
        cq_entries: u32,
        flags: u32,
    ) -> Result<IoUring, Errno> {
        let sq_array = u64::from(CQES) + u64::from(cq_entries) * CQE_SIZE;
        let rings_len = (sq_array + 4 * u64::from(sq_entries)).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let sqes_len = (u64::from(sq_entries) * SQE_SIZE).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let ring = IoUring {
            rings: MemRange::new(file, rings_len)?,
            sqes: MemRange::new(file, sqes_len)?,
            sq_entries,
            cq_entries,
            sq_array: sq_array as u32,
            flags,
            state: Mutex::new(State {
                sq_head: 0,
                cq_tail: 0,
                overflow: VecDeque::new(),
                posted: 0,
                submitted: 0,
                pending: Vec::new(),
                reg: Registered::default(),
            }),
            queue: WaitQueue::new(),
            ino: super::anon_ino(),
        };
        ring.store(SQ_RING_MASK, sq_entries - 1, Ordering::Relaxed);
        ring.store(CQ_RING_MASK, cq_entries - 1, Ordering::Relaxed);
        ring.store(SQ_RING_ENTRIES, sq_entries, Ordering::Relaxed);
        ring.store(CQ_RING_ENTRIES, cq_entries, Ordering::Relaxed);
        Ok(ring)
    }

    /// The io_uring behind `f`, if it is one.
    pub fn of(f: &File) -> Option<&IoUring> {
        f.ops().as_any()?.downcast_ref::<IoUring>()
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn word(&self, off: u32) -> Option<&AtomicU32> {
        let p = self.rings.ptr(u64::from(off), 4).ok()?;
        // SAFETY: 4 bytes inside the rings region (checked by ptr), which
        // lives as long as `self`; every offset used is 4-aligned.
        Some(unsafe { AtomicU32::from_ptr(p as *mut u32) })
    }

    fn load(&self, off: u32, o: Ordering) -> u32 {
        self.word(off).map_or(0, |w| w.load(o))
    }

    fn store(&self, off: u32, v: u32, o: Ordering) {
        if let Some(w) = self.word(off) {
            w.store(v, o);
        }
    }

    /// SQEs the application has queued and not yet handed over, at most
    /// the ring's size whatever its tail says.
    pub fn sq_ready(&self, st: &State) -> u32 {
        let tail = self.load(SQ_TAIL, Ordering::Acquire);
        tail.wrapping_sub(st.sq_head).min(self.sq_entries)
    }

    /// Takes the next SQE: a copy, or None for an SQ array entry out of
    /// range (dropped and counted in `sq_dropped`, as Linux does).
    pub fn next_sqe(&self, st: &mut State) -> Option<Sqe> {
        let slot = st.sq_head & (self.sq_entries - 1);
        st.sq_head = st.sq_head.wrapping_add(1);
        self.store(SQ_HEAD, st.sq_head, Ordering::Release);
        let idx = self.load(self.sq_array + 4 * slot, Ordering::Relaxed);
        if idx >= self.sq_entries {
            let d = self.load(SQ_DROPPED, Ordering::Relaxed);
            self.store(SQ_DROPPED, d.wrapping_add(1), Ordering::Relaxed);
            return None;
        }
        let p = self.sqes.ptr(u64::from(idx) * SQE_SIZE, SQE_SIZE).ok()?;
        // SAFETY: SQE_SIZE bytes inside the SQE region (checked by ptr);
        // the application may be writing them, so they are read once,
        // volatile, into a copy that any bytes make valid (Sqe is Pod).
        Some(unsafe { std::ptr::read_volatile(p as *const Sqe) })
    }

    /// CQEs waiting for the application.
    pub fn cq_ready(&self, st: &State) -> u32 {
        let head = self.load(CQ_HEAD, Ordering::Acquire);
        st.cq_tail.wrapping_sub(head).min(self.cq_entries)
    }

    /// Posts a completion (kept aside while the CQ is full) and tells the
    /// eventfd. The caller notifies [`IoUring::queue`].
    pub fn post(&self, st: &mut State, cqe: Cqe) {
        self.flush_overflow(st);
        if !st.overflow.is_empty() || !self.put(st, cqe) {
            if st.overflow.len() < MAX_OVERFLOW {
                st.overflow.push_back(cqe);
            } else {
                let n = self.load(CQ_OVERFLOW, Ordering::Relaxed);
                self.store(CQ_OVERFLOW, n.wrapping_add(1), Ordering::Relaxed);
            }
        }
        st.posted += 1;
        if let Some(e) = st.reg.eventfd.as_ref().and_then(|f| EventFd::of(f)) {
            e.signal(1);
        }
    }

    /// Moves kept completions into the CQ as far as it has room.
    pub fn flush_overflow(&self, st: &mut State) {
        while let Some(c) = st.overflow.front().copied() {
            if !self.put(st, c) {
                break;
            }
            st.overflow.pop_front();
        }
    }

    fn put(&self, st: &mut State, cqe: Cqe) -> bool {
        if self.cq_ready(st) >= self.cq_entries {
            return false;
        }
        let slot = st.cq_tail & (self.cq_entries - 1);
        let off = u64::from(CQES) + u64::from(slot) * CQE_SIZE;
        if let Ok(p) = self.rings.ptr(off, CQE_SIZE) {
            // SAFETY: CQE_SIZE bytes inside the rings region; the
            // application owns them (racing writes only hurt itself).
            unsafe { std::ptr::write_volatile(p as *mut Cqe, cqe) };
        }
        st.cq_tail = st.cq_tail.wrapping_add(1);
        // Release: the CQE's bytes are visible before the tail.
        self.store(CQ_TAIL, st.cq_tail, Ordering::Release);
        true
    }

    /// Completions ready for the application, kept ones included.
    pub fn completions(&self, st: &mut State) -> u64 {
        self.flush_overflow(st);
        u64::from(self.cq_ready(st)) + st.overflow.len() as u64
    }

    /// The rings region's length (what mmap at the ring offsets may map).
    pub fn rings_len(&self) -> u64 {
        self.rings.len
    }
}

impl FileOps for IoUring {
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        super::anon_stat(self.ino)
    }

    fn readiness(&self, mask: i16) -> i16 {
        let mut st = self.lock();
        let mut r = 0;
        if self.completions(&mut st) > 0 {
            r |= libc::POLLIN | libc::POLLRDNORM;
        }
        if self.sq_ready(&st) < self.sq_entries {
            r |= libc::POLLOUT | libc::POLLWRNORM;
        }
        r & mask
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue)
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[io_uring]".to_vec()
    }

    fn mmap_pages(&self, off: u64, len: u64) -> Option<Result<Vec<MemSegment>, Errno>> {
        // Linux looks only at the offset's top bits (IORING_OFF_MMAP_MASK).
        let region = match off & IORING_OFF_MMAP_MASK {
            IORING_OFF_SQ_RING | IORING_OFF_CQ_RING => &self.rings,
            IORING_OFF_SQES => &self.sqes,
            _ => return Some(Err(Errno::EINVAL)),
        };
        if len > region.len {
            return Some(Err(Errno::EINVAL));
        }
        Some(Ok(vec![(region.clone(), 0, len)]))
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> IoUring {
        let f = MemoryFile::new().unwrap();
        IoUring::new(&f, 4, 8, 0).unwrap()
    }

    #[test]
    fn a_scribbled_sq_tail_and_array_are_bounded() {
        let r = ring();
        let mut st = r.lock();
        r.store(SQ_TAIL, u32::MAX / 2, Ordering::Relaxed);
        assert_eq!(r.sq_ready(&st), 4);
        // An SQ array entry past the SQEs is dropped, not followed.
        r.store(r.sq_array, 1_000_000, Ordering::Relaxed);
        assert!(r.next_sqe(&mut st).is_none());
        assert_eq!(r.load(SQ_DROPPED, Ordering::Relaxed), 1);
        r.store(r.sq_array + 4, 3, Ordering::Relaxed);
        assert!(r.next_sqe(&mut st).is_some());
        assert_eq!(r.load(SQ_HEAD, Ordering::Relaxed), 2);
    }

    #[test]
    fn a_full_cq_keeps_completions_until_the_head_moves() {
        let r = ring();
        let mut st = r.lock();
        for i in 0..10 {
            r.post(
                &mut st,
                Cqe {
                    user_data: i,
                    res: 0,
                    flags: 0,
                },
            );
        }
        assert_eq!(r.completions(&mut st), 10);
        assert_eq!(r.cq_ready(&st), 8);
        // A head the application set past the tail does not make room
        // out of nothing.
        r.store(CQ_HEAD, 1000, Ordering::Relaxed);
        assert_eq!(r.cq_ready(&st), 8);
        r.store(CQ_HEAD, 8, Ordering::Relaxed);
        assert_eq!(r.completions(&mut st), 2);
    }
}
