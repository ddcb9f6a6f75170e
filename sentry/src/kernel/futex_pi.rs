//! Priority-inheritance futexes (FUTEX_LOCK_PI, LOCK_PI2, TRYLOCK_PI,
//! UNLOCK_PI, WAIT_REQUEUE_PI, CMP_REQUEUE_PI) with Linux's protocol on
//! the futex word: the owner's tid, FUTEX_WAITERS while someone waits in
//! the kernel, FUTEX_OWNER_DIED once an owner died holding it.
//!
//! The Sentry has no priorities to lend, so what is left of priority
//! inheritance is the ownership protocol: the kernel hands the lock to the
//! first waiter on unlock (the word then names it, with FUTEX_WAITERS), and
//! to the first waiter when its owner exits (Linux's exit_pi_state_list).
//! While a PI futex has waiters the kernel records its owner (Linux's
//! pi_state, here `Queues::pi_owner`) and checks the word against it.
//! Waiters are served in arrival order.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::errno::Errno;
use crate::kernel::activity::WaitOn;
use crate::kernel::futex::{FutexWaiter, Futexes, PiWaiter, Queues};
use crate::kernel::task::Task;
use crate::mm::MemoryManager;

const WAITERS: u32 = libc::FUTEX_WAITERS;
const OWNER_DIED: u32 = libc::FUTEX_OWNER_DIED;
const TID_MASK: u32 = libc::FUTEX_TID_MASK;

impl PiWaiter {
    /// Whether it waits for the PI futex (not, or no longer, for a
    /// requeue).
    fn waits_for_lock(&self) -> bool {
        self.requeue_to.is_none() || self.requeued.load(Ordering::SeqCst)
    }
}

/// Changes the word at `addr` by `f` (None: leave it): the old value, or
/// the value that made `f` refuse.
fn update(
    mm: &MemoryManager,
    addr: u64,
    mut f: impl FnMut(u32) -> Option<u32>,
) -> Result<Result<u32, u32>, Errno> {
    mm.with_u32(addr, |w: &AtomicU32| {
        w.fetch_update(Ordering::SeqCst, Ordering::SeqCst, &mut f)
    })
}

/// What an attempt to take a PI futex for `tid` found.
enum Attempt {
    Taken,
    /// Owned by another thread, FUTEX_WAITERS now set: wait for it.
    Owned(u32),
}

impl Queues {
    fn has_waiters(&self, key: u64) -> bool {
        self.by_key.get(&key).is_some_and(|l| !l.is_empty())
    }

    /// Linux's futex_lock_pi_atomic: take the word at `addr` for `tid` if
    /// it names no owner (keeping FUTEX_OWNER_DIED, adding FUTEX_WAITERS
    /// when others wait), else mark it contended. EDEADLK if `tid` owns
    /// it; ESRCH if its owner does not exist; EINVAL if it disagrees with
    /// the owner the kernel recorded.
    fn try_take(
        &mut self,
        t: &Task,
        mm: &MemoryManager,
        addr: u64,
        key: u64,
        tid: u32,
    ) -> Result<Attempt, Errno> {
        loop {
            let v = mm.with_u32(addr, |w| w.load(Ordering::SeqCst))?;
            let owner = v & TID_MASK;
            if owner == 0 {
                let waiters = if self.has_waiters(key) { WAITERS } else { 0 };
                let new = (v & OWNER_DIED) | waiters | tid;
                if update(mm, addr, |cur| (cur == v).then_some(new))?.is_ok() {
                    if waiters != 0 {
                        self.pi_owner.insert(key, tid as i32);
                    }
                    return Ok(Attempt::Taken);
                }
                continue;
            }
            if owner == tid {
                return Err(Errno::EDEADLK);
            }
            match self.pi_owner.get(&key) {
                Some(&o) if o as u32 != owner => return Err(Errno::EINVAL),
                Some(_) => {}
                None => {
                    if t.task_by_vpid(owner as i32).is_none() {
                        // Gone, unless the word changed meanwhile.
                        if mm.with_u32(addr, |w| w.load(Ordering::SeqCst))? != v {
                            continue;
                        }
                        return Err(Errno::ESRCH);
                    }
                }
            }
            if v & WAITERS == 0
                && update(mm, addr, |cur| (cur == v).then_some(v | WAITERS))?.is_err()
            {
                continue;
            }
            return Ok(Attempt::Owned(owner));
        }
    }

    /// Hands the PI futex `key` to its first waiter: the word becomes the
    /// waiter's tid with FUTEX_WAITERS (and FUTEX_OWNER_DIED if `died`
    /// and the word had it). False if nobody waits.
    fn hand_over(&mut self, key: u64, keep_owner_died: bool) -> bool {
        let Some(list) = self.by_key.get_mut(&key) else {
            return false;
        };
        let Some(i) = list
            .iter()
            .position(|w| w.pi.as_ref().is_some_and(PiWaiter::waits_for_lock))
        else {
            return false;
        };
        let next = list.remove(i);
        let left = !list.is_empty();
        if !left {
            self.by_key.remove(&key);
        }
        let p = next.pi.as_ref().expect("a PI waiter");
        let died = if keep_owner_died { OWNER_DIED } else { 0 };
        let _ = update(&p.mm, p.pi_addr, |v| Some((v & died) | WAITERS | p.tid));
        if left {
            self.pi_owner.insert(key, p.tid as i32);
        } else {
            self.pi_owner.remove(&key);
        }
        next.woken.store(true, Ordering::SeqCst);
        next.waiter.notify();
        true
    }
}

impl Futexes {
    /// FUTEX_LOCK_PI / LOCK_PI2 (`deadline` absolute) and TRYLOCK_PI
    /// (`deadline` ignored, EAGAIN when owned).
    pub fn lock_pi(
        &self,
        t: &Task,
        addr: u64,
        deadline: Option<Instant>,
        try_only: bool,
    ) -> Result<u64, Errno> {
        let key = t.mm.futex_key(addr)?;
        let tid = t.vpid(t.tid) as u32;
        let me = {
            let mut q = self.queues.lock().unwrap();
            let owner = match q.try_take(t, &t.mm, addr, key, tid)? {
                Attempt::Taken => return Ok(0),
                Attempt::Owned(o) => o,
            };
            if try_only {
                return Err(Errno::EAGAIN);
            }
            q.pi_owner.insert(key, owner as i32);
            let me = self.pi_waiter(t, addr, None);
            q.by_key.entry(key).or_default().push(me.clone());
            me
        };
        match self.sleep(t, &me, addr, key, deadline) {
            Err(e) if e == Errno::ERESTARTSYS => Err(Errno::ERESTARTNOINTR),
            r => r,
        }
    }

    fn pi_waiter(&self, t: &Task, pi_addr: u64, requeue_to: Option<u64>) -> Arc<FutexWaiter> {
        Arc::new(FutexWaiter {
            waiter: t.handle.waiter.clone(),
            woken: Default::default(),
            bitset: u32::MAX,
            pi: Some(PiWaiter {
                tid: t.vpid(t.tid) as u32,
                mm: t.mm.clone(),
                pi_addr,
                requeue_to,
                requeued: AtomicBool::new(false),
            }),
        })
    }

    /// Sleeps until `me` is woken; a waiter that gives up leaves its queue
    /// (wherever a requeue moved it) unless the lock reached it first.
    fn sleep(
        &self,
        t: &Task,
        me: &Arc<FutexWaiter>,
        addr: u64,
        key: u64,
        deadline: Option<Instant>,
    ) -> Result<u64, Errno> {
        t.handle.waiter.clear();
        let on = WaitOn::Futex {
            addr,
            key,
            bitset: u32::MAX,
        };
        let r = t.block_on(on, &[], deadline, &mut || me.woken.load(Ordering::SeqCst));
        if r.is_ok() {
            return Ok(0);
        }
        let mut q = self.queues.lock().unwrap();
        if me.woken.load(Ordering::SeqCst) {
            return Ok(0);
        }
        let mut emptied = Vec::new();
        for (k, list) in q.by_key.iter_mut() {
            list.retain(|w| !Arc::ptr_eq(w, me));
            if list.is_empty() {
                emptied.push(*k);
            }
        }
        for k in emptied {
            q.by_key.remove(&k);
            q.pi_owner.remove(&k);
        }
        r.map(|_| 0)
    }

    /// FUTEX_UNLOCK_PI: EPERM unless the caller owns the word; the lock
    /// goes to the first waiter, or the word to 0.
    pub fn unlock_pi(&self, t: &Task, addr: u64) -> Result<u64, Errno> {
        let key = t.mm.futex_key(addr)?;
        let tid = t.vpid(t.tid) as u32;
        let mut q = self.queues.lock().unwrap();
        let v = t.mm.with_u32(addr, |w| w.load(Ordering::SeqCst))?;
        if v & TID_MASK != tid {
            return Err(Errno::EPERM);
        }
        if q.hand_over(key, false) {
            return Ok(0);
        }
        q.pi_owner.remove(&key);
        update(&t.mm, addr, |cur| (cur & TID_MASK == tid).then_some(0))?
            .map_err(|_| Errno::EPERM)?;
        Ok(0)
    }

    /// A thread that exits (or execs) still owning PI futexes others wait
    /// for hands each to its first waiter, keeping FUTEX_OWNER_DIED where
    /// the robust list set it (Linux's exit_pi_state_list).
    pub fn pi_owner_exited(&self, tid: i32) {
        let mut q = self.queues.lock().unwrap();
        let keys: Vec<u64> = q
            .pi_owner
            .iter()
            .filter(|(_, o)| **o == tid)
            .map(|(k, _)| *k)
            .collect();
        for key in keys {
            if !q.hand_over(key, true) {
                q.pi_owner.remove(&key);
            }
        }
    }

    /// FUTEX_WAIT_REQUEUE_PI: waits on the plain futex `addr` until
    /// FUTEX_CMP_REQUEUE_PI hands it the PI futex `addr2` (0), or moves it
    /// there to wait for it. A plain wake-up is EAGAIN.
    pub fn wait_requeue_pi(
        &self,
        t: &Task,
        addr: u64,
        val: u32,
        deadline: Option<Instant>,
        addr2: u64,
    ) -> Result<u64, Errno> {
        let key = t.mm.futex_key(addr)?;
        let key2 = t.mm.futex_key(addr2)?;
        if key == key2 {
            return Err(Errno::EINVAL);
        }
        let me = self.pi_waiter(t, addr2, Some(key2));
        {
            let mut q = self.queues.lock().unwrap();
            if t.mm.with_u32(addr, |w| w.load(Ordering::SeqCst))? != val {
                return Err(Errno::EAGAIN);
            }
            q.by_key.entry(key).or_default().push(me.clone());
        }
        let r = self.sleep(t, &me, addr, key, deadline);
        if r.is_ok() {
            // Woken as the PI futex's owner, or by a plain wake-up.
            let owner = t.mm.with_u32(addr2, |w| w.load(Ordering::SeqCst))? & TID_MASK;
            return if owner == t.vpid(t.tid) as u32 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        match r {
            Err(e) if e == Errno::ERESTARTSYS => Err(Errno::ERESTARTNOINTR),
            r => r,
        }
    }

    /// FUTEX_CMP_REQUEUE_PI: the first waiter of `addr` takes the PI futex
    /// `addr2` if it is free (woken as its owner), and up to `nrequeue`
    /// more wait for it there. Every waiter must have come through
    /// FUTEX_WAIT_REQUEUE_PI naming `addr2` (else EINVAL).
    pub fn cmp_requeue_pi(
        &self,
        t: &Task,
        addr: u64,
        addr2: u64,
        nwake: u32,
        nrequeue: u32,
        cmp: u32,
    ) -> Result<u64, Errno> {
        if (nrequeue as i32) < 0 || addr == addr2 || nwake != 1 {
            return Err(Errno::EINVAL);
        }
        let k1 = t.mm.futex_key(addr)?;
        let k2 = t.mm.futex_key(addr2)?;
        if k1 == k2 {
            return Err(Errno::EINVAL);
        }
        let mut q = self.queues.lock().unwrap();
        if t.mm.with_u32(addr, |w| w.load(Ordering::SeqCst))? != cmp {
            return Err(Errno::EAGAIN);
        }
        let waiting: Vec<Arc<FutexWaiter>> = q.by_key.get(&k1).cloned().unwrap_or_default();
        if waiting
            .iter()
            .any(|w| w.pi.as_ref().and_then(|p| p.requeue_to) != Some(k2))
        {
            return Err(Errno::EINVAL);
        }
        let mut done = 0u64;
        let mut rest = waiting.into_iter();
        let mut moved = Vec::new();
        if let Some(first) = rest.next() {
            let p = first.pi.as_ref().expect("a PI waiter");
            match q.try_take(t, &t.mm, addr2, k2, p.tid)? {
                Attempt::Taken => {
                    first.woken.store(true, Ordering::SeqCst);
                    first.waiter.notify();
                    moved.push(first);
                    done += 1;
                }
                Attempt::Owned(o) => {
                    q.pi_owner.insert(k2, o as i32);
                    rest = std::iter::once(first)
                        .chain(rest)
                        .collect::<Vec<_>>()
                        .into_iter();
                }
            }
        }
        let mut requeued = Vec::new();
        for w in rest.take(nrequeue as usize) {
            if let std::collections::hash_map::Entry::Vacant(e) = q.pi_owner.entry(k2) {
                let owner = t.mm.with_u32(addr2, |v| v.load(Ordering::SeqCst))? & TID_MASK;
                e.insert(owner as i32);
                let _ = update(&t.mm, addr2, |v| Some(v | WAITERS));
            }
            requeued.push(w);
            done += 1;
        }
        let list = q.by_key.entry(k1).or_default();
        list.retain(|w| !moved.iter().chain(&requeued).any(|m| Arc::ptr_eq(m, w)));
        if list.is_empty() {
            q.by_key.remove(&k1);
        }
        for w in requeued {
            if let Some(p) = &w.pi {
                p.requeued.store(true, Ordering::SeqCst);
            }
            q.by_key.entry(k2).or_default().push(w);
        }
        Ok(done)
    }
}
