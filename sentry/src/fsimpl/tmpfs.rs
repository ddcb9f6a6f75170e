//! tmpfs: files in the Sentry's memory.
//!
//! A regular file's data lives in the memory file, so a MAP_SHARED mapping
//! maps the file's own pages and stays coherent with read and write (and
//! with other processes' mappings). The file is cut into chunks whose sizes
//! grow geometrically (64 KiB, 128 KiB ... 64 MiB, then 64 MiB each): a
//! small file costs little of the memory file's offsets, a big one needs
//! few chunks (few VMAs to map it), and a chunk once allocated never moves,
//! so mappings stay valid as the file grows. Chunks are allocated on first
//! use, so a write at a huge offset costs one chunk of offsets and one page
//! of memory (the memory file is sparse). Truncation punches the pages it
//! cuts off; chunks past the end that nobody maps are freed.
//!
//! Every filesystem has a page budget (ENOSPC past it) so an application
//! cannot exhaust the Sentry's memory with write(2): each page a write
//! touches is charged once, until truncation cuts it off or the file dies.
//!
//! The overlay uses a tmpfs as its upper layer and stores its markers
//! here: a whiteout is a character device 0:0 (Linux overlayfs's own
//! convention), and `opaque` / `origin` flags stand for its xattrs.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};

use crate::errno::Errno;
use crate::mm::{MemRange, MemoryFile};
use crate::vfs::{self, DirEntry, FileOps, Inode, InodeRef, MemSegment, Owner, SetAttr, Time};

const PAGE: usize = 4096;
/// The first chunk of a file's data; chunk k holds `CHUNK_BASE << k` bytes.
const CHUNK_BASE: u64 = 64 << 10;
/// Chunks 0 .. GEOMETRIC_CHUNKS grow; the ones after are all CHUNK_MAX.
const GEOMETRIC_CHUNKS: u64 = 11;
const CHUNK_MAX: u64 = CHUNK_BASE << (GEOMETRIC_CHUNKS - 1);
/// Where the growing chunks end.
const GEOMETRIC_END: u64 = CHUNK_BASE * ((1 << GEOMETRIC_CHUNKS) - 1);
/// Default size limit of one tmpfs.
pub const DEFAULT_MAX_BYTES: u64 = 2 << 30;
/// Most files one tmpfs holds (each costs Sentry memory even when empty).
const MAX_INODES: u64 = 1 << 20;
/// Largest file size (Linux's MAX_LFS_FILESIZE).
const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// What one tmpfs instance shares among its inodes.
pub struct Tmpfs {
    next_ino: AtomicU64,
    pages: AtomicU64,
    max_pages: u64,
    /// Live inodes, against MAX_INODES.
    inodes: AtomicU64,
    /// Serialises renames, so two cannot race to move directories into
    /// each other.
    rename_lock: Mutex<()>,
    /// Where file data lives; looked up at first use.
    memfile: OnceLock<Arc<MemoryFile>>,
}

impl Tmpfs {
    /// A new, empty tmpfs; its root directory has `mode` permissions.
    pub fn new_root(mode: u32, owner: Owner) -> Arc<TmpInode> {
        Tmpfs::with_limit(mode, owner, DEFAULT_MAX_BYTES)
    }

    pub fn with_limit(mode: u32, owner: Owner, max_bytes: u64) -> Arc<TmpInode> {
        let fs = Arc::new(Tmpfs {
            next_ino: AtomicU64::new(1),
            pages: AtomicU64::new(0),
            max_pages: max_bytes / PAGE as u64,
            inodes: AtomicU64::new(0),
            rename_lock: Mutex::new(()),
            memfile: OnceLock::new(),
        });
        TmpInode::new(
            &fs,
            libc::S_IFDIR,
            mode,
            owner,
            Data::Dir(BTreeMap::new()),
            0,
        )
    }

    fn memfile(&self) -> Result<&Arc<MemoryFile>, Errno> {
        if let Some(f) = self.memfile.get() {
            return Ok(f);
        }
        let f = MemoryFile::sentry()?;
        Ok(self.memfile.get_or_init(|| f))
    }
}

/// The chunk holding file offset `off`: its index, file offset and length.
fn chunk_of(off: u64) -> (u64, u64, u64) {
    if off < GEOMETRIC_END {
        // Chunk k starts at CHUNK_BASE * (2^k - 1).
        let k = u64::from((off / CHUNK_BASE + 1).ilog2());
        (k, CHUNK_BASE * ((1 << k) - 1), CHUNK_BASE << k)
    } else {
        let i = (off - GEOMETRIC_END) / CHUNK_MAX;
        (
            GEOMETRIC_CHUNKS + i,
            GEOMETRIC_END + i * CHUNK_MAX,
            CHUNK_MAX,
        )
    }
}

/// The file offset where chunk `k` starts.
fn chunk_start(k: u64) -> u64 {
    if k < GEOMETRIC_CHUNKS {
        CHUNK_BASE * ((1 << k) - 1)
    } else {
        GEOMETRIC_END + (k - GEOMETRIC_CHUNKS) * CHUNK_MAX
    }
}

enum Data {
    Reg(RegData),
    Dir(BTreeMap<Vec<u8>, Arc<TmpInode>>),
    Link(Vec<u8>),
    /// Devices, FIFOs, sockets, whiteouts.
    Node,
}

/// One chunk of a regular file's data.
struct Chunk {
    mem: Arc<MemRange>,
    /// One bit per page: charged to the filesystem's budget.
    charged: Vec<u64>,
}

impl Chunk {
    fn new(mem: Arc<MemRange>) -> Chunk {
        let pages = mem.len / PAGE as u64;
        Chunk {
            mem,
            charged: vec![0; pages.div_ceil(64) as usize],
        }
    }

    fn is_charged(&self, page: u64) -> bool {
        self.charged
            .get((page / 64) as usize)
            .is_some_and(|w| w & (1 << (page % 64)) != 0)
    }

    fn set_charged(&mut self, page: u64) {
        if let Some(w) = self.charged.get_mut((page / 64) as usize) {
            *w |= 1 << (page % 64);
        }
    }

    /// Uncharges the pages from `first` on; returns how many were charged.
    fn uncharge_from(&mut self, first: u64) -> u64 {
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

#[derive(Default)]
struct RegData {
    size: u64,
    /// By chunk index (see [`chunk_of`]); missing chunks read as zeros.
    chunks: BTreeMap<u64, Chunk>,
    /// Pages charged to the filesystem.
    pages: u64,
}

struct State {
    perm: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    atime: Time,
    mtime: Time,
    ctime: Time,
    data: Data,
    opaque: bool,
    origin: bool,
    /// The inode number of the lower file this one was copied up from; it
    /// stays with the file through renames and links (overlayfs keeps it
    /// in `trusted.overlay.origin`), so `st_ino` does not change.
    origin_ino: Option<u64>,
    /// Extended attributes by name.
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// An O_TMPFILE file (no links yet) that linkat may give a name:
    /// Linux's I_LINKABLE, which O_EXCL leaves off.
    linkable: bool,
}

/// A tmpfs file.
pub struct TmpInode {
    fs: Arc<Tmpfs>,
    ino: u64,
    /// S_IFMT bits: they never change, so they are read without the lock.
    ftype: u32,
    rdev: u64,
    me: Weak<TmpInode>,
    st: Mutex<State>,
    /// A FIFO's pipe, made at its first open and shared by every opener.
    fifo: std::sync::OnceLock<Arc<super::pipe::Pipe>>,
}

impl Drop for TmpInode {
    fn drop(&mut self) {
        self.fs.inodes.fetch_sub(1, Ordering::Relaxed);
        let st = self.st.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Data::Reg(r) = &st.data {
            self.fs.pages.fetch_sub(r.pages, Ordering::Relaxed);
        }
    }
}

fn whiteout_rdev() -> u64 {
    libc::makedev(0, 0)
}

impl TmpInode {
    fn new(
        fs: &Arc<Tmpfs>,
        ftype: u32,
        perm: u32,
        owner: Owner,
        data: Data,
        rdev: u64,
    ) -> Arc<TmpInode> {
        let now = Time::now();
        let nlink = if ftype == libc::S_IFDIR { 2 } else { 1 };
        fs.inodes.fetch_add(1, Ordering::Relaxed);
        Arc::new_cyclic(|me| TmpInode {
            fs: fs.clone(),
            ino: fs.next_ino.fetch_add(1, Ordering::Relaxed),
            ftype,
            rdev,
            me: me.clone(),
            fifo: std::sync::OnceLock::new(),
            st: Mutex::new(State {
                perm: perm & 0o7777,
                uid: owner.uid,
                gid: owner.gid,
                nlink,
                atime: now,
                mtime: now,
                ctime: now,
                data,
                opaque: false,
                xattrs: BTreeMap::new(),
                linkable: false,
                origin: false,
                origin_ino: None,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks this inode and `other` (a different one) in inode-number
    /// order, so two renames between the same directories cannot deadlock;
    /// the guards come back as (self's, other's).
    fn lock_with<'a>(
        &'a self,
        other: &'a TmpInode,
    ) -> (MutexGuard<'a, State>, MutexGuard<'a, State>) {
        if self.ino < other.ino {
            let a = self.lock();
            (a, other.lock())
        } else {
            let b = other.lock();
            (self.lock(), b)
        }
    }

    fn arc(&self) -> Result<Arc<TmpInode>, Errno> {
        self.me.upgrade().ok_or(Errno::ENOENT)
    }

    pub fn is_dir(&self) -> bool {
        self.ftype == libc::S_IFDIR
    }

    /// An overlay whiteout: a character device 0:0.
    pub fn is_whiteout(&self) -> bool {
        self.ftype == libc::S_IFCHR && self.rdev == whiteout_rdev()
    }

    pub fn opaque(&self) -> bool {
        self.lock().opaque
    }

    pub fn set_opaque(&self, v: bool) {
        self.lock().opaque = v;
    }

    /// Copied up from a lower layer (overlayfs's "origin").
    pub fn origin(&self) -> bool {
        self.lock().origin
    }

    pub fn set_origin(&self, v: bool) {
        self.lock().origin = v;
    }

    /// See [`TmpInode::set_origin_ino`].
    pub fn origin_ino(&self) -> Option<u64> {
        self.lock().origin_ino
    }

    /// Records the inode number of the lower file this one was copied up
    /// from.
    pub fn set_origin_ino(&self, ino: u64) {
        self.lock().origin_ino = Some(ino);
    }

    /// The entry `name`, whiteouts included.
    pub fn child(&self, name: &[u8]) -> Option<Arc<TmpInode>> {
        match &self.lock().data {
            Data::Dir(m) => m.get(name).cloned(),
            _ => None,
        }
    }

    /// All entries, whiteouts included.
    pub fn children(&self) -> Vec<(Vec<u8>, Arc<TmpInode>)> {
        match &self.lock().data {
            Data::Dir(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => Vec::new(),
        }
    }

    /// Inserts a new node at `name`, which must be free (or a whiteout,
    /// which it replaces when `over_whiteout`).
    fn add(
        &self,
        name: &[u8],
        node: Arc<TmpInode>,
        over_whiteout: bool,
    ) -> Result<Arc<TmpInode>, Errno> {
        let mut st = self.lock();
        let now = Time::now();
        let is_dir = node.is_dir();
        let map = match &mut st.data {
            Data::Dir(m) => m,
            _ => return Err(Errno::ENOTDIR),
        };
        if let Some(old) = map.get(name) {
            if !(over_whiteout && old.is_whiteout()) {
                return Err(Errno::EEXIST);
            }
        }
        map.insert(name.to_vec(), node.clone());
        if is_dir {
            st.nlink += 1;
        }
        st.mtime = now;
        st.ctime = now;
        Ok(node)
    }

    /// Creates a file of `ftype`; `over_whiteout` lets it replace a whiteout.
    #[allow(clippy::too_many_arguments)] // mknod's arguments, plus the overlay's flag
    pub fn make(
        &self,
        name: &[u8],
        ftype: u32,
        perm: u32,
        owner: Owner,
        rdev: u64,
        target: Option<&[u8]>,
        over_whiteout: bool,
    ) -> Result<Arc<TmpInode>, Errno> {
        if self.fs.inodes.load(Ordering::Relaxed) >= MAX_INODES {
            return Err(Errno::ENOSPC);
        }
        let data = match ftype {
            libc::S_IFREG => Data::Reg(RegData::default()),
            libc::S_IFDIR => Data::Dir(BTreeMap::new()),
            libc::S_IFLNK => Data::Link(target.unwrap_or_default().to_vec()),
            _ => Data::Node,
        };
        let node = TmpInode::new(&self.fs, ftype, perm, owner, data, rdev);
        self.add(name, node, over_whiteout)
    }

    /// Replaces whatever is at `name` by a whiteout.
    pub fn put_whiteout(&self, name: &[u8]) -> Result<(), Errno> {
        let wh = TmpInode::new(
            &self.fs,
            libc::S_IFCHR,
            0,
            Owner::default(),
            Data::Node,
            whiteout_rdev(),
        );
        let old = {
            let mut st = self.lock();
            let map = match &mut st.data {
                Data::Dir(m) => m,
                _ => return Err(Errno::ENOTDIR),
            };
            let old = map.insert(name.to_vec(), wh);
            if old.as_ref().is_some_and(|o| o.is_dir()) {
                st.nlink = st.nlink.saturating_sub(1);
            }
            let now = Time::now();
            st.mtime = now;
            st.ctime = now;
            old
        };
        if let Some(o) = old {
            o.dec_link();
        }
        Ok(())
    }

    fn dec_link(&self) {
        let mut st = self.lock();
        if self.is_dir() {
            st.nlink = 0;
        } else {
            st.nlink = st.nlink.saturating_sub(1);
        }
        st.ctime = Time::now();
    }

    /// Removes the entry `name` whatever it is, a directory holding only
    /// whiteouts included (the overlay's rmdir).
    pub fn remove_entry(&self, name: &[u8]) -> Result<Arc<TmpInode>, Errno> {
        let old = {
            let mut st = self.lock();
            let map = match &mut st.data {
                Data::Dir(m) => m,
                _ => return Err(Errno::ENOTDIR),
            };
            let old = map.remove(name).ok_or(Errno::ENOENT)?;
            if old.is_dir() {
                st.nlink = st.nlink.saturating_sub(1);
            }
            let now = Time::now();
            st.mtime = now;
            st.ctime = now;
            old
        };
        old.dec_link();
        Ok(old)
    }

    /// Whether a directory has entries other than whiteouts.
    pub fn has_live_entries(&self) -> bool {
        match &self.lock().data {
            Data::Dir(m) => m.values().any(|c| !c.is_whiteout()),
            _ => false,
        }
    }

    fn is_empty_dir(&self) -> bool {
        match &self.lock().data {
            Data::Dir(m) => m.is_empty(),
            _ => false,
        }
    }

    /// Reads file data at `off` (holes read as zeros).
    pub fn read_data(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
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
            .min(buf.len());
        let mut done = 0;
        while done < n {
            let pos = off + done as u64;
            let (k, start, clen) = chunk_of(pos);
            let in_chunk = pos - start;
            let len = usize::try_from(clen - in_chunk)
                .unwrap_or(usize::MAX)
                .min(n - done);
            let dst = &mut buf[done..done + len];
            match r.chunks.get(&k) {
                Some(c) => {
                    let src = c.mem.ptr(in_chunk, len as u64)?;
                    // SAFETY: `src` points at `len` bytes of the chunk, in
                    // the memory file's mapping (bounds checked by `ptr`),
                    // which never overlaps a Rust buffer. Mappings of the
                    // file may change them meanwhile, as on Linux.
                    unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), len) };
                }
                None => dst.fill(0),
            }
            done += len;
        }
        st.atime = Time::now();
        Ok(n)
    }

    /// Writes file data at `off`, growing the file; short (or ENOSPC) when
    /// the filesystem is full.
    pub fn write_data(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        let end = off.checked_add(buf.len() as u64).ok_or(Errno::EFBIG)?;
        if end > MAX_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let mut st = self.lock();
        let r = match &mut st.data {
            Data::Reg(r) => r,
            Data::Dir(_) => return Err(Errno::EISDIR),
            _ => return Err(Errno::EINVAL),
        };
        let memfile = self.fs.memfile()?;
        let mut done = 0;
        // Page by page: each is charged before it is written, so a full
        // filesystem makes the write short at a page boundary.
        while done < buf.len() {
            let pos = off + done as u64;
            let (k, start, clen) = chunk_of(pos);
            let in_chunk = pos - start;
            let in_page = (pos % PAGE as u64) as usize;
            let len = (PAGE - in_page).min(buf.len() - done);
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
            // SAFETY: `dst` points at `len` bytes of the chunk in the memory
            // file's mapping (bounds checked by `ptr`), which never overlaps
            // `buf`, a Sentry buffer.
            unsafe { std::ptr::copy_nonoverlapping(buf[done..].as_ptr(), dst, len) };
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

    fn charge_page(&self) -> bool {
        self.fs
            .pages
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.fs.max_pages).then_some(n + 1)
            })
            .is_ok()
    }

    fn set_size(r: &mut RegData, fs: &Tmpfs, size: u64) {
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
    fn memory_segments(&self, off: u64, len: u64) -> Result<Vec<MemSegment>, Errno> {
        let page = PAGE as u64;
        if !off.is_multiple_of(page) || !len.is_multiple_of(page) {
            return Err(Errno::EINVAL);
        }
        let end = off
            .checked_add(len)
            .filter(|e| *e <= MAX_FILE_SIZE)
            .ok_or(Errno::EOVERFLOW)?;
        let memfile = self.fs.memfile()?;
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

impl TmpInode {
    /// renameat2(RENAME_EXCHANGE): `old` here and `new` in `nd` swap
    /// places (the caller holds the rename lock).
    fn exchange(
        &self,
        old: &[u8],
        src: Arc<TmpInode>,
        nd: &TmpInode,
        new: &[u8],
        dst: Arc<TmpInode>,
    ) -> Result<(), Errno> {
        if Arc::ptr_eq(&src, &dst) {
            return Ok(());
        }
        if std::ptr::eq(&*dst, self) {
            return Err(Errno::EINVAL);
        }
        let now = Time::now();
        if std::ptr::eq(self, nd) {
            let mut st = self.lock();
            let Data::Dir(m) = &mut st.data else {
                return Err(Errno::ENOTDIR);
            };
            m.insert(old.to_vec(), dst.clone());
            m.insert(new.to_vec(), src.clone());
            st.mtime = now;
            st.ctime = now;
        } else {
            let (mut a, mut b) = self.lock_with(nd);
            if !matches!(a.data, Data::Dir(_)) || !matches!(b.data, Data::Dir(_)) {
                return Err(Errno::ENOTDIR);
            }
            if let Data::Dir(om) = &mut a.data {
                om.insert(old.to_vec(), dst.clone());
            }
            if let Data::Dir(nm) = &mut b.data {
                nm.insert(new.to_vec(), src.clone());
            }
            // A directory's `..` link moves with it.
            match (src.is_dir(), dst.is_dir()) {
                (true, false) => {
                    a.nlink = a.nlink.saturating_sub(1);
                    b.nlink += 1;
                }
                (false, true) => {
                    b.nlink = b.nlink.saturating_sub(1);
                    a.nlink += 1;
                }
                _ => {}
            }
            for st in [&mut a, &mut b] {
                st.mtime = now;
                st.ctime = now;
            }
        }
        src.lock().ctime = now;
        dst.lock().ctime = now;
        Ok(())
    }

    fn fifo_pipe(&self) -> &Arc<super::pipe::Pipe> {
        self.fifo.get_or_init(super::pipe::Pipe::new)
    }
}

impl Inode for TmpInode {
    fn ino(&self) -> u64 {
        self.ino
    }

    fn mode(&self) -> u32 {
        self.ftype | self.lock().perm
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        let st = self.lock();
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_ino = self.ino;
        s.st_mode = self.ftype | st.perm;
        s.st_nlink = st.nlink;
        s.st_uid = st.uid;
        s.st_gid = st.gid;
        s.st_rdev = self.rdev;
        let (size, pages) = match &st.data {
            Data::Reg(r) => (r.size, r.pages),
            Data::Link(l) => (l.len() as u64, 0),
            // Linux's tmpfs counts 20 bytes per entry, `.` and `..` too.
            Data::Dir(d) => (20 * (d.len() as u64 + 2), 0),
            Data::Node => (0, 0),
        };
        s.st_size = size as i64;
        s.st_blksize = PAGE as i64;
        s.st_blocks = (pages * (PAGE as u64 / 512)) as i64;
        s.st_atime = st.atime.sec;
        s.st_atime_nsec = st.atime.nsec;
        s.st_mtime = st.mtime.sec;
        s.st_mtime_nsec = st.mtime.nsec;
        s.st_ctime = st.ctime.sec;
        s.st_ctime_nsec = st.ctime.nsec;
        Ok(s)
    }

    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        match &self.lock().data {
            Data::Dir(m) => match m.get(name) {
                Some(c) => Ok(c.clone()),
                None => Err(Errno::ENOENT),
            },
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        match &self.lock().data {
            Data::Dir(m) => Ok(m
                .iter()
                .map(|(name, c)| DirEntry {
                    ino: c.ino,
                    ty: vfs::dtype_of(c.ftype),
                    name: name.clone(),
                })
                .collect()),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        match &self.lock().data {
            Data::Link(l) => Ok(l.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        match self.ftype {
            libc::S_IFREG => Ok(Arc::new(TmpFile { inode: self })),
            libc::S_IFDIR => Ok(Arc::new(super::DirFile)),
            libc::S_IFCHR => super::dev::open_device(self.rdev, flags),
            libc::S_IFIFO => self.fifo_pipe().open_fifo(flags, None),
            // A socket node is reached with connect(2), never opened.
            _ => Err(Errno::ENXIO),
        }
    }

    fn punch_hole(&self, off: u64, len: u64) -> Result<(), Errno> {
        let mut st = self.lock();
        let Data::Reg(r) = &mut st.data else {
            return Err(Errno::ENODEV);
        };
        let end = off.saturating_add(len).min(r.size);
        if off >= end {
            return Ok(());
        }
        let page = PAGE as u64;
        // Only chunks that exist hold anything but zeros.
        for (&k, c) in r.chunks.range(chunk_of(off).0..=chunk_of(end - 1).0) {
            let cs = chunk_start(k);
            let (a, b) = (off.max(cs), end.min(cs + c.mem.len));
            if a >= b {
                continue;
            }
            let (ra, rb) = (a - cs, b - cs);
            let zero = |x: u64, y: u64| {
                if y > x {
                    if let Ok(p) = c.mem.ptr(x, y - x) {
                        // SAFETY: `p` points at `y - x` bytes of the chunk
                        // in the memory file's mapping (checked by `ptr`).
                        unsafe { std::ptr::write_bytes(p, 0, (y - x) as usize) };
                    }
                }
            };
            // Whole pages go back to the host; the edges are zeroed.
            let (pa, pb) = (ra.div_ceil(page) * page, rb / page * page);
            if pa < pb {
                c.mem.file.punch(c.mem.off + pa, pb - pa);
                zero(ra, pa);
                zero(pb, rb);
            } else {
                zero(ra, rb);
            }
        }
        let now = Time::now();
        st.mtime = now;
        st.ctime = now;
        Ok(())
    }

    fn xattr_get(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.lock().xattrs.get(name).cloned().ok_or(Errno::ENODATA)
    }

    fn xattr_set(&self, name: &[u8], value: Option<&[u8]>, flags: i32) -> Result<(), Errno> {
        let mut st = self.lock();
        let exists = st.xattrs.contains_key(name);
        match value {
            None if !exists => return Err(Errno::ENODATA),
            None => {
                st.xattrs.remove(name);
            }
            Some(_) if exists && flags & vfs::xattr::CREATE != 0 => return Err(Errno::EEXIST),
            Some(_) if !exists && flags & vfs::xattr::REPLACE != 0 => return Err(Errno::ENODATA),
            Some(v) => {
                st.xattrs.insert(name.to_vec(), v.to_vec());
            }
        }
        st.ctime = Time::now();
        Ok(())
    }

    fn xattr_list(&self) -> Result<Vec<Vec<u8>>, Errno> {
        // Linux 6.18 tmpfs lists names in descending byte order.
        Ok(self.lock().xattrs.keys().rev().cloned().collect())
    }

    fn open_by(
        self: Arc<Self>,
        flags: i32,
        ctx: &vfs::ops::Ctx<'_>,
    ) -> Result<Arc<dyn FileOps>, Errno> {
        if self.ftype == libc::S_IFCHR {
            // Terminals need to know who opens them.
            return super::dev::open_device_by(self.rdev, flags, ctx.task);
        }
        if self.ftype == libc::S_IFIFO {
            return self.fifo_pipe().open_fifo(flags, ctx.task);
        }
        self.open(flags)
    }

    fn create(&self, name: &[u8], mode: u32, owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.make(name, libc::S_IFREG, mode, owner, 0, None, false)?)
    }

    fn mkdir(&self, name: &[u8], mode: u32, owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.make(name, libc::S_IFDIR, mode, owner, 0, None, false)?)
    }

    fn tmpfile(&self, perm: u32, owner: Owner, linkable: bool) -> Result<InodeRef, Errno> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if self.fs.inodes.load(Ordering::Relaxed) >= MAX_INODES {
            return Err(Errno::ENOSPC);
        }
        let data = Data::Reg(RegData::default());
        let node = TmpInode::new(&self.fs, libc::S_IFREG, perm, owner, data, 0);
        {
            let mut st = node.lock();
            st.nlink = 0;
            st.linkable = linkable;
        }
        Ok(node)
    }

    fn symlink(&self, name: &[u8], target: &[u8], owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.make(name, libc::S_IFLNK, 0o777, owner, 0, Some(target), false)?)
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64, owner: Owner) -> Result<InodeRef, Errno> {
        let ftype = mode & libc::S_IFMT;
        match ftype {
            libc::S_IFCHR | libc::S_IFBLK | libc::S_IFIFO | libc::S_IFSOCK => {}
            libc::S_IFREG | 0 => return self.create(name, mode, owner),
            _ => return Err(Errno::EINVAL),
        }
        Ok(self.make(name, ftype, mode, owner, rdev, None, false)?)
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> Result<(), Errno> {
        let any: &dyn std::any::Any = &**target;
        let t = any.downcast_ref::<TmpInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        if t.is_dir() {
            return Err(Errno::EPERM);
        }
        let node = t.arc()?;
        {
            let mut ts = t.lock();
            if ts.nlink == 0 {
                if !ts.linkable {
                    return Err(Errno::ENOENT);
                }
                ts.linkable = false;
            }
            ts.nlink += 1;
            ts.ctime = Time::now();
        }
        if let Err(e) = self.add(name, node, false) {
            t.dec_link();
            return Err(e);
        }
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        match self.child(name) {
            None => Err(Errno::ENOENT),
            Some(c) if c.is_dir() => Err(Errno::EISDIR),
            Some(_) => self.remove_entry(name).map(|_| ()),
        }
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        match self.child(name) {
            None => Err(Errno::ENOENT),
            Some(c) if !c.is_dir() => Err(Errno::ENOTDIR),
            Some(c) if !c.is_empty_dir() => Err(Errno::ENOTEMPTY),
            Some(_) => self.remove_entry(name).map(|_| ()),
        }
    }

    fn rename(&self, old: &[u8], newdir: &InodeRef, new: &[u8], flags: u32) -> Result<(), Errno> {
        let any: &dyn std::any::Any = &**newdir;
        let nd = any.downcast_ref::<TmpInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        let _serial = self
            .fs
            .rename_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let src = self.child(old).ok_or(Errno::ENOENT)?;
        if std::ptr::eq(&*src, nd) {
            return Err(Errno::EINVAL);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            let dst = nd.child(new).ok_or(Errno::ENOENT)?;
            return self.exchange(old, src, nd, new, dst);
        }
        let dst = nd.child(new);
        if let Some(d) = &dst {
            if Arc::ptr_eq(d, &src) {
                return Ok(());
            }
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            match (src.is_dir(), d.is_dir()) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                // The old parent contains src, so it is never empty.
                (true, true) if std::ptr::eq(&**d, self) || !d.is_empty_dir() => {
                    return Err(Errno::ENOTEMPTY);
                }
                _ => {}
            }
        }
        // Both directories are locked (in inode order when they differ)
        // while the entry moves, so nobody sees it in both or neither.
        let same = std::ptr::eq(self, nd);
        let now = Time::now();
        let replaced = if same {
            let mut st = self.lock();
            let Data::Dir(m) = &mut st.data else {
                return Err(Errno::ENOTDIR);
            };
            let moved = m.remove(old).ok_or(Errno::ENOENT)?;
            let replaced = m.insert(new.to_vec(), moved);
            if replaced.as_ref().is_some_and(|r| r.is_dir()) {
                st.nlink = st.nlink.saturating_sub(1);
            }
            st.mtime = now;
            st.ctime = now;
            replaced
        } else {
            let (mut a, mut b) = self.lock_with(nd);
            let Data::Dir(om) = &mut a.data else {
                return Err(Errno::ENOTDIR);
            };
            let moved = om.remove(old).ok_or(Errno::ENOENT)?;
            let moved_dir = moved.is_dir();
            let Data::Dir(nm) = &mut b.data else {
                // Put it back: the target is not a directory any more.
                om.insert(old.to_vec(), moved);
                return Err(Errno::ENOTDIR);
            };
            let replaced = nm.insert(new.to_vec(), moved);
            if moved_dir {
                a.nlink = a.nlink.saturating_sub(1);
                if !replaced.as_ref().is_some_and(|r| r.is_dir()) {
                    b.nlink += 1;
                }
            }
            a.mtime = now;
            a.ctime = now;
            b.mtime = now;
            b.ctime = now;
            replaced
        };
        if let Some(r) = replaced {
            r.dec_link();
        }
        src.lock().ctime = now;
        Ok(())
    }

    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        let mut st = self.lock();
        if let Some(size) = a.size {
            if size > MAX_FILE_SIZE {
                return Err(Errno::EFBIG);
            }
            match &mut st.data {
                Data::Reg(r) => TmpInode::set_size(r, &self.fs, size),
                Data::Dir(_) => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
            st.mtime = Time::now();
        }
        if let Some(m) = a.mode {
            st.perm = m & 0o7777;
        }
        if let Some(u) = a.uid {
            st.uid = u;
        }
        if let Some(g) = a.gid {
            st.gid = g;
        }
        if let Some(t) = a.atime {
            st.atime = t;
        }
        if let Some(t) = a.mtime {
            st.mtime = t;
        }
        st.ctime = Time::now();
        Ok(())
    }

    fn shared_memory(&self, off: u64, len: u64) -> Option<Result<Vec<MemSegment>, Errno>> {
        (self.ftype == libc::S_IFREG).then(|| self.memory_segments(off, len))
    }

    fn statfs(&self) -> Result<libc::statfs, Errno> {
        let used = self.fs.pages.load(Ordering::Relaxed);
        let mut s = vfs::statfs_of(
            libc::TMPFS_MAGIC,
            self.fs.max_pages,
            self.fs.max_pages.saturating_sub(used),
        );
        s.f_files = MAX_INODES;
        s.f_ffree = MAX_INODES.saturating_sub(self.fs.inodes.load(Ordering::Relaxed));
        Ok(s)
    }
}

/// An open tmpfs regular file.
pub struct TmpFile {
    inode: Arc<TmpInode>,
}

impl FileOps for TmpFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.inode.read_data(buf, off)
    }

    fn write_at(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        self.inode.write_data(buf, off)
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        self.inode.stat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> Arc<TmpInode> {
        Tmpfs::with_limit(0o755, Owner::default(), 64 * PAGE as u64)
    }

    #[test]
    fn rename_exchange_swaps_entries_and_moves_dir_links() {
        let r = root();
        let me: InodeRef = r.clone();
        let d = r.mkdir(b"d", 0o755, Owner::default()).unwrap();
        let f = r.create(b"f", 0o644, Owner::default()).unwrap();
        let sub = d.mkdir(b"sub", 0o755, Owner::default()).unwrap();
        r.rename(b"d", &me, b"f", libc::RENAME_EXCHANGE).unwrap();
        assert_eq!(r.lookup(b"f").unwrap().ino(), d.ino());
        assert_eq!(r.lookup(b"d").unwrap().ino(), f.ino());
        assert_eq!(
            r.rename(b"d", &me, b"none", libc::RENAME_EXCHANGE),
            Err(Errno::ENOENT)
        );
        // A directory swapped with a file of another directory takes its
        // `..` link along.
        let dref: InodeRef = d.clone();
        let before = (r.stat().unwrap().st_nlink, d.stat().unwrap().st_nlink);
        d.rename(b"sub", &me, b"d", libc::RENAME_EXCHANGE).unwrap();
        assert_eq!(r.lookup(b"d").unwrap().ino(), sub.ino());
        assert_eq!(dref.lookup(b"sub").unwrap().ino(), f.ino());
        assert_eq!(r.stat().unwrap().st_nlink, before.0 + 1);
        assert_eq!(d.stat().unwrap().st_nlink, before.1 - 1);
    }

    #[test]
    fn tmpfile_has_no_links_until_linked_unless_exclusive() {
        let r = root();
        let t = r.tmpfile(0o600, Owner::default(), true).unwrap();
        assert_eq!(t.stat().unwrap().st_nlink, 0);
        r.link(b"named", &t).unwrap();
        assert_eq!(t.stat().unwrap().st_nlink, 1);
        let x = r.tmpfile(0o600, Owner::default(), false).unwrap();
        assert_eq!(r.link(b"never", &x), Err(Errno::ENOENT));
    }

    #[test]
    fn xattrs_are_stored_created_replaced_and_removed() {
        let r = root();
        let f = r.create(b"f", 0o644, Owner::default()).unwrap();
        f.xattr_set(b"user.a", Some(b"1"), 0).unwrap();
        assert_eq!(
            f.xattr_set(b"user.a", Some(b"2"), vfs::xattr::CREATE),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            f.xattr_set(b"user.b", Some(b"2"), vfs::xattr::REPLACE),
            Err(Errno::ENODATA)
        );
        f.xattr_set(b"user.b", Some(b""), 0).unwrap();
        assert_eq!(f.xattr_get(b"user.a").unwrap(), b"1");
        assert_eq!(
            f.xattr_list().unwrap(),
            vec![b"user.b".to_vec(), b"user.a".to_vec()]
        );
        f.xattr_set(b"user.a", None, 0).unwrap();
        assert_eq!(f.xattr_set(b"user.a", None, 0), Err(Errno::ENODATA));
        assert_eq!(f.xattr_get(b"user.a"), Err(Errno::ENODATA));
    }

    #[test]
    fn punch_hole_zeroes_inside_the_file_and_keeps_the_size() {
        let r = root();
        let f = r.create(b"f", 0o644, Owner::default()).unwrap();
        let ops = f.clone().open(libc::O_RDWR).unwrap();
        let data = vec![7u8; 3 * PAGE];
        assert_eq!(ops.write_at(&data, 0).unwrap(), data.len());
        f.punch_hole(10, 2 * PAGE as u64).unwrap();
        let mut back = vec![0u8; 3 * PAGE];
        assert_eq!(ops.read_at(&mut back, 0).unwrap(), back.len());
        assert!(back[..10].iter().all(|&b| b == 7));
        assert!(back[10..10 + 2 * PAGE].iter().all(|&b| b == 0));
        assert!(back[10 + 2 * PAGE..].iter().all(|&b| b == 7));
        assert_eq!(f.stat().unwrap().st_size, 3 * PAGE as i64);
        // Past the end: nothing to do.
        f.punch_hole(1 << 40, 1 << 20).unwrap();
    }

    #[test]
    fn sparse_write_reads_back_with_zero_holes() {
        let r = root();
        let f = r.create(b"f", 0o644, Owner::default()).unwrap();
        let ops = f.clone().open(libc::O_RDWR).unwrap();
        assert_eq!(ops.write_at(b"abc", 1 << 40).unwrap(), 3);
        assert_eq!(f.stat().unwrap().st_size, (1 << 40) + 3);
        let mut buf = [7u8; 8];
        assert_eq!(ops.read_at(&mut buf, (1 << 40) - 5).unwrap(), 8);
        assert_eq!(&buf, b"\0\0\0\0\0abc");
        assert_eq!(ops.read_at(&mut buf, (1 << 40) + 3).unwrap(), 0);
    }

    #[test]
    fn full_filesystem_gives_short_write_then_enospc() {
        let r = Tmpfs::with_limit(0o755, Owner::default(), 2 * PAGE as u64);
        let f = r.create(b"f", 0o644, Owner::default()).unwrap();
        let ops = f.clone().open(libc::O_RDWR).unwrap();
        let big = vec![1u8; 3 * PAGE];
        assert_eq!(ops.write_at(&big, 0).unwrap(), 2 * PAGE);
        assert_eq!(ops.write_at(&big, 2 * PAGE as u64), Err(Errno::ENOSPC));
        // Freeing space makes room again.
        f.setattr(&SetAttr {
            size: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ops.write_at(&big[..PAGE], 0).unwrap(), PAGE);
    }

    #[test]
    fn truncate_then_grow_reads_zeros() {
        let r = root();
        let f = r.create(b"f", 0o644, Owner::default()).unwrap();
        let ops = f.clone().open(libc::O_RDWR).unwrap();
        ops.write_at(&[9u8; 100], 0).unwrap();
        f.setattr(&SetAttr {
            size: Some(10),
            ..Default::default()
        })
        .unwrap();
        f.setattr(&SetAttr {
            size: Some(100),
            ..Default::default()
        })
        .unwrap();
        let mut buf = [1u8; 100];
        assert_eq!(ops.read_at(&mut buf, 0).unwrap(), 100);
        assert!(buf[..10].iter().all(|&b| b == 9));
        assert!(buf[10..].iter().all(|&b| b == 0));
    }

    fn reg_file(r: &Arc<TmpInode>, name: &[u8]) -> Arc<TmpInode> {
        r.make(name, libc::S_IFREG, 0o644, Owner::default(), 0, None, false)
            .unwrap()
    }

    /// The file's chunks: index and memory-file range.
    fn chunks(f: &TmpInode) -> Vec<(u64, Arc<MemRange>)> {
        match &f.lock().data {
            Data::Reg(r) => r.chunks.iter().map(|(k, c)| (*k, c.mem.clone())).collect(),
            _ => panic!("not a regular file"),
        }
    }

    fn peek(seg: &MemSegment, at: u64, len: usize) -> Vec<u8> {
        let p = seg.0.ptr(seg.1 + at, len as u64).unwrap();
        let mut v = vec![0u8; len];
        // SAFETY: `p` points at `len` bytes of the segment (checked).
        unsafe { std::ptr::copy_nonoverlapping(p, v.as_mut_ptr(), len) };
        v
    }

    fn poke(seg: &MemSegment, at: u64, data: &[u8]) {
        let p = seg.0.ptr(seg.1 + at, data.len() as u64).unwrap();
        // SAFETY: `p` points at `data.len()` bytes of the segment (checked).
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), p, data.len()) };
    }

    #[test]
    fn chunks_grow_geometrically_then_stay_at_the_maximum() {
        const K: u64 = 1024;
        assert_eq!(chunk_of(0), (0, 0, 64 * K));
        assert_eq!(chunk_of(64 * K - 1), (0, 0, 64 * K));
        assert_eq!(chunk_of(64 * K), (1, 64 * K, 128 * K));
        assert_eq!(chunk_of(192 * K), (2, 192 * K, 256 * K));
        assert_eq!(
            chunk_of(GEOMETRIC_END - 1),
            (10, GEOMETRIC_END - CHUNK_MAX, CHUNK_MAX)
        );
        assert_eq!(chunk_of(GEOMETRIC_END), (11, GEOMETRIC_END, 64 << 20));
        assert_eq!(
            chunk_of(GEOMETRIC_END + 3 * CHUNK_MAX + 5),
            (14, GEOMETRIC_END + 3 * CHUNK_MAX, CHUNK_MAX)
        );
        // Chunks tile the file: each starts where the previous ends, at a
        // page boundary.
        let mut end = 0;
        for k in 0..40 {
            let (i, start, len) = chunk_of(chunk_start(k));
            assert_eq!((i, start), (k, end));
            assert_eq!(chunk_of(start + len - 1).0, k);
            assert!(start.is_multiple_of(PAGE as u64) && len.is_multiple_of(PAGE as u64));
            end = start + len;
        }
        // The largest file offset still has a chunk, inside u64.
        let (k, start, len) = chunk_of(MAX_FILE_SIZE);
        assert!(start <= MAX_FILE_SIZE && start.checked_add(len).is_some());
        assert_eq!(chunk_start(k), start);
    }

    #[test]
    fn writes_allocate_the_chunks_they_touch_and_reads_past_eof_are_empty() {
        let r = root();
        let f = reg_file(&r, b"f");
        // One byte in chunk 0, one in chunk 3 (at 448 KiB).
        f.write_data(b"a", 10).unwrap();
        f.write_data(b"b", 500 << 10).unwrap();
        let ks: Vec<u64> = chunks(&f).iter().map(|c| c.0).collect();
        assert_eq!(ks, vec![0, 3]);
        assert_eq!(chunks(&f)[1].1.len, 512 << 10);
        // Two pages charged, whatever the chunk sizes.
        assert_eq!(f.stat().unwrap().st_blocks, 2 * (PAGE as i64 / 512));
        let mut buf = [9u8; 4];
        assert_eq!(f.read_data(&mut buf, 100 << 10).unwrap(), 4);
        assert_eq!(buf, [0; 4]);
        assert_eq!(f.read_data(&mut buf, (500 << 10) + 1).unwrap(), 0);
        assert_eq!(f.read_data(&mut buf, 1 << 40).unwrap(), 0);
        // A read across chunk boundaries.
        let mut big = vec![7u8; 600 << 10];
        f.write_data(&vec![5u8; 100 << 10], 40 << 10).unwrap();
        assert_eq!(f.read_data(&mut big, 0).unwrap(), (500 << 10) + 1);
        assert_eq!(big[10], b'a');
        assert!(big[40 << 10..140 << 10].iter().all(|&b| b == 5));
        assert_eq!(big[500 << 10], b'b');
    }

    #[test]
    fn shared_memory_is_the_file_data_even_past_the_end() {
        let r = root();
        let f = reg_file(&r, b"f");
        f.write_data(b"hello", 0).unwrap();
        let segs = f.shared_memory(0, 256 << 10).unwrap().unwrap();
        let shape: Vec<(u64, u64, u64)> = segs.iter().map(|s| (s.0.len, s.1, s.2)).collect();
        assert_eq!(
            shape,
            vec![
                (64 << 10, 0, 64 << 10),
                (128 << 10, 0, 128 << 10),
                (256 << 10, 0, 64 << 10)
            ]
        );
        // The mapping sees write(); read() sees stores through it.
        assert_eq!(peek(&segs[0], 0, 5), b"hello");
        poke(&segs[0], 1, b"E");
        let mut buf = [0u8; 5];
        f.read_data(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"hEllo");
        f.write_data(b"xyz", 70 << 10).unwrap();
        assert_eq!(peek(&segs[1], 6 << 10, 3), b"xyz");
        // Memory past the end is there, but reads stop at the size.
        poke(&segs[2], 0, b"beyond");
        assert_eq!(f.read_data(&mut buf, (70 << 10) + 3).unwrap(), 0);
        // A later request gets the same pages, from inside a chunk.
        let again = f.shared_memory(68 << 10, 8 << 10).unwrap().unwrap();
        assert_eq!(again.len(), 1);
        assert!(Arc::ptr_eq(&again[0].0, &segs[1].0));
        assert_eq!((again[0].1, again[0].2), (4 << 10, 8 << 10));
        // Bad requests.
        assert!(f.shared_memory(1, PAGE as u64).unwrap().is_err());
        assert_eq!(
            f.shared_memory(MAX_FILE_SIZE & !(PAGE as u64 - 1), 2 * PAGE as u64)
                .unwrap()
                .err(),
            Some(Errno::EOVERFLOW)
        );
        assert!(r.shared_memory(0, PAGE as u64).is_none());
        // The probe allocates nothing.
        let probe = reg_file(&r, b"probe");
        assert!(probe.shared_memory(0, 0).unwrap().unwrap().is_empty());
        assert!(chunks(&probe).is_empty());
    }

    #[test]
    fn truncate_punches_the_tail_and_frees_unmapped_chunks() {
        let r = Tmpfs::with_limit(0o755, Owner::default(), 4 << 20);
        let f = reg_file(&r, b"f");
        let g = reg_file(&r, b"g");
        for x in [&f, &g] {
            x.write_data(&vec![1u8; 300 << 10], 0).unwrap();
        }
        // Map all of f (chunks 0..=2); nobody maps g.
        let segs = f.shared_memory(0, 448 << 10).unwrap().unwrap();
        for x in [&f, &g] {
            x.setattr(&SetAttr {
                size: Some(100),
                ..Default::default()
            })
            .unwrap();
        }
        // The mapped chunks stay (data never moves) but hold zeros past
        // the end; the byte before the end is kept.
        let ks: Vec<u64> = chunks(&f).iter().map(|c| c.0).collect();
        assert_eq!(ks, vec![0, 1, 2]);
        assert_eq!(peek(&segs[0], 99, 2), vec![1, 0]);
        assert!(peek(&segs[0], 0, 64 << 10)[100..].iter().all(|&b| b == 0));
        assert!(peek(&segs[1], 0, 128 << 10).iter().all(|&b| b == 0));
        assert_eq!(f.stat().unwrap().st_blocks, PAGE as i64 / 512);
        // g's chunks past the end are freed.
        let gk: Vec<u64> = chunks(&g).iter().map(|c| c.0).collect();
        assert_eq!(gk, vec![0]);
        // Growing again reads zeros, and writes land in the mapped pages.
        f.write_data(b"again", 70 << 10).unwrap();
        assert_eq!(peek(&segs[1], 6 << 10, 5), b"again");
        let mut buf = [1u8; 8];
        assert_eq!(f.read_data(&mut buf, 200).unwrap(), 8);
        assert_eq!(buf, [0; 8]);
        // Dropping the mappings lets the next truncation free the chunks.
        drop(segs);
        f.setattr(&SetAttr {
            size: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert!(chunks(&f).is_empty());
        assert_eq!(f.stat().unwrap().st_blocks, 0);
    }

    #[test]
    fn a_failed_shared_memory_request_keeps_no_chunk() {
        let r = root();
        // A memory file of its own: this test fills it.
        let mf = MemoryFile::create().unwrap();
        assert!(r.fs.memfile.set(mf.clone()).is_ok());
        let f = reg_file(&r, b"f");
        f.write_data(b"x", 0).unwrap();
        assert_eq!(
            f.shared_memory(0, 2 << 40).unwrap().err(),
            Some(Errno::ENOMEM)
        );
        let ks: Vec<u64> = chunks(&f).iter().map(|c| c.0).collect();
        assert_eq!(ks, vec![0]);
        // Everything it took is back: the next allocation follows chunk 0.
        assert_eq!(mf.allocate(PAGE as u64).unwrap(), 64 << 10);
    }

    #[test]
    fn directory_link_counts_follow_subdirectories() {
        let r = root();
        r.mkdir(b"a", 0o755, Owner::default()).unwrap();
        r.mkdir(b"b", 0o755, Owner::default()).unwrap();
        assert_eq!(r.stat().unwrap().st_nlink, 4);
        let any: InodeRef = r.clone();
        r.rename(b"a", &any.lookup(b"b").unwrap(), b"a", 0).unwrap();
        assert_eq!(r.stat().unwrap().st_nlink, 3);
        assert_eq!(r.lookup(b"b").unwrap().stat().unwrap().st_nlink, 3);
        assert_eq!(r.rmdir(b"b"), Err(Errno::ENOTEMPTY));
    }

    #[test]
    fn rename_checks_types_and_noreplace() {
        let r = root();
        let me: InodeRef = r.clone();
        r.mkdir(b"d", 0o755, Owner::default()).unwrap();
        r.create(b"f", 0o644, Owner::default()).unwrap();
        assert_eq!(r.rename(b"d", &me, b"f", 0), Err(Errno::ENOTDIR));
        assert_eq!(r.rename(b"f", &me, b"d", 0), Err(Errno::EISDIR));
        r.create(b"g", 0o644, Owner::default()).unwrap();
        assert_eq!(
            r.rename(b"f", &me, b"g", libc::RENAME_NOREPLACE),
            Err(Errno::EEXIST)
        );
        r.rename(b"f", &me, b"g", 0).unwrap();
        assert_eq!(r.lookup(b"f").err(), Some(Errno::ENOENT));
        assert_eq!(r.readdir().unwrap().len(), 2);
    }

    #[test]
    fn hard_links_share_data_and_count() {
        let r = root();
        let f = r.create(b"f", 0o644, Owner::default()).unwrap();
        r.link(b"g", &f).unwrap();
        assert_eq!(f.stat().unwrap().st_nlink, 2);
        r.unlink(b"f").unwrap();
        assert_eq!(f.stat().unwrap().st_nlink, 1);
        assert_eq!(r.lookup(b"g").unwrap().ino(), f.ino());
    }
}
