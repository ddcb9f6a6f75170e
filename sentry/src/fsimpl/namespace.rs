//! The sandbox's mount namespace, assembled from the filesystems: every
//! type mount(2) can make registered with the VFS, and the root and
//! standard mounts a container starts with.

use std::sync::Arc;

use crate::errno::Errno;
use crate::fsimpl::devpts::DevptsType;
use crate::fsimpl::gofer::{GoferFs, Options};
use crate::fsimpl::mqueue::MqueueType;
use crate::fsimpl::overlay::OverlayFs;
use crate::fsimpl::proc::ProcType;
use crate::fsimpl::sys::SysfsType;
use crate::fsimpl::tmpfs::fs_type::{Kind, TmpfsType};
use crate::mm::MemoryFile;
use crate::vfs::{InodeRef, MountSpec, Vfs};

/// Makes every filesystem type of the Sentry mountable in `vfs`; the
/// in-memory ones keep file data in `memfile`.
pub fn register_filesystems(vfs: &Vfs, memfile: &Arc<MemoryFile>) {
    let tmpfs = |kind| {
        Arc::new(TmpfsType {
            kind,
            memfile: memfile.clone(),
        })
    };
    vfs.register_filesystem("tmpfs", tmpfs(Kind::Tmpfs));
    vfs.register_filesystem("devtmpfs", tmpfs(Kind::Devtmpfs));
    vfs.register_filesystem("mqueue", Arc::new(MqueueType));
    vfs.register_filesystem("proc", Arc::new(ProcType));
    vfs.register_filesystem("sysfs", Arc::new(SysfsType));
    vfs.register_filesystem("devpts", Arc::new(DevptsType::default()));
}

/// A namespace with `root` on `/`, every filesystem type registered, and
/// nothing mounted.
pub fn with_root(root: InodeRef, fstype: &'static str, memfile: &Arc<MemoryFile>) -> Arc<Vfs> {
    let vfs = Vfs::with_root(root, fstype);
    register_filesystems(&vfs, memfile);
    vfs
}

/// The sandbox's namespace: `/` an overlay of an in-memory upper layer
/// over the Gofer's root (so the host is never written), devfs on `/dev`
/// (devpts on `/dev/pts`), procfs on `/proc` and sysfs on `/sys`. `/tmp` is
/// the root's, as every other directory: `runsc-rs do` run from a
/// directory under the host's /tmp must find it there (gVisor's `do` shows
/// the host's /tmp too), and writes to it stay in the overlay.
///
/// Without `overlay` the root is the Gofer's root itself, writable
/// (changes reach the host); `shared`: the host may change the Gofer's
/// files meanwhile (see `fsimpl::gofer`). What lives in memory (the
/// overlay's upper layer, tmpfs mounts) is kept in `memfile`.
pub fn new(
    gofer: Arc<gofer_protocol::Client>,
    overlay: bool,
    shared: bool,
    memfile: &Arc<MemoryFile>,
) -> Result<Arc<Vfs>, Errno> {
    let vfs = bare(gofer, overlay, shared, memfile)?;
    for spec in default_mounts() {
        // A root where one of these cannot be made (a symlink to nowhere,
        // say) still runs, as a container would without it.
        if let Err(e) = vfs.mount_spec(&spec) {
            tracing::warn!(
                "cannot mount {} on {}: {e}",
                spec.fstype,
                String::from_utf8_lossy(&spec.dest)
            );
        }
    }
    Ok(vfs)
}

/// The root alone, as [`new`] chooses it, with nothing mounted on it: an
/// OCI container's mounts come from its spec.
pub fn bare(
    gofer: Arc<gofer_protocol::Client>,
    overlay: bool,
    shared: bool,
    memfile: &Arc<MemoryFile>,
) -> Result<Arc<Vfs>, Errno> {
    let writable = !overlay;
    let gofer_root = GoferFs::new_root_with(gofer, Options { writable, shared })?;
    Ok(if overlay {
        with_root(OverlayFs::new_root(gofer_root, memfile), "overlay", memfile)
    } else {
        with_root(gofer_root, "9p", memfile)
    })
}

/// The mounts [`new`] makes over the root, with the flags a container
/// runtime gives them.
pub fn default_mounts() -> Vec<MountSpec> {
    let spec = |fstype: &str, dest: &[u8], flags: u64| MountSpec {
        source: fstype.as_bytes().to_vec(),
        dest: dest.to_vec(),
        fstype: fstype.to_string(),
        flags,
        data: Vec::new(),
    };
    let (nosuid, nodev, noexec) = (libc::MS_NOSUID, libc::MS_NODEV, libc::MS_NOEXEC);
    vec![
        spec("devtmpfs", b"/dev", nosuid | libc::MS_STRICTATIME),
        spec("devpts", b"/dev/pts", nosuid | noexec),
        spec("proc", b"/proc", nosuid | nodev | noexec),
        spec("sysfs", b"/sys", libc::MS_RDONLY | nosuid | nodev | noexec),
    ]
}
