//! Copy-on-write: private pages shared by fork, copied on the first write.
//!
//! A private VMA is backed by a range of the memory file that belongs to it
//! alone. `fork` does not copy it: each populated page becomes a *run* page
//! (`Inner::runs`, by address), whose owners the memory file counts
//! (`MemoryFile::add_owner`), and parent and child both map it read-only.
//! The child gets a fresh (sparse, empty) range of its own for the rest, so
//! pages neither side had touched are never shared at all.
//!
//! A write fault on a run page still shared (more than one owner) copies an
//! aligned chunk of up to [`CHUNK`] bytes around it into newly allocated
//! pages, drops one owner of the old ones, and maps the copy writable; a run
//! with a single owner left (the other side exited, exec'd or copied) is
//! made writable in place, the whole run at once. The last owner of a page
//! punches it (`MemoryFile::release`). The Sentry's own writes into
//! application memory (`MemoryManager::write` and the like) copy shared
//! pages first in the same way, before writing.
//!
//! Write-protection reaches every thread of the parent before `fork`
//! returns: it is done through the platform's [`platform::AddressSpace`],
//! whose operations take effect for the whole address space (under ptrace
//! the host's mprotect of the stub process's memory, which shoots down the
//! TLB of every CPU running it) while the MM's write lock keeps faults and
//! Sentry writes of the other threads waiting. A thread that stores in
//! between faults into [`MemoryManager::fault`] and waits for the lock.

use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{
    page_round_down, page_round_up, platform_err, Attachment, Fault, Inner, MemRange,
    MemoryManager, Vma, VmaKind, PAGE_SIZE,
};
use crate::errno::Errno;

/// How much a write fault on a shared page copies: fewer faults (each is a
/// round trip through the Sentry) for a child that rewrites its memory.
const CHUNK: u64 = 16 * PAGE_SIZE;

/// The most a private writable VMA may hold for fork to copy it for the
/// child at once rather than share it. A library's .data and .bss or a
/// young stack is written by both sides right after nearly every fork;
/// each write fault on a shared page is two round trips through the
/// Sentry under ptrace (~20 us), a page copy a fraction of a microsecond.
const EAGER_COPY: u64 = 8 * PAGE_SIZE;

/// A copy within the memory file: from, to, length.
type PageCopy = (u64, u64, u64);

/// si_code of a fault on a mapped page the access is not allowed on
/// (`<asm-generic/siginfo.h>`; the libc crate does not export it).
const SEGV_ACCERR: i32 = 2;

/// A run of private pages `[key, end)` at memory-file offset `off`, whose
/// owners the memory file counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    pub end: u64,
    pub off: u64,
    /// The host mapping lets the application write (the pages had one
    /// owner when they were last mapped or protected).
    pub writable: bool,
}

impl Run {
    /// The host protection of this run inside `v`. `writable` false means
    /// the host mapping is read-only whatever `v.prot` says: fork relies
    /// on it to skip runs protected already.
    pub(super) fn host_prot(&self, v: &Vma) -> i32 {
        if self.writable {
            v.prot
        } else {
            v.prot & !libc::PROT_WRITE
        }
    }
}

/// Splits the run containing `at`, if any, so that `at` is a boundary.
pub(super) fn split_run(runs: &mut BTreeMap<u64, Run>, at: u64) {
    let hit = runs
        .range(..at)
        .next_back()
        .filter(|(_, r)| r.end > at)
        .map(|(k, r)| (*k, *r));
    if let Some((k, r)) = hit {
        runs.get_mut(&k).unwrap().end = at;
        runs.insert(
            at,
            Run {
                end: r.end,
                off: r.off + (at - k),
                writable: r.writable,
            },
        );
    }
}

/// The parts of `[start, end)` no run covers.
pub(super) fn gaps(runs: &BTreeMap<u64, Run>, start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut pos = start;
    let first = runs
        .range(..=start)
        .next_back()
        .map(|(k, _)| *k)
        .unwrap_or(start);
    for (k, r) in runs.range(first..end) {
        if r.end <= pos {
            continue;
        }
        if *k > pos {
            out.push((pos, *k));
        }
        pos = r.end;
    }
    if pos < end {
        out.push((pos, end));
    }
    out
}

/// The MM locked for reading, or for writing when shared pages had to be
/// copied first (kept so no fork shares them again before the caller is
/// done).
pub(super) enum Locked<'a> {
    Read(RwLockReadGuard<'a, Inner>),
    Write(RwLockWriteGuard<'a, Inner>),
}

impl Deref for Locked<'_> {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        match self {
            Locked::Read(g) => g,
            Locked::Write(g) => g,
        }
    }
}

pub(super) fn private(v: &Vma) -> bool {
    !v.shared && !v.borrowed && v.kind != VmaKind::Vdso
}

impl MemoryManager {
    /// The memory-file offset of `addr` (inside `v`) and how many bytes
    /// from there have contiguous backing.
    pub(super) fn locate(inner: &Inner, v: &Vma, addr: u64) -> (u64, u64) {
        if inner.runs.is_empty() || !private(v) {
            return (v.file_off(addr), v.end - addr);
        }
        if let Some((k, r)) = inner.runs.range(..=addr).next_back() {
            if r.end > addr {
                return (r.off + (addr - k), r.end.min(v.end) - addr);
            }
        }
        let next = inner
            .runs
            .range(addr..)
            .next()
            .map(|(k, _)| *k)
            .unwrap_or(u64::MAX);
        (v.file_off(addr), next.min(v.end) - addr)
    }

    /// Gives the borrowed pieces of `[addr, addr+len)` (file-cache pages
    /// of a private file mapping) their own copy, mapped in their place:
    /// a forced write must not reach the cache every mapping shares.
    pub(super) fn unborrow(&self, addr: u64, len: u64) -> Result<(), Errno> {
        let start = page_round_down(addr);
        let end = page_round_up(addr.saturating_add(len)).unwrap_or(u64::MAX);
        let borrowed = |inner: &Inner| {
            inner
                .vmas
                .range(..end)
                .rev()
                .take_while(|(_, v)| v.end > start)
                .any(|(_, v)| v.borrowed)
        };
        if !borrowed(&self.inner()) {
            return Ok(());
        }
        let mut inner = self.inner_mut();
        Self::split_at(&mut inner, start);
        Self::split_at(&mut inner, end);
        let space = self.space();
        self.copy_borrowed(
            &mut inner,
            start,
            end,
            &mut |a, n, prot, off| match &space {
                Some(s) => s.map(a, n, prot, off).map_err(super::platform_err),
                None => Ok(()),
            },
        )
    }

    /// Gives each borrowed VMA in `[start, end)` (split there already) a
    /// private copy of its file-cache pages, which `map` maps in their
    /// place (address, length, protection, memory-file offset).
    pub(super) fn copy_borrowed(
        &self,
        inner: &mut Inner,
        start: u64,
        end: u64,
        map: &mut dyn FnMut(u64, u64, i32, u64) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let keys: Vec<u64> = inner
            .vmas
            .range(start..end)
            .filter(|(_, v)| v.borrowed)
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let v = inner.vmas.get_mut(&k).unwrap();
            let n = v.end - v.start;
            let m = MemRange::new(&self.file, n)?;
            self.file.copy(v.file_off(v.start), m.off, n);
            v.mem = m;
            v.mem_off = 0;
            v.borrowed = false;
            map(v.start, n, v.prot, v.file_off(v.start))?;
        }
        Ok(())
    }

    /// Locks the MM for an access by the Sentry to `[addr, addr+len)`; for
    /// a write, pages there still shared copy-on-write are copied first.
    /// Unfilled pages of file mappings there are read in first (EFAULT
    /// past the end of the file).
    ///
    /// A missing page of a range registered to a userfaultfd is waited
    /// for first (`userfault.rs`), with the MM unlocked.
    pub(super) fn lock_for(&self, addr: u64, len: usize, write: bool) -> Result<Locked<'_>, Errno> {
        let start = page_round_down(addr);
        let end = page_round_up(addr.saturating_add(len as u64)).unwrap_or(u64::MAX);
        let g = loop {
            let g = self.inner();
            if (!write || g.runs.is_empty()) && g.unfilled.is_empty() {
                return Ok(Locked::Read(g));
            }
            let Some((page, ctx)) = Self::missing_in(&g, start, end) else {
                break g;
            };
            drop(g);
            Self::wait_missing(&ctx, page.max(addr), write)?;
        };
        let unfilled = Self::has_unfilled(&g, start, end);
        let shared = write
            && g.runs
                .range(..end)
                .rev()
                .take_while(|(_, r)| r.end > start)
                .any(|(k, r)| {
                    !r.writable && self.file.owners(r.off, r.end - k).iter().any(|o| o.2 > 1)
                });
        if !shared && !unfilled {
            return Ok(Locked::Read(g));
        }
        drop(g);
        let mut g = self.inner_mut();
        if unfilled {
            self.fill(&mut g, start, end)?;
        }
        if shared {
            self.unshare(&mut g, start, end, false)?;
        }
        Ok(Locked::Write(g))
    }

    /// Gives the run pages of `[start, end)` (page-aligned) one owner:
    /// shared ones are copied and the copy mapped in their place. With
    /// `for_app`, pages left with one owner are made writable on the host
    /// too (the application is about to store).
    fn unshare(&self, inner: &mut Inner, start: u64, end: u64, for_app: bool) -> Result<(), Errno> {
        super::cow::split_run(&mut inner.runs, start);
        super::cow::split_run(&mut inner.runs, end);
        let keys: Vec<u64> = inner.runs.range(start..end).map(|(k, _)| *k).collect();
        let space = self.space();
        for k in keys {
            let r = inner.runs[&k];
            let Some((_, v)) = Self::vma_at(inner, k) else {
                continue;
            };
            let prot = v.prot;
            let len = r.end - k;
            if self.file.owners(r.off, len).iter().any(|o| o.2 > 1) {
                let new = self.file.allocate_counted(len)?;
                self.file.copy(r.off, new, len);
                if let Some(s) = &space {
                    if let Err(e) = s.map(k, len, prot, new) {
                        self.file.release(new, len);
                        return Err(platform_err(e));
                    }
                }
                // Only now: the old pages may lose their last other owner
                // meanwhile, and must not be freed while mapped here.
                self.file.release(r.off, len);
                let writable = prot & libc::PROT_WRITE != 0;
                inner.runs.insert(
                    k,
                    Run {
                        end: r.end,
                        off: new,
                        writable,
                    },
                );
            } else if for_app && !r.writable && prot & libc::PROT_WRITE != 0 {
                inner.runs.get_mut(&k).unwrap().writable = true;
                if let Some(s) = &space {
                    s.protect(k, len, prot).map_err(platform_err)?;
                }
            }
        }
        Ok(())
    }

    /// Serves a fault of the application at `addr` (host signal `signo`
    /// with si_code `code`, instruction at `rip`): a touch of a file
    /// mapping's unfilled page (`lazy.rs`), or a store into a page shared
    /// copy-on-write. Anything else gets the signal as it came.
    pub fn fault(&self, signo: i32, addr: u64, code: i32, rip: u64) -> Fault {
        let unserved = Fault::Signal { signo, code };
        if signo != libc::SIGSEGV {
            return unserved;
        }
        let mut inner = self.inner_mut();
        if let Some(f) = self.fault_missing(&inner, addr) {
            return f;
        }
        if let Some(f) = self.fault_unfilled(&mut inner, addr) {
            return f;
        }
        if code == SEGV_ACCERR && self.cow_fault(&mut inner, addr, rip) {
            Fault::Served
        } else {
            unserved
        }
    }

    /// A store into a page shared copy-on-write: copies it (or makes it
    /// writable if it is this MM's alone). False when it is not one.
    fn cow_fault(&self, inner: &mut Inner, addr: u64, rip: u64) -> bool {
        let Some((_, v)) = Self::vma_at(inner, addr) else {
            return false;
        };
        if !private(v) || v.prot & libc::PROT_WRITE == 0 {
            return false;
        }
        let page = page_round_down(addr);
        if v.prot & libc::PROT_EXEC == 0
            && (page == page_round_down(rip) || page == page_round_down(rip.wrapping_add(15)))
        {
            // An instruction fetch from a page that may not run code.
            return false;
        }
        let Some((k, r)) = inner
            .runs
            .range(..=addr)
            .next_back()
            .filter(|(_, r)| r.end > addr)
            .map(|(k, r)| (*k, *r))
        else {
            return false;
        };
        if r.writable {
            // Another thread of this address space got here first.
            return true;
        }
        let alone = self.file.owners(r.off, r.end - k).iter().all(|o| o.2 == 1);
        let (s, e) = if alone {
            (k, r.end)
        } else {
            let base = page & !(CHUNK - 1);
            (base.max(k), base.saturating_add(CHUNK).min(r.end))
        };
        match self.unshare(inner, s, e, true) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!("copy-on-write fault at {addr:#x}: {e}");
                false
            }
        }
    }

    /// Removes the runs in `[start, end)`; this MM's ownership of their
    /// pages goes at the next [`MemoryManager::settle`], once the address
    /// space no longer maps them.
    pub(super) fn release_runs(&self, inner: &mut Inner, start: u64, end: u64) {
        if inner.runs.is_empty() {
            return;
        }
        split_run(&mut inner.runs, start);
        split_run(&mut inner.runs, end);
        let keys: Vec<u64> = inner.runs.range(start..end).map(|(k, _)| *k).collect();
        for k in keys {
            let r = inner.runs.remove(&k).unwrap();
            inner.released.push((r.off, r.end - k));
        }
    }

    /// Lets go of the pages [`MemoryManager::release_runs`] put aside: the
    /// operation that removed them has changed the address space.
    pub(super) fn settle(&self, inner: &mut Inner) {
        for (off, len) in std::mem::take(&mut inner.released) {
            self.file.release(off, len);
        }
    }

    /// Copies the application's bytes of `[addr, addr+len)` (mapped) to
    /// memory-file offset `dst`.
    pub(super) fn copy_content(&self, inner: &Inner, addr: u64, dst: u64, len: u64) {
        let end = addr + len;
        let mut pos = addr;
        while pos < end {
            let Some((_, v)) = Self::vma_at(inner, pos) else {
                return;
            };
            let (off, avail) = Self::locate(inner, v, pos);
            let n = avail.min(end - pos);
            self.file.copy(off, dst + (pos - addr), n);
            pos += n;
        }
    }

    /// How to map `[start, end)` of the private VMA `v`, which no run
    /// covers, onto its own range: (address, length, protection, offset)
    /// pieces. Where the range holds pages another process still owns (a
    /// heap regrown over pages a child shares) this MM gets fresh zero
    /// pages instead, as runs.
    pub(super) fn plan(
        &self,
        inner: &mut Inner,
        v: &Vma,
        start: u64,
        end: u64,
    ) -> Result<Vec<(u64, u64, i32, u64)>, Errno> {
        let base = v.file_off(start);
        let len = end - start;
        if !self.file.any_counted(base, len) {
            return Ok(vec![(start, len, v.prot, base)]);
        }
        let mut out = Vec::new();
        let mut pos = base;
        let mut fresh = |o: u64, l: u64, out: &mut Vec<_>| -> Result<(), Errno> {
            let a = start + (o - base);
            let new = self.file.allocate_counted(l)?;
            inner.runs.insert(
                a,
                Run {
                    end: a + l,
                    off: new,
                    writable: v.prot & libc::PROT_WRITE != 0,
                },
            );
            out.push((a, l, v.prot, new));
            Ok(())
        };
        for (o, l, _) in self.file.uncounted(base, len) {
            if o > pos {
                fresh(pos, o - pos, &mut out)?;
            }
            out.push((start + (o - base), l, v.prot, o));
            pos = o + l;
        }
        if pos < base + len {
            fresh(pos, base + len - pos, &mut out)?;
        }
        Ok(out)
    }

    /// MADV_DONTNEED over a range holding run pages.
    pub(super) fn dontneed_runs(
        &self,
        inner: &mut Inner,
        addr: u64,
        end: u64,
    ) -> Result<(), Errno> {
        let pieces: Vec<Vma> = inner
            .vmas
            .range(..end)
            .filter(|(_, v)| v.end > addr && private(v))
            .map(|(_, v)| v.slice(addr, end))
            .collect();
        let mut maps = Vec::new();
        for v in pieces {
            let keys: Vec<(u64, u64)> = {
                split_run(&mut inner.runs, v.start);
                split_run(&mut inner.runs, v.end);
                inner
                    .runs
                    .range(v.start..v.end)
                    .map(|(k, r)| (*k, r.end))
                    .collect()
            };
            self.release_runs(inner, v.start, v.end);
            self.file
                .punch_uncounted(v.file_off(v.start), v.end - v.start);
            for (s, e) in keys {
                maps.extend(self.plan(inner, &v, s, e)?);
            }
        }
        if let Some(s) = self.space() {
            s.map_ranges(&maps).map_err(platform_err)?;
        }
        self.settle(inner);
        Ok(())
    }

    /// A new MM for a forked child: private pages shared copy-on-write
    /// (write-protected in this address space before this returns), shared
    /// memory shared. The child maps it with [`MemoryManager::map_all`].
    ///
    /// Small writable VMAs are copied for the child at once instead (see
    /// [`EAGER_COPY`]) when nothing but the caller holds this MM: then no
    /// other thread can store into them while they are copied, so the
    /// child's copy is the state at the fork, as sharing would give.
    pub fn fork(self: &Arc<Self>) -> Result<Arc<MemoryManager>, Errno> {
        let sole_user = Arc::strong_count(self) == 1;
        let space = self.space();
        let mut inner = self.inner_mut();
        // The child's own ranges first: the only step that can fail, so a
        // failed fork leaves no owner counted.
        let mut bases: HashMap<usize, Arc<MemRange>> = HashMap::new();
        for v in inner.vmas.values().filter(|v| private(v)) {
            let key = Arc::as_ptr(&v.mem) as usize;
            if let std::collections::hash_map::Entry::Vacant(e) = bases.entry(key) {
                e.insert(MemRange::new(&self.file, v.mem.len)?);
            }
        }
        let heap = match &inner.heap {
            Some(h) => Some(match bases.get(&(Arc::as_ptr(h) as usize)) {
                Some(m) => m.clone(),
                None => MemRange::new(&self.file, h.len)?,
            }),
            None => None,
        };

        let mut protect: Vec<(u64, u64, i32)> = Vec::new();
        // VMAs copied for the child now: their bounds and the copies.
        let mut eager: Vec<(u64, u64, Vec<PageCopy>)> = Vec::new();
        let keys: Vec<u64> = inner
            .vmas
            .iter()
            .filter(|(_, v)| private(v))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let v = inner.vmas[&k].clone();
            let base = v.file_off(v.start);
            // Pages under runs are shared already: look for populated
            // pages only in the rest (a fork after a fork scans nothing).
            let mut fresh = Vec::new();
            for (gs, ge) in gaps(&inner.runs, v.start, v.end) {
                for (o, l) in self.file.populated(base + (gs - v.start), ge - gs) {
                    for (co, cl, _) in self.file.uncounted(o, l) {
                        fresh.push((v.start + (co - base), co, cl));
                    }
                }
            }
            if sole_user && v.prot & libc::PROT_WRITE != 0 {
                let child_base = bases[&(Arc::as_ptr(&v.mem) as usize)].off + v.mem_off;
                let to = |a: u64| child_base + (a - v.start);
                let mut copies: Vec<PageCopy> =
                    fresh.iter().map(|&(a, o, l)| (o, to(a), l)).collect();
                for (rk, r) in inner.runs.range(v.start..v.end) {
                    let l = r.end.min(v.end) - rk;
                    copies.push((r.off, to(*rk), l));
                }
                if copies.iter().map(|c| c.2).sum::<u64>() <= EAGER_COPY {
                    eager.push((v.start, v.end, copies));
                    continue;
                }
            }
            let mut was_writable = Vec::new();
            for (rk, r) in inner.runs.range_mut(v.start..v.end) {
                self.file.add_owner(r.off, r.end - rk);
                if r.writable {
                    was_writable.push((*rk, r.end - rk));
                }
                r.writable = false;
            }
            for &(a, o, l) in &fresh {
                self.file.add_owner(o, l);
                inner.runs.insert(
                    a,
                    Run {
                        end: a + l,
                        off: o,
                        writable: false,
                    },
                );
            }
            if v.prot & libc::PROT_WRITE != 0 {
                // Runs not writable on the host are read-only there already
                // (the invariant `Run::writable` keeps).
                let prot = v.prot & !libc::PROT_WRITE;
                let mut todo: Vec<(u64, u64)> = fresh.iter().map(|&(a, _, l)| (a, l)).collect();
                todo.extend(was_writable);
                todo.sort_unstable();
                for (a, l) in todo {
                    match protect.last_mut() {
                        Some(last) if last.0 + last.1 == a && last.2 == prot => last.1 += l,
                        _ => protect.push((a, l, prot)),
                    }
                }
            }
        }

        let mut vmas = BTreeMap::new();
        // One new attachment per attachment of the parent (Linux opens
        // each copied VMA), shared by the child's pieces of it.
        let mut attached: Vec<(Arc<dyn Attachment>, Arc<dyn Attachment>)> = Vec::new();
        for (k, v) in inner.vmas.iter() {
            let mut n = v.clone();
            if private(v) {
                n.mem = bases[&(Arc::as_ptr(&v.mem) as usize)].clone();
            }
            if let Some(a) = &v.attachment {
                let child = match attached.iter().find(|(p, _)| Arc::ptr_eq(p, a)) {
                    Some((_, c)) => c.clone(),
                    None => {
                        let c = a.fork();
                        attached.push((a.clone(), c.clone()));
                        c
                    }
                };
                n.attachment = Some(child);
            }
            vmas.insert(*k, n);
        }
        // The child's pages of eagerly copied VMAs are its own, not runs.
        let mut runs = inner.runs.clone();
        for (start, end, copies) in &eager {
            split_run(&mut runs, *start);
            split_run(&mut runs, *end);
            let inside: Vec<u64> = runs.range(*start..*end).map(|(k, _)| *k).collect();
            for k in inside {
                runs.remove(&k);
            }
            for &(from, to, len) in copies {
                self.file.copy(from, to, len);
            }
        }
        let child = Inner {
            vmas,
            brk_start: inner.brk_start,
            brk: inner.brk,
            heap,
            arg_start: inner.arg_start,
            arg_end: inner.arg_end,
            env_start: inner.env_start,
            env_end: inner.env_end,
            auxv: inner.auxv.clone(),
            exe: inner.exe.clone(),
            membarrier: inner.membarrier,
            runs,
            released: Vec::new(),
            unfilled: inner.unfilled.clone(),
        };
        let mut child = child;
        self.uffd_forget_all(&mut child);
        let child = Arc::new(MemoryManager {
            file: self.file.clone(),
            layout: self.layout,
            inner: RwLock::new(child),
            address_space: Mutex::new(None),
            aio: std::sync::OnceLock::new(),
            // The child reads the table's header it inherited.
            patch: Mutex::default(),
            hiwater: Default::default(),
            peak_sink: Mutex::new(None),
        });
        if let Some(s) = space {
            // Dropping `child` on failure gives its owners back.
            s.protect_ranges(&protect).map_err(platform_err)?;
        }
        Ok(child)
    }
}
