//! inotify(7): instances with watches on inodes ([`Inotify`]), and the
//! watches of one VFS by inode ([`Watches`]). The events come from
//! `vfs::notify`, which the VFS calls for directory changes, opens,
//! attributes, reads, writes and closes.
//!
//! A watch holds its inode, so the inode's address identifies it among
//! the watches for as long as the watch lives. When no watch exists at
//! all, reporting an event is one atomic load.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::errno::Errno;
use crate::vfs::Caller;
use crate::vfs::{File, FileOps, InodeRef, Super};
use crate::waiter::WaitQueue;

/// Events an application may ask for (Linux's ALL_INOTIFY_BITS without
/// the flag bits).
pub const ALL_EVENTS: u32 = libc::IN_ALL_EVENTS;
/// Queued events per instance (fs.inotify.max_queued_events).
const MAX_QUEUED: usize = 16384;
/// Watches in the sandbox (fs.inotify.max_user_watches); more is ENOSPC.
const MAX_WATCHES: usize = 65536;
/// Size of `struct inotify_event` without its name.
pub const HEADER: usize = 16;

/// An inode's address, its key among the watches (and dnotify's marks,
/// and the open counts).
pub(super) fn key(inode: &InodeRef) -> usize {
    Arc::as_ptr(inode) as *const () as usize
}

struct Registered {
    shared: Weak<Shared>,
    wd: i32,
    mask: u32,
    /// The filesystem of the watched file, whose unmounting ends the
    /// watch (weak: it keeps the address from being reused, not the
    /// filesystem).
    sb: Weak<Super>,
}

/// The watches of one VFS by inode, across its inotify instances: the
/// VFS owns them (`Notify`), so two sandboxes in one process never see
/// each other's.
#[derive(Default)]
pub struct Watches {
    reg: Mutex<HashMap<usize, Vec<Registered>>>,
    /// Watches that exist, for the fast path.
    count: AtomicUsize,
}

type Registry = HashMap<usize, Vec<Registered>>;

impl Watches {
    fn lock(&self) -> MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any watch exists.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    fn unregister(&self, reg: &mut Registry, inode: &InodeRef, s: &Arc<Shared>, wd: i32) {
        let k = key(inode);
        if let Some(list) = reg.get_mut(&k) {
            let before = list.len();
            list.retain(|r| !(r.wd == wd && std::ptr::eq(r.shared.as_ptr(), Arc::as_ptr(s))));
            self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                reg.remove(&k);
            }
        }
    }
}

struct Event {
    wd: i32,
    mask: u32,
    cookie: u32,
    name: Vec<u8>,
}

impl Event {
    /// The name field's length: the name, a NUL, padding to 16 bytes.
    fn name_len(&self) -> usize {
        if self.name.is_empty() {
            0
        } else {
            (self.name.len() + 1).div_ceil(HEADER) * HEADER
        }
    }

    fn size(&self) -> usize {
        HEADER + self.name_len()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.wd.to_ne_bytes());
        out.extend_from_slice(&self.mask.to_ne_bytes());
        out.extend_from_slice(&self.cookie.to_ne_bytes());
        out.extend_from_slice(&(self.name_len() as u32).to_ne_bytes());
        let start = out.len();
        out.extend_from_slice(&self.name);
        out.resize(start + self.name_len(), 0);
    }
}

#[derive(Default)]
struct State {
    events: VecDeque<Event>,
    bytes: usize,
    /// wd -> (inode, mask)
    watches: HashMap<i32, (InodeRef, u32)>,
    next_wd: i32,
}

struct Shared {
    st: Mutex<State>,
    queue: WaitQueue,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, ev: Event) {
        {
            let mut st = self.lock();
            // Linux merges an event identical to the last one queued.
            if let Some(last) = st.events.back() {
                if last.wd == ev.wd
                    && last.mask == ev.mask
                    && last.cookie == ev.cookie
                    && last.name == ev.name
                {
                    return;
                }
            }
            if st.events.len() >= MAX_QUEUED {
                if st
                    .events
                    .back()
                    .is_some_and(|e| e.mask == libc::IN_Q_OVERFLOW)
                {
                    return;
                }
                let ov = Event {
                    wd: -1,
                    mask: libc::IN_Q_OVERFLOW,
                    cookie: 0,
                    name: Vec::new(),
                };
                st.bytes += ov.size();
                st.events.push_back(ov);
            } else {
                st.bytes += ev.size();
                st.events.push_back(ev);
            }
        }
        self.queue.notify_all();
    }
}

/// An inotify instance: the FileOps of an inotify_init descriptor.
pub struct Inotify {
    shared: Arc<Shared>,
    /// The watches of the VFS it was made in.
    watches: Arc<Watches>,
    ino: u64,
}

impl Inotify {
    /// A new instance, watching files of the VFS whose watches are
    /// `watches` (`Notify::watches`).
    pub fn new(watches: &Arc<Watches>) -> Inotify {
        Inotify {
            watches: watches.clone(),
            shared: Arc::new(Shared {
                st: Mutex::new(State {
                    next_wd: 1,
                    ..State::default()
                }),
                queue: WaitQueue::new(),
            }),
            ino: super::anon::anon_ino(),
        }
    }

    /// inotify_add_watch: watches `inode` (of the filesystem `sb`) for
    /// `mask`; the same inode keeps its watch descriptor (its mask
    /// replaced, or extended with IN_MASK_ADD; IN_MASK_CREATE makes that
    /// EEXIST).
    pub fn add_watch(&self, inode: InodeRef, sb: &Arc<Super>, mask: u32) -> Result<i32, Errno> {
        let k = key(&inode);
        let events = mask & (ALL_EVENTS | libc::IN_ONESHOT | libc::IN_EXCL_UNLINK);
        let mut reg = self.watches.lock();
        let mut st = self.shared.lock();
        let list = reg.entry(k).or_default();
        if let Some(r) = list
            .iter_mut()
            .find(|r| std::ptr::eq(r.shared.as_ptr(), Arc::as_ptr(&self.shared)))
        {
            if mask & libc::IN_MASK_CREATE != 0 {
                return Err(Errno::EEXIST);
            }
            r.mask = if mask & libc::IN_MASK_ADD != 0 {
                r.mask | events
            } else {
                events
            };
            if let Some(w) = st.watches.get_mut(&r.wd) {
                w.1 = r.mask;
            }
            return Ok(r.wd);
        }
        if self.watches.count.load(Ordering::Relaxed) >= MAX_WATCHES {
            return Err(Errno::ENOSPC);
        }
        let wd = st.next_wd;
        st.next_wd = st.next_wd.checked_add(1).ok_or(Errno::ENOSPC)?;
        st.watches.insert(wd, (inode, events));
        list.push(Registered {
            shared: Arc::downgrade(&self.shared),
            wd,
            mask: events,
            sb: Arc::downgrade(sb),
        });
        self.watches.count.fetch_add(1, Ordering::Relaxed);
        Ok(wd)
    }

    /// inotify_rm_watch: EINVAL for an unknown wd; queues IN_IGNORED.
    pub fn rm_watch(&self, wd: i32) -> Result<(), Errno> {
        let mut reg = self.watches.lock();
        let (inode, _) = self
            .shared
            .lock()
            .watches
            .remove(&wd)
            .ok_or(Errno::EINVAL)?;
        self.watches.unregister(&mut reg, &inode, &self.shared, wd);
        drop(reg);
        self.shared.push(Event {
            wd,
            mask: libc::IN_IGNORED,
            cookie: 0,
            name: Vec::new(),
        });
        Ok(())
    }

    /// The queued events that fit in `buf`, without blocking: None when
    /// nothing is queued.
    pub fn try_read(&self, buf: &mut [u8]) -> Option<Result<usize, Errno>> {
        let mut st = self.shared.lock();
        let first = st.events.front()?.size();
        if buf.len() < first {
            return Some(Err(Errno::EINVAL));
        }
        let mut out = Vec::new();
        while let Some(ev) = st.events.front() {
            if out.len() + ev.size() > buf.len() {
                break;
            }
            ev.encode(&mut out);
            let n = ev.size();
            st.bytes -= n;
            st.events.pop_front();
        }
        buf[..out.len()].copy_from_slice(&out);
        Some(Ok(out.len()))
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        let mut reg = self.watches.lock();
        let watches: Vec<(i32, InodeRef)> = self
            .shared
            .lock()
            .watches
            .drain()
            .map(|(wd, (i, _))| (wd, i))
            .collect();
        for (wd, inode) in &watches {
            self.watches.unregister(&mut reg, inode, &self.shared, *wd);
        }
    }
}

impl FileOps for Inotify {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        loop {
            if let Some(r) = self.try_read(buf) {
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

    fn write(&self, _t: &dyn Caller, _f: &File, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        super::anon::anon_stat(self.ino)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.shared.lock().bytes as u64)
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
        b"anon_inode:inotify".to_vec()
    }
}

impl Watches {
    /// Reports `mask` (with `cookie` and `name`) to the watches on
    /// `inode`; `unlinked`: about a child whose name is gone, which
    /// IN_EXCL_UNLINK watches do not want.
    pub(super) fn report(
        &self,
        inode: &InodeRef,
        mask: u32,
        cookie: u32,
        name: &[u8],
        unlinked: bool,
    ) {
        if !self.any() {
            return;
        }
        let mut targets = Vec::new();
        {
            let mut reg = self.lock();
            let Some(list) = reg.get_mut(&key(inode)) else {
                return;
            };
            for r in list.iter() {
                if unlinked && r.mask & libc::IN_EXCL_UNLINK != 0 {
                    continue;
                }
                if r.mask & mask & ALL_EVENTS != 0 {
                    if let Some(s) = r.shared.upgrade() {
                        targets.push((s, r.wd, r.mask & libc::IN_ONESHOT != 0));
                    }
                }
            }
            // A one-shot watch goes after its first event.
            for (s, wd, oneshot) in &targets {
                if *oneshot {
                    if let Some((i, _)) = s.lock().watches.remove(wd) {
                        self.unregister(&mut reg, &i, s, *wd);
                    }
                }
            }
        }
        for (s, wd, oneshot) in targets {
            s.push(Event {
                wd,
                mask,
                cookie,
                name: name.to_vec(),
            });
            if oneshot {
                s.push(Event {
                    wd,
                    mask: libc::IN_IGNORED,
                    cookie: 0,
                    name: Vec::new(),
                });
            }
        }
    }

    /// Removes the watches of `inode` with IN_IGNORED: the file is gone
    /// for good.
    pub(super) fn end_all(&self, inode: &InodeRef) {
        let list = self.lock().remove(&key(inode));
        self.end_watches(list.unwrap_or_default(), 0);
    }

    /// The filesystem `sb` was unmounted for good (its last mount went):
    /// each watch on its files gets IN_UNMOUNT and IN_IGNORED.
    pub(super) fn unmounted(&self, sb: &Arc<Super>) {
        if !self.any() {
            return;
        }
        let sb = Arc::downgrade(sb);
        let mut gone = Vec::new();
        self.lock().retain(|_, list| {
            let (on_sb, kept): (Vec<Registered>, Vec<Registered>) =
                list.drain(..).partition(|r| Weak::ptr_eq(&r.sb, &sb));
            gone.extend(on_sb);
            *list = kept;
            !list.is_empty()
        });
        self.end_watches(gone, libc::IN_UNMOUNT);
    }

    /// Ends the watches of `list`, taken out of the registry: each gets
    /// `first` (unless 0; Linux reports it whatever the mask) and
    /// IN_IGNORED.
    fn end_watches(&self, list: Vec<Registered>, first: u32) {
        self.count.fetch_sub(list.len(), Ordering::Relaxed);
        for r in list {
            let Some(s) = r.shared.upgrade() else {
                continue;
            };
            // An inotify_rm_watch racing with us ends it instead.
            let Some((inode, _)) = s.lock().watches.remove(&r.wd) else {
                continue;
            };
            // IN_UNMOUNT is flagged IN_ISDIR for a directory (the *_SELF
            // events never are).
            let first = if first == libc::IN_UNMOUNT && crate::vfs::is_dir(inode.mode()) {
                first | libc::IN_ISDIR
            } else {
                first
            };
            for mask in [first, libc::IN_IGNORED] {
                if mask != 0 {
                    s.push(Event {
                        wd: r.wd,
                        mask,
                        cookie: 0,
                        name: Vec::new(),
                    });
                }
            }
        }
    }
}
