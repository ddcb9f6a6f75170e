//! The memory file: one memfd holding every page the application owns.
//!
//! The Sentry maps the whole file once, so copying to or from application
//! memory is a memcpy at `base + offset`. Address spaces map ranges of the
//! same file. The file is sparse: an allocated range costs nothing until a
//! page is touched, and freeing punches the pages out again.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex};

use crate::errno::Errno;

pub const PAGE_SIZE: u64 = 4096;

/// How much of the file the Sentry reserves address space for. Only touched
/// pages cost memory.
const FILE_SIZE: u64 = 1 << 40;

pub struct MemoryFile {
    fd: OwnedFd,
    base: usize,
    free: Mutex<Allocator>,
    /// Pages whose owners are counted, by offset: private pages shared by
    /// fork, and pages copied on a write fault. A page not listed belongs
    /// to the one range it was allocated in. Taken before `free`.
    owners: Mutex<BTreeMap<u64, Owners>>,
}

/// A run of pages `[key, end)` with the same owners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Owners {
    end: u64,
    count: u32,
    /// The pages lie inside a live [`MemRange`], which returns them to the
    /// allocator when it goes; otherwise the last owner does.
    in_range: bool,
}

#[derive(Default)]
struct Allocator {
    /// Free extents below `next`, by offset.
    free: BTreeMap<u64, u64>,
    next: u64,
}

impl MemoryFile {
    /// Makes a memory file. A kernel has one (`Kernel::memfile`), made at
    /// boot and handed to what keeps pages in it (address spaces, the file
    /// cache, tmpfs), so two kernels in one process share no page.
    pub fn new() -> std::io::Result<Arc<MemoryFile>> {
        // SAFETY: memfd_create takes a NUL-terminated name and returns a new fd.
        let fd = unsafe { libc::memfd_create(c"runsc-memory".as_ptr(), 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: fd was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: plain syscall on our fd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), FILE_SIZE as i64) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: maps our own memfd shared; nothing else lives at the
        // address the kernel picks.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                FILE_SIZE as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Arc::new(MemoryFile {
            fd,
            base: p as usize,
            free: Mutex::new(Allocator::default()),
            owners: Mutex::new(BTreeMap::new()),
        }))
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Allocates `len` bytes (page-aligned) of the file.
    pub fn allocate(&self, len: u64) -> Result<u64, Errno> {
        let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
        let mut a = self.free.lock().unwrap();
        let hit = a
            .free
            .iter()
            .find(|(_, l)| **l >= len)
            .map(|(o, l)| (*o, *l));
        if let Some((off, l)) = hit {
            a.free.remove(&off);
            if l > len {
                a.free.insert(off + len, l - len);
            }
            return Ok(off);
        }
        if a.next + len > FILE_SIZE {
            return Err(Errno::ENOMEM);
        }
        let off = a.next;
        a.next += len;
        Ok(off)
    }

    /// Returns a range to the allocator and releases its pages, except
    /// pages with counted owners: those now go back when their last owner
    /// lets go (see [`MemoryFile::release`]).
    pub fn free(&self, off: u64, len: u64) {
        let end = off.saturating_add(len);
        let mut owners = self.owners.lock().unwrap();
        if owners
            .range(..end)
            .next_back()
            .is_none_or(|(_, o)| o.end <= off)
        {
            drop(owners);
            return self.free_raw(off, len);
        }
        split_owners(&mut owners, off);
        split_owners(&mut owners, end);
        let mut pos = off;
        let mut gaps = Vec::new();
        for (&k, o) in owners.range_mut(off..end) {
            if k > pos {
                gaps.push((pos, k - pos));
            }
            o.in_range = false;
            pos = o.end;
        }
        if pos < end {
            gaps.push((pos, end - pos));
        }
        drop(owners);
        for (o, l) in gaps {
            self.free_raw(o, l);
        }
    }

    fn free_raw(&self, off: u64, len: u64) {
        self.punch(off, len);
        let mut a = self.free.lock().unwrap();
        let (mut off, mut len) = (off, len);
        // Coalesce with neighbours so large allocations can reuse space.
        if let Some((&po, &pl)) = a.free.range(..off).next_back() {
            if po + pl == off {
                a.free.remove(&po);
                off = po;
                len += pl;
            }
        }
        if let Some(&nl) = a.free.get(&(off + len)) {
            a.free.remove(&(off + len));
            len += nl;
        }
        if off + len == a.next {
            a.next = off;
        } else {
            a.free.insert(off, len);
        }
    }

    /// Releases the pages of a range, which then reads as zeros.
    pub fn punch(&self, off: u64, len: u64) {
        // SAFETY: fallocate on our own fd; no memory is touched.
        unsafe {
            libc::fallocate(
                self.fd.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                off as i64,
                len as i64,
            );
        }
    }

    /// Allocates `len` bytes whose owners are counted, with one owner (the
    /// caller); they go back with [`MemoryFile::release`].
    pub fn allocate_counted(&self, len: u64) -> Result<u64, Errno> {
        let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
        let off = self.allocate(len)?;
        self.owners.lock().unwrap().insert(
            off,
            Owners {
                end: off + len,
                count: 1,
                in_range: false,
            },
        );
        Ok(off)
    }

    /// Adds an owner to every page of `[off, off+len)`. A page of a
    /// [`MemRange`] not counted yet gets two: its range's owner and the new
    /// one (from then on both are counted and released explicitly).
    pub fn add_owner(&self, off: u64, len: u64) {
        let end = off + len;
        let mut owners = self.owners.lock().unwrap();
        split_owners(&mut owners, off);
        split_owners(&mut owners, end);
        let mut pos = off;
        let mut gaps = Vec::new();
        for (&k, o) in owners.range_mut(off..end) {
            if k > pos {
                gaps.push((pos, k));
            }
            o.count += 1;
            pos = o.end;
        }
        if pos < end {
            gaps.push((pos, end));
        }
        for (s, e) in gaps {
            owners.insert(
                s,
                Owners {
                    end: e,
                    count: 2,
                    in_range: true,
                },
            );
        }
    }

    /// Drops one owner of every counted page in `[off, off+len)`; a page
    /// left with none is punched, and returned to the allocator unless its
    /// [`MemRange`] still lives.
    pub fn release(&self, off: u64, len: u64) {
        let end = off + len;
        let mut owners = self.owners.lock().unwrap();
        split_owners(&mut owners, off);
        split_owners(&mut owners, end);
        let mut dead = Vec::new();
        for (&k, o) in owners.range_mut(off..end) {
            o.count -= 1;
            if o.count == 0 {
                dead.push((k, o.end, o.in_range));
            }
        }
        for (k, _, _) in &dead {
            owners.remove(k);
        }
        drop(owners);
        for (k, e, in_range) in dead {
            if in_range {
                self.punch(k, e - k);
            } else {
                self.free_raw(k, e - k);
            }
        }
    }

    /// The owner counts over `[off, off+len)`: (offset, length, count),
    /// count 1 for pages not counted.
    pub fn owners(&self, off: u64, len: u64) -> Vec<(u64, u64, u32)> {
        let end = off + len;
        let owners = self.owners.lock().unwrap();
        let mut out = Vec::new();
        let mut pos = off;
        let first = owners
            .range(..=off)
            .next_back()
            .filter(|(_, o)| o.end > off)
            .map(|(k, _)| *k)
            .unwrap_or(off);
        for (&k, o) in owners.range(first..end) {
            let s = k.max(off);
            if s > pos {
                out.push((pos, s - pos, 1));
            }
            let e = o.end.min(end);
            out.push((s, e - s, o.count));
            pos = e;
        }
        if pos < end {
            out.push((pos, end - pos, 1));
        }
        out
    }

    /// Whether any page of `[off, off+len)` has counted owners.
    pub fn any_counted(&self, off: u64, len: u64) -> bool {
        let end = off + len;
        let owners = self.owners.lock().unwrap();
        owners
            .range(..end)
            .next_back()
            .is_some_and(|(_, o)| o.end > off)
    }

    /// Punches the pages of `[off, off+len)` that have no counted owners
    /// (a range's own pages; counted ones may be another process's).
    pub fn punch_uncounted(&self, off: u64, len: u64) {
        for (o, l, _) in self.uncounted(off, len) {
            self.punch(o, l);
        }
    }

    /// The parts of `[off, off+len)` without counted owners.
    pub fn uncounted(&self, off: u64, len: u64) -> Vec<(u64, u64, u32)> {
        let end = off + len;
        let owners = self.owners.lock().unwrap();
        let mut out = Vec::new();
        let mut pos = off;
        let first = owners
            .range(..=off)
            .next_back()
            .map(|(k, _)| *k)
            .unwrap_or(off);
        for (&k, o) in owners.range(first..end) {
            if o.end <= pos {
                continue;
            }
            if k > pos {
                out.push((pos, k - pos, 1));
            }
            pos = o.end;
        }
        if pos < end {
            out.push((pos, end - pos, 1));
        }
        out
    }

    /// A pointer to the file's bytes at `off` in the Sentry's mapping.
    pub fn ptr(&self, off: u64) -> *mut u8 {
        debug_assert!(off < FILE_SIZE);
        (self.base + off as usize) as *mut u8
    }

    /// The sub-ranges of `[off, off+len)` that hold pages (not holes).
    pub fn populated(&self, off: u64, len: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let end = off + len;
        let mut pos = off;
        while pos < end {
            // SAFETY: lseek on our own fd.
            let data = unsafe { libc::lseek(self.fd.as_raw_fd(), pos as i64, libc::SEEK_DATA) };
            if data < 0 || data as u64 >= end {
                break;
            }
            // SAFETY: as above.
            let hole = unsafe { libc::lseek(self.fd.as_raw_fd(), data, libc::SEEK_HOLE) };
            let hole = if hole < 0 {
                end
            } else {
                (hole as u64).min(end)
            };
            out.push((data as u64, hole - data as u64));
            pos = hole;
        }
        out
    }

    /// Copies `len` bytes inside the file, skipping holes in the source.
    pub fn copy(&self, src: u64, dst: u64, len: u64) {
        for (o, l) in self.populated(src, len) {
            // SAFETY: both ranges lie inside the mapped file and are distinct
            // allocations, so they cannot overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(self.ptr(o), self.ptr(dst + (o - src)), l as usize);
            }
        }
    }
}

impl Drop for MemoryFile {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.base as *mut libc::c_void, FILE_SIZE as usize) };
    }
}

/// Makes `at` a boundary between owner runs.
fn split_owners(owners: &mut BTreeMap<u64, Owners>, at: u64) {
    let hit = owners
        .range(..at)
        .next_back()
        .filter(|(_, o)| o.end > at)
        .map(|(k, o)| (*k, *o));
    if let Some((k, o)) = hit {
        owners.get_mut(&k).unwrap().end = at;
        owners.insert(at, Owners { end: o.end, ..o });
    }
}

pub fn page_round_up(x: u64) -> Option<u64> {
    x.checked_add(PAGE_SIZE - 1).map(|v| v & !(PAGE_SIZE - 1))
}

pub fn page_round_down(x: u64) -> u64 {
    x & !(PAGE_SIZE - 1)
}

/// An allocated range of the memory file, freed when the last VMA using it
/// goes away (VMAs split by munmap/mprotect, and shared memory inherited by
/// fork, hold the same range).
pub struct MemRange {
    pub file: Arc<MemoryFile>,
    pub off: u64,
    pub len: u64,
}

impl MemRange {
    pub fn new(file: &Arc<MemoryFile>, len: u64) -> Result<Arc<MemRange>, Errno> {
        let off = file.allocate(len)?;
        Ok(Arc::new(MemRange {
            file: file.clone(),
            off,
            len: page_round_up(len).ok_or(Errno::ENOMEM)?,
        }))
    }
}

impl MemRange {
    /// A Sentry pointer to `len` bytes at `off` inside this range; EIO if
    /// they do not lie inside it.
    pub fn ptr(&self, off: u64, len: u64) -> Result<*mut u8, Errno> {
        match off.checked_add(len) {
            Some(end) if end <= self.len => Ok(self.file.ptr(self.off + off)),
            _ => Err(Errno::EIO),
        }
    }
}

impl Drop for MemRange {
    fn drop(&mut self) {
        self.file.free(self.off, self.len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_do_not_overlap_and_freed_space_is_reused() {
        let f = MemoryFile::new().unwrap();
        let a = f.allocate(8192).unwrap();
        let b = f.allocate(4096).unwrap();
        assert!(b >= a + 8192);
        f.free(a, 8192);
        let c = f.allocate(4096).unwrap();
        assert_eq!(c, a);
    }

    #[test]
    fn punched_pages_read_as_zero_and_copy_skips_holes() {
        let f = MemoryFile::new().unwrap();
        let a = f.allocate(3 * PAGE_SIZE).unwrap();
        // SAFETY: a is an allocated range of the mapped file.
        unsafe { *f.ptr(a + PAGE_SIZE) = 7 };
        assert_eq!(
            f.populated(a, 3 * PAGE_SIZE),
            vec![(a + PAGE_SIZE, PAGE_SIZE)]
        );
        let b = f.allocate(3 * PAGE_SIZE).unwrap();
        f.copy(a, b, 3 * PAGE_SIZE);
        // SAFETY: as above.
        assert_eq!(unsafe { *f.ptr(b + PAGE_SIZE) }, 7);
        f.punch(a, 3 * PAGE_SIZE);
        // SAFETY: as above.
        assert_eq!(unsafe { *f.ptr(a + PAGE_SIZE) }, 0);
    }

    #[test]
    fn shared_pages_outlive_their_range_until_the_last_owner_lets_go() {
        let f = MemoryFile::new().unwrap();
        let r = MemRange::new(&f, 4 * PAGE_SIZE).unwrap();
        let off = r.off;
        // SAFETY: the range is allocated and mapped.
        unsafe { *f.ptr(off + PAGE_SIZE) = 9 };
        // A fork shares the second page: its range and the child own it.
        f.add_owner(off + PAGE_SIZE, PAGE_SIZE);
        assert_eq!(
            f.owners(off, 3 * PAGE_SIZE),
            vec![
                (off, PAGE_SIZE, 1),
                (off + PAGE_SIZE, PAGE_SIZE, 2),
                (off + 2 * PAGE_SIZE, PAGE_SIZE, 1)
            ]
        );
        // Punching the range's own pages spares the shared one.
        f.punch_uncounted(off, 4 * PAGE_SIZE);
        // SAFETY: as above.
        assert_eq!(unsafe { *f.ptr(off + PAGE_SIZE) }, 9);
        // The parent lets go, then its range goes: the page stays, and is
        // not handed out again.
        f.release(off + PAGE_SIZE, PAGE_SIZE);
        drop(r);
        // SAFETY: as above.
        assert_eq!(unsafe { *f.ptr(off + PAGE_SIZE) }, 9);
        let again = f.allocate(4 * PAGE_SIZE).unwrap();
        assert!(again >= off + 2 * PAGE_SIZE || again + 4 * PAGE_SIZE <= off + PAGE_SIZE);
        // The child lets go: the page is freed and reusable.
        f.release(off + PAGE_SIZE, PAGE_SIZE);
        assert!(!f.any_counted(off, 4 * PAGE_SIZE));
        // SAFETY: as above.
        assert_eq!(unsafe { *f.ptr(off + PAGE_SIZE) }, 0);
        assert_eq!(f.allocate(PAGE_SIZE).unwrap(), off);
    }

    #[test]
    fn counted_allocations_are_freed_by_their_last_owner() {
        let f = MemoryFile::new().unwrap();
        let a = f.allocate_counted(2 * PAGE_SIZE).unwrap();
        f.add_owner(a, 2 * PAGE_SIZE);
        f.release(a, PAGE_SIZE);
        assert_eq!(
            f.owners(a, 2 * PAGE_SIZE),
            vec![(a, PAGE_SIZE, 1), (a + PAGE_SIZE, PAGE_SIZE, 2)]
        );
        f.release(a, 2 * PAGE_SIZE);
        f.release(a + PAGE_SIZE, PAGE_SIZE);
        assert!(!f.any_counted(a, 2 * PAGE_SIZE));
        assert_eq!(f.allocate(2 * PAGE_SIZE).unwrap(), a);
    }

    #[test]
    fn range_pointers_are_bounds_checked() {
        let f = MemoryFile::new().unwrap();
        let r = MemRange::new(&f, 2 * PAGE_SIZE).unwrap();
        assert!(r.ptr(0, 2 * PAGE_SIZE).is_ok());
        assert_eq!(r.ptr(PAGE_SIZE, PAGE_SIZE + 1).err(), Some(Errno::EIO));
        assert_eq!(r.ptr(u64::MAX, 2).err(), Some(Errno::EIO));
    }
}
