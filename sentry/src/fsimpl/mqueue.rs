//! The mqueue filesystem: the POSIX message queues of an IPC namespace as
//! files of one flat directory (Linux's mqueue fs).
//!
//! Each IPC namespace holds one root ([`IpcNamespace::mqueue`], made here
//! on first use): `mount -t mqueue` shows the mounting task's namespace's
//! root, and mq_open reaches the caller's through an internal mount of
//! its own ([`queues_of`]), so `unshare -i` gives an empty set of queues.
//! Reading a queue's file gives Linux's one line
//! (`QSIZE:... NOTIFY:... SIGNO:... NOTIFY_PID:...`); its descriptor polls
//! readable when a message is queued and writable when there is room.
//! open(O_CREAT) and unlink in a mounted directory make and remove queues
//! as mq_open and mq_unlink do.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::errno::Errno;
use crate::kernel::ipc::mqueue::{Limits, MessageQueue, QUEUES_MAX};
use crate::kernel::ipc::IpcNamespace;
use crate::kernel::task::Task;
use crate::vfs::{
    Caller, Dentry, DirEntry, File, FileOps, FilesystemType, Inode, InodeRef, Instance,
    MountOption, Owner, SetAttr, Time, Vfs,
};
use crate::waiter::WaitQueue;

/// statfs magic (Linux's MQUEUE_MAGIC).
const MQUEUE_MAGIC: i64 = 0x1980_0202;
/// The internal mount mq_open resolves names in, for the initial IPC
/// namespace: far above the ids mounts count up from, next to memfd's.
/// Namespaces made later take the ids below it, one each.
const MOUNT_ID: u64 = 0xfffe;
static NEXT_MOUNT_ID: AtomicU64 = AtomicU64::new(MOUNT_ID);
const ROOT_INO: u64 = 1;
/// The size a queue file shows (Linux's FILENT_SIZE), whatever its line.
const FILE_SIZE: i64 = 80;

/// mqueue for mount(2): a mount shows the mounter's IPC namespace's root.
#[derive(Default)]
pub struct MqueueType;

/// What an IPC namespace holds of this filesystem.
struct NsQueues {
    root: Arc<MqDir>,
    /// Its internal mount's id in every VFS.
    mount_id: u64,
}

/// `ipc`'s queues, made on first use.
fn ns_queues(ipc: &IpcNamespace) -> Arc<NsQueues> {
    let any = ipc
        .mqueue
        .get_or_init(|| {
            Arc::new(NsQueues {
                root: Arc::default(),
                mount_id: NEXT_MOUNT_ID.fetch_sub(1, Ordering::Relaxed),
            })
        })
        .clone();
    any.downcast::<NsQueues>()
        .unwrap_or_else(|_| unreachable!("IpcNamespace::mqueue holds NsQueues only"))
}

fn check_options(opts: &[MountOption]) -> Result<(), Errno> {
    if opts.is_empty() {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

impl FilesystemType for MqueueType {
    /// Without a mounter (a remount's option check): an empty directory.
    fn new_instance(&self, _vfs: &Weak<Vfs>, opts: &[MountOption]) -> Result<Instance, Errno> {
        check_options(opts)?;
        Ok(Instance {
            root: Arc::new(MqDir::default()),
            shown: Vec::new(),
        })
    }

    fn new_instance_by(
        &self,
        vfs: &Weak<Vfs>,
        opts: &[MountOption],
        mounter: Option<&dyn Caller>,
    ) -> Result<Instance, Errno> {
        let Some(t) = mounter.and_then(|m| m.as_any().downcast_ref::<Task>()) else {
            return self.new_instance(vfs, opts);
        };
        check_options(opts)?;
        Ok(Instance {
            root: ns_queues(&t.ns.ipc).root.clone(),
            shown: Vec::new(),
        })
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// The queues of the IPC namespace `ipc` and the dentry of their
/// directory (mounted nowhere) in `vfs`, for mq_open and mq_unlink; None
/// if no mqueue type is registered there.
pub fn queues_of(vfs: &Vfs, ipc: &IpcNamespace) -> Option<(Arc<MqDir>, Arc<Dentry>)> {
    vfs.filesystem_type("mqueue")?;
    let q = ns_queues(ipc);
    let r = q.root.clone();
    let dentry = vfs.internal_mount(q.mount_id, "mqueue", move || r);
    Some((q.root.clone(), dentry))
}

/// Attributes of a file here.
#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    atime: Time,
    mtime: Time,
    ctime: Time,
}

impl Meta {
    fn new(mode: u32, owner: Owner) -> Meta {
        let now = Time::now();
        Meta {
            mode,
            uid: owner.uid,
            gid: owner.gid,
            atime: now,
            mtime: now,
            ctime: now,
        }
    }

    fn stat(&self, ino: u64, nlink: u64, size: i64) -> libc::stat {
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_ino = ino;
        s.st_mode = self.mode;
        s.st_nlink = nlink;
        s.st_uid = self.uid;
        s.st_gid = self.gid;
        s.st_size = size;
        s.st_blksize = 4096;
        (s.st_atime, s.st_atime_nsec) = (self.atime.sec, self.atime.nsec);
        (s.st_mtime, s.st_mtime_nsec) = (self.mtime.sec, self.mtime.nsec);
        (s.st_ctime, s.st_ctime_nsec) = (self.ctime.sec, self.ctime.nsec);
        s
    }

    /// chmod, chown and utimes (the VFS checked who may).
    fn set(&mut self, a: &SetAttr) {
        if let Some(m) = a.mode {
            self.mode = (self.mode & libc::S_IFMT) | (m & 0o7777);
        }
        if let Some(u) = a.uid {
            self.uid = u;
        }
        if let Some(g) = a.gid {
            self.gid = g;
        }
        if let Some(t) = a.atime {
            self.atime = t;
        }
        if let Some(t) = a.mtime {
            self.mtime = t;
        }
        self.ctime = Time::now();
    }
}

/// The directory of queues.
pub struct MqDir {
    meta: Mutex<Meta>,
    queues: Mutex<BTreeMap<Vec<u8>, Arc<MqInode>>>,
    next_ino: AtomicU64,
}

impl Default for MqDir {
    fn default() -> MqDir {
        MqDir {
            meta: Mutex::new(Meta::new(libc::S_IFDIR | 0o1777, Owner::default())),
            queues: Mutex::new(BTreeMap::new()),
            next_ino: AtomicU64::new(ROOT_INO + 1),
        }
    }
}

impl MqDir {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<Vec<u8>, Arc<MqInode>>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The queue named `name`.
    pub fn find(&self, name: &[u8]) -> Option<Arc<MqInode>> {
        self.lock().get(name).cloned()
    }

    /// A new queue `name` (EEXIST if there is one) with `limits`;
    /// ENOSPC past QUEUES_MAX unless `privileged` (CAP_SYS_RESOURCE).
    pub fn create_queue(
        &self,
        name: &[u8],
        mode: u32,
        owner: Owner,
        limits: Limits,
        privileged: bool,
    ) -> Result<Arc<MqInode>, Errno> {
        let mut qs = self.lock();
        if qs.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        if qs.len() >= QUEUES_MAX && !privileged {
            return Err(Errno::ENOSPC);
        }
        let q = Arc::new(MqInode {
            ino: self.next_ino.fetch_add(1, Ordering::Relaxed),
            meta: Mutex::new(Meta::new(libc::S_IFREG | (mode & 0o7777), owner)),
            queue: Arc::new(MessageQueue::new(limits)),
        });
        qs.insert(name.to_vec(), q.clone());
        drop(qs);
        self.touch();
        Ok(q)
    }

    fn touch(&self) {
        let mut m = self.meta.lock().unwrap_or_else(|e| e.into_inner());
        m.mtime = Time::now();
        m.ctime = m.mtime;
    }
}

impl Inode for MqDir {
    fn ino(&self) -> u64 {
        ROOT_INO
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let m = *self.meta.lock().unwrap_or_else(|e| e.into_inner());
        Ok(m.stat(ROOT_INO, 2, 0))
    }
    fn mode(&self) -> u32 {
        self.meta.lock().unwrap_or_else(|e| e.into_inner()).mode
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        self.find(name).map(|q| q as InodeRef).ok_or(Errno::ENOENT)
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(self
            .lock()
            .iter()
            .map(|(n, q)| DirEntry {
                ino: q.ino,
                ty: libc::DT_REG,
                name: n.clone(),
            })
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
    /// open(O_CREAT) in a mounted mqueue: a queue with the default limits.
    fn create(&self, name: &[u8], mode: u32, owner: Owner) -> Result<InodeRef, Errno> {
        let limits = Limits::new(None, false)?;
        Ok(self.create_queue(name, mode, owner, limits, false)?)
    }
    fn unlink(&self, name: &[u8]) -> Result<(), Errno> {
        self.lock().remove(name).ok_or(Errno::ENOENT)?;
        self.touch();
        Ok(())
    }
    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        self.meta.lock().unwrap_or_else(|e| e.into_inner()).set(a);
        Ok(())
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(MQUEUE_MAGIC, 0, 0))
    }
}

/// One queue's file.
pub struct MqInode {
    ino: u64,
    meta: Mutex<Meta>,
    pub queue: Arc<MessageQueue>,
}

impl Inode for MqInode {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let m = *self.meta.lock().unwrap_or_else(|e| e.into_inner());
        Ok(m.stat(self.ino, 1, FILE_SIZE))
    }
    fn mode(&self) -> u32 {
        self.meta.lock().unwrap_or_else(|e| e.into_inner()).mode
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(MqFile {
            queue: self.queue.clone(),
        }))
    }
    fn setattr(&self, a: &SetAttr) -> Result<(), Errno> {
        if a.size.is_some() {
            return Err(Errno::EINVAL);
        }
        self.meta.lock().unwrap_or_else(|e| e.into_inner()).set(a);
        Ok(())
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(MQUEUE_MAGIC, 0, 0))
    }
}

/// An open queue: a message queue descriptor (mqd_t) is one of these.
pub struct MqFile {
    pub queue: Arc<MessageQueue>,
}

impl MqFile {
    /// The queue behind `f`, EBADF if it is not a message queue.
    pub fn of(f: &File) -> Result<Arc<MessageQueue>, Errno> {
        f.ops()
            .as_any()
            .and_then(|a| a.downcast_ref::<MqFile>())
            .map(|m| m.queue.clone())
            .ok_or(Errno::EBADF)
    }
}

/// A process closed a descriptor of `f`: if it is a queue, the process's
/// notification registration on it goes (Linux's mqueue_flush_file), by
/// whichever descriptor it was made.
pub fn closed(tgid: i32, f: &File) {
    if let Ok(q) = MqFile::of(f) {
        let _ = q.set_notify(tgid, None);
    }
}

impl FileOps for MqFile {
    fn read(&self, _t: &dyn Caller, _f: &File, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        // The sandbox has one PID namespace: a process id is the pid
        // every reader sees.
        let text = self.queue.describe(|p| p);
        let b = text.as_bytes();
        let start = (off as usize).min(b.len());
        let n = buf.len().min(b.len() - start);
        buf[..n].copy_from_slice(&b[start..start + n]);
        Ok(n)
    }
    fn readiness(&self, mask: i16) -> i16 {
        self.queue.readiness() & mask
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.queue.waiters)
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
