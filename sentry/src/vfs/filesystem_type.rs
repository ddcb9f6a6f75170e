//! Filesystem types by name, as mount(2) names them. Each filesystem joins
//! the VFS's registry with a [`FilesystemType`] that parses its own
//! options, so the VFS makes a tmpfs or a procfs without knowing either
//! (Linux's `register_filesystem` and `fs_context`).
//!
//! The generic superblock options any type takes (`ro`, `sync` ...) are
//! taken out here; the rest go to the type, which refuses what it does not
//! know with EINVAL.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};

use super::{Caller, InodeRef, Vfs};
use crate::errno::Errno;

/// One `key` or `key=value` of a mount's data.
pub type MountOption = (String, Option<String>);

/// A kind of filesystem mount(2) can make.
pub trait FilesystemType: Send + Sync {
    /// A new instance, with `opts` (the generic superblock options taken
    /// out). `vfs` is the namespace it is mounted in (procfs shows its
    /// mounts); it may be dangling when the instance only checks options.
    fn new_instance(&self, vfs: &Weak<Vfs>, opts: &[MountOption]) -> Result<Instance, Errno>;

    /// [`FilesystemType::new_instance`] for mount(2) by `caller`, for a
    /// type whose instance depends on who mounts it (procfs shows the
    /// mounter's PID namespace).
    fn new_instance_by(
        &self,
        vfs: &Weak<Vfs>,
        opts: &[MountOption],
        _caller: Option<&dyn Caller>,
    ) -> Result<Instance, Errno> {
        self.new_instance(vfs, opts)
    }

    /// The type itself, for the filesystem that registered it to find
    /// state it keeps per VFS (devpts's ptys): the VFS knows no concrete
    /// type.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// What a [`FilesystemType`] made.
pub struct Instance {
    pub root: InodeRef,
    /// The type-specific options as Linux shows them in /proc/mounts
    /// (what differs from the defaults).
    pub shown: Vec<String>,
}

/// A filesystem made by [`Vfs::new_filesystem`].
pub struct NewFs {
    pub root: InodeRef,
    pub fstype: &'static str,
    /// SB_FLAGS the options asked for (`ro`, `sync` ...).
    pub sb_flags: u64,
    /// The options as Linux shows them.
    pub options: String,
}

/// The types a VFS can mount, by name.
#[derive(Default)]
pub struct Registry {
    types: RwLock<BTreeMap<&'static str, Arc<dyn FilesystemType>>>,
}

impl Registry {
    fn get(&self, name: &str) -> Option<(&'static str, Arc<dyn FilesystemType>)> {
        let types = self.types.read().unwrap_or_else(|e| e.into_inner());
        types.get_key_value(name).map(|(k, v)| (*k, v.clone()))
    }
}

impl Vfs {
    /// Makes `name` mountable; a second registration replaces the first.
    pub fn register_filesystem(&self, name: &'static str, t: Arc<dyn FilesystemType>) {
        let mut types = self
            .filesystems
            .types
            .write()
            .unwrap_or_else(|e| e.into_inner());
        types.insert(name, t);
    }

    /// The type registered as `name`.
    pub fn filesystem_type(&self, name: &str) -> Option<Arc<dyn FilesystemType>> {
        self.filesystems.get(name).map(|(_, t)| t)
    }

    /// Makes a filesystem of type `fstype` with the options in `data`, as
    /// mount(2) does for a new mount. ENODEV for a type nobody registered,
    /// EINVAL for an option the type does not take.
    pub fn new_filesystem(&self, fstype: &str, data: &[u8]) -> Result<NewFs, Errno> {
        self.new_filesystem_in(fstype, data, &self.me, None)
    }

    /// [`Vfs::new_filesystem`] for mount(2) by `caller`.
    pub fn new_filesystem_by(
        &self,
        fstype: &str,
        data: &[u8],
        caller: Option<&dyn Caller>,
    ) -> Result<NewFs, Errno> {
        self.new_filesystem_in(fstype, data, &self.me, caller)
    }

    /// [`Vfs::new_filesystem`] for an instance that only checks options
    /// (a remount): it holds no reference to this namespace.
    pub(super) fn check_filesystem_options(&self, fstype: &str, data: &[u8]) -> Result<(), Errno> {
        self.new_filesystem_in(fstype, data, &Weak::new(), None)
            .map(drop)
    }

    fn new_filesystem_in(
        &self,
        fstype: &str,
        data: &[u8],
        vfs: &Weak<Vfs>,
        caller: Option<&dyn Caller>,
    ) -> Result<NewFs, Errno> {
        let opts = options_of(data)?;
        let mut sb_flags = 0u64;
        let rest: Vec<MountOption> = opts
            .into_iter()
            .filter(|(k, _)| !sb_option(k, &mut sb_flags) && k != "source")
            .collect();
        let (name, t) = self.filesystems.get(fstype).ok_or(Errno::ENODEV)?;
        let made = t.new_instance_by(vfs, &rest, caller)?;
        Ok(NewFs {
            root: made.root,
            fstype: name,
            sb_flags,
            options: made.shown.join(","),
        })
    }
}

/// The options of a mount's data.
pub(super) fn options_of(data: &[u8]) -> Result<Vec<MountOption>, Errno> {
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
pub(super) fn sb_option(key: &str, flags: &mut u64) -> bool {
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
pub fn memparse(v: &str) -> Option<u64> {
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
pub fn parse_c_number(s: &str) -> Option<u64> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u64::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

/// A `uid=` or `gid=` value: EINVAL when missing, not a number or -1.
pub fn parse_id(v: Option<&str>) -> Result<u32, Errno> {
    let id: u32 = v.ok_or(Errno::EINVAL)?.parse().map_err(|_| Errno::EINVAL)?;
    if id == u32::MAX {
        return Err(Errno::EINVAL);
    }
    Ok(id)
}

/// A `mode=` value, octal.
pub fn parse_mode(v: Option<&str>) -> Result<u32, Errno> {
    let m = u32::from_str_radix(v.ok_or(Errno::EINVAL)?, 8).map_err(|_| Errno::EINVAL)?;
    Ok(m & 0o7777)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
