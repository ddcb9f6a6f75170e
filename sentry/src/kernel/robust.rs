//! Robust futex lists (set_robust_list(2)): at a thread's exit or exec
//! the kernel marks each futex the thread still holds as its owner's death
//! (FUTEX_OWNER_DIED) and wakes a waiter, so a robust mutex whose owner
//! died is taken by the next locker with EOWNERDEAD instead of hanging it
//! (Linux's exit_robust_list and handle_futex_death).

use std::sync::atomic::Ordering;

use crate::kernel::task::Task;

/// Linux's ROBUST_LIST_LIMIT: a list longer than this (or a loop) is
/// walked no further.
const LIST_LIMIT: usize = 2048;
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;

impl Task {
    /// Walks the thread's robust list, once: the application's own
    /// memory, so every read may fail, and then the walk stops.
    pub(super) fn release_robust_list(&mut self) {
        let head = std::mem::take(&mut self.robust_list);
        if head == 0 {
            return;
        }
        // struct robust_list_head { next; long futex_offset; pending; }
        let word = |t: &Task, at: u64| -> Option<u64> {
            let mut b = [0u8; 8];
            t.mm.read(at, &mut b).ok()?;
            Some(u64::from_ne_bytes(b))
        };
        let (Some(mut entry), Some(offset), Some(pending)) = (
            word(self, head),
            word(self, head.wrapping_add(8)),
            word(self, head.wrapping_add(16)),
        ) else {
            return;
        };
        let offset = offset as i64;
        // The low bit of each pointer marks a PI futex.
        let pending_pi = pending & 1 != 0;
        let pending = pending & !1;
        for _ in 0..LIST_LIMIT {
            let e = entry & !1;
            if e == head {
                break;
            }
            let Some(next) = word(self, e) else {
                return;
            };
            if e != pending {
                self.futex_owner_died(e.wrapping_add_signed(offset), entry & 1 != 0);
            }
            entry = next;
        }
        if pending != 0 {
            self.futex_owner_died(pending.wrapping_add_signed(offset), pending_pi);
        }
    }

    /// The futex word at `addr` held by this thread: marked
    /// FUTEX_OWNER_DIED (keeping FUTEX_WAITERS), and one waiter woken
    /// unless it is a PI futex.
    fn futex_owner_died(&self, addr: u64, pi: bool) {
        let tid = self.vpid(self.tid) as u32;
        let had_waiters = self.mm.with_u32(addr, |w| {
            w.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                (v & FUTEX_TID_MASK == tid).then_some((v & FUTEX_WAITERS) | FUTEX_OWNER_DIED)
            })
            .map(|old| old & FUTEX_WAITERS != 0)
        });
        if let Ok(Ok(true)) = had_waiters {
            if !pi {
                let _ = self.kernel.futexes.wake(self, addr, 1, u32::MAX, false);
            }
        }
    }
}
