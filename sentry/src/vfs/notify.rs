//! The events of one VFS, for inotify, dnotify and fanotify (Linux's
//! fsnotify): the VFS reports directory changes, opens, attributes, reads,
//! writes and closes here, and [`Notify`] hands each to the inotify
//! watches ([`Watches`]) and dnotify marks ([`Marks`]) of the file, and
//! to the fanotify marks of the file, its directory, mount and filesystem
//! ([`fanotify::Marks`]). Permission events ([`Notify::permission`]) are
//! fanotify's alone.
//!
//! Every mount of a VFS holds its `Notify` (`Mount::notify`), so an event
//! about a dentry or an open file reaches the watches of the VFS it
//! belongs to, and two VFSs in one process (two sandboxes, or tests) share
//! no watch, mark or open count.
//!
//! IN_DELETE_SELF comes when the last link of a file goes and nothing has
//! it open any more, as Linux reports it when the file's dentry dies: so
//! the open descriptions of every inode are counted ([`Notify::opened`],
//! [`Notify::closed`]), watched or not, since a watch may come after the
//! open.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::dnotify::Marks;
use super::fanotify::{self, Occurrence};
use super::inotify::{key, Watches};
use crate::errno::Errno;
use crate::vfs::{Caller, Dentry, File, InodeRef, Super};

/// Shards of the open counts: opens on different cores rarely meet on a
/// lock.
const OPEN_SHARDS: usize = 16;

/// The inotify watches and dnotify marks of one VFS, and what their
/// events need to know of open files.
pub struct Notify {
    watches: Arc<Watches>,
    marks: Marks,
    fan: Arc<fanotify::Marks>,
    /// Open counts by inode address.
    opens: [Mutex<BTreeMap<usize, Opens>>; OPEN_SHARDS],
    /// The last cookie tying an IN_MOVED_FROM to its IN_MOVED_TO.
    cookie: AtomicU32,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            watches: Arc::default(),
            marks: Marks::default(),
            fan: Arc::default(),
            opens: std::array::from_fn(|_| Mutex::new(BTreeMap::new())),
            cookie: AtomicU32::new(1),
        }
    }
}

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notify")
    }
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

impl Notify {
    /// The inotify watches, for a new instance ([`super::inotify::Inotify::new`]).
    pub fn watches(&self) -> &Arc<Watches> {
        &self.watches
    }

    /// The dnotify marks (F_NOTIFY).
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// The fanotify marks, for a new group.
    pub fn fanotify(&self) -> &Arc<fanotify::Marks> {
        &self.fan
    }

    /// A fresh cookie tying IN_MOVED_FROM to its IN_MOVED_TO.
    pub fn next_cookie(&self) -> u32 {
        self.cookie.fetch_add(1, Ordering::Relaxed).max(1)
    }

    /// Whether any watch (or dnotify request) exists; callers skip work
    /// that only events need.
    pub fn watching(&self) -> bool {
        self.watches.any() || self.marks.any() || self.fan.any()
    }

    /// Reports `mask` (with `cookie` and `name`) to the dnotify marks and
    /// inotify watches on `inode`; `unlinked`: about a child whose name is
    /// gone, which IN_EXCL_UNLINK watches do not want.
    fn notify(&self, inode: &InodeRef, mask: u32, cookie: u32, name: &[u8], unlinked: bool) {
        self.marks.notify(inode, mask);
        self.watches.report(inode, mask, cookie, name, unlinked);
    }

    /// An entry `name` of the directory `dir` was created, removed or
    /// moved (`mask` IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO);
    /// `is_dir` adds IN_ISDIR.
    pub fn entry_event(&self, dir: &Dentry, name: &[u8], mask: u32, is_dir: bool, cookie: u32) {
        let mask = if is_dir { mask | libc::IN_ISDIR } else { mask };
        self.notify(&dir.inode, mask, cookie, name, false);
        self.fan.report(&Occurrence {
            mask: u64::from(mask),
            inode: &dir.inode,
            path: None,
            parent: Some((&dir.inode, name)),
            sb: Some(&dir.mount.sb),
        });
    }

    /// The file `d` was opened, read, modified, changed attributes,
    /// closed ...: reported to its directory's watches with its name,
    /// then to its own, in Linux's order.
    pub fn file_event(&self, d: &Dentry, mask: u32) {
        self.report_file(d, None, mask);
    }

    /// [`Notify::file_event`] through an open path (open, read, write,
    /// close, exec), which fanotify listeners get a descriptor of; the
    /// others (attributes, truncation) reach only those reporting file
    /// ids, as on Linux.
    pub fn path_event(&self, d: &Arc<Dentry>, mask: u32) {
        self.report_file(d, Some(d), mask);
    }

    fn report_file(&self, d: &Dentry, path: Option<&Arc<Dentry>>, mask: u32) {
        if !self.watching() {
            return;
        }
        let mask = if d.is_dir() {
            mask | libc::IN_ISDIR
        } else {
            mask
        };
        let parent = self.parent_now(d);
        if let Some((dir, name, gone)) = &parent {
            self.notify(dir, mask, 0, name, *gone);
        }
        self.notify(&d.inode, mask, 0, b"", false);
        self.fan.report(&Occurrence {
            mask: u64::from(mask),
            inode: &d.inode,
            path,
            parent: parent.as_ref().map(|(dir, name, _)| (dir, &name[..])),
            sb: Some(&d.mount.sb),
        });
    }

    /// The directory `d` is in now, its name there, and whether that name
    /// is gone; none for a mount's root, which has no directory above it
    /// in its own filesystem.
    fn parent_now(&self, d: &Dentry) -> Option<(InodeRef, Vec<u8>, bool)> {
        if crate::vfs::same_inode(&d.inode, &d.mount.root) {
            return None;
        }
        let p = d.parent()?;
        Some(match self.place_now(&d.inode, &p.inode, d.name()) {
            Place::Moved(dir, name, gone) => (dir.inode.clone(), name, gone),
            Place::Same => (p.inode.clone(), d.name().to_vec(), false),
        })
    }

    /// A fanotify permission event (`mask` FAN_OPEN_PERM, FAN_ACCESS_PERM,
    /// FAN_OPEN_EXEC_PERM) about `d`, for the task `t`, which waits for
    /// the answers: EPERM when a listener denies.
    pub fn permission(&self, t: &dyn Caller, d: &Arc<Dentry>, mask: u64) -> Result<(), Errno> {
        if !self.fan.any() {
            return Ok(());
        }
        let mask = if d.is_dir() {
            mask | libc::FAN_ONDIR
        } else {
            mask
        };
        let parent = self.parent_now(d);
        self.fan.ask(
            t,
            &Occurrence {
                mask,
                inode: &d.inode,
                path: Some(d),
                parent: parent.as_ref().map(|(dir, name, _)| (dir, &name[..])),
                sb: Some(&d.mount.sb),
            },
        )
    }

    /// An event of `inode` itself, which its directory does not hear of:
    /// IN_ATTRIB for a change of its link count, IN_MOVE_SELF.
    pub fn self_event(&self, inode: &InodeRef, mask: u32) {
        if !self.watching() {
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
        self.notify(inode, mask, 0, b"", false);
        // fanotify flags every event on a directory.
        let fan_mask = if crate::vfs::is_dir(inode.mode()) {
            u64::from(mask) | libc::FAN_ONDIR
        } else {
            u64::from(mask)
        };
        self.fan.report(&Occurrence {
            mask: fan_mask,
            inode,
            path: None,
            parent: None,
            sb: None,
        });
    }

    /// The file `inode`, open as `name` in `dir`, was renamed since: its
    /// directory and name now.
    fn place_now(&self, inode: &InodeRef, dir: &InodeRef, name: &[u8]) -> Place {
        let k = key(inode);
        let m = self.opens_of(k);
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

    /// `inode` moved from `name` in `from` to `new_name` in `to`: its
    /// open descriptions report there from now on.
    pub fn moved(
        &self,
        inode: &InodeRef,
        from: &Arc<Dentry>,
        name: &[u8],
        to: &Arc<Dentry>,
        new_name: &[u8],
    ) {
        self.relocate(inode, from, name, to, new_name, false);
    }

    /// The name `name` of `inode` in `from` was removed.
    pub fn removed(&self, inode: &InodeRef, from: &Arc<Dentry>, name: &[u8]) {
        self.relocate(inode, from, name, from, name, true);
    }

    fn relocate(
        &self,
        inode: &InodeRef,
        from: &Arc<Dentry>,
        name: &[u8],
        to: &Arc<Dentry>,
        new_name: &[u8],
        unlinked: bool,
    ) {
        if !self.watching() {
            return;
        }
        let k = key(inode);
        let mut m = self.opens_of(k);
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

    fn opens_of(&self, k: usize) -> MutexGuard<'_, BTreeMap<usize, Opens>> {
        // Inodes are heap objects of at least 64 bytes apart.
        self.opens[(k >> 6) % OPEN_SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A description of `inode` was opened (it holds the inode until
    /// [`Notify::closed`], so its address stays its key).
    pub fn opened(&self, inode: &InodeRef) {
        let k = key(inode);
        self.opens_of(k).entry(k).or_default().files += 1;
    }

    /// The description `file` of `inode` went: its dnotify requests end,
    /// and the last description of an unlinked file ends its watches.
    pub fn closed(&self, file: &File, inode: &InodeRef) {
        self.close_description(inode);
        self.marks.closed(file, inode);
    }

    fn close_description(&self, inode: &InodeRef) {
        let k = key(inode);
        let gone = {
            let mut m = self.opens_of(k);
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
            self.delete_self(inode);
        }
    }

    /// The last link of `inode` went: IN_DELETE_SELF and IN_IGNORED now,
    /// or when its last open description goes.
    pub fn unlinked(&self, inode: &InodeRef) {
        if !self.watching() {
            return;
        }
        let k = key(inode);
        {
            let mut m = self.opens_of(k);
            if let Some(o) = m.get_mut(&k) {
                o.unlinked = true;
                return;
            }
        }
        self.delete_self(inode);
    }

    /// Reports IN_DELETE_SELF to the watches of `inode`, then removes
    /// them with IN_IGNORED: the file is gone for good.
    fn delete_self(&self, inode: &InodeRef) {
        self.self_event(inode, libc::IN_DELETE_SELF);
        self.watches.end_all(inode);
        self.fan.forget(inode);
    }

    /// The filesystem `sb` was unmounted for good (its last mount went):
    /// each watch on its files gets IN_UNMOUNT and IN_IGNORED.
    pub fn unmounted(&self, sb: &Arc<Super>) {
        if !self.watching() {
            return;
        }
        self.watches.unmounted(sb);
    }
}
