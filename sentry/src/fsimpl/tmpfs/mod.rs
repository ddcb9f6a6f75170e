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
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::errno::Errno;
use crate::mm::{MemRange, MemoryFile};
use crate::vfs::{
    self, Caller, DirEntry, File, FileOps, Inode, InodeRef, IoSeq, MemSegment, Owner, SetAttr, Time,
};

pub mod devtmpfs;
pub mod fs_type;
mod handle;
mod regular;
pub mod seals;

pub use seals::of_file;
#[cfg(test)]
mod tests;

use super::chunks::{chunk_of, chunk_start};
#[cfg(test)]
use super::chunks::{CHUNK_MAX, GEOMETRIC_END};
use regular::{Pieces, RegData};

const PAGE: usize = 4096;
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
    /// Where file data lives: the memory file of the kernel that made
    /// this filesystem.
    memfile: Arc<MemoryFile>,
    /// The files that gave out a handle, for open_by_handle_at.
    handles: handle::Handles,
}

impl Tmpfs {
    /// A new, empty tmpfs keeping its files' data in `memfile`; its root
    /// directory has `mode` permissions.
    pub fn new_root(memfile: &Arc<MemoryFile>, mode: u32, owner: Owner) -> Arc<TmpInode> {
        Tmpfs::with_limit(memfile, mode, owner, DEFAULT_MAX_BYTES)
    }

    pub fn with_limit(
        memfile: &Arc<MemoryFile>,
        mode: u32,
        owner: Owner,
        max_bytes: u64,
    ) -> Arc<TmpInode> {
        let fs = Arc::new(Tmpfs {
            next_ino: AtomicU64::new(1),
            pages: AtomicU64::new(0),
            max_pages: max_bytes / PAGE as u64,
            inodes: AtomicU64::new(0),
            rename_lock: Mutex::new(()),
            memfile: memfile.clone(),
            handles: handle::Handles::new(),
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
}

enum Data {
    Reg(RegData),
    Dir(BTreeMap<Vec<u8>, Arc<TmpInode>>),
    Link(Vec<u8>),
    /// Devices, FIFOs, sockets, whiteouts.
    Node,
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
    /// Shared mappings that may write (`seals::WritableMap`).
    writable_maps: Arc<std::sync::atomic::AtomicUsize>,
    /// Whether `fs.handles` knows this file.
    has_handle: std::sync::atomic::AtomicBool,
}

impl Drop for TmpInode {
    fn drop(&mut self) {
        self.fs.inodes.fetch_sub(1, Ordering::Relaxed);
        if *self.has_handle.get_mut() {
            self.fs.handles.forget(self.ino);
        }
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
            writable_maps: Arc::default(),
            has_handle: Default::default(),
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

    fn handle(&self) -> Result<crate::vfs::handle::FileHandle, Errno> {
        Ok(self.encode_handle())
    }

    fn by_handle(&self, h: &crate::vfs::handle::FileHandle) -> Result<InodeRef, Errno> {
        self.decode_handle(h)
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
        if r.seals & seals::WRITES != 0 {
            return Err(Errno::EPERM);
        }
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
            return super::dev::open_device_by(self.rdev, flags, Some(ctx));
        }
        if self.ftype == libc::S_IFIFO {
            return self.fifo_pipe().open_fifo(flags, ctx.caller);
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
        if let (Some(m), Data::Reg(r)) = (a.mode, &st.data) {
            if r.seals & seals::F_SEAL_EXEC != 0 && (m ^ st.perm) & 0o111 != 0 {
                return Err(Errno::EPERM);
            }
        }
        if let Some(size) = a.size {
            if size > MAX_FILE_SIZE {
                return Err(Errno::EFBIG);
            }
            match &mut st.data {
                Data::Reg(r) => {
                    let (shrink, grow) = (size < r.size, size > r.size);
                    if (shrink && r.seals & seals::F_SEAL_SHRINK != 0)
                        || (grow && r.seals & seals::F_SEAL_GROW != 0)
                    {
                        return Err(Errno::EPERM);
                    }
                    TmpInode::set_size(r, &self.fs, size)
                }
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

    fn map_shared(
        &self,
        _memfile: &Arc<crate::memfile::MemoryFile>,
        off: u64,
        len: u64,
        writable: bool,
    ) -> Option<Result<vfs::SharedPages, Errno>> {
        if self.ftype != libc::S_IFREG {
            return None;
        }
        // Counted before the pages are handed out, so F_SEAL_WRITE never
        // misses a mapping that may write.
        let hold = if writable {
            let st = self.lock();
            if let Data::Reg(r) = &st.data {
                if r.seals & seals::WRITES != 0 {
                    return Some(Err(Errno::EPERM));
                }
            }
            let h = seals::WritableMap::new(&self.writable_maps);
            Some(Arc::new(h) as Arc<dyn vfs::SharedMapping>)
        } else {
            None
        };
        Some(
            self.memory_segments(off, len)
                .map(|segments| vfs::SharedPages { segments, hold }),
        )
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

    /// The file's pages are copied straight into the application's (one
    /// copy, as Linux's tmpfs makes); buffers that are not all plain
    /// memory go through a Sentry buffer, which reports a fault where
    /// Linux would.
    fn read_to(
        &self,
        t: &dyn Caller,
        f: &File,
        dst: &mut IoSeq<'_>,
        off: u64,
    ) -> Result<usize, Errno> {
        // What the file holds past `off` now: the buffers past it need not
        // be mapped. The size is checked again under the inode's lock.
        let want = usize::try_from(self.inode.size().saturating_sub(off))
            .unwrap_or(usize::MAX)
            .min(dst.len());
        let inode = &self.inode;
        match dst.with_ranges(want, true, &mut |p| {
            inode.read_pieces(&mut Pieces::new(p), off)
        }) {
            Ok(r) => r,
            Err(_) => vfs::io::read_buffered(self, t, f, dst, off),
        }
    }

    /// The application's pages are copied straight into the file's.
    fn write_from(
        &self,
        t: &dyn Caller,
        f: &File,
        src: &mut IoSeq<'_>,
        off: u64,
    ) -> Result<usize, Errno> {
        let want = src.len();
        // A write that would cross the largest file size is cut short in
        // steps by the buffered path (its first steps succeed).
        if off
            .checked_add(want as u64)
            .is_some_and(|e| e <= MAX_FILE_SIZE)
        {
            let inode = &self.inode;
            if let Ok(r) = src.with_ranges(want, false, &mut |p| {
                inode.write_pieces(&mut Pieces::new(p), off)
            }) {
                return r;
            }
        }
        vfs::io::write_buffered(self, t, f, src, off)
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        self.inode.stat()
    }
}
