//! memfd_create: anonymous tmpfs files.
//!
//! They live in one tmpfs mounted nowhere per VFS (`Vfs::internal_mount`,
//! so two sandboxes in one process never share it), each made without a
//! name, so the file lives exactly as long as its descriptions; its data
//! is in the kernel's memory file like any tmpfs file, so MAP_SHARED
//! mappings of it are coherent across processes.

use std::sync::Arc;

use crate::errno::Errno;
use crate::fsimpl::tmpfs::Tmpfs;
use crate::mm::MemoryFile;
use crate::vfs::{File, Owner, Vfs};

/// The mount id of memfd's tmpfs: far above the ids mounts count up from.
const MOUNT_ID: u64 = 0xffff;

/// A new anonymous file named `memfd:NAME (deleted)`, as Linux shows it,
/// opened read-write, in `vfs`'s memfd filesystem (made on first use, its
/// data in `memfile`, the memory file of the kernel `vfs` belongs to).
pub fn create(
    vfs: &Vfs,
    memfile: &Arc<MemoryFile>,
    name: &[u8],
    owner: Owner,
    flags: i32,
) -> Result<Arc<File>, Errno> {
    let dir = vfs.internal_mount(MOUNT_ID, "tmpfs", || {
        Tmpfs::new_root(memfile, 0o1777, Owner { uid: 0, gid: 0 })
    });
    // Nameless from the start (an O_TMPFILE that linkat may not name, as
    // Linux's memfd cannot be linked): no entry name to keep unique.
    let inode = dir.inode.tmpfile(0o777, owner, false)?;
    let ops = inode.clone().open(libc::O_RDWR)?;
    let mut shown = b"memfd:".to_vec();
    shown.extend_from_slice(name);
    shown.extend_from_slice(b" (deleted)");
    let dentry = dir.child(dir.mount.clone(), inode, &shown);
    Ok(File::new(
        ops,
        Some(dentry),
        libc::O_RDWR | (flags & libc::O_NONBLOCK),
    ))
}
