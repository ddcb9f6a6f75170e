//! memfd_create: anonymous tmpfs files.
//!
//! They live in one tmpfs mounted nowhere per VFS (`Vfs::internal_mount`,
//! so two sandboxes in one process never share it), each unlinked as soon
//! as it is opened, so the file lives exactly as long as its descriptions;
//! its data is in the memory file like any tmpfs file, so MAP_SHARED
//! mappings of it are coherent across processes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::errno::Errno;
use crate::fsimpl::tmpfs::Tmpfs;
use crate::vfs::{File, Owner, Vfs};

/// The mount id of memfd's tmpfs: far above the ids mounts count up from.
const MOUNT_ID: u64 = 0xffff;

/// A new anonymous file named `memfd:NAME (deleted)`, as Linux shows it,
/// opened read-write, in `vfs`'s memfd filesystem.
pub fn create(vfs: &Vfs, name: &[u8], owner: Owner, flags: i32) -> Result<Arc<File>, Errno> {
    // Process-wide, yet no sandbox sees another's names: each name lives
    // only between create and unlink, in its own VFS's directory.
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let dir = vfs.internal_mount(MOUNT_ID, "tmpfs", || {
        Tmpfs::new_root(0o1777, Owner { uid: 0, gid: 0 })
    });
    // A unique entry name for the moment between create and unlink.
    let entry = format!(".memfd-{}", NEXT.fetch_add(1, Ordering::Relaxed)).into_bytes();
    let inode = dir.inode.create(&entry, 0o777, owner)?;
    let ops = inode.clone().open(libc::O_RDWR);
    let _ = dir.inode.unlink(&entry);
    let ops = ops?;
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
