//! Private file mappings filled on first touch.
//!
//! A private mapping of a file the file cache does not hold (too big for
//! it, or in tmpfs) is not read when it is made: its pages are *unfilled*
//! (`Inner::unfilled`, by address), mapped with no access on the host, and
//! the first touch, a fault of the application or an access by the Sentry,
//! reads a window around it from the VMA's file into the VMA's own range
//! and opens the pages up. Mapping a 4 GiB file to read its header reads a
//! window, not the file. A page wholly past the end of the file stays
//! unfilled and its touch is SIGBUS (EFAULT for the Sentry), as on Linux;
//! should the file grow, a later touch reads the new bytes. Mappings of
//! cached files are filled at once from the cache (a memory copy, and no
//! fault to pay later), except their pages past the end of the file.
//!
//! Unfilled pages were never populated, so no run covers them and fork
//! shares none of them: the child copies the unfilled set and fills from
//! the file on its own. MADV_DONTNEED makes the pages of such a mapping
//! unfilled again, so they read the file again, as on Linux.

use std::collections::BTreeMap;

use super::{page_round_down, page_round_up, platform_err, Inner, MemoryManager, VmaKind};
use super::{Vma, PAGE_SIZE};
use crate::errno::Errno;

/// How much one touch fills: sequential readers fault once per window, each
/// fault a round trip through the Sentry plus a read of the file.
const WINDOW: u64 = 128 * PAGE_SIZE;

/// BUS_ADRERR: a touch of a file mapping past the end of its file
/// (`<asm-generic/siginfo.h>`).
pub(super) const BUS_ADRERR: i32 = 2;
/// SEGV_ACCERR (`<asm-generic/siginfo.h>`; not in the libc crate).
pub(super) const SEGV_ACCERR: i32 = 2;

/// What a fault of the application comes to.
pub enum Fault {
    /// The MM made the page accessible: run the instruction again.
    Served,
    /// A missing page of a range registered to this userfaultfd: the task
    /// waits for it ([`super::Userfault::wait_fault`]), then runs the
    /// instruction again.
    Missing(std::sync::Arc<super::Userfault>),
    /// The task gets this signal (and si_code) for the address.
    Signal { signo: i32, code: i32 },
}

/// Splits the unfilled range containing `at`, if any, so that `at` is a
/// boundary.
pub(super) fn split_unfilled(unfilled: &mut BTreeMap<u64, u64>, at: u64) {
    let hit = unfilled
        .range(..at)
        .next_back()
        .filter(|(_, e)| **e > at)
        .map(|(k, e)| (*k, *e));
    if let Some((k, e)) = hit {
        unfilled.insert(k, at);
        unfilled.insert(at, e);
    }
}

/// The unfilled parts of `[start, end)`.
pub(super) fn unfilled_in(unfilled: &BTreeMap<u64, u64>, start: u64, end: u64) -> Vec<(u64, u64)> {
    let first = unfilled
        .range(..=start)
        .next_back()
        .map(|(k, _)| *k)
        .unwrap_or(start);
    unfilled
        .range(first..end)
        .filter(|(_, e)| **e > start)
        .map(|(k, e)| ((*k).max(start), (*e).min(end)))
        .collect()
}

/// `[start, end)` cut at its unfilled parts: (address, length, unfilled).
pub(super) fn cut(unfilled: &BTreeMap<u64, u64>, start: u64, end: u64) -> Vec<(u64, u64, bool)> {
    let mut out = Vec::new();
    let mut pos = start;
    for (s, e) in unfilled_in(unfilled, start, end) {
        if s > pos {
            out.push((pos, s - pos, false));
        }
        out.push((s, e - s, true));
        pos = e;
    }
    if pos < end {
        out.push((pos, end - pos, false));
    }
    out
}

/// Forgets the unfilled pages of `[start, end)`.
pub(super) fn clear_unfilled(unfilled: &mut BTreeMap<u64, u64>, start: u64, end: u64) {
    split_unfilled(unfilled, start);
    split_unfilled(unfilled, end);
    let keys: Vec<u64> = unfilled.range(start..end).map(|(k, _)| *k).collect();
    for k in keys {
        unfilled.remove(&k);
    }
}

pub(super) fn mark_unfilled(unfilled: &mut BTreeMap<u64, u64>, start: u64, end: u64) {
    clear_unfilled(unfilled, start, end);
    unfilled.insert(start, end);
}

/// The file offset `addr` of the file mapping `v` reads from.
fn file_offset(v: &Vma, addr: u64) -> u64 {
    match &v.kind {
        VmaKind::File { offset, .. } => offset + (addr - v.start),
        _ => addr - v.start,
    }
}

impl MemoryManager {
    /// Whether some page of `[start, end)` is unfilled.
    pub(super) fn has_unfilled(inner: &Inner, start: u64, end: u64) -> bool {
        inner
            .unfilled
            .range(..end)
            .next_back()
            .is_some_and(|(_, e)| *e > start)
    }

    /// Marks `[start, end)` of the private file mapping `v` unfilled (the
    /// caller maps it with no access on the host), where the VMA's own
    /// pages are its alone: pages a forked child still owns stay as they
    /// are, since filling writes the VMA's own range.
    pub(super) fn make_unfilled(&self, inner: &mut Inner, v: &Vma, start: u64, end: u64) -> bool {
        if v.source.is_none() || self.file.any_counted(v.file_off(start), end - start) {
            return false;
        }
        mark_unfilled(&mut inner.unfilled, start, end);
        true
    }

    /// Fills the unfilled pages of `[start, end)` and the window around
    /// them from their files. EFAULT when a page of `[start, end)` is
    /// still unfilled afterwards (past the end of its file), or the error
    /// reading it.
    pub(super) fn fill(&self, inner: &mut Inner, start: u64, end: u64) -> Result<(), Errno> {
        let ws = start & !(WINDOW - 1);
        let we = end.saturating_add(WINDOW - 1) & !(WINDOW - 1);
        let space = self.space();
        let mut failed = None;
        for (s, e) in unfilled_in(&inner.unfilled, ws, we) {
            let Some((_, v)) = Self::vma_at(inner, s) else {
                continue;
            };
            let e = e.min(v.end);
            let Some(src) = v.source.clone() else {
                continue;
            };
            let (prot, off, at) = (v.prot, v.file_off(s), file_offset(v, s));
            let len = (e - s) as usize;
            // SAFETY: `off..off+len` is this VMA's own range in the mapped
            // memory file (unfilled pages have no run over them). No one
            // else reads or writes it meanwhile: the application's host
            // mapping of it has no access, and the Sentry reaches it only
            // under the MM's lock, which the caller holds for writing.
            let buf = unsafe { std::slice::from_raw_parts_mut(self.file.ptr(off), len) };
            let mut got = 0;
            while got < len {
                match src.read_for_mapping(&mut buf[got..], at + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(Errno::EINTR) => continue,
                    Err(err) => {
                        failed = Some(err);
                        break;
                    }
                }
            }
            let filled = page_round_up(s + got as u64).unwrap_or(e).min(e);
            if filled > s {
                clear_unfilled(&mut inner.unfilled, s, filled);
                if let Some(sp) = &space {
                    sp.protect(s, filled - s, prot).map_err(platform_err)?;
                }
            }
        }
        if Self::has_unfilled(inner, start, end) {
            return Err(failed.unwrap_or(Errno::EFAULT));
        }
        Ok(())
    }

    /// Serves a fault of the application at `addr` if it touched an
    /// unfilled page; None if it did not.
    pub(super) fn fault_unfilled(&self, inner: &mut Inner, addr: u64) -> Option<Fault> {
        let page = page_round_down(addr);
        if !Self::has_unfilled(inner, page, page + PAGE_SIZE) {
            return None;
        }
        let prot = Self::vma_at(inner, addr).map_or(libc::PROT_NONE, |(_, v)| v.prot);
        if prot == libc::PROT_NONE {
            return Some(Fault::Signal {
                signo: libc::SIGSEGV,
                code: SEGV_ACCERR,
            });
        }
        Some(match self.fill(inner, page, page + PAGE_SIZE) {
            Ok(()) => Fault::Served,
            Err(e) => {
                if e != Errno::EFAULT {
                    tracing::warn!("filling a file mapping at {addr:#x}: {e}");
                }
                Fault::Signal {
                    signo: libc::SIGBUS,
                    code: BUS_ADRERR,
                }
            }
        })
    }

    /// Reads in every unfilled page of `[addr, addr+len)` that the file
    /// has (MAP_POPULATE, MAP_LOCKED); pages past its end stay unfilled.
    pub fn populate(&self, addr: u64, len: u64) {
        let end = addr.saturating_add(len);
        let mut inner = self.inner_mut();
        if Self::has_unfilled(&inner, addr, end) {
            let _ = self.fill(&mut inner, addr, end);
        }
    }
}
