//! A fanotify group: the FileOps of a fanotify_init descriptor. Its
//! queue merges an event into an unread one about the same object by the
//! same process (Linux's fanotify_merge), ends in FAN_Q_OVERFLOW when full,
//! and hands permission events to the reader, who answers them by
//! writing `struct fanotify_response` with the event's descriptor.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::event::{Event, MergeKey};
use super::marks::{Marks, Object};
use super::FID_BITS;
use crate::errno::Errno;
use crate::vfs::{Caller, Dentry, File, FileOps, InodeRef, Mount, Super};
use crate::waiter::WaitQueue;

/// Queued events per group (fs.fanotify.max_queued_events), unless
/// FAN_UNLIMITED_QUEUE.
const MAX_QUEUED: usize = 16384;
/// FAN_UNLIMITED_QUEUE's limit: Linux's is the memory cgroup's; the
/// Sentry's memory is everyone's, so an unread queue stops here too.
const MAX_QUEUED_UNLIMITED: usize = 1 << 20;

/// A permission event's answer, which the acting task waits for.
pub struct Perm {
    /// FAN_ALLOW or FAN_DENY once answered.
    answer: Mutex<Option<u32>>,
    queue: WaitQueue,
    group: Weak<Shared>,
}

impl Perm {
    fn answer(&self, a: u32) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
        self.queue.notify_all();
    }

    fn answered(&self) -> Option<u32> {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the answer (interruptibly): EPERM if denied. A signal
    /// withdraws the question.
    pub fn wait(self: &Arc<Self>, t: &dyn Caller) -> Result<(), Errno> {
        let r = t.block(&[&self.queue], None, &mut || self.answered().is_some());
        if let Err(e) = r {
            if let Some(g) = self.group.upgrade() {
                g.withdraw(self);
            }
            if self.answered().is_none() {
                return Err(e);
            }
        }
        match self.answered() {
            Some(libc::FAN_DENY) => Err(Errno::EPERM),
            _ => Ok(()),
        }
    }
}

/// What a marked object's group holds of it, so its key stays its own:
/// the inode itself (Linux's marks pin theirs), or the allocation of a
/// mount or filesystem (a weak reference keeps the address, not the
/// object).
enum Held {
    Inode { _pin: InodeRef },
    Mount { _pin: Weak<Mount> },
    Filesystem { _pin: Weak<Super> },
}

#[derive(Default)]
struct State {
    events: VecDeque<Event>,
    /// Sequence number of `events[0]`; an event's is its index plus this.
    front: u64,
    /// Unread mergeable events by what they are about.
    merge: HashMap<MergeKey, u64>,
    /// Permission events read and not answered yet, by their descriptor.
    asked: HashMap<i32, Arc<Perm>>,
    /// What the group's marks are on.
    objects: HashMap<Object, Held>,
    closed: bool,
}

pub struct Shared {
    st: Mutex<State>,
    queue: WaitQueue,
    /// fanotify_init's flags and event_f_flags.
    flags: u32,
    event_flags: i32,
    /// Made without CAP_SYS_ADMIN: no pids but the reader's own.
    unprivileged: bool,
    overflow_pending: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reports_fid(&self) -> bool {
        self.flags & FID_BITS != 0
    }

    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Queues `ev`, merged into an unread event about the same thing when
    /// it can be; a full queue takes one FAN_Q_OVERFLOW instead. Returns
    /// false when the event was not queued (a permission event then
    /// passes, as Linux lets it).
    pub fn push(&self, ev: Event) -> bool {
        {
            let mut st = self.lock();
            if st.closed {
                return false;
            }
            let key = ev.merge_key();
            if let Some(k) = &key {
                if let Some(&seq) = st.merge.get(k) {
                    let front = st.front;
                    if let Some(old) = st.events.get_mut((seq - front) as usize) {
                        old.mask |= ev.mask;
                        return true;
                    }
                }
            }
            let limit = if self.flags & libc::FAN_UNLIMITED_QUEUE != 0 {
                MAX_QUEUED_UNLIMITED
            } else {
                MAX_QUEUED
            };
            if st.events.len() >= limit {
                if !self.overflow_pending.swap(true, Ordering::Relaxed) {
                    st.events.push_back(Event::overflow());
                }
                drop(st);
                self.queue.notify_all();
                return false;
            }
            let seq = st.front + st.events.len() as u64;
            if let Some(k) = key {
                st.merge.insert(k, seq);
            }
            st.events.push_back(ev);
        }
        self.queue.notify_all();
        true
    }

    /// A permission event whose asker gave up (a signal): out of the
    /// queue if unread. One already read still takes its answer, as
    /// Linux's cancelled events do.
    fn withdraw(&self, p: &Arc<Perm>) {
        let mut st = self.lock();
        if let Some(i) = st
            .events
            .iter()
            .position(|e| e.perm.as_ref().is_some_and(|q| Arc::ptr_eq(q, p)))
        {
            // Keep sequence numbers: leave a harmless hole of no event.
            st.events[i].mask = 0;
            st.events[i].perm = None;
        }
    }

    /// A permission question for `ev`: queued, with the answer to wait
    /// for; None if the queue could not take it (allowed).
    pub fn ask(self: &Arc<Self>, mut ev: Event) -> Option<Arc<Perm>> {
        let p = Arc::new(Perm {
            answer: Mutex::new(None),
            queue: WaitQueue::new(),
            group: Arc::downgrade(self),
        });
        ev.perm = Some(p.clone());
        self.push(ev).then_some(p)
    }

    /// Remembers that the group marks `held` as `obj`.
    pub(super) fn hold(&self, obj: Object, held: HeldObject) {
        let h = match held {
            HeldObject::Inode(i) => Held::Inode { _pin: i },
            HeldObject::Mount(m) => Held::Mount {
                _pin: Arc::downgrade(&m),
            },
            HeldObject::Filesystem(s) => Held::Filesystem {
                _pin: Arc::downgrade(&s),
            },
        };
        self.lock().objects.insert(obj, h);
    }

    pub(super) fn unhold(&self, obj: &Object) {
        self.lock().objects.remove(obj);
    }

    /// The inode's marks went with it.
    pub(super) fn inode_gone(&self, obj: &Object) {
        self.unhold(obj);
    }
}

/// What fanotify_mark marked, for the group to hold.
pub enum HeldObject {
    Inode(InodeRef),
    Mount(Arc<Mount>),
    Filesystem(Arc<Super>),
}

/// A fanotify group, as a file.
pub struct Group {
    shared: Arc<Shared>,
    /// The marks of the VFS it was made in.
    marks: Arc<Marks>,
    ino: u64,
}

impl Group {
    pub fn new(marks: &Arc<Marks>, flags: u32, event_flags: i32, unprivileged: bool) -> Group {
        Group {
            shared: Arc::new(Shared {
                st: Mutex::new(State::default()),
                queue: WaitQueue::new(),
                flags,
                event_flags,
                unprivileged,
                overflow_pending: AtomicBool::new(false),
            }),
            marks: marks.clone(),
            ino: crate::vfs::anon::anon_ino(),
        }
    }

    pub fn flags(&self) -> u32 {
        self.shared.flags
    }

    /// FAN_MARK_ADD of `mask` on `obj` (the ignore mask with `ignore`).
    pub fn add_mark(
        &self,
        obj: Object,
        held: HeldObject,
        mask: u64,
        ignore: bool,
        flags: u32,
    ) -> Result<(), Errno> {
        if self.marks.add(&self.shared, obj, mask, ignore, flags)? {
            self.shared.hold(obj, held);
        }
        Ok(())
    }

    /// FAN_MARK_REMOVE.
    pub fn remove_mark(&self, obj: Object, mask: u64, ignore: bool) -> Result<(), Errno> {
        if self.marks.remove(&self.shared, obj, mask, ignore)? {
            self.shared.unhold(&obj);
        }
        Ok(())
    }

    /// FAN_MARK_FLUSH: the group's marks of one kind go.
    pub fn flush(&self, kind: fn(&Object) -> bool) {
        let objs: Vec<Object> = {
            let mut st = self.shared.lock();
            let objs: Vec<Object> = st.objects.keys().filter(|o| kind(o)).copied().collect();
            for o in &objs {
                st.objects.remove(o);
            }
            objs
        };
        self.marks
            .drop_marks(Arc::as_ptr(&self.shared), objs.into_iter());
    }

    /// Opens the event's file for the reader, as fanotify does: with the
    /// group's event_f_flags, no permission check and no events of its own.
    fn open_fd(&self, t: &dyn Caller, d: &Arc<Dentry>) -> Result<i32, Errno> {
        let flags = self.shared.event_flags & !libc::O_CLOEXEC;
        let ctx = crate::vfs::ops::Ctx::of(t);
        let ops = d.inode.clone().open_by(flags, &ctx)?;
        let f = File::new_unwatched(ops, Some(d.clone()), flags);
        t.fds()
            .install(f, self.shared.event_flags & libc::O_CLOEXEC != 0)
    }

    /// The events that fit in `buf`, without blocking: None when none is
    /// queued.
    fn try_read(&self, t: &dyn Caller, buf: &mut [u8]) -> Option<Result<usize, Errno>> {
        let mut out = Vec::new();
        loop {
            let ev = {
                let mut st = self.shared.lock();
                // Holes left by withdrawn questions.
                while st.events.front().is_some_and(|e| e.mask == 0) {
                    st.events.pop_front();
                    st.front += 1;
                }
                let Some(first) = st.events.front() else {
                    break;
                };
                if out.len() + first.len(self.shared.flags) > buf.len() {
                    if out.is_empty() {
                        return Some(Err(Errno::EINVAL));
                    }
                    break;
                }
                let ev = st.events.pop_front().expect("front exists");
                st.front += 1;
                if let Some(k) = ev.merge_key() {
                    st.merge.remove(&k);
                }
                if ev.mask & libc::FAN_Q_OVERFLOW != 0 {
                    self.shared.overflow_pending.store(false, Ordering::Relaxed);
                }
                ev
            };
            let fd = match &ev.path {
                Some(d) if !self.shared.reports_fid() => match self.open_fd(t, d) {
                    Ok(fd) => fd,
                    Err(e) => {
                        if let Some(p) = &ev.perm {
                            p.answer(libc::FAN_DENY);
                        }
                        if out.is_empty() {
                            return Some(Err(e));
                        }
                        break;
                    }
                },
                _ => libc::FAN_NOFD,
            };
            let pid = if ev.pid == 0 || self.shared.unprivileged && ev.pid != t.tgid() {
                0
            } else {
                t.pid_seen(ev.pid)
            };
            ev.encode(self.shared.flags, fd, pid, &mut out);
            if let Some(p) = ev.perm {
                self.shared.lock().asked.insert(fd, p);
            }
        }
        if out.is_empty() {
            return None;
        }
        buf[..out.len()].copy_from_slice(&out);
        Some(Ok(out.len()))
    }

    fn queued_bytes(&self) -> usize {
        let flags = self.shared.flags;
        self.shared.lock().events.iter().map(|e| e.len(flags)).sum()
    }
}

impl Drop for Group {
    /// The group goes: its marks go and every question is allowed.
    fn drop(&mut self) {
        let (objs, perms) = {
            let mut st = self.shared.lock();
            st.closed = true;
            let objs: Vec<Object> = st.objects.drain().map(|(o, _)| o).collect();
            let mut perms: Vec<Arc<Perm>> = st.asked.drain().map(|(_, p)| p).collect();
            perms.extend(st.events.drain(..).filter_map(|e| e.perm));
            st.merge.clear();
            (objs, perms)
        };
        self.marks
            .drop_marks(Arc::as_ptr(&self.shared), objs.into_iter());
        for p in perms {
            p.answer(libc::FAN_ALLOW);
        }
    }
}

impl FileOps for Group {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        loop {
            if let Some(r) = self.try_read(t, buf) {
                return r;
            }
            if f.nonblocking() {
                return Err(Errno::EAGAIN);
            }
            t.block(&[&self.shared.queue], None, &mut || {
                !self.shared.lock().events.is_empty()
            })?;
        }
    }

    /// A `struct fanotify_response`: the descriptor of a permission event
    /// read, and FAN_ALLOW or FAN_DENY.
    fn write(&self, _t: &dyn Caller, _f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let size = std::mem::size_of::<libc::fanotify_response>();
        if buf.len() < size {
            return Err(Errno::EINVAL);
        }
        let fd = i32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes"));
        let response = u32::from_ne_bytes(buf[4..8].try_into().expect("4 bytes"));
        let access = response & !(libc::FAN_AUDIT | libc::FAN_INFO);
        if access != libc::FAN_ALLOW && access != libc::FAN_DENY {
            return Err(Errno::EINVAL);
        }
        if response & libc::FAN_AUDIT != 0 && self.shared.flags & libc::FAN_ENABLE_AUDIT == 0 {
            return Err(Errno::EINVAL);
        }
        if response & libc::FAN_INFO != 0 || fd < 0 {
            return Err(Errno::EINVAL);
        }
        let p = self.shared.lock().asked.remove(&fd).ok_or(Errno::ENOENT)?;
        p.answer(access);
        Ok(size)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        crate::vfs::anon::anon_stat(self.ino)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.queued_bytes() as u64)
    }

    fn readiness(&self, mask: i16) -> i16 {
        if self.shared.lock().events.is_empty() {
            0
        } else {
            mask & (libc::POLLIN | libc::POLLRDNORM)
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.shared.queue)
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[fanotify]".to_vec()
    }
}
