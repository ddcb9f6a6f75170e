//! tmpfs file handles: the filesystem's id (as the generation) and the
//! inode number, laid out as Linux's shmem_encode_fh lays them out (three
//! u32s: generation, inode number low and high; type 1). A file is found
//! again through a map of the files that gave out a handle, kept weakly:
//! once a file is gone (no name, nothing open) its handle is ESTALE, and
//! inode numbers are never reused within one tmpfs. The id tells one
//! tmpfs's handles from another's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::TmpInode;
use crate::errno::Errno;
use crate::vfs::handle::{FileHandle, FILEID_INO32_GEN};
use crate::vfs::InodeRef;

/// Ids of tmpfs instances, for their handles.
static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// The files of one tmpfs that gave out a handle.
pub(super) struct Handles {
    id: u32,
    files: Mutex<HashMap<u64, Weak<TmpInode>>>,
}

impl Handles {
    pub(super) fn new() -> Handles {
        Handles {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            files: Mutex::default(),
        }
    }

    pub(super) fn forget(&self, ino: u64) {
        self.lock().remove(&ino);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Weak<TmpInode>>> {
        self.files.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Bytes of a tmpfs handle: three u32s.
const HANDLE_BYTES: usize = 12;

impl TmpInode {
    pub(super) fn encode_handle(&self) -> FileHandle {
        if !self.has_handle.swap(true, Ordering::AcqRel) {
            self.fs.handles.lock().insert(self.ino, self.me.clone());
        }
        let mut bytes = Vec::with_capacity(HANDLE_BYTES);
        bytes.extend_from_slice(&self.fs.handles.id.to_ne_bytes());
        bytes.extend_from_slice(&(self.ino as u32).to_ne_bytes());
        bytes.extend_from_slice(&((self.ino >> 32) as u32).to_ne_bytes());
        FileHandle {
            ty: FILEID_INO32_GEN,
            bytes,
        }
    }

    pub(super) fn decode_handle(&self, h: &FileHandle) -> Result<InodeRef, Errno> {
        if h.ty != FILEID_INO32_GEN || h.bytes.len() != HANDLE_BYTES {
            return Err(Errno::ESTALE);
        }
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&h.bytes[i * 4..i * 4 + 4]);
            u32::from_ne_bytes(w)
        };
        if word(0) != self.fs.handles.id {
            return Err(Errno::ESTALE);
        }
        let ino = u64::from(word(1)) | (u64::from(word(2)) << 32);
        let found = self.fs.handles.lock().get(&ino).and_then(Weak::upgrade);
        let inode: Arc<TmpInode> = found.ok_or(Errno::ESTALE)?;
        Ok(inode)
    }
}
