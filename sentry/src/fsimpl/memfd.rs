//! memfd_create: anonymous tmpfs files.
//!
//! They live in one tmpfs mounted nowhere, each unlinked as soon as it is
//! opened, so the file lives exactly as long as its descriptions; its data
//! is in the memory file like any tmpfs file, so MAP_SHARED mappings of it
//! are coherent across processes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::errno::Errno;
use crate::fsimpl::tmpfs::Tmpfs;
use crate::vfs::{detached_root, Dentry, File, Owner};

/// The mount id of memfd's tmpfs: far above the ids mounts count up from.
const MOUNT_ID: u64 = 0xffff;

fn root() -> &'static Arc<Dentry> {
    static ROOT: OnceLock<Arc<Dentry>> = OnceLock::new();
    ROOT.get_or_init(|| {
        detached_root(
            Tmpfs::new_root(0o1777, Owner { uid: 0, gid: 0 }),
            "tmpfs",
            MOUNT_ID,
        )
    })
}

/// A new anonymous file named `memfd:NAME (deleted)`, as Linux shows it,
/// opened read-write.
pub fn create(name: &[u8], owner: Owner, flags: i32) -> Result<Arc<File>, Errno> {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let dir = root();
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
