//! Resident set size: how much of an address space's memory is in the
//! memory file, now and at its peak (Linux's get_mm_rss and hiwater_rss).
//!
//! Pages become resident when the application touches them, in the host,
//! without the Sentry seeing it; they stop being resident only through
//! the Sentry (munmap, MADV_DONTNEED, a shrinking mremap or brk, the
//! address space's end). So, as Linux does, the peak is brought up to
//! date only where the resident size is about to fall, and a reader takes
//! the larger of it and the size now: the true peak either way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::cow::private;
use super::{Inner, MemoryManager, Vma, VmaKind};

impl MemoryManager {
    /// Bytes of `v` resident in the memory file, and its proportional
    /// share (a page shared by n processes counts 1/n), for /proc.
    pub fn usage(&self, v: &Vma) -> (u64, u64) {
        self.usage_in(&self.inner(), v)
    }

    fn usage_in(&self, inner: &Inner, v: &Vma) -> (u64, u64) {
        if v.kind == VmaKind::Vdso {
            return (v.end - v.start, v.end - v.start);
        }
        let mut rss = 0;
        let mut pss = 0;
        let mut pos = v.start;
        while pos < v.end {
            let (off, avail) = Self::locate(inner, v, pos);
            let n = avail.min(v.end - pos);
            let counted = private(v)
                && inner
                    .runs
                    .range(..=pos)
                    .next_back()
                    .is_some_and(|(_, r)| r.end > pos);
            if counted {
                for (o, l, c) in self.file.owners(off, n) {
                    let p: u64 = self.file.populated(o, l).iter().map(|x| x.1).sum();
                    rss += p;
                    pss += p / c as u64;
                }
            } else {
                let p: u64 = self.file.populated(off, n).iter().map(|x| x.1).sum();
                rss += p;
                pss += p;
            }
            pos += n;
        }
        (rss, pss)
    }

    /// Bytes resident in `[start, end)`.
    fn rss_between(&self, inner: &Inner, start: u64, end: u64) -> u64 {
        inner
            .vmas
            .range(..end)
            .filter(|(_, v)| v.end > start && v.kind != VmaKind::Vdso)
            .map(|(_, v)| {
                self.usage_in(inner, &v.slice(v.start.max(start), v.end.min(end)))
                    .0
            })
            .sum()
    }

    /// Bytes resident in the whole address space (the vDSO included, as
    /// /proc's VmRSS counts it).
    pub fn rss(&self) -> u64 {
        let inner = self.inner();
        inner
            .vmas
            .values()
            .map(|v| self.usage_in(&inner, v).0)
            .sum()
    }

    /// The peak resident size so far (VmHWM, ru_maxrss).
    pub fn hiwater_rss(&self) -> u64 {
        self.hiwater_with(self.rss())
    }

    /// [`MemoryManager::hiwater_rss`] for a caller that has just summed
    /// the resident size `now` itself.
    pub fn hiwater_with(&self, now: u64) -> u64 {
        self.hiwater.load(Ordering::Relaxed).max(now)
    }

    /// Called before `[start, end)` stops being resident: if any of it is,
    /// the size now may be a peak, so it is kept.
    pub(super) fn before_release(&self, inner: &Inner, start: u64, end: u64) {
        if self.rss_between(inner, start, end) == 0 {
            return;
        }
        let now: u64 = inner.vmas.values().map(|v| self.usage_in(inner, v).0).sum();
        self.hiwater.fetch_max(now, Ordering::Relaxed);
    }

    /// Where this address space's peak goes when it ends (Linux's
    /// signal->maxrss of the process that used it last: exec and exit).
    pub fn report_peak_to(&self, sink: Arc<AtomicU64>) {
        *self.peak_sink.lock().unwrap() = Some(sink);
    }

    /// The address space ends: its owner's record learns its peak.
    pub(super) fn report_peak(&self) {
        let Some(sink) = self.peak_sink.lock().unwrap().take() else {
            return;
        };
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let now: u64 = inner
            .vmas
            .values()
            .map(|v| self.usage_in(&inner, v).0)
            .sum();
        sink.fetch_max(
            self.hiwater.load(Ordering::Relaxed).max(now),
            Ordering::Relaxed,
        );
    }
}
