//! memfd_create: anonymous tmpfs files.
//!
//! They live in one tmpfs mounted nowhere per VFS (`Vfs::internal_mount`,
//! so two sandboxes in one process never share it), each made without a
//! name, so the file lives exactly as long as its descriptions; its data
//! is in the kernel's memory file like any tmpfs file, so MAP_SHARED
//! mappings of it are coherent across processes.

use std::sync::Arc;

use crate::errno::Errno;
use crate::fsimpl::tmpfs::seals::{F_SEAL_EXEC, F_SEAL_SEAL};
use crate::fsimpl::tmpfs::{TmpInode, Tmpfs};
use crate::mm::MemoryFile;
use crate::vfs::{File, Owner, Vfs};

/// The mount id of memfd's tmpfs: far above the ids mounts count up from.
const MOUNT_ID: u64 = 0xffff;

/// The seals a new memfd starts with (memfd_create's flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sealing {
    /// F_SEAL_SEAL: none can be added.
    None,
    /// MFD_ALLOW_SEALING.
    Allowed,
    /// MFD_NOEXEC_SEAL: F_SEAL_EXEC, and more may be added.
    NoExec,
}

/// A new anonymous file named `memfd:NAME (deleted)`, as Linux shows it,
/// opened read-write, in `vfs`'s memfd filesystem (made on first use, its
/// data in `memfile`, the memory file of the kernel `vfs` belongs to).
pub fn create(
    vfs: &Vfs,
    memfile: &Arc<MemoryFile>,
    name: &[u8],
    owner: Owner,
    flags: i32,
    sealing: Sealing,
) -> Result<Arc<File>, Errno> {
    let (mode, seals) = match sealing {
        Sealing::None => (0o777, F_SEAL_SEAL),
        Sealing::Allowed => (0o777, 0),
        // MFD_NOEXEC_SEAL: not executable, and it stays so.
        Sealing::NoExec => (0o666, F_SEAL_EXEC),
    };
    let dir = vfs.internal_mount(MOUNT_ID, "tmpfs", || {
        Tmpfs::new_root(memfile, 0o1777, Owner { uid: 0, gid: 0 })
    });
    // Nameless from the start (an O_TMPFILE that linkat may not name, as
    // Linux's memfd cannot be linked): no entry name to keep unique.
    let inode = dir.inode.tmpfile(mode, owner, false)?;
    if let Some(i) = (inode.as_ref() as &dyn std::any::Any).downcast_ref::<TmpInode>() {
        i.set_initial_seals(seals);
    }
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
