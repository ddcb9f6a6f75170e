//! /proc/PID and /proc/PID/task/TID.
//!
//! A directory names a thread group and, inside `task/`, one thread. The
//! process-level files answer for the group: the leader's name and state,
//! the sum of its threads' CPU time, its signals. A thread's MM, fd table
//! and fs context are reached through the weak view it publishes
//! ([`crate::kernel::TaskView`]); a zombie has none, so its maps,
//! cmdline and fd/ are empty, as on Linux.
//!
//! Whom a directory is about is a [`super::target::Target`]; the files'
//! contents are made in [`super::files`].

use std::sync::{Arc, Weak};

use super::target::{dir_key, Target};
use super::{
    entry, fd_entries, owned_attrs, parse_num, path_ino, FdDir, GenFn, GenInode, ProcState,
    TextLink,
};
use crate::errno::Errno;
use crate::kernel::access::PtraceMode;
use crate::kernel::namespaces::nsfs::NsFile;
use crate::kernel::namespaces::{NsRef, PROC_CGROUP_INIT_INO};
use crate::kernel::{Kernel, Task, ThreadGroup};
use crate::mm::MemoryManager;
use crate::vfs::ops::{self, AtTarget, Ctx};
use crate::vfs::{DirEntry, FdTable, File, FileOps, FsContext, Inode, InodeRef};

/// The ns/ links: the kinds the Sentry gives per task (None: the task's
/// own, a link to its namespace file), and the kinds it has one of
/// (Linux's initial inode numbers).
const NAMESPACES: [(&str, &str, Option<u64>); 10] = [
    ("cgroup", "cgroup", Some(PROC_CGROUP_INIT_INO)),
    ("ipc", "ipc", None),
    ("mnt", "mnt", None),
    ("net", "net", None),
    ("pid", "pid", None),
    ("pid_for_children", "pid", None),
    ("time", "time", Some(PROC_TIME_INIT_INO)),
    ("time_for_children", "time", Some(PROC_TIME_INIT_INO)),
    ("user", "user", None),
    ("uts", "uts", None),
];

/// Linux's initial time namespace's number.
const PROC_TIME_INIT_INO: u64 = 0xEFFF_FFFA;

/// The inode number of /proc/PID (tid None) or /proc/PID/task/TID.
pub(super) fn dir_ino(pid: i32, tid: Option<i32>) -> u64 {
    path_ino(&dir_key(pid, tid))
}

/// /proc/N: a thread group, or (hidden from readdir, as on Linux) a thread
/// that is not a group leader, shown as its own directory. `pid` is the
/// kernel id (the caller translated the name through its procfs's PID
/// namespace).
pub(super) fn pid_dir(state: &Arc<ProcState>, k: &Arc<Kernel>, pid: i32) -> Option<InodeRef> {
    let (tg, thread) = {
        let pids = k.pids.lock().unwrap();
        match pids.groups.get(&pid) {
            Some(g) => (g.clone(), None),
            None => {
                let t = pids.tasks.get(&pid)?;
                (t.tg.clone(), Some(pid))
            }
        }
    };
    Some(Arc::new(PidDir {
        t: Target {
            kernel: Arc::downgrade(k),
            tg: Arc::downgrade(&tg),
            pid,
            tid: thread,
            looker: None,
            state: state.clone(),
        },
    }))
}

/// /proc/PID or /proc/PID/task/TID.
struct PidDir {
    t: Target,
}

/// The process a descriptor of a /proc/PID directory names: Linux's
/// pidfd_send_signal takes one as a pidfd (not a task/TID directory).
pub fn process_of_dir(f: &File) -> Option<Arc<ThreadGroup>> {
    let d = f.dentry()?;
    let inode: &dyn std::any::Any = &*d.inode;
    let dir = inode.downcast_ref::<PidDir>()?;
    if dir.t.tid.is_some() {
        return None;
    }
    dir.t.tg.upgrade()
}

const PID_ENTRIES: [(&str, u8); 36] = [
    ("auxv", libc::DT_REG),
    ("cgroup", libc::DT_REG),
    ("cmdline", libc::DT_REG),
    ("comm", libc::DT_REG),
    ("cwd", libc::DT_LNK),
    ("environ", libc::DT_REG),
    ("exe", libc::DT_LNK),
    ("fd", libc::DT_DIR),
    ("fdinfo", libc::DT_DIR),
    ("gid_map", libc::DT_REG),
    ("io", libc::DT_REG),
    ("limits", libc::DT_REG),
    ("loginuid", libc::DT_REG),
    ("maps", libc::DT_REG),
    ("mem", libc::DT_REG),
    ("mountinfo", libc::DT_REG),
    ("mounts", libc::DT_REG),
    ("net", libc::DT_DIR),
    ("ns", libc::DT_DIR),
    ("oom_adj", libc::DT_REG),
    ("oom_score", libc::DT_REG),
    ("oom_score_adj", libc::DT_REG),
    ("personality", libc::DT_REG),
    ("root", libc::DT_LNK),
    ("sched", libc::DT_REG),
    ("schedstat", libc::DT_REG),
    ("sessionid", libc::DT_REG),
    ("setgroups", libc::DT_REG),
    ("smaps", libc::DT_REG),
    ("stat", libc::DT_REG),
    ("statm", libc::DT_REG),
    ("status", libc::DT_REG),
    ("task", libc::DT_DIR),
    ("timers", libc::DT_REG),
    ("uid_map", libc::DT_REG),
    ("wchan", libc::DT_REG),
];

impl PidDir {
    fn make(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let name = std::str::from_utf8(name).map_err(|_| Errno::ENOENT)?;
        if !PID_ENTRIES.iter().any(|(n, _)| *n == name) {
            return Err(Errno::ENOENT);
        }
        let t = self.t.clone();
        let key = format!("{}/{name}", t.key());
        let ino = path_ino(&key);
        let ids = t.ids();
        Ok(match name {
            "cwd" | "root" | "exe" => Arc::new(TaskLink {
                ino,
                t,
                kind: match name {
                    "cwd" => LinkKind::Cwd,
                    "root" => LinkKind::Root,
                    _ => LinkKind::Exe,
                },
                ids,
            }),
            "fd" => match t.view().1 {
                Some(fds) => FdDir::of(ino, Arc::downgrade(&fds), ids),
                // A zombie: an empty directory.
                None => FdDir::of(ino, Weak::new(), ids),
            },
            "fdinfo" => Arc::new(FdInfoDir {
                ino,
                fds: t.view().1.as_ref().map(Arc::downgrade).unwrap_or_default(),
                ids,
            }),
            "net" => Arc::new(super::net::NetDir { ino, t }),
            "mem" => Arc::new(super::mem::MemInode { ino, t }),
            "ns" => Arc::new(NsDir { ino, ids, t }),
            "task" => {
                if t.is_task_entry() {
                    return Err(Errno::ENOENT);
                }
                Arc::new(TaskDir { ino, t })
            }
            _ => Arc::new(super::files::file_of(&t, name)?),
        })
    }
}

impl Inode for PidDir {
    fn ino(&self) -> u64 {
        path_ino(&self.t.key())
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut st = owned_attrs(self.ino(), self.mode(), 9, self.t.ids());
        // The start time, which ps shows for the process.
        if let (Ok(k), Ok(tg)) = (self.t.kernel(), self.t.tg()) {
            let since = tg.start.saturating_duration_since(k.boot);
            let wall = k.boot_wall + since;
            if let Ok(d) = wall.duration_since(std::time::UNIX_EPOCH) {
                let s = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                st.st_atime = s;
                st.st_mtime = s;
                st.st_ctime = s;
            }
        }
        Ok(st)
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        self.t.tg()?;
        self.make(name)
    }
    fn lookup_by(&self, name: &[u8], ctx: &Ctx<'_>) -> Result<InodeRef, Errno> {
        self.t.tg()?;
        let dir = PidDir {
            t: Target {
                looker: ctx.caller.and_then(Task::of).map(|t| t.tid),
                ..self.t.clone()
            },
        };
        dir.make(name)
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let key = self.t.key();
        Ok(PID_ENTRIES
            .iter()
            .filter(|(n, _)| !(self.t.is_task_entry() && *n == "task"))
            .map(|(n, ty)| entry(path_ino(&format!("{key}/{n}")), *ty, n.as_bytes()))
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::super::DirFile))
    }
}

/// /proc/PID/task: the group's threads.
struct TaskDir {
    ino: u64,
    t: Target,
}

impl Inode for TaskDir {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 3, self.t.ids()))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let tid = parse_num(name).ok_or(Errno::ENOENT)?;
        let tid = self.t.pidns()?.kernel_pid(tid).ok_or(Errno::ENOENT)?;
        let s = self.t.snap()?;
        // A zombie keeps its leader's entry.
        if !(s.tids.contains(&tid) || (s.tids.is_empty() && tid == s.tg.tgid)) {
            return Err(Errno::ENOENT);
        }
        let mut t = self.t.clone();
        t.tid = Some(tid);
        if s.tids.is_empty() {
            t.tid = None;
        }
        Ok(Arc::new(PidDir { t }))
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let s = self.t.snap()?;
        let mut tids = s.tids;
        if tids.is_empty() {
            tids.push(s.tg.tgid);
        }
        let mut tids: Vec<(i32, i32)> = tids.into_iter().map(|k| (self.t.nr(k), k)).collect();
        tids.sort_unstable();
        Ok(tids
            .into_iter()
            .map(|(tid, k)| {
                entry(
                    dir_ino(self.t.pid, Some(k)),
                    libc::DT_DIR,
                    tid.to_string().as_bytes(),
                )
            })
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::super::DirFile))
    }
}

#[derive(Clone, Copy)]
enum LinkKind {
    Cwd,
    Exe,
    Root,
}

/// /proc/PID/{cwd,exe,root}: magic links into the target's context.
struct TaskLink {
    ino: u64,
    t: Target,
    kind: LinkKind,
    ids: (u32, u32),
}

impl TaskLink {
    fn exe_path(mm: &MemoryManager, fs: Option<&FsContext>) -> Vec<u8> {
        let exe = mm.inner().exe.clone();
        if exe.first() == Some(&b'/') {
            return exe;
        }
        // A relative path names the file from where the task was.
        let mut p = fs.map_or_else(|| b"/".to_vec(), |f| f.cwd().path());
        if p != b"/" {
            p.push(b'/');
        }
        p.extend_from_slice(&exe);
        crate::vfs::path::normalize(&p)
    }

    fn target(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
        if !self.t.may_access(ctx, PtraceMode::ReadFsCreds) {
            return Err(Errno::EACCES);
        }
        let (mm, _, fs) = self.t.view();
        Ok(match self.kind {
            LinkKind::Cwd => fs.ok_or(Errno::ENOENT)?.cwd().path(),
            LinkKind::Root => fs.ok_or(Errno::ENOENT)?.root().path(),
            LinkKind::Exe => TaskLink::exe_path(&*mm.ok_or(Errno::ENOENT)?, fs.as_deref()),
        })
    }
}

impl Inode for TaskLink {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFLNK | 0o777
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 1, self.ids))
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::ENOENT)
    }
    fn readlink_by(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
        self.target(ctx)
    }
    fn magic(&self, ctx: &Ctx<'_>) -> Option<Result<AtTarget, Errno>> {
        if !self.t.may_access(ctx, PtraceMode::ReadFsCreds) {
            return Some(Err(Errno::EACCES));
        }
        let (mm, _, fs) = self.t.view();
        Some(match self.kind {
            LinkKind::Cwd => fs.map(|f| AtTarget::Dentry(f.cwd())).ok_or(Errno::ENOENT),
            LinkKind::Root => fs.map(|f| AtTarget::Dentry(f.root())).ok_or(Errno::ENOENT),
            LinkKind::Exe => match mm {
                Some(mm) => {
                    let path = TaskLink::exe_path(&mm, fs.as_deref());
                    // Resolved as nobody in particular: an exe path that is
                    // itself /proc/self/exe must not lead here again.
                    let plain = Ctx::new(ctx.vfs, ctx.root.clone(), ctx.cred.clone(), ctx.umask);
                    ops::walk_target(&plain, ctx.root.clone(), &path, true)
                }
                None => Err(Errno::ENOENT),
            },
        })
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

/// /proc/PID/fdinfo: one file per descriptor.
struct FdInfoDir {
    ino: u64,
    fds: Weak<FdTable>,
    ids: (u32, u32),
}

impl Inode for FdInfoDir {
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
        let fd = parse_num(name).ok_or(Errno::ENOENT)?;
        let fds = self.fds.upgrade().ok_or(Errno::ENOENT)?;
        fds.get(fd).map_err(|_| Errno::ENOENT)?;
        let w = self.fds.clone();
        let gen: GenFn = Arc::new(move || {
            let fds = w.upgrade().ok_or(Errno::ESRCH)?;
            let (f, cloexec) = fds.get_with_flags(fd).map_err(|_| Errno::ENOENT)?;
            let mut flags = f.flags() as u32;
            if cloexec {
                flags |= libc::O_CLOEXEC as u32;
            }
            let (mnt, ino) = match f.dentry() {
                Some(d) => (d.mount.id, d.inode.ino()),
                None => (0, f.stat().map(|s| s.st_ino).unwrap_or(0)),
            };
            let mut info = format!(
                "pos:\t{}\nflags:\t0{:o}\nmnt_id:\t{mnt}\nino:\t{ino}\n",
                f.offset(),
                flags
            )
            .into_bytes();
            info.extend(f.ops().fdinfo());
            Ok(info)
        });
        let mut g = GenInode::new(self.ino.wrapping_add(1 + fd as u64), 0o400, gen);
        g.owner = self.ids;
        // Generated at open only: reading fdinfo/N of the description
        // being read would wait on its own offset lock.
        g.regen = false;
        Ok(Arc::new(g))
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        let Some(fds) = self.fds.upgrade() else {
            return Ok(Vec::new());
        };
        Ok(fd_entries(self.ino, &fds, libc::DT_REG))
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::super::DirFile))
    }
}

/// /proc/PID/ns: `type:[inode]` links, one namespace of each kind.
struct NsDir {
    ino: u64,
    ids: (u32, u32),
    t: Target,
}

impl Inode for NsDir {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o511
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 2, self.ids))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let (i, (_, kind, fixed)) = NAMESPACES
            .iter()
            .enumerate()
            .find(|(_, (n, _, _))| n.as_bytes() == name)
            .ok_or(Errno::ENOENT)?;
        let ino = self.ino.wrapping_add(1 + i as u64);
        if let Some(nsino) = fixed {
            return Ok(TextLink::new(ino, format!("{kind}:[{nsino}]").as_bytes()));
        }
        let task = self.t.snap()?.task.ok_or(Errno::ENOENT)?;
        let user = task.creds.lock().unwrap().user_ns.0.clone();
        let ns = task
            .ns
            .lock()
            .unwrap()
            .get(name, &user, &task.tg.pidns)
            .ok_or(Errno::ENOENT)?;
        if let NsRef::Pid(p, _) = &ns {
            if !p.has_had_init() {
                return Err(Errno::ENOENT);
            }
        }
        Ok(Arc::new(NsLink {
            ino,
            ns,
            ids: self.ids,
            t: self.t.clone(),
        }))
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(NAMESPACES
            .iter()
            .enumerate()
            .map(|(i, (n, _, _))| {
                entry(
                    self.ino.wrapping_add(1 + i as u64),
                    libc::DT_LNK,
                    n.as_bytes(),
                )
            })
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::super::DirFile))
    }
}

/// /proc/PID/ns/KIND of a kind the task has its own of: reads as
/// `kind:[inode]`, opens (and stats) as the namespace's file.
struct NsLink {
    ino: u64,
    ns: NsRef,
    ids: (u32, u32),
    t: Target,
}

impl Inode for NsLink {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFLNK | 0o777
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 1, self.ids))
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Ok(self.ns.link_text().into_bytes())
    }
    fn readlink_by(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
        if !self.t.may_access(ctx, PtraceMode::ReadFsCreds) {
            return Err(Errno::EACCES);
        }
        self.readlink()
    }
    fn magic(&self, ctx: &Ctx<'_>) -> Option<Result<AtTarget, Errno>> {
        if !self.t.may_access(ctx, PtraceMode::ReadFsCreds) {
            return Some(Err(Errno::EACCES));
        }
        Some(Ok(AtTarget::File(NsFile::open(
            self.ns.clone(),
            libc::O_RDONLY | crate::vfs::O_LARGEFILE,
        ))))
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}
