//! The pages a Gofer file's MAP_SHARED mappings map (Linux's page cache
//! of the file, while it is mapped).
//!
//! A host file's bytes live on the host, so a shared mapping needs pages
//! of the memory file that every mapping of the file maps, and that read
//! and write see too. The first shared mapping makes the cache; the chunks
//! its range covers are read in from the host then (a mapping's pages are
//! filled when it is made, not on fault: see docs/architecture.md). While
//! the cache lives, reads of the covered bytes come from it and writes go
//! to the host and into it. Stores through writable mappings reach the
//! host at msync, fsync and when the last mapping goes; the cache goes
//! with it, so the memory is given back and the host file is again the
//! only copy.
//!
//! Every operation runs under the inode's one lock, held across the host
//! I/O: a leaf lock, never held while taking the MM's (the last hold can
//! be dropped by an munmap under the MM's lock).

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use super::file::{pread_raw, pwrite_raw};
use super::GoferInode;
use crate::errno::Errno;
use crate::fsimpl::chunks::{chunk_of, chunk_start};
use crate::memfile::{MemRange, MemoryFile, PAGE_SIZE};
use crate::vfs::{MemSegment, SharedMapping, SharedPages};

/// A Gofer file's pages while shared mappings map it.
pub(super) struct PageCache {
    /// The host file, opened read-write when the tree is writable: read
    /// to fill chunks, written back to.
    fd: OwnedFd,
    /// The file's size as the sandbox sees it: bytes past it are never
    /// written back.
    size: u64,
    /// By chunk index ([`chunk_of`]).
    chunks: BTreeMap<u64, Arc<MemRange>>,
    /// Mapping holds alive, and those that may be written through.
    holds: usize,
    writable_holds: usize,
    /// A writable mapping existed since the last write-back.
    dirty: bool,
}

/// The lock around an inode's page cache.
pub(super) type Pages = Mutex<Option<PageCache>>;

fn lock(p: &Pages) -> MutexGuard<'_, Option<PageCache>> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

impl PageCache {
    /// The chunks covering `[off, off+len)`, made and read in from the
    /// host where missing.
    fn segments(
        &mut self,
        memfile: &Arc<MemoryFile>,
        off: u64,
        len: u64,
    ) -> Result<Vec<MemSegment>, Errno> {
        let end = off.checked_add(len).ok_or(Errno::EOVERFLOW)?;
        let mut out = Vec::new();
        let mut pos = off;
        while pos < end {
            let (k, start, clen) = chunk_of(pos);
            let in_chunk = pos - start;
            let n = (clen - in_chunk).min(end - pos);
            let mem = match self.chunks.get(&k) {
                Some(m) => m.clone(),
                None => {
                    let m = MemRange::new(memfile, clen)?;
                    let want = self.size.saturating_sub(start).min(clen);
                    if want > 0 {
                        let p = m.ptr(0, want)?;
                        // SAFETY: `p..p+want` lies inside the new range,
                        // which nothing maps yet.
                        unsafe { pread_raw(self.fd.as_raw_fd(), p, want as usize, start) }?;
                    }
                    self.chunks.insert(k, m.clone());
                    m
                }
            };
            out.push((mem, in_chunk, n));
            pos += n;
        }
        Ok(out)
    }

    /// Calls `f` with each cached piece of `[off, off+len)` as (offset in
    /// the request, memory, length), and each uncached piece as (offset,
    /// None, length).
    fn pieces(&self, off: u64, len: u64, mut f: impl FnMut(u64, Option<*mut u8>, u64)) {
        let end = off.saturating_add(len);
        let mut pos = off;
        while pos < end {
            let (k, start, clen) = chunk_of(pos);
            let n = (start + clen - pos).min(end - pos);
            let p = self.chunks.get(&k).and_then(|m| m.ptr(pos - start, n).ok());
            f(pos - off, p, n);
            pos += n;
        }
    }

    /// read(2) of the mapped file: cached bytes from the cache, the rest
    /// from the host.
    fn read(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let n = self.size.saturating_sub(off).min(buf.len() as u64);
        let mut result = Ok(());
        self.pieces(off, n, |at, p, len| {
            if result.is_err() {
                return;
            }
            let dst = &mut buf[at as usize..(at + len) as usize];
            match p {
                // SAFETY: `p..p+len` lies inside a live chunk; the
                // application may store into it meanwhile, as it may
                // into a page a native read copies.
                Some(p) => unsafe { std::ptr::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) },
                None => {
                    // SAFETY: `dst` is writable for its length.
                    let r = unsafe {
                        pread_raw(self.fd.as_raw_fd(), dst.as_mut_ptr(), dst.len(), off + at)
                    };
                    if let Err(e) = r {
                        result = Err(e);
                    }
                }
            }
        });
        result.map(|()| n as usize)
    }

    /// After `data` was written to the host at `off`: the cached copy
    /// agrees.
    fn written(&mut self, data: &[u8], off: u64) {
        self.pieces(off, data.len() as u64, |at, p, len| {
            if let Some(p) = p {
                let src = &data[at as usize..(at + len) as usize];
                // SAFETY: `p..p+len` lies inside a live chunk.
                unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) };
            }
        });
        self.size = self.size.max(off + data.len() as u64);
    }

    /// After the host file was cut or grown to `size`: bytes past it read
    /// as zeros if it grows again, as Linux's truncate leaves them.
    fn resized(&mut self, size: u64) {
        if size < self.size {
            let from_page = size.next_multiple_of(PAGE_SIZE);
            let (first, _, _) = chunk_of(size);
            for (&k, m) in self.chunks.range(first..) {
                let start = chunk_start(k);
                let cut = size.saturating_sub(start);
                let page_cut = from_page.saturating_sub(start).min(m.len);
                if cut < page_cut {
                    if let Ok(p) = m.ptr(cut, page_cut - cut) {
                        // SAFETY: inside a live chunk.
                        unsafe { std::ptr::write_bytes(p, 0, (page_cut - cut) as usize) };
                    }
                }
                if page_cut < m.len {
                    m.file.punch(m.off + page_cut, m.len - page_cut);
                }
            }
        }
        self.size = size;
    }

    /// Writes the cached bytes back to the host if a writable mapping may
    /// have changed them.
    fn write_back(&mut self) -> Result<(), Errno> {
        if !self.dirty {
            return Ok(());
        }
        for (&k, m) in &self.chunks {
            let start = chunk_start(k);
            let n = self.size.saturating_sub(start).min(m.len);
            if n == 0 {
                continue;
            }
            let p = m.ptr(0, n)?;
            // SAFETY: `p..p+n` lies inside a live chunk; stores racing
            // with the write reach the host at the next write-back.
            let done = unsafe { pwrite_raw(self.fd.as_raw_fd(), p, n as usize, start) }?;
            if (done as u64) < n {
                return Err(Errno::EIO);
            }
        }
        self.dirty = self.writable_holds > 0;
        Ok(())
    }
}

/// One shared mapping's hold on a Gofer file's page cache.
struct Hold {
    inode: Arc<GoferInode>,
    writable: bool,
}

impl SharedMapping for Hold {
    fn fork(&self) -> Arc<dyn SharedMapping> {
        if let Some(c) = lock(&self.inode.pages).as_mut() {
            c.holds += 1;
            c.writable_holds += usize::from(self.writable);
        }
        Arc::new(Hold {
            inode: self.inode.clone(),
            writable: self.writable,
        })
    }

    fn sync(&self) -> Result<(), Errno> {
        match lock(&self.inode.pages).as_mut() {
            Some(c) => c.write_back(),
            None => Ok(()),
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut g = lock(&self.inode.pages);
        let Some(c) = g.as_mut() else {
            return;
        };
        c.holds = c.holds.saturating_sub(1);
        c.writable_holds = c.writable_holds.saturating_sub(usize::from(self.writable));
        if c.holds == 0 {
            if let Err(e) = c.write_back() {
                // Linux too loses what it cannot write back, and reports
                // it at the next fsync; nobody is left to tell here.
                tracing::warn!("writing back a shared mapping of a Gofer file: {e}");
            }
            *g = None;
        }
    }
}

impl GoferInode {
    /// [`crate::vfs::Inode::map_shared`] of a regular Gofer file: its page
    /// cache's chunks, made on the first mapping. `None` when the host
    /// file cannot be opened for it (the mapping is then a copy).
    pub(super) fn map_cached(
        self: &Arc<Self>,
        memfile: &Arc<MemoryFile>,
        off: u64,
        len: u64,
        writable: bool,
    ) -> Option<Result<SharedPages, Errno>> {
        let mut g = lock(&self.pages);
        if g.is_none() {
            let fd = self
                .fs
                .opts
                .writable
                .then(|| self.open_host_flags(libc::O_RDWR).ok())
                .flatten()
                .or_else(|| self.open_host_flags(libc::O_RDONLY).ok())?;
            *g = Some(PageCache {
                fd,
                size: self.attr().size,
                chunks: BTreeMap::new(),
                holds: 0,
                writable_holds: 0,
                dirty: false,
            });
        }
        let c = g.as_mut()?;
        let r = c.segments(memfile, off, len).map(|segments| {
            c.holds += 1;
            c.writable_holds += usize::from(writable);
            c.dirty |= writable;
            SharedPages {
                segments,
                hold: Some(Arc::new(Hold {
                    inode: self.clone(),
                    writable,
                }) as Arc<dyn SharedMapping>),
            }
        });
        if c.holds == 0 {
            // The first mapping failed: no cache without a mapping.
            *g = None;
        }
        Some(r)
    }

    /// Whether shared mappings map this file now.
    pub(super) fn is_mapped_shared(&self) -> bool {
        lock(&self.pages).is_some()
    }

    /// read(2) while shared mappings map the file: `None` when none does.
    pub(super) fn read_cached(&self, buf: &mut [u8], off: u64) -> Option<Result<usize, Errno>> {
        lock(&self.pages).as_ref().map(|c| c.read(buf, off))
    }

    /// Runs `write` (to the host) and keeps the page cache, if any, in
    /// step with what it wrote.
    pub(super) fn write_cached(
        &self,
        data: &[u8],
        off: u64,
        write: impl FnOnce() -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        let mut g = lock(&self.pages);
        let r = write();
        if let (Some(c), Ok(n)) = (g.as_mut(), &r) {
            c.written(&data[..*n], off);
        }
        r
    }

    /// After a truncate of the host file.
    pub(super) fn resize_cached(&self, size: u64) {
        if let Some(c) = lock(&self.pages).as_mut() {
            c.resized(size);
        }
    }

    /// fsync(2): what mappings changed reaches the host first.
    pub(super) fn write_back_cached(&self) -> Result<(), Errno> {
        match lock(&self.pages).as_mut() {
            Some(c) => c.write_back(),
            None => Ok(()),
        }
    }
}
