//! Namespace files (Linux's nsfs): what opening /proc/PID/ns/* gives. Its
//! inode number is the namespace's, so two tasks share a namespace when
//! `stat` of their links says the same; setns(2) takes it.

use crate::errno::Errno;
use crate::kernel::namespaces::NsRef;
use crate::vfs::{File, FileOps};
use std::sync::Arc;

/// Linux's NSFS_MAGIC: the device of nsfs files is its anonymous one; the
/// number here only has to be the same for every namespace file.
const NSFS_DEV: u64 = 4;

pub struct NsFile {
    pub ns: NsRef,
}

impl NsFile {
    /// An open namespace file (O_RDONLY, as /proc opens it).
    pub fn open(ns: NsRef, flags: i32) -> Arc<File> {
        File::new(Arc::new(NsFile { ns }), None, flags)
    }

    /// The namespace a file names, or EINVAL when it is no namespace
    /// file (setns's answer).
    pub fn of(f: &File) -> Option<&NsFile> {
        f.ops().as_any().and_then(|a| a.downcast_ref::<NsFile>())
    }
}

/// The stat of a namespace: a read-only regular file whose inode number
/// is the namespace's.
pub fn ns_stat(ino: u64) -> libc::stat {
    let mut s: libc::stat = crate::usermem::zeroed();
    s.st_ino = ino;
    s.st_dev = NSFS_DEV;
    s.st_mode = libc::S_IFREG | 0o444;
    s.st_nlink = 1;
    s.st_blksize = 4096;
    s
}

impl FileOps for NsFile {
    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(ns_stat(self.ns.ino()))
    }

    fn name(&self) -> Vec<u8> {
        self.ns.link_text().into_bytes()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
