//! fanotify(7): groups ([`Group`], the FileOps of a fanotify_init
//! descriptor) with marks on inodes, mounts and filesystems ([`Marks`],
//! owned by the VFS's `Notify`, as inotify's watches are). The events are
//! the ones `vfs::notify` hears for inotify and dnotify; this module
//! decides, per group, whether its marks want one (Linux's
//! `fanotify_group_event_mask`) and queues it.
//!
//! Permission events (FAN_OPEN_PERM, FAN_ACCESS_PERM, FAN_OPEN_EXEC_PERM)
//! are asked before the open or read happens: the acting task waits
//! (interruptibly) until each group with a mark for it answers through
//! write(2), or goes away.
//!
//! Who acts: the Sentry runs each task on a thread of its own, so the
//! kernel records the acting process per thread ([`set_actor`]) when a
//! system call starts, and events carry it (a close on another thread
//! reports pid 0).

mod event;
mod group;
mod marks;
mod object;
mod perm;
mod queue;

use std::cell::Cell;
use std::sync::Arc;

use crate::errno::Errno;
use crate::vfs::Caller;
use event::Event;
use queue::Shared;

pub use group::Group;
pub use marks::{Marks, IGNORE_FLAGS, SURV_MODIFY};
pub use object::{Object, Occurrence};
pub use queue::HeldObject;

/// Events about an open file, which listeners get a descriptor of
/// (Linux's FANOTIFY_PATH_EVENTS).
pub const PATH_EVENTS: u64 =
    libc::FAN_ACCESS | libc::FAN_MODIFY | libc::FAN_CLOSE | libc::FAN_OPEN | libc::FAN_OPEN_EXEC;
/// Events about a directory's entries.
pub const DIRENT_EVENTS: u64 = libc::FAN_MOVE | libc::FAN_CREATE | libc::FAN_DELETE;
/// Events only groups reporting file ids get (no path to open an fd by).
pub const INODE_EVENTS: u64 =
    DIRENT_EVENTS | libc::FAN_ATTRIB | libc::FAN_MOVE_SELF | libc::FAN_DELETE_SELF;
/// Questions a listener answers before the open, read or exec happens.
pub const PERM_EVENTS: u64 = libc::FAN_OPEN_PERM | libc::FAN_ACCESS_PERM | libc::FAN_OPEN_EXEC_PERM;
/// Where a mark's events come from rather than what they are.
pub const EVENT_FLAGS: u64 = libc::FAN_EVENT_ON_CHILD | libc::FAN_ONDIR;
/// Events that reach a directory's marks from its children.
const ON_CHILD_EVENTS: u64 = PATH_EVENTS | PERM_EVENTS | libc::FAN_ATTRIB;

/// The init flags that choose what an event's info records hold.
pub const FID_BITS: u32 = libc::FAN_REPORT_FID | libc::FAN_REPORT_DIR_FID | libc::FAN_REPORT_NAME;

thread_local! {
    /// The process (and thread) acting on this Sentry thread: kernel ids.
    static ACTOR: Cell<(i32, i32)> = const { Cell::new((0, 0)) };
}

/// Records the process and thread that act on this thread (kernel ids),
/// for the pid of the events they cause.
pub fn set_actor(tgid: i32, tid: i32) {
    ACTOR.with(|a| a.set((tgid, tid)));
}

fn actor() -> (i32, i32) {
    ACTOR.with(Cell::get)
}

impl Marks {
    /// Reports `occ` to each group whose marks want it.
    pub fn report(&self, occ: &Occurrence<'_>) {
        if !self.any() {
            return;
        }
        for (g, mask) in self.matching(occ) {
            if let Some(ev) = event_for(&g, occ, mask) {
                g.push(ev);
            }
        }
    }

    /// Asks each group whose marks want the permission event `occ`, and
    /// waits for its answer: EPERM at the first that denies.
    pub fn ask(&self, t: &dyn Caller, occ: &Occurrence<'_>) -> Result<(), Errno> {
        if !self.any() {
            return Ok(());
        }
        for (g, mask) in self.matching(occ) {
            let Some(ev) = event_for(&g, occ, mask) else {
                continue;
            };
            if let Some(p) = g.ask(ev) {
                p.wait(t)?;
            }
        }
        Ok(())
    }

    /// `inode` is gone for good: its marks go, without an event.
    pub fn forget(&self, inode: &crate::vfs::InodeRef) {
        if !self.any() {
            return;
        }
        let obj = Object::inode(inode);
        for g in self.inode_gone(inode) {
            if let Some(g) = g.upgrade() {
                g.inode_gone(&obj);
            }
        }
    }
}

/// The event `g` gets for `occ`: with the path to open for a group that
/// reports descriptors, with info records for one that reports ids.
fn event_for(g: &Arc<Shared>, occ: &Occurrence<'_>, mask: u64) -> Option<Event> {
    let (tgid, tid) = actor();
    let pid = if g.flags() & libc::FAN_REPORT_TID != 0 {
        tid
    } else {
        tgid
    };
    if g.reports_fid() {
        Some(Event {
            mask,
            pid,
            path: None,
            info: event::info(g.flags(), occ, mask),
            perm: None,
        })
    } else {
        Some(Event {
            mask,
            pid,
            path: Some(occ.path?.clone()),
            info: event::Info::None,
            perm: None,
        })
    }
}
