//! Futexes, keyed by memory-file offset.
//!
//! All application memory lives in the memory file, so the offset of a futex
//! word identifies it across address spaces: private and shared futexes use
//! the same key, and a MAP_SHARED word seen by two processes matches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::errno::Errno;
use crate::kernel::activity::WaitOn;
use crate::kernel::task::Task;
use crate::mm::MemoryManager;
use crate::waiter::Waiter;

pub(super) struct FutexWaiter {
    pub(super) waiter: Arc<Waiter>,
    /// Woken; a PI waiter (or a requeued one) is woken only as the new
    /// owner of its futex.
    pub(super) woken: AtomicBool,
    pub(super) bitset: u32,
    /// What PI futexes need of the waiter (`futex_pi.rs`); None for a
    /// plain FUTEX_WAIT.
    pub(super) pi: Option<PiWaiter>,
}

/// What a PI waiter brings: who it is and where, in its own memory, the
/// word of the PI futex it waits for (the requeue target for
/// FUTEX_WAIT_REQUEUE_PI), so the lock can be handed to it from any
/// process.
pub struct PiWaiter {
    pub(super) tid: u32,
    pub(super) mm: Arc<MemoryManager>,
    pub(super) pi_addr: u64,
    /// FUTEX_WAIT_REQUEUE_PI: the key it may be requeued to.
    pub(super) requeue_to: Option<u64>,
    /// Moved there by FUTEX_CMP_REQUEUE_PI: it now waits for the PI
    /// futex itself.
    pub(super) requeued: AtomicBool,
}

pub(super) type Waiters = HashMap<u64, Vec<Arc<FutexWaiter>>>;

/// The waiters by key, and the owner of each PI futex that has waiters
/// (Linux's pi_state), under one lock.
#[derive(Default)]
pub(super) struct Queues {
    pub(super) by_key: Waiters,
    pub(super) pi_owner: HashMap<u64, i32>,
}

#[derive(Default)]
pub struct Futexes {
    pub(super) queues: Mutex<Queues>,
}

impl Futexes {
    /// FUTEX_WAIT(_BITSET): sleeps if the word still holds `val`.
    pub fn wait(
        &self,
        t: &Task,
        addr: u64,
        val: u32,
        deadline: Option<Instant>,
        bitset: u32,
    ) -> Result<u64, Errno> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let key = t.mm.futex_key(addr)?;
        let me = Arc::new(FutexWaiter {
            waiter: t.handle.waiter.clone(),
            woken: AtomicBool::new(false),
            bitset,
            pi: None,
        });
        {
            let mut q = self.queues.lock().unwrap();
            // Checked under the queue lock so a wake between the check and
            // the sleep cannot be lost.
            let cur = t.mm.with_u32(addr, |w| w.load(Ordering::SeqCst))?;
            if cur != val {
                return Err(Errno::EAGAIN);
            }
            q.by_key.entry(key).or_default().push(me.clone());
        }
        t.handle.waiter.clear();
        let on = WaitOn::Futex { addr, key, bitset };
        let r = t.block_on(on, &[], deadline, &mut || me.woken.load(Ordering::SeqCst));
        if r.is_err() {
            let mut q = self.queues.lock().unwrap();
            for list in q.by_key.values_mut() {
                list.retain(|w| !Arc::ptr_eq(w, &me));
            }
            q.by_key.retain(|_, l| !l.is_empty());
            if me.woken.load(Ordering::SeqCst) {
                return Ok(0);
            }
        }
        r.map(|_| 0)
    }

    /// Wakes up to `n` waiters of `key` whose bitset meets `bitset`.
    pub(super) fn wake_key(q: &mut Waiters, key: u64, n: u32, bitset: u32) -> u32 {
        let mut woken = 0;
        if let Some(list) = q.get_mut(&key) {
            let mut i = 0;
            while i < list.len() && woken < n {
                if list[i].bitset & bitset != 0 {
                    let w = list.remove(i);
                    w.woken.store(true, Ordering::SeqCst);
                    w.waiter.notify();
                    woken += 1;
                } else {
                    i += 1;
                }
            }
            if list.is_empty() {
                q.remove(&key);
            }
        }
        woken
    }

    /// FUTEX_WAKE(_BITSET): wakes up to `n` waiters.
    pub fn wake(
        &self,
        t: &Task,
        addr: u64,
        n: u32,
        bitset: u32,
        _private: bool,
    ) -> Result<u64, Errno> {
        if bitset == 0 {
            return Err(Errno::EINVAL);
        }
        let key = t.mm.futex_key(addr)?;
        let mut q = self.queues.lock().unwrap();
        // A PI futex is woken only by FUTEX_UNLOCK_PI, a requeue-PI
        // waiter only by FUTEX_CMP_REQUEUE_PI.
        let pi_waiter = q
            .by_key
            .get(&key)
            .is_some_and(|l| l.iter().any(|w| w.pi.is_some()));
        if pi_waiter || q.pi_owner.contains_key(&key) {
            return Err(Errno::EINVAL);
        }
        Ok(Self::wake_key(&mut q.by_key, key, wake_count(n), bitset) as u64)
    }

    /// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE.
    pub fn requeue(
        &self,
        t: &Task,
        addr: u64,
        addr2: u64,
        nwake: u32,
        nrequeue: u32,
        cmp: Option<u32>,
    ) -> Result<u64, Errno> {
        let k1 = t.mm.futex_key(addr)?;
        let k2 = t.mm.futex_key(addr2)?;
        let mut q = self.queues.lock().unwrap();
        if let Some(v) = cmp {
            let cur = t.mm.with_u32(addr, |w| w.load(Ordering::SeqCst))?;
            if cur != v {
                return Err(Errno::EAGAIN);
            }
        }
        let q = &mut q.by_key;
        let woken = Self::wake_key(q, k1, nwake, u32::MAX);
        let mut moved = 0;
        if k1 != k2 {
            let mut take = Vec::new();
            if let Some(list) = q.get_mut(&k1) {
                while moved < nrequeue && !list.is_empty() {
                    take.push(list.remove(0));
                    moved += 1;
                }
                if list.is_empty() {
                    q.remove(&k1);
                }
            }
            q.entry(k2).or_default().extend(take);
        }
        Ok((woken + moved) as u64)
    }

    /// FUTEX_WAKE_OP.
    pub fn wake_op(
        &self,
        t: &Task,
        addr: u64,
        addr2: u64,
        n: u32,
        n2: u32,
        op: u32,
    ) -> Result<u64, Errno> {
        let k1 = t.mm.futex_key(addr)?;
        let k2 = t.mm.futex_key(addr2)?;
        let mut q = self.queues.lock().unwrap();
        let opcode = (op >> 28) & 7;
        let shift = (op >> 31) & 1 != 0;
        let cmp = (op >> 24) & 15;
        let mut oparg = (op >> 12) & 0xfff;
        let cmparg = op & 0xfff;
        if shift {
            if oparg > 31 {
                return Err(Errno::EINVAL);
            }
            oparg = 1 << oparg;
        }
        // Sign-extend the 12-bit arguments as Linux does.
        let oparg = ((oparg as i32) << 20 >> 20) as u32;
        let cmparg = ((cmparg as i32) << 20 >> 20) as u32;
        let old = t.mm.with_u32(addr2, |w: &AtomicU32| {
            let f = |v: u32| match opcode {
                0 => Some(oparg),
                1 => Some(v.wrapping_add(oparg)),
                2 => Some(v | oparg),
                3 => Some(v & !oparg),
                4 => Some(v ^ oparg),
                _ => None,
            };
            f(0)?;
            w.fetch_update(Ordering::SeqCst, Ordering::SeqCst, f).ok()
        })?;
        let old = old.ok_or(Errno::ENOSYS)?;
        let mut woken = Self::wake_key(&mut q.by_key, k1, wake_count(n), u32::MAX);
        let (o, c) = (old as i32, cmparg as i32);
        let hit = match cmp {
            0 => o == c,
            1 => o != c,
            2 => o < c,
            3 => o <= c,
            4 => o > c,
            5 => o >= c,
            _ => return Err(Errno::ENOSYS),
        };
        if hit {
            woken += Self::wake_key(&mut q.by_key, k2, wake_count(n2), u32::MAX);
        }
        Ok(woken as u64)
    }
}

/// How many waiters FUTEX_WAKE and FUTEX_WAKE_OP wake for the count the
/// application gave: Linux counts each waiter woken before comparing with
/// it as an int, so 0 and "negative" counts wake one.
fn wake_count(n: u32) -> u32 {
    if (n as i32) <= 0 {
        1
    } else {
        n
    }
}
