//! Mounts: their flags and options, the filesystems mount(2) can make,
//! and the changes to the mount table (new mounts, bind mounts, remounts,
//! propagation types, umount), as Linux's fs/namespace.c does them.
//!
//! A [`Super`] is one filesystem instance (Linux's superblock): its device
//! number, type, source, read-only flag and option text, shared by every
//! bind mount of it. A [`Mount`] carries its own flags (read-only, nosuid,
//! nodev, noexec, atime), so a bind mount can be read-only over a writable
//! filesystem. There is one mount namespace and no propagation: the
//! propagation types are recorded and shown in mountinfo, nothing more.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::ops::{self, Ctx};
use super::{anon_dev, is_dir, Cred, Dentry, InodeRef, Mount, Owner, Vfs};
use crate::errno::Errno;

/// The flags that belong to a mount rather than to its filesystem.
pub const MNT_FLAGS: u64 = libc::MS_RDONLY
    | libc::MS_NOSUID
    | libc::MS_NODEV
    | libc::MS_NOEXEC
    | libc::MS_NOATIME
    | libc::MS_NODIRATIME
    | libc::MS_RELATIME
    | libc::MS_NOSYMFOLLOW;
/// The atime flags, which a remount keeps unless it names one.
const ATIME_FLAGS: u64 = libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_RELATIME;
/// The flags of a filesystem instance (Linux's SB_* subset it shows).
pub const SB_FLAGS: u64 = libc::MS_RDONLY
    | libc::MS_SYNCHRONOUS
    | libc::MS_MANDLOCK
    | libc::MS_DIRSYNC
    | libc::MS_LAZYTIME;
const PROPAGATION_FLAGS: u64 =
    libc::MS_SHARED | libc::MS_PRIVATE | libc::MS_SLAVE | libc::MS_UNBINDABLE;

/// Most mounts in the namespace (Linux's fs.mount-max default): each
/// costs Sentry memory and slows every walk.
const MOUNT_MAX: usize = 100_000;

/// statfs f_flags bits libc lacks.
const ST_VALID: u64 = 0x0020;
const ST_NOSYMFOLLOW: u64 = 0x2000;

/// One mount of a filesystem, as a boot-time list (OCI `mounts`) or
/// mount(2) describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountSpec {
    /// The device for new mounts (shown in /proc/mounts; empty: "none"),
    /// the path to bind for MS_BIND, the mount to move for MS_MOVE.
    pub source: Vec<u8>,
    /// Absolute path of the mount point.
    pub dest: Vec<u8>,
    /// `tmpfs`, `proc`, `sysfs`, `devpts`, `mqueue`, `devtmpfs`; empty
    /// for binds, remounts and propagation changes.
    pub fstype: String,
    /// MS_* flags.
    pub flags: u64,
    /// Filesystem options, comma-separated (`size=64m,mode=755`).
    pub data: Vec<u8>,
}

/// A filesystem instance.
pub struct Super {
    pub dev: u64,
    pub fstype: &'static str,
    /// What /proc/mounts shows as the device.
    pub source: Vec<u8>,
    /// SB_FLAGS bits.
    flags: AtomicU64,
    /// The filesystem's own options as Linux shows them (`size=1024k`).
    options: String,
}

impl Super {
    pub fn new(dev: u64, fstype: &'static str, source: &[u8], flags: u64, options: String) -> Self {
        Super {
            dev,
            fstype,
            source: if source.is_empty() {
                b"none".to_vec()
            } else {
                source.to_vec()
            },
            flags: AtomicU64::new(flags & SB_FLAGS),
            options,
        }
    }

    pub fn flags(&self) -> u64 {
        self.flags.load(Ordering::Relaxed)
    }

    pub fn readonly(&self) -> bool {
        self.flags() & libc::MS_RDONLY != 0
    }

    /// `rw` or `ro`, the instance flags, then the filesystem's options
    /// (mountinfo's last field; /proc/mounts shows the tail).
    pub fn options_text(&self) -> String {
        let f = self.flags();
        let mut s = String::from(if f & libc::MS_RDONLY != 0 { "ro" } else { "rw" });
        s.push_str(&sb_flag_names(f));
        if !self.options.is_empty() {
            s.push(',');
            s.push_str(&self.options);
        }
        s
    }
}

/// Linux's show_sb_opts: the instance flags besides ro/rw.
fn sb_flag_names(f: u64) -> String {
    let mut s = String::new();
    for (bit, name) in [
        (libc::MS_SYNCHRONOUS, "sync"),
        (libc::MS_DIRSYNC, "dirsync"),
        (libc::MS_MANDLOCK, "mand"),
        (libc::MS_LAZYTIME, "lazytime"),
    ] {
        if f & bit != 0 {
            s.push(',');
            s.push_str(name);
        }
    }
    s
}

/// How a mount takes part in propagation (recorded only: there is one
/// namespace, so nothing propagates).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    Private,
    /// In the peer group with this id.
    Shared(u64),
    /// Receives from this peer group.
    Slave(u64),
    Unbindable,
}

/// What a mount holds besides its identity; in [`Mount`].
pub struct MountState {
    /// MNT_FLAGS bits.
    flags: AtomicU64,
    propagation: Mutex<Propagation>,
    /// Open files that may write through this mount (regular files opened
    /// for writing): a read-only remount is EBUSY while there are some.
    writers: AtomicU64,
    /// Set by a first umount2(MNT_EXPIRE).
    expiry_mark: AtomicBool,
    /// The versions of this mount that MS_MOVE replaced in the table
    /// (the path and mount point are in the version): dentries made
    /// before the move still hold them.
    previous: Mutex<Vec<Weak<Mount>>>,
}

impl MountState {
    pub fn new(flags: u64) -> MountState {
        MountState {
            flags: AtomicU64::new(flags & MNT_FLAGS),
            propagation: Mutex::new(Propagation::Private),
            writers: AtomicU64::new(0),
            expiry_mark: AtomicBool::new(false),
            previous: Mutex::new(Vec::new()),
        }
    }
}

impl Mount {
    /// MNT_FLAGS of this mount.
    pub fn flags(&self) -> u64 {
        self.state.flags.load(Ordering::Relaxed)
    }

    /// Writes through this mount are EROFS (the mount or its filesystem
    /// is read-only).
    pub fn readonly(&self) -> bool {
        self.flags() & libc::MS_RDONLY != 0 || self.sb.readonly()
    }

    pub fn noexec(&self) -> bool {
        self.flags() & libc::MS_NOEXEC != 0
    }

    pub fn nodev(&self) -> bool {
        self.flags() & libc::MS_NODEV != 0
    }

    pub fn nosuid(&self) -> bool {
        self.flags() & libc::MS_NOSUID != 0
    }

    pub fn propagation(&self) -> Propagation {
        *self
            .state
            .propagation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn add_writer(&self) {
        self.state.writers.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn drop_writer(&self) {
        self.state.writers.fetch_sub(1, Ordering::Relaxed);
    }

    fn writers(&self) -> u64 {
        self.state.writers.load(Ordering::Relaxed)
    }

    /// The per-mount options of mountinfo: `rw` or `ro` (of the mount
    /// alone: the filesystem's is in the super options), then Linux's
    /// show_mnt_opts.
    pub fn mount_options(&self) -> String {
        let ro = self.flags() & libc::MS_RDONLY != 0;
        let mut s = String::from(if ro { "ro" } else { "rw" });
        s.push_str(&mnt_flag_names(self.flags()));
        s
    }

    /// The options /proc/mounts shows: ro/rw, instance flags, mount
    /// flags, then the filesystem's options.
    pub fn mounts_options(&self) -> String {
        let mut s = String::from(if self.readonly() { "ro" } else { "rw" });
        s.push_str(&sb_flag_names(self.sb.flags()));
        s.push_str(&mnt_flag_names(self.flags()));
        if !self.sb.options.is_empty() {
            s.push(',');
            s.push_str(&self.sb.options);
        }
        s
    }

    /// mountinfo's optional fields, each followed by a space.
    pub fn optional_fields(&self) -> String {
        match self.propagation() {
            Propagation::Private => String::new(),
            Propagation::Shared(g) => format!("shared:{g} "),
            Propagation::Slave(g) => format!("master:{g} "),
            Propagation::Unbindable => "unbindable ".to_string(),
        }
    }

    /// statfs's f_flags (Linux's calculate_f_flags).
    pub fn statfs_flags(&self) -> u64 {
        let f = self.flags();
        let mut out = ST_VALID;
        if self.readonly() {
            out |= libc::ST_RDONLY;
        }
        for (bit, st) in [
            (libc::MS_NOSUID, libc::ST_NOSUID),
            (libc::MS_NODEV, libc::ST_NODEV),
            (libc::MS_NOEXEC, libc::ST_NOEXEC),
            (libc::MS_NOATIME, libc::ST_NOATIME),
            (libc::MS_NODIRATIME, libc::ST_NODIRATIME),
            (libc::MS_RELATIME, libc::ST_RELATIME),
            (libc::MS_NOSYMFOLLOW, ST_NOSYMFOLLOW),
        ] {
            if f & bit != 0 {
                out |= st;
            }
        }
        let sb = self.sb.flags();
        if sb & libc::MS_SYNCHRONOUS != 0 {
            out |= libc::ST_SYNCHRONOUS;
        }
        if sb & libc::MS_MANDLOCK != 0 {
            out |= libc::ST_MANDLOCK;
        }
        out
    }
}

/// Sets statfs's f_flags, which libc's struct keeps private: the word
/// after f_frsize, as in the kernel's struct statfs.
pub fn set_statfs_flags(s: &mut libc::statfs, flags: u64) {
    let at = std::mem::offset_of!(libc::statfs, f_frsize) + 8;
    let mut bytes = crate::usermem::as_bytes(s).to_vec();
    if let Some(w) = bytes.get_mut(at..at + 8) {
        w.copy_from_slice(&flags.to_ne_bytes());
        *s = crate::usermem::from_bytes(&bytes);
    }
}

/// Linux's show_mnt_opts.
fn mnt_flag_names(f: u64) -> String {
    let mut s = String::new();
    for (bit, name) in [
        (libc::MS_NOSUID, "nosuid"),
        (libc::MS_NODEV, "nodev"),
        (libc::MS_NOEXEC, "noexec"),
        (libc::MS_NOATIME, "noatime"),
        (libc::MS_NODIRATIME, "nodiratime"),
        (libc::MS_RELATIME, "relatime"),
        (libc::MS_NOSYMFOLLOW, "nosymfollow"),
    ] {
        if f & bit != 0 {
            s.push(',');
            s.push_str(name);
        }
    }
    s
}

/// EROFS for a change through a read-only mount (Linux's mnt_want_write).
pub fn want_write(d: &Dentry) -> Result<(), Errno> {
    if d.mount.readonly() {
        Err(Errno::EROFS)
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Filesystems by type name.

/// A filesystem made by [`new_filesystem`].
pub struct NewFs {
    pub root: InodeRef,
    pub fstype: &'static str,
    /// SB_FLAGS the options asked for (`ro`, `sync` ...).
    pub sb_flags: u64,
    /// The options as Linux shows them.
    pub options: String,
}

/// One `key` or `key=value` of a mount's data.
fn options_of(data: &[u8]) -> Result<Vec<(String, Option<String>)>, Errno> {
    let text = std::str::from_utf8(data).map_err(|_| Errno::EINVAL)?;
    Ok(text
        .split(',')
        .filter(|o| !o.is_empty())
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (o.to_string(), None),
        })
        .collect())
}

/// Linux's vfs_parse_sb_flag: the generic options any filesystem takes in
/// its data. Returns false for other keys.
fn sb_option(key: &str, flags: &mut u64) -> bool {
    let (set, bit) = match key {
        "ro" => (true, libc::MS_RDONLY),
        "rw" => (false, libc::MS_RDONLY),
        "sync" => (true, libc::MS_SYNCHRONOUS),
        "async" => (false, libc::MS_SYNCHRONOUS),
        "dirsync" => (true, libc::MS_DIRSYNC),
        "lazytime" => (true, libc::MS_LAZYTIME),
        "nolazytime" => (false, libc::MS_LAZYTIME),
        "mand" => (true, libc::MS_MANDLOCK),
        "nomand" => (false, libc::MS_MANDLOCK),
        _ => return false,
    };
    if set {
        *flags |= bit;
    } else {
        *flags &= !bit;
    }
    true
}

/// A number as Linux's memparse reads it: C base prefixes, then an
/// optional K/M/G/T/P/E suffix.
fn memparse(v: &str) -> Option<u64> {
    let (digits, shift) = match v.as_bytes().last()? {
        b'k' | b'K' => (&v[..v.len() - 1], 10),
        b'm' | b'M' => (&v[..v.len() - 1], 20),
        b'g' | b'G' => (&v[..v.len() - 1], 30),
        b't' | b'T' => (&v[..v.len() - 1], 40),
        b'p' | b'P' => (&v[..v.len() - 1], 50),
        b'e' | b'E' => (&v[..v.len() - 1], 60),
        _ => (v, 0),
    };
    let n = parse_c_number(digits)?;
    n.checked_mul(1u64 << shift)
}

/// An unsigned number with C's base prefixes (0x hex, 0 octal).
fn parse_c_number(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_id(v: Option<&str>) -> Result<u32, Errno> {
    let id: u32 = v.ok_or(Errno::EINVAL)?.parse().map_err(|_| Errno::EINVAL)?;
    if id == u32::MAX {
        return Err(Errno::EINVAL);
    }
    Ok(id)
}

fn parse_mode(v: Option<&str>) -> Result<u32, Errno> {
    let m = u32::from_str_radix(v.ok_or(Errno::EINVAL)?, 8).map_err(|_| Errno::EINVAL)?;
    Ok(m & 0o7777)
}

const PAGE: u64 = 4096;

/// Total memory, for tmpfs's `size=N%`.
fn total_ram() -> u64 {
    let s = crate::fsimpl::proc::system::host_sysinfo();
    u64::from(s.mem_unit.max(1)).saturating_mul(s.totalram)
}

/// Makes a filesystem of type `fstype` with the options in `data`, as
/// mount(2) does for a new mount. ENODEV for a type we do not have,
/// EINVAL for an option the type does not take.
pub fn new_filesystem(fstype: &str, data: &[u8], vfs: &Weak<Vfs>) -> Result<NewFs, Errno> {
    let opts = options_of(data)?;
    let mut sb_flags = 0u64;
    let mut shown: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    for (k, v) in opts {
        if !sb_option(&k, &mut sb_flags) && k != "source" {
            rest.push((k, v));
        }
    }
    let (root, fstype): (InodeRef, &'static str) = match fstype {
        "tmpfs" | "mqueue" | "devtmpfs" => {
            let mut size: Option<u64> = None;
            let mut inodes: Option<u64> = None;
            let mut mode = if fstype == "devtmpfs" { 0o755 } else { 0o1777 };
            let mut owner = Owner::default();
            let accepts_tmpfs = fstype == "tmpfs" || fstype == "devtmpfs";
            for (k, v) in &rest {
                let v = v.as_deref();
                match k.as_str() {
                    "size" if accepts_tmpfs => {
                        let v = v.ok_or(Errno::EINVAL)?;
                        let bytes = match v.strip_suffix('%') {
                            Some(p) => {
                                let pct = parse_c_number(p).ok_or(Errno::EINVAL)?;
                                (total_ram() / 100).checked_mul(pct).ok_or(Errno::EINVAL)?
                            }
                            None => memparse(v).ok_or(Errno::EINVAL)?,
                        };
                        size = Some(bytes.div_ceil(PAGE));
                    }
                    "nr_blocks" if accepts_tmpfs => {
                        size = Some(memparse(v.ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?);
                    }
                    "nr_inodes" if accepts_tmpfs => {
                        inodes = Some(memparse(v.ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?);
                    }
                    "mode" if accepts_tmpfs => mode = parse_mode(v)?,
                    "uid" if accepts_tmpfs => owner.uid = parse_id(v)?,
                    "gid" if accepts_tmpfs => owner.gid = parse_id(v)?,
                    // Accepted and without effect here: memory policy,
                    // huge pages, swap, inode number width.
                    "huge" | "mpol" if accepts_tmpfs && v.is_some() => {}
                    "inode32" | "inode64" | "noswap" if accepts_tmpfs && v.is_none() => {}
                    _ => return Err(Errno::EINVAL),
                }
            }
            let max_bytes = match size {
                // size=0: no limit.
                Some(0) => u64::MAX / 2,
                Some(pages) => pages.checked_mul(PAGE).ok_or(Errno::EINVAL)?,
                None => crate::fsimpl::tmpfs::DEFAULT_MAX_BYTES,
            };
            // Linux shows what differs from the defaults.
            if let Some(pages) = size {
                shown.push(format!("size={}k", pages.saturating_mul(PAGE / 1024)));
            }
            if let Some(n) = inodes {
                shown.push(format!("nr_inodes={n}"));
            }
            if mode != 0o1777 {
                shown.push(format!("mode={mode:03o}"));
            }
            if owner.uid != 0 {
                shown.push(format!("uid={}", owner.uid));
            }
            if owner.gid != 0 {
                shown.push(format!("gid={}", owner.gid));
            }
            match fstype {
                // devtmpfs holds the device nodes.
                "devtmpfs" => (crate::fsimpl::dev::new_devfs(), "devtmpfs"),
                // POSIX message queues are not implemented: an empty
                // directory stands for the filesystem.
                "mqueue" => (
                    crate::fsimpl::tmpfs::Tmpfs::with_limit(mode, owner, max_bytes),
                    "mqueue",
                ),
                _ => (
                    crate::fsimpl::tmpfs::Tmpfs::with_limit(mode, owner, max_bytes),
                    "tmpfs",
                ),
            }
        }
        "proc" => {
            for (k, v) in &rest {
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
                        let g = parse_id(v)?;
                        if g != 0 {
                            shown.push(format!("gid={g}"));
                        }
                    }
                    ("subset", Some("pid")) => shown.push("subset=pid".to_string()),
                    _ => return Err(Errno::EINVAL),
                }
            }
            (crate::fsimpl::proc::new_procfs(vfs.clone()), "proc")
        }
        "sysfs" => {
            if !rest.is_empty() {
                return Err(Errno::EINVAL);
            }
            (crate::fsimpl::sys::new_sysfs(), "sysfs")
        }
        "devpts" => {
            for (k, v) in &rest {
                let v = v.as_deref();
                match k.as_str() {
                    "uid" | "gid" => {
                        parse_id(v)?;
                    }
                    "mode" | "ptmxmode" => {
                        parse_mode(v)?;
                    }
                    "max" => {
                        v.and_then(|x| x.parse::<u32>().ok()).ok_or(Errno::EINVAL)?;
                    }
                    "newinstance" if v.is_none() => {}
                    _ => return Err(Errno::EINVAL),
                }
            }
            // One terminal table serves every devpts mount: its nodes
            // have these modes whatever the options asked for.
            shown.push("mode=620,ptmxmode=666".to_string());
            (crate::fsimpl::devpts::new_devpts(), "devpts")
        }
        _ => return Err(Errno::ENODEV),
    };
    Ok(NewFs {
        root,
        fstype,
        sb_flags,
        options: shown.join(","),
    })
}

// ---------------------------------------------------------------------------
// The mount table.

/// Linux's default atime flag for new mounts: relatime unless the caller
/// names another.
fn mnt_flags_of(flags: u64) -> u64 {
    let mut f = flags & MNT_FLAGS;
    if flags & libc::MS_NOATIME == 0 {
        f |= libc::MS_RELATIME;
    }
    if flags & libc::MS_STRICTATIME != 0 {
        f &= !(libc::MS_RELATIME | libc::MS_NOATIME);
    }
    f
}

/// The path of `d` inside its filesystem (mountinfo's root field of a
/// bind mount of it).
fn path_in_fs(d: &Dentry) -> Vec<u8> {
    let mut names: Vec<&[u8]> = Vec::new();
    let mut cur = d;
    while !super::same_inode(&cur.inode, &cur.mount.root) {
        match cur.parent() {
            Some(p) => {
                names.push(cur.name());
                cur = p;
            }
            None => break,
        }
    }
    let mut out = cur.mount.fs_root.clone();
    for n in names.iter().rev() {
        if out.last() != Some(&b'/') {
            out.push(b'/');
        }
        out.extend_from_slice(n);
    }
    out
}

/// The mount `id` and every mount below it in `table`.
fn subtree_ids(table: &[Arc<Mount>], id: u64) -> Vec<u64> {
    let mut ids = vec![id];
    let mut i = 0;
    while i < ids.len() {
        let parent = ids[i];
        for x in table {
            if x.mountpoint.as_ref().is_some_and(|(p, _)| *p == parent) && !ids.contains(&x.id) {
                ids.push(x.id);
            }
        }
        i += 1;
    }
    ids
}

/// Whether `path` is `prefix` or below it.
fn path_under(path: &[u8], prefix: &[u8]) -> bool {
    if prefix == b"/" {
        return path.starts_with(b"/");
    }
    path.starts_with(prefix) && (path.len() == prefix.len() || path[prefix.len()] == b'/')
}

fn join(base: &[u8], tail: &[u8]) -> Vec<u8> {
    if base == b"/" {
        return if tail.is_empty() {
            b"/".to_vec()
        } else {
            tail.to_vec()
        };
    }
    let mut out = base.to_vec();
    out.extend_from_slice(tail);
    out
}

impl Vfs {
    fn mount_table(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Arc<Mount>>> {
        self.mounts.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn new_mount_id(&self) -> u64 {
        self.next_mount.fetch_add(1, Ordering::Relaxed)
    }

    /// Puts mount `id` of `root` (of the filesystem `sb`) over `at`.
    pub(super) fn graft(
        &self,
        id: u64,
        at: &Dentry,
        root: InodeRef,
        sb: Arc<Super>,
        fs_root: Vec<u8>,
        flags: u64,
    ) -> Result<Arc<Mount>, Errno> {
        if at.is_dir() != is_dir(root.mode()) {
            return Err(Errno::ENOTDIR);
        }
        let mut table = self.mount_table();
        if table.len() >= MOUNT_MAX {
            return Err(Errno::ENOSPC);
        }
        let m = Arc::new(Mount {
            id,
            dev: sb.dev,
            fstype: sb.fstype,
            root,
            path: at.path(),
            mountpoint: Some((at.mount.id, at.inode.clone())),
            sb,
            fs_root,
            state: Arc::new(MountState::new(flags)),
        });
        table.push(m.clone());
        Ok(m)
    }

    /// A new mount of a fresh filesystem of `fstype` over `at`.
    pub(crate) fn mount_new_fs(
        &self,
        at: &Dentry,
        source: &[u8],
        fstype: &str,
        flags: u64,
        data: &[u8],
    ) -> Result<Arc<Mount>, Errno> {
        let fs = new_filesystem(fstype, data, &self.me)?;
        if !at.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let id = self.new_mount_id();
        let sb = Arc::new(Super::new(
            anon_dev(id),
            fs.fstype,
            source,
            (flags & SB_FLAGS) | fs.sb_flags,
            fs.options,
        ));
        self.graft(id, at, fs.root, sb, b"/".to_vec(), mnt_flags_of(flags))
    }

    /// Mounts as mount(2) does once its target `at` is resolved: a new
    /// filesystem, a bind mount, a remount, a propagation change or a
    /// move, by `spec.flags`. A bind's source is resolved in `ctx`, from
    /// `cwd` if relative. The caller checked the privilege.
    pub fn do_mount(
        &self,
        ctx: &Ctx<'_>,
        cwd: Arc<Dentry>,
        at: &Arc<Dentry>,
        spec: &MountSpec,
    ) -> Result<(), Errno> {
        let mut flags = spec.flags;
        if flags & libc::MS_MGC_MSK == libc::MS_MGC_VAL {
            flags &= !libc::MS_MGC_MSK;
        }
        if flags & libc::MS_NOUSER != 0 {
            return Err(Errno::EINVAL);
        }
        let is_root = self.is_mount_root(at);
        if flags & (libc::MS_REMOUNT | libc::MS_BIND) == libc::MS_REMOUNT | libc::MS_BIND {
            if !is_root {
                return Err(Errno::EINVAL);
            }
            return self.reconfigure(&at.mount, flags);
        }
        if flags & libc::MS_REMOUNT != 0 {
            if !is_root {
                return Err(Errno::EINVAL);
            }
            // The options must be ones the type takes; what they would
            // change in the filesystem (a tmpfs size) stays as it is.
            match new_filesystem(at.mount.fstype, &spec.data, &Weak::new()) {
                Ok(_) | Err(Errno::ENODEV) => {}
                Err(e) => return Err(e),
            }
            let mut sb_flags = flags & SB_FLAGS;
            if let Ok(opts) = options_of(&spec.data) {
                for (k, _) in opts {
                    sb_option(&k, &mut sb_flags);
                }
            }
            return self.remount(&at.mount, sb_flags, flags);
        }
        if flags & libc::MS_BIND != 0 {
            return self.bind(ctx, cwd, at, &spec.source, flags & libc::MS_REC != 0);
        }
        if flags & PROPAGATION_FLAGS != 0 {
            return self.change_type(at, flags);
        }
        if flags & libc::MS_MOVE != 0 {
            return self.move_mount(ctx, cwd, at, &spec.source);
        }
        if spec.fstype.is_empty() {
            return Err(Errno::EINVAL);
        }
        self.mount_new_fs(at, &spec.source, &spec.fstype, flags, &spec.data)
            .map(|_| ())
    }

    /// MS_REMOUNT|MS_BIND: new per-mount flags (Linux's
    /// do_reconfigure_mnt); the atime flags stay unless named.
    fn reconfigure(&self, m: &Mount, flags: u64) -> Result<(), Errno> {
        let mut f = mnt_flags_of(flags);
        if flags & (ATIME_FLAGS | libc::MS_STRICTATIME) == 0 {
            f = (f & !ATIME_FLAGS) | (m.flags() & ATIME_FLAGS);
        }
        if f & libc::MS_RDONLY != 0 && m.flags() & libc::MS_RDONLY == 0 && m.writers() > 0 {
            return Err(Errno::EBUSY);
        }
        m.state.flags.store(f, Ordering::Relaxed);
        Ok(())
    }

    /// MS_REMOUNT: new instance flags (read-only for every mount of the
    /// filesystem) and new per-mount flags.
    fn remount(&self, m: &Mount, sb_flags: u64, flags: u64) -> Result<(), Errno> {
        if sb_flags & libc::MS_RDONLY != 0 && !m.sb.readonly() {
            let busy = self
                .mounts()
                .iter()
                .any(|o| Arc::ptr_eq(&o.sb, &m.sb) && o.writers() > 0);
            if busy {
                return Err(Errno::EBUSY);
            }
        }
        m.sb.flags.store(sb_flags & SB_FLAGS, Ordering::Relaxed);
        let mut f = mnt_flags_of(flags);
        if flags & (ATIME_FLAGS | libc::MS_STRICTATIME) == 0 {
            f = (f & !ATIME_FLAGS) | (m.flags() & ATIME_FLAGS);
        }
        m.state.flags.store(f, Ordering::Relaxed);
        Ok(())
    }

    /// MS_BIND: mounts what `source` names over `at`, with the submounts
    /// below it for MS_REC.
    fn bind(
        &self,
        ctx: &Ctx<'_>,
        cwd: Arc<Dentry>,
        at: &Arc<Dentry>,
        source: &[u8],
        rec: bool,
    ) -> Result<(), Errno> {
        if source.is_empty() {
            return Err(Errno::EINVAL);
        }
        let src = ops::walk(ctx, cwd, source, true)?;
        if src.mount.propagation() == Propagation::Unbindable {
            return Err(Errno::EINVAL);
        }
        let src_path = src.path();
        let flags = src.mount.flags();
        let top = self.graft(
            self.new_mount_id(),
            at,
            src.inode.clone(),
            src.mount.sb.clone(),
            path_in_fs(&src),
            flags,
        )?;
        if let Propagation::Shared(g) = src.mount.propagation() {
            *top.state
                .propagation
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Propagation::Shared(g);
        }
        if !rec {
            return Ok(());
        }
        // Copies of the mounts below the source, oldest first, so each
        // one's parent is copied before it.
        let mut copied: Vec<(u64, u64)> = vec![(src.mount.id, top.id)];
        let dest = top.path.clone();
        for m in self.mounts() {
            let Some((parent, inode)) = &m.mountpoint else {
                continue;
            };
            let Some(&(_, new_parent)) = copied.iter().find(|(old, _)| old == parent) else {
                continue;
            };
            if !path_under(&m.path, &src_path) || m.id == top.id {
                continue;
            }
            if m.propagation() == Propagation::Unbindable {
                continue;
            }
            let tail = &m.path[if src_path == b"/" { 0 } else { src_path.len() }..];
            let c = Arc::new(Mount {
                id: self.new_mount_id(),
                dev: m.dev,
                fstype: m.fstype,
                root: m.root.clone(),
                path: join(&dest, tail),
                mountpoint: Some((new_parent, inode.clone())),
                sb: m.sb.clone(),
                fs_root: m.fs_root.clone(),
                state: Arc::new(MountState::new(m.flags())),
            });
            copied.push((m.id, c.id));
            let mut table = self.mount_table();
            if table.len() >= MOUNT_MAX {
                return Err(Errno::ENOSPC);
            }
            table.push(c);
        }
        Ok(())
    }

    /// MS_SHARED, MS_PRIVATE, MS_SLAVE, MS_UNBINDABLE (one of them), on
    /// the subtree with MS_REC.
    fn change_type(&self, at: &Dentry, flags: u64) -> Result<(), Errno> {
        if !self.is_mount_root(at) {
            return Err(Errno::EINVAL);
        }
        // Exactly one type; Linux ignores the other flags here.
        let kind = flags & PROPAGATION_FLAGS;
        if !kind.is_power_of_two() {
            return Err(Errno::EINVAL);
        }
        let mut targets = vec![at.mount.clone()];
        if flags & libc::MS_REC != 0 {
            let mut ids = vec![at.mount.id];
            for m in self.mounts() {
                if let Some((p, _)) = &m.mountpoint {
                    if ids.contains(p) && !ids.contains(&m.id) {
                        ids.push(m.id);
                        targets.push(m.clone());
                    }
                }
            }
        }
        for m in targets {
            let mut p = m
                .state
                .propagation
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            *p = match kind {
                libc::MS_SHARED => match *p {
                    Propagation::Shared(g) => Propagation::Shared(g),
                    _ => Propagation::Shared(m.id),
                },
                libc::MS_SLAVE => match *p {
                    Propagation::Shared(g) | Propagation::Slave(g) => Propagation::Slave(g),
                    // A slave of nothing is private.
                    _ => Propagation::Private,
                },
                libc::MS_UNBINDABLE => Propagation::Unbindable,
                _ => Propagation::Private,
            };
        }
        Ok(())
    }

    /// MS_MOVE: moves the mount whose root `source` names, with its
    /// submounts, over `at`.
    fn move_mount(
        &self,
        ctx: &Ctx<'_>,
        cwd: Arc<Dentry>,
        at: &Arc<Dentry>,
        source: &[u8],
    ) -> Result<(), Errno> {
        if source.is_empty() {
            return Err(Errno::EINVAL);
        }
        let src = ops::walk(ctx, cwd, source, true)?;
        if !self.is_mount_root(&src) || src.mount.mountpoint.is_none() {
            return Err(Errno::EINVAL);
        }
        if at.is_dir() != src.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut table = self.mount_table();
        let Some(old) = table.iter().find(|m| m.id == src.mount.id).cloned() else {
            return Err(Errno::EINVAL);
        };
        let subtree = subtree_ids(&table, old.id);
        // Into itself: the target's mounts must all lie outside.
        let mut d = Some(&**at);
        while let Some(x) = d {
            if subtree.contains(&x.mount.id) {
                return Err(Errno::ELOOP);
            }
            d = x.parent().map(|p| &**p);
        }
        let new_path = at.path();
        for slot in table.iter_mut() {
            if !subtree.contains(&slot.id) {
                continue;
            }
            let m = slot.clone();
            let (path, mountpoint) = if m.id == old.id {
                (new_path.clone(), Some((at.mount.id, at.inode.clone())))
            } else {
                let tail = &m.path[if old.path == b"/" { 0 } else { old.path.len() }..];
                (join(&new_path, tail), m.mountpoint.clone())
            };
            m.state
                .previous
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|w| w.strong_count() > 0);
            m.state
                .previous
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::downgrade(&m));
            *slot = Arc::new(Mount {
                id: m.id,
                dev: m.dev,
                fstype: m.fstype,
                root: m.root.clone(),
                path,
                mountpoint,
                sb: m.sb.clone(),
                fs_root: m.fs_root.clone(),
                state: m.state.clone(),
            });
        }
        // The moved mount goes after its new parent, so the table stays
        // in parents-first order.
        let moved: Vec<Arc<Mount>> = table
            .iter()
            .filter(|m| subtree.contains(&m.id))
            .cloned()
            .collect();
        table.retain(|m| !subtree.contains(&m.id));
        table.extend(moved);
        Ok(())
    }

    /// umount2(2) of the mount whose root `d` is: EINVAL if it is not
    /// one, EBUSY while files, directories or mounts are in use below it
    /// (unless MNT_DETACH, which takes it and its submounts out of the
    /// namespace and leaves open files working).
    pub fn umount(&self, d: &Arc<Dentry>, flags: i32) -> Result<(), Errno> {
        if !self.is_mount_root(d) {
            return Err(Errno::EINVAL);
        }
        if d.mount.mountpoint.is_none() {
            // The namespace's root stays.
            return Err(if flags & libc::MNT_DETACH != 0 {
                Errno::EINVAL
            } else {
                Errno::EBUSY
            });
        }
        let mut table = self.mount_table();
        let Some(m) = table.iter().find(|x| x.id == d.mount.id).cloned() else {
            return Err(Errno::EINVAL);
        };
        let has_children = table
            .iter()
            .any(|x| x.mountpoint.as_ref().is_some_and(|(p, _)| *p == m.id));
        // References besides the table's, `m` and `d`'s are dentries of
        // open files, cwds and roots inside (of any version of it).
        let mut refs = Arc::strong_count(&m) - 2;
        for w in m
            .state
            .previous
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if let Some(p) = w.upgrade() {
                refs += Arc::strong_count(&p) - 1;
            }
        }
        let busy = has_children || refs > 1;
        if flags & libc::MNT_EXPIRE != 0 {
            if flags & (libc::MNT_FORCE | libc::MNT_DETACH) != 0 {
                return Err(Errno::EINVAL);
            }
            if busy {
                return Err(Errno::EBUSY);
            }
            if !m.state.expiry_mark.swap(true, Ordering::Relaxed) {
                return Err(Errno::EAGAIN);
            }
        }
        if busy && flags & libc::MNT_DETACH == 0 {
            return Err(Errno::EBUSY);
        }
        let gone = subtree_ids(&table, m.id);
        let (removed, kept): (Vec<Arc<Mount>>, Vec<Arc<Mount>>) =
            table.drain(..).partition(|x| gone.contains(&x.id));
        *table = kept;
        // A filesystem with no mount left is gone for the watches on its
        // files; one detached while in use lives on until its files close,
        // which nothing here sees, so its watches stay quiet.
        let ended: Vec<Arc<Super>> = removed
            .iter()
            .filter(|x| !busy && !table.iter().any(|o| Arc::ptr_eq(&o.sb, &x.sb)))
            .map(|x| x.sb.clone())
            .collect();
        drop(table);
        for sb in ended {
            crate::vfs::inotify::unmounted(&sb);
        }
        Ok(())
    }

    /// Mounts `spec` at boot: like mount(2) as root, but a missing mount
    /// point is made first (a directory, or an empty file for a bind of
    /// a file), with its parents, as runc does.
    pub fn mount_spec(&self, spec: &MountSpec) -> Result<(), Errno> {
        let ctx = Ctx::new(self, self.root(), Cred::root(), 0o022);
        let at = match ops::walk(&ctx, self.root(), &spec.dest, true) {
            Ok(d) => d,
            Err(Errno::ENOENT) => {
                let file = spec.flags & libc::MS_BIND != 0
                    && ops::walk(&ctx, self.root(), &spec.source, true).is_ok_and(|s| !s.is_dir());
                self.make_mount_point(&ctx, &spec.dest, file)?;
                ops::walk(&ctx, self.root(), &spec.dest, true)?
            }
            Err(e) => return Err(e),
        };
        self.do_mount(&ctx, self.root(), &at, spec)
    }

    /// mkdir -p of `path`, its last component an empty file if `file`.
    fn make_mount_point(&self, ctx: &Ctx<'_>, path: &[u8], file: bool) -> Result<(), Errno> {
        let parts: Vec<&[u8]> = path
            .split(|c| *c == b'/')
            .filter(|p| !p.is_empty())
            .collect();
        let mut cur = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            cur.push(b'/');
            cur.extend_from_slice(p);
            let last = i + 1 == parts.len();
            match ops::walk(ctx, self.root(), &cur, true) {
                Ok(_) => continue,
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
            if last && file {
                ops::open_at(
                    ctx,
                    self.root(),
                    &cur,
                    libc::O_CREAT | libc::O_WRONLY,
                    0o644,
                )?;
            } else {
                ops::mkdirat(ctx, self.root(), &cur, 0o755)?;
            }
        }
        Ok(())
    }

    /// Makes `/` read-only or writable again (OCI `root.readonly`): the
    /// root mount's own flag, as `mount -o remount,bind,ro /` does.
    pub fn set_root_readonly(&self, ro: bool) -> Result<(), Errno> {
        let m = self.root.mount.clone();
        let f = m.flags();
        let f = if ro {
            f | libc::MS_RDONLY
        } else {
            f & !libc::MS_RDONLY
        };
        self.reconfigure(&m, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsimpl::tmpfs::Tmpfs;
    use crate::vfs::Inode;

    fn vfs() -> Arc<Vfs> {
        let root = Tmpfs::new_root(0o755, Owner::default());
        let a = root.mkdir(b"a", 0o755, Owner::default()).unwrap();
        a.create(b"file", 0o644, Owner::default()).unwrap();
        Vfs::with_root(root, "tmpfs")
    }

    fn spec(source: &[u8], dest: &[u8], fstype: &str, flags: u64, data: &[u8]) -> MountSpec {
        MountSpec {
            source: source.to_vec(),
            dest: dest.to_vec(),
            fstype: fstype.to_string(),
            flags,
            data: data.to_vec(),
        }
    }

    fn at(v: &Vfs, p: &[u8]) -> Result<Arc<Dentry>, Errno> {
        let c = Ctx::new(v, v.root(), Cred::root(), 0);
        ops::walk(&c, v.root(), p, true)
    }

    #[test]
    fn boot_mounts_make_their_mount_points() {
        let v = vfs();
        v.mount_spec(&spec(
            b"tmpfs",
            b"/x/y",
            "tmpfs",
            libc::MS_NOSUID,
            b"size=64k",
        ))
        .unwrap();
        let m = at(&v, b"/x/y").unwrap().mount.clone();
        assert_eq!(m.fstype, "tmpfs");
        assert_eq!(m.mounts_options(), "rw,nosuid,relatime,size=64k");
        // A bind of a file makes an empty file to cover.
        v.mount_spec(&spec(b"/a/file", b"/etc/f", "", libc::MS_BIND, b""))
            .unwrap();
        let f = at(&v, b"/etc/f").unwrap();
        assert!(!f.is_dir());
        assert_eq!(f.mount.fs_root, b"/a/file");
        assert_eq!(
            v.mount_spec(&spec(b"", b"/z", "nosuchfs", 0, b"")).err(),
            Some(Errno::ENODEV)
        );
    }

    #[test]
    fn a_read_only_root_refuses_writes_in_linux_order() {
        let v = vfs();
        v.set_root_readonly(true).unwrap();
        let c = Ctx::new(&v, v.root(), Cred::root(), 0);
        let r = v.root();
        assert_eq!(ops::mkdirat(&c, r.clone(), b"/m", 0o755), Err(Errno::EROFS));
        assert_eq!(
            ops::mkdirat(&c, r.clone(), b"/a", 0o755),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            ops::mkdirat(&c, r.clone(), b"/no/m", 0o755),
            Err(Errno::ENOENT)
        );
        let creat = libc::O_CREAT | libc::O_WRONLY;
        assert_eq!(
            ops::open_at(&c, r.clone(), b"/n", creat, 0o644).err(),
            Some(Errno::EROFS)
        );
        assert_eq!(
            ops::open_at(&c, r.clone(), b"/a/file", creat | libc::O_EXCL, 0o644).err(),
            Some(Errno::EEXIST)
        );
        assert_eq!(
            ops::open_at(&c, r.clone(), b"/a/file", libc::O_RDWR, 0).err(),
            Some(Errno::EROFS)
        );
        assert!(ops::open_at(&c, r.clone(), b"/a/file", libc::O_RDONLY, 0).is_ok());
        // unlink asks for write access before looking the name up.
        assert_eq!(ops::unlinkat(&c, r.clone(), b"/a/none"), Err(Errno::EROFS));
        assert_eq!(ops::rmdirat(&c, r.clone(), b"/a"), Err(Errno::EROFS));
        assert_eq!(
            ops::symlinkat(&c, b"t", r.clone(), b"/s"),
            Err(Errno::EROFS)
        );
        let f = at(&v, b"/a/file").unwrap();
        assert_eq!(ops::chmod(&c.cred, &f, 0o600), Err(Errno::EROFS));
        assert_eq!(ops::chown(&c.cred, &f, None, None), Err(Errno::EROFS));
        assert_eq!(ops::truncate(&c.cred, &f, 0), Err(Errno::EROFS));
        v.set_root_readonly(false).unwrap();
        ops::mkdirat(&c, r, b"/m", 0o755).unwrap();
    }

    #[test]
    fn umount_waits_for_open_files_unless_detached() {
        let v = vfs();
        v.mount_spec(&spec(b"tmpfs", b"/t", "tmpfs", 0, b""))
            .unwrap();
        let c = Ctx::new(&v, v.root(), Cred::root(), 0);
        let f = ops::open_at(&c, v.root(), b"/t/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        let t = at(&v, b"/t").unwrap();
        assert_eq!(v.umount(&t, 0), Err(Errno::EBUSY));
        // A read-only remount waits for writers too.
        assert_eq!(
            v.do_mount(
                &c,
                v.root(),
                &t,
                &spec(
                    b"",
                    b"/t",
                    "",
                    libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY,
                    b""
                )
            ),
            Err(Errno::EBUSY)
        );
        drop(f);
        assert_eq!(v.umount(&at(&v, b"/a").unwrap(), 0), Err(Errno::EINVAL));
        v.umount(&t, 0).unwrap();
        drop(t);
        assert_eq!(at(&v, b"/t/f").err(), Some(Errno::ENOENT));
        v.mount_spec(&spec(b"tmpfs", b"/t", "tmpfs", 0, b""))
            .unwrap();
        let f = ops::open_at(&c, v.root(), b"/t/f", libc::O_CREAT | libc::O_RDWR, 0o644).unwrap();
        let t = at(&v, b"/t").unwrap();
        v.umount(&t, libc::MNT_DETACH).unwrap();
        // The detached file still works.
        assert_eq!(f.dentry().unwrap().path(), b"/t/f");
        assert!(f.stat().is_ok());
    }

    #[test]
    fn memparse_reads_suffixes_and_bases() {
        assert_eq!(memparse("10"), Some(10));
        assert_eq!(memparse("4k"), Some(4096));
        assert_eq!(memparse("1M"), Some(1 << 20));
        assert_eq!(memparse("0x10"), Some(16));
        assert_eq!(memparse("010"), Some(8));
        assert_eq!(memparse("99999999999E"), None);
        assert_eq!(memparse("x"), None);
        assert_eq!(memparse(""), None);
    }

    #[test]
    fn tmpfs_options_show_what_differs_from_the_defaults() {
        let fs = new_filesystem(
            "tmpfs",
            b"size=1m,mode=755,uid=5,nr_inodes=100",
            &Weak::new(),
        )
        .unwrap();
        assert_eq!(fs.options, "size=1024k,nr_inodes=100,mode=755,uid=5");
        assert_eq!(fs.root.statfs().unwrap().f_blocks, 256);
        let fs = new_filesystem("tmpfs", b"", &Weak::new()).unwrap();
        assert_eq!(fs.options, "");
        let fs = new_filesystem("tmpfs", b"ro,size=5000", &Weak::new()).unwrap();
        assert_eq!(fs.sb_flags, libc::MS_RDONLY);
        assert_eq!(fs.options, "size=8k");
    }

    #[test]
    fn bad_options_and_types_are_refused() {
        let e = |t: &str, d: &[u8]| new_filesystem(t, d, &Weak::new()).err();
        assert_eq!(e("tmpfs", b"bogus"), Some(Errno::EINVAL));
        assert_eq!(e("tmpfs", b"size=lots"), Some(Errno::EINVAL));
        assert_eq!(e("tmpfs", b"mode=9"), Some(Errno::EINVAL));
        assert_eq!(e("tmpfs", b"uid=-1"), Some(Errno::EINVAL));
        assert_eq!(e("sysfs", b"size=1"), Some(Errno::EINVAL));
        assert_eq!(e("ext4", b""), Some(Errno::ENODEV));
        assert_eq!(e("tmpfs", b"\xff"), Some(Errno::EINVAL));
    }

    #[test]
    fn flag_names_follow_linux_order() {
        assert_eq!(
            mnt_flag_names(libc::MS_NOEXEC | libc::MS_NOSUID | libc::MS_RELATIME),
            ",nosuid,noexec,relatime"
        );
        assert_eq!(mnt_flags_of(0), libc::MS_RELATIME);
        assert_eq!(mnt_flags_of(libc::MS_STRICTATIME), 0);
        assert_eq!(mnt_flags_of(libc::MS_NOATIME), libc::MS_NOATIME);
    }
}
