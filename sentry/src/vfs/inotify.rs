//! inotify(7): instances with watches on inodes, and the events the VFS
//! reports to them (`vfs::ops` for directory changes, opens and
//! attributes, `vfs::File` for reads, writes and closes).
//!
//! A watch holds its inode, so the inode's address identifies it in the
//! registry for as long as the watch lives. When no watch exists at all,
//! reporting an event is one atomic load.
//!
//! IN_DELETE_SELF comes when the last link of a file goes and nothing has
//! it open any more, as Linux reports it when the file's dentry dies: so
//! the open descriptions of every inode are counted ([`opened`],
//! [`closed`]), watched or not, since a watch may come after the open.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use crate::errno::Errno;
use crate::vfs::Caller;
use crate::vfs::{Dentry, File, FileOps, InodeRef, Super};
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

/// An inode's address, its key in the registry (and dnotify's).
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

/// Watches by inode, across all instances.
fn registry() -> MutexGuard<'static, HashMap<usize, Vec<Registered>>> {
    static R: OnceLock<Mutex<HashMap<usize, Vec<Registered>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Watches that exist, for the fast path.
static WATCHES: AtomicUsize = AtomicUsize::new(0);

/// A fresh cookie tying IN_MOVED_FROM to its IN_MOVED_TO.
pub fn next_cookie() -> u32 {
    static C: AtomicU32 = AtomicU32::new(1);
    C.fetch_add(1, Ordering::Relaxed).max(1)
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
    ino: u64,
}

impl Default for Inotify {
    fn default() -> Self {
        Inotify::new()
    }
}

impl Inotify {
    pub fn new() -> Inotify {
        Inotify {
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
        let mut reg = registry();
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
        if WATCHES.load(Ordering::Relaxed) >= MAX_WATCHES {
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
        WATCHES.fetch_add(1, Ordering::Relaxed);
        Ok(wd)
    }

    /// inotify_rm_watch: EINVAL for an unknown wd; queues IN_IGNORED.
    pub fn rm_watch(&self, wd: i32) -> Result<(), Errno> {
        let mut reg = registry();
        let (inode, _) = self
            .shared
            .lock()
            .watches
            .remove(&wd)
            .ok_or(Errno::EINVAL)?;
        unregister(&mut reg, &inode, &self.shared, wd);
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

fn unregister(
    reg: &mut HashMap<usize, Vec<Registered>>,
    inode: &InodeRef,
    s: &Arc<Shared>,
    wd: i32,
) {
    let k = key(inode);
    if let Some(list) = reg.get_mut(&k) {
        let before = list.len();
        list.retain(|r| !(r.wd == wd && std::ptr::eq(r.shared.as_ptr(), Arc::as_ptr(s))));
        WATCHES.fetch_sub(before - list.len(), Ordering::Relaxed);
        if list.is_empty() {
            reg.remove(&k);
        }
    }
}

impl Drop for Inotify {
    fn drop(&mut self) {
        let mut reg = registry();
        let watches: Vec<(i32, InodeRef)> = self
            .shared
            .lock()
            .watches
            .drain()
            .map(|(wd, (i, _))| (wd, i))
            .collect();
        for (wd, inode) in &watches {
            unregister(&mut reg, inode, &self.shared, *wd);
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

/// Reports `mask` (with `cookie` and `name`) to the watches on `inode`;
/// `unlinked`: about a child whose name is gone, which IN_EXCL_UNLINK
/// watches do not want.
fn notify(inode: &InodeRef, mask: u32, cookie: u32, name: &[u8], unlinked: bool) {
    super::dnotify::notify(inode, mask);
    if WATCHES.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut targets = Vec::new();
    {
        let mut reg = registry();
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
                    unregister(&mut reg, &i, s, *wd);
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

/// Whether any watch (or dnotify request) exists; callers skip work that
/// only events need.
pub fn watching() -> bool {
    WATCHES.load(Ordering::Relaxed) != 0 || super::dnotify::any()
}

/// An entry `name` of the directory `dir` was created, removed or moved
/// (`mask` IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO); `is_dir`
/// adds IN_ISDIR.
pub fn entry_event(dir: &Dentry, name: &[u8], mask: u32, is_dir: bool, cookie: u32) {
    let mask = if is_dir { mask | libc::IN_ISDIR } else { mask };
    notify(&dir.inode, mask, cookie, name, false);
}

/// The file `d` was opened, read, modified, changed attributes, closed
/// ...: reported to its directory's watches with its name, then to its
/// own, in Linux's order.
pub fn file_event(d: &Dentry, mask: u32) {
    if !watching() {
        return;
    }
    let mask = if d.is_dir() {
        mask | libc::IN_ISDIR
    } else {
        mask
    };
    // A mount's root has no directory above it in its own filesystem.
    let mount_root = crate::vfs::same_inode(&d.inode, &d.mount.root);
    if let (Some(p), false) = (d.parent(), mount_root) {
        match place_now(&d.inode, &p.inode, d.name()) {
            Place::Moved(dir, name, gone) => notify(&dir.inode, mask, 0, &name, gone),
            Place::Same => notify(&p.inode, mask, 0, d.name(), false),
        }
    }
    notify(&d.inode, mask, 0, b"", false);
}

/// An event of `inode` itself, which its directory does not hear of:
/// IN_ATTRIB for a change of its link count, IN_MOVE_SELF.
pub fn self_event(inode: &InodeRef, mask: u32) {
    if !watching() {
        return;
    }
    // inotify has never flagged IN_MOVE_SELF or IN_DELETE_SELF with
    // IN_ISDIR, and Linux keeps it so.
    let self_only = libc::IN_MOVE_SELF | libc::IN_DELETE_SELF;
    let mask = if crate::vfs::is_dir(inode.mode()) && mask & self_only == 0 {
        mask | libc::IN_ISDIR
    } else {
        mask
    };
    notify(inode, mask, 0, b"", false);
}

/// Open descriptions of one inode, whether its last link is gone, and
/// where renames took the names they were opened by.
#[derive(Default)]
struct Opens {
    files: u32,
    unlinked: bool,
    renamed: Vec<Renamed>,
}

/// A name a file had (its directory's inode address and the name), and
/// where the file is now, or last was before that name was removed.
/// Linux's open files share the dentry a rename moves, so their events
/// reach the directory and name of today; ours keep the dentry of their
/// walk, and this says where it went.
struct Renamed {
    dir: usize,
    name: Vec<u8>,
    now: Arc<Dentry>,
    now_name: Vec<u8>,
    unlinked: bool,
}

/// Where a file opened by some name is now.
enum Place {
    Same,
    /// Its directory and name now; `true`: that name is gone (Linux still
    /// reports by it, but not to IN_EXCL_UNLINK watches).
    Moved(Arc<Dentry>, Vec<u8>, bool),
}

/// Names remembered per open file: a program renaming an open file
/// through endless names must not grow the Sentry without bound (older
/// names then report as they were).
const MAX_RENAMED: usize = 64;

/// The file `inode`, open as `name` in `dir`, was renamed since: its
/// directory and name now.
fn place_now(inode: &InodeRef, dir: &InodeRef, name: &[u8]) -> Place {
    let k = key(inode);
    let m = opens_of(k);
    let found = m.get(&k).and_then(|o| {
        o.renamed
            .iter()
            .find(|r| r.dir == key(dir) && r.name == name)
    });
    match found {
        None => Place::Same,
        Some(r) => Place::Moved(r.now.clone(), r.now_name.clone(), r.unlinked),
    }
}

/// `inode` moved from `name` in `from` to `new_name` in `to`: its open
/// descriptions report there from now on.
pub fn moved(inode: &InodeRef, from: &Arc<Dentry>, name: &[u8], to: &Arc<Dentry>, new_name: &[u8]) {
    relocate(inode, from, name, to, new_name, false);
}

/// The name `name` of `inode` in `from` was removed.
pub fn removed(inode: &InodeRef, from: &Arc<Dentry>, name: &[u8]) {
    relocate(inode, from, name, from, name, true);
}

fn relocate(
    inode: &InodeRef,
    from: &Arc<Dentry>,
    name: &[u8],
    to: &Arc<Dentry>,
    new_name: &[u8],
    unlinked: bool,
) {
    if !watching() {
        return;
    }
    let k = key(inode);
    let mut m = opens_of(k);
    let Some(o) = m.get_mut(&k) else {
        return;
    };
    let fk = key(&from.inode);
    // Names that led to the old place lead to the new one.
    for r in o.renamed.iter_mut() {
        if key(&r.now.inode) == fk && r.now_name == name {
            r.now = to.clone();
            r.now_name = new_name.to_vec();
            r.unlinked = unlinked;
        }
    }
    o.renamed.retain(|r| !(r.dir == fk && r.name == name));
    if o.renamed.len() >= MAX_RENAMED {
        o.renamed.remove(0);
    }
    let back_home = key(&to.inode) == fk && new_name == name;
    if unlinked || !back_home {
        o.renamed.push(Renamed {
            dir: fk,
            name: name.to_vec(),
            now: to.clone(),
            now_name: new_name.to_vec(),
            unlinked,
        });
    }
}

/// Open counts by inode address, sharded so that opens on different
/// cores rarely meet on a lock.
static OPENS: [Mutex<BTreeMap<usize, Opens>>; 16] = [const { Mutex::new(BTreeMap::new()) }; 16];

fn opens_of(k: usize) -> MutexGuard<'static, BTreeMap<usize, Opens>> {
    // Inodes are heap objects of at least 64 bytes apart.
    OPENS[(k >> 6) % OPENS.len()]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// A description of `inode` was opened (it holds the inode until
/// [`closed`], so its address stays its key).
pub fn opened(inode: &InodeRef) {
    let k = key(inode);
    opens_of(k).entry(k).or_default().files += 1;
}

/// A description of `inode` went; the last one of an unlinked file ends
/// its watches.
pub fn closed(inode: &InodeRef) {
    let k = key(inode);
    let gone = {
        let mut m = opens_of(k);
        let Some(o) = m.get_mut(&k) else {
            return;
        };
        o.files = o.files.saturating_sub(1);
        if o.files > 0 {
            return;
        }
        m.remove(&k).is_some_and(|o| o.unlinked)
    };
    if gone {
        delete_self(inode);
    }
}

/// The last link of `inode` went: IN_DELETE_SELF and IN_IGNORED now, or
/// when its last open description goes.
pub fn unlinked(inode: &InodeRef) {
    if !watching() {
        return;
    }
    let k = key(inode);
    {
        let mut m = opens_of(k);
        if let Some(o) = m.get_mut(&k) {
            o.unlinked = true;
            return;
        }
    }
    delete_self(inode);
}

/// Reports IN_DELETE_SELF to the watches of `inode`, then removes them
/// with IN_IGNORED: the file is gone for good.
fn delete_self(inode: &InodeRef) {
    self_event(inode, libc::IN_DELETE_SELF);
    let list = registry().remove(&key(inode));
    end_watches(list.unwrap_or_default(), 0);
}

/// The filesystem `sb` was unmounted for good (its last mount went):
/// each watch on its files gets IN_UNMOUNT and IN_IGNORED.
pub fn unmounted(sb: &Arc<Super>) {
    if !watching() {
        return;
    }
    let sb = Arc::downgrade(sb);
    let mut gone = Vec::new();
    registry().retain(|_, list| {
        let (on_sb, kept): (Vec<Registered>, Vec<Registered>) =
            list.drain(..).partition(|r| Weak::ptr_eq(&r.sb, &sb));
        gone.extend(on_sb);
        *list = kept;
        !list.is_empty()
    });
    end_watches(gone, libc::IN_UNMOUNT);
}

/// Ends the watches of `list`, taken out of the registry: each gets
/// `first` (unless 0; Linux reports it whatever the mask) and
/// IN_IGNORED.
fn end_watches(list: Vec<Registered>, first: u32) {
    WATCHES.fetch_sub(list.len(), Ordering::Relaxed);
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
