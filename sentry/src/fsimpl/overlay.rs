//! An overlay: a writable tmpfs upper layer over a read-only lower layer
//! (the Gofer's root), so the sandbox may change anything and the host is
//! never written.
//!
//! As Linux's overlayfs: a file is served from the upper layer once it is
//! there, else from the lower one; writing to a lower file first copies it
//! up (with its parent directories); deleting a lower name leaves a
//! whiteout in the upper layer; a directory made over a whiteout is opaque
//! (the lower one is hidden). Directories are merged for reading. Renaming
//! or exchanging a directory that has lower contents is EXDEV (no
//! redirects), which `mv` and friends handle by copying; RENAME_EXCHANGE
//! of anything else copies both sides up and swaps them in the upper
//! layer.
//!
//! The layers are the truth; overlay inodes only cache which layers hold
//! a name. A directory's inode keeps its children weakly, and each child
//! holds its parent, so while anyone holds an overlay inode it is the only
//! one for its path, and every change of a directory goes through the
//! inode that caches it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::tmpfs::{TmpInode, Tmpfs};
use crate::errno::Errno;
use crate::mm::MemoryFile;
use crate::vfs::{self, DirEntry, FileOps, Inode, InodeRef, MemSegment, Owner, SetAttr, IO_CHUNK};

/// Inode numbers of files only in the upper layer are the tmpfs ones plus
/// this, to keep them apart from the lower layer's (host inode numbers).
const UPPER_INO_BASE: u64 = 1 << 62;

/// What the files of one overlay share.
pub struct OverlayFs {
    /// Serialises copy-ups, so two tasks do not copy one file twice.
    copy_lock: Mutex<()>,
    /// Upper files with more than one name, by the upper inode's address:
    /// each name leads to the one overlay inode, so hard links are one
    /// file to the VFS (same inode number, same inotify watches).
    linked: Mutex<HashMap<usize, Weak<OvInode>>>,
    /// The directories made most recently, held: a directory's inode is
    /// otherwise held only by what is below it and by open files, so each
    /// walk of a path nobody holds (stat of `/usr/lib/x/y`) made every
    /// directory on it again. Files are not held: a removed file's data
    /// must go when its last user does.
    recent_dirs: Mutex<std::collections::VecDeque<Arc<OvInode>>>,
}

/// How many directories [`OverlayFs`] keeps alive beyond their users.
const RECENT_DIRS: usize = 512;

impl OverlayFs {
    fn linked(&self) -> MutexGuard<'_, HashMap<usize, Weak<OvInode>>> {
        self.linked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The overlay inode already standing for `upper`, a file with
    /// several names.
    fn linked_to(&self, upper: &Arc<TmpInode>) -> Option<Arc<OvInode>> {
        self.linked()
            .get(&(Arc::as_ptr(upper) as usize))
            .and_then(Weak::upgrade)
    }

    /// Remembers `ov` as the inode of its upper file `upper`.
    fn link_known(&self, upper: &Arc<TmpInode>, ov: &Arc<OvInode>) {
        let mut m = self.linked();
        if m.len() > 64 && m.len().is_power_of_two() {
            m.retain(|_, w| w.strong_count() > 0);
        }
        m.insert(Arc::as_ptr(upper) as usize, Arc::downgrade(ov));
    }
}

/// Whether `u` is a non-directory with more than one name.
fn has_links(u: &TmpInode) -> bool {
    !u.is_dir() && u.stat().is_ok_and(|st| st.st_nlink > 1)
}

impl OverlayFs {
    /// The root over `lower` (read-only), with a fresh tmpfs upper layer
    /// in `memfile`.
    pub fn new_root(lower: InodeRef, memfile: &Arc<MemoryFile>) -> InodeRef {
        let upper = Tmpfs::new_root(memfile, lower.mode() & 0o7777, Owner::default());
        OverlayFs::with_layers(upper, lower)
    }

    /// The root over `lower` with `upper` as the upper layer's root.
    pub fn with_layers(upper: Arc<TmpInode>, lower: InodeRef) -> InodeRef {
        if let Ok(st) = lower.stat() {
            let _ = upper.setattr(&SetAttr {
                mode: Some(st.st_mode & 0o7777),
                uid: Some(st.st_uid),
                gid: Some(st.st_gid),
                atime: Some(vfs::Time {
                    sec: st.st_atime,
                    nsec: st.st_atime_nsec,
                }),
                mtime: Some(vfs::Time {
                    sec: st.st_mtime,
                    nsec: st.st_mtime_nsec,
                }),
                ..SetAttr::default()
            });
        }
        // The root is in the upper layer from the start, so it never
        // copies up: its attributes are copied here instead.
        copy_xattrs(&lower, &upper);
        upper.set_origin(true);
        let fs = Arc::new(OverlayFs {
            copy_lock: Mutex::new(()),
            linked: Mutex::new(HashMap::new()),
            recent_dirs: Mutex::new(std::collections::VecDeque::new()),
        });
        let ino = lower.ino();
        Arc::new_cyclic(|me| OvInode {
            fs,
            me: me.clone(),
            ino,
            ftype: libc::S_IFDIR,
            st: Mutex::new(OvState {
                parent: None,
                name: Vec::new(),
                upper: Some(upper),
                lower: Some(lower),
                children: HashMap::new(),
            }),
        })
    }
}

struct OvState {
    parent: Option<Arc<OvInode>>,
    name: Vec<u8>,
    upper: Option<Arc<TmpInode>>,
    lower: Option<InodeRef>,
    children: HashMap<Vec<u8>, Weak<OvInode>>,
}

/// A file of the overlay.
pub struct OvInode {
    fs: Arc<OverlayFs>,
    me: Weak<OvInode>,
    ino: u64,
    ftype: u32,
    st: Mutex<OvState>,
}

impl Drop for OvInode {
    // A chain of parents as deep as the application made its directories
    // would otherwise be freed by recursion.
    fn drop(&mut self) {
        let st = self.st.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut next = st.parent.take();
        while let Some(p) = next {
            match Arc::try_unwrap(p) {
                Ok(mut ov) => {
                    next = ov
                        .st
                        .get_mut()
                        .unwrap_or_else(|e| e.into_inner())
                        .parent
                        .take()
                }
                Err(_) => break,
            }
        }
    }
}

fn as_ov(i: &InodeRef) -> Result<&OvInode, Errno> {
    let any: &dyn std::any::Any = &**i;
    any.downcast_ref::<OvInode>().ok_or(Errno::EXDEV)
}

impl OvInode {
    /// The layer an open with `flags` reaches: a regular file opened for
    /// writing is copied up first.
    fn layer_to_open(&self, flags: i32) -> Result<InodeRef, Errno> {
        let writes = flags & libc::O_ACCMODE != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
        Ok(if writes && self.ftype == libc::S_IFREG {
            self.copy_up(flags & libc::O_TRUNC == 0)?
        } else {
            self.top()?
        })
    }

    fn lock(&self) -> MutexGuard<'_, OvState> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn arc(&self) -> Result<Arc<OvInode>, Errno> {
        self.me.upgrade().ok_or(Errno::ENOENT)
    }

    fn is_dir(&self) -> bool {
        self.ftype == libc::S_IFDIR
    }

    fn layers(&self) -> (Option<Arc<TmpInode>>, Option<InodeRef>) {
        let st = self.lock();
        (st.upper.clone(), st.lower.clone())
    }

    /// The layer that serves this file's contents and attributes.
    fn top(&self) -> Result<InodeRef, Errno> {
        let (u, l) = self.layers();
        match (u, l) {
            (Some(u), _) => Ok(u),
            (None, Some(l)) => Ok(l),
            (None, None) => Err(Errno::ENOENT),
        }
    }

    /// The lower directory merged into this one, if any.
    fn merged_lower(&self) -> Option<InodeRef> {
        let (u, l) = self.layers();
        if u.as_ref().is_some_and(|u| u.opaque()) {
            return None;
        }
        l.filter(|l| vfs::is_dir(l.mode()))
    }

    /// Whether a lower file shows through at `name` (so removing the
    /// upper one must leave a whiteout).
    fn lower_has(&self, name: &[u8]) -> bool {
        self.merged_lower().is_some_and(|l| l.lookup(name).is_ok())
    }

    fn child_from_cache(&self, name: &[u8]) -> Option<Arc<OvInode>> {
        self.lock().children.get(name).and_then(Weak::upgrade)
    }

    fn forget_child(&self, name: &[u8]) {
        self.lock().children.remove(name);
    }

    fn new_child(
        &self,
        name: &[u8],
        upper: Option<Arc<TmpInode>>,
        lower: Option<InodeRef>,
    ) -> Result<Arc<OvInode>, Errno> {
        let ftype = match (&upper, &lower) {
            (Some(u), _) => u.mode() & libc::S_IFMT,
            (None, Some(l)) => l.mode() & libc::S_IFMT,
            (None, None) => return Err(Errno::ENOENT),
        };
        // A copied-up file keeps its origin's number wherever it went.
        let origin = upper.as_ref().and_then(|u| u.origin_ino());
        let ino = match (&lower, &upper) {
            _ if origin.is_some() => origin.unwrap_or_default(),
            (Some(l), _) => l.ino(),
            (None, Some(u)) => UPPER_INO_BASE | u.ino(),
            (None, None) => return Err(Errno::ENOENT),
        };
        let parent = self.arc()?;
        let child = Arc::new_cyclic(|me| OvInode {
            fs: self.fs.clone(),
            me: me.clone(),
            ino,
            ftype,
            st: Mutex::new(OvState {
                parent: Some(parent),
                name: name.to_vec(),
                upper,
                lower,
                children: HashMap::new(),
            }),
        });
        self.cache_child(name, &child);
        if let Some(u) = child.layers().0.filter(|u| has_links(u)) {
            self.fs.link_known(&u, &child);
        }
        if ftype == libc::S_IFDIR {
            let old = {
                let mut q = self
                    .fs
                    .recent_dirs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                q.push_back(child.clone());
                (q.len() > RECENT_DIRS).then(|| q.pop_front())
            };
            // The last reference may go here: dropped outside the lock.
            drop(old);
        }
        Ok(child)
    }

    fn cache_child(&self, name: &[u8], child: &Arc<OvInode>) {
        let mut st = self.lock();
        if st.children.len() > 64 && st.children.len().is_power_of_two() {
            st.children.retain(|_, w| w.strong_count() > 0);
        }
        st.children.insert(name.to_vec(), Arc::downgrade(child));
    }

    fn lookup_ov(&self, name: &[u8]) -> Result<Arc<OvInode>, Errno> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if let Some(c) = self.child_from_cache(name) {
            return Ok(c);
        }
        let (upper, lower) = self.layers();
        let u = upper.as_ref().and_then(|u| u.child(name));
        if u.as_ref().is_some_and(|c| c.is_whiteout()) {
            return Err(Errno::ENOENT);
        }
        if let Some(known) = u
            .as_ref()
            .filter(|c| has_links(c))
            .and_then(|c| self.fs.linked_to(c))
        {
            self.cache_child(name, &known);
            return Ok(known);
        }
        // A copied-up file keeps its lower origin (for its inode number); a
        // directory merges its lower one unless it is opaque.
        let want_lower = match &u {
            None => true,
            Some(c) => c.origin() || (c.is_dir() && !c.opaque()),
        };
        let opaque_here = upper.as_ref().is_some_and(|u| u.opaque());
        let mut l = None;
        if want_lower && !opaque_here {
            if let Some(ld) = lower.filter(|l| vfs::is_dir(l.mode())) {
                match ld.lookup(name) {
                    Ok(x) => l = Some(x),
                    Err(Errno::ENOENT) => {}
                    Err(e) if u.is_none() => return Err(e),
                    Err(_) => {}
                }
            }
        }
        if let (Some(uc), Some(lc)) = (&u, &l) {
            if uc.is_dir() != vfs::is_dir(lc.mode()) {
                l = None;
            }
        }
        if u.is_none() && l.is_none() {
            return Err(Errno::ENOENT);
        }
        self.new_child(name, u, l)
    }

    /// Makes sure this file is in the upper layer, copying it (and its
    /// parents) up if needed; `with_data` false skips a regular file's
    /// contents (it is about to be truncated to nothing).
    fn copy_up(&self, with_data: bool) -> Result<Arc<TmpInode>, Errno> {
        let (parent, name, lower) = {
            let st = self.lock();
            if let Some(u) = &st.upper {
                return Ok(u.clone());
            }
            (st.parent.clone(), st.name.clone(), st.lower.clone())
        };
        let parent = parent.ok_or(Errno::EIO)?;
        let lower = lower.ok_or(Errno::ENOENT)?;
        let pu = parent.copy_up(true)?;
        let _g = self.fs.copy_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(u) = self.lock().upper.clone() {
            return Ok(u);
        }
        if let Some(c) = pu.child(&name) {
            if !c.is_whiteout() {
                self.lock().upper = Some(c.clone());
                return Ok(c);
            }
        }
        let st = lower.stat()?;
        let owner = Owner {
            uid: st.st_uid,
            gid: st.st_gid,
        };
        let perm = st.st_mode & 0o7777;
        let ftype = st.st_mode & libc::S_IFMT;
        let u = match ftype {
            libc::S_IFDIR => pu.make(&name, ftype, perm, owner, 0, None, false)?,
            libc::S_IFLNK => {
                let target = lower.readlink()?;
                pu.make(&name, ftype, perm, owner, 0, Some(&target), false)?
            }
            libc::S_IFREG => {
                let u = pu.make(&name, ftype, perm, owner, 0, None, false)?;
                if with_data {
                    if let Err(e) = copy_data(&lower, &u, st.st_size) {
                        let _ = pu.remove_entry(&name);
                        return Err(e);
                    }
                }
                u
            }
            _ => pu.make(&name, ftype, perm, owner, st.st_rdev, None, false)?,
        };
        let _ = u.setattr(&SetAttr {
            atime: Some(vfs::Time {
                sec: st.st_atime,
                nsec: st.st_atime_nsec,
            }),
            mtime: Some(vfs::Time {
                sec: st.st_mtime,
                nsec: st.st_mtime_nsec,
            }),
            ..SetAttr::default()
        });
        copy_xattrs(&lower, &u);
        u.set_origin(true);
        u.set_origin_ino(self.ino);
        self.lock().upper = Some(u.clone());
        Ok(u)
    }

    /// Creates `name` in the upper layer with `make`, over a whiteout if
    /// there is one.
    fn create_with(
        &self,
        name: &[u8],
        make: impl FnOnce(&TmpInode) -> Result<Arc<TmpInode>, Errno>,
    ) -> Result<Arc<OvInode>, Errno> {
        match self.lookup_ov(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let u = self.copy_up(true)?;
        let over_whiteout = u.child(name).is_some_and(|c| c.is_whiteout());
        let c = make(&u)?;
        if over_whiteout && c.is_dir() {
            c.set_opaque(true);
        }
        self.new_child(name, Some(c), None)
    }

    /// Removes `name` (a file or an empty directory) from the upper layer,
    /// leaving a whiteout if a lower file shows through there.
    fn remove(&self, name: &[u8]) -> Result<(), Errno> {
        let u = self.copy_up(true)?;
        if self.lower_has(name) {
            u.put_whiteout(name)?;
        } else {
            u.remove_entry(name)?;
        }
        self.forget_child(name);
        Ok(())
    }

    /// renameat2(RENAME_EXCHANGE): `old` here and `new` in `nd` swap
    /// places, as Linux's overlayfs does it: both copied up, then swapped
    /// in the upper layer.
    fn exchange(&self, old: &[u8], nd: &OvInode, new: &[u8]) -> Result<(), Errno> {
        let src = self.lookup_ov(old)?;
        let dst = nd.lookup_ov(new)?;
        let same_upper = matches!(
            (src.layers().0, dst.layers().0),
            (Some(a), Some(b)) if Arc::ptr_eq(&a, &b)
        );
        if Arc::ptr_eq(&src, &dst) || same_upper {
            return Ok(());
        }
        // As for rename: without redirects a directory with lower
        // contents would lose them at its new name.
        if [&src, &dst]
            .iter()
            .any(|c| c.is_dir() && c.merged_lower().is_some())
        {
            return Err(Errno::EXDEV);
        }
        let (here, there) = (self.arc()?, nd.arc()?);
        let su = src.copy_up(true)?;
        let du = dst.copy_up(true)?;
        let ou = self.copy_up(true)?;
        let nu = nd.copy_up(true)?;
        let nu_ref: InodeRef = nu;
        ou.rename(old, &nu_ref, new, libc::RENAME_EXCHANGE)?;
        // A directory now over a lower directory of its new name must
        // not merge with it.
        if src.is_dir() && nd.lower_has(new) {
            su.set_opaque(true);
        }
        if dst.is_dir() && self.lower_has(old) {
            du.set_opaque(true);
        }
        // Their origins were the lower files at their old names.
        su.set_origin(false);
        du.set_origin(false);
        self.forget_child(old);
        nd.forget_child(new);
        for (c, parent, name) in [(&src, there, new), (&dst, here, old)] {
            {
                let mut st = c.lock();
                st.parent = Some(parent.clone());
                st.name = name.to_vec();
                if !c.is_dir() {
                    st.lower = None;
                }
            }
            parent
                .lock()
                .children
                .insert(name.to_vec(), Arc::downgrade(c));
        }
        Ok(())
    }

    fn merged_entries(&self) -> Result<Vec<DirEntry>, Errno> {
        let (upper, _) = self.layers();
        let lower = self.merged_lower();
        let mut out = Vec::new();
        let mut upper_names = HashSet::new();
        let mut lower_inos = HashMap::new();
        if let Some(l) = &lower {
            for e in l.readdir()? {
                lower_inos.insert(e.name.clone(), e.ino);
            }
        }
        if let Some(u) = &upper {
            for (name, c) in u.children() {
                upper_names.insert(name.clone());
                if c.is_whiteout() {
                    continue;
                }
                let ino = match lower_inos.get(&name) {
                    Some(&i) if c.origin() || (c.is_dir() && !c.opaque()) => i,
                    _ => UPPER_INO_BASE | c.ino(),
                };
                out.push(DirEntry {
                    ino,
                    ty: vfs::dtype_of(c.mode()),
                    name,
                });
            }
        }
        if let Some(l) = &lower {
            for e in l.readdir()? {
                if !upper_names.contains(&e.name) {
                    out.push(e);
                }
            }
        }
        Ok(out)
    }
}

/// Copies a lower file's extended attributes into its new upper copy.
/// Best effort, as overlayfs copies what the lower filesystem lists:
/// a lower file whose attributes cannot be read loses them in the copy
/// rather than failing the write that caused it.
fn copy_xattrs(lower: &InodeRef, upper: &TmpInode) {
    for name in lower.xattr_list().unwrap_or_default() {
        if let Ok(v) = lower.xattr_get(&name) {
            let _ = upper.xattr_set(&name, Some(&v), 0);
        }
    }
}

/// Copies a lower file's contents into its new upper copy.
fn copy_data(lower: &InodeRef, upper: &TmpInode, size: i64) -> Result<(), Errno> {
    let ops = lower.clone().open(libc::O_RDONLY)?;
    let size = u64::try_from(size).unwrap_or(0);
    let mut buf = vec![
        0u8;
        IO_CHUNK
            .min(usize::try_from(size).unwrap_or(IO_CHUNK))
            .max(1)
    ];
    let mut off = 0u64;
    loop {
        let n = ops.read_at(&mut buf, off)?;
        if n == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < n {
            done += upper.write_data(&buf[done..n], off + done as u64)?;
        }
        off += n as u64;
    }
}

impl Inode for OvInode {
    fn ino(&self) -> u64 {
        self.ino
    }

    fn mode(&self) -> u32 {
        self.top().map(|t| t.mode()).unwrap_or(self.ftype)
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut s = self.top()?.stat()?;
        s.st_ino = self.ino;
        if self.is_dir() {
            // A merged directory's size and links are the lower one's (an
            // upper copy is only a place for new entries).
            if let Some(l) = self.merged_lower() {
                let ls = l.stat()?;
                s.st_nlink = ls.st_nlink;
                s.st_size = ls.st_size;
                s.st_blocks = ls.st_blocks;
                s.st_blksize = ls.st_blksize;
            }
        }
        Ok(s)
    }

    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        Ok(self.lookup_ov(name)?)
    }

    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        self.merged_entries()
    }

    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        self.top()?.readlink()
    }

    fn connect_host(&self, kind: i32) -> Option<Result<std::os::fd::OwnedFd, Errno>> {
        // A socket the sandbox bound lives in the upper layer and answers
        // None; a lower (Gofer) one is the host's.
        self.top().ok()?.connect_host(kind)
    }

    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        if self.is_dir() {
            return Ok(Arc::new(super::DirFile));
        }
        self.layer_to_open(flags)?.open(flags)
    }

    /// `open` with the opener, which FIFOs (to wait for their other end)
    /// and terminals need.
    fn open_by(
        self: Arc<Self>,
        flags: i32,
        ctx: &vfs::ops::Ctx<'_>,
    ) -> Result<Arc<dyn FileOps>, Errno> {
        if self.is_dir() {
            return Ok(Arc::new(super::DirFile));
        }
        self.layer_to_open(flags)?.open_by(flags, ctx)
    }

    fn create(&self, name: &[u8], mode: u32, owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.create_with(name, |u| {
            u.make(name, libc::S_IFREG, mode, owner, 0, None, true)
        })?)
    }

    fn mkdir(&self, name: &[u8], mode: u32, owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.create_with(name, |u| {
            u.make(name, libc::S_IFDIR, mode, owner, 0, None, true)
        })?)
    }

    fn symlink(&self, name: &[u8], target: &[u8], owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.create_with(name, |u| {
            u.make(name, libc::S_IFLNK, 0o777, owner, 0, Some(target), true)
        })?)
    }

    fn mknod(&self, name: &[u8], mode: u32, rdev: u64, owner: Owner) -> Result<InodeRef, Errno> {
        let ftype = mode & libc::S_IFMT;
        if ftype == libc::S_IFCHR && rdev == libc::makedev(0, 0) {
            // That is how whiteouts look in the upper layer.
            return Err(Errno::EPERM);
        }
        Ok(self.create_with(name, |u| u.make(name, ftype, mode, owner, rdev, None, true))?)
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> Result<(), Errno> {
        let t = as_ov(target)?;
        if !Arc::ptr_eq(&t.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        match self.lookup_ov(name) {
            Ok(_) => return Err(Errno::EEXIST),
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(e),
        }
        let tu = t.copy_up(true)?;
        let u = self.copy_up(true)?;
        self.fs.link_known(&tu, &t.arc()?);
        if u.child(name).is_some_and(|c| c.is_whiteout()) {
            u.remove_entry(name)?;
        }
        let tu_ref: InodeRef = tu;
        u.link(name, &tu_ref)?;
        self.forget_child(name);
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        let c = self.lookup_ov(name)?;
        if c.is_dir() {
            return Err(Errno::EISDIR);
        }
        self.remove(name)
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        let c = self.lookup_ov(name)?;
        if !c.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !c.merged_entries()?.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.remove(name)
    }

    fn rename(&self, old: &[u8], newdir: &InodeRef, new: &[u8], flags: u32) -> Result<(), Errno> {
        let nd = as_ov(newdir)?;
        if !Arc::ptr_eq(&nd.fs, &self.fs) {
            return Err(Errno::EXDEV);
        }
        if flags & libc::RENAME_EXCHANGE != 0 {
            return self.exchange(old, nd, new);
        }
        let src = self.lookup_ov(old)?;
        if src.is_dir() && src.merged_lower().is_some() {
            // Without redirects a moved directory would lose its lower
            // contents; Linux's overlayfs says EXDEV and tools copy.
            return Err(Errno::EXDEV);
        }
        let dst = match nd.lookup_ov(new) {
            Ok(d) => Some(d),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if let Some(d) = &dst {
            let (su, du) = (src.layers().0, d.layers().0);
            let same_upper = matches!((&su, &du), (Some(a), Some(b)) if Arc::ptr_eq(a, b));
            if Arc::ptr_eq(d, &src) || same_upper {
                // Two names of one file: rename does nothing.
                return Ok(());
            }
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            match (src.is_dir(), d.is_dir()) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !d.merged_entries()?.is_empty() => return Err(Errno::ENOTEMPTY),
                _ => {}
            }
        }
        let su = src.copy_up(true)?;
        let ou = self.copy_up(true)?;
        let nu = nd.copy_up(true)?;
        // Clear the target's upper entry: an (empty) directory may hold
        // whiteouts, and a whiteout is a device node a directory cannot
        // replace.
        if let Some(c) = nu.child(new) {
            if c.is_whiteout() || c.is_dir() {
                nu.remove_entry(new)?;
            }
        }
        let nu_ref: InodeRef = nu.clone();
        ou.rename(old, &nu_ref, new, 0)?;
        if self.lower_has(old) {
            ou.put_whiteout(old)?;
        }
        if src.is_dir() && nd.lower_has(new) {
            su.set_opaque(true);
        }
        if !src.is_dir() {
            // Its origin was the lower file at the old name.
            su.set_origin(false);
        }
        self.forget_child(old);
        nd.forget_child(new);
        {
            let mut st = src.lock();
            st.parent = Some(nd.arc()?);
            st.name = new.to_vec();
            if !src.is_dir() {
                st.lower = None;
            }
        }
        nd.lock()
            .children
            .insert(new.to_vec(), Arc::downgrade(&src));
        Ok(())
    }

    fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        let with_data = attr.size != Some(0);
        self.copy_up(with_data)?.setattr(attr)
    }

    fn xattr_get(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        // A lower filesystem without xattrs reads as one with none, as
        // overlayfs over such a filesystem does.
        match self.top()?.xattr_get(name) {
            Err(Errno::EOPNOTSUPP) => Err(Errno::ENODATA),
            r => r,
        }
    }

    fn xattr_set(&self, name: &[u8], value: Option<&[u8]>, flags: i32) -> Result<(), Errno> {
        self.copy_up(true)?.xattr_set(name, value, flags)
    }

    fn xattr_list(&self) -> Result<Vec<Vec<u8>>, Errno> {
        match self.top()?.xattr_list() {
            Err(Errno::EOPNOTSUPP) => Ok(Vec::new()),
            r => r,
        }
    }

    fn shared_memory(&self, off: u64, len: u64) -> Option<Result<Vec<MemSegment>, Errno>> {
        // The layer serving the file now: a copied-up (or new) file's
        // pages are the upper tmpfs's; a lower file maps as a copy.
        if self.ftype != libc::S_IFREG {
            return None;
        }
        match self.top() {
            Ok(t) => t.shared_memory(off, len),
            Err(e) => Some(Err(e)),
        }
    }

    fn map_shared(
        &self,
        memfile: &Arc<MemoryFile>,
        off: u64,
        len: u64,
        writable: bool,
    ) -> Option<Result<vfs::SharedPages, Errno>> {
        if self.ftype != libc::S_IFREG {
            return None;
        }
        match self.top() {
            Ok(t) => t.map_shared(memfile, off, len, writable),
            Err(e) => Some(Err(e)),
        }
    }

    fn statfs(&self) -> Result<libc::statfs, Errno> {
        let (u, l) = self.layers();
        let mut s = match (l, u) {
            (Some(l), _) => l.statfs()?,
            (None, Some(u)) => u.statfs()?,
            (None, None) => return Err(Errno::ENOENT),
        };
        s.f_type = libc::OVERLAYFS_SUPER_MAGIC;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lower layer: a tmpfs tree standing in for the Gofer's.
    fn lower() -> Arc<TmpInode> {
        let l = Tmpfs::new_root(&MemoryFile::new().unwrap(), 0o755, Owner::default());
        let etc = l.mkdir(b"etc", 0o755, Owner::default()).unwrap();
        let f = etc.create(b"passwd", 0o644, Owner::default()).unwrap();
        f.clone()
            .open(libc::O_RDWR)
            .unwrap()
            .write_at(b"root:x:0:0\n", 0)
            .unwrap();
        etc.mkdir(b"sub", 0o755, Owner::default()).unwrap();
        l.symlink(b"link", b"etc/passwd", Owner::default()).unwrap();
        l
    }

    fn read_all(i: &InodeRef) -> Vec<u8> {
        let ops = i.clone().open(libc::O_RDONLY).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = ops.read_at(&mut buf, 0).unwrap();
        buf.truncate(n);
        buf
    }

    fn names(i: &InodeRef) -> Vec<Vec<u8>> {
        let mut v: Vec<_> = i.readdir().unwrap().into_iter().map(|e| e.name).collect();
        v.sort();
        v
    }

    #[test]
    fn writing_copies_up_and_leaves_the_lower_file_alone() {
        let l = lower();
        let root = OverlayFs::new_root(l.clone(), &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        let p = etc.lookup(b"passwd").unwrap();
        let ino = p.ino();
        let ops = p.clone().open(libc::O_WRONLY).unwrap();
        ops.write_at(b"ROOT", 0).unwrap();
        assert_eq!(read_all(&p), b"ROOT:x:0:0\n");
        assert_eq!(p.ino(), ino);
        let lp = l.lookup(b"etc").unwrap().lookup(b"passwd").unwrap();
        assert_eq!(read_all(&lp), b"root:x:0:0\n");
    }

    #[test]
    fn truncating_open_skips_the_copy_of_data() {
        let l = lower();
        let root = OverlayFs::new_root(l, &MemoryFile::new().unwrap());
        let p = root.lookup(b"etc").unwrap().lookup(b"passwd").unwrap();
        p.setattr(&SetAttr {
            size: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(p.stat().unwrap().st_size, 0);
    }

    #[test]
    fn unlink_of_a_lower_file_leaves_a_whiteout() {
        let l = lower();
        let root = OverlayFs::new_root(l.clone(), &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        etc.unlink(b"passwd").unwrap();
        assert_eq!(etc.lookup(b"passwd").err(), Some(Errno::ENOENT));
        assert_eq!(names(&etc), vec![b"sub".to_vec()]);
        assert!(l.lookup(b"etc").unwrap().lookup(b"passwd").is_ok());
        // A new file at the name does not show the old one.
        let f = etc.create(b"passwd", 0o600, Owner::default()).unwrap();
        assert_eq!(read_all(&f), b"");
        etc.unlink(b"passwd").unwrap();
        assert_eq!(etc.lookup(b"passwd").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn directory_made_over_a_whiteout_is_opaque() {
        let l = lower();
        let root = OverlayFs::new_root(l, &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        assert_eq!(root.rmdir(b"etc"), Err(Errno::ENOTEMPTY));
        etc.unlink(b"passwd").unwrap();
        etc.rmdir(b"sub").unwrap();
        root.rmdir(b"etc").unwrap();
        assert_eq!(root.lookup(b"etc").err(), Some(Errno::ENOENT));
        let etc2 = root.mkdir(b"etc", 0o755, Owner::default()).unwrap();
        assert!(etc2.readdir().unwrap().is_empty());
        assert_eq!(etc2.lookup(b"passwd").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn merged_listing_shows_both_layers_once() {
        let l = lower();
        let root = OverlayFs::new_root(l, &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        etc.create(b"new", 0o644, Owner::default()).unwrap();
        // Copy up passwd: it must still be listed once.
        etc.lookup(b"passwd")
            .unwrap()
            .setattr(&SetAttr {
                mode: Some(0o600),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            names(&etc),
            vec![b"new".to_vec(), b"passwd".to_vec(), b"sub".to_vec()]
        );
        assert_eq!(etc.lookup(b"passwd").unwrap().mode(), libc::S_IFREG | 0o600);
    }

    #[test]
    fn rename_of_a_lower_file_moves_it_and_hides_the_old_name() {
        let l = lower();
        let root = OverlayFs::new_root(l, &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        etc.rename(b"passwd", &root, b"pw", 0).unwrap();
        assert_eq!(etc.lookup(b"passwd").err(), Some(Errno::ENOENT));
        assert_eq!(read_all(&root.lookup(b"pw").unwrap()), b"root:x:0:0\n");
        // A directory with lower contents cannot move.
        assert_eq!(root.rename(b"etc", &root, b"etc2", 0), Err(Errno::EXDEV));
        // One made in the upper layer can.
        root.mkdir(b"d", 0o755, Owner::default()).unwrap();
        root.rename(b"d", &root, b"e", 0).unwrap();
        assert!(root.lookup(b"e").is_ok());
        assert_eq!(root.lookup(b"d").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn exchange_swaps_lower_files_and_leaves_the_lower_layer_alone() {
        let l = lower();
        let root = OverlayFs::new_root(l.clone(), &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        etc.create(b"new", 0o600, Owner::default())
            .unwrap()
            .open(libc::O_WRONLY)
            .unwrap()
            .write_at(b"new\n", 0)
            .unwrap();
        etc.rename(b"passwd", &etc, b"new", libc::RENAME_EXCHANGE)
            .unwrap();
        assert_eq!(read_all(&etc.lookup(b"new").unwrap()), b"root:x:0:0\n");
        assert_eq!(read_all(&etc.lookup(b"passwd").unwrap()), b"new\n");
        assert_eq!(etc.lookup(b"passwd").unwrap().mode(), libc::S_IFREG | 0o600);
        // Across directories, a lower file with a lower symlink.
        root.rename(b"link", &etc, b"new", libc::RENAME_EXCHANGE)
            .unwrap();
        assert_eq!(
            etc.lookup(b"new").unwrap().readlink().unwrap(),
            b"etc/passwd"
        );
        assert_eq!(read_all(&root.lookup(b"link").unwrap()), b"root:x:0:0\n");
        let le = l.lookup(b"etc").unwrap();
        assert_eq!(names(&le), vec![b"passwd".to_vec(), b"sub".to_vec()]);
        assert_eq!(read_all(&le.lookup(b"passwd").unwrap()), b"root:x:0:0\n");
        assert_eq!(
            l.lookup(b"link").unwrap().readlink().unwrap(),
            b"etc/passwd"
        );
    }

    #[test]
    fn exchange_makes_a_directory_opaque_over_a_lower_one() {
        let l = lower();
        l.lookup(b"etc")
            .unwrap()
            .lookup(b"sub")
            .unwrap()
            .create(b"inner", 0o644, Owner::default())
            .unwrap();
        let root = OverlayFs::new_root(l, &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        // A merged directory cannot move, as with rename.
        etc.mkdir(b"d", 0o755, Owner::default()).unwrap();
        assert_eq!(
            etc.rename(b"d", &etc, b"sub", libc::RENAME_EXCHANGE),
            Err(Errno::EXDEV)
        );
        // A file over the lower directory can swap with the new one.
        let sub = etc.lookup(b"sub").unwrap();
        sub.unlink(b"inner").unwrap();
        drop(sub);
        etc.rmdir(b"sub").unwrap();
        etc.create(b"sub", 0o644, Owner::default()).unwrap();
        etc.lookup(b"d")
            .unwrap()
            .create(b"y", 0o644, Owner::default())
            .unwrap();
        etc.rename(b"d", &etc, b"sub", libc::RENAME_EXCHANGE)
            .unwrap();
        assert!(vfs::is_reg(etc.lookup(b"d").unwrap().mode()));
        // Looked up afresh from the layers: only the moved directory's
        // entries, not the lower directory's at that name.
        let root2 = OverlayFs::with_layers(
            as_ov(&root).unwrap().layers().0.unwrap(),
            as_ov(&root).unwrap().layers().1.unwrap(),
        );
        let sub = root2.lookup(b"etc").unwrap().lookup(b"sub").unwrap();
        assert_eq!(names(&sub), vec![b"y".to_vec()]);
        assert_eq!(sub.lookup(b"inner").err(), Some(Errno::ENOENT));
    }

    #[test]
    fn xattrs_read_through_copy_up_with_the_file_and_leave_the_lower_alone() {
        let l = lower();
        let lp = l.lookup(b"etc").unwrap().lookup(b"passwd").unwrap();
        lp.xattr_set(b"user.a", Some(b"1"), 0).unwrap();
        let root = OverlayFs::new_root(l, &MemoryFile::new().unwrap());
        let p = root.lookup(b"etc").unwrap().lookup(b"passwd").unwrap();
        assert_eq!(p.xattr_get(b"user.a").unwrap(), b"1");
        assert_eq!(p.xattr_list().unwrap(), vec![b"user.a".to_vec()]);
        p.xattr_set(b"user.b", Some(b"2"), vfs::xattr::CREATE)
            .unwrap();
        assert_eq!(p.xattr_get(b"user.a").unwrap(), b"1");
        p.xattr_set(b"user.a", None, 0).unwrap();
        assert_eq!(p.xattr_get(b"user.a"), Err(Errno::ENODATA));
        assert_eq!(p.xattr_list().unwrap(), vec![b"user.b".to_vec()]);
        // The copy kept the data too.
        assert_eq!(read_all(&p), b"root:x:0:0\n");
        assert_eq!(lp.xattr_get(b"user.a").unwrap(), b"1");
        assert_eq!(lp.xattr_get(b"user.b"), Err(Errno::ENODATA));
    }

    /// A lower layer whose files have no xattr support.
    struct NoXattrs(InodeRef);

    impl Inode for NoXattrs {
        fn ino(&self) -> u64 {
            self.0.ino()
        }
        fn mode(&self) -> u32 {
            self.0.mode()
        }
        fn stat(&self) -> Result<libc::stat, Errno> {
            self.0.stat()
        }
        fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
            Ok(Arc::new(NoXattrs(self.0.lookup(name)?)))
        }
        fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
            self.0.readdir()
        }
        fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
            self.0.clone().open(flags)
        }
        fn xattr_get(&self, _name: &[u8]) -> Result<Vec<u8>, Errno> {
            Err(Errno::EOPNOTSUPP)
        }
        fn xattr_list(&self) -> Result<Vec<Vec<u8>>, Errno> {
            Err(Errno::EOPNOTSUPP)
        }
    }

    #[test]
    fn the_roots_xattrs_are_the_lower_roots() {
        let l = lower();
        l.xattr_set(b"user.r", Some(b"1"), 0).unwrap();
        let root = OverlayFs::new_root(l.clone(), &MemoryFile::new().unwrap());
        assert_eq!(root.xattr_get(b"user.r").unwrap(), b"1");
        root.xattr_set(b"user.r", None, 0).unwrap();
        assert_eq!(root.xattr_get(b"user.r"), Err(Errno::ENODATA));
        assert_eq!(l.xattr_get(b"user.r").unwrap(), b"1");
    }

    #[test]
    fn a_lower_layer_without_xattrs_reads_as_none() {
        let root = OverlayFs::new_root(Arc::new(NoXattrs(lower())), &MemoryFile::new().unwrap());
        let p = root.lookup(b"etc").unwrap().lookup(b"passwd").unwrap();
        assert_eq!(p.xattr_get(b"user.a"), Err(Errno::ENODATA));
        assert_eq!(p.xattr_list().unwrap(), Vec::<Vec<u8>>::new());
        p.xattr_set(b"user.a", Some(b"1"), 0).unwrap();
        assert_eq!(p.xattr_get(b"user.a").unwrap(), b"1");
        assert_eq!(read_all(&p), b"root:x:0:0\n");
    }

    #[test]
    fn hard_links_are_one_overlay_inode() {
        let root = OverlayFs::new_root(lower(), &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        let p = etc.lookup(b"passwd").unwrap();
        root.link(b"again", &p).unwrap();
        let again = root.lookup(b"again").unwrap();
        assert!(vfs::same_inode(&p, &again));
        assert_eq!(again.ino(), p.ino());
        // Still one file once the first name is gone.
        etc.unlink(b"passwd").unwrap();
        drop(again);
        assert!(vfs::same_inode(&p, &root.lookup(b"again").unwrap()));
    }

    #[test]
    fn exchange_of_two_names_of_one_file_does_nothing() {
        let root = OverlayFs::new_root(lower(), &MemoryFile::new().unwrap());
        let etc = root.lookup(b"etc").unwrap();
        let p = etc.lookup(b"passwd").unwrap();
        etc.link(b"again", &p).unwrap();
        etc.rename(b"passwd", &etc, b"again", libc::RENAME_EXCHANGE)
            .unwrap();
        assert_eq!(read_all(&etc.lookup(b"again").unwrap()), b"root:x:0:0\n");
        assert_eq!(read_all(&etc.lookup(b"passwd").unwrap()), b"root:x:0:0\n");
    }

    #[test]
    fn shared_memory_is_the_layer_that_serves_the_file() {
        let l = lower();
        let root = OverlayFs::new_root(l, &MemoryFile::new().unwrap());
        let p = root.lookup(b"etc").unwrap().lookup(b"passwd").unwrap();
        let before = p.shared_memory(0, 4096).unwrap().unwrap();
        // Opening for writing copies up: from then on the upper file's
        // pages, which writes reach.
        let ops = p.clone().open(libc::O_RDWR).unwrap();
        let after = p.shared_memory(0, 4096).unwrap().unwrap();
        assert!(!Arc::ptr_eq(&before[0].0, &after[0].0));
        ops.write_at(b"ROOT", 0).unwrap();
        let ptr = after[0].0.ptr(after[0].1, 4).unwrap();
        let mut seen = [0u8; 4];
        // SAFETY: `ptr` points at 4 bytes of the segment (checked).
        unsafe { std::ptr::copy_nonoverlapping(ptr, seen.as_mut_ptr(), 4) };
        assert_eq!(&seen, b"ROOT");
        assert!(root.shared_memory(0, 4096).is_none());
    }

    #[test]
    fn symlinks_read_through_from_the_lower_layer() {
        let root = OverlayFs::new_root(lower(), &MemoryFile::new().unwrap());
        assert_eq!(
            root.lookup(b"link").unwrap().readlink().unwrap(),
            b"etc/passwd"
        );
    }

    #[test]
    fn lookups_return_one_inode_per_path_while_held() {
        let root = OverlayFs::new_root(lower(), &MemoryFile::new().unwrap());
        let a = root.lookup(b"etc").unwrap();
        let b = root.lookup(b"etc").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
    }
}
