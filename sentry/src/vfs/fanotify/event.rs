//! One queued fanotify event and its bytes: `struct
//! fanotify_event_metadata`, then (for groups that report file ids) the
//! info records Linux's copy_info_records_to_user writes: the directory's
//! id (with the name), then the file's own.

use std::sync::Arc;

use super::object::Occurrence;
use super::perm::Perm;
use super::{DIRENT_EVENTS, FID_BITS};
use crate::vfs::handle;
use crate::vfs::{Dentry, InodeRef};

/// FANOTIFY_METADATA_VERSION.
const METADATA_VERSION: u8 = 3;
/// sizeof(struct fanotify_event_metadata).
pub const METADATA_LEN: usize = std::mem::size_of::<libc::fanotify_event_metadata>();
/// Info records are padded to this (FANOTIFY_EVENT_ALIGN).
const ALIGN: usize = 4;

/// What identifies an event that a later one merges into (Linux's
/// fanotify_should_merge): the process, the object (or the ids that
/// name it) and whether it is a directory.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MergeKey {
    pid: i32,
    mount: u64,
    inode: usize,
    info: Info,
    ondir: bool,
}

/// The file ids an event carries (Linux's fid and name events): decided
/// when it is queued; their record types only when it is read, from the
/// mask the event has by then (merging may have added an entry event).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Info {
    /// A group that reports descriptors.
    None,
    /// One file's id.
    Object(Fid),
    /// A directory's id, with the entry's name and the child's own id
    /// when the group asked for them.
    Dir {
        dir: Fid,
        name: Option<Vec<u8>>,
        child: Option<Fid>,
    },
}

pub struct Event {
    pub mask: u64,
    /// Kernel ids of the process (or thread, FAN_REPORT_TID) that acted.
    pub pid: i32,
    /// The file an event descriptor opens (groups that report fds).
    pub path: Option<Arc<Dentry>>,
    pub info: Info,
    pub perm: Option<Arc<Perm>>,
}

impl Event {
    pub fn overflow() -> Event {
        Event {
            mask: libc::FAN_Q_OVERFLOW,
            pid: 0,
            path: None,
            info: Info::None,
            perm: None,
        }
    }

    /// Its size as read by a group with init flags `flags`.
    pub fn len(&self, flags: u32) -> usize {
        let mut v = Vec::new();
        self.records(flags, &mut v);
        METADATA_LEN + v.len()
    }

    /// Merging never touches permission events nor the overflow event.
    pub fn merge_key(&self) -> Option<MergeKey> {
        if self.perm.is_some() || self.mask & libc::FAN_Q_OVERFLOW != 0 {
            return None;
        }
        let (mount, inode) = self
            .path
            .as_ref()
            .map_or((0, 0), |d| (d.mount.id, crate::vfs::inotify::key(&d.inode)));
        Some(MergeKey {
            pid: self.pid,
            mount,
            inode,
            info: self.info.clone(),
            ondir: self.mask & libc::FAN_ONDIR != 0,
        })
    }

    /// The metadata with descriptor `fd` and pid `pid` as the reader sees
    /// it, then the info records.
    pub fn encode(&self, flags: u32, fd: i32, pid: i32, out: &mut Vec<u8>) {
        let mut info = Vec::new();
        self.records(flags, &mut info);
        let m = libc::fanotify_event_metadata {
            event_len: (METADATA_LEN + info.len()) as u32,
            vers: METADATA_VERSION,
            reserved: 0,
            metadata_len: METADATA_LEN as u16,
            mask: self.mask,
            fd,
            pid,
        };
        // SAFETY: fanotify_event_metadata is a repr(C) struct of integers
        // without padding (4+1+1+2+8+4+4 bytes), so all its bytes are
        // initialised, and the slice lives no longer than `m`.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                (&m as *const libc::fanotify_event_metadata).cast::<u8>(),
                METADATA_LEN,
            )
        };
        out.extend_from_slice(bytes);
        out.extend_from_slice(&info);
    }

    /// The info records, in Linux's order: the directory's id (with the
    /// name), then the file's own.
    fn records(&self, flags: u32, out: &mut Vec<u8>) {
        let (dir, object) = match &self.info {
            Info::None => return,
            Info::Object(f) => (None, Some(f)),
            Info::Dir { dir, name, child } => (Some((dir, name)), child.as_ref()),
        };
        if let Some((f, name)) = dir {
            match name {
                Some(n) => record(out, libc::FAN_EVENT_INFO_TYPE_DFID_NAME, f, Some(n)),
                None => record(out, libc::FAN_EVENT_INFO_TYPE_DFID, f, None),
            }
        }
        let Some(f) = object else {
            return;
        };
        let ondir = self.mask & libc::FAN_ONDIR != 0;
        if flags & FID_BITS == libc::FAN_REPORT_FID {
            record(out, libc::FAN_EVENT_INFO_TYPE_FID, f, None);
        } else if flags & libc::FAN_REPORT_NAME != 0 && ondir {
            // A directory's own event names it ".".
            record(out, libc::FAN_EVENT_INFO_TYPE_DFID_NAME, f, Some(b"."));
        } else if self.mask & DIRENT_EVENTS != 0 || ondir {
            record(out, libc::FAN_EVENT_INFO_TYPE_DFID, f, None);
        } else {
            record(out, libc::FAN_EVENT_INFO_TYPE_FID, f, None);
        }
    }
}

/// The filesystem id and handle of a file, as a record carries them.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fid {
    fsid: [i32; 2],
    ty: i32,
    handle: Vec<u8>,
}

impl Fid {
    pub fn of(inode: &InodeRef) -> Option<Fid> {
        let fh = handle::encode_inode(inode, true).ok()?;
        Some(Fid {
            fsid: fsid_of(inode),
            ty: fh.ty,
            handle: fh.bytes,
        })
    }
}

/// The filesystem id statfs(2) reports for the filesystem of `inode`.
fn fsid_of(inode: &InodeRef) -> [i32; 2] {
    match inode.statfs() {
        // SAFETY: fsid_t is a repr(C) pair of ints, as the array is.
        Ok(st) => unsafe { std::mem::transmute::<libc::fsid_t, [i32; 2]>(st.f_fsid) },
        Err(_) => [0, 0],
    }
}

/// Appends one info record of `ty` for `fid`, with `name` (and its NUL)
/// when there is one, padded to [`ALIGN`].
fn record(out: &mut Vec<u8>, ty: u8, fid: &Fid, name: Option<&[u8]>) {
    let start = out.len();
    out.extend_from_slice(&[ty, 0, 0, 0]);
    out.extend_from_slice(&fid.fsid[0].to_ne_bytes());
    out.extend_from_slice(&fid.fsid[1].to_ne_bytes());
    out.extend_from_slice(&(fid.handle.len() as u32).to_ne_bytes());
    out.extend_from_slice(&fid.ty.to_ne_bytes());
    out.extend_from_slice(&fid.handle);
    if let Some(n) = name {
        out.extend_from_slice(n);
        out.push(0);
    }
    let len = (out.len() - start).div_ceil(ALIGN) * ALIGN;
    out.resize(start + len, 0);
    out[start + 2..start + 4].copy_from_slice(&(len as u16).to_ne_bytes());
}

/// The ids an event of `occ` carries for a group with init flags `flags`
/// (Linux's fanotify_alloc_event): with FAN_REPORT_DIR_FID the directory
/// (an entry's, a directory's own, a file's parent), the name with
/// FAN_REPORT_NAME (not for a directory's own event) and the file's own
/// id with FAN_REPORT_FID; without it, the file's id (an entry's event:
/// its directory's).
pub fn info(flags: u32, occ: &Occurrence<'_>, mask: u64) -> Info {
    let dirent = mask & DIRENT_EVENTS != 0;
    let ondir = mask & libc::FAN_ONDIR != 0;
    let fid = |i: &InodeRef| Fid::of(i);
    if flags & libc::FAN_REPORT_DIR_FID == 0 {
        return fid(occ.inode).map_or(Info::None, Info::Object);
    }
    let (dir, name) = if dirent {
        (Some(occ.inode), occ.parent.map(|(_, n)| n))
    } else if ondir {
        (Some(occ.inode), None)
    } else {
        (occ.parent.map(|(d, _)| d), occ.parent.map(|(_, n)| n))
    };
    let Some(dir) = dir else {
        return fid(occ.inode).map_or(Info::None, Info::Object);
    };
    let child = if !dirent && !ondir && flags & libc::FAN_REPORT_FID != 0 {
        fid(occ.inode)
    } else {
        None
    };
    let name = name.filter(|_| flags & libc::FAN_REPORT_NAME != 0);
    let Some(dir) = fid(dir) else {
        return Info::None;
    };
    if name.is_none() && child.is_none() {
        return Info::Object(dir);
    }
    Info::Dir {
        dir,
        name: name.map(<[u8]>::to_vec),
        child,
    }
}
