//! dnotify (`fcntl(fd, F_NOTIFY, mask)`): the older directory
//! notification. A directory's open file asks that its owner process be
//! sent SIGIO when an entry of the directory is accessed, modified,
//! created, removed, renamed or changes attributes; without
//! `DN_MULTISHOT` the request ends at its first signal.
//!
//! The events are inotify's (`Notify` reports every event on a directory
//! here too), so dnotify sees what inotify sees. The marks belong to one
//! VFS ([`Marks`], held by its `Notify`). Without
//! F_SETSIG the signal is a plain SIGIO from the kernel (`SI_KERNEL`);
//! with it, that signal with `POLL_MSG`, the band and the descriptor of
//! the last F_NOTIFY, as Linux's `send_sigio` sends them. A request ends
//! with its file (the last descriptor of it closed), not at every close
//! of a duplicate.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::inotify::key;
use crate::errno::Errno;
use crate::vfs::{File, InodeRef};

// <linux/fcntl.h>; the libc crate has F_NOTIFY but not these.
pub const DN_ACCESS: u32 = 0x1;
pub const DN_MODIFY: u32 = 0x2;
pub const DN_CREATE: u32 = 0x4;
pub const DN_DELETE: u32 = 0x8;
pub const DN_RENAME: u32 = 0x10;
pub const DN_ATTRIB: u32 = 0x20;
pub const DN_MULTISHOT: u32 = 0x8000_0000;
const DN_EVENTS: u32 = DN_ACCESS | DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB;

/// Requests on directories in the sandbox; more is ENOSPC (a hostile
/// program cannot make the Sentry hold without bound).
const MAX_MARKS: usize = 65536;
/// SI_KERNEL: the signal comes from the kernel.
pub const SI_KERNEL: i32 = 0x80;

/// The process a request signals: the kernel's thread group implements it,
/// so the VFS sends signals without knowing the kernel.
pub trait SignalOwner: Send + Sync {
    fn send_notice(&self, n: Notice);
}

/// A dnotify signal: plain SIGIO from the kernel (`band` None), or the
/// F_SETSIG signal with `POLL_MSG`, its band and descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notice {
    pub signo: i32,
    pub code: i32,
    /// `si_band` and `si_fd` of struct sigpoll.
    pub band: Option<(u64, i32)>,
}

struct Mark {
    file: Weak<File>,
    /// The descriptor of the last F_NOTIFY (`si_fd`).
    fd: i32,
    owner: Weak<dyn SignalOwner>,
    mask: u32,
}

/// POLL_MSG, and the band Linux gives it (EPOLLIN | EPOLLRDNORM |
/// EPOLLMSG).
const POLL_MSG: i32 = 3;
const POLL_MSG_BAND: u64 = 0x441;

/// The dnotify requests of one VFS, by directory inode (its address,
/// `inotify::key`; the file holds the inode, so the address stays its
/// own).
#[derive(Default)]
pub struct Marks {
    reg: Mutex<HashMap<usize, Vec<Mark>>>,
    /// Marks that exist, for the fast path.
    count: AtomicUsize,
}

impl Marks {
    fn lock(&self) -> MutexGuard<'_, HashMap<usize, Vec<Mark>>> {
        self.reg.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any mark exists.
    pub fn any(&self) -> bool {
        self.count.load(Ordering::Relaxed) != 0
    }

    /// F_NOTIFY on `file`, an open directory `dir`, for the process
    /// `owner`: adds `arg`'s events to what this file already asked for
    /// (as Linux does), or with no event ends the request.
    pub fn set(
        &self,
        file: &Arc<File>,
        fd: i32,
        dir: &InodeRef,
        owner: Arc<dyn SignalOwner>,
        arg: u64,
    ) -> Result<(), Errno> {
        let mask = arg as u32;
        let k = key(dir);
        let mut reg = self.lock();
        let list = reg.entry(k).or_default();
        let before = list.len();
        // Marks whose file or process is gone go now.
        list.retain(|m| m.file.strong_count() > 0 && m.owner.strong_count() > 0);
        let same = |m: &Mark| {
            std::ptr::eq(m.file.as_ptr(), Arc::as_ptr(file))
                && std::ptr::addr_eq(m.owner.as_ptr(), Arc::as_ptr(&owner))
        };
        if mask & DN_EVENTS == 0 {
            list.retain(|m| !same(m));
        } else if let Some(m) = list.iter_mut().find(|m| same(m)) {
            m.mask |= mask & (DN_EVENTS | DN_MULTISHOT);
            m.fd = fd;
        } else if self.count.load(Ordering::Relaxed) >= MAX_MARKS {
            self.settle(&mut reg, k, before);
            return Err(Errno::ENOSPC);
        } else {
            list.push(Mark {
                file: Arc::downgrade(file),
                fd,
                owner: Arc::downgrade(&owner),
                mask: mask & (DN_EVENTS | DN_MULTISHOT),
            });
        }
        self.settle(&mut reg, k, before);
        Ok(())
    }

    /// The last reference to `file` (open on `dir`) is going: its
    /// requests end (so a closed directory's marks neither linger nor
    /// count).
    pub fn closed(&self, file: &File, dir: &InodeRef) {
        if !self.any() {
            return;
        }
        let k = key(dir);
        let mut reg = self.lock();
        let Some(list) = reg.get_mut(&k) else {
            return;
        };
        let before = list.len();
        list.retain(|m| !std::ptr::eq(m.file.as_ptr(), file) && m.file.strong_count() > 0);
        self.settle(&mut reg, k, before);
    }

    /// Accounts for the marks of `k` after a change (it had `before`) and
    /// drops an empty list.
    fn settle(&self, reg: &mut HashMap<usize, Vec<Mark>>, k: usize, before: usize) {
        let after = reg.get(&k).map_or(0, Vec::len);
        if after >= before {
            self.count.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.count.fetch_sub(before - after, Ordering::Relaxed);
        }
        if after == 0 {
            reg.remove(&k);
        }
    }

    /// An event (inotify's `mask`) in or on the directory `inode`: SIGIO
    /// to the owner of each request for it; one-shot requests end.
    pub(super) fn notify(&self, inode: &InodeRef, in_mask: u32) {
        if !self.any() {
            return;
        }
        let dn = events_of(in_mask);
        if dn == 0 {
            return;
        }
        let mut sends = Vec::new();
        {
            let mut reg = self.lock();
            let k = key(inode);
            let Some(list) = reg.get_mut(&k) else {
                return;
            };
            let before = list.len();
            list.retain(|m| {
                let (Some(file), Some(owner)) = (m.file.upgrade(), m.owner.upgrade()) else {
                    return false;
                };
                if m.mask & dn == 0 {
                    return true;
                }
                let info = match file.notify_signal() {
                    0 => Notice {
                        signo: libc::SIGIO,
                        code: SI_KERNEL,
                        band: None,
                    },
                    sig => Notice {
                        signo: sig,
                        code: POLL_MSG,
                        band: Some((POLL_MSG_BAND, m.fd)),
                    },
                };
                sends.push((owner, info));
                m.mask & DN_MULTISHOT != 0
            });
            self.settle(&mut reg, k, before);
        }
        for (owner, info) in sends {
            owner.send_notice(info);
        }
    }
}

/// The dnotify events of an inotify event mask.
fn events_of(in_mask: u32) -> u32 {
    let mut dn = 0;
    if in_mask & libc::IN_ACCESS != 0 {
        dn |= DN_ACCESS;
    }
    if in_mask & libc::IN_MODIFY != 0 {
        dn |= DN_MODIFY;
    }
    if in_mask & libc::IN_ATTRIB != 0 {
        dn |= DN_ATTRIB;
    }
    if in_mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
        dn |= DN_CREATE;
    }
    if in_mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
        dn |= DN_DELETE;
    }
    // Linux reports a rename to the directory the name left.
    if in_mask & libc::IN_MOVED_FROM != 0 {
        dn |= DN_RENAME;
    }
    dn
}
