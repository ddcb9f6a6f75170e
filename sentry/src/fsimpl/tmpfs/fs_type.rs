//! tmpfs's mount options, and the type that shares them: devtmpfs (the
//! device nodes, `fsimpl::dev`).

use std::sync::{Arc, Weak};

use super::{Tmpfs, DEFAULT_MAX_BYTES};
use crate::errno::Errno;
use crate::mm::MemoryFile;
use crate::vfs::filesystem_type::{memparse, parse_c_number, parse_id, parse_mode};
use crate::vfs::{FilesystemType, Instance, MountOption, Owner, Vfs};

const PAGE: u64 = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Tmpfs,
    Devtmpfs,
}

/// A tmpfs-like type of one kernel: its instances keep file data in that
/// kernel's memory file.
pub struct TmpfsType {
    pub kind: Kind,
    pub memfile: Arc<MemoryFile>,
}

/// Total memory, for `size=N%`.
fn total_ram() -> u64 {
    let s = crate::fsimpl::proc::system::host_sysinfo();
    u64::from(s.mem_unit.max(1)).saturating_mul(s.totalram)
}

impl FilesystemType for TmpfsType {
    fn new_instance(&self, _vfs: &Weak<Vfs>, opts: &[MountOption]) -> Result<Instance, Errno> {
        let kind = self.kind;
        let mut size: Option<u64> = None;
        let mut inodes: Option<u64> = None;
        let mut mode = if kind == Kind::Devtmpfs {
            0o755
        } else {
            0o1777
        };
        let mut owner = Owner::default();
        for (k, v) in opts {
            let v = v.as_deref();
            match k.as_str() {
                "size" => {
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
                "nr_blocks" => {
                    size = Some(memparse(v.ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?);
                }
                "nr_inodes" => {
                    inodes = Some(memparse(v.ok_or(Errno::EINVAL)?).ok_or(Errno::EINVAL)?);
                }
                "mode" => mode = parse_mode(v)?,
                "uid" => owner.uid = parse_id(v)?,
                "gid" => owner.gid = parse_id(v)?,
                // Accepted and without effect here: memory policy, huge
                // pages, swap, inode number width.
                "huge" | "mpol" if v.is_some() => {}
                "inode32" | "inode64" | "noswap" if v.is_none() => {}
                _ => return Err(Errno::EINVAL),
            }
        }
        let max_bytes = match size {
            // size=0: no limit.
            Some(0) => u64::MAX / 2,
            Some(pages) => pages.checked_mul(PAGE).ok_or(Errno::EINVAL)?,
            None => DEFAULT_MAX_BYTES,
        };
        // Linux shows what differs from the defaults.
        let mut shown = Vec::new();
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
        let root = match kind {
            Kind::Devtmpfs => super::devtmpfs::new_devfs(&self.memfile),
            Kind::Tmpfs => Tmpfs::with_limit(&self.memfile, mode, owner, max_bytes),
        };
        Ok(Instance { root, shown })
    }
}
