//! Linux AIO (Linux's fs/aio.c): contexts, the completion ring the
//! application reads without a system call, and requests.
//!
//! A context's ring is a shared mapping of memory-file pages placed in
//! the application's address space by io_setup, with Linux's layout (a
//! 32-byte `struct aio_ring` header, then `struct io_event`s), because
//! libaio's io_getevents reads the header and events there directly. The
//! Sentry writes events through its own mapping of the same pages
//! ([`MemRange`]), so the application unmapping or scribbling on the ring
//! can never make the Sentry touch anything else: the only value it
//! reads back from the ring, `head`, is taken modulo the ring's size.
//!
//! Reads and writes run at io_submit, as Linux runs them for every file
//! without O_DIRECT (a read of an empty pipe blocks in io_submit there
//! too); fsync runs at io_submit and completes at once. Poll requests wait:
//! io_getevents (and the next io_submit or io_getevents) completes those
//! whose file became ready.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::errno::Errno;
use crate::fsimpl::eventfd::EventFd;
use crate::kernel::AioLimits;
use crate::memfile::{MemRange, MemoryFile, PAGE_SIZE};
use crate::mm::MemoryManager;
use crate::usermem::Pod;
use crate::vfs::File;
use crate::waiter::WaitQueue;

/// `struct aio_ring`'s `magic`: libaio reads events from user memory only
/// when it finds it.
pub const AIO_RING_MAGIC: u32 = 0xa10a_10a1;
/// `compat_features`: AIO_RING_COMPAT_FEATURES.
const RING_COMPAT_FEATURES: u32 = 1;
/// `struct aio_ring`'s size, before the events.
const RING_HEADER: u64 = 32;
/// `struct io_event`'s size.
const EVENT_SIZE: u64 = std::mem::size_of::<IoEvent>() as u64;
/// Offsets of the header's fields (id, nr, head, tail, magic,
/// compat_features, incompat_features, header_length).
const OFF_ID: u64 = 0;
const OFF_NR: u64 = 4;
const OFF_HEAD: u64 = 8;
const OFF_TAIL: u64 = 12;
const OFF_MAGIC: u64 = 16;
const OFF_COMPAT: u64 = 20;
const OFF_HEADER_LEN: u64 = 28;

/// `aio_key` of every submitted iocb (Linux's KIOCB_KEY); io_cancel
/// refuses an iocb with another.
pub const KIOCB_KEY: u32 = 0;

/// Opcodes (`enum { IOCB_CMD_PREAD = 0, ... }`).
pub const IOCB_CMD_PREAD: u16 = 0;
pub const IOCB_CMD_PWRITE: u16 = 1;
pub const IOCB_CMD_FSYNC: u16 = 2;
pub const IOCB_CMD_FDSYNC: u16 = 3;
pub const IOCB_CMD_POLL: u16 = 5;
pub const IOCB_CMD_NOOP: u16 = 6;
pub const IOCB_CMD_PREADV: u16 = 7;
pub const IOCB_CMD_PWRITEV: u16 = 8;
/// `aio_flags`: notify the eventfd `aio_resfd` of the completion.
pub const IOCB_FLAG_RESFD: u32 = 1;
/// `aio_flags`: `aio_reqprio` holds an I/O priority.
pub const IOCB_FLAG_IOPRIO: u32 = 2;

/// Linux's cap on a context's events before doubling: 0x10000000 bytes
/// of `io_event`s.
const MAX_RING_BYTES: u64 = 0x1000_0000;
/// Linux sizes a context for at least 4 events per possible CPU; the
/// sandbox reports this many CPUs' worth (never fewer than the host's
/// two-core machines show).
const MIN_EVENTS: u32 = 4 * 2;

/// `struct iocb` (little-endian x86-64 layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Iocb {
    pub aio_data: u64,
    pub aio_key: u32,
    pub aio_rw_flags: i32,
    pub aio_lio_opcode: u16,
    pub aio_reqprio: i16,
    pub aio_fildes: u32,
    pub aio_buf: u64,
    pub aio_nbytes: u64,
    pub aio_offset: i64,
    pub aio_reserved2: u64,
    pub aio_flags: u32,
    pub aio_resfd: u32,
}

// SAFETY: a repr(C) struct of integers without padding; any bytes are a
// valid value.
unsafe impl Pod for Iocb {}

/// `struct io_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct IoEvent {
    pub data: u64,
    pub obj: u64,
    pub res: i64,
    pub res2: i64,
}

// SAFETY: as for Iocb.
unsafe impl Pod for IoEvent {}

/// A poll request waiting for its file.
struct PendingPoll {
    file: Arc<File>,
    events: i16,
    data: u64,
    obj: u64,
    resfd: Option<Arc<File>>,
    /// Not ready when submitted: Linux then completes it from the file's
    /// wake-up, whose events are not masked by those asked for.
    waited: bool,
}

struct State {
    /// Where the next event goes (the ring's `tail`, the Sentry's own copy:
    /// the application's is never read back).
    tail: u32,
    pending: Vec<PendingPoll>,
}

/// One io_setup context.
pub struct AioContext {
    /// The ring's pages, mapped at `addr` in the application.
    ring: Arc<MemRange>,
    /// The context id: the ring's address.
    pub addr: u64,
    /// Events the ring holds (`ring->nr`).
    nr: u32,
    /// What io_setup asked for, counted in aio-nr.
    max_reqs: u32,
    state: Mutex<State>,
    /// Notified at each completion (io_getevents sleeps on it).
    pub queue: WaitQueue,
    limits: Weak<Mutex<AioLimits>>,
}

/// An address space's contexts, by id (held by the MM: `MemoryManager::aio`).
#[derive(Default)]
pub struct AioTable {
    contexts: Mutex<std::collections::BTreeMap<u64, Arc<AioContext>>>,
}

/// The contexts of `mm`.
pub fn table_of(mm: &MemoryManager) -> &AioTable {
    let any = mm.aio.get_or_init(|| Arc::new(AioTable::default()));
    any.downcast_ref::<AioTable>()
        .expect("MemoryManager::aio holds an AioTable")
}

impl AioTable {
    pub fn get(&self, id: u64) -> Result<Arc<AioContext>, Errno> {
        self.contexts
            .lock()
            .unwrap()
            .get(&id)
            .cloned()
            .ok_or(Errno::EINVAL)
    }

    pub fn insert(&self, ctx: Arc<AioContext>) {
        self.contexts.lock().unwrap().insert(ctx.addr, ctx);
    }

    pub fn remove(&self, id: u64) -> Result<Arc<AioContext>, Errno> {
        self.contexts
            .lock()
            .unwrap()
            .remove(&id)
            .ok_or(Errno::EINVAL)
    }
}

/// The ring's geometry for `nr_events` asked of io_setup: (events the ring
/// holds, bytes), as Linux's ioctx_alloc and aio_setup_ring compute them;
/// EINVAL when too large, EAGAIN over `max` (aio-max-nr).
pub fn ring_size(nr_events: u32, max: u64) -> Result<(u32, u64), Errno> {
    // Linux doubles in 32 bits: 2^31 events wrap to none (EAGAIN).
    let doubled = u64::from(nr_events.max(MIN_EVENTS).wrapping_mul(2));
    if doubled > MAX_RING_BYTES / EVENT_SIZE {
        return Err(Errno::EINVAL);
    }
    if doubled == 0 || u64::from(nr_events) > max {
        return Err(Errno::EAGAIN);
    }
    // "1 is required, 2 for good luck".
    let bytes = RING_HEADER + EVENT_SIZE * (doubled + 2);
    let bytes = bytes.div_ceil(PAGE_SIZE) * PAGE_SIZE;
    Ok((((bytes - RING_HEADER) / EVENT_SIZE) as u32, bytes))
}

impl AioContext {
    /// The ring of a context for `nr_events`: `bytes` of fresh memory
    /// holding `nr` events, its header written, the events counted against
    /// `limits` (EAGAIN over it). The caller maps it and makes the context
    /// with [`AioContext::at`].
    pub fn make_ring(
        file: &Arc<MemoryFile>,
        nr_events: u32,
        nr: u32,
        bytes: u64,
        limits: &Arc<Mutex<AioLimits>>,
    ) -> Result<(Arc<MemRange>, Reservation), Errno> {
        {
            let mut l = limits.lock().unwrap();
            let want = l.nr.checked_add(u64::from(nr_events));
            match want {
                Some(n) if n <= l.max => l.nr = n,
                _ => return Err(Errno::EAGAIN),
            }
        }
        let res = Reservation {
            limits: Arc::downgrade(limits),
            n: nr_events,
        };
        let ring = MemRange::new(file, bytes)?;
        let put = |off: u64, v: u32| -> Result<(), Errno> {
            let p = ring.ptr(off, 4)?;
            // SAFETY: `p` lies inside the ring's pages (bounds checked by
            // MemRange::ptr), 4-aligned as every header field is.
            unsafe { AtomicU32::from_ptr(p as *mut u32).store(v, Ordering::Relaxed) };
            Ok(())
        };
        put(OFF_ID, !0)?;
        put(OFF_NR, nr)?;
        put(OFF_MAGIC, AIO_RING_MAGIC)?;
        put(OFF_COMPAT, RING_COMPAT_FEATURES)?;
        put(OFF_HEADER_LEN, RING_HEADER as u32)?;
        Ok((ring, res))
    }

    /// The context whose ring `ring` is mapped at `addr`.
    pub fn at(ring: Arc<MemRange>, addr: u64, nr: u32, res: Reservation) -> Arc<AioContext> {
        let limits = res.limits.clone();
        let max_reqs = res.n;
        // The count now goes with the context.
        std::mem::forget(res);
        Arc::new(AioContext {
            ring,
            addr,
            nr,
            max_reqs,
            state: Mutex::new(State {
                tail: 0,
                pending: Vec::new(),
            }),
            queue: WaitQueue::new(),
            limits,
        })
    }

    /// The ring's length in the application.
    pub fn ring_len(&self) -> u64 {
        self.ring.len
    }

    /// Events io_submit may take at most in one call (Linux's nr_events).
    pub fn capacity(&self) -> u32 {
        self.nr
    }

    fn word(&self, off: u64) -> Option<&AtomicU32> {
        let p = self.ring.ptr(off, 4).ok()?;
        // SAFETY: inside the ring's pages, which live as long as `self`
        // (it holds the range), and 4-aligned.
        Some(unsafe { AtomicU32::from_ptr(p as *mut u32) })
    }

    /// The application's head, bounded to the ring.
    fn head(&self) -> u32 {
        self.word(OFF_HEAD)
            .map_or(0, |w| w.load(Ordering::Acquire) % self.nr)
    }

    /// Events waiting in the ring.
    fn available(&self, tail: u32) -> u32 {
        (tail + self.nr - self.head()) % self.nr
    }

    /// Whether a new request fits: the ring can never be overrun by the
    /// requests in flight (Linux's reqs_available).
    pub fn has_room(&self) -> bool {
        let st = self.state.lock().unwrap();
        self.available(st.tail) as usize + st.pending.len() + 1 < self.nr as usize
    }

    /// Puts an event in the ring and wakes readers; the eventfd `resfd`
    /// gets 1.
    pub fn complete(&self, ev: IoEvent, resfd: Option<&Arc<File>>) {
        {
            let mut st = self.state.lock().unwrap();
            self.post(&mut st, ev);
        }
        if let Some(e) = resfd.and_then(|f| EventFd::of(f)) {
            e.signal(1);
        }
        self.queue.notify_all();
    }

    fn post(&self, st: &mut State, ev: IoEvent) {
        let off = RING_HEADER + u64::from(st.tail) * EVENT_SIZE;
        if let Ok(p) = self.ring.ptr(off, EVENT_SIZE) {
            // SAFETY: `p` is EVENT_SIZE bytes inside the ring's pages; the
            // application may race on them, but they are plain memory it
            // owns (torn values only hurt the application).
            unsafe { std::ptr::write_volatile(p as *mut IoEvent, ev) };
        }
        st.tail = (st.tail + 1) % self.nr;
        if let Some(w) = self.word(OFF_TAIL) {
            // Release: the event's bytes are visible before the new tail.
            w.store(st.tail, Ordering::Release);
        }
    }

    /// Up to `max` events from the ring's head on, left there.
    pub fn peek(&self, max: usize) -> Vec<IoEvent> {
        let st = self.state.lock().unwrap();
        let mut head = self.head();
        let mut out = Vec::new();
        while head != st.tail && out.len() < max {
            let off = RING_HEADER + u64::from(head) * EVENT_SIZE;
            if let Ok(p) = self.ring.ptr(off, EVENT_SIZE) {
                // SAFETY: inside the ring's pages, as in `post`.
                out.push(unsafe { std::ptr::read_volatile(p as *const IoEvent) });
            }
            head = (head + 1) % self.nr;
        }
        out
    }

    /// Takes `n` events (at most those waiting) off the ring's head.
    pub fn consume(&self, n: usize) {
        let st = self.state.lock().unwrap();
        let n = (n as u32).min(self.available(st.tail));
        let head = (self.head() + n) % self.nr;
        if let Some(w) = self.word(OFF_HEAD) {
            w.store(head, Ordering::Release);
        }
    }

    /// Events waiting in the ring now.
    pub fn ready(&self) -> usize {
        let st = self.state.lock().unwrap();
        self.available(st.tail) as usize
    }

    /// Queues a poll request for `file`'s `events`.
    pub fn add_poll(
        &self,
        file: Arc<File>,
        events: i16,
        data: u64,
        obj: u64,
        resfd: Option<Arc<File>>,
    ) {
        self.state.lock().unwrap().pending.push(PendingPoll {
            file,
            events,
            data,
            obj,
            resfd,
            waited: false,
        });
        self.drive();
        let mut st = self.state.lock().unwrap();
        for p in st.pending.iter_mut() {
            p.waited = true;
        }
    }

    /// Completes the poll requests whose file is ready.
    pub fn drive(&self) {
        let mut done = Vec::new();
        {
            let mut st = self.state.lock().unwrap();
            let mut i = 0;
            while i < st.pending.len() {
                let p = &st.pending[i];
                let always = libc::POLLERR | libc::POLLHUP;
                let ready = p.file.ops().readiness(p.events | always) & (p.events | always);
                if ready != 0 {
                    let p = st.pending.swap_remove(i);
                    let ready = if p.waited {
                        p.file.ops().readiness(-1)
                    } else {
                        ready
                    };
                    let ev = IoEvent {
                        data: p.data,
                        obj: p.obj,
                        res: i64::from(ready as u16),
                        res2: 0,
                    };
                    self.post(&mut st, ev);
                    done.push(p.resfd);
                } else {
                    i += 1;
                }
            }
        }
        if !done.is_empty() {
            for f in done.iter().flatten() {
                if let Some(e) = EventFd::of(f) {
                    e.signal(1);
                }
            }
            self.queue.notify_all();
        }
    }

    /// The files pending polls wait for, to sleep on.
    pub fn pending_files(&self) -> Vec<Arc<File>> {
        let st = self.state.lock().unwrap();
        st.pending.iter().map(|p| p.file.clone()).collect()
    }

    /// io_cancel: a pending poll request whose iocb is at `obj` completes
    /// with 0 (EINPROGRESS: its event is in the ring); anything else is
    /// not cancellable (EINVAL).
    pub fn cancel(&self, obj: u64) -> Result<(), Errno> {
        let resfd = {
            let mut st = self.state.lock().unwrap();
            let i = st
                .pending
                .iter()
                .position(|p| p.obj == obj)
                .ok_or(Errno::EINVAL)?;
            let p = st.pending.swap_remove(i);
            let ev = IoEvent {
                data: p.data,
                obj: p.obj,
                res: 0,
                res2: 0,
            };
            self.post(&mut st, ev);
            p.resfd
        };
        if let Some(e) = resfd.as_ref().and_then(|f| EventFd::of(f)) {
            e.signal(1);
        }
        self.queue.notify_all();
        Err(Errno::EINPROGRESS)
    }

    /// io_destroy: pending requests are dropped (their ring goes).
    pub fn kill(&self) {
        self.state.lock().unwrap().pending.clear();
        self.queue.notify_all();
    }
}

impl Drop for AioContext {
    fn drop(&mut self) {
        release(&self.limits, self.max_reqs);
    }
}

/// Events counted in aio-nr for a context being made; given back if it
/// never is.
pub struct Reservation {
    limits: Weak<Mutex<AioLimits>>,
    n: u32,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        release(&self.limits, self.n);
    }
}

fn release(limits: &Weak<Mutex<AioLimits>>, n: u32) {
    if let Some(l) = limits.upgrade() {
        let mut l = l.lock().unwrap();
        l.nr = l.nr.saturating_sub(u64::from(n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_geometry_matches_linux() {
        // io_setup(1): max(1, 8) * 2 + 2 events fit one page, which holds
        // (4096 - 32) / 32 = 127.
        assert_eq!(ring_size(1, 65536), Ok((127, 4096)));
        // io_setup(128): 258 events and the header take three pages.
        assert_eq!(ring_size(128, 65536), Ok((383, 12288)));
        assert_eq!(ring_size(65537, 65536), Err(Errno::EAGAIN));
        assert_eq!(ring_size(u32::MAX, u64::MAX), Err(Errno::EINVAL));
        assert_eq!(ring_size(1 << 31, u64::MAX), Err(Errno::EAGAIN));
    }

    #[test]
    fn a_scribbled_head_is_bounded_and_events_round_trip() {
        let f = MemoryFile::new().unwrap();
        let limits = Arc::new(Mutex::new(AioLimits::default()));
        let (nr, bytes) = ring_size(1, 65536).unwrap();
        let (ring, res) = AioContext::make_ring(&f, 1, nr, bytes, &limits).unwrap();
        assert_eq!(limits.lock().unwrap().nr, 1);
        let ctx = AioContext::at(ring, 0x1000, nr, res);
        ctx.word(OFF_HEAD)
            .unwrap()
            .store(u32::MAX, Ordering::Relaxed);
        assert!(ctx.head() < nr);
        ctx.word(OFF_HEAD).unwrap().store(0, Ordering::Relaxed);
        let ev = IoEvent {
            data: 7,
            obj: 8,
            res: 9,
            res2: 0,
        };
        ctx.complete(ev, None);
        assert_eq!(ctx.ready(), 1);
        let got = ctx.peek(4);
        assert_eq!((got.len(), got[0].data, got[0].res), (1, 7, 9));
        ctx.consume(got.len());
        assert_eq!(ctx.ready(), 0);
        drop(ctx);
        assert_eq!(limits.lock().unwrap().nr, 0);
    }
}
