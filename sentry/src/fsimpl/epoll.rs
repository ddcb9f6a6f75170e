//! epoll: an interest list of descriptors whose readiness epoll_wait
//! reports.
//!
//! Readiness comes from each file's `FileOps::readiness`, and waiting uses
//! the files' wait queues plus the epoll's own `changes` queue (an interest
//! added while a thread sleeps in epoll_wait must wake it: see
//! `syscalls/epoll.rs`).
//!
//! EPOLLET: an edge-triggered interest keeps a [`Waiter`] on its file's wait
//! queue for as long as it exists. Nobody sleeps on it; the file's
//! notifications set its flag, which says "the file's state may have
//! changed since the last report". An edge-triggered interest is reported
//! only when that flag is set *and* the file is ready, and the report
//! consumes the flag. The flag is consumed before the readiness is read,
//! so a change that lands in between is either seen by that read or sets
//! the flag again: an edge is never lost, at worst reported twice (which
//! edge-triggered programs must tolerate anyway). A program that holds a
//! writable pipe end in an edge-triggered set (Go's netpoller holds every
//! descriptor so) then sleeps instead of being told about it forever.
//! A file without a wait queue cannot signal edges: it is reported as
//! level-triggered.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crate::errno::Errno;
use crate::kernel::task::Task;
use crate::vfs::poll::SLICE;
use crate::vfs::{File, FileOps};
use crate::waiter::{WaitQueue, Waiter};

#[derive(Clone)]
pub struct Interest {
    pub file: Weak<File>,
    pub events: u32,
    pub data: u64,
    /// EPOLLONESHOT fired: silent until EPOLL_CTL_MOD.
    pub disabled: bool,
    /// EPOLLET on a file with a wait queue: the flag its notifications set.
    edge: Option<Arc<Waiter>>,
}

/// The events epoll always reports, asked or not.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// One interest as a wait sees it: the file, the poll events to ask for,
/// and its key in the interest list. The file is weak: an epoll_wait asleep
/// must not keep a file alive (a pipe's write end closed meanwhile must
/// still hang up its reader, as the Go runtime's os/exec waits for).
pub type Watched = (Weak<File>, i16, (i32, usize));

type Interests = BTreeMap<(i32, usize), Interest>;

#[derive(Default)]
pub struct Epoll {
    /// Keyed by (fd, the file's address): Linux keys by descriptor and file.
    interest: Mutex<Interests>,
    /// Bumped (under the `interest` lock) by every add and modify, so a
    /// sleeping epoll_wait knows its snapshot is stale.
    generation: AtomicU64,
    /// Notified after each bump: where epoll_wait sleeps besides the
    /// files' own queues.
    changes: WaitQueue,
    ino: u64,
}

/// The edge flag of a new or changed interest: set, so that a file already
/// ready is reported once, as Linux does on EPOLL_CTL_ADD and MOD.
fn edge_flag(f: &Arc<File>, events: u32) -> Option<Arc<Waiter>> {
    if events & libc::EPOLLET as u32 == 0 {
        return None;
    }
    let q = f.ops().wait_queue()?;
    let w = Waiter::new();
    w.notify();
    q.add(&w);
    Some(w)
}

/// Takes an interest's edge flag off its file's queue.
fn drop_edge(i: &Interest) {
    if let (Some(w), Some(f)) = (&i.edge, i.file.upgrade()) {
        if let Some(q) = f.ops().wait_queue() {
            q.remove(w);
        }
    }
}

/// Forgets interests whose file is gone (their queues went with them).
fn prune(m: &mut Interests) {
    m.retain(|_, i| i.file.strong_count() > 0);
}

impl Epoll {
    pub fn new() -> Epoll {
        Epoll {
            interest: Mutex::default(),
            generation: AtomicU64::new(0),
            changes: WaitQueue::new(),
            ino: super::anon_ino(),
        }
    }

    fn key(fd: i32, f: &Arc<File>) -> (i32, usize) {
        (fd, Arc::as_ptr(f) as usize)
    }

    pub fn add(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> Result<(), Errno> {
        let mut m = self.interest.lock().unwrap();
        prune(&mut m);
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
                edge: edge_flag(f, events),
            },
        );
        self.changed(m);
        Ok(())
    }

    /// Marks the interest list changed (the caller holds its lock, given
    /// here to be released before the waiters are woken).
    fn changed(&self, m: std::sync::MutexGuard<'_, Interests>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        drop(m);
        self.changes.notify_all();
    }

    /// The files of the interest list that still exist (for the loop
    /// check of nested epolls).
    pub fn files(&self) -> Vec<Arc<File>> {
        let m = self.interest.lock().unwrap();
        m.values().filter_map(|i| i.file.upgrade()).collect()
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
        // An exclusive wake-up interest cannot be changed (Linux: EINVAL).
        if i.events & libc::EPOLLEXCLUSIVE as u32 != 0 {
            return Err(Errno::EINVAL);
        }
        drop_edge(i);
        i.events = events;
        i.data = data;
        i.disabled = false;
        i.edge = edge_flag(f, events);
        self.changed(m);
        Ok(())
    }

    pub fn delete(&self, fd: i32, f: &Arc<File>) -> Result<(), Errno> {
        let mut m = self.interest.lock().unwrap();
        let i = m.remove(&Self::key(fd, f)).ok_or(Errno::ENOENT)?;
        drop_edge(&i);
        Ok(())
    }

    /// The file of the `nth` interest registered under descriptor number
    /// `fd` (several, when the number was closed and reused while the old
    /// file stayed registered), for kcmp's KCMP_EPOLL_TFD.
    pub fn target(&self, fd: i32, nth: usize) -> Option<Arc<File>> {
        let m = self.interest.lock().unwrap();
        m.range((fd, 0)..=(fd, usize::MAX))
            .filter_map(|(_, i)| i.file.upgrade())
            .nth(nth)
    }

    /// The live interests, for a wait: (file, poll events to ask for, key),
    /// and the [`Epoll::generation`] they are of.
    pub fn snapshot(&self) -> (Vec<Watched>, u64) {
        let mut m = self.interest.lock().unwrap();
        prune(&mut m);
        let generation = self.generation();
        let v = m
            .iter()
            .filter(|(_, i)| !i.disabled)
            .map(|(k, i)| {
                (
                    i.file.clone(),
                    ((i.events | ALWAYS) & 0xffff) as u16 as i16,
                    *k,
                )
            })
            .collect();
        (v, generation)
    }

    /// Waits until an interest has events to report (at most `max`), the
    /// deadline passes (no events) or a signal comes (ERESTARTSYS).
    ///
    /// It sleeps on each file's queue and on `changes`: a descriptor added
    /// or changed by another thread meanwhile must end the sleep (Go's
    /// netpoller sleeps here while other threads register new
    /// descriptors), and the loop then waits on the new list. The files are
    /// held only while the waiter goes on their queues: one closed during
    /// the sleep is released at once (a pipe's write end then hangs up its
    /// reader). Its queue may outlive it (a pipe's is shared by both ends)
    /// and keep the waiter a while: that costs the task a spurious wake-up
    /// at most.
    pub fn wait(
        &self,
        t: &Task,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<(u32, u64)>, Errno> {
        let w = t.handle.waiter.clone();
        loop {
            let (snap, generation) = self.snapshot();
            let mut registered: Vec<Weak<File>> = Vec::new();
            let mut unqueued = false;
            for (f, _, _) in &snap {
                let Some(f) = f.upgrade() else { continue };
                match f.ops().wait_queue() {
                    Some(q) => {
                        q.add(&w);
                        registered.push(Arc::downgrade(&f));
                    }
                    None => unqueued = true,
                }
            }
            self.changes.add(&w);
            // Files without a queue are looked at again after each slice.
            let slice_end = unqueued.then(|| Instant::now() + SLICE);
            let until = match (deadline, slice_end) {
                (Some(d), Some(s)) => Some(d.min(s)),
                (d, s) => d.or(s),
            };
            let mut out = Vec::new();
            let r = t.sleep_until(until, &mut || {
                out = self.collect(&snap, max);
                !out.is_empty() || self.generation() != generation
            });
            self.changes.remove(&w);
            for f in registered.iter().filter_map(Weak::upgrade) {
                if let Some(q) = f.ops().wait_queue() {
                    q.remove(&w);
                }
            }
            match r {
                // The interest list changed: wait again on the new one.
                Ok(()) if out.is_empty() => continue,
                Ok(()) => return Ok(out),
                Err(Errno::ETIMEDOUT) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    return Ok(Vec::new())
                }
                Err(Errno::ETIMEDOUT) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The events to report now among `snap`: (events, data), at most
    /// `max`. EPOLLONESHOT interests are disabled as they fire, and an
    /// edge-triggered interest is reported only if its file notified since
    /// its last report (its flag is consumed before the readiness is read).
    pub fn collect(&self, snap: &[Watched], max: usize) -> Vec<(u32, u64)> {
        let mut m = self.interest.lock().unwrap();
        let mut out = Vec::new();
        for (file, ask, k) in snap {
            if out.len() >= max {
                break;
            }
            let Some(file) = file.upgrade() else { continue };
            let Some(i) = m.get_mut(k) else { continue };
            if i.disabled {
                continue;
            }
            if i.edge.as_ref().is_some_and(|w| !w.take()) {
                continue;
            }
            let ready = file.ops().readiness(*ask) & *ask;
            let ev = (ready as u16 as u32) & (i.events | ALWAYS);
            if ev == 0 {
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

impl Drop for Epoll {
    fn drop(&mut self) {
        let m = self.interest.get_mut().unwrap_or_else(|e| e.into_inner());
        for i in m.values() {
            drop_edge(i);
        }
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
            snap.iter().map(|(f, e, _)| (f.upgrade(), *e)).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn interest_count(ep: &Epoll) -> usize {
        ep.snapshot().0.len()
    }

    #[test]
    fn an_edge_triggered_pipe_is_reported_once_per_change() {
        let (r, w) = crate::fsimpl::pipe::new_pipe_files(0);
        let ep = Epoll::new();
        let et = (libc::EPOLLIN | libc::EPOLLET) as u32;
        ep.add(3, &r, et, 7).unwrap();
        ep.add(4, &w, (libc::EPOLLOUT | libc::EPOLLET) as u32, 8)
            .unwrap();
        let (snap, _) = ep.snapshot();
        // The write end is writable: reported once after ADD, then not again
        // while nothing changes.
        assert_eq!(ep.collect(&snap, 8), vec![(libc::EPOLLOUT as u32, 8)]);
        assert_eq!(ep.collect(&snap, 8), vec![]);
        assert_eq!(interest_count(&ep), 2);
        // A notification of the write end (a reader took data, say): it is
        // reported once more. One of the (empty) read end: nothing, and its
        // flag is spent.
        w.ops().wait_queue().unwrap().notify_all();
        r.ops().wait_queue().unwrap().notify_all();
        assert_eq!(ep.collect(&snap, 8), vec![(libc::EPOLLOUT as u32, 8)]);
        assert_eq!(ep.collect(&snap, 8), vec![]);
        // Deleting takes the flag off the file's queue.
        ep.delete(4, &w).unwrap();
        w.ops().wait_queue().unwrap().notify_all();
        let (snap, _) = ep.snapshot();
        assert_eq!(ep.collect(&snap, 8), vec![]);
    }

    #[test]
    fn level_triggered_interests_are_reported_while_ready() {
        let (_r, w) = crate::fsimpl::pipe::new_pipe_files(0);
        let ep = Epoll::new();
        ep.add(4, &w, libc::EPOLLOUT as u32, 8).unwrap();
        let (snap, _) = ep.snapshot();
        assert_eq!(ep.collect(&snap, 8), vec![(libc::EPOLLOUT as u32, 8)]);
        assert_eq!(ep.collect(&snap, 8), vec![(libc::EPOLLOUT as u32, 8)]);
    }

    #[test]
    fn a_new_interest_moves_the_generation() {
        let (r, _w) = crate::fsimpl::pipe::new_pipe_files(0);
        let ep = Epoll::new();
        let g = ep.generation();
        ep.add(3, &r, libc::EPOLLIN as u32, 1).unwrap();
        assert_ne!(ep.generation(), g);
    }
}
