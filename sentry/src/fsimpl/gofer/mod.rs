//! The container root as the Gofer serves it over 9P2000.L.
//!
//! By default the Sentry uses it read-only, as the lower layer of the root
//! overlay. With `--overlay=none` (and for bind mounts) it is writable:
//! every change goes to the Gofer (our path-based additions Tcreateat,
//! Tlinkat, Tremoveat, Trenameat2, Tsetattrat, Tsetxattrat,
//! Tremovexattrat), data is written with
//! `pwrite` on a host descriptor the Gofer opened read-write, and the
//! caches below are updated after each change so they stay true.
//!
//! In the exclusive file-access mode (the default) nothing but the Sentry
//! changes the tree while the sandbox runs, so walk results, attributes,
//! directory listings and symlink targets are cached in the inodes for
//! good: a path is walked over 9P once. In the shared mode
//! (`--file-access=shared`) the host may change it too: a cached child is
//! revalidated on each lookup (one Tlookupfd), attributes are fetched again
//! on stat and open, listings are read again on each opendir/rewind,
//! negative lookups are not kept, and reads are not capped at a cached
//! size.
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use gofer_protocol::{Attr, Client, Fid, Keep};

use crate::errno::Errno;
use crate::vfs::{self, DirEntry, FileOps, Inode, InodeRef, Owner, SetAttr};

mod file;
mod listing;
mod page_cache;
#[cfg(test)]
mod tests;
mod xattrs;

pub use file::GoferFile;
use file::*;
use listing::*;
use xattrs::Xattrs;

/// Directory fids kept open at once; past this, directories walk from the
/// root each time they are used.
pub const MAX_DIR_FIDS: usize = 256;
/// Negative lookups remembered per directory (bounds what a program
/// probing random names can make the Sentry hold).
const MAX_NEGATIVE: usize = 4096;
/// Cold lookups in one directory after which it is listed with every
/// entry's attributes (one Treaddirplus per reply's worth of entries)
/// instead of looked up name by name: a program that stats or opens many
/// files of a directory costs a few round trips, one that looks up a few
/// names in a big directory (the loader in /usr/lib) none extra.
const PLUS_AFTER_LOOKUPS: u32 = 16;
/// The most entries a listing with attributes may have: past it the
/// Gofer's stat of every entry (and the memory to hold them) costs more
/// than the lookups it saves, and the directory is looked up name by name
/// (this also bounds what a hostile Gofer can make a listing grow to).
const MAX_LISTING: usize = 1 << 16;
/// Directories larger than this (`st_size`) are never listed with
/// attributes.
const MAX_PLUS_DIR_SIZE: u64 = 4 << 20;

fn errno(e: i32) -> Errno {
    Errno(e)
}

/// A value or listing larger than one reply (a Gofer's ERANGE to our
/// largest buffer): more than any caller's buffer may be (E2BIG, as
/// Linux says for sizes past XATTR_SIZE_MAX).
fn too_big(e: i32) -> Errno {
    if e == libc::ERANGE {
        Errno::E2BIG
    } else {
        Errno(e)
    }
}

/// Descriptors kept from lookups for a coming open or listing (the newest
/// ones; older ones are closed).
pub const MAX_SPARE_FDS: usize = 64;

/// How a Gofer filesystem is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Changes reach the host (otherwise EROFS).
    pub writable: bool,
    /// The host may change the tree while the sandbox runs: revalidate
    /// instead of caching for good (`--file-access=shared`).
    pub shared: bool,
}

/// One connection's filesystem (or a subtree of it).
pub struct GoferFs {
    client: Arc<Client>,
    opts: Options,
    /// The names from the served root to this filesystem's root.
    prefix: Vec<Vec<u8>>,
    dir_fids: AtomicUsize,
    /// Files holding a spare descriptor, oldest first (some may have used
    /// it).
    spares: Mutex<VecDeque<Weak<GoferInode>>>,
}

impl GoferFs {
    /// Keeps `fd` (of `file`) as its spare, closing the oldest spare past
    /// the budget.
    fn keep_spare(&self, file: &Arc<GoferInode>, fd: OwnedFd, writable: bool) {
        *file.spare.lock().unwrap_or_else(|e| e.into_inner()) = Some(Spare { fd, writable });
        let mut evicted = Vec::new();
        {
            let mut q = self.spares.lock().unwrap_or_else(|e| e.into_inner());
            // Once in the queue per file: a file opened and closed in a
            // loop would otherwise fill it and evict its own spare.
            if !file.spare_queued.swap(true, Ordering::Relaxed) {
                q.push_back(Arc::downgrade(file));
            }
            while q.len() > MAX_SPARE_FDS {
                if let Some(old) = q.pop_front().and_then(|w| w.upgrade()) {
                    old.spare_queued.store(false, Ordering::Relaxed);
                    let fd = old.take_spare(false);
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
    /// The root inode of the served tree, read-only and cached for good
    /// (the root overlay's lower layer).
    pub fn new_root(client: Arc<Client>) -> Result<Arc<GoferInode>, Errno> {
        GoferFs::new_root_with(client, Options::default())
    }

    /// The root inode of the served tree, used as `opts` say.
    pub fn new_root_with(client: Arc<Client>, opts: Options) -> Result<Arc<GoferInode>, Errno> {
        let attr = client.getattr(client.root()).map_err(errno)?;
        Ok(GoferFs::make_root(
            client,
            opts,
            Vec::new(),
            attr,
            FidState::Root,
        ))
    }

    /// A filesystem rooted at the directory `path` (names from the served
    /// root, no `.`/`..`) of the served tree, to mount over a directory of
    /// the sandbox (an OCI bind mount): changes reach the host if
    /// `writable`, else they are EROFS. ENOTDIR if `path` is not a
    /// directory (symlinks on the way are not followed: ELOOP/ENOENT).
    pub fn new_subtree(
        client: Arc<Client>,
        path: &[&[u8]],
        opts: Options,
    ) -> Result<Arc<GoferInode>, Errno> {
        let l = client.lookup_fd(path).map_err(errno)?;
        if !vfs::is_dir(l.attr.mode) {
            return Err(Errno::ENOTDIR);
        }
        let prefix = path.iter().map(|n| n.to_vec()).collect();
        let root = GoferFs::make_root(client, opts, prefix, l.attr, FidState::None);
        if let Some(fd) = l.fd {
            root.fs.clone().keep_spare(&root, fd, false);
        }
        Ok(root)
    }

    fn make_root(
        client: Arc<Client>,
        opts: Options,
        prefix: Vec<Vec<u8>>,
        attr: Attr,
        fid: FidState,
    ) -> Arc<GoferInode> {
        let fs = Arc::new(GoferFs {
            client,
            opts,
            prefix,
            dir_fids: AtomicUsize::new(0),
            spares: Mutex::new(VecDeque::new()),
        });
        Arc::new_cyclic(|me| GoferInode {
            fs,
            me: me.clone(),
            link: Mutex::new(Link {
                parent: None,
                name: Vec::new(),
                unlinked: false,
            }),
            attr: Mutex::new(attr),
            stale: AtomicBool::new(false),
            fid: Mutex::new(fid),
            spare: Mutex::new(None),
            spare_queued: AtomicBool::new(false),
            ahead: Default::default(),
            cache: Mutex::new(Cache::default()),
            pages: Mutex::new(None),
        })
    }
}

/// A descriptor a lookup or create brought, kept for the coming open.
struct Spare {
    fd: OwnedFd,
    /// Opened read-write (a file just created).
    writable: bool,
}

/// Where a file sits in the tree.
struct Link {
    /// Children hold their parent: walks from it are one component long,
    /// and a path is the chain of names up to the root.
    parent: Option<Arc<GoferInode>>,
    name: Vec<u8>,
    /// Removed from the tree (still open, or held by a dentry): it has no
    /// path any more.
    unlinked: bool,
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
    /// The whole listing, once read (exclusive mode), kept up to date by
    /// this directory's changes.
    listing: Option<Listing>,
    /// Bumped by every change of the entries.
    generation: u64,
    link: Option<Vec<u8>>,
    /// Attributes of listed entries no lookup has asked for yet (from a
    /// Treaddirplus listing): a lookup turns one into a child without a
    /// round trip.
    plus: HashMap<Vec<u8>, PlusEntry>,
    /// Lookups that went to the Gofer one name at a time.
    cold_lookups: u32,
    /// `plus` was filled (once per directory object).
    listed_plus: bool,
    /// Regular files of this directory opened through the Gofer.
    file_opens: usize,
    /// Open-ahead descriptors used, by [`Order`].
    ahead_hits: [usize; 2],
    /// The extended attributes as the Gofer listed them, when they may
    /// be cached ([`GoferInode::xattrs_cacheable`]).
    xattrs: Option<Xattrs>,
}

/// A file of the Gofer's tree.
pub struct GoferInode {
    fs: Arc<GoferFs>,
    me: Weak<GoferInode>,
    link: Mutex<Link>,
    attr: Mutex<Attr>,
    /// A change made the attributes out of date (a directory's times after
    /// an entry changed): fetched again on the next stat.
    stale: AtomicBool,
    fid: Mutex<FidState>,
    /// The descriptor the lookup brought, for the open that usually follows
    /// (see [`MAX_SPARE_FDS`]).
    spare: Mutex<Option<Spare>>,
    /// This file is in [`GoferFs::spares`]' queue.
    spare_queued: AtomicBool,
    /// The spare came from an open-ahead guess: 1 + the guess's
    /// [`Order`], else 0.
    ahead: std::sync::atomic::AtomicU8,
    cache: Mutex<Cache>,
    /// The pages shared mappings of this file map, while any does.
    pages: page_cache::Pages,
}

/// How an open-ahead guesses the files opened next.
#[derive(Clone, Copy)]
enum Order {
    /// As `getdents` lists them (tar, find, grep -r, python's os.walk).
    Listed = 0,
    /// By name (a shell glob, `ls`, a numbered sequence).
    Sorted = 1,
}

fn refs(names: &[Vec<u8>]) -> Vec<&[u8]> {
    names.iter().map(|n| n.as_slice()).collect()
}

/// `name` in the directory whose path is `dir`.
fn join(dir: &[Vec<u8>], name: &[u8]) -> Vec<Vec<u8>> {
    let mut p = dir.to_vec();
    p.push(name.to_vec());
    p
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

    fn lock_link(&self) -> MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_attr(&self) -> MutexGuard<'_, Attr> {
        self.attr.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached attributes, as they are (no round trip).
    fn cached_attr(&self) -> Attr {
        *self.lock_attr()
    }

    fn set_attr(&self, a: Attr) {
        let mut cur = self.lock_attr();
        // The file type never changes; a different inode is not this file.
        if a.qid.path == cur.qid.path && a.mode & libc::S_IFMT == cur.mode & libc::S_IFMT {
            *cur = a;
        }
    }

    /// The attributes, fetched again when a change or the shared mode says
    /// the cached ones may be out of date.
    fn attr(&self) -> Attr {
        // A file with other names may have changed through one of them,
        // another object here.
        let linked = self.fs.opts.writable && {
            let a = self.lock_attr();
            a.nlink > 1 && !vfs::is_dir(a.mode)
        };
        if linked || self.fs.opts.shared || self.stale.load(Ordering::Relaxed) {
            self.refresh();
        }
        self.cached_attr()
    }

    /// Fetches the attributes (Tlookupfd), keeping the descriptor it
    /// brings as the spare. A file gone or replaced on the host keeps the
    /// attributes it had: this object is no longer reachable by a lookup.
    fn refresh(&self) {
        let Ok(path) = self.path() else {
            return;
        };
        self.stale.store(false, Ordering::Relaxed);
        if let Ok(l) = self.fs.client.lookup_fd(&refs(&path)) {
            self.set_attr(l.attr);
            if let (Some(fd), Some(me)) = (l.fd, self.me.upgrade()) {
                if l.attr.qid.path == me.ino() && self.has_no_spare() {
                    self.fs.keep_spare(&me, fd, false);
                }
            }
        }
    }

    fn has_no_spare(&self) -> bool {
        self.spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// The spare descriptor, if one is kept (a writable one only if
    /// `writable`).
    fn take_spare(&self, writable: bool) -> Option<OwnedFd> {
        self.take_spare_entry(writable).map(|s| s.fd)
    }

    /// [`GoferInode::take_spare`], saying whether the descriptor is
    /// read-write.
    fn take_spare_entry(&self, writable: bool) -> Option<Spare> {
        let mut s = self.spare.lock().unwrap_or_else(|e| e.into_inner());
        if writable && !s.as_ref().is_some_and(|s| s.writable) {
            return None;
        }
        s.take()
    }

    fn mark_stale(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    fn is_dir(&self) -> bool {
        vfs::is_dir(self.cached_attr().mode)
    }

    fn writable(&self) -> Result<(), Errno> {
        if self.fs.opts.writable {
            Ok(())
        } else {
            Err(Errno::EROFS)
        }
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
        let (parent, name) = {
            let l = self.lock_link();
            if l.unlinked {
                return Err(Errno::ESTALE);
            }
            (l.parent.clone(), l.name.clone())
        };
        let parent = match parent {
            Some(p) => p,
            None => {
                let (fid, _) = self
                    .fs
                    .client
                    .walk(self.fs.client.root(), &refs(&self.fs.prefix))
                    .map_err(errno)?;
                return Ok(fid);
            }
        };
        parent.with_fid(|pfid| {
            let (fid, _) = self.fs.client.walk(pfid, &[&name]).map_err(errno)?;
            Ok(fid)
        })
    }

    /// The names from the served root to this file (ESTALE once it was
    /// removed).
    fn path(&self) -> Result<Vec<Vec<u8>>, Errno> {
        let mut names = Vec::new();
        let mut cur = self.me.upgrade().ok_or(Errno::ESTALE)?;
        loop {
            let next = {
                let l = cur.lock_link();
                if l.unlinked {
                    return Err(Errno::ESTALE);
                }
                match &l.parent {
                    Some(p) => {
                        names.push(l.name.clone());
                        p.clone()
                    }
                    None => break,
                }
            };
            cur = next;
        }
        names.extend(self.fs.prefix.iter().rev().cloned());
        names.reverse();
        Ok(names)
    }

    /// This file's host descriptor, read-only (Topenfd), checked to be the
    /// file looked up.
    fn open_host(&self, dir: bool) -> Result<OwnedFd, i32> {
        self.open_host_flags(if dir { libc::O_DIRECTORY } else { 0 })
    }

    /// [`GoferInode::open_host`] with Topenfd flags (a writable access mode).
    fn open_host_flags(&self, flags: i32) -> Result<OwnedFd, i32> {
        let path = self.path().map_err(|e| e.0)?;
        let (fd, st) = self.fs.client.open_fd_flags(&refs(&path), flags)?;
        if st.st_ino != self.ino() {
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
            Err(Errno::ENOENT) if !self.fs.opts.shared => {
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
        let mut cached = None;
        {
            let cache = self.lock_cache();
            match cache.children.get(name) {
                Some(Some(c)) if !self.fs.opts.shared => return Ok(c.clone()),
                Some(Some(c)) => cached = Some(c.clone()),
                Some(None) => return Err(Errno::ENOENT),
                None => {}
            }
            if cache.listing.as_ref().is_some_and(|l| !l.contains(name)) {
                return Err(Errno::ENOENT);
            }
        }
        let me = self.me.upgrade().ok_or(Errno::ENOENT)?;
        if !self.fs.opts.shared {
            if let Some(c) = self.lookup_listed(&me, name) {
                return Ok(c);
            }
            // The listing just read may lack the name.
            let cache = self.lock_cache();
            if cache.listing.as_ref().is_some_and(|l| !l.contains(name)) {
                return Err(Errno::ENOENT);
            }
        }
        let path = join(&self.path()?, name);
        let looked = self.fs.client.lookup_fd(&refs(&path));
        if let Some(c) = cached {
            // Shared mode: the cached child stands if the host still has
            // the same file there.
            match &looked {
                Ok(l)
                    if l.attr.qid.path == c.ino()
                        && l.attr.mode & libc::S_IFMT == c.mode() & libc::S_IFMT =>
                {
                    c.set_attr(l.attr);
                    return Ok(c);
                }
                _ => {
                    self.forget_child(name);
                }
            }
        }
        let (fid, attr, link, spare) = match looked {
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
        let child = self.new_child(me, name, attr, fid_state, link);
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
                self.fs.keep_spare(&kept, fd, false);
            }
        }
        // A losing duplicate drops here, with its fid and descriptor.
        Ok(kept)
    }

    /// A lookup served by the directory's listing with attributes
    /// (exclusive mode): the child made from its Treaddirplus entry, or
    /// `None` if there is none (yet: the [`PLUS_AFTER_LOOKUPS`]th cold
    /// lookup reads one) and the Gofer must be asked.
    fn lookup_listed(&self, me: &Arc<GoferInode>, name: &[u8]) -> Option<Arc<GoferInode>> {
        let mut cache = self.lock_cache();
        if !cache.listed_plus {
            cache.cold_lookups += 1;
            if cache.cold_lookups < PLUS_AFTER_LOOKUPS {
                return None;
            }
            cache.listed_plus = true;
            drop(cache);
            // A directory this big (ext4 holds ~100 short names a 4 KiB
            // block) would pass MAX_LISTING: not worth asking.
            if self.cached_attr().size <= MAX_PLUS_DIR_SIZE {
                self.fill_plus();
            }
            cache = self.lock_cache();
        }
        if let Some(Some(c)) = cache.children.get(name) {
            return Some(c.clone());
        }
        let entry = cache.plus.remove(name)?;
        drop(cache);
        let link = vfs::is_symlink(entry.attr.mode).then_some(entry.target);
        let child = self.new_child(me.clone(), name, entry.attr, FidState::None, link);
        child.know_xattrs(entry.xattrs);
        let mut cache = self.lock_cache();
        let kept = cache
            .children
            .entry(name.to_vec())
            .or_insert_with(|| Some(child.clone()))
            .get_or_insert_with(|| child.clone())
            .clone();
        Some(kept)
    }

    /// Lists this directory with every entry's attributes (Treaddirplus):
    /// the listing is cached, and the entries no lookup has made a child
    /// of yet wait in `plus`. When the Gofer cannot list this way (an
    /// entry it may not stat, a path too long) nothing changes and lookups
    /// go on one name at a time.
    fn fill_plus(&self) {
        let gen = self.lock_cache().generation;
        let Ok(path) = self.path() else { return };
        let listed = match self.fs.client.readdir_plus(&refs(&path), MAX_LISTING) {
            Ok(l) => l,
            Err(e) => {
                tracing::debug!("Treaddirplus: errno {e}; lookups stay one by one");
                return;
            }
        };
        let listing: Vec<DirEntry> = listed
            .iter()
            .map(|e| DirEntry {
                ino: e.attr.qid.path,
                ty: vfs::dtype_of(e.attr.mode),
                name: e.name.clone(),
            })
            .collect();
        let mut cache = self.lock_cache();
        // An entry changed meanwhile: the listing may miss the change.
        if cache.generation != gen {
            return;
        }
        tracing::debug!(
            entries = listing.len(),
            "listed a directory with attributes (Treaddirplus)"
        );
        cache.listing = Some(Listing::new(Arc::new(listing)));
        for e in listed {
            if !cache.children.contains_key(&e.name) {
                let entry = PlusEntry {
                    attr: e.attr,
                    target: e.target,
                    xattrs: e.xattrs,
                };
                cache.plus.insert(e.name, entry);
            }
        }
    }

    /// Opens this regular file read-only together with other regular files
    /// of its directory that were listed but not looked up yet (Topenfds,
    /// one round trip): those become children holding their descriptor as
    /// the spare, for the open that a program reading a whole directory
    /// (tar, grep -r, cp -r) makes next. The batch grows with the opens
    /// this directory has seen, so a program that opens one file of a big
    /// directory makes the Gofer open no other. `None`: open it alone.
    fn open_ahead(&self) -> Option<OwnedFd> {
        let (parent, name) = {
            let link = self.lock_link();
            if link.unlinked {
                return None;
            }
            (link.parent.clone()?, link.name.clone())
        };
        let ahead = {
            let mut guard = parent.lock_cache();
            let cache = &mut *guard;
            let n = cache.file_opens.min(gofer_protocol::wire::MAX_OPENFDS - 1);
            cache.file_opens += 1;
            if n == 0 || cache.listing.is_none() {
                return None;
            }
            // Each order gets a share of the batch by how well its guesses
            // did in this directory.
            let [listed, sorted] = cache.ahead_hits;
            let n_sorted = n * (1 + sorted) / (2 + listed + sorted);
            let mut ahead: Vec<(Arc<GoferInode>, Order)> = Vec::with_capacity(n);
            for (order, want) in [(Order::Sorted, n_sorted), (Order::Listed, n - n_sorted)] {
                let names = cache.listing.as_mut().map(|l| l.after(&name, order));
                let mut taken = 0;
                for c in names.unwrap_or_default() {
                    if taken == want {
                        break;
                    }
                    let child = match cache.children.get(&c) {
                        Some(Some(child)) => child.clone(),
                        Some(None) => continue,
                        None => match cache.plus.get(&c) {
                            Some(e) if e.attr.mode & libc::S_IFMT == libc::S_IFREG => {
                                let e = cache.plus.remove(&c)?;
                                let child = parent.new_child(
                                    parent.clone(),
                                    &c,
                                    e.attr,
                                    FidState::None,
                                    None,
                                );
                                // A new child nobody else can reach yet:
                                // its lock is free under the parent's.
                                child.know_xattrs(e.xattrs);
                                cache.children.insert(c, Some(child.clone()));
                                child
                            }
                            _ => continue,
                        },
                    };
                    let fresh = child.mode() & libc::S_IFMT == libc::S_IFREG
                        && child.has_no_spare()
                        && !ahead.iter().any(|(a, _)| Arc::ptr_eq(a, &child))
                        && !std::ptr::eq(Arc::as_ptr(&child), self);
                    if fresh {
                        ahead.push((child, order));
                        taken += 1;
                    }
                }
            }
            ahead
        };
        if ahead.is_empty() {
            return None;
        }
        if ahead.len() == 1 {
            tracing::debug!("a directory's files are opened ahead (Topenfds)");
        }
        let dir = parent.path().ok()?;
        let names: Vec<Vec<u8>> = std::iter::once(name)
            .chain(ahead.iter().map(|(c, _)| c.lock_link().name.clone()))
            .collect();
        let opened = self.fs.client.open_fds(&refs(&dir), &refs(&names)).ok()?;
        let mut opened = opened.into_iter();
        let mine = match opened.next()? {
            // Replaced on the host since the lookup: the plain open says so.
            Ok((fd, ino)) if ino == self.ino() => Some(fd),
            _ => None,
        };
        for ((child, order), r) in ahead.iter().zip(opened) {
            if let Ok((fd, ino)) = r {
                if ino == child.ino() && child.has_no_spare() {
                    child.ahead.store(1 + *order as u8, Ordering::Relaxed);
                    self.fs.keep_spare(child, fd, false);
                }
            }
        }
        mine
    }

    /// Credits the guess that opened this file ahead, if one did.
    fn count_ahead_hit(&self) {
        let order = self.ahead.swap(0, Ordering::Relaxed);
        if order == 0 {
            return;
        }
        // The link lock is let go before the parent's cache lock is taken.
        let parent = self.lock_link().parent.clone();
        if let Some(parent) = parent {
            parent.lock_cache().ahead_hits[usize::from(order - 1)] += 1;
        }
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
            return Ok(l.entries.clone());
        }
        // A listing read while an entry changes could miss the change:
        // kept only if no change happened meanwhile.
        let gen = self.lock_cache().generation;
        let spare = self.take_spare(false);
        let out = match spare.map(Ok).unwrap_or_else(|| self.open_host(true)) {
            Ok(fd) => read_host_dir(&fd)?,
            Err(e) if fall_back(e) => self.read_listing_9p()?,
            Err(e) => return Err(errno(e)),
        };
        let l = Arc::new(out);
        let mut cache = self.lock_cache();
        if !self.fs.opts.shared && cache.generation == gen {
            cache.listing = Some(Listing::new(l.clone()));
        }
        Ok(l)
    }

    /// A child object for `name`, holding `parent`.
    fn new_child(
        &self,
        parent: Arc<GoferInode>,
        name: &[u8],
        attr: Attr,
        fid: FidState,
        link: Option<Vec<u8>>,
    ) -> Arc<GoferInode> {
        Arc::new_cyclic(|w| GoferInode {
            fs: self.fs.clone(),
            me: w.clone(),
            link: Mutex::new(Link {
                parent: Some(parent),
                name: name.to_vec(),
                unlinked: false,
            }),
            attr: Mutex::new(attr),
            stale: AtomicBool::new(false),
            fid: Mutex::new(fid),
            spare: Mutex::new(None),
            spare_queued: AtomicBool::new(false),
            ahead: Default::default(),
            cache: Mutex::new(Cache {
                link,
                ..Cache::default()
            }),
            pages: Mutex::new(None),
        })
    }

    /// Drops what is cached about `name` (positive or negative) and returns
    /// the child object it held.
    fn forget_child(&self, name: &[u8]) -> Option<Arc<GoferInode>> {
        let mut cache = self.lock_cache();
        cache.generation += 1;
        cache.plus.remove(name);
        match cache.children.remove(name) {
            Some(Some(c)) => Some(c),
            Some(None) => {
                cache.negative -= 1;
                None
            }
            None => None,
        }
    }

    /// After `name` was made on the host: the new child is cached and
    /// listed; the directory's times changed.
    fn added(&self, name: &[u8], child: &Arc<GoferInode>) {
        self.forget_child(name);
        let mut cache = self.lock_cache();
        if let Some(l) = &mut cache.listing {
            l.put(DirEntry {
                ino: child.ino(),
                ty: vfs::dtype_of(child.mode()),
                name: name.to_vec(),
            });
        }
        // Kept in shared mode too, as a lookup's child is (revalidated at
        // each later lookup): a second open of the new file must find this
        // inode, whose page cache a MAP_SHARED mapping may hold, or its
        // read and write would miss the mapping's pages.
        cache.children.insert(name.to_vec(), Some(child.clone()));
        drop(cache);
        self.mark_stale();
    }

    /// After `name` was removed on the host: forgotten (remembered as
    /// missing), unlisted, and its object, if any, detached.
    fn removed(&self, name: &[u8], dir: bool) {
        let child = self.forget_child(name);
        let mut cache = self.lock_cache();
        if let Some(l) = &mut cache.listing {
            l.remove(name);
        }
        if !self.fs.opts.shared && cache.negative < MAX_NEGATIVE {
            cache.negative += 1;
            cache.children.insert(name.to_vec(), None);
        }
        drop(cache);
        if let Some(c) = child {
            c.detach(dir);
        }
        self.mark_stale();
    }

    /// This file lost its name: no path any more; one link fewer.
    fn detach(&self, dir: bool) {
        self.lock_link().unlinked = true;
        let mut a = self.lock_attr();
        a.nlink = if dir { 0 } else { a.nlink.saturating_sub(1) };
        let now = vfs::Time::now();
        a.ctime_sec = now.sec as u64;
        a.ctime_nsec = now.nsec as u64;
        self.stale.store(false, Ordering::Relaxed);
    }

    /// Makes `name` here (Tcreateat) and caches the new child.
    fn make(
        &self,
        name: &[u8],
        mode: u32,
        owner: Owner,
        target: &[u8],
    ) -> Result<Arc<GoferInode>, Errno> {
        self.writable()?;
        if !self.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let me = self.me.upgrade().ok_or(Errno::ENOENT)?;
        let path = join(&self.path()?, name);
        let (attr, fd) = self
            .fs
            .client
            .create_at(&refs(&path), mode, owner.uid, owner.gid, target)
            .map_err(errno)?;
        let link = vfs::is_symlink(attr.mode).then(|| target.to_vec());
        let child = self.new_child(me, name, attr, FidState::None, link);
        if let Some(fd) = fd {
            self.fs.keep_spare(&child, fd, true);
        }
        self.added(name, &child);
        Ok(child)
    }

    /// A directory of this filesystem, from a reference the VFS passes.
    fn same_fs_dir(&self, other: &InodeRef) -> Result<Arc<GoferInode>, Errno> {
        let any: &dyn std::any::Any = &**other;
        let d = any.downcast_ref::<GoferInode>().ok_or(Errno::EXDEV)?;
        if !Arc::ptr_eq(&d.fs.client, &self.fs.client) || d.fs.opts != self.fs.opts {
            return Err(Errno::EXDEV);
        }
        d.me.upgrade().ok_or(Errno::ENOENT)
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

impl Inode for GoferInode {
    fn ino(&self) -> u64 {
        self.lock_attr().qid.path
    }

    fn mode(&self) -> u32 {
        self.lock_attr().mode
    }

    fn connect_host(&self, kind: i32) -> Option<Result<OwnedFd, Errno>> {
        if self.mode() & libc::S_IFMT != libc::S_IFSOCK {
            return None;
        }
        let path = match self.path() {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
        Some(self.fs.client.connect_at(&refs(&path), kind).map_err(errno))
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        let a = self.attr();
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
        if !vfs::is_symlink(self.mode()) {
            return Err(Errno::EINVAL);
        }
        if let Some(l) = &self.lock_cache().link {
            return Ok(l.clone());
        }
        let target = self.with_fid(|fid| self.fs.client.readlink(fid).map_err(errno))?;
        self.lock_cache().link = Some(target.clone());
        Ok(target)
    }

    fn open_by(
        self: Arc<Self>,
        flags: i32,
        ctx: &vfs::ops::Ctx<'_>,
    ) -> Result<Arc<dyn FileOps>, Errno> {
        if self.mode() & libc::S_IFMT != libc::S_IFCHR {
            return self.open(flags);
        }
        if self.fs.opts.shared {
            self.refresh();
        }
        // As a tmpfs node: a new pty is listed in the opener's namespace,
        // and terminals know who opens them.
        super::dev::open_device_by(self.cached_attr().rdev, flags, Some(ctx))
    }

    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        if self.fs.opts.shared {
            self.refresh();
        }
        match self.mode() & libc::S_IFMT {
            libc::S_IFDIR => Ok(Arc::new(super::DirFile)),
            libc::S_IFREG => {
                let acc = flags & libc::O_ACCMODE;
                let write = acc != libc::O_RDONLY;
                if write {
                    self.writable()?;
                }
                let spare = self.take_spare_entry(write);
                if spare.is_some() {
                    self.count_ahead_hit();
                }
                // With whether the descriptor is read-write (None:
                // write-only, no spare for a later open).
                let opened = |fd| (fd, (acc != libc::O_WRONLY).then_some(acc == libc::O_RDWR));
                let host = match spare {
                    Some(s) => Ok((s.fd, Some(s.writable))),
                    None if !write && !self.fs.opts.shared => match self.open_ahead() {
                        Some(fd) => Ok((fd, Some(false))),
                        None => self.open_host_flags(acc).map(opened),
                    },
                    None => self.open_host_flags(acc).map(opened),
                };
                match host {
                    Ok((fd, spare_as)) => {
                        return Ok(Arc::new(GoferFile {
                            client: self.fs.client.clone(),
                            backing: Backing::Host(fd),
                            spare_as,
                            inode: self,
                        }))
                    }
                    Err(e) if fall_back(e) => {}
                    Err(e) => return Err(errno(e)),
                }
                let fid = self.open_fid(acc as u32)?;
                Ok(Arc::new(GoferFile {
                    client: self.fs.client.clone(),
                    backing: Backing::Fid(fid),
                    spare_as: None,
                    inode: self,
                }))
            }
            libc::S_IFCHR => super::dev::open_device(self.cached_attr().rdev, flags),
            _ => Err(Errno::ENXIO),
        }
    }

    fn create(&self, name: &[u8], mode: u32, owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.make(name, libc::S_IFREG | (mode & 0o7777), owner, b"")?)
    }

    fn mkdir(&self, name: &[u8], mode: u32, owner: Owner) -> Result<InodeRef, Errno> {
        let child = self.make(name, libc::S_IFDIR | (mode & 0o7777), owner, b"")?;
        // The new directory's `..`.
        let mut a = self.lock_attr();
        a.nlink = a.nlink.saturating_add(1);
        Ok(child)
    }

    fn symlink(&self, name: &[u8], target: &[u8], owner: Owner) -> Result<InodeRef, Errno> {
        Ok(self.make(name, libc::S_IFLNK | 0o777, owner, target)?)
    }

    fn mknod(&self, name: &[u8], mode: u32, _rdev: u64, owner: Owner) -> Result<InodeRef, Errno> {
        match mode & libc::S_IFMT {
            libc::S_IFIFO | libc::S_IFSOCK => Ok(self.make(name, mode, owner, b"")?),
            libc::S_IFREG | 0 => self.create(name, mode, owner),
            libc::S_IFCHR | libc::S_IFBLK => {
                self.writable()?;
                // Device nodes on the host would be the host's devices.
                Err(Errno::EPERM)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    fn link(&self, name: &[u8], target: &InodeRef) -> Result<(), Errno> {
        self.writable()?;
        let t = self.same_fs_dir(target)?;
        let old = t.path()?;
        let new = join(&self.path()?, name);
        let attr = self
            .fs
            .client
            .link_at(&refs(&old), &refs(&new))
            .map_err(errno)?;
        t.set_attr(attr);
        // The new name is looked up afresh: one object per path.
        self.forget_child(name);
        let mut cache = self.lock_cache();
        if let Some(l) = &mut cache.listing {
            l.put(DirEntry {
                ino: attr.qid.path,
                ty: vfs::dtype_of(attr.mode),
                name: name.to_vec(),
            });
        }
        drop(cache);
        self.mark_stale();
        Ok(())
    }

    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        let path = join(&self.path()?, name);
        self.fs.client.remove_at(&refs(&path), 0).map_err(errno)?;
        self.removed(name, false);
        Ok(())
    }

    fn rmdir(&self, name: &[u8]) -> Result<(), Errno> {
        self.writable()?;
        let path = join(&self.path()?, name);
        self.fs
            .client
            .remove_at(&refs(&path), libc::AT_REMOVEDIR as u32)
            .map_err(errno)?;
        self.removed(name, true);
        let mut a = self.lock_attr();
        a.nlink = a.nlink.saturating_sub(1);
        Ok(())
    }

    fn rename(&self, old: &[u8], newdir: &InodeRef, new: &[u8], flags: u32) -> Result<(), Errno> {
        self.writable()?;
        let nd = self.same_fs_dir(newdir)?;
        let from = join(&self.path()?, old);
        let to = join(&nd.path()?, new);
        let cached = |d: &GoferInode, name: &[u8]| match d.lock_cache().children.get(name) {
            Some(Some(c)) => Some(c.ino()),
            _ => None,
        };
        let (src_ino, dst_ino) = (cached(self, old), cached(&nd, new));
        self.fs
            .client
            .rename_at2(&refs(&from), &refs(&to), flags)
            .map_err(errno)?;
        if src_ino.is_some() && src_ino == dst_ino {
            // Two names of one file (hard links): rename(2) changed
            // nothing. Both names are looked up afresh.
            for (d, name) in [(self, old), (&*nd, new)] {
                d.forget_child(name);
                d.lock_cache().listing = None;
            }
            return Ok(());
        }
        // What was at the new name lost it; the moved file (if cached)
        // takes it, with its subtree, whose paths follow.
        let moved = self.forget_child(old);
        let replaced_dir = {
            let cache = nd.lock_cache();
            cache
                .listing
                .as_ref()
                .and_then(|l| l.find(new).map(|e| e.ty == libc::DT_DIR))
        };
        nd.removed(new, replaced_dir.unwrap_or(false));
        let mut cache = self.lock_cache();
        let mut entry = None;
        if let Some(l) = &mut cache.listing {
            entry = l.remove(old);
        }
        drop(cache);
        self.mark_stale();
        match moved {
            Some(m) => {
                {
                    let mut link = m.lock_link();
                    link.parent = Some(nd.clone());
                    link.name = new.to_vec();
                }
                m.mark_stale();
                nd.added(new, &m);
            }
            None => {
                // Not cached here: listed in the new directory if it was
                // listed here; else the new directory's listing is read
                // again.
                nd.forget_child(new);
                let mut cache = nd.lock_cache();
                match (entry, &mut cache.listing) {
                    (Some(mut e), Some(l)) => {
                        e.name = new.to_vec();
                        l.put(e);
                    }
                    _ => cache.listing = None,
                }
                cache.generation += 1;
            }
        }
        // Moving a directory changes both parents' link counts.
        if nd.stale.load(Ordering::Relaxed) || self.stale.load(Ordering::Relaxed) {
            nd.mark_stale();
        }
        Ok(())
    }

    fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        self.writable()?;
        let mut set = gofer_protocol::SetAttr::default();
        if let Some(m) = attr.mode {
            set.valid |= gofer_protocol::wire::P9_SETATTR_MODE;
            set.mode = m & 0o7777;
        }
        if let Some(u) = attr.uid {
            set.valid |= gofer_protocol::wire::P9_SETATTR_UID;
            set.uid = u;
        }
        if let Some(g) = attr.gid {
            set.valid |= gofer_protocol::wire::P9_SETATTR_GID;
            set.gid = g;
        }
        if let Some(size) = attr.size {
            set.valid |= gofer_protocol::wire::P9_SETATTR_SIZE;
            set.size = size;
        }
        if let Some(t) = attr.atime {
            set.valid |=
                gofer_protocol::wire::P9_SETATTR_ATIME | gofer_protocol::wire::P9_SETATTR_ATIME_SET;
            set.atime_sec = u64::try_from(t.sec).map_err(|_| Errno::EINVAL)?;
            set.atime_nsec = u64::try_from(t.nsec).map_err(|_| Errno::EINVAL)?;
        }
        if let Some(t) = attr.mtime {
            set.valid |=
                gofer_protocol::wire::P9_SETATTR_MTIME | gofer_protocol::wire::P9_SETATTR_MTIME_SET;
            set.mtime_sec = u64::try_from(t.sec).map_err(|_| Errno::EINVAL)?;
            set.mtime_nsec = u64::try_from(t.nsec).map_err(|_| Errno::EINVAL)?;
        }
        if set.valid == 0 {
            return Ok(());
        }
        let path = self.path()?;
        let a = self
            .fs
            .client
            .setattr_at(&refs(&path), &set)
            .map_err(errno)?;
        self.set_attr(a);
        if let Some(size) = attr.size {
            self.resize_cached(size);
        }
        Ok(())
    }

    fn xattr_get(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        self.get_xattr(name)
    }

    fn xattr_list(&self) -> Result<Vec<Vec<u8>>, Errno> {
        self.list_xattrs()
    }

    fn xattr_set(&self, name: &[u8], value: Option<&[u8]>, flags: i32) -> Result<(), Errno> {
        self.set_xattr(name, value, flags)
    }

    /// A probe (`len` 0) answers whether shared mappings map the file
    /// now: caches of file contents must not hold it meanwhile. Mappings
    /// are made through [`Inode::map_shared`].
    fn shared_memory(&self, _off: u64, len: u64) -> Option<Result<Vec<vfs::MemSegment>, Errno>> {
        (len == 0 && self.is_mapped_shared()).then(|| Ok(Vec::new()))
    }

    fn map_shared(
        &self,
        memfile: &Arc<crate::memfile::MemoryFile>,
        off: u64,
        len: u64,
        writable: bool,
    ) -> Option<Result<vfs::SharedPages, Errno>> {
        if self.mode() & libc::S_IFMT != libc::S_IFREG || len == 0 {
            return None;
        }
        self.me.upgrade()?.map_cached(memfile, off, len, writable)
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
