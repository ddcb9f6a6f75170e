//! SysV shared memory segments of one IPC namespace (Linux's ipc/shm.c).
//!
//! A segment's memory is one range of the memory file, made at shmget and
//! zero until touched (the file is sparse). shmat maps it MAP_SHARED
//! through the MM as every shared mapping is mapped (a MAP_SHARED|
//! MAP_ANONYMOUS mapping is such a range too): fork shares it, and every
//! attacher's stores are every other's. One range rather than a tmpfs
//! file: a tmpfs file is mapped as one VMA per chunk of it, and shmdt and
//! the attach count want one mapping per attach, as Linux makes.
//!
//! Each mapping carries an [`Attach`] (the MM's [`Attachment`]): made by
//! shmat, copied by fork, dropped when the last piece of the mapping goes
//! (shmdt, munmap, exec, exit). It keeps `shm_nattch`, and with it
//! `shm_atime`, `shm_dtime` and `shm_lpid`; a segment removed with
//! IPC_RMID while attached goes with its last detach, its key free at
//! once (it shows as IPC_PRIVATE with SHM_DEST until then).

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use platform::Context;

pub use super::ids::StatBy;
use super::ids::{Ids, IpcObject, Lookup, Perm, Who};
use crate::caps::CAP_IPC_LOCK;
use crate::errno::Errno;
use crate::mm::{
    page_round_up, Attachment, MapRequest, MemRange, MemoryFile, MemoryManager, VmaKind, PAGE_SIZE,
};
use crate::usermem::{zeroed, Pod};
use crate::vfs::Time;

/// Linux's limits and their defaults (include/uapi/linux/shm.h).
pub const SHMMIN: u64 = 1;
pub const SHMMAX: u64 = u64::MAX - (1 << 24);
pub const SHMALL: u64 = u64::MAX - (1 << 24);
pub const SHMMNI: u32 = 4096;
/// Attach addresses round down to this (x86-64: a page).
const SHMLBA: u64 = PAGE_SIZE;

/// `shm_perm.mode` flags above the permission bits; libc has none of
/// these.
pub const SHM_DEST: u32 = 0o1000;
pub const SHM_LOCKED: u32 = 0o2000;
/// shmctl commands libc lacks.
pub const SHM_STAT: i32 = 13;
pub const SHM_INFO: i32 = 14;
pub const SHM_STAT_ANY: i32 = 15;

/// IPC_INFO's answer (Linux's `struct shminfo64`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShmInfo64 {
    pub shmmax: u64,
    pub shmmin: u64,
    pub shmmni: u64,
    pub shmseg: u64,
    pub shmall: u64,
    pub unused: [u64; 4],
}

/// SHM_INFO's answer (Linux's `struct shm_info`), in pages.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShmUsage {
    pub used_ids: i32,
    /// The alignment gap after `used_ids`, made explicit.
    pub pad: i32,
    pub shm_tot: u64,
    pub shm_rss: u64,
    pub shm_swp: u64,
    pub swap_attempts: u64,
    pub swap_successes: u64,
}

// SAFETY: repr(C) structs of integers without implicit padding: any bytes
// are a valid value.
unsafe impl Pod for ShmInfo64 {}
// SAFETY: as above; the gap after `used_ids` is the explicit `pad`.
unsafe impl Pod for ShmUsage {}

/// The namespace's tunables (/proc/sys/kernel/shmmax, shmall, shmmni).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest segment, in bytes.
    pub shmmax: u64,
    /// All segments together, in pages.
    pub shmall: u64,
    /// The most segments.
    pub shmmni: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            shmmax: SHMMAX,
            shmall: SHMALL,
            shmmni: SHMMNI,
        }
    }
}

struct Segment {
    perm: Perm,
    /// The key it was made with, which names it in /proc/PID/maps even
    /// after IPC_RMID made its key private.
    name_key: i32,
    size: u64,
    mem: Arc<MemRange>,
    atime: i64,
    dtime: i64,
    ctime: i64,
    cpid: i32,
    lpid: i32,
    nattch: u64,
}

impl IpcObject for Segment {
    fn perm(&self) -> &Perm {
        &self.perm
    }
}

impl Segment {
    fn pages(&self) -> u64 {
        self.size.div_ceil(PAGE_SIZE)
    }

    fn stat(&self) -> libc::shmid_ds {
        let mut ds: libc::shmid_ds = zeroed();
        ds.shm_perm = self.perm.to_ipc_perm();
        ds.shm_segsz = self.size as usize;
        ds.shm_atime = self.atime;
        ds.shm_dtime = self.dtime;
        ds.shm_ctime = self.ctime;
        ds.shm_cpid = self.cpid;
        ds.shm_lpid = self.lpid;
        ds.shm_nattch = self.nattch;
        ds
    }
}

struct State {
    segments: Ids<Segment>,
    limits: Limits,
    /// Pages of every segment (SHM_INFO's shm_tot), checked against
    /// `shmall`.
    pages: u64,
}

impl State {
    /// The segment `a` is an attachment of: the one with its identifier
    /// and its memory (an identifier of a destroyed segment may name a
    /// newer one).
    fn segment_of(&mut self, a: &Attach) -> Option<&mut Segment> {
        self.segments
            .get_mut(a.id)
            .ok()
            .filter(|s| Arc::ptr_eq(&s.mem, &a.mem))
    }

    /// Removes segment `id` (IPC_RMID of an unattached one, or the last
    /// detach of a removed one); the caller drops it once unlocked.
    fn destroy(&mut self, id: i32) -> Option<Segment> {
        let s = self.segments.remove(id)?;
        self.pages -= s.pages();
        Some(s)
    }
}

/// The shared memory of one IPC namespace.
pub struct SharedMemory {
    state: Mutex<State>,
    memfile: Arc<MemoryFile>,
    /// Itself, for the attachments it hands out.
    me: Weak<SharedMemory>,
}

fn now() -> i64 {
    Time::now().sec
}

impl SharedMemory {
    /// An empty namespace whose segments live in `memfile` (the kernel's).
    pub fn new(memfile: &Arc<MemoryFile>) -> Arc<SharedMemory> {
        Arc::new_cyclic(|me| SharedMemory {
            state: Mutex::new(State {
                segments: Ids::default(),
                limits: Limits::default(),
                pages: 0,
            }),
            memfile: memfile.clone(),
            me: me.clone(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn limits(&self) -> Limits {
        self.lock().limits
    }

    pub fn set_limits(&self, l: Limits) {
        self.lock().limits = l;
    }

    /// shmget(2).
    pub fn get(&self, who: &Who, key: i32, size: u64, flags: i32) -> Result<i32, Errno> {
        let mut st = self.lock();
        if let Lookup::Existing(id, s) = st.segments.lookup(key, flags)? {
            if s.size < size {
                return Err(Errno::EINVAL);
            }
            if !s.perm.allows(who, flags) {
                return Err(Errno::EACCES);
            }
            return Ok(id);
        }
        if size < SHMMIN || size > st.limits.shmmax {
            return Err(Errno::EINVAL);
        }
        let pages = page_round_up(size).ok_or(Errno::ENOSPC)? / PAGE_SIZE;
        if st
            .pages
            .checked_add(pages)
            .is_none_or(|p| p > st.limits.shmall)
        {
            return Err(Errno::ENOSPC);
        }
        if flags & libc::SHM_HUGETLB != 0 {
            // Linux with no huge pages reserved, its default.
            return Err(Errno::ENOMEM);
        }
        let mem = MemRange::new(&self.memfile, size)?;
        let limit = st.limits.shmmni;
        let t = now();
        let id = st.segments.add(limit, |_, seq| Segment {
            perm: Perm {
                key,
                uid: who.euid,
                gid: who.egid,
                cuid: who.euid,
                cgid: who.egid,
                mode: (flags & 0o777) as u32,
                seq,
            },
            name_key: key,
            size,
            mem,
            atime: 0,
            dtime: 0,
            ctime: t,
            cpid: who.tgid,
            lpid: 0,
            nattch: 0,
        })?;
        st.pages += pages;
        Ok(id)
    }

    /// shmat(2): maps segment `id` into `mm` at `addr` (0: where the MM
    /// likes) and returns where.
    pub fn attach(
        &self,
        mm: &MemoryManager,
        ctx: &mut dyn Context,
        who: &Who,
        id: i32,
        addr: u64,
        flags: i32,
    ) -> Result<u64, Errno> {
        if id < 0 {
            return Err(Errno::EINVAL);
        }
        let remap = flags & libc::SHM_REMAP != 0;
        // An address asked for is where the attach goes, even if SHM_RND
        // rounds it down to 0 (Linux's MAP_FIXED there).
        let fixed = addr != 0;
        let mut addr = addr;
        if fixed {
            if !addr.is_multiple_of(SHMLBA) {
                if flags & libc::SHM_RND == 0 {
                    return Err(Errno::EINVAL);
                }
                addr -= addr % SHMLBA;
                if addr == 0 && remap {
                    return Err(Errno::EINVAL);
                }
            }
        } else if remap {
            return Err(Errno::EINVAL);
        }
        let (mut prot, mut access) = if flags & libc::SHM_RDONLY != 0 {
            (libc::PROT_READ, 0o444)
        } else {
            (libc::PROT_READ | libc::PROT_WRITE, 0o666)
        };
        if flags & libc::SHM_EXEC != 0 {
            prot |= libc::PROT_EXEC;
            access |= 0o111;
        }
        // Counted before it is mapped, so an IPC_RMID meanwhile leaves the
        // segment alone; a failed mapping drops the attachment again.
        let (attach, name_key) = {
            let mut st = self.lock();
            let s = st.segments.get_mut(id)?;
            if !s.perm.allows(who, access) {
                return Err(Errno::EACCES);
            }
            s.nattch += 1;
            let a = Arc::new(Attach {
                shm: self.me.clone(),
                id,
                mem: s.mem.clone(),
                size: s.size,
                holder: AtomicI32::new(who.tgid),
                opened: AtomicBool::new(false),
            });
            (a, s.name_key)
        };
        if fixed && !remap && addr.checked_add(attach.size).is_none() {
            return Err(Errno::EINVAL);
        }
        let mut req = MapRequest::anon(attach.size, prot);
        req.addr = addr;
        // Without SHM_REMAP an address already in use is refused.
        req.fixed = fixed && remap;
        req.noreplace = fixed && !remap;
        req.shared = true;
        // Stores would reach the segment: only a writable attach may
        // become writable (Linux maps it from a read-only file).
        req.may_write = flags & libc::SHM_RDONLY == 0;
        req.kind = VmaKind::File {
            path: format!("/SYSV{:08x} (deleted)", name_key as u32).into_bytes(),
            offset: 0,
            dev: libc::makedev(0, 1),
            ino: id as u64,
        };
        req.mem = Some((attach.mem.clone(), 0));
        req.attachment = Some(attach.clone());
        let at = mm.mmap(ctx, req).map_err(|e| match e {
            Errno::EEXIST => Errno::EINVAL,
            e => e,
        })?;
        let mut st = self.lock();
        if let Some(s) = st.segment_of(&attach) {
            s.atime = now();
            s.lpid = who.tgid;
        }
        attach.opened.store(true, Ordering::Relaxed);
        Ok(at)
    }

    /// IPC_STAT, SHM_STAT and SHM_STAT_ANY: the segment's description,
    /// and shmctl's result (0, or the identifier for the index forms).
    pub fn stat(&self, who: &Who, id: i32, by: StatBy) -> Result<(i32, libc::shmid_ds), Errno> {
        let st = self.lock();
        let (r, s) = st.segments.for_stat(who, id, by)?;
        Ok((r, s.stat()))
    }

    /// IPC_SET: owner and permission bits from `perm`.
    pub fn set(&self, who: &Who, id: i32, perm: &libc::ipc_perm) -> Result<(), Errno> {
        let mut st = self.lock();
        let s = st.segments.get_mut(id)?;
        s.perm.ipc_set(who, perm, || Ok(()))?;
        s.ctime = now();
        Ok(())
    }

    /// IPC_RMID: the segment goes now, or with its last detach.
    pub fn remove(&self, who: &Who, id: i32) -> Result<(), Errno> {
        let gone = {
            let mut st = self.lock();
            let s = st.segments.get_mut(id)?;
            if !s.perm.may_change(who) {
                return Err(Errno::EPERM);
            }
            if s.nattch > 0 {
                s.perm.mode |= SHM_DEST;
                s.perm.key = libc::IPC_PRIVATE;
                None
            } else {
                st.destroy(id)
            }
        };
        drop(gone);
        Ok(())
    }

    /// SHM_LOCK and SHM_UNLOCK. The memory file is never swapped, so a
    /// lock is only the SHM_LOCKED mark and Linux's checks: the owner or
    /// creator unless privileged, a nonzero RLIMIT_MEMLOCK to lock, and
    /// no more than it in one segment.
    pub fn set_locked(
        &self,
        who: &Who,
        id: i32,
        lock: bool,
        memlock: libc::rlimit,
    ) -> Result<(), Errno> {
        let mut st = self.lock();
        let s = st.segments.get_mut(id)?;
        if !who.capable(CAP_IPC_LOCK) {
            if who.euid != s.perm.uid && who.euid != s.perm.cuid {
                return Err(Errno::EPERM);
            }
            if lock && memlock.rlim_cur == 0 {
                return Err(Errno::EPERM);
            }
            if lock
                && s.perm.mode & SHM_LOCKED == 0
                && memlock.rlim_cur != libc::RLIM_INFINITY
                && s.pages() > memlock.rlim_cur / PAGE_SIZE
            {
                return Err(Errno::ENOMEM);
            }
        }
        if lock {
            s.perm.mode |= SHM_LOCKED;
        } else {
            s.perm.mode &= !SHM_LOCKED;
        }
        Ok(())
    }

    /// IPC_INFO: the limits, and the highest index in use (0 if none).
    pub fn info(&self) -> (i32, ShmInfo64) {
        let st = self.lock();
        let info = ShmInfo64 {
            shmmax: st.limits.shmmax,
            shmmin: SHMMIN,
            shmmni: st.limits.shmmni.into(),
            shmseg: st.limits.shmmni.into(),
            shmall: st.limits.shmall,
            unused: [0; 4],
        };
        (st.segments.max_index().unwrap_or(0) as i32, info)
    }

    /// SHM_INFO: what the segments use, and the highest index in use.
    pub fn usage(&self) -> (i32, ShmUsage) {
        let st = self.lock();
        let rss = st
            .segments
            .iter()
            .map(|(_, s)| self.resident_pages(s))
            .sum();
        let usage = ShmUsage {
            used_ids: st.segments.in_use() as i32,
            shm_tot: st.pages,
            shm_rss: rss,
            ..Default::default()
        };
        (st.segments.max_index().unwrap_or(0) as i32, usage)
    }

    fn resident_pages(&self, s: &Segment) -> u64 {
        let bytes: u64 = self
            .memfile
            .populated(s.mem.off, s.mem.len)
            .iter()
            .map(|(_, n)| n)
            .sum();
        bytes / PAGE_SIZE
    }

    /// /proc/sysvipc/shm.
    pub fn proc_listing(&self) -> String {
        let mut o = String::from(
            "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
        );
        let st = self.lock();
        for (id, s) in st.segments.iter() {
            let p = &s.perm;
            o += &format!(
                "{:10} {:10}  {:4o} {:21} {:5} {:5}  {:5} {:5} {:5} {:5} {:5} {:10} {:10} {:10} {:21} {:21}\n",
                p.key,
                id,
                p.mode,
                s.size,
                s.cpid,
                s.lpid,
                s.nattch,
                p.uid,
                p.gid,
                p.cuid,
                p.cgid,
                s.atime,
                s.dtime,
                s.ctime,
                self.resident_pages(s) * PAGE_SIZE,
                0
            );
        }
        o
    }
}

/// Tells the attachments a forked child's address space holds that they
/// are the child's (`tgid`), so its detaches show its pid in shm_lpid.
pub fn adopt(mm: &MemoryManager, tgid: i32) {
    for a in mm.attachments() {
        if let Some(a) = a.as_any().downcast_ref::<Attach>() {
            a.holder.store(tgid, Ordering::Relaxed);
        }
    }
}

/// One attach of a segment: every piece of one mapping holds it.
struct Attach {
    shm: Weak<SharedMemory>,
    id: i32,
    mem: Arc<MemRange>,
    size: u64,
    /// The process whose address space holds it (shm_lpid at detach).
    holder: AtomicI32,
    /// It was mapped: its detach is a detach (shm_dtime), not a failed
    /// shmat giving back its count.
    opened: AtomicBool,
}

impl Attachment for Attach {
    fn fork(&self) -> Arc<dyn Attachment> {
        let holder = self.holder.load(Ordering::Relaxed);
        if let Some(shm) = self.shm.upgrade() {
            let mut st = shm.lock();
            if let Some(s) = st.segment_of(self) {
                // Linux's shm_open runs in the parent.
                s.nattch += 1;
                s.atime = now();
                s.lpid = holder;
            }
        }
        Arc::new(Attach {
            shm: self.shm.clone(),
            id: self.id,
            mem: self.mem.clone(),
            size: self.size,
            holder: AtomicI32::new(holder),
            opened: AtomicBool::new(true),
        })
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Drop for Attach {
    fn drop(&mut self) {
        let Some(shm) = self.shm.upgrade() else {
            return;
        };
        let gone = {
            let mut st = shm.lock();
            let Some(s) = st.segment_of(self) else {
                return;
            };
            if self.opened.load(Ordering::Relaxed) {
                s.lpid = self.holder.load(Ordering::Relaxed);
                s.dtime = now();
            }
            s.nattch = s.nattch.saturating_sub(1);
            if s.nattch == 0 && s.perm.mode & SHM_DEST != 0 {
                st.destroy(self.id)
            } else {
                None
            }
        };
        // The memory goes back to the file outside the namespace's lock.
        drop(gone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Who {
        Who {
            euid: 0,
            egid: 0,
            groups: vec![],
            tgid: 1,
            caps: crate::caps::CapSet::FULL,
        }
    }

    fn user(uid: u32) -> Who {
        Who {
            euid: uid,
            egid: uid,
            groups: vec![],
            tgid: 2,
            caps: crate::caps::CapSet::EMPTY,
        }
    }

    fn shm() -> Arc<SharedMemory> {
        SharedMemory::new(&MemoryFile::new().unwrap())
    }

    #[test]
    fn shmget_errnos_follow_linux() {
        let s = shm();
        let w = user(1000);
        let c = libc::IPC_CREAT;
        assert_eq!(s.get(&w, 5, 0, c | 0o600), Err(Errno::EINVAL));
        assert_eq!(s.get(&w, 5, SHMMAX + 1, c | 0o600), Err(Errno::EINVAL));
        assert_eq!(s.get(&w, 5, 56, 0o600), Err(Errno::ENOENT));
        let id = s.get(&w, 5, 56, c | 0o600).unwrap();
        assert_eq!(s.get(&w, 5, 0, 0), Ok(id));
        assert_eq!(s.get(&w, 5, 56, c | 0o600), Ok(id));
        assert_eq!(s.get(&w, 5, 57, 0), Err(Errno::EINVAL));
        assert_eq!(
            s.get(&w, 5, 56, c | libc::IPC_EXCL | 0o600),
            Err(Errno::EEXIST)
        );
        assert_eq!(s.get(&user(1001), 5, 56, 0o400), Err(Errno::EACCES));
        assert_eq!(s.get(&user(1001), 5, 56, 0), Ok(id));
        assert_eq!(s.get(&root(), 5, 56, 0o600), Ok(id));
        // IPC_PRIVATE always makes a new one.
        let p = s.get(&w, libc::IPC_PRIVATE, 10, 0o600).unwrap();
        assert_ne!(p, id);
    }

    #[test]
    fn limits_bound_size_count_and_total() {
        let s = shm();
        s.set_limits(Limits {
            shmmax: 8192,
            shmall: 3,
            shmmni: 2,
        });
        let w = root();
        assert_eq!(s.get(&w, 0, 8193, 0o600), Err(Errno::EINVAL));
        s.get(&w, 0, 8192, 0o600).unwrap();
        assert_eq!(s.get(&w, 0, 4097, 0o600), Err(Errno::ENOSPC));
        s.get(&w, 0, 4096, 0o600).unwrap();
        s.set_limits(Limits {
            shmall: 100,
            ..s.limits()
        });
        assert_eq!(s.get(&w, 0, 1, 0o600), Err(Errno::ENOSPC));
        assert_eq!(s.usage().1.shm_tot, 3);
        assert_eq!(s.usage().1.used_ids, 2);
        assert_eq!(s.info().0, 1);
    }

    #[test]
    fn rmid_of_an_unattached_segment_frees_its_key_and_id() {
        let s = shm();
        let w = user(1000);
        let id = s.get(&w, 9, 100, libc::IPC_CREAT | 0o600).unwrap();
        assert_eq!(s.remove(&user(1001), id), Err(Errno::EPERM));
        s.remove(&w, id).unwrap();
        assert_eq!(s.stat(&w, id, StatBy::Id).err(), Some(Errno::EINVAL));
        assert_eq!(s.get(&w, 9, 100, 0), Err(Errno::ENOENT));
        assert_eq!(s.usage().1.shm_tot, 0);
    }

    #[test]
    fn stat_set_and_stat_by_index() {
        let s = shm();
        let w = user(1000);
        let id = s.get(&w, 3, 100, libc::IPC_CREAT | 0o640).unwrap();
        let (r, ds) = s.stat(&w, id, StatBy::Id).unwrap();
        assert_eq!(r, 0);
        assert_eq!(
            (
                ds.shm_perm.__key,
                ds.shm_perm.mode,
                ds.shm_segsz,
                ds.shm_cpid
            ),
            (3, 0o640, 100, 2)
        );
        assert_eq!(ds.shm_nattch, 0);
        assert_eq!(s.stat(&w, id, StatBy::Index).unwrap().0, id);
        assert_eq!(
            s.stat(&user(7), id, StatBy::Index).err(),
            Some(Errno::EACCES)
        );
        assert!(s.stat(&user(7), id, StatBy::IndexAny).is_ok());
        let mut p = ds.shm_perm;
        p.mode = 0o7604;
        p.uid = 1001;
        assert_eq!(s.set(&user(7), id, &p), Err(Errno::EPERM));
        s.set(&w, id, &p).unwrap();
        let ds = s.stat(&root(), id, StatBy::Id).unwrap().1;
        assert_eq!((ds.shm_perm.mode, ds.shm_perm.uid), (0o604, 1001));
        // Its creator may still change it, but not to uid -1.
        p.uid = u32::MAX;
        assert_eq!(s.set(&w, id, &p), Err(Errno::EINVAL));
    }

    #[test]
    fn a_namespace_sees_only_its_own_segments() {
        let (a, b) = (shm(), shm());
        let id = a.get(&root(), 42, 10, libc::IPC_CREAT | 0o600).unwrap();
        assert_eq!(b.get(&root(), 42, 10, 0), Err(Errno::ENOENT));
        assert_eq!(b.stat(&root(), id, StatBy::Id).err(), Some(Errno::EINVAL));
        assert!(b.proc_listing().lines().count() == 1);
        assert!(a.proc_listing().lines().count() == 2);
    }
}
