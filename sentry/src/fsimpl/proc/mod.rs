//! procfs: /proc as Linux shows it inside a container with its own PID
//! namespace: only the sandbox's processes appear.
//!
//! * [`task`]: `/proc/PID` and `/proc/PID/task/TID` (status, stat, maps,
//!   cmdline, fd/ ...), made from the kernel's thread groups and tasks.
//!   [`files`] makes their contents.
//! * [`system`]: the system files (cpuinfo, meminfo, stat, uptime ...) and
//!   the `/proc/sys` tree.
//! * [`sysvipc`]: `/proc/sysvipc` and the IPC namespace's sysctls.
//!
//! Nothing is stored (but the oom_score_adj values programs write): every
//! directory is made at lookup and every file's text when it is opened
//! (and again when a reader rewinds to offset 0, as `top` does with
//! /proc/stat), from the kernel state of that moment.
//! Inode numbers are a hash of the path, so the same file has the same
//! number on every lookup (`find` and `ls -i` rely on that).
//!
//! Nodes hold the kernel and the thread groups weakly: the kernel owns the
//! VFS, which owns this filesystem, and a dentry under /proc (a cwd) must
//! not keep a dead process alive.

pub(crate) mod files;
mod mem;
mod net;
pub mod system;
mod sysvipc;
mod target;
pub mod task;
mod userns;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use crate::errno::Errno;
use crate::kernel::namespaces::{Namespaces, PidNs};
use crate::kernel::{Kernel, Task, ThreadGroup};
use crate::vfs::ops::{AtTarget, Ctx};
use crate::vfs::{DirEntry, FdTable, FileOps, Inode, InodeRef, SetAttr, Time, Vfs};

fn attrs(ino: u64, mode: u32, nlink: u64) -> libc::stat {
    let mut s: libc::stat = crate::usermem::zeroed();
    s.st_ino = ino;
    s.st_mode = mode;
    s.st_nlink = nlink;
    s.st_blksize = 4096;
    let now = Time::now();
    s.st_atime = now.sec;
    s.st_mtime = now.sec;
    s.st_ctime = now.sec;
    s
}

fn owned_attrs(ino: u64, mode: u32, nlink: u64, owner: (u32, u32)) -> libc::stat {
    let mut s = attrs(ino, mode, nlink);
    s.st_uid = owner.0;
    s.st_gid = owner.1;
    s
}

/// The entries of an fd/ or fdinfo/ directory: one per open descriptor,
/// numbered after the directory's own inode.
fn fd_entries(dir_ino: u64, fds: &FdTable, ty: u8) -> Vec<DirEntry> {
    fds.fds()
        .into_iter()
        .map(|fd| {
            entry(
                dir_ino.wrapping_add(1 + fd as u64),
                ty,
                fd.to_string().as_bytes(),
            )
        })
        .collect()
}

fn entry(ino: u64, ty: u8, name: &[u8]) -> DirEntry {
    DirEntry {
        ino,
        ty,
        name: name.to_vec(),
    }
}

/// A stable inode number for a path inside procfs or sysfs (FNV-1a).
pub(crate) fn path_ino(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Small numbers are left to the root and anonymous files.
    h | (1 << 40)
}

/// Decimal without leading zeros (or a sign), as procfs parses pids and
/// descriptor numbers.
fn parse_num(name: &[u8]) -> Option<i32> {
    if name.is_empty()
        || (name.len() > 1 && name[0] == b'0')
        || !name.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

fn parse_fd(name: &[u8]) -> Option<i32> {
    parse_num(name)
}

/// State shared by every node of one procfs.
pub(crate) struct ProcState {
    pub(super) vfs: Weak<Vfs>,
    /// The kernel, learnt from the first task that looks (procfs is made
    /// before the kernel that will own it).
    kernel: Mutex<Weak<Kernel>>,
    /// oom_score_adj values written by the application, per thread group
    /// (the kernel keeps no such field; a value is the group's while that
    /// very group lives).
    oom_adj: Mutex<HashMap<i32, (Weak<ThreadGroup>, i32)>>,
    /// /proc/sys/kernel/random/boot_id: one per sandbox boot.
    boot_id: String,
    /// The PID namespace whose pids it shows: its mounter's (None: the
    /// sandbox's own, for the /proc made at boot).
    pidns: Option<Arc<PidNs>>,
}

impl ProcState {
    /// The PID namespace this procfs shows.
    pub(crate) fn pidns(&self, k: &Kernel) -> Arc<PidNs> {
        self.pidns.clone().unwrap_or_else(|| k.init_ns.pid.clone())
    }

    fn kernel(&self, ctx: Option<&Ctx<'_>>) -> Option<Arc<Kernel>> {
        let mut k = self.kernel.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = ctx.and_then(|c| c.caller).and_then(Task::of) {
            if k.upgrade().is_none() {
                *k = Arc::downgrade(&t.kernel);
            }
            return Some(t.kernel.clone());
        }
        k.upgrade()
    }

    /// The group's oom_score_adj: its own if it wrote one, else its
    /// nearest ancestor's (a child inherits the value at fork on Linux;
    /// this approximates that without a field in the thread group).
    pub(crate) fn oom_score_adj(&self, tg: &Arc<ThreadGroup>) -> i32 {
        let m = self.oom_adj.lock().unwrap_or_else(|e| e.into_inner());
        if m.is_empty() {
            return 0;
        }
        let mut cur = Some(tg.clone());
        // Bounded: a parent chain cannot be longer than the pid space,
        // but a few hundred levels is already absurd.
        for _ in 0..256 {
            let Some(g) = cur else { break };
            match m.get(&g.tgid) {
                Some((w, v)) if std::ptr::eq(w.as_ptr(), Arc::as_ptr(&g)) => return *v,
                _ => cur = g.parent(),
            }
        }
        0
    }

    pub(crate) fn set_oom_score_adj(&self, tg: &Arc<ThreadGroup>, v: i32) {
        let mut m = self.oom_adj.lock().unwrap_or_else(|e| e.into_inner());
        // Entries of dead groups go, so the map stays as small as the
        // number of live processes.
        m.retain(|_, (w, _)| w.strong_count() > 0);
        m.insert(tg.tgid, (Arc::downgrade(tg), v));
    }
}

/// A random version-4 UUID in its text form.
pub(crate) fn random_uuid() -> String {
    let mut b = [0u8; 16];
    // SAFETY: getrandom writes at most 16 bytes into `b`.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 16 {
        // Unique enough without entropy: the clock.
        let t = Time::now();
        b[..8].copy_from_slice(&t.sec.to_ne_bytes());
        b[8..].copy_from_slice(&t.nsec.to_ne_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        h[..4].concat(),
        h[4..6].concat(),
        h[6..8].concat(),
        h[8..10].concat(),
        h[10..].concat()
    )
}

/// procfs for mount(2): `hidepid`, `gid` and `subset=pid` are shown, and
/// have no effect (one sandbox, one user's view).
pub struct ProcType;

impl crate::vfs::FilesystemType for ProcType {
    fn new_instance(
        &self,
        vfs: &Weak<Vfs>,
        opts: &[crate::vfs::MountOption],
    ) -> Result<crate::vfs::Instance, Errno> {
        let mut shown = Vec::new();
        for (k, v) in opts {
            let v = v.as_deref();
            match (k.as_str(), v) {
                ("hidepid", Some(h)) => {
                    let name = match h {
                        "0" | "off" => continue,
                        "1" | "noaccess" => "noaccess",
                        "2" | "invisible" => "invisible",
                        "4" | "ptraceable" => "ptraceable",
                        _ => return Err(Errno::EINVAL),
                    };
                    shown.push(format!("hidepid={name}"));
                }
                ("gid", _) => {
                    let g = crate::vfs::filesystem_type::parse_id(v)?;
                    if g != 0 {
                        shown.push(format!("gid={g}"));
                    }
                }
                ("subset", Some("pid")) => shown.push("subset=pid".to_string()),
                _ => return Err(Errno::EINVAL),
            }
        }
        Ok(crate::vfs::Instance {
            root: new_procfs(vfs.clone(), None),
            shown,
        })
    }

    fn new_instance_by(
        &self,
        vfs: &Weak<Vfs>,
        opts: &[crate::vfs::MountOption],
        caller: Option<&dyn crate::vfs::Caller>,
    ) -> Result<crate::vfs::Instance, Errno> {
        let mut made = self.new_instance(vfs, opts)?;
        // A procfs shows the PID namespace of the task that mounts it.
        let pidns = caller.and_then(Task::of).map(|t| t.pid_ns().clone());
        made.root = new_procfs(vfs.clone(), pidns);
        Ok(made)
    }
}

/// A fresh /proc over the namespace `vfs` (for its mount table), showing
/// the PID namespace `pidns` (None: the sandbox's).
pub fn new_procfs(vfs: Weak<Vfs>, pidns: Option<Arc<PidNs>>) -> InodeRef {
    Arc::new(ProcRoot {
        state: Arc::new(ProcState {
            vfs,
            kernel: Mutex::new(Weak::new()),
            oom_adj: Mutex::new(HashMap::new()),
            boot_id: random_uuid(),
            pidns,
        }),
    })
}

const ROOT_INO: u64 = 1;

struct ProcRoot {
    state: Arc<ProcState>,
}

impl ProcRoot {
    fn static_lookup(
        &self,
        name: &[u8],
        k: Option<&Arc<Kernel>>,
        ns: Option<&Arc<Namespaces>>,
    ) -> Result<InodeRef, Errno> {
        let key = |n: &str| path_ino(&format!("proc:/{n}"));
        match name {
            b"self" => Ok(Arc::new(SelfLink {
                ino: key("self"),
                thread: false,
                state: self.state.clone(),
            })),
            b"thread-self" => Ok(Arc::new(SelfLink {
                ino: key("thread-self"),
                thread: true,
                state: self.state.clone(),
            })),
            b"mounts" => Ok(TextLink::new(key("mounts"), b"self/mounts")),
            b"net" => Ok(TextLink::new(key("net"), b"self/net")),
            _ => system::lookup(&self.state, k, ns, name),
        }
    }
}

impl Inode for ProcRoot {
    fn ino(&self) -> u64 {
        ROOT_INO
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(ROOT_INO, self.mode(), 2))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let k = self.state.kernel(None);
        let ns = k.as_ref().map(|k| k.init_ns.clone());
        self.static_lookup(name, k.as_ref(), ns.as_ref())
    }
    fn lookup_by(&self, name: &[u8], ctx: &Ctx<'_>) -> Result<InodeRef, Errno> {
        let k = self.state.kernel(Some(ctx));
        if let (Some(pid), Some(k)) = (parse_num(name), k.as_ref()) {
            let kid = self.state.pidns(k).kernel_pid(pid).ok_or(Errno::ENOENT)?;
            return task::pid_dir(&self.state, k, kid).ok_or(Errno::ENOENT);
        }
        // What /proc/sys and /proc/sysvipc show is the looker's UTS and
        // IPC namespaces'.
        let ns = ctx
            .caller
            .and_then(Task::of)
            .map(|t| t.ns.clone())
            .or_else(|| k.as_ref().map(|k| k.init_ns.clone()));
        self.static_lookup(name, k.as_ref(), ns.as_ref())
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let mut v = vec![
            entry(path_ino("proc:/self"), libc::DT_LNK, b"self"),
            entry(path_ino("proc:/thread-self"), libc::DT_LNK, b"thread-self"),
            entry(path_ino("proc:/mounts"), libc::DT_LNK, b"mounts"),
            entry(path_ino("proc:/net"), libc::DT_LNK, b"net"),
        ];
        v.extend(system::entries());
        Ok(v)
    }
    fn readdir_by(&self, ctx: &Ctx<'_>) -> Result<Vec<DirEntry>, Errno> {
        let mut v = Vec::new();
        if let Some(k) = self.state.kernel(Some(ctx)) {
            // Processes first, in pid order, as Linux lists them after
            // the fixed entries; only thread groups (not their threads).
            let ns = self.state.pidns(&k);
            let kids: Vec<i32> = k.pids.lock().unwrap().groups.keys().copied().collect();
            let mut pids: Vec<(i32, i32)> = kids
                .into_iter()
                .filter_map(|kid| Some((ns.pid_of(kid)?, kid)))
                .collect();
            pids.sort_unstable();
            for (p, kid) in pids {
                v.push(entry(
                    task::dir_ino(kid, None),
                    libc::DT_DIR,
                    p.to_string().as_bytes(),
                ));
            }
        }
        let mut fixed = self.readdir()?;
        fixed.append(&mut v);
        Ok(fixed)
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(libc::PROC_SUPER_MAGIC, 0, 0))
    }
}

/// /proc/self (the looker's pid) and /proc/thread-self (`PID/task/TID`).
struct SelfLink {
    ino: u64,
    thread: bool,
    state: Arc<ProcState>,
}

impl Inode for SelfLink {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFLNK | 0o777
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino, self.mode(), 1))
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::ENOENT)
    }
    fn readlink_by(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
        let t = ctx.caller.and_then(Task::of).ok_or(Errno::ENOENT)?;
        // The looker's pids in this procfs's namespace: none when it lies
        // outside (Linux's ENOENT).
        let ns = self.state.pidns(&t.kernel);
        let (pid, tid) = (ns.nr(t.tgid()), ns.nr(t.tid));
        if pid == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(if self.thread {
            format!("{pid}/task/{tid}").into_bytes()
        } else {
            pid.to_string().into_bytes()
        })
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

/// A plain symlink (/proc/mounts -> self/mounts, ns/ links).
pub(crate) struct TextLink {
    ino: u64,
    target: Vec<u8>,
}

impl TextLink {
    #[allow(clippy::new_ret_no_self)] // always used as an inode reference
    pub(crate) fn new(ino: u64, target: &[u8]) -> InodeRef {
        Arc::new(TextLink {
            ino,
            target: target.to_vec(),
        })
    }
}

impl Inode for TextLink {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFLNK | 0o777
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino, self.mode(), 1))
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Ok(self.target.clone())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

// ---------------------------------------------------------------------------
// Generated files and directories.

/// Makes a file's text; called at open and on a rewind to offset 0.
pub(crate) type GenFn = Arc<dyn Fn() -> Result<Vec<u8>, Errno> + Send + Sync>;
/// Takes one write(2) to a writable file (comm, oom_score_adj, hostname).
pub(crate) type WriteFn = Arc<dyn Fn(&[u8]) -> Result<(), Errno> + Send + Sync>;

/// Most bytes of one write a generated file looks at, as Linux's proc
/// handlers bound theirs (a page).
const MAX_WRITE: usize = 4096;

/// A file whose contents are generated.
pub(crate) struct GenInode {
    pub ino: u64,
    /// Permission bits (the type is S_IFREG).
    pub perm: u32,
    pub owner: (u32, u32),
    pub gen: GenFn,
    pub write: Option<WriteFn>,
    /// Regenerate when a reader comes back to offset 0 (false where
    /// generating at read time could deadlock: fdinfo looks at the very
    /// description being read).
    pub regen: bool,
    /// A seq_file, as most of /proc: lseek takes SEEK_SET and SEEK_CUR
    /// only. False for /proc/sys and /sys, whose files seek from their end
    /// as well.
    pub seq: bool,
}

impl GenInode {
    pub(crate) fn new(ino: u64, perm: u32, gen: GenFn) -> GenInode {
        GenInode {
            ino,
            perm,
            owner: (0, 0),
            gen,
            write: None,
            regen: true,
            seq: true,
        }
    }

    /// The same, for a file that seeks like an ordinary one (/proc/sys,
    /// /sys).
    pub(crate) fn not_seq(mut self) -> GenInode {
        self.seq = false;
        self
    }
}

impl Inode for GenInode {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFREG | self.perm
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 1, self.owner))
    }
    fn setattr(&self, attr: &SetAttr) -> Result<(), Errno> {
        // O_TRUNC on a proc file is accepted and does nothing, as Linux's
        // proc_setattr; anything else is refused.
        if attr.mode.is_some() || attr.uid.is_some() || attr.gid.is_some() {
            return Err(Errno::EPERM);
        }
        Ok(())
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(libc::PROC_SUPER_MAGIC, 0, 0))
    }
    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        let acc = flags & libc::O_ACCMODE;
        if acc != libc::O_RDONLY && self.write.is_none() {
            return Err(Errno::EACCES);
        }
        let data = if acc == libc::O_WRONLY {
            Vec::new()
        } else {
            (self.gen)()?
        };
        Ok(Arc::new(GenFile {
            data: Mutex::new(data),
            gen: self.gen.clone(),
            write: self.write.clone(),
            regen: self.regen,
            seq: self.seq,
            read_once: AtomicBool::new(false),
        }))
    }
}

/// An open generated file: the text as of open (or the last rewind).
struct GenFile {
    data: Mutex<Vec<u8>>,
    gen: GenFn,
    write: Option<WriteFn>,
    regen: bool,
    seq: bool,
    read_once: AtomicBool,
}

impl FileOps for GenFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let mut data = self.data.lock().unwrap_or_else(|e| e.into_inner());
        if off == 0 && self.regen && self.read_once.swap(true, Ordering::Relaxed) {
            *data = (self.gen)()?;
        }
        self.read_once.store(true, Ordering::Relaxed);
        let start = usize::try_from(off).unwrap_or(usize::MAX).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn seek(&self, _off: i64, whence: i32) -> Option<Result<u64, Errno>> {
        // Linux's seq_lseek.
        (self.seq && whence != libc::SEEK_SET && whence != libc::SEEK_CUR)
            .then_some(Err(Errno::EINVAL))
    }
    fn write_at(&self, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let w = self.write.as_ref().ok_or(Errno::EBADF)?;
        // Like Linux's handlers, a long write is cut to what the file
        // takes and reported written whole.
        w(&buf[..buf.len().min(MAX_WRITE)])?;
        Ok(buf.len())
    }
}

/// A read-only file whose contents were made when it was opened.
pub struct TextFile {
    data: Vec<u8>,
}

impl FileOps for TextFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let start = usize::try_from(off)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Ok(n)
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
}

/// A node of a small synthetic tree (/proc/sys, /sys), built whole when
/// its top directory is looked up.
#[derive(Clone)]
pub(crate) enum Node {
    Dir(Arc<Vec<(String, Node)>>),
    File(Arc<GenInode>),
}

impl Node {
    pub(crate) fn dir(children: Vec<(String, Node)>) -> Node {
        Node::Dir(Arc::new(children))
    }

    fn dtype(&self) -> u8 {
        match self {
            Node::Dir(_) => libc::DT_DIR,
            Node::File(_) => libc::DT_REG,
        }
    }
}

/// A directory of a synthetic tree; `key` names it for inode numbers
/// (`sys:/devices/system/cpu`).
pub(crate) struct TreeDir {
    pub key: String,
    pub children: Arc<Vec<(String, Node)>>,
    pub magic: i64,
}

impl TreeDir {
    fn child_key(&self, name: &str) -> String {
        if self.key.ends_with('/') {
            format!("{}{name}", self.key)
        } else {
            format!("{}/{name}", self.key)
        }
    }

    pub(crate) fn inode_of(&self, name: &str, node: &Node) -> InodeRef {
        let key = self.child_key(name);
        match node {
            Node::Dir(c) => Arc::new(TreeDir {
                key,
                children: c.clone(),
                magic: self.magic,
            }),
            Node::File(f) => f.clone(),
        }
    }
}

impl Inode for TreeDir {
    fn ino(&self) -> u64 {
        path_ino(&self.key)
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino(), self.mode(), 2))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        self.children
            .iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|(n, node)| self.inode_of(n, node))
            .ok_or(Errno::ENOENT)
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(self
            .children
            .iter()
            .map(|(n, node)| entry(path_ino(&self.child_key(n)), node.dtype(), n.as_bytes()))
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(self.magic, 0, 0))
    }
}

// ---------------------------------------------------------------------------
// Descriptors: /proc/PID/fd and /dev/fd.

/// A directory of descriptors: the looker's (/dev/fd, `owner` None) or one
/// process's (/proc/PID/fd).
pub struct FdDir {
    ino: u64,
    owner: Option<Weak<FdTable>>,
    ids: (u32, u32),
}

impl FdDir {
    #[allow(clippy::new_ret_no_self)] // always used as an inode reference
    pub fn new() -> InodeRef {
        Arc::new(FdDir {
            ino: super::anon_ino(),
            owner: None,
            ids: (0, 0),
        })
    }

    pub(crate) fn of(ino: u64, fds: Weak<FdTable>, ids: (u32, u32)) -> InodeRef {
        Arc::new(FdDir {
            ino,
            owner: Some(fds),
            ids,
        })
    }

    fn table(&self, ctx: Option<&Ctx<'_>>) -> Option<Arc<FdTable>> {
        match &self.owner {
            Some(w) => w.upgrade(),
            None => ctx.and_then(|c| c.fds.clone()),
        }
    }

    fn link(&self, fd: i32) -> InodeRef {
        Arc::new(FdLink {
            fd,
            ino: self.ino.wrapping_add(1 + fd as u64),
            alias: false,
            owner: self.owner.clone(),
            ids: self.ids,
        })
    }
}

impl Inode for FdDir {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o500
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 2, self.ids))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let fd = parse_fd(name).ok_or(Errno::ENOENT)?;
        if self.owner.is_some() {
            let fds = self.table(None).ok_or(Errno::ENOENT)?;
            fds.get(fd).map_err(|_| Errno::ENOENT)?;
        }
        Ok(self.link(fd))
    }
    fn lookup_by(&self, name: &[u8], ctx: &Ctx<'_>) -> Result<InodeRef, Errno> {
        let fd = parse_fd(name).ok_or(Errno::ENOENT)?;
        if let Some(fds) = self.table(Some(ctx)) {
            fds.get(fd).map_err(|_| Errno::ENOENT)?;
        } else if self.owner.is_some() {
            return Err(Errno::ENOENT);
        }
        Ok(self.link(fd))
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(Vec::new())
    }
    fn readdir_by(&self, ctx: &Ctx<'_>) -> Result<Vec<DirEntry>, Errno> {
        let Some(fds) = self.table(Some(ctx)) else {
            return Ok(Vec::new());
        };
        Ok(fd_entries(self.ino, &fds, libc::DT_LNK))
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
}

/// A link to descriptor `fd` of whoever follows it (or of the process in
/// `owner`). `alias` links (/dev/stdin ...) read as `/proc/self/fd/N`, as
/// Linux's do; the others read as the path of the open file.
pub struct FdLink {
    fd: i32,
    ino: u64,
    alias: bool,
    owner: Option<Weak<FdTable>>,
    ids: (u32, u32),
}

impl FdLink {
    #[allow(clippy::new_ret_no_self)] // always used as an inode reference
    pub fn new(fd: i32, alias: bool) -> InodeRef {
        Arc::new(FdLink {
            fd,
            ino: super::anon_ino(),
            alias,
            owner: None,
            ids: (0, 0),
        })
    }

    pub fn fd(&self) -> i32 {
        self.fd
    }

    fn table(&self, ctx: &Ctx<'_>) -> Option<Arc<FdTable>> {
        match &self.owner {
            Some(w) => w.upgrade(),
            None => ctx.fds.clone(),
        }
    }
}

impl Inode for FdLink {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        if self.alias {
            return libc::S_IFLNK | 0o777;
        }
        // As Linux's proc_fd_link mode: r-x for reading, -wx for writing,
        // nothing for an O_PATH descriptor.
        let Some(file) = self
            .owner
            .as_ref()
            .and_then(Weak::upgrade)
            .and_then(|t| t.get(self.fd).ok())
        else {
            return libc::S_IFLNK | 0o700;
        };
        let flags = file.flags();
        if flags & libc::O_PATH != 0 {
            return libc::S_IFLNK;
        }
        match flags & libc::O_ACCMODE {
            libc::O_RDONLY => libc::S_IFLNK | 0o500,
            libc::O_WRONLY => libc::S_IFLNK | 0o300,
            _ => libc::S_IFLNK | 0o700,
        }
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 1, self.ids))
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        if let Some(fds) = self.owner.as_ref().and_then(Weak::upgrade) {
            return Ok(fds.get(self.fd).map_err(|_| Errno::ENOENT)?.path());
        }
        Ok(format!("/proc/self/fd/{}", self.fd).into_bytes())
    }
    fn readlink_by(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
        if self.alias {
            return self.readlink();
        }
        match self.table(ctx) {
            Some(fds) => Ok(fds.get(self.fd).map_err(|_| Errno::ENOENT)?.path()),
            None if self.owner.is_some() => Err(Errno::ENOENT),
            None => self.readlink(),
        }
    }
    fn magic(&self, ctx: &Ctx<'_>) -> Option<Result<AtTarget, Errno>> {
        let fds = match &self.owner {
            Some(w) => match w.upgrade() {
                Some(f) => f,
                None => return Some(Err(Errno::ENOENT)),
            },
            None => ctx.fds.clone()?,
        };
        Some(match fds.get(self.fd) {
            Ok(f) => Ok(AtTarget::File(f)),
            Err(_) => Err(Errno::ENOENT),
        })
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

// ---------------------------------------------------------------------------
// The mount table.

/// Escapes what /proc/mounts escapes in paths (octal, as Linux's
/// mangle does).
fn mangle(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(path.len());
    for &c in path {
        match c {
            b' ' | b'\t' | b'\n' | b'\\' => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
            _ => out.push(c),
        }
    }
    out
}

/// /proc/PID/mounts: `source path type options 0 0`.
pub(crate) fn mounts_text(vfs: &Vfs) -> Vec<u8> {
    let mut text = Vec::new();
    for m in vfs.mounts() {
        text.extend_from_slice(&mangle(&m.sb.source));
        text.push(b' ');
        text.extend_from_slice(&mangle(&m.path));
        text.extend_from_slice(format!(" {} {} 0 0\n", m.fstype, m.mounts_options()).as_bytes());
    }
    text
}

/// /proc/PID/mountinfo: `id parent major:minor root path options
/// [optional fields] - type source super-options`. The root's parent is
/// outside the namespace, as in a container.
pub(crate) fn mountinfo_text(vfs: &Vfs) -> Vec<u8> {
    let mut text = Vec::new();
    for m in vfs.mounts() {
        let parent = m.mountpoint.as_ref().map_or(0, |(id, _)| *id);
        text.extend_from_slice(
            format!(
                "{} {} {}:{} ",
                m.id,
                parent,
                libc::major(m.dev),
                libc::minor(m.dev)
            )
            .as_bytes(),
        );
        text.extend_from_slice(&mangle(&m.fs_root));
        text.push(b' ');
        text.extend_from_slice(&mangle(&m.path));
        text.extend_from_slice(
            format!(
                " {} {}- {} ",
                m.mount_options(),
                m.optional_fields(),
                m.fstype
            )
            .as_bytes(),
        );
        text.extend_from_slice(&mangle(&m.sb.source));
        text.extend_from_slice(format!(" {}\n", m.sb.options_text()).as_bytes());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_names_parse_as_procfs_does() {
        assert_eq!(parse_fd(b"0"), Some(0));
        assert_eq!(parse_fd(b"12"), Some(12));
        assert_eq!(parse_fd(b"012"), None);
        assert_eq!(parse_fd(b"-1"), None);
        assert_eq!(parse_fd(b""), None);
        assert_eq!(parse_fd(b"99999999999"), None);
    }

    fn read_all(f: &InodeRef) -> String {
        let ops = f.clone().open(libc::O_RDONLY).unwrap();
        let mut buf = vec![0u8; 65536];
        let n = ops.read_at(&mut buf, 0).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    fn vfs_with_space() -> Arc<Vfs> {
        let root = super::super::tmpfs::Tmpfs::new_root(
            &crate::mm::MemoryFile::new().unwrap(),
            0o755,
            Default::default(),
        );
        root.mkdir(b"a b", 0o755, Default::default()).unwrap();
        let vfs = Vfs::with_root(root, "overlay");
        vfs.mount_at(
            b"/a b",
            super::super::tmpfs::Tmpfs::new_root(
                &crate::mm::MemoryFile::new().unwrap(),
                0o755,
                Default::default(),
            ),
            "tmpfs",
        )
        .unwrap();
        vfs
    }

    #[test]
    fn mounts_lists_the_table_with_escapes() {
        let vfs = vfs_with_space();
        assert_eq!(
            String::from_utf8(mounts_text(&vfs)).unwrap(),
            "overlay / overlay rw,relatime 0 0\ntmpfs /a\\040b tmpfs rw,relatime 0 0\n"
        );
    }

    #[test]
    fn mountinfo_links_mounts_to_their_parents() {
        let vfs = vfs_with_space();
        let text = String::from_utf8(mountinfo_text(&vfs)).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("1 0 0:33 / / rw,relatime - overlay overlay rw"));
        assert!(
            lines[1].starts_with("2 1 0:34 / /a\\040b rw,relatime - tmpfs tmpfs rw"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn root_lists_system_files_and_resolves_self_only_for_a_task() {
        let vfs = vfs_with_space();
        let root = new_procfs(Arc::downgrade(&vfs), None);
        let names: Vec<String> = root
            .readdir()
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.name).unwrap())
            .collect();
        for n in [
            "self",
            "thread-self",
            "cpuinfo",
            "meminfo",
            "stat",
            "sys",
            "sysvipc",
        ] {
            assert!(names.iter().any(|x| x == n), "{n} missing in {names:?}");
        }
        let s = root.lookup(b"self").unwrap();
        assert_eq!(s.readlink(), Err(Errno::ENOENT));
        assert_eq!(root.lookup(b"1").err(), Some(Errno::ENOENT));
        // The same path is the same inode number each time.
        assert_eq!(
            root.lookup(b"meminfo").unwrap().ino(),
            root.lookup(b"meminfo").unwrap().ino()
        );
    }

    #[test]
    fn generated_files_refresh_on_rewind_and_refuse_writes() {
        use std::sync::atomic::AtomicU32;
        let n = Arc::new(AtomicU32::new(0));
        let n2 = n.clone();
        let f: InodeRef = Arc::new(GenInode::new(
            7,
            0o444,
            Arc::new(move || Ok(format!("{}\n", n2.fetch_add(1, Ordering::Relaxed)).into_bytes())),
        ));
        assert_eq!(read_all(&f), "0\n");
        let ops = f.clone().open(libc::O_RDONLY).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(ops.read_at(&mut buf, 0).unwrap(), 2);
        assert_eq!(&buf[..2], b"1\n");
        assert_eq!(ops.read_at(&mut buf, 2).unwrap(), 0);
        assert_eq!(ops.read_at(&mut buf, 0).unwrap(), 2);
        assert_eq!(&buf[..2], b"2\n");
        assert_eq!(f.clone().open(libc::O_WRONLY).err(), Some(Errno::EACCES));
    }

    #[test]
    fn uuids_are_version_4() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, random_uuid());
    }
}
