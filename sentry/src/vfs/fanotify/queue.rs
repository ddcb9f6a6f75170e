//! A fanotify group's queue ([`Shared`], what its marks point to): it
//! merges an event into an unread one about the same object by the same
//! process (Linux's fanotify_merge), ends in FAN_Q_OVERFLOW when full,
//! and keeps the permission questions read until they are answered.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::event::{Event, MergeKey};
use super::object::Object;
use super::perm::{Perm, Withdraw};
use super::FID_BITS;
use crate::vfs::{InodeRef, Mount, Super};
use crate::waiter::WaitQueue;

/// Queued events per group (fs.fanotify.max_queued_events), unless
/// FAN_UNLIMITED_QUEUE.
const MAX_QUEUED: usize = 16384;
/// FAN_UNLIMITED_QUEUE's limit: Linux's is the memory cgroup's; the
/// Sentry's memory is everyone's, so an unread queue stops here too.
const MAX_QUEUED_UNLIMITED: usize = 1 << 20;

/// What a marked object's group holds of it, so its key stays its own:
/// the inode itself (Linux's marks pin theirs), or the allocation of a
/// mount or filesystem (a weak reference keeps the address, not the
/// object).
pub(super) enum Held {
    Inode { _pin: InodeRef },
    Mount { _pin: Weak<Mount> },
    Filesystem { _pin: Weak<Super> },
}

#[derive(Default)]
pub(super) struct State {
    pub(super) events: VecDeque<Event>,
    /// Sequence number of `events[0]`; an event's is its index plus this.
    pub(super) front: u64,
    /// Unread mergeable events by what they are about.
    pub(super) merge: HashMap<MergeKey, u64>,
    /// Permission events read and not answered yet, by their descriptor.
    pub(super) asked: HashMap<i32, Arc<Perm>>,
    /// What the group's marks are on.
    pub(super) objects: HashMap<Object, Held>,
    pub(super) closed: bool,
}

pub struct Shared {
    pub(super) st: Mutex<State>,
    pub(super) queue: WaitQueue,
    /// fanotify_init's flags and event_f_flags.
    pub(super) flags: u32,
    pub(super) event_flags: i32,
    /// Made without CAP_SYS_ADMIN: no pids but the reader's own.
    pub(super) unprivileged: bool,
    pub(super) overflow_pending: AtomicBool,
}

impl Shared {
    pub fn new(flags: u32, event_flags: i32, unprivileged: bool) -> Shared {
        Shared {
            st: Mutex::new(State::default()),
            queue: WaitQueue::new(),
            flags,
            event_flags,
            unprivileged,
            overflow_pending: AtomicBool::new(false),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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

    /// A permission question for `ev`: queued, with the answer to wait
    /// for; None if the queue could not take it (allowed).
    pub fn ask(self: &Arc<Self>, mut ev: Event) -> Option<Arc<Perm>> {
        let me: Arc<dyn Withdraw> = self.clone();
        let p = Arc::new(Perm::new(Arc::downgrade(&me)));
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

impl Withdraw for Shared {
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
}
