//! File handles (name_to_handle_at, open_by_handle_at): a filesystem
//! that can find its files again by an id ([`super::Inode::handle`],
//! [`super::Inode::by_handle`]; tmpfs) gives real handles; any other file
//! gets an identifier-only handle with AT_HANDLE_FID (its inode number, as
//! Linux's default encoder makes for filesystems without export
//! operations) and EOPNOTSUPP without.

use std::sync::Arc;

use super::{same_inode, Dentry, InodeRef};
use crate::errno::Errno;

/// Linux's FILEID_INO32_GEN: a 32-bit inode number and a generation.
pub const FILEID_INO32_GEN: i32 = 1;

/// A handle as the application sees it: `handle_type` and the bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileHandle {
    pub ty: i32,
    pub bytes: Vec<u8>,
}

/// The handle of `d`; `fid_only` (AT_HANDLE_FID) asks only for an id,
/// which every file has.
pub fn encode(d: &Dentry, fid_only: bool) -> Result<FileHandle, Errno> {
    encode_inode(&d.inode, fid_only)
}

/// [`encode`] for an inode (fanotify's file ids).
pub fn encode_inode(inode: &InodeRef, fid_only: bool) -> Result<FileHandle, Errno> {
    match inode.handle() {
        Err(Errno::EOPNOTSUPP) if fid_only => {
            // Truncated as Linux's FILEID_INO32_GEN truncates; generation 0.
            let ino = inode.ino() as u32;
            let mut bytes = ino.to_ne_bytes().to_vec();
            bytes.extend_from_slice(&0u32.to_ne_bytes());
            Ok(FileHandle {
                ty: FILEID_INO32_GEN,
                bytes,
            })
        }
        r => r,
    }
}

/// The file `h` names on the filesystem of `anchor`'s mount, as a dentry
/// of that mount. The file's own names are not known: its dentry hangs
/// off the mount's root as `#INO` (what /proc/self/fd shows), as a
/// disconnected dentry does on Linux.
pub fn decode(anchor: &Arc<Dentry>, h: &FileHandle) -> Result<Arc<Dentry>, Errno> {
    let inode = anchor.inode.by_handle(h)?;
    let mut root = anchor.clone();
    while let Some(p) = root.parent() {
        if p.mount.id != root.mount.id {
            break;
        }
        root = p.clone();
    }
    if same_inode(&inode, &root.inode) {
        return Ok(root);
    }
    let name = format!("#{}", inode.ino());
    Ok(root.child(root.mount.clone(), inode, name.as_bytes()))
}
