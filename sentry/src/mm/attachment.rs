//! Objects that count the address spaces they are attached to (Linux's
//! `vm_operations_struct` open/close, which SysV shared memory uses for
//! its attach count, and a shared file mapping for writing back), and
//! shmdt(2)'s unmapping of one attachment.
//!
//! The MM knows no segment: the kernel hands it an [`Attachment`] with the
//! mapping and the MM keeps it on each VMA of that mapping. Every VMA of
//! one attachment holds the same `Arc` (splitting a VMA clones it), so the
//! attachment lives exactly as long as some piece of the mapping does and
//! its `Drop` is the detach, whichever way the pieces go: munmap, shmdt, a
//! MAP_FIXED mapping over them, exec or exit. Fork gives the child's copy
//! an attachment of its own ([`Attachment::fork`]), as Linux calls
//! `vm_ops->open` for each VMA it copies.
//!
//! Linux counts one per VMA, so an mprotect that splits an attached range
//! counts one more attach there; here a split keeps one.

use std::any::Any;
use std::sync::Arc;

use platform::Context;

use super::{page_round_up, MemoryManager, PAGE_SIZE};
use crate::errno::Errno;
use crate::vfs::{File, SharedMapping};

pub trait Attachment: Send + Sync {
    /// The attachment a forked child's copy of the mapping holds.
    fn fork(&self) -> Arc<dyn Attachment>;

    /// Bytes of the attached object: shmdt looks no further than this
    /// past the address it is given.
    fn size(&self) -> u64;

    /// The concrete type, for the kernel that made it.
    fn as_any(&self) -> &dyn Any;

    /// Whether shmdt(2) unmaps it: a SysV segment's attachment, not a
    /// shared file mapping's [`FileHold`].
    fn shmdt_target(&self) -> bool {
        true
    }

    /// msync(2) of the mapping: writes back what stores may have changed.
    fn sync(&self) -> Result<(), Errno> {
        Ok(())
    }
}

/// A MAP_SHARED file mapping's hold on its file, kept as the mapping's
/// attachment (Linux's `vm_file`): the open file, which
/// remap_file_pages maps again, and the file's [`SharedMapping`] if it
/// keeps its pages outside the memory file: that one hears of fork and of
/// the last unmap, and msync reaches it.
pub struct FileHold {
    pub file: Arc<File>,
    pub hold: Option<Arc<dyn SharedMapping>>,
}

impl Attachment for FileHold {
    fn fork(&self) -> Arc<dyn Attachment> {
        Arc::new(FileHold {
            file: self.file.clone(),
            hold: self.hold.as_ref().map(|h| h.fork()),
        })
    }

    fn size(&self) -> u64 {
        0
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn shmdt_target(&self) -> bool {
        false
    }

    fn sync(&self) -> Result<(), Errno> {
        match &self.hold {
            Some(h) => h.sync(),
            None => Ok(()),
        }
    }
}

impl MemoryManager {
    /// shmdt(2): unmaps the attachment whose start is `addr`, every piece
    /// of it that still lies where it was attached (fragments left by
    /// munmap or mprotect included), as Linux's `ksys_shmdt` finds them: a
    /// VMA belongs if it holds an attachment and sits as far from `addr`
    /// as its offset into the object. EINVAL if none does.
    pub fn detach(&self, ctx: &mut dyn Context, addr: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let mut inner = self.inner_mut();
        let at_offset = |start: u64, mem_off: u64| start >= addr && start - addr == mem_off;
        // The first VMA at or above `addr` that starts at its own offset
        // from it names the attachment and its size.
        let mut found = None;
        let mut ranges = Vec::new();
        for v in inner.vmas.values().filter(|v| v.end > addr) {
            match (&found, &v.attachment) {
                (None, Some(a)) if a.shmdt_target() && at_offset(v.start, v.mem_off) => {
                    let size = page_round_up(a.size()).unwrap_or(u64::MAX);
                    found = Some((a.clone(), size));
                    ranges.push((v.start, v.end));
                }
                (None, _) => {}
                (Some((a, size)), mine) => {
                    if v.end - addr > *size {
                        break;
                    }
                    if mine.as_ref().is_some_and(|m| Arc::ptr_eq(m, a))
                        && at_offset(v.start, v.mem_off)
                    {
                        ranges.push((v.start, v.end));
                    }
                }
            }
        }
        if found.is_none() {
            return Err(Errno::EINVAL);
        }
        drop(found);
        for (start, end) in ranges {
            // Whole VMAs just found: only the platform can fail here, and
            // Linux ignores do_munmap's result too.
            let _ = self.remove_range(&mut inner, ctx, start, end, true);
        }
        self.settle(&mut inner);
        Ok(())
    }

    /// msync(2) of `[addr, addr+len)`: each shared file mapping in it
    /// writes back, after the MM's lock is let go (the file does host I/O).
    pub fn sync(&self, addr: u64, len: u64) -> Result<(), Errno> {
        let end = addr.saturating_add(len);
        let mut holds: Vec<Arc<dyn Attachment>> = Vec::new();
        {
            let inner = self.inner();
            for v in inner
                .vmas
                .values()
                .filter(|v| v.end > addr && v.start < end)
            {
                if let Some(a) = v.attachment.as_ref().filter(|a| !a.shmdt_target()) {
                    if !holds.iter().any(|h| Arc::ptr_eq(h, a)) {
                        holds.push(a.clone());
                    }
                }
            }
        }
        holds.iter().try_for_each(|h| h.sync())
    }

    /// The distinct attachments this address space holds, for the kernel
    /// to tell them whose they are after a fork.
    pub fn attachments(&self) -> Vec<Arc<dyn Attachment>> {
        let inner = self.inner();
        let mut out: Vec<Arc<dyn Attachment>> = Vec::new();
        for a in inner.vmas.values().filter_map(|v| v.attachment.as_ref()) {
            if !out.iter().any(|o| Arc::ptr_eq(o, a)) {
                out.push(a.clone());
            }
        }
        out
    }
}
