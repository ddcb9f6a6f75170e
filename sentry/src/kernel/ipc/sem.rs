//! SysV semaphore sets of one IPC namespace (Linux's ipc/sem.c): semget,
//! semop's all-or-nothing operations with SEM_UNDO, semctl.
//!
//! The state machine only: semop tries its operations here and, when one
//! would block, the syscall handler sleeps on the set's queue and tries
//! again; every change to a set wakes its queue. Undo adjustments are kept
//! per process and applied when it exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::ids::{Ids, IpcObject, Lookup, Perm, Who};
use crate::errno::Errno;
use crate::usermem::{zeroed, Pod};
use crate::vfs::Time;
use crate::waiter::WaitQueue;

/// Linux's limits (include/uapi/linux/sem.h), as /proc/sys/kernel/sem
/// shows them.
pub const SEMMSL: i32 = 32000;
pub const SEMMNI: i32 = 32000;
pub const SEMMNS: i32 = SEMMNI * SEMMSL;
pub const SEMOPM: i32 = 500;
pub const SEMVMX: i32 = 32767;
const SEMAEM: i32 = SEMVMX;
const SEMUSZ: i32 = 20;

/// One `struct sembuf`.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct SemBuf {
    pub num: u16,
    pub op: i16,
    pub flags: i16,
}

// SAFETY: plain integers, any bit pattern is valid.
unsafe impl Pod for SemBuf {}

/// `struct seminfo`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct SemInfo {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}

// SAFETY: plain integers, any bit pattern is valid.
unsafe impl Pod for SemInfo {}

#[derive(Clone, Copy, Default)]
struct Sem {
    val: i32,
    /// The last process to change it (GETPID).
    pid: i32,
    /// Tasks waiting for it to grow (GETNCNT) or reach zero (GETZCNT).
    ncnt: u32,
    zcnt: u32,
}

struct SemSet {
    perm: Perm,
    sems: Vec<Sem>,
    otime: i64,
    ctime: i64,
    /// Woken by every change of the set, and by its removal.
    queue: Arc<WaitQueue>,
}

impl IpcObject for SemSet {
    fn perm(&self) -> &Perm {
        &self.perm
    }
}

impl SemSet {
    fn stat(&self) -> libc::semid_ds {
        let mut ds: libc::semid_ds = zeroed();
        ds.sem_perm = self.perm.to_ipc_perm();
        ds.sem_otime = self.otime;
        ds.sem_ctime = self.ctime;
        ds.sem_nsems = self.sems.len() as u64;
        ds
    }
}

#[derive(Default)]
struct State {
    sets: Ids<SemSet>,
    /// Undo adjustments: by process, then set, one per semaphore.
    undo: HashMap<i32, HashMap<i32, Vec<i32>>>,
}

impl State {
    /// Forgets every process's adjustment of semaphores `nums` of set
    /// `id` (SETVAL, SETALL), or of the whole set (`None`: IPC_RMID).
    fn clear_undo(&mut self, id: i32, nums: Option<usize>) {
        for sets in self.undo.values_mut() {
            match nums {
                Some(n) => {
                    if let Some(adj) = sets.get_mut(&id).and_then(|a| a.get_mut(n)) {
                        *adj = 0;
                    }
                }
                None => {
                    sets.remove(&id);
                }
            }
        }
    }
}

/// What one try of semop's operations came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done, all of them.
    Done,
    /// One would block; the caller sleeps on the set's queue (having told
    /// [`Semaphores::waiting`]) and tries again.
    Blocked,
}

pub use super::ids::StatBy;

/// What GETVAL, GETPID, GETNCNT and GETZCNT read.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    Val,
    Pid,
    NCnt,
    ZCnt,
}

fn now() -> i64 {
    Time::now().sec
}

/// The semaphore sets of one IPC namespace.
#[derive(Default)]
pub struct Semaphores {
    state: Mutex<State>,
}

impl Semaphores {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// semget(2).
    pub fn get(&self, who: &Who, key: i32, nsems: i32, flags: i32) -> Result<i32, Errno> {
        if !(0..=SEMMSL).contains(&nsems) {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        if let Lookup::Existing(id, s) = st.sets.lookup(key, flags)? {
            if !s.perm.allows(who, flags) {
                return Err(Errno::EACCES);
            }
            if nsems as usize > s.sems.len() {
                return Err(Errno::EINVAL);
            }
            return Ok(id);
        }
        if nsems == 0 {
            return Err(Errno::EINVAL);
        }
        let total: usize = st.sets.iter().map(|(_, s)| s.sems.len()).sum();
        if total + nsems as usize > SEMMNS as usize {
            return Err(Errno::ENOSPC);
        }
        st.sets.add(SEMMNI as u32, |_, seq| SemSet {
            perm: Perm {
                key,
                uid: who.euid,
                gid: who.egid,
                cuid: who.euid,
                cgid: who.egid,
                mode: (flags & 0o777) as u32,
                seq,
            },
            sems: vec![Sem::default(); nsems as usize],
            otime: 0,
            ctime: now(),
            queue: Arc::new(WaitQueue::new()),
        })
    }

    /// The checks semop makes before its first try (EINVAL, EFBIG,
    /// EACCES), and the set's queue to sleep on.
    pub fn prepare(&self, who: &Who, id: i32, ops: &[SemBuf]) -> Result<Arc<WaitQueue>, Errno> {
        let st = self.lock();
        let s = st.sets.get(id)?;
        if ops.iter().any(|o| usize::from(o.num) >= s.sems.len()) {
            return Err(Errno::EFBIG);
        }
        let alter = ops.iter().any(|o| o.op != 0);
        if !s.perm.allows(who, if alter { 0o222 } else { 0o444 }) {
            return Err(Errno::EACCES);
        }
        Ok(s.queue.clone())
    }

    /// One try of semop's operations, all or none: ERANGE past SEMVMX or
    /// the undo bounds, EAGAIN when one would block under IPC_NOWAIT,
    /// EIDRM when the set went while the caller slept.
    pub fn try_ops(&self, who: &Who, id: i32, ops: &[SemBuf]) -> Result<Outcome, Errno> {
        let mut st = self.lock();
        let st = &mut *st;
        let s = st.sets.get_mut(id).map_err(|_| Errno::EIDRM)?;
        let undo = st.undo.entry(who.tgid).or_default();
        let mut vals: Vec<i32> = s.sems.iter().map(|x| x.val).collect();
        let mut adj = undo
            .get(&id)
            .cloned()
            .unwrap_or_else(|| vec![0; s.sems.len()]);
        for o in ops {
            let n = usize::from(o.num);
            let cur = vals[n];
            let op = i32::from(o.op);
            let blocks = if op == 0 { cur != 0 } else { cur + op < 0 };
            if blocks {
                return if i32::from(o.flags) & libc::IPC_NOWAIT != 0 {
                    Err(Errno::EAGAIN)
                } else {
                    Ok(Outcome::Blocked)
                };
            }
            if cur + op > SEMVMX {
                return Err(Errno::ERANGE);
            }
            if i32::from(o.flags) & libc::SEM_UNDO != 0 {
                let a = adj[n] - op;
                if !(-SEMAEM - 1..=SEMAEM).contains(&a) {
                    return Err(Errno::ERANGE);
                }
                adj[n] = a;
            }
            vals[n] = cur + op;
        }
        for o in ops {
            s.sems[usize::from(o.num)].pid = who.tgid;
        }
        for (sem, v) in s.sems.iter_mut().zip(vals) {
            sem.val = v;
        }
        if ops.iter().any(|o| i32::from(o.flags) & libc::SEM_UNDO != 0) {
            undo.insert(id, adj);
        }
        s.otime = now();
        s.queue.notify_all();
        Ok(Outcome::Done)
    }

    /// Counts (`by` 1) or uncounts (-1) a sleeper on the first operation
    /// that blocks, for GETNCNT and GETZCNT.
    pub fn waiting(&self, id: i32, ops: &[SemBuf], by: i32) {
        let mut st = self.lock();
        let Ok(s) = st.sets.get_mut(id) else {
            return;
        };
        let blocking = ops.iter().find(|o| {
            let cur = s.sems[usize::from(o.num)].val;
            let op = i32::from(o.op);
            if op == 0 {
                cur != 0
            } else {
                cur + op < 0
            }
        });
        if let Some(o) = blocking.or(ops.first()) {
            let sem = &mut s.sems[usize::from(o.num)];
            let c = if o.op == 0 {
                &mut sem.zcnt
            } else {
                &mut sem.ncnt
            };
            *c = c.saturating_add_signed(by);
        }
    }

    /// IPC_STAT, SEM_STAT, SEM_STAT_ANY: the set's description, and
    /// semctl's result (0, or the identifier for the index forms).
    pub fn stat(&self, who: &Who, id: i32, by: StatBy) -> Result<(i32, libc::semid_ds), Errno> {
        let st = self.lock();
        let (r, s) = st.sets.for_stat(who, id, by)?;
        Ok((r, s.stat()))
    }

    /// IPC_SET: owner and permission bits.
    pub fn set(&self, who: &Who, id: i32, perm: &libc::ipc_perm) -> Result<(), Errno> {
        let mut st = self.lock();
        let s = st.sets.get_mut(id)?;
        s.perm.ipc_set(who, perm, || Ok(()))?;
        s.ctime = now();
        Ok(())
    }

    /// IPC_RMID: the set goes at once; its sleepers wake to EIDRM.
    pub fn remove(&self, who: &Who, id: i32) -> Result<(), Errno> {
        let mut st = self.lock();
        if !st.sets.get(id)?.perm.may_change(who) {
            return Err(Errno::EPERM);
        }
        let s = st.sets.remove(id).ok_or(Errno::EINVAL)?;
        st.clear_undo(id, None);
        drop(st);
        s.queue.notify_all();
        Ok(())
    }

    /// GETVAL, GETPID, GETNCNT, GETZCNT of semaphore `num`.
    pub fn field(&self, who: &Who, id: i32, num: i32, f: Field) -> Result<i32, Errno> {
        let st = self.lock();
        let s = st.sets.get(id)?;
        if !s.perm.allows(who, 0o444) {
            return Err(Errno::EACCES);
        }
        let sem = usize::try_from(num)
            .ok()
            .and_then(|n| s.sems.get(n))
            .ok_or(Errno::EINVAL)?;
        Ok(match f {
            Field::Val => sem.val,
            Field::Pid => sem.pid,
            Field::NCnt => sem.ncnt as i32,
            Field::ZCnt => sem.zcnt as i32,
        })
    }

    /// GETALL.
    pub fn values(&self, who: &Who, id: i32) -> Result<Vec<u16>, Errno> {
        let st = self.lock();
        let s = st.sets.get(id)?;
        if !s.perm.allows(who, 0o444) {
            return Err(Errno::EACCES);
        }
        Ok(s.sems.iter().map(|x| x.val as u16).collect())
    }

    /// How many semaphores set `id` has (SETALL reads that many values).
    pub fn count(&self, id: i32) -> Result<usize, Errno> {
        Ok(self.lock().sets.get(id)?.sems.len())
    }

    /// SETVAL (`num` Some) or SETALL: new values; every process's undo
    /// adjustment of them is forgotten, as Linux does.
    pub fn set_values(
        &self,
        who: &Who,
        id: i32,
        num: Option<i32>,
        vals: &[i32],
    ) -> Result<(), Errno> {
        let mut st = self.lock();
        let s = st.sets.get_mut(id)?;
        let range = match num {
            Some(n) => {
                let n = usize::try_from(n)
                    .ok()
                    .filter(|n| *n < s.sems.len())
                    .ok_or(Errno::EINVAL)?;
                n..n + 1
            }
            None => 0..s.sems.len(),
        };
        if vals.len() != range.len() {
            return Err(Errno::EINVAL);
        }
        if vals.iter().any(|v| !(0..=SEMVMX).contains(v)) {
            return Err(Errno::ERANGE);
        }
        if !s.perm.allows(who, 0o222) {
            return Err(Errno::EACCES);
        }
        for (n, v) in range.clone().zip(vals) {
            s.sems[n].val = *v;
            s.sems[n].pid = who.tgid;
        }
        s.ctime = now();
        let queue = s.queue.clone();
        for n in range {
            st.clear_undo(id, Some(n));
        }
        drop(st);
        queue.notify_all();
        Ok(())
    }

    /// IPC_INFO (`usage` false) or SEM_INFO: the limits, with SEM_INFO's
    /// counts of sets and semaphores in use; semctl returns the highest
    /// index in use.
    pub fn info(&self, usage: bool) -> (i32, SemInfo) {
        let st = self.lock();
        let mut i = SemInfo {
            semmap: SEMMNS,
            semmni: SEMMNI,
            semmns: SEMMNS,
            semmnu: SEMMNS,
            semmsl: SEMMSL,
            semopm: SEMOPM,
            semume: SEMOPM,
            semusz: SEMUSZ,
            semvmx: SEMVMX,
            semaem: SEMAEM,
        };
        if usage {
            i.semusz = st.sets.in_use() as i32;
            i.semaem = st.sets.iter().map(|(_, s)| s.sems.len() as i32).sum();
        }
        (st.sets.max_index().unwrap_or(0) as i32, i)
    }

    /// Whether process `tgid` has an undo list (it made a SEM_UNDO
    /// operation), which kcmp's KCMP_SYSVSEM compares.
    pub fn has_undo(&self, tgid: i32) -> bool {
        self.lock().undo.contains_key(&tgid)
    }

    /// A process exits: its undo adjustments are applied (each value kept
    /// within 0..=SEMVMX, as Linux clamps them).
    pub fn exit(&self, tgid: i32) {
        let mut st = self.lock();
        let Some(sets) = st.undo.remove(&tgid) else {
            return;
        };
        let mut wake = Vec::new();
        for (id, adj) in sets {
            let Ok(s) = st.sets.get_mut(id) else {
                continue;
            };
            if adj.iter().all(|a| *a == 0) {
                continue;
            }
            for (sem, a) in s.sems.iter_mut().zip(adj) {
                if a != 0 {
                    sem.val = (sem.val + a).clamp(0, SEMVMX);
                    sem.pid = tgid;
                }
            }
            s.otime = now();
            wake.push(s.queue.clone());
        }
        drop(st);
        for q in wake {
            q.notify_all();
        }
    }

    /// /proc/sysvipc/sem.
    pub fn proc_listing(&self) -> String {
        let mut o = String::from(
            "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n",
        );
        let st = self.lock();
        for (id, s) in st.sets.iter() {
            let p = &s.perm;
            o += &format!(
                "{:10} {:10}  {:4o} {:10} {:5} {:5} {:5} {:5} {:10} {:10}\n",
                p.key,
                id,
                p.mode,
                s.sems.len(),
                p.uid,
                p.gid,
                p.cuid,
                p.cgid,
                s.otime,
                s.ctime
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(euid: u32, tgid: i32) -> Who {
        Who {
            euid,
            egid: euid,
            groups: vec![],
            tgid,
            caps: if euid == 0 {
                crate::caps::CapSet::FULL
            } else {
                crate::caps::CapSet::EMPTY
            },
        }
    }

    fn op(num: u16, op: i16, flags: i32) -> SemBuf {
        SemBuf {
            num,
            op,
            flags: flags as i16,
        }
    }

    #[test]
    fn operations_are_all_or_nothing() {
        let s = Semaphores::default();
        let w = who(0, 10);
        let id = s.get(&w, libc::IPC_PRIVATE, 2, 0o600).unwrap();
        assert_eq!(s.try_ops(&w, id, &[op(0, 1, 0)]), Ok(Outcome::Done));
        // The second would block: the first is not applied either.
        assert_eq!(
            s.try_ops(&w, id, &[op(0, -1, 0), op(1, -1, 0)]),
            Ok(Outcome::Blocked)
        );
        assert_eq!(s.field(&w, id, 0, Field::Val), Ok(1));
        assert_eq!(
            s.try_ops(&w, id, &[op(1, -1, libc::IPC_NOWAIT)]),
            Err(Errno::EAGAIN)
        );
        assert_eq!(
            s.try_ops(&w, id, &[op(0, SEMVMX as i16, 0)]),
            Err(Errno::ERANGE)
        );
        assert_eq!(s.field(&w, id, 0, Field::Pid), Ok(10));
    }

    #[test]
    fn undo_is_applied_at_exit_and_cleared_by_setval() {
        let s = Semaphores::default();
        let w = who(0, 10);
        let id = s.get(&w, 5, 1, libc::IPC_CREAT | 0o600).unwrap();
        s.try_ops(&w, id, &[op(0, 3, libc::SEM_UNDO)]).unwrap();
        assert_eq!(s.field(&w, id, 0, Field::Val), Ok(3));
        s.exit(10);
        assert_eq!(s.field(&w, id, 0, Field::Val), Ok(0));
        s.try_ops(&w, id, &[op(0, 2, libc::SEM_UNDO)]).unwrap();
        s.set_values(&w, id, Some(0), &[7]).unwrap();
        s.exit(10);
        assert_eq!(s.field(&w, id, 0, Field::Val), Ok(7));
    }

    #[test]
    fn semget_errnos_follow_linux() {
        let s = Semaphores::default();
        let w = who(1000, 10);
        assert_eq!(s.get(&w, 9, 1, 0), Err(Errno::ENOENT));
        assert_eq!(s.get(&w, 9, 0, libc::IPC_CREAT), Err(Errno::EINVAL));
        assert_eq!(
            s.get(&w, 9, SEMMSL + 1, libc::IPC_CREAT),
            Err(Errno::EINVAL)
        );
        let id = s.get(&w, 9, 2, libc::IPC_CREAT | 0o600).unwrap();
        assert_eq!(s.get(&w, 9, 3, 0), Err(Errno::EINVAL));
        assert_eq!(s.get(&w, 9, 1, 0), Ok(id));
        assert_eq!(s.get(&who(1001, 11), 9, 1, 0o400), Err(Errno::EACCES));
        assert_eq!(s.remove(&who(1001, 11), id), Err(Errno::EPERM));
        s.remove(&w, id).unwrap();
        assert_eq!(s.try_ops(&w, id, &[op(0, 1, 0)]), Err(Errno::EIDRM));
    }
}
