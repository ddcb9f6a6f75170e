//! epoll: an interest list of descriptors, and a ready list of the
//! interests whose files may have something to report.
//!
//! Each interest of a file with a wait queue keeps a hook [`Waiter`] on that
//! queue for as long as it exists; the file's notifications run the hook,
//! which puts the interest on its epoll's ready list and wakes the tasks in
//! epoll_wait (Linux's ep_poll_callback; gVisor's epoll works so too). So
//! epoll_wait looks only at the ready list: its cost follows the number of
//! descriptors that changed, not the number registered.
//!
//! A notification says only "the state may have changed": epoll_wait reads
//! each listed file's readiness and drops the interests with nothing to
//! report. A level-triggered interest that reported goes back on the list,
//! to be looked at again by the next wait; an edge-triggered one does not,
//! until its file notifies again; an EPOLLONESHOT one is disabled until
//! EPOLL_CTL_MOD. An interest is taken off the list before its readiness is
//! read, so a change that lands in between either shows in that read or
//! lists it again: an edge is never lost, at worst reported twice (which
//! edge-triggered programs must tolerate anyway).
//!
//! A file without a wait queue (host files) cannot notify: its interest
//! stays on the ready list for good and is looked at by every wait (and
//! every [`SLICE`] while one sleeps), edge-triggered or not.
//!
//! Locks: a file's queue lock is held while a hook runs, and the hook takes
//! the ready list's lock; so nothing holds the ready list's lock while it
//! adds to or removes from a queue, or reads a file's readiness.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use crate::errno::Errno;
use crate::kernel::task::Task;
use crate::vfs::poll::SLICE;
use crate::vfs::{File, FileOps};
use crate::waiter::{WaitQueue, Waiter};

/// The events epoll always reports, asked or not.
const ALWAYS: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

/// What EPOLL_CTL_ADD and MOD set.
struct Settings {
    events: u32,
    data: u64,
    /// EPOLLONESHOT fired: silent until EPOLL_CTL_MOD.
    disabled: bool,
    /// EPOLL_CTL_DEL took it out (it may still sit on the ready list).
    removed: bool,
}

/// One registered (descriptor, file) pair.
struct Interest {
    /// Weak: an epoll_wait must not keep a file alive (a pipe's write end
    /// closed must still hang up its reader, as Go's os/exec waits for).
    file: Weak<File>,
    settings: Mutex<Settings>,
    /// On the ready list (or in a wait's batch taken off it).
    listed: AtomicBool,
    /// On the file's wait queue; `None` for a file without one.
    hook: Option<Arc<Waiter>>,
}

impl Interest {
    /// The poll events to ask the file for, and the epoll events they may
    /// answer.
    fn asked(s: &Settings) -> (i16, u32) {
        let want = s.events | ALWAYS;
        ((want & 0xffff) as u16 as i16, want)
    }

    /// What the file has to report now for this interest (0: nothing).
    fn events_now(&self, file: &File, s: &Settings) -> u32 {
        let (ask, want) = Self::asked(s);
        let ready = file.ops().readiness(ask) & ask;
        (ready as u16 as u32) & want
    }
}

/// The interests that may have events, and who waits for them.
#[derive(Default)]
struct Ready {
    list: Mutex<VecDeque<Arc<Interest>>>,
    /// Tasks in epoll_wait on this epoll.
    sleepers: WaitQueue,
    /// Whoever polls the epoll itself (poll, select, an epoll watching this
    /// one): its [`FileOps::wait_queue`].
    watchers: WaitQueue,
}

impl Ready {
    /// Lists `i` unless it is already.
    fn push(&self, i: &Arc<Interest>) {
        if !i.listed.swap(true, Ordering::AcqRel) {
            self.list.lock().unwrap().push_back(i.clone());
        }
    }

    fn wake(&self) {
        self.sleepers.notify_all();
        self.watchers.notify_all();
    }
}

type Key = (i32, usize);

pub struct Epoll {
    /// Keyed by (fd, the file's address): Linux keys by descriptor and file.
    interest: Mutex<BTreeMap<Key, Arc<Interest>>>,
    ready: Arc<Ready>,
    /// How many interests are of files without a wait queue: a wait then
    /// sleeps in slices to look at them again.
    polled: AtomicUsize,
    ino: u64,
}

impl Default for Epoll {
    fn default() -> Epoll {
        Epoll::new()
    }
}

/// Takes an interest's hook off its file's queue.
fn unhook(i: &Interest) {
    if let (Some(w), Some(f)) = (&i.hook, i.file.upgrade()) {
        if let Some(q) = f.ops().wait_queue() {
            q.remove(w);
        }
    }
}

impl Epoll {
    pub fn new() -> Epoll {
        Epoll {
            interest: Mutex::default(),
            ready: Arc::default(),
            polled: AtomicUsize::new(0),
            ino: super::anon_ino(),
        }
    }

    fn key(fd: i32, f: &Arc<File>) -> Key {
        (fd, Arc::as_ptr(f) as usize)
    }

    /// Forgets interests whose file is gone (their hooks went with its
    /// queue, or fire into nothing).
    fn prune(&self, m: &mut BTreeMap<Key, Arc<Interest>>) {
        m.retain(|_, i| {
            let live = i.file.strong_count() > 0;
            if !live {
                i.settings.lock().unwrap().removed = true;
                if i.hook.is_none() {
                    self.polled.fetch_sub(1, Ordering::Relaxed);
                }
            }
            live
        });
    }

    pub fn add(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> Result<(), Errno> {
        let mut m = self.interest.lock().unwrap();
        self.prune(&mut m);
        let k = Self::key(fd, f);
        if m.contains_key(&k) {
            return Err(Errno::EEXIST);
        }
        let queue = f.ops().wait_queue();
        let ready = Arc::downgrade(&self.ready);
        let i = Arc::new_cyclic(|me: &Weak<Interest>| {
            let me = me.clone();
            Interest {
                file: Arc::downgrade(f),
                settings: Mutex::new(Settings {
                    events,
                    data,
                    disabled: false,
                    removed: false,
                }),
                listed: AtomicBool::new(false),
                hook: queue.is_some().then(|| {
                    Waiter::with_hook(move || {
                        // Woken even if it was listed already: a listed
                        // interest may have been looked at and found
                        // quiet by a poll of this epoll (Linux wakes so).
                        if let (Some(r), Some(i)) = (ready.upgrade(), me.upgrade()) {
                            r.push(&i);
                            r.wake();
                        }
                    })
                }),
            }
        });
        match (&i.hook, queue) {
            (Some(w), Some(q)) => q.add(w),
            _ => {
                self.polled.fetch_add(1, Ordering::Relaxed);
            }
        }
        m.insert(k, i.clone());
        drop(m);
        // Looked at by the next wait: a file already ready is reported
        // (once, if edge-triggered), as Linux does on EPOLL_CTL_ADD.
        self.ready.push(&i);
        self.ready.wake();
        Ok(())
    }

    pub fn modify(&self, fd: i32, f: &Arc<File>, events: u32, data: u64) -> Result<(), Errno> {
        let i = {
            let m = self.interest.lock().unwrap();
            m.get(&Self::key(fd, f)).ok_or(Errno::ENOENT)?.clone()
        };
        {
            let mut s = i.settings.lock().unwrap();
            // An exclusive wake-up interest cannot be changed (Linux: EINVAL).
            if s.events & libc::EPOLLEXCLUSIVE as u32 != 0 {
                return Err(Errno::EINVAL);
            }
            s.events = events;
            s.data = data;
            s.disabled = false;
        }
        // As after EPOLL_CTL_ADD: a file ready now is reported.
        self.ready.push(&i);
        self.ready.wake();
        Ok(())
    }

    pub fn delete(&self, fd: i32, f: &Arc<File>) -> Result<(), Errno> {
        let i = {
            let mut m = self.interest.lock().unwrap();
            m.remove(&Self::key(fd, f)).ok_or(Errno::ENOENT)?
        };
        i.settings.lock().unwrap().removed = true;
        if i.hook.is_none() {
            self.polled.fetch_sub(1, Ordering::Relaxed);
        }
        unhook(&i);
        Ok(())
    }

    /// The files of the interest list that still exist (for the loop
    /// check of nested epolls).
    pub fn files(&self) -> Vec<Arc<File>> {
        let m = self.interest.lock().unwrap();
        m.values().filter_map(|i| i.file.upgrade()).collect()
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

    /// Waits until an interest has events to report (at most `max`), the
    /// deadline passes (no events) or a signal comes (ERESTARTSYS).
    ///
    /// The task sleeps on the epoll's own queue only: the hooks on the
    /// files' queues wake it, and so does an interest added or changed by
    /// another thread meanwhile (Go's netpoller sleeps here while other
    /// threads register new descriptors).
    pub fn wait(
        &self,
        t: &Task,
        max: usize,
        deadline: Option<Instant>,
    ) -> Result<Vec<(u32, u64)>, Errno> {
        let w = t.handle.waiter.clone();
        self.ready.sleepers.add(&w);
        let r = loop {
            // Files without a queue are looked at again after each slice.
            // They stay listed, so a list that is not empty may hold one
            // (an epoll nested here that watches one, say).
            let poll = self.polled.load(Ordering::Relaxed) > 0
                || !self.ready.list.lock().unwrap().is_empty();
            let slice_end = poll.then(|| Instant::now() + SLICE);
            let until = match (deadline, slice_end) {
                (Some(d), Some(s)) => Some(d.min(s)),
                (d, s) => d.or(s),
            };
            let mut out = Vec::new();
            let r = t.sleep_until(until, &mut || {
                out = self.harvest(max);
                !out.is_empty()
            });
            match r {
                Ok(()) => break Ok(out),
                Err(Errno::ETIMEDOUT) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    break Ok(Vec::new())
                }
                Err(Errno::ETIMEDOUT) => continue,
                Err(e) => break Err(e),
            }
        };
        self.ready.sleepers.remove(&w);
        // Interests still listed (level-triggered ones that reported, or
        // more than `max`) are for the other tasks waiting here too
        // (Linux's ep_done_scan wakes them so).
        if !self.ready.list.lock().unwrap().is_empty() {
            self.ready.sleepers.notify_all();
        }
        r
    }

    /// Takes the events to report now off the ready list: (events, data),
    /// at most `max`. Level-triggered interests that reported, and those of
    /// files without a queue, go back on the list's tail; EPOLLONESHOT ones
    /// are disabled as they fire.
    fn harvest(&self, max: usize) -> Vec<(u32, u64)> {
        let mut batch = std::mem::take(&mut *self.ready.list.lock().unwrap());
        let mut out = Vec::new();
        let mut again = Vec::new();
        while out.len() < max {
            let Some(i) = batch.pop_front() else { break };
            // Off the list before its readiness is read: a notification
            // from now on lists it again.
            i.listed.store(false, Ordering::Release);
            let Some(file) = i.file.upgrade() else {
                continue;
            };
            let mut s = i.settings.lock().unwrap();
            if s.removed || s.disabled {
                continue;
            }
            let ev = i.events_now(&file, &s);
            let oneshot = s.events & libc::EPOLLONESHOT as u32 != 0;
            if ev != 0 {
                s.disabled = oneshot;
                out.push((ev, s.data));
            }
            let level = s.events & libc::EPOLLET as u32 == 0 && ev != 0;
            if !s.disabled && (level || i.hook.is_none() || file.ops().needs_polling()) {
                again.push(i.clone());
            }
        }
        if !batch.is_empty() || !again.is_empty() {
            let mut list = self.ready.list.lock().unwrap();
            // The interests not looked at keep their place, ahead of any
            // listed meanwhile.
            while let Some(i) = batch.pop_back() {
                list.push_front(i);
            }
            for i in again {
                if !i.listed.swap(true, Ordering::AcqRel) {
                    list.push_back(i);
                }
            }
        }
        out
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        let m = self.interest.get_mut().unwrap_or_else(|e| e.into_inner());
        for i in m.values() {
            unhook(i);
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

    /// An epoll descriptor is readable when one of its listed interests has
    /// events (so it can be polled or nested). It only looks: the list is
    /// left as it is for epoll_wait.
    fn readiness(&self, mask: i16) -> i16 {
        let listed: Vec<Arc<Interest>> = self.ready.list.lock().unwrap().iter().cloned().collect();
        let any = listed.iter().any(|i| {
            let Some(file) = i.file.upgrade() else {
                return false;
            };
            let s = i.settings.lock().unwrap();
            !s.removed && !s.disabled && i.events_now(&file, &s) != 0
        });
        if any {
            (libc::POLLIN | libc::POLLRDNORM) & mask
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.ready.watchers)
    }

    /// A file it watches that cannot notify makes it one that cannot
    /// either (one level deep: deeper nests of host files are not looked
    /// at again until something notifies).
    fn needs_polling(&self) -> bool {
        self.polled.load(Ordering::Relaxed) > 0
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[eventpoll]".to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(ep: &Epoll) -> usize {
        ep.ready.list.lock().unwrap().len()
    }

    #[test]
    fn an_edge_triggered_pipe_is_reported_once_per_change() {
        let (r, w) = crate::fsimpl::pipe::new_pipe_files(0);
        let ep = Epoll::new();
        let et = (libc::EPOLLIN | libc::EPOLLET) as u32;
        ep.add(3, &r, et, 7).unwrap();
        ep.add(4, &w, (libc::EPOLLOUT | libc::EPOLLET) as u32, 8)
            .unwrap();
        // The write end is writable: reported once after ADD, then not again
        // while nothing changes.
        assert_eq!(ep.harvest(8), vec![(libc::EPOLLOUT as u32, 8)]);
        assert_eq!(ep.harvest(8), vec![]);
        assert_eq!(listed(&ep), 0);
        // A notification of the write end (a reader took data, say): it is
        // reported once more. One of the (empty) read end: nothing.
        w.ops().wait_queue().unwrap().notify_all();
        r.ops().wait_queue().unwrap().notify_all();
        assert_eq!(ep.harvest(8), vec![(libc::EPOLLOUT as u32, 8)]);
        assert_eq!(ep.harvest(8), vec![]);
        // Deleting takes the hook off the file's queue.
        ep.delete(4, &w).unwrap();
        w.ops().wait_queue().unwrap().notify_all();
        assert_eq!(ep.harvest(8), vec![]);
    }

    #[test]
    fn level_triggered_interests_are_reported_while_ready() {
        let (_r, w) = crate::fsimpl::pipe::new_pipe_files(0);
        let ep = Epoll::new();
        ep.add(4, &w, libc::EPOLLOUT as u32, 8).unwrap();
        assert_eq!(ep.harvest(8), vec![(libc::EPOLLOUT as u32, 8)]);
        assert_eq!(ep.harvest(8), vec![(libc::EPOLLOUT as u32, 8)]);
    }

    #[test]
    fn only_notified_interests_are_looked_at() {
        let ep = Epoll::new();
        let pipes: Vec<_> = (0..100)
            .map(|_| crate::fsimpl::pipe::new_pipe_files(0))
            .collect();
        for (n, (r, _)) in pipes.iter().enumerate() {
            ep.add(n as i32, r, libc::EPOLLIN as u32, n as u64).unwrap();
        }
        // Every new interest is looked at once; none is readable.
        assert_eq!(ep.harvest(8), vec![]);
        assert_eq!(listed(&ep), 0);
        pipes[42].1.ops().wait_queue().unwrap().notify_all();
        assert_eq!(listed(&ep), 1);
    }

    #[test]
    fn a_oneshot_interest_fires_once_until_modified() {
        let (_r, w) = crate::fsimpl::pipe::new_pipe_files(0);
        let ep = Epoll::new();
        let ev = (libc::EPOLLOUT | libc::EPOLLONESHOT) as u32;
        ep.add(4, &w, ev, 8).unwrap();
        assert_eq!(ep.harvest(8), vec![(libc::EPOLLOUT as u32, 8)]);
        w.ops().wait_queue().unwrap().notify_all();
        assert_eq!(ep.harvest(8), vec![]);
        ep.modify(4, &w, ev, 9).unwrap();
        assert_eq!(ep.harvest(8), vec![(libc::EPOLLOUT as u32, 9)]);
    }

    #[test]
    fn more_ready_interests_than_max_take_turns() {
        let ep = Epoll::new();
        let pipes: Vec<_> = (0..3)
            .map(|_| crate::fsimpl::pipe::new_pipe_files(0))
            .collect();
        for (n, (_, w)) in pipes.iter().enumerate() {
            ep.add(n as i32, w, libc::EPOLLOUT as u32, n as u64)
                .unwrap();
        }
        let out = libc::EPOLLOUT as u32;
        assert_eq!(ep.harvest(2), vec![(out, 0), (out, 1)]);
        assert_eq!(ep.harvest(2), vec![(out, 2), (out, 0)]);
    }
}
