//! epoll: an interest list of descriptors whose readiness epoll_wait
//! reports.
//!
//! Readiness comes from each file's `FileOps::readiness`, and waiting uses
//! the files' wait queues (`vfs::poll::wait_ready`). EPOLLET is served as
//! level-triggered: an edge-triggered program still sees every event (at
//! worst more than once), which is safe where missing one would hang it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::errno::Errno;
use crate::kernel::waiter::WaitQueue;
use crate::vfs::{File, FileOps};

#[derive(Clone)]
pub struct Interest {
    pub file: Weak<File>,
    pub events: u32,
    pub data: u64,
    /// EPOLLONESHOT fired: silent until EPOLL_CTL_MOD.
    pub disabled: bool,
}

/// The events epoll always reports, asked or not.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// One interest as a wait sees it: the file (None if it went away), the
/// poll events to ask for, and its key in the interest list.
pub type Watched = (Option<Arc<File>>, i16, (i32, usize));

#[derive(Default)]
pub struct Epoll {
    /// Keyed by (fd, the file's address): Linux keys by descriptor and file.
    interest: Mutex<BTreeMap<(i32, usize), Interest>>,
    /// Bumped (under the `interest` lock) by every add and modify, so a
    /// sleeping epoll_wait knows its snapshot is stale.
    generation: AtomicU64,
    /// Notified after each bump: where epoll_wait sleeps besides the
    /// files' own queues.
    changes: WaitQueue,
    ino: u64,
}

impl Epoll {
    pub fn new() -> Epoll {
        Epoll {
            ino: super::anon_ino(),
            ..Epoll::default()
        }
    }

    fn key(fd: i32, f: &Arc<File>) -> (i32, usize) {
        (fd, Arc::as_ptr(f) as usize)
    }

    pub fn add(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> Result<(), Errno> {
        let mut m = self.interest.lock().unwrap();
        m.retain(|_, i| i.file.strong_count() > 0);
        let k = Self::key(fd, f);
        if m.contains_key(&k) {
            return Err(Errno::EEXIST);
        }
        m.insert(
            k,
            Interest {
                file: Arc::downgrade(f),
                events,
                data,
                disabled: false,
            },
        );
        self.changed(m);
        Ok(())
    }

    /// Marks the interest list changed (the caller holds its lock, given
    /// here to be released before the waiters are woken).
    fn changed(&self, m: std::sync::MutexGuard<'_, BTreeMap<(i32, usize), Interest>>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        drop(m);
        self.changes.notify_all();
    }

    /// Which version of the interest list a snapshot saw.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Notified whenever the interest list gains or changes an entry.
    pub fn changes(&self) -> &WaitQueue {
        &self.changes
    }

    pub fn modify(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> Result<(), Errno> {
        let mut m = self.interest.lock().unwrap();
        let i = m.get_mut(&Self::key(fd, f)).ok_or(Errno::ENOENT)?;
        i.events = events;
        i.data = data;
        i.disabled = false;
        self.changed(m);
        Ok(())
    }

    pub fn delete(&self, fd: i32, f: &Arc<File>) -> Result<(), Errno> {
        let mut m = self.interest.lock().unwrap();
        m.remove(&Self::key(fd, f)).map(|_| ()).ok_or(Errno::ENOENT)
    }

    /// The live interests, for a wait: (file, poll events to ask for, key),
    /// and the [`Epoll::generation`] they are of.
    pub fn snapshot(&self) -> (Vec<Watched>, u64) {
        let mut m = self.interest.lock().unwrap();
        m.retain(|_, i| i.file.strong_count() > 0);
        let generation = self.generation();
        let v = m
            .iter()
            .filter(|(_, i)| !i.disabled)
            .map(|(k, i)| {
                (
                    i.file.upgrade(),
                    ((i.events | ALWAYS) & 0xffff) as u16 as i16,
                    *k,
                )
            })
            .collect();
        (v, generation)
    }

    /// Turns readiness into events for the caller: (events, data), at most
    /// `max`; EPOLLONESHOT interests are disabled as they fire.
    pub fn collect(&self, keys: &[(i32, usize)], ready: &[i16], max: usize) -> Vec<(u32, u64)> {
        let mut m = self.interest.lock().unwrap();
        let mut out = Vec::new();
        for (k, r) in keys.iter().zip(ready) {
            if out.len() >= max {
                break;
            }
            let Some(i) = m.get_mut(k) else { continue };
            let ev = (*r as u16 as u32) & (i.events | ALWAYS);
            if ev == 0 || i.disabled {
                continue;
            }
            if i.events & libc::EPOLLONESHOT as u32 != 0 {
                i.disabled = true;
            }
            out.push((ev, i.data));
        }
        out
    }
}

impl FileOps for Epoll {
    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        super::anon_stat(self.ino)
    }

    /// An epoll descriptor is readable when one of its interests is ready
    /// (so it can be polled or nested).
    fn readiness(&self, mask: i16) -> i16 {
        let (snap, _) = self.snapshot();
        let files: Vec<(Option<Arc<File>>, i16)> =
            snap.iter().map(|(f, e, _)| (f.clone(), *e)).collect();
        let ready = crate::vfs::poll::ready_now(&files);
        if ready.iter().any(|r| *r != 0 && *r != libc::POLLNVAL) {
            (libc::POLLIN | libc::POLLRDNORM) & mask
        } else {
            0
        }
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[eventpoll]".to_vec()
    }
}
