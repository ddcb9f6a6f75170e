//! Memory management: an application address space as VMAs over the memory
//! file.
//!
//! Every VMA is backed by a range of the memory file and is mapped into the
//! platform address space as soon as it exists, so ordinary accesses never
//! fault into the Sentry; the host kernel fills pages on first touch (demand
//! paging comes from the sparse file). Private file mappings hold a copy of
//! the file's bytes; a MAP_SHARED mapping of a file whose data is in the
//! memory file (tmpfs) maps those very pages, one VMA per chunk of the file,
//! so it is coherent with read/write and with other mappings. `fork` shares
//! the populated pages of private mappings copy-on-write (`cow.rs`) and
//! shares the ranges of shared ones. A range registered to a userfaultfd
//! keeps its missing pages without host access, and their faults wait for
//! the handler (`userfault.rs`).

mod attachment;
mod cow;
pub mod file_cache;
mod lazy;
mod patch;
pub mod policy;
mod rss;
mod userfault;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use platform::{AddressSpace, Context};

pub use attachment::{Attachment, FileHold};
pub use cow::Run;
pub use lazy::Fault;
pub use policy::MemPolicy;
pub use userfault::{Fill, Message, Userfault, PAGEFAULT_FLAG_WRITE};

use crate::errno::Errno;
use crate::vfs::File;
// The memory file sits below the VFS (a file hands the MM its pages as a
// MemRange); the MM is where most code meets it.
pub use crate::memfile::{page_round_down, page_round_up, MemRange, MemoryFile, PAGE_SIZE};

/// What a VMA maps, for /proc/PID/maps and for msync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmaKind {
    Anon,
    Heap,
    Stack,
    /// The host kernel's vDSO and data pages, present in every address
    /// space by the platform; not memory-file backed.
    Vdso,
    /// A file's bytes: its path, the file offset of the VMA's start, device
    /// and inode numbers.
    File {
        path: Vec<u8>,
        offset: u64,
        dev: u64,
        ino: u64,
    },
}

#[derive(Clone)]
pub struct Vma {
    pub start: u64,
    pub end: u64,
    pub prot: i32,
    pub shared: bool,
    pub growsdown: bool,
    /// Whether mprotect may add PROT_WRITE: false for a MAP_SHARED mapping
    /// of a file opened read-only (Linux's VM_MAYWRITE), whose stores would
    /// reach the file.
    pub may_write: bool,
    /// Whether mprotect may add PROT_EXEC: false for a mapping of a file
    /// on a noexec mount (Linux's VM_MAYEXEC).
    pub may_exec: bool,
    /// The pages belong to the file cache (a private, not yet written file
    /// mapping): shared by fork, never punched, copied before they may be
    /// written.
    pub borrowed: bool,
    pub mem: Arc<MemRange>,
    /// Offset inside `mem` of `start`.
    pub mem_off: u64,
    pub kind: VmaKind,
    /// What this mapping is an attachment of (a SysV shared memory
    /// segment), shared by every piece of the mapping.
    pub attachment: Option<Arc<dyn Attachment>>,
    /// The file a private file mapping fills its unfilled pages from
    /// (`lazy.rs`); held as Linux's VMA holds its file.
    pub source: Option<Arc<File>>,
    /// Its NUMA memory policy (mbind).
    pub policy: MemPolicy,
    /// The userfaultfd its missing pages are reported to
    /// (`userfault.rs`).
    pub uffd: Option<Arc<Userfault>>,
}

impl Vma {
    fn file_off(&self, addr: u64) -> u64 {
        self.mem.off + self.mem_off + (addr - self.start)
    }

    /// The part of this VMA inside `[start, end)`.
    fn slice(&self, start: u64, end: u64) -> Vma {
        let mut v = self.clone();
        let s = start.max(self.start);
        let e = end.min(self.end);
        v.mem_off += s - self.start;
        if let VmaKind::File { offset, .. } = &mut v.kind {
            *offset += s - self.start;
        }
        v.start = s;
        v.end = e;
        v
    }
}

/// Where the loader places things.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub max_addr: u64,
    pub stack_top: u64,
    pub mmap_base: u64,
    pub min_addr: u64,
}

impl Layout {
    pub fn new(max_addr: u64) -> Layout {
        let stack_top = page_round_down(max_addr - (1 << 28));
        Layout {
            max_addr,
            stack_top,
            mmap_base: stack_top - (1 << 30),
            min_addr: 0x10000,
        }
    }
}

pub const STACK_SIZE: u64 = 8 << 20;
const HEAP_RESERVE: u64 = 1 << 30;

#[derive(Default)]
pub struct Inner {
    pub vmas: BTreeMap<u64, Vma>,
    pub brk_start: u64,
    pub brk: u64,
    heap: Option<Arc<MemRange>>,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub auxv: Vec<(u64, u64)>,
    pub exe: Vec<u8>,
    /// The membarrier(2) registrations (`MEMBARRIER_CMD_REGISTER_*`
    /// bits), which fork keeps and exec drops.
    pub membarrier: i32,
    /// Private pages whose owners are counted (shared by fork, or copied on
    /// a write fault), by address: there they stand in for the VMA's own
    /// range. A run never crosses a VMA boundary.
    runs: BTreeMap<u64, Run>,
    /// Run pages this MM let go of whose host mappings may still be in
    /// place: released (and maybe freed for reuse) only once the operation
    /// has changed the address space, so no thread can reach a page after
    /// it went to someone else.
    released: Vec<(u64, u64)>,
    /// Pages of private file mappings not read from their file yet,
    /// `[start, end)` by start (`lazy.rs`). Mapped with no access on the
    /// host; a range never crosses a VMA boundary.
    unfilled: BTreeMap<u64, u64>,
}

/// The arguments of one mmap.
#[derive(Clone)]
pub struct MapRequest {
    pub addr: u64,
    pub len: u64,
    pub prot: i32,
    pub fixed: bool,
    pub noreplace: bool,
    pub shared: bool,
    pub growsdown: bool,
    /// See [`Vma::may_write`].
    pub may_write: bool,
    /// See [`Vma::may_exec`].
    pub may_exec: bool,
    /// See [`Vma::borrowed`]; only without PROT_WRITE.
    pub borrowed: bool,
    pub kind: VmaKind,
    /// Map this existing memory (shared file pages) instead of fresh zeros.
    pub mem: Option<(Arc<MemRange>, u64)>,
    /// See [`Vma::attachment`].
    pub attachment: Option<Arc<dyn Attachment>>,
    /// A private file mapping filled on first touch: the file, and how
    /// many bytes from the start are filled by the caller instead (the
    /// rest is unfilled, `lazy.rs`).
    pub lazy: Option<(Arc<File>, u64)>,
    /// Its NUMA memory policy (mremap keeps the old one).
    pub policy: MemPolicy,
}

impl MapRequest {
    pub fn anon(len: u64, prot: i32) -> MapRequest {
        MapRequest {
            addr: 0,
            len,
            prot,
            fixed: false,
            noreplace: false,
            shared: false,
            growsdown: false,
            may_write: true,
            may_exec: true,
            borrowed: false,
            kind: VmaKind::Anon,
            mem: None,
            attachment: None,
            lazy: None,
            policy: MemPolicy::default(),
        }
    }
}

pub struct MemoryManager {
    pub file: Arc<MemoryFile>,
    pub layout: Layout,
    inner: RwLock<Inner>,
    address_space: Mutex<Option<Arc<dyn AddressSpace>>>,
    /// The address space's Linux AIO contexts (`fsimpl::aio`, Linux's
    /// `mm->ioctx_table`): held here, not by a process, so they go with
    /// the address space (exec, exit) and a fork child has none. Typed by
    /// its owner, a layer above.
    pub aio: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
    /// Syscall patching's state (`patch.rs`).
    patch: Mutex<patch::State>,
    /// The resident size's peak as last brought up to date (`rss.rs`).
    hiwater: AtomicU64,
    /// Who learns the peak when the address space ends (`rss.rs`).
    peak_sink: Mutex<Option<Arc<AtomicU64>>>,
}

fn platform_err(e: platform::PlatformError) -> Errno {
    tracing::warn!("platform: {e}");
    match e.errno {
        libc::ESRCH => Errno::ESRCH,
        _ => Errno::ENOMEM,
    }
}

impl MemoryManager {
    pub fn new(file: Arc<MemoryFile>, max_addr: u64) -> Arc<MemoryManager> {
        Arc::new(MemoryManager {
            file,
            layout: Layout::new(max_addr),
            inner: RwLock::new(Inner::default()),
            address_space: Mutex::new(None),
            aio: std::sync::OnceLock::new(),
            patch: Mutex::default(),
            hiwater: AtomicU64::new(0),
            peak_sink: Mutex::new(None),
        })
    }

    /// Records the platform address space this MM is mapped into; it is
    /// destroyed with the MM.
    pub fn set_address_space(&self, a: Arc<dyn AddressSpace>) {
        *self.address_space.lock().unwrap() = Some(a);
    }

    fn space(&self) -> Option<Arc<dyn AddressSpace>> {
        self.address_space.lock().unwrap().clone()
    }

    pub fn inner(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap()
    }

    pub fn inner_mut(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap()
    }

    /// The VMA containing `addr`, if any (with its key).
    fn vma_at(inner: &Inner, addr: u64) -> Option<(&u64, &Vma)> {
        inner
            .vmas
            .range(..=addr)
            .next_back()
            .filter(|(_, v)| v.end > addr)
    }

    fn overlaps(inner: &Inner, start: u64, end: u64) -> bool {
        inner
            .vmas
            .range(..end)
            .next_back()
            .is_some_and(|(_, v)| v.end > start)
    }

    /// Finds `len` free bytes, searching down from the mmap base.
    fn find_free(&self, inner: &Inner, len: u64, hint: u64) -> Result<u64, Errno> {
        if hint != 0 {
            let h = page_round_down(hint);
            if h >= self.layout.min_addr
                && h.checked_add(len)
                    .is_some_and(|e| e <= self.layout.max_addr)
                && !Self::overlaps(inner, h, h + len)
            {
                return Ok(h);
            }
        }
        let mut top = self.layout.mmap_base;
        for (_, v) in inner.vmas.range(..self.layout.mmap_base).rev() {
            if v.end <= top && top - v.end >= len {
                return Ok(top - len);
            }
            top = top.min(v.start);
        }
        if top >= self.layout.min_addr + len {
            return Ok(top - len);
        }
        Err(Errno::ENOMEM)
    }

    /// Chooses where a mapping of `len` bytes goes, as `req` asks (a hint,
    /// MAP_FIXED, which clears what is there, or MAP_FIXED_NOREPLACE).
    fn place(
        &self,
        inner: &mut Inner,
        ctx: &mut dyn Context,
        req: &MapRequest,
        len: u64,
    ) -> Result<u64, Errno> {
        if !(req.fixed || req.noreplace) {
            return self.find_free(inner, len, req.addr);
        }
        if !req.addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let end = req.addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        if end > self.layout.max_addr || req.addr < self.layout.min_addr {
            return Err(Errno::ENOMEM);
        }
        if Self::overlaps(inner, req.addr, end) {
            if req.noreplace {
                return Err(Errno::EEXIST);
            }
            self.remove_range(inner, ctx, req.addr, end, false)?;
        }
        Ok(req.addr)
    }

    /// Creates a mapping and maps it into the address space.
    pub fn mmap(&self, ctx: &mut dyn Context, req: MapRequest) -> Result<u64, Errno> {
        let len = page_round_up(req.len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let mut inner = self.inner_mut();
        let addr = self.place(&mut inner, ctx, &req, len)?;
        let (mem, mem_off) = match req.mem {
            Some((m, off)) => (m, off),
            None => (MemRange::new(&self.file, len)?, 0),
        };
        let vma = Vma {
            start: addr,
            end: addr + len,
            prot: req.prot,
            shared: req.shared,
            growsdown: req.growsdown,
            may_write: req.may_write,
            may_exec: req.may_exec,
            borrowed: req.borrowed,
            mem,
            mem_off,
            kind: req.kind,
            attachment: req.attachment,
            source: req.lazy.as_ref().map(|(f, _)| f.clone()),
            policy: req.policy,
            uffd: None,
        };
        // The unfilled tail gets no access until it is read in.
        let filled = req
            .lazy
            .as_ref()
            .map_or(len, |(_, n)| page_round_up(*n).unwrap_or(len).min(len));
        if filled > 0 {
            ctx.map(addr, filled, req.prot, vma.file_off(addr))
                .map_err(platform_err)?;
        }
        if filled < len {
            let at = addr + filled;
            if let Err(e) = ctx.map(at, len - filled, libc::PROT_NONE, vma.file_off(at)) {
                let _ = ctx.unmap(addr, len);
                return Err(platform_err(e));
            }
            lazy::clear_unfilled(&mut inner.unfilled, addr, addr + len);
            inner.unfilled.insert(at, addr + len);
        }
        inner.vmas.insert(addr, vma);
        self.settle(&mut inner);
        Ok(addr)
    }

    /// Maps `segs` (pieces of the memory file: range, offset in it, length,
    /// all page multiples) back to back as one mapping of `req.len` bytes,
    /// one VMA per piece: a MAP_SHARED mapping of a file whose data is in
    /// the memory file. `req.mem` is ignored; the mapping goes where `req`
    /// asks, as for [`MemoryManager::mmap`].
    pub fn mmap_segments(
        &self,
        ctx: &mut dyn Context,
        req: MapRequest,
        segs: Vec<(Arc<MemRange>, u64, u64)>,
    ) -> Result<u64, Errno> {
        let len = page_round_up(req.len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let mut total = 0u64;
        for (mem, off, n) in &segs {
            let inside = off.checked_add(*n).is_some_and(|e| e <= mem.len);
            if *n == 0 || !off.is_multiple_of(PAGE_SIZE) || !n.is_multiple_of(PAGE_SIZE) || !inside
            {
                return Err(Errno::EINVAL);
            }
            total = total.checked_add(*n).ok_or(Errno::EINVAL)?;
        }
        if total != len {
            return Err(Errno::EINVAL);
        }
        let mut inner = self.inner_mut();
        let addr = self.place(&mut inner, ctx, &req, len)?;
        let mut at = addr;
        for (mem, mem_off, n) in segs {
            let mut kind = req.kind.clone();
            if let VmaKind::File { offset, .. } = &mut kind {
                *offset = offset.saturating_add(at - addr);
            }
            let vma = Vma {
                start: at,
                end: at + n,
                prot: req.prot,
                shared: req.shared,
                growsdown: req.growsdown,
                may_write: req.may_write,
                may_exec: req.may_exec,
                borrowed: false,
                mem,
                mem_off,
                kind,
                attachment: req.attachment.clone(),
                source: None,
                policy: req.policy,
                uffd: None,
            };
            if let Err(e) = ctx.map(at, n, req.prot, vma.file_off(at)) {
                // Leave nothing half made: no VMA, and no host mapping (a
                // MAP_FIXED replacement's old pages included).
                let keys: Vec<u64> = inner.vmas.range(addr..at).map(|(k, _)| *k).collect();
                for k in keys {
                    inner.vmas.remove(&k);
                }
                let _ = ctx.unmap(addr, len);
                return Err(platform_err(e));
            }
            inner.vmas.insert(at, vma);
            at += n;
        }
        self.settle(&mut inner);
        Ok(addr)
    }

    /// Splits VMAs (and runs) so that `at` is a boundary.
    fn split_at(inner: &mut Inner, at: u64) {
        cow::split_run(&mut inner.runs, at);
        lazy::split_unfilled(&mut inner.unfilled, at);
        let hit = inner
            .vmas
            .range(..at)
            .next_back()
            .filter(|(_, v)| v.end > at)
            .map(|(k, _)| *k);
        if let Some(k) = hit {
            let v = inner.vmas.remove(&k).unwrap();
            let (lo, hi) = (v.slice(v.start, at), v.slice(at, v.end));
            inner.vmas.insert(lo.start, lo);
            inner.vmas.insert(hi.start, hi);
        }
    }

    fn remove_range(
        &self,
        inner: &mut Inner,
        ctx: &mut dyn Context,
        start: u64,
        end: u64,
        unmap: bool,
    ) -> Result<(), Errno> {
        self.before_release(inner, start, end);
        Self::split_at(inner, start);
        Self::split_at(inner, end);
        self.release_runs(inner, start, end);
        lazy::clear_unfilled(&mut inner.unfilled, start, end);
        let keys: Vec<u64> = inner.vmas.range(start..end).map(|(k, _)| *k).collect();
        for k in keys {
            let v = inner.vmas.remove(&k).unwrap();
            if !v.shared && !v.borrowed && Arc::strong_count(&v.mem) > 1 {
                // Other pieces of this private range live on: give back just
                // this piece's pages now (not those another process shares).
                self.file
                    .punch_uncounted(v.file_off(v.start), v.end - v.start);
            }
        }
        if unmap {
            ctx.unmap(start, end - start).map_err(platform_err)?;
        }
        Ok(())
    }

    pub fn munmap(&self, ctx: &mut dyn Context, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_round_up(len).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if end > self.layout.max_addr {
            return Err(Errno::EINVAL);
        }
        let mut inner = self.inner_mut();
        self.remove_range(&mut inner, ctx, addr, end, true)?;
        self.settle(&mut inner);
        Ok(())
    }

    pub fn mprotect(
        &self,
        ctx: &mut dyn Context,
        addr: u64,
        len: u64,
        prot: i32,
    ) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len).ok_or(Errno::ENOMEM)?;
        let mut inner = self.inner_mut();
        // Every page of the range must be mapped.
        let mut pos = addr;
        for (_, v) in inner.vmas.range(..end) {
            if v.end <= pos {
                continue;
            }
            if v.start > pos {
                return Err(Errno::ENOMEM);
            }
            if (prot & libc::PROT_WRITE != 0 && !v.may_write)
                || (prot & libc::PROT_EXEC != 0 && !v.may_exec)
            {
                return Err(Errno::EACCES);
            }
            pos = v.end;
            if pos >= end {
                break;
            }
        }
        if pos < end {
            return Err(Errno::ENOMEM);
        }
        Self::split_at(&mut inner, addr);
        Self::split_at(&mut inner, end);
        if prot & libc::PROT_WRITE != 0 {
            // Cache pages may be read, never written: give each borrowed
            // piece its own copy first (the copy-on-write of a private file
            // mapping, done up front).
            self.copy_borrowed(&mut inner, addr, end, &mut |a, n, _, off| {
                ctx.map(a, n, prot, off).map_err(platform_err)
            })?;
        }
        for (_, v) in inner.vmas.range_mut(addr..end) {
            v.prot = prot;
        }
        // Run pages not writable on the host stay so (they may still be
        // shared copy-on-write; a write fault sorts them out): protect
        // piece by piece, never granting them write even for a moment.
        let mut pieces = Vec::new();
        let mut pos = addr;
        for (k, r) in inner.runs.range_mut(addr..end) {
            if prot & libc::PROT_WRITE == 0 {
                r.writable = false;
                continue;
            }
            if r.writable {
                continue;
            }
            if *k > pos {
                pieces.push((pos, k - pos, prot));
            }
            pieces.push((*k, r.end - k, prot & !libc::PROT_WRITE));
            pos = r.end;
        }
        if pos < end {
            pieces.push((pos, end - pos, prot));
        }
        // Unfilled pages keep no access until they are read in.
        if Self::has_unfilled(&inner, addr, end) {
            pieces = pieces
                .into_iter()
                .flat_map(|(a, n, p)| {
                    lazy::cut(&inner.unfilled, a, a + n)
                        .into_iter()
                        .map(move |(a, n, u)| (a, n, if u { libc::PROT_NONE } else { p }))
                })
                .collect();
        }
        match (pieces.len(), self.space()) {
            (2.., Some(s)) => s.protect_ranges(&pieces).map_err(platform_err),
            _ => {
                for (a, n, p) in pieces {
                    ctx.protect(a, n, p).map_err(platform_err)?;
                }
                Ok(())
            }
        }
    }

    pub fn mremap(
        &self,
        ctx: &mut dyn Context,
        old: u64,
        old_len: u64,
        new_len: u64,
        may_move: bool,
        fixed: Option<u64>,
    ) -> Result<u64, Errno> {
        if !old.is_multiple_of(PAGE_SIZE) || new_len == 0 {
            return Err(Errno::EINVAL);
        }
        let old_len = page_round_up(old_len).ok_or(Errno::EINVAL)?;
        let new_len = page_round_up(new_len).ok_or(Errno::EINVAL)?;
        let vma = {
            let inner = self.inner();
            let (_, v) = Self::vma_at(&inner, old).ok_or(Errno::EFAULT)?;
            if old + old_len.max(PAGE_SIZE) > v.end {
                return Err(Errno::EFAULT);
            }
            v.slice(old, old + old_len)
        };
        if fixed.is_none() && new_len <= old_len {
            if new_len < old_len {
                self.munmap(ctx, old + new_len, old_len - new_len)?;
            }
            return Ok(old);
        }
        // Grow (or move): new memory, the old bytes copied in.
        let in_place_free = {
            let inner = self.inner();
            fixed.is_none()
                && !Self::overlaps(&inner, old + old_len, old + new_len)
                && old + new_len <= self.layout.max_addr
        };
        if !in_place_free && !may_move {
            return Err(Errno::ENOMEM);
        }
        let (target, needs_fixed) = match fixed {
            Some(a) => (a, true),
            None if in_place_free => (old, true),
            None => (0, false),
        };
        if vma.shared {
            // Shared memory cannot be copied (others see the old pages); only
            // moving within the existing range is possible.
            if new_len > vma.mem.len - vma.mem_off {
                return Err(Errno::ENOMEM);
            }
        }
        let kept = old_len.min(new_len);
        let (mem, mem_off) = if vma.shared {
            (vma.mem.clone(), vma.mem_off)
        } else {
            let m = MemRange::new(&self.file, new_len)?;
            let mut inner = self.inner_mut();
            // The bytes move, so they are read in first; pages past the end
            // of the file come along as zeros.
            if Self::has_unfilled(&inner, old, old + kept) {
                let _ = self.fill(&mut inner, old, old + kept);
            }
            self.copy_content(&inner, old, m.off, kept);
            (m, 0)
        };
        if target == old {
            let mut inner = self.inner_mut();
            self.remove_range(&mut inner, ctx, old, old + old_len, false)?;
        }
        let addr = self.mmap(
            ctx,
            MapRequest {
                addr: target,
                len: new_len,
                prot: vma.prot,
                fixed: needs_fixed,
                noreplace: false,
                shared: vma.shared,
                growsdown: vma.growsdown,
                may_write: vma.may_write,
                may_exec: vma.may_exec,
                borrowed: false,
                kind: vma.kind.clone(),
                mem: Some((mem, mem_off)),
                attachment: vma.attachment.clone(),
                // A file mapping grown reads more of its file.
                lazy: vma.source.clone().map(|f| (f, kept)),
                policy: vma.policy,
            },
        )?;
        if addr != old {
            self.munmap(ctx, old, old_len)?;
        }
        Ok(addr)
    }

    /// Sets up an empty heap at `start` (after the loaded program).
    pub fn init_brk(&self, start: u64) -> Result<(), Errno> {
        let mut inner = self.inner_mut();
        inner.brk_start = start;
        inner.brk = start;
        inner.heap = Some(MemRange::new(&self.file, HEAP_RESERVE)?);
        Ok(())
    }

    pub fn brk(&self, ctx: &mut dyn Context, addr: u64) -> u64 {
        let mut inner = self.inner_mut();
        let cur = inner.brk;
        let Some(heap) = inner.heap.clone() else {
            return cur;
        };
        if addr < inner.brk_start || addr > inner.brk_start + HEAP_RESERVE {
            return cur;
        }
        let base = page_round_up(inner.brk_start).unwrap();
        let old_end = page_round_up(cur).unwrap();
        let new_end = page_round_up(addr).unwrap();
        if new_end > old_end {
            if Self::overlaps(&inner, old_end, new_end) {
                return cur;
            }
            let v = Vma {
                start: old_end,
                end: new_end,
                prot: libc::PROT_READ | libc::PROT_WRITE,
                shared: false,
                growsdown: false,
                may_write: true,
                may_exec: true,
                borrowed: false,
                mem: heap,
                mem_off: old_end - base,
                kind: VmaKind::Heap,
                attachment: None,
                source: None,
                policy: MemPolicy::default(),
                uffd: None,
            };
            // Heap pages a child still shares from before a shrink are its:
            // this heap gets fresh ones there.
            let Ok(plan) = self.plan(&mut inner, &v, v.start, v.end) else {
                return cur;
            };
            for (a, l, p, o) in plan {
                if ctx.map(a, l, p, o).is_err() {
                    self.release_runs(&mut inner, v.start, v.end);
                    return cur;
                }
            }
            // Merge with the heap VMA below so /proc/self/maps shows one [heap].
            let below = inner
                .vmas
                .range(..old_end)
                .next_back()
                .filter(|(_, p)| p.end == old_end && p.kind == VmaKind::Heap && p.prot == v.prot)
                .map(|(k, _)| *k);
            match below {
                Some(k) => inner.vmas.get_mut(&k).unwrap().end = new_end,
                None => {
                    inner.vmas.insert(v.start, v);
                }
            }
        } else if new_end < old_end {
            if self
                .remove_range(&mut inner, ctx, new_end, old_end, true)
                .is_err()
            {
                return cur;
            }
            let off = heap.off + (new_end - base);
            self.file.punch_uncounted(off, old_end - new_end);
        }
        inner.brk = addr;
        self.settle(&mut inner);
        addr
    }

    /// MADV_DONTNEED: private anonymous pages read as zero again, those of
    /// a file mapping read the file again.
    pub fn dontneed(&self, addr: u64, len: u64) -> Result<(), Errno> {
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        let mut inner = self.inner_mut();
        self.before_release(&inner, addr, end);
        if inner
            .runs
            .range(..end)
            .next_back()
            .is_some_and(|(_, r)| r.end > addr)
        {
            return self.dontneed_runs(&mut inner, addr, end);
        }
        let mut refill = Vec::new();
        let mut missing = Vec::new();
        for (_, v) in inner.vmas.range(..end) {
            if v.end <= addr || v.shared || v.borrowed {
                continue;
            }
            let s = v.start.max(addr);
            let e = v.end.min(end);
            self.file.punch_uncounted(v.file_off(s), e - s);
            if v.source.is_some() {
                refill.push((v.clone(), s, e));
            } else if v.uffd.is_some() {
                missing.push((s, e));
            }
        }
        // A userfaultfd-registered range's pages are missing again.
        for (s, e) in missing {
            lazy::mark_unfilled(&mut inner.unfilled, s, e);
            if let Some(sp) = self.space() {
                sp.protect(s, e - s, libc::PROT_NONE)
                    .map_err(platform_err)?;
            }
        }
        // A file mapping's pages read the file again on the next touch.
        for (v, s, e) in refill {
            if self.make_unfilled(&mut inner, &v, s, e) {
                if let Some(sp) = self.space() {
                    sp.protect(s, e - s, libc::PROT_NONE)
                        .map_err(platform_err)?;
                }
            }
        }
        Ok(())
    }

    /// Whether every page of `[addr, addr+len)` is mapped.
    pub fn is_mapped(&self, addr: u64, len: u64) -> bool {
        let Some(end) = addr.checked_add(len) else {
            return false;
        };
        let inner = self.inner();
        let mut pos = addr;
        for (_, v) in inner.vmas.range(..end) {
            if v.end <= pos {
                continue;
            }
            if v.start > pos {
                return false;
            }
            pos = v.end;
        }
        pos >= end
    }

    /// Records the platform's vDSO block as a VMA, so no mapping is placed
    /// over it; returns the address for AT_SYSINFO_EHDR.
    pub fn insert_vdso(&self, v: platform::Vdso) -> Result<u64, Errno> {
        let mut inner = self.inner_mut();
        if Self::overlaps(&inner, v.start, v.end) {
            return Err(Errno::ENOMEM);
        }
        let vma = Vma {
            start: v.start,
            end: v.end,
            prot: libc::PROT_READ | libc::PROT_EXEC,
            shared: true,
            growsdown: false,
            may_write: false,
            may_exec: true,
            borrowed: false,
            mem: MemRange::new(&self.file, PAGE_SIZE)?,
            mem_off: 0,
            kind: VmaKind::Vdso,
            attachment: None,
            source: None,
            policy: MemPolicy::default(),
            uffd: None,
        };
        inner.vmas.insert(v.start, vma);
        Ok(v.ehdr)
    }

    /// Maps every VMA into a fresh address space, and over them the pages
    /// shared copy-on-write.
    pub fn map_all(&self, ctx: &mut dyn Context) -> Result<(), Errno> {
        let inner = self.inner();
        let mut maps = Vec::new();
        for v in inner.vmas.values().filter(|v| v.kind != VmaKind::Vdso) {
            // A VMA wholly covered by one run needs only the run's mapping.
            let whole = inner.runs.get(&v.start).is_some_and(|r| r.end >= v.end);
            if !whole {
                for (a, n, u) in lazy::cut(&inner.unfilled, v.start, v.end) {
                    let p = if u { libc::PROT_NONE } else { v.prot };
                    maps.push((a, n, p, v.file_off(a)));
                }
            }
        }
        for (k, r) in &inner.runs {
            if let Some((_, v)) = Self::vma_at(&inner, *k) {
                maps.push((*k, r.end - k, r.host_prot(v), r.off));
            }
        }
        // All at once where the platform can (one stop under ptrace).
        match self.space() {
            Some(s) => s.map_ranges(&maps).map_err(platform_err),
            None => {
                for (a, l, p, o) in maps {
                    ctx.map(a, l, p, o).map_err(platform_err)?;
                }
                Ok(())
            }
        }
    }

    /// Runs `f` with the Sentry-side pieces of `[addr, addr+len)` (pointer,
    /// length), all checked for `need` protection first, and the MM locked
    /// so none is unmapped (and its memory reused) while `f` runs. For
    /// filling application memory straight from a host descriptor.
    pub fn with_user_ranges<R>(
        &self,
        addr: u64,
        len: usize,
        need: i32,
        f: impl FnOnce(&[(*mut u8, usize)]) -> R,
    ) -> Result<R, Errno> {
        let guard = self.lock_for(addr, len, need & libc::PROT_WRITE != 0)?;
        let pieces = self.pieces(&guard, &[(addr, len)], need)?;
        Ok(f(&pieces))
    }

    /// The Sentry-side (pointer, length) pieces of `ranges`, each byte
    /// checked for `need` protection and plain memory-file backing.
    fn pieces(
        &self,
        inner: &Inner,
        ranges: &[(u64, usize)],
        need: i32,
    ) -> Result<Vec<(*mut u8, usize)>, Errno> {
        let mut pieces = Vec::with_capacity(ranges.len());
        for &(addr, len) in ranges {
            let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
            let mut pos = addr;
            while pos < end {
                let (_, v) = Self::vma_at(inner, pos).ok_or(Errno::EFAULT)?;
                if v.kind == VmaKind::Vdso || v.prot & need != need || v.borrowed {
                    return Err(Errno::EFAULT);
                }
                let (off, avail) = Self::locate(inner, v, pos);
                let n = avail.min(end - pos) as usize;
                pieces.push((self.file.ptr(off), n));
                pos += n as u64;
            }
        }
        Ok(pieces)
    }

    /// Runs `f` over the Sentry-side bytes of `[addr, addr+len)`, piece by
    /// piece, checking that each piece is mapped with `need` protection.
    fn for_each(
        &self,
        addr: u64,
        len: usize,
        need: i32,
        write: bool,
        mut f: impl FnMut(*mut u8, usize, usize),
    ) -> Result<(), Errno> {
        if len == 0 {
            return Ok(());
        }
        let end = addr.checked_add(len as u64).ok_or(Errno::EFAULT)?;
        let guard = self.lock_for(addr, len, write)?;
        let inner = &*guard;
        let mut pos = addr;
        let mut done = 0usize;
        while pos < end {
            let (_, v) = Self::vma_at(inner, pos).ok_or(Errno::EFAULT)?;
            if v.kind == VmaKind::Vdso {
                // Not memory-file backed: the Sentry cannot read it.
                return Err(Errno::EFAULT);
            }
            if v.prot & need != need {
                return Err(Errno::EFAULT);
            }
            let (off, avail) = Self::locate(inner, v, pos);
            let n = avail.min(end - pos) as usize;
            f(self.file.ptr(off), done, n);
            pos += n as u64;
            done += n;
        }
        Ok(())
    }

    /// Copies application memory into `buf` (EFAULT if any byte is not
    /// readable).
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let dst = buf.as_mut_ptr();
        self.for_each(addr, buf.len(), libc::PROT_READ, false, |src, at, n| {
            // SAFETY: src points at n mapped bytes of the memory file; dst+at
            // has n bytes left in buf.
            unsafe { std::ptr::copy_nonoverlapping(src, dst.add(at), n) }
        })
    }

    /// Reads regardless of protection (ptrace's PEEKTEXT, as FOLL_FORCE).
    pub fn read_force(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        let dst = buf.as_mut_ptr();
        self.for_each(addr, buf.len(), 0, false, |src, at, n| {
            // SAFETY: src points at n mapped bytes of the memory file; dst+at
            // has n bytes left in buf.
            unsafe { std::ptr::copy_nonoverlapping(src, dst.add(at), n) }
        })
    }

    /// Copies `data` into application memory (EFAULT if any byte is not
    /// writable).
    pub fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.write_prot(addr, data, libc::PROT_WRITE)
    }

    /// Copies `len` bytes of the memory file at `src` (a file-cache range)
    /// into the mapping at `addr`, regardless of protection (the loader).
    pub fn fill_from(&self, addr: u64, src: u64, len: u64) -> Result<(), Errno> {
        self.for_each(addr, len as usize, 0, true, |dst, at, n| {
            let from = self.file.ptr(src + at as u64);
            // SAFETY: both point into the mapped memory file: `from` into the
            // cache range (len bytes from src), `dst` into this VMA's own
            // private range; distinct allocations cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(from, dst, n) };
        })
    }

    /// Writes regardless of protection (the loader filling read-only text,
    /// a ptrace breakpoint): file-cache pages the range borrows get a
    /// private copy first, as Linux's FOLL_FORCE copies a private file
    /// mapping's page.
    pub fn write_force(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.unborrow(addr, data.len() as u64)?;
        self.write_prot(addr, data, 0)
    }

    fn write_prot(&self, addr: u64, data: &[u8], need: i32) -> Result<(), Errno> {
        let src = data.as_ptr();
        self.for_each(addr, data.len(), need, true, |dst, at, n| {
            // SAFETY: dst points at n mapped bytes of the memory file; src+at
            // has n bytes left in data.
            unsafe { std::ptr::copy_nonoverlapping(src.add(at), dst, n) }
        })
    }

    /// Reads a NUL-terminated string of at most `max` bytes (without the NUL).
    pub fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::new();
        let mut pos = addr;
        loop {
            // Read up to the end of the page so a string ending just before
            // an unmapped page is still readable.
            let chunk = (PAGE_SIZE - pos % PAGE_SIZE) as usize;
            let mut buf = vec![0u8; chunk];
            self.read(pos, &mut buf)?;
            if let Some(i) = buf.iter().position(|b| *b == 0) {
                out.extend_from_slice(&buf[..i]);
                if out.len() > max {
                    return Err(Errno::ENAMETOOLONG);
                }
                return Ok(out);
            }
            out.extend_from_slice(&buf);
            if out.len() > max {
                return Err(Errno::ENAMETOOLONG);
            }
            pos += chunk as u64;
        }
    }

    /// Atomically compares the u32 at `addr` (futex word) with `f`, which may
    /// also modify it. EFAULT unless the word is mapped readable.
    pub fn with_u32<R>(
        &self,
        addr: u64,
        f: impl FnOnce(&std::sync::atomic::AtomicU32) -> R,
    ) -> Result<R, Errno> {
        if !addr.is_multiple_of(4) {
            return Err(Errno::EINVAL);
        }
        // The caller may store: the word gets a page of its own first.
        let guard = self.lock_for(addr, 4, true)?;
        let inner = &*guard;
        let (_, v) = Self::vma_at(inner, addr).ok_or(Errno::EFAULT)?;
        if v.prot & libc::PROT_READ == 0 {
            return Err(Errno::EFAULT);
        }
        let (off, _) = Self::locate(inner, v, addr);
        let p = self.file.ptr(off) as *const std::sync::atomic::AtomicU32;
        // SAFETY: p is 4-aligned (addr is, and file offsets are page-aligned)
        // and points into the mapped memory file, shared with the
        // application, hence atomic access.
        Ok(f(unsafe { &*p }))
    }

    /// A key that identifies the memory behind `addr` across address spaces
    /// (for shared futexes): its memory-file offset. For a private mapping
    /// that is the offset in the VMA's own range, which copy-on-write does
    /// not move (a waiter must still be found after its page is copied).
    pub fn futex_key(&self, addr: u64) -> Result<u64, Errno> {
        let inner = self.inner();
        let (_, v) = Self::vma_at(&inner, addr).ok_or(Errno::EFAULT)?;
        Ok(v.file_off(addr))
    }

    /// The VMAs, for /proc/PID/maps and core logic that walks them.
    pub fn vmas(&self) -> Vec<Vma> {
        self.inner().vmas.values().cloned().collect()
    }
}

impl Drop for MemoryManager {
    fn drop(&mut self) {
        // Before its pages go: the peak may be now.
        self.report_peak();
        if let Some(a) = self.address_space.lock().unwrap().take() {
            a.destroy();
        }
        let inner = self.inner.get_mut().unwrap_or_else(|e| e.into_inner());
        for (k, r) in std::mem::take(&mut inner.runs) {
            self.file.release(r.off, r.end - k);
        }
        for (off, len) in std::mem::take(&mut inner.released) {
            self.file.release(off, len);
        }
    }
}

impl crate::usermem::UserMemory for MemoryManager {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Errno> {
        MemoryManager::read(self, addr, buf)
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        MemoryManager::write(self, addr, data)
    }

    fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>, Errno> {
        MemoryManager::read_cstring(self, addr, max)
    }

    fn with_ranges(
        &self,
        ranges: &[(u64, usize)],
        need: i32,
        f: &mut crate::usermem::RangesFn<'_>,
    ) -> Result<Result<usize, Errno>, Errno> {
        // One lock over the lookups and `f`: no range is unmapped (and its
        // memory reused) in between. A write first gives shared
        // (copy-on-write) pages one owner, as every Sentry write does.
        let write = need & libc::PROT_WRITE != 0;
        let guard = match ranges {
            [(addr, len)] => self.lock_for(*addr, *len, write)?,
            _ => {
                let g = self.inner();
                // Several ranges would each need their shared pages copied
                // first: the caller's buffered path (MemoryManager::write)
                // does that.
                if write && !g.runs.is_empty() {
                    return Err(Errno::EFAULT);
                }
                // So would unfilled pages need reading in.
                if !g.unfilled.is_empty()
                    && ranges
                        .iter()
                        .any(|&(a, n)| Self::has_unfilled(&g, a, a.saturating_add(n as u64)))
                {
                    return Err(Errno::EFAULT);
                }
                cow::Locked::Read(g)
            }
        };
        let pieces = self.pieces(&guard, ranges, need)?;
        Ok(f(&pieces))
    }
}
