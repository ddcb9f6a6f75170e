//! File seals (fcntl F_ADD_SEALS/F_GET_SEALS, Linux's mm/memfd.c): what a
//! tmpfs regular file forbids from now on. A memfd made with
//! MFD_ALLOW_SEALING starts with none; every other tmpfs file starts with
//! F_SEAL_SEAL, so none can be added.
//!
//! Enforced where the file changes: writes and punched holes (WRITE,
//! FUTURE_WRITE), truncation and growth (SHRINK, GROW), chmod of the
//! execute bits (EXEC), and shared mappings (`syscalls/mmap.rs`: a
//! writable one is EPERM under a write seal, and a read-only one may not
//! become writable). F_SEAL_WRITE is refused (EBUSY) while a shared
//! mapping that may write exists: each holds a [`WritableMap`] count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::{Data, TmpInode};
use crate::errno::Errno;
use crate::vfs::SharedMapping;

pub const F_SEAL_SEAL: u32 = 0x1;
pub const F_SEAL_SHRINK: u32 = 0x2;
pub const F_SEAL_GROW: u32 = 0x4;
pub const F_SEAL_WRITE: u32 = 0x8;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
pub const F_SEAL_EXEC: u32 = 0x20;
const ALL: u32 =
    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;
/// The seals that forbid changing the contents.
pub const WRITES: u32 = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

/// One shared mapping of the file that may write (its hold, kept with the
/// mapping and forked with it): counted while it lives.
pub struct WritableMap(pub(super) Arc<AtomicUsize>);

impl WritableMap {
    pub(super) fn new(count: &Arc<AtomicUsize>) -> WritableMap {
        count.fetch_add(1, Ordering::Relaxed);
        WritableMap(count.clone())
    }
}

impl Drop for WritableMap {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl SharedMapping for WritableMap {
    fn fork(&self) -> Arc<dyn SharedMapping> {
        Arc::new(WritableMap::new(&self.0))
    }
    fn sync(&self) -> Result<(), Errno> {
        Ok(())
    }
}

/// The tmpfs inode behind an open file (a memfd, a file in /tmp or
/// /dev/shm), for the seal commands: None for any other file.
pub fn of_file(f: &crate::vfs::File) -> Option<&TmpInode> {
    let inode = &f.dentry()?.inode;
    (inode.as_ref() as &dyn std::any::Any).downcast_ref::<TmpInode>()
}

impl TmpInode {
    /// The seals of a regular file (None for other files: EINVAL).
    pub fn seals(&self) -> Option<u32> {
        match &self.lock().data {
            Data::Reg(r) => Some(r.seals),
            _ => None,
        }
    }

    /// Replaces the seals a new file starts with (memfd_create).
    pub fn set_initial_seals(&self, seals: u32) {
        if let Data::Reg(r) = &mut self.lock().data {
            r.seals = seals;
        }
    }

    /// F_ADD_SEALS (the caller checked the description is writable).
    pub fn add_seals(&self, seals: u32) -> Result<(), Errno> {
        if seals & !ALL != 0 {
            return Err(Errno::EINVAL);
        }
        let mut st = self.lock();
        let Data::Reg(r) = &mut st.data else {
            return Err(Errno::EINVAL);
        };
        if r.seals & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        if seals & F_SEAL_WRITE != 0
            && r.seals & F_SEAL_WRITE == 0
            && self.writable_maps.load(Ordering::Relaxed) > 0
        {
            return Err(Errno::EBUSY);
        }
        r.seals |= seals;
        Ok(())
    }
}
