//! The container root as the Gofer serves it over 9P2000.L.
//!
//! The Sentry uses it read-only, as the lower layer of the root overlay,
//! and nothing else changes it while the sandbox runs (the exclusive
//! file-access mode), so walk results, attributes, directory listings and
//! symlink targets are cached in the inodes for good: a path is walked
//! over 9P once.
//!
//! The fast path uses our 9P additions (docs/architecture.md, "9P
//! additions") and names files by their path from the root, no fids: a
//! lookup is one Tlookupfd round trip, which also brings a regular file's
//! or directory's host descriptor, kept as a spare for the open or listing
//! that usually follows (the newest [`MAX_SPARE_FDS`]); opening a regular
//! file read-only takes that spare or costs one Topenfd; reads use the
//! descriptor directly (`pread`, no 9P) and close releases it (no clunk); a
//! directory listing is `getdents64` on the spare or on a descriptor from
//! one Topenfd.
//!
//! Where the fast path cannot serve (a write, a path too long for one
//! message, no descriptor left) the 9P way is taken: Twalkgetattr lookups
//! from the directory's fid (directories keep their walked fid, up to
//! [`MAX_DIR_FIDS`]), and files walked to a fresh fid, lopen'ed and
//! clunked on their last close.

use std::collections::{HashMap, VecDeque};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use gofer::{Attr, Client, Fid, Keep};

use crate::errno::Errno;
use crate::vfs::{self, DirEntry, FileOps, Inode, InodeRef};

/// Directory fids kept open at once; past this, directories walk from the
/// root each time they are used.
pub const MAX_DIR_FIDS: usize = 256;
/// Negative lookups remembered per directory (bounds what a program
/// probing random names can make the Sentry hold).
const MAX_NEGATIVE: usize = 4096;

fn errno(e: i32) -> Errno {
    Errno(e)
}

/// Descriptors kept from lookups for a coming open or listing (the newest
/// ones; older ones are closed).
pub const MAX_SPARE_FDS: usize = 64;

/// One connection's filesystem.
pub struct GoferFs {
    client: Arc<Client>,
    dir_fids: AtomicUsize,
    /// Files holding a spare descriptor, oldest first (some may have used
    /// it).
    spares: Mutex<VecDeque<Weak<GoferInode>>>,
}

impl GoferFs {
    /// Keeps `fd` (of `file`) as its spare, closing the oldest spare past
    /// the budget.
    fn keep_spare(&self, file: &Arc<GoferInode>, fd: OwnedFd) {
        *file.spare.lock().unwrap_or_else(|e| e.into_inner()) = Some(fd);
        let mut evicted = Vec::new();
        {
            let mut q = self.spares.lock().unwrap_or_else(|e| e.into_inner());
            q.push_back(Arc::downgrade(file));
            while q.len() > MAX_SPARE_FDS {
                if let Some(old) = q.pop_front().and_then(|w| w.upgrade()) {
                    let fd = old.spare.lock().unwrap_or_else(|e| e.into_inner()).take();
                    // `old` may be the last reference: dropped (and the
                    // descriptor closed) outside the lock.
                    evicted.push((fd, old));
                }
            }
        }
        drop(evicted);
    }
}

impl GoferFs {
    /// The root inode of the served tree.
    pub fn new_root(client: Arc<Client>) -> Result<Arc<GoferInode>, Errno> {
        let fs = Arc::new(GoferFs {
            client: client.clone(),
            dir_fids: AtomicUsize::new(0),
            spares: Mutex::new(VecDeque::new()),
        });
        let attr = client.getattr(client.root()).map_err(errno)?;
        Ok(Arc::new_cyclic(|me| GoferInode {
            fs,
            me: me.clone(),
            parent: None,
            name: Vec::new(),
            attr,
            fid: Mutex::new(FidState::Root),
            spare: Mutex::new(None),
            cache: Mutex::new(Cache::default()),
        }))
    }
}

/// Errors of the fast path (Topenfd) after which the 9P path may still
/// work: the path does not fit one message, no descriptor left here, or a
/// server without the addition.
fn fall_back(e: i32) -> bool {
    matches!(
        e,
        libc::ENAMETOOLONG | libc::EMFILE | libc::ENFILE | libc::ENOSYS | libc::EOPNOTSUPP
    )
}

enum FidState {
    /// The attach fid, never clunked.
    Root,
    Kept(Fid),
    None,
}

#[derive(Default)]
struct Cache {
    /// name -> the child, or None if it does not exist.
    children: HashMap<Vec<u8>, Option<Arc<GoferInode>>>,
    negative: usize,
    /// The whole listing, once read.
    listing: Option<Arc<Vec<DirEntry>>>,
    link: Option<Vec<u8>>,
}

/// A file of the Gofer's tree.
pub struct GoferInode {
    fs: Arc<GoferFs>,
    me: Weak<GoferInode>,
    /// Children hold their parent: walks from it are one component long.
    parent: Option<Arc<GoferInode>>,
    name: Vec<u8>,
    attr: Attr,
    fid: Mutex<FidState>,
    /// The descriptor the lookup brought, for the open that usually follows
    /// (see [`MAX_SPARE_FDS`]).
    spare: Mutex<Option<OwnedFd>>,
    cache: Mutex<Cache>,
}

impl Drop for GoferInode {
    fn drop(&mut self) {
        if let FidState::Kept(fid) = *self.fid.get_mut().unwrap_or_else(|e| e.into_inner()) {
            let _ = self.fs.client.clunk(fid);
            self.fs.dir_fids.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl GoferInode {
    fn lock_cache(&self) -> MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_dir(&self) -> bool {
        vfs::is_dir(self.attr.mode)
    }

    /// Runs `f` with a fid naming this file: the kept one, or one walked
    /// for the occasion (from the parent's) and clunked after.
    fn with_fid<T>(&self, f: impl FnOnce(Fid) -> Result<T, Errno>) -> Result<T, Errno> {
        let kept = match *self.fid.lock().unwrap_or_else(|e| e.into_inner()) {
            FidState::Root => Some(self.fs.client.root()),
            FidState::Kept(fid) => Some(fid),
            FidState::None => None,
        };
        if let Some(fid) = kept {
            return f(fid);
        }
        let fid = self.walk_fresh()?;
        let r = f(fid);
        let _ = self.fs.client.clunk(fid);
        r
    }

    /// A new fid for this file, walked from the parent.
    fn walk_fresh(&self) -> Result<Fid, Errno> {
        let parent = match &self.parent {
            Some(p) => p,
            None => {
                let (fid, _) = self
                    .fs
                    .client
                    .walk(self.fs.client.root(), &[])
                    .map_err(errno)?;
                return Ok(fid);
            }
        };
        let name: &[u8] = &self.name;
        parent.with_fid(|pfid| {
            let (fid, _) = self.fs.client.walk(pfid, &[name]).map_err(errno)?;
            Ok(fid)
        })
    }

    /// The names from the served root to this file.
    fn path(&self) -> Vec<&[u8]> {
        let mut names = Vec::new();
        let mut cur = self;
        while let Some(p) = &cur.parent {
            names.push(cur.name.as_slice());
            cur = p;
        }
        names.reverse();
        names
    }

    /// This file's host descriptor, read-only (Topenfd), checked to be the
    /// file looked up.
    fn open_host(&self, dir: bool) -> Result<OwnedFd, i32> {
        let (fd, st) = self.fs.client.open_fd(&self.path(), dir)?;
        if st.st_ino != self.attr.qid.path {
            // Replaced on the host since the lookup.
            return Err(libc::ESTALE);
        }
        Ok(fd)
    }

    /// A new fid for this file, opened with `flags`.
    fn open_fid(&self, flags: u32) -> Result<Fid, Errno> {
        let fid = self.walk_fresh()?;
        if let Err(e) = self.fs.client.lopen(fid, flags) {
            let _ = self.fs.client.clunk(fid);
            return Err(errno(e));
        }
        Ok(fid)
    }

    fn lookup_child(&self, name: &[u8]) -> Result<Arc<GoferInode>, Errno> {
        match self.lookup_uncached(name) {
            Err(Errno::ENOENT) => {
                let mut cache = self.lock_cache();
                if cache.negative < MAX_NEGATIVE {
                    cache.negative += 1;
                    cache.children.insert(name.to_vec(), None);
                }
                Err(Errno::ENOENT)
            }
            r => r,
        }
    }

    fn lookup_uncached(&self, name: &[u8]) -> Result<Arc<GoferInode>, Errno> {
        {
            let cache = self.lock_cache();
            match cache.children.get(name) {
                Some(Some(c)) => return Ok(c.clone()),
                Some(None) => return Err(Errno::ENOENT),
                None => {}
            }
            if let Some(l) = &cache.listing {
                if !l.iter().any(|e| e.name == name) {
                    return Err(Errno::ENOENT);
                }
            }
        }
        let me = self.me.upgrade().ok_or(Errno::ENOENT)?;
        let mut path = self.path();
        path.push(name);
        let (fid, attr, link, spare) = match self.fs.client.lookup_fd(&path) {
            Ok(l) => (None, l.attr, Some(l.target), l.fd),
            Err(e) if fall_back(e) => {
                let (fid, attr) = self.lookup_9p(name)?;
                (fid, attr, None, None)
            }
            Err(e) => return Err(errno(e)),
        };
        let fid_state = match fid {
            Some(f) => FidState::Kept(f),
            None => FidState::None,
        };
        let link = link.filter(|_| vfs::is_symlink(attr.mode));
        let child = Arc::new_cyclic(|w| GoferInode {
            fs: self.fs.clone(),
            me: w.clone(),
            parent: Some(me),
            name: name.to_vec(),
            attr,
            fid: Mutex::new(fid_state),
            spare: Mutex::new(None),
            cache: Mutex::new(Cache {
                link,
                ..Cache::default()
            }),
        });
        let kept = {
            let mut cache = self.lock_cache();
            // Another thread may have walked the same name meanwhile: keep one.
            let entry = cache
                .children
                .entry(name.to_vec())
                .or_insert_with(|| Some(child.clone()));
            match entry {
                Some(c) => c.clone(),
                None => {
                    *entry = Some(child.clone());
                    child.clone()
                }
            }
        };
        if let Some(fd) = spare {
            if Arc::ptr_eq(&kept, &child) {
                self.fs.keep_spare(&kept, fd);
            }
        }
        // A losing duplicate drops here, with its fid and descriptor.
        Ok(kept)
    }

    /// A lookup the 9P way (Twalkgetattr from this directory's fid), for
    /// when Tlookupfd cannot serve (a path that does not fit one message,
    /// no descriptor left): the child's fid if it is a directory kept
    /// within the budget, and its attributes.
    fn lookup_9p(&self, name: &[u8]) -> Result<(Option<Fid>, Attr), Errno> {
        // A directory keeps its fid while the budget lasts; a slot is
        // taken before the walk and given back if the file is no directory.
        let budget = self
            .fs
            .dir_fids
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < MAX_DIR_FIDS).then_some(n + 1)
            })
            .is_ok();
        let keep = if budget { Keep::Dir } else { Keep::Never };
        let walked =
            self.with_fid(|pfid| self.fs.client.lookup(pfid, &[name], keep).map_err(errno));
        if budget && !matches!(walked, Ok((Some(_), _))) {
            self.fs.dir_fids.fetch_sub(1, Ordering::Relaxed);
        }
        walked
    }

    fn read_listing(&self) -> Result<Arc<Vec<DirEntry>>, Errno> {
        if let Some(l) = &self.lock_cache().listing {
            return Ok(l.clone());
        }
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).take();
        let out = match spare.map(Ok).unwrap_or_else(|| self.open_host(true)) {
            Ok(fd) => read_host_dir(&fd)?,
            Err(e) if fall_back(e) => self.read_listing_9p()?,
            Err(e) => return Err(errno(e)),
        };
        let l = Arc::new(out);
        self.lock_cache().listing = Some(l.clone());
        Ok(l)
    }

    /// The listing over 9P: lopen and Treaddir.
    fn read_listing_9p(&self) -> Result<Vec<DirEntry>, Errno> {
        let fid = self.open_fid(libc::O_RDONLY as u32)?;
        let client = &self.fs.client;
        let mut out = Vec::new();
        let mut offset = 0u64;
        let r = loop {
            match client.readdir(fid, offset, client.msize()) {
                Ok(v) if v.is_empty() => break Ok(()),
                Ok(v) => {
                    for e in v {
                        offset = e.offset;
                        if e.name == b"." || e.name == b".." {
                            continue;
                        }
                        out.push(DirEntry {
                            ino: e.qid.path,
                            ty: e.ty,
                            name: e.name,
                        });
                    }
                }
                Err(e) => break Err(errno(e)),
            }
        };
        let _ = client.clunk(fid);
        r?;
        Ok(out)
    }
}

/// Lists a donated directory descriptor with `getdents64`, leaving out `.`
/// and `..`.
fn read_host_dir(fd: &OwnedFd) -> Result<Vec<DirEntry>, Errno> {
    // linux_dirent64: ino[8] off[8] reclen[2] type[1] name (NUL-terminated).
    const NAME_AT: usize = 19;
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = Vec::new();
    loop {
        // SAFETY: `buf` is writable for its length; the kernel writes at
        // most that many bytes.
        let n = unsafe {
            libc::syscall(
                libc::SYS_getdents64,
                fd.as_raw_fd(),
                buf.as_mut_ptr(),
                buf.len(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            if e == libc::EINTR {
                continue;
            }
            return Err(errno(e));
        }
        let n = usize::try_from(n).map_err(|_| Errno::EIO)?.min(buf.len());
        if n == 0 {
            return Ok(out);
        }
        let mut at = 0;
        while at + NAME_AT <= n {
            let rec = &buf[at..n];
            let reclen = usize::from(u16::from_ne_bytes([rec[16], rec[17]]));
            if reclen < NAME_AT || reclen > rec.len() {
                return Err(Errno::EIO);
            }
            let mut ino = [0u8; 8];
            ino.copy_from_slice(&rec[..8]);
            let name_field = &rec[NAME_AT..reclen];
            let len = name_field
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(name_field.len());
            let name = &name_field[..len];
            if name != b"." && name != b".." {
                out.push(DirEntry {
                    ino: u64::from_ne_bytes(ino),
                    ty: rec[18],
                    name: name.to_vec(),
                });
            }
            at += reclen;
        }
    }
}

impl Inode for GoferInode {
    fn ino(&self) -> u64 {
        self.attr.qid.path
    }

    fn mode(&self) -> u32 {
        self.attr.mode
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        let a = &self.attr;
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_ino = a.qid.path;
        s.st_mode = a.mode;
        s.st_nlink = a.nlink;
        s.st_uid = a.uid;
        s.st_gid = a.gid;
        s.st_rdev = a.rdev;
        s.st_size = i64::try_from(a.size).unwrap_or(i64::MAX);
        s.st_blksize = i64::try_from(a.blksize).unwrap_or(4096);
        s.st_blocks = i64::try_from(a.blocks).unwrap_or(0);
        s.st_atime = a.atime_sec as i64;
        s.st_atime_nsec = a.atime_nsec as i64;
        s.st_mtime = a.mtime_sec as i64;
        s.st_mtime_nsec = a.mtime_nsec as i64;
        s.st_ctime = a.ctime_sec as i64;
        s.st_ctime_nsec = a.ctime_nsec as i64;
        Ok(s)
    }

    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.lookup_child(name)?)
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(self.read_listing()?.as_ref().clone())
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        if !vfs::is_symlink(self.attr.mode) {
            return Err(Errno::EINVAL);
        }
        if let Some(l) = &self.lock_cache().link {
            return Ok(l.clone());
        }
        let target = self.with_fid(|fid| self.fs.client.readlink(fid).map_err(errno))?;
        self.lock_cache().link = Some(target.clone());
        Ok(target)
    }

    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        match self.attr.mode & libc::S_IFMT {
            libc::S_IFDIR => Ok(Arc::new(super::DirFile)),
            libc::S_IFREG => {
                let acc = (flags & libc::O_ACCMODE) as u32;
                if acc == libc::O_RDONLY as u32 {
                    let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).take();
                    match spare.map(Ok).unwrap_or_else(|| self.open_host(false)) {
                        Ok(fd) => {
                            return Ok(Arc::new(GoferFile {
                                client: self.fs.client.clone(),
                                backing: Backing::Host(fd),
                                inode: self,
                            }))
                        }
                        Err(e) if fall_back(e) => {}
                        Err(e) => return Err(errno(e)),
                    }
                }
                let fid = self.open_fid(acc)?;
                Ok(Arc::new(GoferFile {
                    client: self.fs.client.clone(),
                    backing: Backing::Fid(fid),
                    inode: self,
                }))
            }
            libc::S_IFCHR => super::dev::open_device(self.attr.rdev, flags),
            _ => Err(Errno::ENXIO),
        }
    }

    fn statfs(&self) -> Result<libc::statfs, Errno> {
        let s = self
            .fs
            .client
            .statfs(self.fs.client.root())
            .map_err(errno)?;
        let mut out: libc::statfs = crate::usermem::zeroed();
        out.f_type = i64::from(s.ty);
        out.f_bsize = i64::from(s.bsize);
        out.f_frsize = i64::from(s.bsize);
        out.f_blocks = s.blocks;
        out.f_bfree = s.bfree;
        out.f_bavail = s.bavail;
        out.f_files = s.files;
        out.f_ffree = s.ffree;
        out.f_namelen = i64::from(s.namelen);
        Ok(out)
    }
}

/// An open Gofer file: the host descriptor the Gofer donated, or an opened
/// fid (clunked when the last reference to the description goes).
pub struct GoferFile {
    client: Arc<Client>,
    backing: Backing,
    inode: Arc<GoferInode>,
}

enum Backing {
    /// Read with `pread`; closed on drop.
    Host(OwnedFd),
    /// Read and written over 9P.
    Fid(Fid),
}

impl Drop for GoferFile {
    fn drop(&mut self) {
        if let Backing::Fid(fid) = self.backing {
            let _ = self.client.clunk(fid);
        }
    }
}

/// `pread` until `buf` is full or the end of the file.
fn pread_full(fd: &OwnedFd, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
    let mut done = 0;
    while done < buf.len() {
        let at = off
            .checked_add(done as u64)
            .and_then(|o| i64::try_from(o).ok())
            .ok_or(Errno::EINVAL)?;
        let rest = &mut buf[done..];
        // SAFETY: `rest` is writable for its length.
        let n = unsafe { libc::pread64(fd.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len(), at) };
        if n < 0 {
            let e = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            if e == libc::EINTR {
                continue;
            }
            if done > 0 {
                break;
            }
            return Err(errno(e));
        }
        if n == 0 {
            break;
        }
        // 0 < n <= rest.len().
        done += (n as usize).min(rest.len());
    }
    Ok(done)
}

impl FileOps for GoferFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        // The file cannot change under us: nothing past the cached size.
        if off >= self.inode.attr.size {
            return Ok(0);
        }
        let n = usize::try_from(self.inode.attr.size - off)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match &self.backing {
            Backing::Host(fd) => pread_full(fd, &mut buf[..n], off),
            Backing::Fid(fid) => self.client.read(*fid, off, &mut buf[..n]).map_err(errno),
        }
    }

    fn host_source(&self) -> Option<(std::os::fd::RawFd, u64)> {
        match &self.backing {
            Backing::Host(fd) => Some((fd.as_raw_fd(), self.inode.attr.size)),
            Backing::Fid(_) => None,
        }
    }

    fn write_at(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        match &self.backing {
            // Opened read-only.
            Backing::Host(_) => Err(Errno::EBADF),
            Backing::Fid(fid) => self.client.write(*fid, off, buf).map_err(errno),
        }
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        self.inode.stat()
    }

    fn fsync(&self) -> Result<(), Errno> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixStream;
    use std::path::PathBuf;

    use super::*;
    use crate::vfs::ops::{self, Ctx};
    use crate::vfs::{Cred, Vfs};

    /// A scratch host tree served by a real Gofer server on a thread.
    struct Served {
        dir: PathBuf,
        client: Arc<Client>,
    }

    impl Drop for Served {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn serve(name: &str) -> Served {
        let dir = std::env::temp_dir().join(format!("sentry-gofer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/sub")).unwrap();
        std::fs::write(dir.join("etc/hosts"), b"127.0.0.1 localhost\n").unwrap();
        std::fs::write(dir.join("big"), vec![7u8; 300_000]).unwrap();
        std::os::unix::fs::symlink("etc/hosts", dir.join("hosts")).unwrap();
        std::fs::create_dir(dir.join("tmp")).unwrap();
        let (a, b) = UnixStream::pair().unwrap();
        let root = dir.clone();
        std::thread::spawn(move || {
            let _ = gofer::server::serve(&root, b);
        });
        let client = Arc::new(Client::connect(a).unwrap());
        Served { dir, client }
    }

    fn read_file(v: &Vfs, path: &[u8]) -> Vec<u8> {
        let c = Ctx::new(v, v.root(), Cred::root(), 0o022);
        let f = ops::open_at(&c, v.root(), path, libc::O_RDONLY, 0).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = f.ops().read_at(&mut buf, out.len() as u64).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn sandbox_namespace_over_a_real_gofer() {
        let s = serve("ns");
        let v = Vfs::new(s.client.clone()).unwrap();
        let c = Ctx::new(&v, v.root(), Cred::root(), 0o022);
        assert_eq!(read_file(&v, b"/etc/hosts"), b"127.0.0.1 localhost\n");
        assert_eq!(read_file(&v, b"/hosts"), b"127.0.0.1 localhost\n");
        assert_eq!(read_file(&v, b"/big").len(), 300_000);
        assert_eq!(
            ops::walk(&c, v.root(), b"/nope", true).err(),
            Some(Errno::ENOENT)
        );
        // Cached: a second miss needs no server.
        assert_eq!(
            ops::walk(&c, v.root(), b"/nope", true).err(),
            Some(Errno::ENOENT)
        );
        let st = ops::walk(&c, v.root(), b"/etc/hosts", true)
            .unwrap()
            .stat()
            .unwrap();
        let host = std::fs::metadata(s.dir.join("etc/hosts")).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(st.st_ino, host.ino());
        assert_eq!(st.st_size, 20);
        // /dev and /tmp are the Sentry's.
        assert!(ops::open_at(&c, v.root(), b"/dev/null", libc::O_WRONLY, 0).is_ok());
        assert_eq!(
            ops::walk(&c, v.root(), b"/tmp", true).unwrap().mount.fstype,
            "tmpfs"
        );
        // Writes stay in the sandbox.
        let f = ops::open_at(
            &c,
            v.root(),
            b"/etc/hosts",
            libc::O_WRONLY | libc::O_TRUNC,
            0,
        )
        .unwrap();
        f.ops().write_at(b"changed\n", 0).unwrap();
        assert_eq!(read_file(&v, b"/etc/hosts"), b"changed\n");
        ops::mkdirat(&c, v.root(), b"/etc/sub/new", 0o755).unwrap();
        ops::renameat(&c, v.root(), b"/big", v.root(), b"/etc/big2", 0).unwrap();
        ops::unlinkat(&c, v.root(), b"/hosts").unwrap();
        assert_eq!(
            std::fs::read(s.dir.join("etc/hosts")).unwrap(),
            b"127.0.0.1 localhost\n"
        );
        assert!(std::fs::symlink_metadata(s.dir.join("hosts")).is_ok());
        assert!(std::fs::metadata(s.dir.join("big")).is_ok());
        assert!(std::fs::metadata(s.dir.join("etc/sub/new")).is_err());
        let root = ops::walk(&c, v.root(), b"/", true).unwrap();
        let mut names: Vec<_> = root
            .inode
            .readdir()
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        names.sort();
        // dev and proc (and sys, once sysfs is mounted there) were made in
        // the upper layer to mount on.
        names.retain(|n| n != b"sys");
        let want: Vec<Vec<u8>> = vec![
            b"dev".to_vec(),
            b"etc".to_vec(),
            b"proc".to_vec(),
            b"tmp".to_vec(),
        ];
        assert_eq!(names, want);
    }
}
