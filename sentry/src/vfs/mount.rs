//! Mounts: their flags and options, and the changes to the mount table (new mounts, bind mounts, remounts,
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

use super::filesystem_type::{options_of, sb_option};
use super::ops::{self, Ctx};
use super::{anon_dev, is_dir, Caller, Cred, Dentry, InodeRef, Mount, Vfs};
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

    /// EROFS for a change through a read-only mount (Linux's
    /// mnt_want_write).
    pub fn want_write(&self) -> Result<(), Errno> {
        if self.readonly() {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
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
            notify: self.notify.clone(),
        });
        table.push(m.clone());
        Ok(m)
    }

    /// A new mount of a fresh filesystem of `fstype` over `at`.
    pub(crate) fn mount_new_fs(
        &self,
        caller: Option<&dyn Caller>,
        at: &Dentry,
        source: &[u8],
        fstype: &str,
        flags: u64,
        data: &[u8],
    ) -> Result<Arc<Mount>, Errno> {
        let fs = self.new_filesystem_by(fstype, data, caller)?;
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
            match self.check_filesystem_options(at.mount.fstype, &spec.data) {
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
        self.mount_new_fs(
            ctx.caller,
            at,
            &spec.source,
            &spec.fstype,
            flags,
            &spec.data,
        )
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
                notify: m.notify.clone(),
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
                notify: m.notify.clone(),
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
            self.notify.unmounted(&sb);
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
