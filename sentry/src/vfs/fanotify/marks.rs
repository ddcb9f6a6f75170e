//! The fanotify marks of one VFS ([`Marks`]), by what they mark: an inode,
//! a mount or a filesystem. An event finds the marks of its file, of the
//! file's directory (when they ask for events on children), of its mount
//! and of its filesystem, and each group they belong to gets one event
//! with the bits its marks want and do not ignore (Linux's
//! `fanotify_group_event_mask`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::object::{Object, Occurrence};
use super::queue::Shared;
use super::{EVENT_FLAGS, ON_CHILD_EVENTS};
use crate::errno::Errno;
use crate::vfs::InodeRef;

/// FAN_MARK_IGNORED_SURV_MODIFY: the ignore mask outlives a modification.
pub const SURV_MODIFY: u32 = 1;
/// FAN_MARK_IGNORE: the ignore mask's own FAN_ONDIR and
/// FAN_EVENT_ON_CHILD say where it applies.
pub const IGNORE_FLAGS: u32 = 2;

struct Mark {
    group: Weak<Shared>,
    mask: u64,
    ignore: u64,
    flags: u32,
}

/// How a mark relates to the file of an event.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// On the file itself, its mount or its filesystem.
    Own,
    /// On the directory the file is in.
    Parent,
}

impl Mark {
    /// Linux's fsnotify_mask_applicable: whether this mark's mask counts.
    fn applies(&self, ondir: bool, role: Role) -> bool {
        !(ondir && self.mask & libc::FAN_ONDIR == 0
            || role == Role::Parent && self.mask & libc::FAN_EVENT_ON_CHILD == 0)
    }

    /// Linux's fsnotify_effective_ignore_mask.
    fn ignored(&self, ondir: bool, role: Role) -> u64 {
        if self.ignore == 0 {
            return 0;
        }
        if !ondir && role == Role::Own {
            return self.ignore;
        }
        let ig = if self.flags & IGNORE_FLAGS != 0 {
            self.ignore
        } else {
            // The old FAN_MARK_IGNORED_MASK: directories' events always,
            // children's when the mark asks for children's events.
            (self.ignore | libc::FAN_ONDIR) & !libc::FAN_EVENT_ON_CHILD
                | self.mask & libc::FAN_EVENT_ON_CHILD
        };
        if ondir && ig & libc::FAN_ONDIR == 0
            || role == Role::Parent && ig & libc::FAN_EVENT_ON_CHILD == 0
        {
            return 0;
        }
        ig & !EVENT_FLAGS
    }
}

/// Marks in the sandbox; more is ENOSPC (fs.fanotify.max_user_marks is
/// larger, but the Sentry is shared by every user in it).
const MAX_MARKS: usize = 65536;

/// The fanotify marks of one VFS.
#[derive(Default)]
pub struct Marks {
    reg: Mutex<HashMap<Object, Vec<Mark>>>,
    /// Marks that exist, for the fast path.
    count: AtomicUsize,
}

impl Marks {
    fn lock(&self) -> MutexGuard<'_, HashMap<Object, Vec<Mark>>> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any mark exists.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// FAN_MARK_ADD: adds `mask` to the mark of `group` on `obj` (its
    /// ignore mask with `ignore`), making the mark if needed. Returns
    /// whether the mark is new.
    pub(super) fn add(
        &self,
        group: &Arc<Shared>,
        obj: Object,
        mask: u64,
        ignore: bool,
        flags: u32,
    ) -> Result<bool, Errno> {
        let mut reg = self.lock();
        let list = reg.entry(obj).or_default();
        let mine = |m: &Mark| std::ptr::eq(m.group.as_ptr(), Arc::as_ptr(group));
        if let Some(m) = list.iter_mut().find(|m| mine(m)) {
            if ignore {
                m.ignore |= mask;
                m.flags |= flags;
            } else {
                m.mask |= mask;
            }
            return Ok(false);
        }
        if self.count.load(Ordering::Relaxed) >= MAX_MARKS {
            if list.is_empty() {
                reg.remove(&obj);
            }
            return Err(Errno::ENOSPC);
        }
        let (m, ig) = if ignore { (0, mask) } else { (mask, 0) };
        list.push(Mark {
            group: Arc::downgrade(group),
            mask: m,
            ignore: ig,
            flags: if ignore { flags } else { 0 },
        });
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    /// FAN_MARK_REMOVE: takes `mask` out of the mark (ENOENT: none); a
    /// mark left with nothing goes. Returns whether it went.
    pub(super) fn remove(
        &self,
        group: &Arc<Shared>,
        obj: Object,
        mask: u64,
        ignore: bool,
    ) -> Result<bool, Errno> {
        let mut reg = self.lock();
        let list = reg.get_mut(&obj).ok_or(Errno::ENOENT)?;
        let mine = |m: &Mark| std::ptr::eq(m.group.as_ptr(), Arc::as_ptr(group));
        let i = list.iter().position(mine).ok_or(Errno::ENOENT)?;
        let m = &mut list[i];
        if ignore {
            m.ignore &= !mask;
        } else {
            m.mask &= !mask;
        }
        if m.mask & !EVENT_FLAGS != 0 || m.ignore != 0 {
            return Ok(false);
        }
        list.remove(i);
        if list.is_empty() {
            reg.remove(&obj);
        }
        self.count.fetch_sub(1, Ordering::Relaxed);
        Ok(true)
    }

    /// Removes the marks of `group` on `objs` (its marks, when it goes or
    /// flushes them).
    pub(super) fn drop_marks(&self, group: *const Shared, objs: impl Iterator<Item = Object>) {
        let mut reg = self.lock();
        for obj in objs {
            let Some(list) = reg.get_mut(&obj) else {
                continue;
            };
            let before = list.len();
            list.retain(|m| !std::ptr::eq(m.group.as_ptr(), group));
            self.count.fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                reg.remove(&obj);
            }
        }
    }

    /// The inode `inode` is gone for good: its marks go (Linux drops them
    /// with the inode), without an event.
    pub(super) fn inode_gone(&self, inode: &InodeRef) -> Vec<Weak<Shared>> {
        let Some(list) = self.lock().remove(&Object::inode(inode)) else {
            return Vec::new();
        };
        self.count.fetch_sub(list.len(), Ordering::Relaxed);
        list.into_iter().map(|m| m.group).collect()
    }

    /// The groups that get `occ`, each with the event mask it reports.
    pub(super) fn matching(&self, occ: &Occurrence<'_>) -> Vec<(Arc<Shared>, u64)> {
        let mut objs: Vec<(Object, Role)> = vec![(Object::inode(occ.inode), Role::Own)];
        if let (Some((dir, _)), false) = (occ.parent, occ.is_dirent()) {
            if occ.mask & ON_CHILD_EVENTS != 0 {
                objs.push((Object::inode(dir), Role::Parent));
            }
        }
        if let Some(p) = occ.path {
            objs.push((Object::mount(&p.mount), Role::Own));
        }
        if let Some(sb) = occ.sb {
            objs.push((Object::filesystem(sb), Role::Own));
        }
        let ondir = occ.ondir();
        // Per group: the marks' masks and ignore masks together.
        let mut groups: Vec<(Arc<Shared>, u64, u64)> = Vec::new();
        let mut reg = self.lock();
        for (obj, role) in objs {
            let Some(list) = reg.get_mut(&obj) else {
                continue;
            };
            for m in list.iter_mut() {
                let Some(g) = m.group.upgrade() else {
                    continue;
                };
                // A modification ends ignore masks that do not survive it.
                if occ.mask & libc::FAN_MODIFY != 0 && m.flags & SURV_MODIFY == 0 {
                    m.ignore = 0;
                }
                let at = match groups.iter().position(|(x, _, _)| Arc::ptr_eq(x, &g)) {
                    Some(i) => i,
                    None => {
                        groups.push((g, 0, 0));
                        groups.len() - 1
                    }
                };
                groups[at].2 |= m.ignored(ondir, role);
                if m.applies(ondir, role) {
                    groups[at].1 |= m.mask;
                }
            }
        }
        drop(reg);
        groups
            .into_iter()
            .filter_map(|(g, marks, ignored)| {
                let test = occ.mask & marks & !ignored;
                if test & !EVENT_FLAGS == 0 {
                    return None;
                }
                // Groups that report descriptors never saw FAN_ONDIR.
                let user = if g.reports_fid() {
                    test
                } else {
                    test & !EVENT_FLAGS
                };
                Some((g, user))
            })
            .collect()
    }
}
