//! Advisory file locks: POSIX record locks (fcntl F_SETLK, owned by the
//! process), open-file-description record locks (F_OFD_SETLK) and flock
//! locks (both owned by the open file description).
//!
//! Locks are keyed by the file's (st_dev, st_ino). A description's locks go
//! away when the description does: owners are weak references, and a dead
//! owner's locks are pruned whenever the file's locks are looked at. POSIX
//! locks go when the owning process closes any descriptor of the file or
//! exits, as in Linux.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::File;
use crate::errno::Errno;
use crate::vfs::Caller;
use crate::waiter::WaitQueue;

/// Who holds a lock.
#[derive(Clone)]
enum Owner {
    /// A process (thread group id): POSIX record locks.
    Process(i32),
    /// An open file description: OFD record locks and flock.
    Description(Weak<File>),
}

impl Owner {
    fn same(&self, other: &Owner) -> bool {
        match (self, other) {
            (Owner::Process(a), Owner::Process(b)) => a == b,
            (Owner::Description(a), Owner::Description(b)) => Weak::ptr_eq(a, b),
            _ => false,
        }
    }

    fn alive(&self) -> bool {
        match self {
            Owner::Process(_) => true,
            Owner::Description(w) => w.strong_count() > 0,
        }
    }
}

#[derive(Clone)]
struct Record {
    owner: Owner,
    start: u64,
    /// Exclusive; u64::MAX means "to the end of the file and beyond".
    end: u64,
    write: bool,
    /// The pid F_GETLK reports (-1 for description locks, as Linux).
    pid: i32,
}

#[derive(Default)]
struct FileLocks {
    records: Vec<Record>,
    flocks: Vec<(Owner, bool)>,
}

impl FileLocks {
    fn prune(&mut self) {
        self.records.retain(|r| r.owner.alive());
        self.flocks.retain(|(o, _)| o.alive());
    }

    fn conflict(&self, owner: &Owner, start: u64, end: u64, write: bool) -> Option<&Record> {
        self.records
            .iter()
            .find(|r| !r.owner.same(owner) && r.start < end && start < r.end && (write || r.write))
    }

    /// Removes `owner`'s locks on [start, end), splitting those that stick out.
    fn unlock(&mut self, owner: &Owner, start: u64, end: u64) {
        let mut out = Vec::with_capacity(self.records.len() + 1);
        for r in self.records.drain(..) {
            if !r.owner.same(owner) || r.end <= start || end <= r.start {
                out.push(r);
                continue;
            }
            if r.start < start {
                out.push(Record {
                    end: start,
                    ..r.clone()
                });
            }
            if end < r.end {
                out.push(Record { start: end, ..r });
            }
        }
        self.records = out;
    }
}

/// The sandbox's lock table.
#[derive(Default)]
pub struct Locks {
    files: Mutex<HashMap<(u64, u64), FileLocks>>,
    /// Woken on every unlock, so blocked lockers re-check.
    queue: WaitQueue,
}

/// A record lock request, from a struct flock resolved to absolute offsets.
pub struct RecordLock {
    pub typ: i32,
    pub start: u64,
    pub end: u64,
}

/// How often a blocked locker re-checks on its own: a description closed
/// without an explicit unlock wakes nobody.
const RECHECK: Duration = Duration::from_millis(50);

fn key(f: &File) -> Result<(u64, u64), Errno> {
    let st = f.stat()?;
    Ok((st.st_dev, st.st_ino))
}

impl Locks {
    fn with<R>(&self, k: (u64, u64), f: impl FnOnce(&mut FileLocks) -> R) -> R {
        let mut files = self.files.lock().unwrap();
        let fl = files.entry(k).or_default();
        fl.prune();
        let r = f(fl);
        if fl.records.is_empty() && fl.flocks.is_empty() {
            files.remove(&k);
        }
        r
    }

    fn owner(t: &dyn Caller, file: &Arc<File>, ofd: bool) -> Owner {
        if ofd {
            Owner::Description(Arc::downgrade(file))
        } else {
            Owner::Process(t.tgid())
        }
    }

    /// F_GETLK: the first lock that would block `req`, or None.
    pub fn test(
        &self,
        t: &dyn Caller,
        file: &Arc<File>,
        req: &RecordLock,
        ofd: bool,
    ) -> Result<Option<(RecordLock, i32)>, Errno> {
        let k = key(file)?;
        let owner = Self::owner(t, file, ofd);
        Ok(self.with(k, |fl| {
            fl.conflict(&owner, req.start, req.end, req.typ == libc::F_WRLCK)
                .map(|r| {
                    (
                        RecordLock {
                            typ: if r.write {
                                libc::F_WRLCK
                            } else {
                                libc::F_RDLCK
                            },
                            start: r.start,
                            end: r.end,
                        },
                        r.pid,
                    )
                })
        }))
    }

    /// F_SETLK / F_SETLKW (and the OFD forms).
    pub fn set(
        &self,
        t: &dyn Caller,
        file: &Arc<File>,
        req: RecordLock,
        ofd: bool,
        wait: bool,
    ) -> Result<(), Errno> {
        let k = key(file)?;
        let owner = Self::owner(t, file, ofd);
        if req.typ == libc::F_UNLCK {
            self.with(k, |fl| fl.unlock(&owner, req.start, req.end));
            self.queue.notify_all();
            return Ok(());
        }
        let write = req.typ == libc::F_WRLCK;
        let pid = if ofd { -1 } else { t.tgid() };
        let mut take = || {
            self.with(k, |fl| {
                if fl.conflict(&owner, req.start, req.end, write).is_some() {
                    return false;
                }
                fl.unlock(&owner, req.start, req.end);
                fl.records.push(Record {
                    owner: owner.clone(),
                    start: req.start,
                    end: req.end,
                    write,
                    pid,
                });
                true
            })
        };
        if take() {
            return Ok(());
        }
        if !wait {
            return Err(Errno::EAGAIN);
        }
        loop {
            match t.block(&[&self.queue], Some(Instant::now() + RECHECK), &mut take) {
                Ok(()) => return Ok(()),
                Err(Errno::ETIMEDOUT) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// flock(2).
    pub fn flock(&self, t: &dyn Caller, file: &Arc<File>, op: i32) -> Result<(), Errno> {
        let k = key(file)?;
        let owner = Owner::Description(Arc::downgrade(file));
        let nonblock = op & libc::LOCK_NB != 0;
        let op = op & !libc::LOCK_NB;
        let drop_mine = |fl: &mut FileLocks| fl.flocks.retain(|(o, _)| !o.same(&owner));
        if op == libc::LOCK_UN {
            self.with(k, drop_mine);
            self.queue.notify_all();
            return Ok(());
        }
        let write = match op {
            libc::LOCK_EX => true,
            libc::LOCK_SH => false,
            _ => return Err(Errno::EINVAL),
        };
        // Converting a lock releases the old one first (not atomic, as in
        // Linux), so others waiting may get in between.
        self.with(k, drop_mine);
        self.queue.notify_all();
        let mut take = || {
            self.with(k, |fl| {
                let busy = fl
                    .flocks
                    .iter()
                    .any(|(o, w)| !o.same(&owner) && (write || *w));
                if !busy {
                    fl.flocks.push((owner.clone(), write));
                }
                !busy
            })
        };
        if take() {
            return Ok(());
        }
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        loop {
            match t.block(&[&self.queue], Some(Instant::now() + RECHECK), &mut take) {
                Ok(()) => return Ok(()),
                Err(Errno::ETIMEDOUT) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// A process closed a descriptor of `file`: its POSIX locks on the file
    /// go (Linux's rule, whichever descriptor took them).
    pub fn closed(&self, tgid: i32, file: &File) {
        let Ok(k) = key(file) else { return };
        let owner = Owner::Process(tgid);
        let mut files = self.files.lock().unwrap();
        if let Some(fl) = files.get_mut(&k) {
            fl.unlock(&owner, 0, u64::MAX);
        }
        drop(files);
        self.queue.notify_all();
    }

    /// A process exited: all its POSIX locks go.
    pub fn exited(&self, tgid: i32) {
        let owner = Owner::Process(tgid);
        let mut files = self.files.lock().unwrap();
        for fl in files.values_mut() {
            fl.unlock(&owner, 0, u64::MAX);
        }
        files.retain(|_, fl| !(fl.records.is_empty() && fl.flocks.is_empty()));
        drop(files);
        self.queue.notify_all();
    }
}
