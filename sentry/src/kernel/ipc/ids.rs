//! The identifiers of one kind of SysV IPC object and their permissions
//! (Linux's `struct ipc_ids` and `kern_ipc_perm`, ipc/util.c), for every
//! kind alike: shared memory now, semaphores and message queues later.
//!
//! An identifier is `seq << 15 | index`. Indexes are handed out
//! cyclically over a window that grows with the number in use (Linux's
//! `idr_alloc_cyclic` over `max(in_use * 3 / 2, 64)`), and the sequence
//! number goes up each time the cursor wraps, so a removed object's
//! identifier is not soon valid again: programs keep identifiers in files
//! (PostgreSQL's postmaster.pid) and ask later whether they still exist.

use std::collections::BTreeMap;

use crate::caps::{CapSet, CAP_IPC_OWNER, CAP_SYS_ADMIN};
use crate::errno::Errno;
use crate::kernel::Credentials;

/// The most objects of one kind, and the bits of an identifier that hold
/// its index (Linux's IPCMNI without `ipcmni_extend`).
pub const IPCMNI: u32 = 1 << IPCMNI_SHIFT;
const IPCMNI_SHIFT: u32 = 15;
/// Sequence numbers wrap below this, so identifiers stay positive.
const SEQ_MAX: u32 = i32::MAX as u32 >> IPCMNI_SHIFT;
/// The smallest window indexes cycle over (the radix tree's node size).
const MIN_CYCLE: u32 = 64;

/// Who asks, as permission checks see a task.
#[derive(Clone, Debug)]
pub struct Who {
    pub euid: u32,
    pub egid: u32,
    pub groups: Vec<u32>,
    /// The process (shm_cpid, shm_lpid).
    pub tgid: i32,
    /// Effective capabilities (IPC_OWNER, SYS_ADMIN, IPC_LOCK).
    pub caps: CapSet,
}

impl Who {
    pub fn new(creds: &Credentials, tgid: i32) -> Who {
        Who {
            euid: creds.euid,
            egid: creds.egid,
            groups: creds.groups.clone(),
            tgid,
            caps: creds.effective,
        }
    }

    pub fn capable(&self, cap: u32) -> bool {
        self.caps.has(cap)
    }

    fn in_group(&self, gid: u32) -> bool {
        self.egid == gid || self.groups.contains(&gid)
    }
}

/// An object's key, owners and mode (Linux's `kern_ipc_perm`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Perm {
    pub key: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// Permission bits, and the kind's own flags above them.
    pub mode: u32,
    pub seq: u16,
}

impl Perm {
    /// Linux's `ipcperms`: whether `who` may have the access `flag` asks
    /// for (permission bits in any of the three positions, as shmget's
    /// flags carry them).
    pub fn allows(&self, who: &Who, flag: i32) -> bool {
        let flag = flag as u32;
        let requested = (flag >> 6) | (flag >> 3) | flag;
        let granted = if who.euid == self.cuid || who.euid == self.uid {
            self.mode >> 6
        } else if who.in_group(self.cgid) || who.in_group(self.gid) {
            self.mode >> 3
        } else {
            self.mode
        };
        requested & !granted & 0o7 == 0 || who.capable(CAP_IPC_OWNER)
    }

    /// Whether `who` may change or remove the object: its owner, its
    /// creator, or the privileged (Linux's `ipcctl_obtain_check`).
    pub fn may_change(&self, who: &Who) -> bool {
        who.euid == self.uid || who.euid == self.cuid || who.capable(CAP_SYS_ADMIN)
    }

    /// IPC_SET for every kind: only the owner, the creator or the
    /// privileged may (EPERM, Linux's `ipcctl_obtain_check`), then the
    /// kind's own condition `kind_allows` (msgctl's msg_qbytes limit: its
    /// EPERM comes before a bad owner's EINVAL, as in Linux's
    /// `msgctl_down`), then the new owner and permission bits of `new`
    /// (Linux's `ipc_update_perm`). The caller stamps the object's ctime.
    pub fn ipc_set(
        &mut self,
        who: &Who,
        new: &libc::ipc_perm,
        kind_allows: impl FnOnce() -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        if !self.may_change(who) {
            return Err(Errno::EPERM);
        }
        kind_allows()?;
        if new.uid == u32::MAX || new.gid == u32::MAX {
            return Err(Errno::EINVAL);
        }
        self.uid = new.uid;
        self.gid = new.gid;
        self.mode = (self.mode & !0o777) | (u32::from(new.mode) & 0o777);
        Ok(())
    }
}

impl Perm {
    /// The `struct ipc_perm` the stat commands copy out.
    pub fn to_ipc_perm(&self) -> libc::ipc_perm {
        let mut p: libc::ipc_perm = crate::usermem::zeroed();
        p.__key = self.key;
        p.uid = self.uid;
        p.gid = self.gid;
        p.cuid = self.cuid;
        p.cgid = self.cgid;
        p.mode = self.mode as u16;
        p.__seq = self.seq;
        p
    }
}

/// Which object a ctl call's stat commands name (shmctl, semctl, msgctl
/// alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatBy {
    /// IPC_STAT: an identifier; needs read permission.
    Id,
    /// SHM_STAT, SEM_STAT, MSG_STAT: an index; needs read permission.
    Index,
    /// The *_STAT_ANY forms: an index; needs nothing, as /proc/sysvipc.
    IndexAny,
}

/// What an IPC object shows the table.
pub trait IpcObject {
    fn perm(&self) -> &Perm;
}

/// What shmget (semget, msgget) does with a key: make a new object, or
/// use this existing one (after the kind's own checks and a permission
/// check).
pub enum Lookup<'a, T> {
    Create,
    Existing(i32, &'a T),
}

/// The objects of one kind, by index.
pub struct Ids<T> {
    /// (identifier, object) by index.
    objects: BTreeMap<u32, (i32, T)>,
    /// Where the next cyclic search for a free index starts.
    next: u32,
    /// The index last handed out.
    last: Option<u32>,
    seq: u32,
}

impl<T> Default for Ids<T> {
    fn default() -> Self {
        Ids {
            objects: BTreeMap::new(),
            next: 0,
            last: None,
            seq: 0,
        }
    }
}

impl<T: IpcObject> Ids<T> {
    pub fn in_use(&self) -> usize {
        self.objects.len()
    }

    /// The highest index in use (IPC_INFO's and SHM_INFO's result), or
    /// `None` when there is none.
    pub fn max_index(&self) -> Option<u32> {
        if self.objects.len() as u32 >= IPCMNI {
            return Some(IPCMNI - 1);
        }
        self.objects.keys().next_back().copied()
    }

    /// Adds the object `make` builds for its identifier and sequence
    /// number; ENOSPC when `limit` objects exist already.
    pub fn add(&mut self, limit: u32, make: impl FnOnce(i32, u16) -> T) -> Result<i32, Errno> {
        let limit = limit.min(IPCMNI);
        if self.objects.len() as u32 >= limit {
            return Err(Errno::ENOSPC);
        }
        let window = (self.objects.len() as u32 * 3 / 2).clamp(MIN_CYCLE, IPCMNI);
        let free_from = |from: u32| (from..window).find(|i| !self.objects.contains_key(i));
        let idx = free_from(self.next)
            .or_else(|| free_from(0))
            .ok_or(Errno::ENOSPC)?;
        self.next = idx + 1;
        if self.last.is_some_and(|l| idx <= l) {
            self.seq += 1;
            if self.seq >= SEQ_MAX {
                self.seq = 0;
            }
        }
        self.last = Some(idx);
        let id = ((self.seq << IPCMNI_SHIFT) | idx) as i32;
        self.objects.insert(idx, (id, make(id, self.seq as u16)));
        Ok(id)
    }

    /// The object `id` names, sequence number and all (EINVAL otherwise).
    pub fn get(&self, id: i32) -> Result<&T, Errno> {
        match self.objects.get(&index_of(id)) {
            Some((i, o)) if *i == id => Ok(o),
            _ => Err(Errno::EINVAL),
        }
    }

    pub fn get_mut(&mut self, id: i32) -> Result<&mut T, Errno> {
        match self.objects.get_mut(&index_of(id)) {
            Some((i, o)) if *i == id => Ok(o),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The object at the index in `id`'s low bits, whatever its sequence
    /// number (SHM_STAT's lookup): its identifier and itself.
    pub fn by_index(&self, id: i32) -> Result<(i32, &T), Errno> {
        self.objects
            .get(&index_of(id))
            .map(|(i, o)| (*i, o))
            .ok_or(Errno::EINVAL)
    }

    pub fn remove(&mut self, id: i32) -> Option<T> {
        match self.objects.get(&index_of(id)) {
            Some((i, _)) if *i == id => self.objects.remove(&index_of(id)).map(|(_, o)| o),
            _ => None,
        }
    }

    /// The object a stat command names, and the command's result (0, or
    /// the identifier for the index forms); EACCES without read
    /// permission where the form needs it.
    pub fn for_stat(&self, who: &Who, id: i32, by: StatBy) -> Result<(i32, &T), Errno> {
        let (r, o) = match by {
            StatBy::Id => (0, self.get(id)?),
            StatBy::Index | StatBy::IndexAny => self.by_index(id)?,
        };
        if by != StatBy::IndexAny && !o.perm().allows(who, 0o444) {
            return Err(Errno::EACCES);
        }
        Ok((r, o))
    }

    /// Every object with its identifier, by index (as /proc/sysvipc lists
    /// them).
    pub fn iter(&self) -> impl Iterator<Item = (i32, &T)> {
        self.objects.values().map(|(i, o)| (*i, o))
    }

    /// The first step of Linux's `ipcget`: a private key always makes a
    /// new object; a key in use is EEXIST under IPC_CREAT|IPC_EXCL and
    /// otherwise that object; an unused key is a new object under
    /// IPC_CREAT and otherwise ENOENT.
    pub fn lookup(&self, key: i32, flags: i32) -> Result<Lookup<'_, T>, Errno> {
        if key == libc::IPC_PRIVATE {
            return Ok(Lookup::Create);
        }
        match self.iter().find(|(_, o)| o.perm().key == key) {
            None if flags & libc::IPC_CREAT != 0 => Ok(Lookup::Create),
            None => Err(Errno::ENOENT),
            Some(_) if flags & libc::IPC_CREAT != 0 && flags & libc::IPC_EXCL != 0 => {
                Err(Errno::EEXIST)
            }
            Some((id, o)) => Ok(Lookup::Existing(id, o)),
        }
    }
}

fn index_of(id: i32) -> u32 {
    id as u32 & (IPCMNI - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Obj(Perm);

    impl IpcObject for Obj {
        fn perm(&self) -> &Perm {
            &self.0
        }
    }

    fn perm(key: i32, mode: u32) -> Perm {
        Perm {
            key,
            uid: 1000,
            gid: 1000,
            cuid: 1000,
            cgid: 1000,
            mode,
            seq: 0,
        }
    }

    fn who(euid: u32, egid: u32) -> Who {
        Who {
            euid,
            egid,
            groups: vec![],
            tgid: 1,
            caps: if euid == 0 {
                CapSet::FULL
            } else {
                CapSet::EMPTY
            },
        }
    }

    #[test]
    fn indexes_cycle_and_the_sequence_moves_on_when_they_wrap() {
        let mut ids: Ids<Obj> = Ids::default();
        // Made and removed at once: each takes the next index of the
        // 64-wide window, not the one just freed.
        for i in 0..64 {
            let id = ids.add(4096, |_, _| Obj(perm(0, 0))).unwrap();
            assert_eq!(id, i);
            ids.remove(id).unwrap();
        }
        // The cursor wraps to 0, with the next sequence number.
        let a = ids.add(4096, |_, _| Obj(perm(0, 0))).unwrap();
        assert_eq!(a, 1 << 15);
        assert_eq!(ids.get(0).err(), Some(Errno::EINVAL));
        assert_eq!(ids.by_index(0).unwrap().0, 1 << 15);
        let b = ids.add(4096, |_, _| Obj(perm(0, 0))).unwrap();
        assert_eq!(b, (1 << 15) | 1);
        assert_eq!(ids.max_index(), Some(1));
    }

    #[test]
    fn the_limit_is_enospc() {
        let mut ids: Ids<Obj> = Ids::default();
        ids.add(1, |_, _| Obj(perm(0, 0))).unwrap();
        assert_eq!(
            ids.add(1, |_, _| Obj(perm(0, 0))).err(),
            Some(Errno::ENOSPC)
        );
    }

    #[test]
    fn keys_follow_ipc_creat_and_ipc_excl() {
        let mut ids: Ids<Obj> = Ids::default();
        ids.add(10, |_, _| Obj(perm(7, 0o600))).unwrap();
        assert!(matches!(ids.lookup(7, 0), Ok(Lookup::Existing(0, _))));
        assert!(matches!(
            ids.lookup(7, libc::IPC_CREAT),
            Ok(Lookup::Existing(0, _))
        ));
        assert_eq!(
            ids.lookup(7, libc::IPC_CREAT | libc::IPC_EXCL).err(),
            Some(Errno::EEXIST)
        );
        assert_eq!(ids.lookup(8, 0).err(), Some(Errno::ENOENT));
        assert!(matches!(ids.lookup(8, libc::IPC_CREAT), Ok(Lookup::Create)));
        assert!(matches!(
            ids.lookup(libc::IPC_PRIVATE, 0),
            Ok(Lookup::Create)
        ));
    }

    #[test]
    fn permissions_pick_owner_group_or_other_bits() {
        let p = perm(1, 0o640);
        assert!(p.allows(&who(1000, 5), 0o600));
        assert!(p.allows(&who(5, 1000), 0o400));
        assert!(!p.allows(&who(5, 1000), 0o600));
        assert!(!p.allows(&who(5, 5), 0o400));
        assert!(p.allows(&who(5, 5), 0));
        assert!(p.allows(&who(0, 0), 0o666));
        let mut w = who(5, 5);
        w.groups = vec![1000];
        assert!(p.allows(&w, 0o040));
        assert!(p.may_change(&who(1000, 5)));
        assert!(!p.may_change(&who(5, 1000)));
    }

    #[test]
    fn ipc_set_checks_the_caller_then_the_kind_then_the_owner() {
        // SHM_DEST-like flags above the permission bits stay.
        let mut p = perm(1, 0o1000 | 0o640);
        let mut new: libc::ipc_perm = crate::usermem::zeroed();
        (new.uid, new.gid, new.mode) = (7, 8, 0o7604);
        let kind_refuses = || Err(Errno::EPERM);
        assert_eq!(p.ipc_set(&who(5, 1000), &new, || Ok(())), Err(Errno::EPERM));
        new.uid = u32::MAX;
        assert_eq!(
            p.ipc_set(&who(1000, 5), &new, kind_refuses),
            Err(Errno::EPERM)
        );
        assert_eq!(
            p.ipc_set(&who(1000, 5), &new, || Ok(())),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            p,
            perm(1, 0o1000 | 0o640),
            "a refused IPC_SET changes nothing"
        );
        new.uid = 7;
        assert_eq!(p.ipc_set(&who(1000, 5), &new, || Ok(())), Ok(()));
        assert_eq!((p.uid, p.gid, p.mode, p.cuid), (7, 8, 0o1000 | 0o604, 1000));
        // The creator still may; a stranger with CAP_SYS_ADMIN too.
        assert_eq!(p.ipc_set(&who(1000, 5), &new, || Ok(())), Ok(()));
        assert_eq!(p.ipc_set(&who(0, 0), &new, || Ok(())), Ok(()));
    }
}
