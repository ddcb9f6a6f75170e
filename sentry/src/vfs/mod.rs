//! The virtual filesystem: mounts, dentries, inodes, open file descriptions,
//! and the per-task fd table and filesystem context.
//!
//! INTERFACE the rest of the Sentry uses (kept stable while it grows):
//! * [`Vfs::with_root`] makes a namespace over a root filesystem; each
//!   filesystem type registers itself ([`FilesystemType`]) for mount(2).
//!   `fsimpl::namespace` builds the sandbox's namespace from them.
//! * [`FdTable`], [`FsContext`]: per-task tables, forked or shared by clone.
//! * [`File`]: an open file description (`Arc<File>`), with `read`, `pread`,
//!   `write`, `stat`, `path`.
//! * [`open`]: path resolution + open, as openat(2) does it.
//! * [`poll::wait_ready`]: waiting for files to be ready (poll, select,
//!   epoll build on it).
//! * [`Notify`] (`Vfs::notify`, `Mount::notify`): the inotify watches,
//!   dnotify marks and event producers of one namespace.
//! * [`Vfs::internal_mount`]: filesystems mounted nowhere (memfd's).
//!
//! Layers, bottom up:
//! * an [`Inode`] is a file of one filesystem (`fsimpl::tmpfs`,
//!   `fsimpl::gofer`, `fsimpl::overlay` ...). Filesystems cache their own
//!   nodes: the Gofer's walk results and attributes live in its inodes.
//! * a [`Dentry`] is an inode reached by a walk: its mount, its parent and
//!   its name. Dentries are built per walk and shared by whoever keeps them
//!   (a cwd, an open file), so `..`, `getcwd` and `/proc/self/fd` paths
//!   follow the walk that reached the file.
//! * a [`Mount`] grafts a filesystem's root over a directory.
//! * a [`File`] is an open file description: [`FileOps`] from the
//!   filesystem, plus the offset and status flags.
//!
//! Operations act for a [`Caller`] (the kernel's task, seen only through
//! that trait). Some files answer differently for each task (procfs,
//! `/dev/fd`): resolution carries an [`ops::Ctx`] with the caller, [`Inode::lookup_by`]
//! and friends answer for it, and magic links ([`Inode::magic`]) lead to
//! the task's own open files and directories.
//!
//! Known limit: a dentry keeps the names of the walk that made it, so after
//! a directory above a kept cwd is renamed, `getcwd` shows the old path
//! (`..` still works: it follows the kept parents).

pub mod anon;
mod caller;
mod context;
mod ctx;
pub mod dnotify;
pub mod fanotify;
mod fdtable;
mod file;
pub mod filesystem_type;
pub mod handle;
pub mod inotify;
pub mod io;
pub mod lock;
pub mod mount;
mod mount_ns;
pub mod notify;
pub mod ops;
pub mod path;
mod perm;
pub mod poll;
pub mod resolve;
pub mod xattr;

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock, Weak};

use crate::errno::Errno;
use crate::waiter::WaitQueue;

pub use crate::usermem::IoSeq;
pub use caller::{Caller, DEFAULT_UNPRIVILEGED_PORT_START};
pub use context::FsContext;
pub use fdtable::FdTable;
pub use file::{File, O_LARGEFILE};
pub use filesystem_type::{FilesystemType, Instance, MountOption, NewFs};
pub use mount::{MountSpec, Super};
pub use notify::Notify;
pub use ops::{check_exec, open};
pub use perm::{Cred, MAY_EXEC, MAY_READ, MAY_WRITE};

/// Longest path the application may pass, NUL included (Linux PATH_MAX).
pub const PATH_MAX: usize = libc::PATH_MAX as usize;
/// Longest file name (Linux NAME_MAX).
pub const NAME_MAX: usize = 255;
/// Symlinks followed in one resolution before ELOOP (Linux MAXSYMLINKS).
pub const MAX_SYMLINKS: u32 = 40;
pub use crate::usermem::MAX_RW_COUNT;
/// Largest buffer the Sentry allocates for one step of an application's
/// read or write; bigger requests are served in steps of this size.
pub const IO_CHUNK: usize = 1 << 20;

/// A Linux timestamp.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Time {
    pub sec: i64,
    pub nsec: i64,
}

impl Time {
    pub fn now() -> Time {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Time {
                sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                nsec: i64::from(d.subsec_nanos()),
            },
            Err(_) => Time::default(),
        }
    }
}

/// One directory entry, as `readdir` lists it (without `.` and `..`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub ino: u64,
    /// DT_* type.
    pub ty: u8,
    pub name: Vec<u8>,
}

/// Who owns a file being created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

/// Attribute changes: `None` leaves a field as it is.
#[derive(Clone, Copy, Debug, Default)]
pub struct SetAttr {
    /// Permission bits only (07777); the file type never changes.
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<Time>,
    pub mtime: Option<Time>,
}

pub type InodeRef = Arc<dyn Inode>;

/// A piece of a file's data in the memory file: the range holding it, the
/// offset of the piece inside the range, and its length (both page
/// multiples).
pub type MemSegment = (Arc<crate::memfile::MemRange>, u64, u64);

/// A shared mapping's hold on the file whose pages it maps (Linux's
/// `vm_operations_struct` open and close for a file): every piece of the
/// mapping keeps the same hold, a forked copy of the mapping gets its own,
/// and when the last piece goes the hold is dropped, which is when the file
/// writes back what stores through the mapping may have changed.
pub trait SharedMapping: Send + Sync {
    /// The hold a forked child's copy of the mapping keeps.
    fn fork(&self) -> Arc<dyn SharedMapping>;
    /// msync(2): writes back now what stores through mappings may have
    /// changed.
    fn sync(&self) -> Result<(), Errno>;
}

/// The pages a MAP_SHARED mapping maps ([`Inode::map_shared`]).
pub struct SharedPages {
    /// The file's pages, in file order.
    pub segments: Vec<MemSegment>,
    /// The file's hold on the mapping, when it keeps the pages elsewhere
    /// than in the memory file and must write them back.
    pub hold: Option<Arc<dyn SharedMapping>>,
}

/// A file of one filesystem.
///
/// Directory operations take names that the VFS has already checked: never
/// empty, never `.` or `..`, without `/`, at most NAME_MAX bytes. Existence
/// and type checks are the filesystem's too (it holds the lock that makes
/// them true), so each operation returns Linux's errno for them.
pub trait Inode: Send + Sync + Any {
    /// Inode number, stable for the life of the file.
    fn ino(&self) -> u64;
    /// The attributes; `st_dev` is filled by the VFS from the mount.
    fn stat(&self) -> Result<libc::stat, Errno>;
    /// `st_mode`, type bits included; cheap.
    fn mode(&self) -> u32;

    fn lookup(&self, _name: &[u8]) -> Result<InodeRef, Errno> {
        Err(Errno::ENOTDIR)
    }
    /// name_to_handle_at: a handle that [`Inode::by_handle`] of any file
    /// of this filesystem turns back into this file while it lives.
    /// EOPNOTSUPP where the filesystem cannot find its files again.
    fn handle(&self) -> Result<handle::FileHandle, Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// open_by_handle_at: the file of this filesystem `h` names; ESTALE
    /// when it is gone or `h` is not this filesystem's.
    fn by_handle(&self, _h: &handle::FileHandle) -> Result<InodeRef, Errno> {
        Err(Errno::ESTALE)
    }
    /// The entries of a directory, without `.` and `..`.
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Err(Errno::ENOTDIR)
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::EINVAL)
    }
    /// Opens the file. The VFS has checked permissions and O_DIRECTORY;
    /// `flags` are the open(2) flags.
    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno>;
    /// `open` for the caller in `ctx`: terminals depend on who opens them
    /// (/dev/tty is the caller's controlling terminal; opening a terminal
    /// may make it one).
    fn open_by(
        self: Arc<Self>,
        flags: i32,
        _ctx: &ops::Ctx<'_>,
    ) -> Result<Arc<dyn FileOps>, Errno> {
        self.open(flags)
    }

    /// Creates a regular file.
    fn create(&self, _name: &[u8], _mode: u32, _owner: Owner) -> Result<InodeRef, Errno> {
        Err(self.no_dir_op())
    }
    /// O_TMPFILE: a regular file of this directory's filesystem with no
    /// name (nlink 0); `linkable`: linkat may name it later.
    fn tmpfile(&self, _mode: u32, _owner: Owner, _linkable: bool) -> Result<InodeRef, Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    fn mkdir(&self, _name: &[u8], _mode: u32, _owner: Owner) -> Result<InodeRef, Errno> {
        Err(self.no_dir_op())
    }
    fn symlink(&self, _name: &[u8], _target: &[u8], _owner: Owner) -> Result<InodeRef, Errno> {
        Err(self.no_dir_op())
    }
    /// Creates a device, FIFO or socket node (`mode` holds the type).
    fn mknod(
        &self,
        _name: &[u8],
        _mode: u32,
        _rdev: u64,
        _owner: Owner,
    ) -> Result<InodeRef, Errno> {
        Err(self.no_dir_op())
    }
    /// Makes `name` a new link to `target` (a file of the same filesystem).
    fn link(&self, _name: &[u8], _target: &InodeRef) -> Result<(), Errno> {
        Err(self.no_dir_op())
    }
    fn unlink(&self, _name: &[u8]) -> Result<(), Errno> {
        Err(self.no_dir_op())
    }
    fn rmdir(&self, _name: &[u8]) -> Result<(), Errno> {
        Err(self.no_dir_op())
    }
    /// Moves `old` in this directory to `new` in `newdir` (same filesystem),
    /// replacing what is there as rename(2) does. `flags`: RENAME_NOREPLACE.
    fn rename(
        &self,
        _old: &[u8],
        _newdir: &InodeRef,
        _new: &[u8],
        _flags: u32,
    ) -> Result<(), Errno> {
        Err(self.no_dir_op())
    }
    fn setattr(&self, _attr: &SetAttr) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(statfs_of(libc::TMPFS_MAGIC, 0, 0))
    }

    /// `lookup` as the caller in `ctx` sees it: procfs and /dev/fd answer
    /// per task; other filesystems ignore who looks.
    fn lookup_by(&self, name: &[u8], _ctx: &ops::Ctx<'_>) -> Result<InodeRef, Errno> {
        self.lookup(name)
    }
    /// `readdir` as the caller in `ctx` sees it.
    fn readdir_by(&self, _ctx: &ops::Ctx<'_>) -> Result<Vec<DirEntry>, Errno> {
        self.readdir()
    }
    /// `readlink` as the caller in `ctx` sees it.
    fn readlink_by(&self, _ctx: &ops::Ctx<'_>) -> Result<Vec<u8>, Errno> {
        self.readlink()
    }
    /// For a magic link (`/proc/self/fd/N`, `/proc/self/cwd`,
    /// `/dev/stdin`): what it stands for for the caller in `ctx`. The
    /// resolver jumps there instead of reading the link's text.
    fn magic(&self, _ctx: &ops::Ctx<'_>) -> Option<Result<ops::AtTarget, Errno>> {
        None
    }

    /// The memory-file pages that hold bytes `[off, off+len)` of a regular
    /// file (`off` and `len` page multiples), in file order, for a
    /// MAP_SHARED mapping coherent with read and write. Pages past the end
    /// of the file are made too (reads still stop at the size). `None`:
    /// the file's data is not in the memory file, and a mapping is a copy.
    /// `len` 0 is a cheap probe (nothing is allocated): caches of file
    /// contents must not hold such files, whose pages change under stores
    /// through mappings without any change of mtime.
    fn shared_memory(&self, _off: u64, _len: u64) -> Option<Result<Vec<MemSegment>, Errno>> {
        None
    }

    /// The pages for a MAP_SHARED mapping of bytes `[off, off+len)` (page
    /// multiples, `len` > 0) of a regular file, taken from `memfile`
    /// where the file keeps none there yet, coherent with read and write
    /// while mapped; `writable`: the mapping may be made writable (stores
    /// may reach the file). `None`: the mapping is a copy. By default the
    /// file's own [`Inode::shared_memory`].
    fn map_shared(
        &self,
        _memfile: &Arc<crate::memfile::MemoryFile>,
        off: u64,
        len: u64,
        _writable: bool,
    ) -> Option<Result<SharedPages, Errno>> {
        let pages = self.shared_memory(off, len)?;
        Some(pages.map(|segments| SharedPages {
            segments,
            hold: None,
        }))
    }

    /// fallocate(FALLOC_FL_PUNCH_HOLE): bytes `[off, off+len)` inside
    /// the file read as zeros afterwards; the size stays.
    fn punch_hole(&self, _off: u64, _len: u64) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// The extended attribute `name` (checked by `vfs::xattr`).
    fn xattr_get(&self, _name: &[u8]) -> Result<Vec<u8>, Errno> {
        Err(Errno::ENODATA)
    }
    /// Sets (`Some`) or removes (`None`: ENODATA if missing) an extended
    /// attribute; `flags` XATTR_CREATE (EEXIST) or XATTR_REPLACE (ENODATA).
    fn xattr_set(&self, _name: &[u8], _value: Option<&[u8]>, _flags: i32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }
    /// The names of the extended attributes, in listing order.
    fn xattr_list(&self) -> Result<Vec<Vec<u8>>, Errno> {
        Ok(Vec::new())
    }

    /// For a socket node that stands for a host Unix socket (one in a
    /// tree the Gofer serves, not one the sandbox bound): a new host
    /// socket of type `kind` connected to it, or connect(2)'s error.
    /// `None`: the node is the sandbox's own to resolve.
    fn connect_host(&self, _kind: i32) -> Option<Result<std::os::fd::OwnedFd, Errno>> {
        None
    }

    /// The errno of a directory operation this file does not support.
    fn no_dir_op(&self) -> Errno {
        if is_dir(self.mode()) {
            Errno::EPERM
        } else {
            Errno::ENOTDIR
        }
    }
}

/// What an open file description does; one per open(2).
///
/// `read_at`/`write_at` serve files that never block (regular files,
/// devices) and may be called without a task (overlay copy-up). Files that
/// block (pipes, terminals) override `read`/`write`, which get the task to
/// sleep on and the description for its O_NONBLOCK flag.
pub trait FileOps: Send + Sync + Any {
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EINVAL)
    }
    /// read(2) and its kin: fills the application's buffers `dst` from
    /// `off` (streams ignore it) and returns how much it copied out. The
    /// default goes through a Sentry buffer with [`FileOps::read`]
    /// ([`io::read_buffered`]); a file whose bytes sit in memory the
    /// Sentry can reach (a host descriptor, the memory file) moves them
    /// straight into the application's pages instead.
    fn read_to(
        &self,
        t: &dyn Caller,
        f: &File,
        dst: &mut IoSeq<'_>,
        off: u64,
    ) -> Result<usize, Errno> {
        io::read_buffered(self, t, f, dst, off)
    }
    /// write(2) and its kin: drains the application's buffers `src` to
    /// `off` (streams ignore it). The default goes through a Sentry buffer
    /// with [`FileOps::write`] ([`io::write_buffered`]).
    fn write_from(
        &self,
        t: &dyn Caller,
        f: &File,
        src: &mut IoSeq<'_>,
        off: u64,
    ) -> Result<usize, Errno> {
        io::write_buffered(self, t, f, src, off)
    }
    fn read(&self, _t: &dyn Caller, _f: &File, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        self.read_at(buf, off)
    }
    fn write(&self, _t: &dyn Caller, _f: &File, buf: &[u8], off: u64) -> Result<usize, Errno> {
        self.write_at(buf, off)
    }
    /// False for streams: no offset, lseek and pread give ESPIPE.
    fn seekable(&self) -> bool {
        true
    }
    /// lseek for files that keep their own offset (a host fd); `None`: the
    /// description's offset.
    fn seek(&self, _off: i64, _whence: i32) -> Option<Result<u64, Errno>> {
        None
    }
    /// Attributes of a file that has no dentry (pipes, host fds).
    fn stat(&self) -> Result<libc::stat, Errno> {
        Err(Errno::EBADF)
    }
    /// Device-specific ioctls; the generic ones (FIOCLEX, FIONBIO ...) are
    /// handled before this is called.
    fn ioctl(&self, _t: &dyn Caller, _f: &File, _cmd: u32, _arg: u64) -> Result<u64, Errno> {
        Err(Errno::ENOTTY)
    }
    /// Bytes readable without blocking, for FIONREAD (`None`: ENOTTY, or
    /// for regular files the size past the offset).
    fn readable_bytes(&self) -> Option<u64> {
        None
    }
    fn fsync(&self) -> Result<(), Errno> {
        Ok(())
    }
    /// Current poll(2) events among `mask` (for poll/epoll/select).
    fn readiness(&self, mask: i16) -> i16 {
        mask & (libc::POLLIN | libc::POLLOUT | libc::POLLRDNORM | libc::POLLWRNORM)
    }
    /// The queue notified when `readiness` may have changed.
    fn wait_queue(&self) -> Option<&WaitQueue> {
        None
    }
    /// Whether `readiness` can change without the queue hearing of it, so
    /// a waiter must look again now and then (files without a queue; an
    /// epoll watching such a file).
    fn needs_polling(&self) -> bool {
        self.wait_queue().is_none()
    }
    /// The name of a file without a dentry (`pipe:[123]`).
    fn name(&self) -> Vec<u8> {
        b"anon_inode:[unknown]".to_vec()
    }
    /// Lines of /proc/PID/fdinfo/N after the common ones (a pidfd's
    /// `Pid:`).
    fn fdinfo(&self) -> Vec<u8> {
        Vec::new()
    }
    /// For a file whose mapping is memory the file itself provides (an
    /// io_uring's rings, Linux's `f_op->mmap` of such files): the pages
    /// of bytes `[off, off+len)`, or mmap's error for a range it has not.
    /// `None`: an ordinary file.
    fn mmap_pages(&self, _off: u64, _len: u64) -> Option<Result<Vec<MemSegment>, Errno>> {
        None
    }
    /// The object behind this file when a layer above must know its type
    /// (splice and F_SETPIPE_SZ find a pipe this way): the VFS itself knows
    /// no concrete file.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A mounted filesystem (see [`mount`] for flags and the table's
/// operations).
pub struct Mount {
    pub id: u64,
    /// `st_dev` of every file in it (its filesystem's, `sb.dev`).
    pub dev: u64,
    pub fstype: &'static str,
    /// The directory (or, for a bind mount of a file, the file) it shows.
    pub root: InodeRef,
    /// Where it is mounted, as a path (for /proc/self/mounts).
    pub path: Vec<u8>,
    /// The mount and inode of the directory it covers; `None` for `/`.
    /// Holding the inode keeps it the one its filesystem hands out for
    /// that directory, so it is recognised by identity: inode numbers
    /// from the Gofer repeat across host filesystems.
    pub mountpoint: Option<(u64, InodeRef)>,
    /// The filesystem instance, shared with bind mounts of it.
    pub sb: Arc<Super>,
    /// Where `root` is inside its filesystem (`/` unless a bind mount of
    /// a subtree): mountinfo's fourth field.
    pub fs_root: Vec<u8>,
    /// Flags and counters, shared by the versions of a moved mount.
    state: Arc<mount::MountState>,
    /// The inotify and dnotify state of its VFS: events about its files
    /// find their watches here without the VFS at hand.
    notify: Arc<Notify>,
}

/// An inode as reached by a walk.
pub struct Dentry {
    pub mount: Arc<Mount>,
    pub inode: InodeRef,
    parent: Option<Arc<Dentry>>,
    name: Vec<u8>,
}

impl Dentry {
    pub fn parent(&self) -> Option<&Arc<Dentry>> {
        self.parent.as_ref()
    }

    pub fn name(&self) -> &[u8] {
        &self.name
    }

    pub fn child(self: &Arc<Self>, mount: Arc<Mount>, inode: InodeRef, name: &[u8]) -> Arc<Dentry> {
        Arc::new(Dentry {
            mount,
            inode,
            parent: Some(self.clone()),
            name: name.to_vec(),
        })
    }

    /// The same file (not only the same name).
    pub fn same(&self, other: &Dentry) -> bool {
        self.mount.id == other.mount.id && same_inode(&self.inode, &other.inode)
    }

    pub fn mode(&self) -> u32 {
        self.inode.mode()
    }

    pub fn is_dir(&self) -> bool {
        is_dir(self.inode.mode())
    }

    /// stat(2) of the file, `st_dev` from its mount.
    pub fn stat(&self) -> Result<libc::stat, Errno> {
        let mut st = self.inode.stat()?;
        st.st_dev = self.mount.dev;
        Ok(st)
    }

    /// The absolute path from the VFS root.
    pub fn path(&self) -> Vec<u8> {
        let mut names: Vec<&[u8]> = Vec::new();
        let mut d = self;
        while let Some(p) = d.parent.as_deref() {
            names.push(&d.name);
            d = p;
        }
        if names.is_empty() {
            return b"/".to_vec();
        }
        let mut out = Vec::new();
        for n in names.iter().rev() {
            out.push(b'/');
            out.extend_from_slice(n);
        }
        out
    }

    /// Whether `self` is `other` or below it.
    pub fn is_within(&self, other: &Dentry) -> bool {
        let mut d = Some(self);
        while let Some(x) = d {
            if x.same(other) {
                return true;
            }
            d = x.parent.as_deref();
        }
        false
    }
}

impl Drop for Dentry {
    // A chain of dentries as deep as an application can make directories
    // would otherwise be freed by recursion and overflow the stack.
    fn drop(&mut self) {
        let mut next = self.parent.take();
        while let Some(p) = next {
            match Arc::try_unwrap(p) {
                Ok(mut d) => next = d.parent.take(),
                Err(_) => break,
            }
        }
    }
}

impl std::fmt::Debug for Dentry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Dentry({})", String::from_utf8_lossy(&self.path()))
    }
}

/// The sandbox's mount namespace.
pub struct Vfs {
    root: Arc<Dentry>,
    mounts: RwLock<Vec<Arc<Mount>>>,
    /// Mount ids, shared with the namespaces copied from this one.
    next_mount: Arc<AtomicU64>,
    /// Mounts with lower ids came from the namespace this one was copied
    /// from (0: not a copy).
    copied_below: u64,
    /// Itself, for the procfs instances mount(2) makes.
    me: Weak<Vfs>,
    /// The filesystem types mount(2) can make here.
    filesystems: Arc<filesystem_type::Registry>,
    /// inotify watches, dnotify marks and open counts; every mount holds
    /// it too.
    notify: Arc<Notify>,
    /// Filesystems mounted nowhere (memfd's tmpfs), by mount id: Linux's
    /// kernel-internal mounts, made on first use.
    internal: Arc<Mutex<BTreeMap<u64, Arc<Dentry>>>>,
}

impl std::fmt::Debug for Vfs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vfs")
    }
}

/// Anonymous device numbers (major 0), as Linux gives tmpfs and proc.
fn anon_dev(id: u64) -> u64 {
    libc::makedev(0, (id + 0x20) as u32)
}

impl Mount {
    /// A mount of a whole new filesystem `root` at `/`, with Linux's
    /// default flags (rw, relatime).
    fn top(id: u64, root: InodeRef, fstype: &'static str, notify: Arc<Notify>) -> Mount {
        Mount {
            id,
            dev: anon_dev(id),
            fstype,
            root,
            path: b"/".to_vec(),
            mountpoint: None,
            sb: Arc::new(Super::new(
                anon_dev(id),
                fstype,
                fstype.as_bytes(),
                0,
                String::new(),
            )),
            fs_root: b"/".to_vec(),
            state: Arc::new(mount::MountState::new(libc::MS_RELATIME)),
            notify,
        }
    }

    /// The inotify and dnotify state of the VFS this is a mount of.
    pub fn notify(&self) -> &Notify {
        &self.notify
    }
}

impl Vfs {
    /// A namespace with `root` on `/` and nothing else mounted.
    pub fn with_root(root: InodeRef, fstype: &'static str) -> Arc<Vfs> {
        let notify = Arc::new(Notify::default());
        let mount = Arc::new(Mount::top(1, root.clone(), fstype, notify.clone()));
        Arc::new_cyclic(|me| Vfs {
            root: Arc::new(Dentry {
                mount: mount.clone(),
                inode: root,
                parent: None,
                name: b"/".to_vec(),
            }),
            mounts: RwLock::new(vec![mount]),
            next_mount: Arc::new(AtomicU64::new(2)),
            copied_below: 0,
            me: me.clone(),
            filesystems: Default::default(),
            notify,
            internal: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    /// The root of the namespace.
    pub fn root(&self) -> Arc<Dentry> {
        self.root.clone()
    }

    /// The inotify watches, dnotify marks and open counts of this
    /// namespace.
    pub fn notify(&self) -> &Arc<Notify> {
        &self.notify
    }

    /// The root of the filesystem mounted nowhere as mount `id` (memfd's
    /// tmpfs), made by `make` on first use: its own mount with its own
    /// device number, so its inodes never collide with a mounted
    /// filesystem's, and events on its files reach this namespace's
    /// watches.
    pub fn internal_mount(
        &self,
        id: u64,
        fstype: &'static str,
        make: impl FnOnce() -> InodeRef,
    ) -> Arc<Dentry> {
        let mut internal = self.internal.lock().unwrap_or_else(|e| e.into_inner());
        internal
            .entry(id)
            .or_insert_with(|| {
                let root = make();
                let mount = Arc::new(Mount::top(id, root.clone(), fstype, self.notify.clone()));
                Arc::new(Dentry {
                    mount,
                    inode: root,
                    parent: None,
                    name: b"/".to_vec(),
                })
            })
            .clone()
    }

    /// Mounts `fs` over the directory at the absolute path `at`, creating
    /// the directory if it is missing.
    pub fn mount_at(&self, at: &[u8], fs: InodeRef, fstype: &'static str) -> Result<(), Errno> {
        let ctx = ops::Ctx::new(self, self.root(), Cred::root(), 0o022);
        let dir = match ops::walk(&ctx, self.root(), at, true) {
            Ok(d) => d,
            Err(Errno::ENOENT) => {
                ops::mkdirat(&ctx, self.root(), at, 0o755)?;
                ops::walk(&ctx, self.root(), at, true)?
            }
            Err(e) => return Err(e),
        };
        self.mount(&dir, fs, fstype)
    }

    /// Mounts `fs` over `dir` (rw, relatime; source the type's name).
    pub fn mount(&self, dir: &Dentry, fs: InodeRef, fstype: &'static str) -> Result<(), Errno> {
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let id = self.new_mount_id();
        let sb = Arc::new(Super::new(
            anon_dev(id),
            fstype,
            fstype.as_bytes(),
            0,
            String::new(),
        ));
        self.graft(id, dir, fs, sb, b"/".to_vec(), libc::MS_RELATIME)
            .map(|_| ())
    }

    /// The mount whose root covers the directory `inode` of `mount`, the last
    /// one mounted if several are stacked.
    pub(crate) fn mounted_on(&self, mount: u64, inode: &InodeRef) -> Option<Arc<Mount>> {
        let mounts = self.mounts.read().unwrap_or_else(|e| e.into_inner());
        mounts
            .iter()
            .rev()
            .find(|m| {
                m.mountpoint
                    .as_ref()
                    .is_some_and(|(id, i)| *id == mount && same_inode(i, inode))
            })
            .cloned()
    }

    /// Whether the dentry is the root of a mount (EBUSY for rmdir, rename).
    /// Walks cross into mounts, so a mount point is only ever reached as
    /// the root of what is mounted on it.
    pub fn is_mount_root(&self, d: &Dentry) -> bool {
        d.parent.is_none() || same_inode(&d.inode, &d.mount.root)
    }

    /// The mounts, oldest first (for /proc/self/mounts later).
    pub fn mounts(&self) -> Vec<Arc<Mount>> {
        self.mounts
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Whether two references are the same inode object. Filesystems hand out
/// one object per live file (tmpfs's tree, the Gofer's cache, the overlay's
/// cache of held inodes), so identity is sameness; inode numbers are not
/// (the Gofer's repeat across host filesystems).
pub fn same_inode(a: &InodeRef, b: &InodeRef) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

pub fn is_dir(mode: u32) -> bool {
    mode & libc::S_IFMT == libc::S_IFDIR
}

pub fn is_reg(mode: u32) -> bool {
    mode & libc::S_IFMT == libc::S_IFREG
}

pub fn is_symlink(mode: u32) -> bool {
    mode & libc::S_IFMT == libc::S_IFLNK
}

/// The DT_* type of a mode.
pub fn dtype_of(mode: u32) -> u8 {
    match mode & libc::S_IFMT {
        libc::S_IFREG => libc::DT_REG,
        libc::S_IFDIR => libc::DT_DIR,
        libc::S_IFLNK => libc::DT_LNK,
        libc::S_IFCHR => libc::DT_CHR,
        libc::S_IFBLK => libc::DT_BLK,
        libc::S_IFIFO => libc::DT_FIFO,
        libc::S_IFSOCK => libc::DT_SOCK,
        _ => libc::DT_UNKNOWN,
    }
}

/// A statfs result with the usual fields of an in-memory filesystem.
pub fn statfs_of(magic: i64, blocks: u64, bfree: u64) -> libc::statfs {
    let mut s: libc::statfs = crate::usermem::zeroed();
    s.f_type = magic;
    s.f_bsize = 4096;
    s.f_frsize = 4096;
    s.f_blocks = blocks;
    s.f_bfree = bfree;
    s.f_bavail = bfree;
    s.f_namelen = NAME_MAX as i64;
    s
}
