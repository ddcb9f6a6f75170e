//! What fanotify marks are on ([`Object`]) and what an event is about
//! ([`Occurrence`]), as the VFS reports it.

use std::sync::Arc;

use crate::vfs::inotify::key;
use crate::vfs::{Dentry, InodeRef, Mount, Super};

/// What a mark is on: an inode (its address), a mount (its id) or a
/// filesystem (its `Super`'s address). The group holds the object (or a
/// weak reference to it), so an address stays its own while marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Object {
    Inode(usize),
    Mount(u64),
    Filesystem(usize),
}

impl Object {
    pub fn inode(i: &InodeRef) -> Object {
        Object::Inode(key(i))
    }

    pub fn mount(m: &Mount) -> Object {
        Object::Mount(m.id)
    }

    pub fn filesystem(sb: &Arc<Super>) -> Object {
        Object::Filesystem(Arc::as_ptr(sb) as usize)
    }
}

/// What an event is about, as the VFS reports it.
pub struct Occurrence<'a> {
    /// FAN_* bits, with FAN_ONDIR when the file is a directory (for an
    /// entry's event: when the entry is).
    pub mask: u64,
    /// The file; for an entry's event (FAN_CREATE ...) its directory.
    pub inode: &'a InodeRef,
    /// Its path, which an event's descriptor opens; none for an entry's
    /// event and for events of the inode alone.
    pub path: Option<&'a Arc<Dentry>>,
    /// The directory it is in and its name there (for an entry's event:
    /// the directory and the entry's name).
    pub parent: Option<(&'a InodeRef, &'a [u8])>,
    /// Its filesystem, when known.
    pub sb: Option<&'a Arc<Super>>,
}

impl Occurrence<'_> {
    pub fn ondir(&self) -> bool {
        self.mask & libc::FAN_ONDIR != 0
    }

    pub fn is_dirent(&self) -> bool {
        self.mask & super::DIRENT_EVENTS != 0
    }
}
