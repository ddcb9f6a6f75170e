//! /proc/PID/mem: another process's memory read and written at its
//! addresses, as a debugger does without ptrace's word-at-a-time calls.
//!
//! Opening it asks the one ptrace access check with PTRACE_MODE_ATTACH
//! and the opener's filesystem ids (EACCES, as Linux's mm_access gives
//! the open). The description holds the address space as of the open:
//! once the process execs or exits, reads and writes find nothing (0).
//! Protections are overridden, as Linux's FOLL_FORCE does: a debugger
//! writes breakpoints into read-only text.

use std::sync::{Arc, Weak};

use super::owned_attrs;
use super::target::Target;
use crate::errno::Errno;
use crate::kernel::access::PtraceMode;
use crate::mm::{MemoryManager, PAGE_SIZE};
use crate::vfs::ops::Ctx;
use crate::vfs::{FileOps, Inode};

pub(super) struct MemInode {
    pub(super) ino: u64,
    pub(super) t: Target,
}

impl Inode for MemInode {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFREG | 0o600
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 1, self.t.ids()))
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        // Only a task may open it: whose right it is depends on who asks.
        Err(Errno::EACCES)
    }
    fn open_by(self: Arc<Self>, _flags: i32, ctx: &Ctx<'_>) -> Result<Arc<dyn FileOps>, Errno> {
        if !self.t.may_access(ctx, PtraceMode::AttachFsCreds) {
            return Err(Errno::EACCES);
        }
        let mm = self.t.view().0.as_ref().map(Arc::downgrade);
        Ok(Arc::new(MemFile {
            mm: mm.unwrap_or_default(),
        }))
    }
}

/// One page's worth of a transfer: the address space, the address, and
/// which bytes of the caller's buffer.
type Step<'a> = dyn FnMut(&MemoryManager, u64, std::ops::Range<usize>) -> Result<(), Errno> + 'a;

struct MemFile {
    mm: Weak<MemoryManager>,
}

impl MemFile {
    /// Moves `len` bytes at `addr` a page at a time with `step`; stops at
    /// the first page it cannot reach: EIO if that is the first, else
    /// what was moved (Linux's mem_rw).
    fn rw(&self, addr: u64, len: usize, step: &mut Step<'_>) -> Result<usize, Errno> {
        let Some(mm) = self.mm.upgrade() else {
            return Ok(0);
        };
        let mut done = 0;
        while done < len {
            let at = addr.checked_add(done as u64).ok_or(Errno::EIO)?;
            let to_page = (PAGE_SIZE - at % PAGE_SIZE) as usize;
            let n = to_page.min(len - done);
            if step(&mm, at, done..done + n).is_err() {
                return if done == 0 { Err(Errno::EIO) } else { Ok(done) };
            }
            done += n;
        }
        Ok(done)
    }
}

impl FileOps for MemFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.rw(off, buf.len(), &mut |mm, at, r| {
            mm.read_force(at, &mut buf[r])
        })
    }
    fn write_at(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        self.rw(off, buf.len(), &mut |mm, at, r| mm.write_force(at, &buf[r]))
    }
}
