//! userfaultfd(2)'s part in the MM: missing pages of registered ranges.
//!
//! The Sentry owns every application page, so it serves missing-page
//! faults itself. Registering a range of private anonymous memory
//! (`UFFDIO_REGISTER_MODE_MISSING`) marks its pages that hold nothing yet
//! (holes of the memory file, not shared copy-on-write) unfilled, as
//! `lazy.rs` does for file mappings: mapped with no access on the host, so
//! the application's first touch faults into the Sentry. There the fault
//! becomes a message on the [`Userfault`] context and the task sleeps until
//! UFFDIO_COPY or UFFDIO_ZEROPAGE fills the page (and wakes it), UFFDIO_WAKE
//! wakes it, the range is unregistered or the context goes. A touch by the
//! Sentry itself (a read(2) into such a buffer) waits the same way on the
//! thread's [`ThreadSleeper`], so the system call blocks until the page is
//! there, as on Linux.
//!
//! A fork child's copy of a registered range is not registered (Linux
//! without UFFD_FEATURE_EVENT_FORK): its missing pages read as zeros. So
//! is a range mremap moves or grows (no UFFD_FEATURE_EVENT_REMAP).

use std::sync::{Arc, Mutex};

use super::{lazy, page_round_down, platform_err, Inner, MemoryManager, Vma, VmaKind, PAGE_SIZE};
use crate::errno::Errno;
use crate::waiter::{thread_sleeper, WaitQueue};

/// `UFFD_PAGEFAULT_FLAG_WRITE` (`<linux/userfaultfd.h>`; not in libc).
pub const PAGEFAULT_FLAG_WRITE: u64 = 1;

/// How a faulting thread sleeps: on these queues until the condition
/// holds, or an error when it is interrupted (`Task::block`).
pub type Block<'a> = dyn FnMut(&[&WaitQueue], &mut dyn FnMut() -> bool) -> Result<(), Errno> + 'a;

/// One faulting thread's wait (Linux's `userfaultfd_wait_queue`).
struct Wait {
    id: u64,
    addr: u64,
    flags: u64,
    tid: i32,
    /// Its message was read: it no longer makes the descriptor readable.
    read: bool,
    woken: bool,
}

#[derive(Default)]
struct State {
    waits: Vec<Wait>,
    next: u64,
    /// The descriptor is gone: faults no longer wait.
    released: bool,
}

/// A page-fault message (`struct uffd_msg`'s `pagefault`).
#[derive(Clone, Copy, Debug)]
pub struct Message {
    pub addr: u64,
    pub flags: u64,
    pub tid: i32,
}

/// One userfaultfd context (Linux's `userfaultfd_ctx`): the faults waiting
/// for it. Each registered VMA holds it.
pub struct Userfault {
    state: Mutex<State>,
    /// Readers of the descriptor (read, poll, epoll): a message to read.
    pub readers: WaitQueue,
    /// Faulting threads: a wake for their page, or the end of the context.
    faults: WaitQueue,
    /// UFFD_USER_MODE_ONLY: a touch by the Sentry is EFAULT, not a wait.
    pub user_mode_only: bool,
    /// UFFD_FEATURE_SIGBUS, set by the handshake: a fault is SIGBUS (EFAULT
    /// for the Sentry) instead of a message.
    sigbus: std::sync::atomic::AtomicBool,
    /// UFFD_FEATURE_EXACT_ADDRESS: messages carry the faulting address,
    /// not its page.
    exact: std::sync::atomic::AtomicBool,
}

impl Userfault {
    pub fn new(user_mode_only: bool) -> Arc<Userfault> {
        Arc::new(Userfault {
            state: Mutex::new(State::default()),
            readers: WaitQueue::new(),
            faults: WaitQueue::new(),
            user_mode_only,
            sigbus: Default::default(),
            exact: Default::default(),
        })
    }

    /// The features the UFFDIO_API handshake enabled that change faults.
    pub fn set_features(&self, sigbus: bool, exact_address: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.sigbus.store(sigbus, Relaxed);
        self.exact.store(exact_address, Relaxed);
    }

    fn sigbus(&self) -> bool {
        self.sigbus.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reports a fault at `addr` and sleeps (through `block`) until a wake
    /// covers its page or the context goes; `block`'s error if the sleep
    /// is interrupted. The caller then touches the page again.
    pub fn wait_fault(
        &self,
        addr: u64,
        flags: u64,
        tid: i32,
        block: &mut Block<'_>,
    ) -> Result<(), Errno> {
        let exact = self.exact.load(std::sync::atomic::Ordering::Relaxed);
        let id = {
            let mut s = self.state.lock().unwrap();
            if s.released {
                return Ok(());
            }
            let id = s.next;
            s.next += 1;
            s.waits.push(Wait {
                id,
                addr: if exact { addr } else { page_round_down(addr) },
                flags,
                tid,
                read: false,
                woken: false,
            });
            id
        };
        self.readers.notify_all();
        let r = block(&[&self.faults], &mut || {
            let s = self.state.lock().unwrap();
            s.released || s.waits.iter().any(|w| w.id == id && w.woken)
        });
        self.state.lock().unwrap().waits.retain(|w| w.id != id);
        r
    }

    /// The oldest fault not read yet, now read.
    pub fn take_message(&self) -> Option<Message> {
        let mut s = self.state.lock().unwrap();
        let w = s.waits.iter_mut().find(|w| !w.read && !w.woken)?;
        w.read = true;
        Some(Message {
            addr: w.addr,
            flags: w.flags,
            tid: w.tid,
        })
    }

    /// Whether a fault waits to be read.
    pub fn has_message(&self) -> bool {
        let s = self.state.lock().unwrap();
        s.waits.iter().any(|w| !w.read && !w.woken)
    }

    /// Wakes the faults in `[start, start+len)`, read or not (an unread
    /// one's message goes with it, as on Linux).
    pub fn wake(&self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        let mut any = false;
        {
            let mut s = self.state.lock().unwrap();
            for w in s.waits.iter_mut() {
                if w.addr >= start && w.addr < end {
                    w.woken = true;
                    any = true;
                }
            }
        }
        if any {
            self.faults.notify_all();
            self.readers.notify_all();
        }
    }

    /// The descriptor is closed: every fault stops waiting, and none waits
    /// again.
    pub fn release(&self) {
        self.state.lock().unwrap().released = true;
        self.faults.notify_all();
        self.readers.notify_all();
    }
}

/// What UFFDIO_COPY or UFFDIO_ZEROPAGE puts in a missing page.
pub enum Fill<'a> {
    Bytes(&'a [u8]),
    Zeros,
}

fn registered_to(v: &Vma, ctx: &Arc<Userfault>) -> bool {
    v.uffd.as_ref().is_some_and(|u| Arc::ptr_eq(u, ctx))
}

/// Whether `v` is memory MISSING mode can track: private anonymous memory
/// (Linux's `vma_is_anonymous`). Shared anonymous memory (shmem on Linux)
/// is not supported: another process's stores would fill its pages behind
/// this MM's back.
fn trackable(v: &Vma) -> bool {
    matches!(v.kind, VmaKind::Anon | VmaKind::Heap | VmaKind::Stack)
        && !v.shared
        && !v.borrowed
        && v.source.is_none()
        && v.attachment.is_none()
}

impl MemoryManager {
    /// `[start, start+len)` as UFFDIO_REGISTER and the range ioctls take
    /// it (Linux's `validate_range`): page-aligned, not empty, inside the
    /// address space; EINVAL otherwise.
    fn uffd_range(&self, start: u64, len: u64) -> Result<u64, Errno> {
        if !start.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        self.uffd_check_source(start, len)?;
        Ok(start + len)
    }

    /// UFFDIO_COPY's source (Linux's `validate_unaligned_range`): any
    /// start, a length of whole pages, inside the address space.
    pub fn uffd_check_source(&self, start: u64, len: u64) -> Result<(), Errno> {
        let max = self.layout.max_addr;
        if !len.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        if start < self.layout.min_addr || start >= max || len > max - start {
            return Err(Errno::EINVAL);
        }
        Ok(())
    }

    /// ENOENT unless every page of `[start, start+len)` lies in a
    /// registered VMA (the target of COPY and ZEROPAGE, checked before any
    /// page is filled, as Linux checks its one VMA).
    pub fn uffd_check_registered(&self, start: u64, len: u64) -> Result<(), Errno> {
        let end = start.saturating_add(len);
        let inner = self.inner();
        let mut pos = start;
        while pos < end {
            let (_, v) = Self::vma_at(&inner, pos).ok_or(Errno::ENOENT)?;
            if v.uffd.is_none() {
                return Err(Errno::ENOENT);
            }
            pos = v.end;
        }
        Ok(())
    }

    /// The VMAs a register or unregister of `[start, end)` covers (holes
    /// between them allowed): ENOMEM when no VMA ends above `start`,
    /// EINVAL when the first starts at or past `end`, as Linux's checks.
    fn uffd_vmas(inner: &Inner, start: u64, end: u64) -> Result<Vec<&Vma>, Errno> {
        if !inner.vmas.values().any(|v| v.end > start) {
            return Err(Errno::ENOMEM);
        }
        let out: Vec<&Vma> = inner
            .vmas
            .range(..end)
            .map(|(_, v)| v)
            .filter(|v| v.end > start)
            .collect();
        if out.is_empty() {
            return Err(Errno::EINVAL);
        }
        Ok(out)
    }

    /// UFFDIO_REGISTER in MISSING mode: the VMAs of `[start, start+len)`
    /// report their missing pages to `ctx` from now on. EINVAL for a range
    /// that is not private anonymous memory, EBUSY for one another context
    /// has.
    pub fn uffd_register(&self, ctx: &Arc<Userfault>, start: u64, len: u64) -> Result<(), Errno> {
        let end = self.uffd_range(start, len)?;
        let mut inner = self.inner_mut();
        for v in Self::uffd_vmas(&inner, start, end)? {
            if v.kind == VmaKind::Vdso || !trackable(v) {
                return Err(Errno::EINVAL);
            }
            if v.uffd.as_ref().is_some_and(|u| !Arc::ptr_eq(u, ctx)) {
                return Err(Errno::EBUSY);
            }
        }
        Self::split_at(&mut inner, start);
        Self::split_at(&mut inner, end);
        let keys: Vec<u64> = inner
            .vmas
            .range(start..end)
            .filter(|(_, v)| v.uffd.is_none())
            .map(|(k, _)| *k)
            .collect();
        let space = self.space();
        for k in keys {
            let v = inner.vmas.get_mut(&k).unwrap();
            v.uffd = Some(ctx.clone());
            let v = v.clone();
            // Pages under runs are populated (shared by a fork); of the
            // rest, the holes of the memory file are the missing pages.
            // They lose their host access first, so a store racing with
            // this either lands before (and the page counts as present) or
            // faults.
            for (gs, ge) in super::cow::gaps(&inner.runs, v.start, v.end) {
                if let Some(sp) = &space {
                    sp.protect(gs, ge - gs, libc::PROT_NONE)
                        .map_err(platform_err)?;
                }
                let mut pos = gs;
                let mut present = Vec::new();
                for (o, l) in self.file.populated(v.file_off(gs), ge - gs) {
                    let a = gs + (o - v.file_off(gs));
                    if a > pos {
                        lazy::mark_unfilled(&mut inner.unfilled, pos, a);
                    }
                    present.push((a, l, v.prot));
                    pos = a + l;
                }
                if pos < ge {
                    lazy::mark_unfilled(&mut inner.unfilled, pos, ge);
                }
                if let (Some(sp), false) = (&space, present.is_empty()) {
                    sp.protect_ranges(&present).map_err(platform_err)?;
                }
            }
        }
        Ok(())
    }

    /// UFFDIO_UNREGISTER: the VMAs of `[start, start+len)` no longer
    /// report (whichever context they had); their missing pages become
    /// ordinary ones (zeros on first touch) and faults waiting there wake.
    pub fn uffd_unregister(&self, start: u64, len: u64) -> Result<(), Errno> {
        let end = self.uffd_range(start, len)?;
        let mut inner = self.inner_mut();
        let mut ctxs: Vec<Arc<Userfault>> = Vec::new();
        for v in Self::uffd_vmas(&inner, start, end)? {
            if v.kind == VmaKind::Vdso || !trackable(v) {
                return Err(Errno::EINVAL);
            }
            if let Some(u) = &v.uffd {
                if !ctxs.iter().any(|c| Arc::ptr_eq(c, u)) {
                    ctxs.push(u.clone());
                }
            }
        }
        Self::split_at(&mut inner, start);
        Self::split_at(&mut inner, end);
        self.forget_uffd(&mut inner, start, end, None)?;
        drop(inner);
        for c in ctxs {
            c.wake(start, len);
        }
        Ok(())
    }

    /// Drops the registration of the VMAs in `[start, end)` (split there
    /// already) that `only` names (any, if None) and opens their missing
    /// pages up.
    fn forget_uffd(
        &self,
        inner: &mut Inner,
        start: u64,
        end: u64,
        only: Option<&Arc<Userfault>>,
    ) -> Result<(), Errno> {
        let space = self.space();
        let keys: Vec<u64> = inner
            .vmas
            .range(start..end)
            .filter(|(_, v)| v.uffd.is_some() && only.is_none_or(|c| registered_to(v, c)))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let v = inner.vmas.get_mut(&k).unwrap();
            v.uffd = None;
            let (s, e, prot) = (v.start, v.end, v.prot);
            let open: Vec<(u64, u64, i32)> = lazy::unfilled_in(&inner.unfilled, s, e)
                .into_iter()
                .map(|(a, b)| (a, b - a, prot))
                .collect();
            lazy::clear_unfilled(&mut inner.unfilled, s, e);
            if let (Some(sp), false) = (&space, open.is_empty()) {
                sp.protect_ranges(&open).map_err(platform_err)?;
            }
        }
        Ok(())
    }

    /// The descriptor of `ctx` is closed: every range registered to it is
    /// unregistered (Linux's `userfaultfd_release`).
    pub fn uffd_release(&self, ctx: &Arc<Userfault>) {
        let mut inner = self.inner_mut();
        if let Err(e) = self.forget_uffd(&mut inner, 0, u64::MAX, Some(ctx)) {
            tracing::warn!("unregistering a closed userfaultfd: {e}");
        }
    }

    /// A fork child's copies of registered ranges are not registered.
    pub(super) fn uffd_forget_all(&self, inner: &mut Inner) {
        let keys: Vec<(u64, u64)> = inner
            .vmas
            .values()
            .filter(|v| v.uffd.is_some())
            .map(|v| (v.start, v.end))
            .collect();
        for (s, e) in keys {
            if let Some(v) = inner.vmas.get_mut(&s) {
                v.uffd = None;
            }
            lazy::clear_unfilled(&mut inner.unfilled, s, e);
        }
    }

    /// UFFDIO_COPY and UFFDIO_ZEROPAGE: fills the missing pages of
    /// `[start, start+len)` (registered to `ctx`) with `fill`, page by
    /// page, and opens them up. Returns the bytes filled before an error
    /// (ENOENT for a page not registered to `ctx`, EEXIST for one already
    /// there), or Ok with all of them; the caller wakes.
    pub fn uffd_fill(
        &self,
        ctx: &Arc<Userfault>,
        start: u64,
        len: u64,
        fill: Fill<'_>,
    ) -> (u64, Option<Errno>) {
        let end = match self.uffd_range(start, len) {
            Ok(e) => e,
            Err(e) => return (0, Some(e)),
        };
        let mut inner = self.inner_mut();
        let space = self.space();
        let mut done = 0;
        let mut failed = None;
        let mut pos = start;
        while pos < end {
            let Some((_, v)) = Self::vma_at(&inner, pos).filter(|(_, v)| registered_to(v, ctx))
            else {
                failed = Some(Errno::ENOENT);
                break;
            };
            if !Self::has_unfilled(&inner, pos, pos + PAGE_SIZE) {
                failed = Some(Errno::EEXIST);
                break;
            }
            let (off, prot) = (v.file_off(pos), v.prot);
            match &fill {
                Fill::Bytes(b) => {
                    let at = (pos - start) as usize;
                    let src = &b[at..at + PAGE_SIZE as usize];
                    // SAFETY: `off` is this page's place in the mapped
                    // memory file (a missing page has no run over it); no
                    // one else reaches it: the application's mapping of it
                    // has no access and the Sentry's accesses wait under
                    // the MM's lock, held here for writing.
                    unsafe {
                        std::ptr::copy_nonoverlapping(src.as_ptr(), self.file.ptr(off), src.len())
                    };
                }
                // A missing page is a hole of the memory file: zeros.
                Fill::Zeros => self.file.punch_uncounted(off, PAGE_SIZE),
            }
            lazy::clear_unfilled(&mut inner.unfilled, pos, pos + PAGE_SIZE);
            if let Some(sp) = &space {
                if let Err(e) = sp.protect(pos, PAGE_SIZE, prot) {
                    failed = Some(platform_err(e));
                    break;
                }
            }
            pos += PAGE_SIZE;
            done += PAGE_SIZE;
        }
        (done, failed)
    }

    /// UFFDIO_WAKE's range check.
    pub fn uffd_check_range(&self, start: u64, len: u64) -> Result<(), Errno> {
        self.uffd_range(start, len).map(|_| ())
    }

    /// The context an application fault at `addr` must wait for: a missing
    /// page of a registered range.
    pub(super) fn fault_missing(&self, inner: &Inner, addr: u64) -> Option<super::Fault> {
        let page = page_round_down(addr);
        let (_, v) = Self::vma_at(inner, addr)?;
        let ctx = v.uffd.clone()?;
        if !Self::has_unfilled(inner, page, page + PAGE_SIZE) {
            return None;
        }
        Some(if v.prot == libc::PROT_NONE {
            super::Fault::Signal {
                signo: libc::SIGSEGV,
                code: lazy::SEGV_ACCERR,
            }
        } else if ctx.sigbus() {
            super::Fault::Signal {
                signo: libc::SIGBUS,
                code: lazy::BUS_ADRERR,
            }
        } else {
            super::Fault::Missing(ctx)
        })
    }

    /// For an access of the Sentry to `[start, end)`: the first missing
    /// page there and the context to wait for, if any.
    pub(super) fn missing_in(inner: &Inner, start: u64, end: u64) -> Option<(u64, Arc<Userfault>)> {
        for (s, _) in lazy::unfilled_in(&inner.unfilled, start, end) {
            if let Some((_, v)) = Self::vma_at(inner, s) {
                if let Some(u) = &v.uffd {
                    return Some((s, u.clone()));
                }
            }
        }
        None
    }

    /// The Sentry touched the missing page `addr` of `ctx`: waits for it
    /// on this thread's task as Linux's kernel-mode fault does. EFAULT when
    /// it cannot (UFFD_USER_MODE_ONLY, UFFD_FEATURE_SIGBUS, no task on this
    /// thread, or a signal came first).
    pub(super) fn wait_missing(ctx: &Userfault, addr: u64, write: bool) -> Result<(), Errno> {
        if ctx.user_mode_only || ctx.sigbus() {
            return Err(Errno::EFAULT);
        }
        let s = thread_sleeper().ok_or(Errno::EFAULT)?;
        let flags = if write { PAGEFAULT_FLAG_WRITE } else { 0 };
        ctx.wait_fault(addr, flags, s.tid(), &mut |q, c| s.block(q, c))
            .map_err(|_| Errno::EFAULT)
    }
}
