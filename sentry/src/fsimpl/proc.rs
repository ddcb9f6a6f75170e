//! A first procfs: what programs reach for most.
//!
//! `/proc/self` and `/proc/<own pid>/` with `fd/`, `exe`, `cwd`, `root` and
//! `mounts`; `/proc/mounts`. Everything here answers for the task that
//! looks (through [`Ctx`]), so the magic links (`fd/N`, `exe`, `cwd`) lead
//! to that task's open files and directories, as on Linux.
//!
//! Other processes' directories, and the system files (cpuinfo, meminfo,
//! stat ...), are the full procfs's job (the filesystem issue); this is
//! the seam it grows from.

use std::sync::{Arc, Weak};

use crate::errno::Errno;
use crate::vfs::ops::{self, AtTarget, Ctx};
use crate::vfs::{DirEntry, FileOps, Inode, InodeRef, Time, Vfs};

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

fn entry(ino: u64, ty: u8, name: &[u8]) -> DirEntry {
    DirEntry {
        ino,
        ty,
        name: name.to_vec(),
    }
}

/// The looking task's thread-group id, if a task looks.
fn looker_tgid(ctx: &Ctx<'_>) -> Option<i32> {
    ctx.task.map(|t| t.tgid())
}

/// A fresh /proc over the namespace `vfs` (for its mount table).
pub fn new_procfs(vfs: Weak<Vfs>) -> InodeRef {
    Arc::new(ProcRoot {
        ino: super::anon_ino(),
        self_link: Arc::new(SelfLink {
            ino: super::anon_ino(),
        }),
        mounts_link: Arc::new(TextLink {
            ino: super::anon_ino(),
            target: b"self/mounts",
        }),
        pid_ino: super::anon_ino(),
        vfs,
    })
}

struct ProcRoot {
    ino: u64,
    self_link: InodeRef,
    mounts_link: InodeRef,
    pid_ino: u64,
    vfs: Weak<Vfs>,
}

impl ProcRoot {
    fn pid_dir(&self, tgid: i32) -> InodeRef {
        Arc::new(PidDir {
            tgid,
            ino: self.pid_ino,
            vfs: self.vfs.clone(),
        })
    }
}

impl Inode for ProcRoot {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino, self.mode(), 2))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        match name {
            b"self" => Ok(self.self_link.clone()),
            b"mounts" => Ok(self.mounts_link.clone()),
            _ => Err(Errno::ENOENT),
        }
    }
    fn lookup_by(&self, name: &[u8], ctx: &Ctx<'_>) -> Result<InodeRef, Errno> {
        if let Some(tgid) = looker_tgid(ctx) {
            if name == tgid.to_string().as_bytes() {
                return Ok(self.pid_dir(tgid));
            }
        }
        self.lookup(name)
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(vec![
            entry(self.self_link.ino(), libc::DT_LNK, b"self"),
            entry(self.mounts_link.ino(), libc::DT_LNK, b"mounts"),
        ])
    }
    fn readdir_by(&self, ctx: &Ctx<'_>) -> Result<Vec<DirEntry>, Errno> {
        let mut v = self.readdir()?;
        if let Some(tgid) = looker_tgid(ctx) {
            v.push(entry(
                self.pid_ino,
                libc::DT_DIR,
                tgid.to_string().as_bytes(),
            ));
        }
        Ok(v)
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
    fn statfs(&self) -> Result<libc::statfs, Errno> {
        Ok(crate::vfs::statfs_of(libc::PROC_SUPER_MAGIC, 0, 0))
    }
}

/// /proc/self: the looker's pid.
struct SelfLink {
    ino: u64,
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
        looker_tgid(ctx)
            .map(|t| t.to_string().into_bytes())
            .ok_or(Errno::ENOENT)
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

/// A plain symlink (/proc/mounts -> self/mounts).
struct TextLink {
    ino: u64,
    target: &'static [u8],
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
        Ok(self.target.to_vec())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

/// /proc/<pid>: served for the looker's own process only.
struct PidDir {
    tgid: i32,
    ino: u64,
    vfs: Weak<Vfs>,
}

const PID_ENTRIES: [(&[u8], u8); 5] = [
    (b"cwd", libc::DT_LNK),
    (b"exe", libc::DT_LNK),
    (b"fd", libc::DT_DIR),
    (b"mounts", libc::DT_REG),
    (b"root", libc::DT_LNK),
];

impl Inode for PidDir {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino, self.mode(), 2))
    }
    fn lookup(&self, _name: &[u8]) -> Result<InodeRef, Errno> {
        Err(Errno::ENOENT)
    }
    fn lookup_by(&self, name: &[u8], ctx: &Ctx<'_>) -> Result<InodeRef, Errno> {
        if looker_tgid(ctx) != Some(self.tgid) {
            return Err(Errno::ENOENT);
        }
        let ino = super::anon_ino();
        Ok(match name {
            b"cwd" => Arc::new(TaskLink {
                ino,
                kind: LinkKind::Cwd,
            }),
            b"exe" => Arc::new(TaskLink {
                ino,
                kind: LinkKind::Exe,
            }),
            b"root" => Arc::new(TaskLink {
                ino,
                kind: LinkKind::Root,
            }),
            b"fd" => Arc::new(FdDir { ino }),
            b"mounts" => Arc::new(MountsFile {
                ino,
                vfs: self.vfs.clone(),
            }),
            _ => return Err(Errno::ENOENT),
        })
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(PID_ENTRIES
            .iter()
            .enumerate()
            .map(|(i, (n, ty))| entry(self.ino + 1 + i as u64, *ty, n))
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
}

#[derive(Clone, Copy)]
enum LinkKind {
    Cwd,
    Exe,
    Root,
}

/// /proc/<pid>/{cwd,exe,root}: magic links into the looker's context.
struct TaskLink {
    ino: u64,
    kind: LinkKind,
}

impl TaskLink {
    fn exe_path(t: &crate::kernel::task::Task) -> Vec<u8> {
        let exe = t.mm.inner().exe.clone();
        if exe.first() == Some(&b'/') {
            return exe;
        }
        // A relative path names the file from where the task was.
        let mut p = t.fs.cwd().path();
        if p != b"/" {
            p.push(b'/');
        }
        p.extend_from_slice(&exe);
        crate::vfs::path::normalize(&p)
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
        Ok(attrs(self.ino, self.mode(), 1))
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Err(Errno::ENOENT)
    }
    fn readlink_by(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
        let t = ctx.task.ok_or(Errno::ENOENT)?;
        Ok(match self.kind {
            LinkKind::Cwd => t.fs.cwd().path(),
            LinkKind::Root => t.fs.root().path(),
            LinkKind::Exe => TaskLink::exe_path(t),
        })
    }
    fn magic(&self, ctx: &Ctx<'_>) -> Option<Result<AtTarget, Errno>> {
        let t = ctx.task?;
        Some(match self.kind {
            LinkKind::Cwd => Ok(AtTarget::Dentry(t.fs.cwd())),
            LinkKind::Root => Ok(AtTarget::Dentry(t.fs.root())),
            LinkKind::Exe => {
                let path = TaskLink::exe_path(t);
                // Resolved as nobody in particular: an exe path that is
                // itself /proc/self/exe must not lead here again.
                let plain = Ctx::new(ctx.vfs, ctx.root.clone(), ctx.cred.clone(), ctx.umask);
                ops::walk_target(&plain, ctx.root.clone(), &path, true)
            }
        })
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

/// A directory of the looker's descriptors (/proc/self/fd, /dev/fd).
pub struct FdDir {
    ino: u64,
}

impl FdDir {
    #[allow(clippy::new_ret_no_self)] // always used as an inode reference
    pub fn new() -> InodeRef {
        Arc::new(FdDir {
            ino: super::anon_ino(),
        })
    }
}

fn parse_fd(name: &[u8]) -> Option<i32> {
    // Decimal without leading zeros, as procfs reads it.
    if name.is_empty()
        || (name.len() > 1 && name[0] == b'0')
        || !name.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

impl Inode for FdDir {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o500
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino, self.mode(), 2))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let fd = parse_fd(name).ok_or(Errno::ENOENT)?;
        Ok(FdLink::new(fd, false))
    }
    fn lookup_by(&self, name: &[u8], ctx: &Ctx<'_>) -> Result<InodeRef, Errno> {
        let fd = parse_fd(name).ok_or(Errno::ENOENT)?;
        if let Some(fds) = &ctx.fds {
            fds.get(fd).map_err(|_| Errno::ENOENT)?;
        }
        Ok(FdLink::new(fd, false))
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(Vec::new())
    }
    fn readdir_by(&self, ctx: &Ctx<'_>) -> Result<Vec<DirEntry>, Errno> {
        let Some(fds) = &ctx.fds else {
            return Ok(Vec::new());
        };
        Ok(fds
            .fds()
            .into_iter()
            .map(|fd| {
                entry(
                    self.ino + 1 + fd as u64,
                    libc::DT_LNK,
                    fd.to_string().as_bytes(),
                )
            })
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(super::DirFile))
    }
}

/// A link to descriptor `fd` of whoever follows it. `alias` links
/// (/dev/stdin ...) read as `/proc/self/fd/N`, as Linux's do; the others
/// read as the path of the open file.
pub struct FdLink {
    fd: i32,
    ino: u64,
    alias: bool,
}

impl FdLink {
    #[allow(clippy::new_ret_no_self)] // always used as an inode reference
    pub fn new(fd: i32, alias: bool) -> InodeRef {
        Arc::new(FdLink {
            fd,
            ino: super::anon_ino(),
            alias,
        })
    }

    pub fn fd(&self) -> i32 {
        self.fd
    }
}

impl Inode for FdLink {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        if self.alias {
            libc::S_IFLNK | 0o777
        } else {
            libc::S_IFLNK | 0o700
        }
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino, self.mode(), 1))
    }
    fn readlink(&self) -> Result<Vec<u8>, Errno> {
        Ok(format!("/proc/self/fd/{}", self.fd).into_bytes())
    }
    fn readlink_by(&self, ctx: &Ctx<'_>) -> Result<Vec<u8>, Errno> {
        match (&ctx.fds, self.alias) {
            (Some(fds), false) => Ok(fds.get(self.fd).map_err(|_| Errno::ENOENT)?.path()),
            _ => self.readlink(),
        }
    }
    fn magic(&self, ctx: &Ctx<'_>) -> Option<Result<AtTarget, Errno>> {
        let fds = ctx.fds.as_ref()?;
        Some(match fds.get(self.fd) {
            Ok(f) => Ok(AtTarget::File(f)),
            Err(_) => Err(Errno::ENOENT),
        })
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Err(Errno::ELOOP)
    }
}

/// /proc/self/mounts: the mount table, generated at open.
struct MountsFile {
    ino: u64,
    vfs: Weak<Vfs>,
}

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

fn mount_options(fstype: &str) -> &'static str {
    match fstype {
        "proc" => "rw,nosuid,nodev,noexec,relatime",
        "devtmpfs" => "rw,nosuid",
        "tmpfs" => "rw,nosuid,nodev",
        _ => "rw,relatime",
    }
}

impl Inode for MountsFile {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFREG | 0o444
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(attrs(self.ino, self.mode(), 1))
    }
    fn open(self: Arc<Self>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return Err(Errno::EACCES);
        }
        let vfs = self.vfs.upgrade().ok_or(Errno::ENOENT)?;
        let mut text = Vec::new();
        for m in vfs.mounts() {
            text.extend_from_slice(m.fstype.as_bytes());
            text.push(b' ');
            text.extend_from_slice(&mangle(&m.path));
            text.extend_from_slice(
                format!(" {} {} 0 0\n", m.fstype, mount_options(m.fstype)).as_bytes(),
            );
        }
        Ok(Arc::new(TextFile { data: text }))
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

    #[test]
    fn mounts_lists_the_table_with_escapes() {
        let root = super::super::tmpfs::Tmpfs::new_root(0o755, Default::default());
        root.mkdir(b"a b", 0o755, Default::default()).unwrap();
        let vfs = Vfs::with_root(root, "overlay");
        vfs.mount_at(
            b"/a b",
            super::super::tmpfs::Tmpfs::new_root(0o755, Default::default()),
            "tmpfs",
        )
        .unwrap();
        let f: InodeRef = Arc::new(MountsFile {
            ino: 1,
            vfs: Arc::downgrade(&vfs),
        });
        let ops = f.open(libc::O_RDONLY).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = ops.read_at(&mut buf, 0).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..n]).unwrap(),
            "overlay / overlay rw,relatime 0 0\ntmpfs /a\\040b tmpfs rw,nosuid,nodev 0 0\n"
        );
    }
}
