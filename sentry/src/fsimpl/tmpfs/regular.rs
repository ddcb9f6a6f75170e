//! A regular file's data: chunks of the memory file whose sizes grow
//! geometrically, allocated on first use, each page charged once to the
//! filesystem's budget.

use super::*;

/// One chunk of a regular file's data.
pub(super) struct Chunk {
    pub(super) mem: Arc<MemRange>,
    /// One bit per page: charged to the filesystem's budget.
    pub(super) charged: Vec<u64>,
}

impl Chunk {
    pub(super) fn new(mem: Arc<MemRange>) -> Chunk {
        let pages = mem.len / PAGE as u64;
        Chunk {
            mem,
            charged: vec![0; pages.div_ceil(64) as usize],
        }
    }

    pub(super) fn is_charged(&self, page: u64) -> bool {
        self.charged
            .get((page / 64) as usize)
            .is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    pub(super) fn set_charged(&mut self, page: u64) {
        if let Some(w) = self.charged.get_mut((page / 64) as usize) {
            *w |= 1 << (page % 64);
        }
    }

    /// Uncharges the pages from `first` on; returns how many were charged.
    pub(super) fn uncharge_from(&mut self, first: u64) -> u64 {
        let mut n = 0;
        for (i, w) in self.charged.iter_mut().enumerate() {
            let base = i as u64 * 64;
            if base + 64 <= first {
                continue;
            }
            let keep = if first > base {
                (1u64 << (first - base)) - 1
            } else {
                0
            };
            n += u64::from((*w & !keep).count_ones());
            *w &= keep;
        }
        n
    }
}

pub(super) struct RegData {
    pub(super) size: u64,
    /// By chunk index (see [`chunk_of`]); missing chunks read as zeros.
    pub(super) chunks: BTreeMap<u64, Chunk>,
    /// Pages charged to the filesystem.
    pub(super) pages: u64,
    /// F_SEAL_* (`seals.rs`).
    pub(super) seals: u32,
}

impl Default for RegData {
    fn default() -> RegData {
        RegData {
            size: 0,
            chunks: BTreeMap::new(),
            pages: 0,
            // Only a memfd made with MFD_ALLOW_SEALING takes seals.
            seals: super::seals::F_SEAL_SEAL,
        }
    }
}

/// The other side of a copy to or from file data: (pointer, length)
/// pieces in order, a Sentry buffer or the application's pages as
/// [`IoSeq::with_ranges`] hands them out.
///
/// [`IoSeq::with_ranges`]: crate::usermem::IoSeq::with_ranges
pub(super) struct Pieces<'a> {
    rest: &'a [(*mut u8, usize)],
    /// Bytes of `rest[0]` already used.
    at: usize,
}

impl<'a> Pieces<'a> {
    pub(super) fn new(pieces: &'a [(*mut u8, usize)]) -> Pieces<'a> {
        Pieces {
            rest: pieces,
            at: 0,
        }
    }

    /// Bytes left.
    fn len(&self) -> usize {
        self.rest.iter().map(|p| p.1).sum::<usize>() - self.at
    }

    /// The next run of at most `max` contiguous bytes (`max` > 0), or
    /// `None` when every piece is used.
    fn next(&mut self, max: usize) -> Option<(*mut u8, usize)> {
        while let Some(&(p, n)) = self.rest.first() {
            if self.at < n {
                let len = (n - self.at).min(max);
                // Inside the piece: `at` < `n`.
                let run = (p.wrapping_add(self.at), len);
                self.at += len;
                return Some(run);
            }
            self.rest = &self.rest[1..];
            self.at = 0;
        }
        None
    }
}

impl TmpInode {
    /// Reads file data at `off` (holes read as zeros).
    pub fn read_data(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.read_pieces(&mut Pieces::new(&[(buf.as_mut_ptr(), buf.len())]), off)
    }

    /// Writes file data at `off`, growing the file; short (or ENOSPC) when
    /// the filesystem is full.
    pub fn write_data(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        // Only read through: the pointer is mutable for the type's sake.
        let piece = (buf.as_ptr().cast_mut(), buf.len());
        self.write_pieces(&mut Pieces::new(&[piece]), off)
    }

    /// [`TmpInode::read_data`] into `to`, which every caller hands out
    /// writable and valid for as long as this runs.
    pub(super) fn read_pieces(&self, to: &mut Pieces<'_>, off: u64) -> Result<usize, Errno> {
        let mut st = self.lock();
        let r = match &st.data {
            Data::Reg(r) => r,
            Data::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        if off >= r.size {
            return Ok(0);
        }
        let n = usize::try_from(r.size - off)
            .unwrap_or(usize::MAX)
            .min(to.len());
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let (k, start, clen) = chunk_of(pos);
            let in_chunk = pos - start;
            let want = usize::try_from(clen - in_chunk)
                .unwrap_or(usize::MAX)
                .min(n - done);
            let Some((dst, len)) = to.next(want) else {
                break;
            };
            match r.chunks.get(&k) {
                Some(c) => {
                    let src = c.mem.ptr(in_chunk, len as u64)?;
                    // SAFETY: `src` points at `len` bytes of the chunk, in
                    // the memory file's mapping (bounds checked by `ptr`);
                    // `dst` at `len` writable bytes of a piece. They may be
                    // the same bytes (a read into a shared mapping of this
                    // file): `copy` allows that. Mappings of the file may
                    // change them meanwhile, as on Linux.
                    unsafe { std::ptr::copy(src, dst, len) };
                }
                // SAFETY: `dst` points at `len` writable bytes of a piece.
                None => unsafe { std::ptr::write_bytes(dst, 0, len) },
            }
            done += len;
        }
        st.atime = Time::now();
        Ok(done)
    }

    /// [`TmpInode::write_data`] from `from`, which every caller hands out
    /// readable and valid for as long as this runs.
    pub(super) fn write_pieces(&self, from: &mut Pieces<'_>, off: u64) -> Result<usize, Errno> {
        let total = from.len();
        if total == 0 {
            return Ok(0);
        }
        let end = off.checked_add(total as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let mut st = self.lock();
        let r = match &mut st.data {
            Data::Reg(r) => r,
            Data::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        if r.seals & super::seals::WRITES != 0
            || (r.seals & super::seals::F_SEAL_GROW != 0 && end > r.size)
        {
            return Err(Errno::EPERM);
        }
        let memfile = &self.fs.memfile;
        let mut done = 0;
        // Page by page: each is charged before it is written, so a full
        // filesystem makes the write short at a page boundary.
        while done < total {
            let pos = off + done as u64;
            let (k, start, clen) = chunk_of(pos);
            let in_chunk = pos - start;
            let in_page = (pos % PAGE as u64) as usize;
            let len = (PAGE - in_page).min(total - done);
            let chunk = match r.chunks.entry(k) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    match MemRange::new(memfile, clen) {
                        Ok(m) => v.insert(Chunk::new(m)),
                        // The memory file is full: as full as the disk.
                        Err(_) => break,
                    }
                }
            };
            let page = in_chunk / PAGE as u64;
            if !chunk.is_charged(page) {
                if !self.charge_page() {
                    break;
                }
                chunk.set_charged(page);
                r.pages += 1;
            }
            let dst = chunk.mem.ptr(in_chunk, len as u64)?;
            let mut copied = 0;
            // A page's bytes may come from two pieces.
            while let Some((src, n)) = from.next(len - copied) {
                // SAFETY: `dst + copied` points at `len - copied` >= `n`
                // bytes of the chunk in the memory file's mapping (bounds
                // checked by `ptr`); `src` at `n` readable bytes of a
                // piece. They may be the same bytes (a write from a
                // shared mapping of this file): `copy` allows that.
                unsafe { std::ptr::copy(src, dst.add(copied), n) };
                copied += n;
                if copied == len {
                    break;
                }
            }
            done += len;
        }
        if done == 0 {
            return Err(Errno::ENOSPC);
        }
        r.size = r.size.max(off + done as u64);
        let now = Time::now();
        st.mtime = now;
        st.ctime = now;
        Ok(done)
    }

    pub(super) fn charge_page(&self) -> bool {
        self.fs
            .pages
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.fs.max_pages).then_some(n + 1)
            })
            .is_ok()
    }

    pub(super) fn set_size(r: &mut RegData, fs: &Tmpfs, size: u64) {
        if size < r.size {
            // The tail of the last page must read as zeros if the file
            // grows again.
            let in_page = size % PAGE as u64;
            if in_page != 0 {
                let (k, start, _) = chunk_of(size);
                if let Some(c) = r.chunks.get(&k) {
                    let tail = PAGE as u64 - in_page;
                    if let Ok(p) = c.mem.ptr(size - start, tail) {
                        // SAFETY: `p` points at `tail` bytes of the chunk
                        // in the memory file's mapping (checked by `ptr`).
                        unsafe { std::ptr::write_bytes(p, 0, tail as usize) };
                    }
                }
            }
            // Every whole page past the end goes: pages written through a
            // mapping past the old end too.
            let cut = size.div_ceil(PAGE as u64) * PAGE as u64;
            let (first, _, _) = chunk_of(cut);
            let mut uncharged = 0;
            let mut unused = Vec::new();
            for (&k, c) in r.chunks.range_mut(first..) {
                let from = cut.saturating_sub(chunk_start(k));
                uncharged += c.uncharge_from(from / PAGE as u64);
                if from == 0 && Arc::strong_count(&c.mem) == 1 {
                    // Nobody maps it (mappings hold the range, and new
                    // ones are made under the inode's lock): free it.
                    unused.push(k);
                } else if from < c.mem.len {
                    c.mem.file.punch(c.mem.off + from, c.mem.len - from);
                }
            }
            for k in unused {
                r.chunks.remove(&k);
            }
            r.pages = r.pages.saturating_sub(uncharged);
            fs.pages.fetch_sub(uncharged, Ordering::Relaxed);
        }
        r.size = size;
    }

    /// The memory behind bytes `[off, off+len)`, chunks allocated as
    /// needed (see [`Inode::shared_memory`]).
    pub(super) fn memory_segments(&self, off: u64, len: u64) -> Result<Vec<MemSegment>, Errno> {
        let page = PAGE as u64;
        if !off.is_multiple_of(page) || !len.is_multiple_of(page) {
            return Err(Errno::EINVAL);
        }
        let end = off
            .checked_add(len)
            .filter(|e| *e <= MAX_FILE_SIZE)
            .ok_or(Errno::EOVERFLOW)?;
        let memfile = &self.fs.memfile;
        let mut st = self.lock();
        let r = match &mut st.data {
            Data::Reg(r) => r,
            _ => return Err(Errno::ENODEV),
        };
        let mut out = Vec::new();
        let mut made = Vec::new();
        let mut pos = off;
        while pos < end {
            let (k, start, clen) = chunk_of(pos);
            let in_chunk = pos - start;
            let n = (clen - in_chunk).min(end - pos);
            let mem = match r.chunks.get(&k) {
                Some(c) => c.mem.clone(),
                None => match MemRange::new(memfile, clen) {
                    Ok(m) => {
                        r.chunks.insert(k, Chunk::new(m.clone()));
                        made.push(k);
                        m
                    }
                    Err(e) => {
                        // Give back what this call took: nobody has it.
                        drop(out);
                        for k in made {
                            r.chunks.remove(&k);
                        }
                        return Err(e);
                    }
                },
            };
            out.push((mem, in_chunk, n));
            pos += n;
        }
        Ok(out)
    }

    pub fn size(&self) -> u64 {
        match &self.lock().data {
            Data::Reg(r) => r.size,
            Data::Link(l) => l.len() as u64,
            _ => 0,
        }
    }
}
