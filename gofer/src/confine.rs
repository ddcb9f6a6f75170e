//! The Gofer's lockdown: its mount namespace made private and pivot_root'ed
//! into the tree it serves, so that no host path outside it can be
//! reached by name, whatever a request names.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root};

/// [`confine_with`] a read-only root.
pub fn confine(root: &Path) -> io::Result<PathBuf> {
    confine_with(root, true)
}

/// Makes `root` the root directory of this thread's mount namespace, which
/// the caller has already unshared (CLONE_NEWNS): makes every mount private
/// (nothing propagates back to the host), bind-mounts `root` onto itself
/// (with its submounts), remounts that bind read-only if `read_only` (only
/// its top mount: submounts keep their own flags), pivot_roots into it and
/// detaches the old root. Returns the path to serve: `/`.
///
/// Afterwards no host path is reachable by name, `/proc` included: a `p9`
/// server must have been created before (see [`crate::server::Server::new_confined`]).
pub fn confine_with(root: &Path, read_only: bool) -> io::Result<PathBuf> {
    confine_with_binds(root, read_only, &[])
}

/// [`confine_with`], with `binds` mounted into the tree first (they keep
/// their own read-only or read-write flag; the root's remount covers only
/// the root).
pub fn confine_with_binds(
    root: &Path,
    read_only: bool,
    binds: &[crate::binds::Bind],
) -> io::Result<PathBuf> {
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)?;
    // Serving the host's own root: a bind of "/" onto "/" would not be
    // reachable (a lookup of "/" starts at the process root, below the
    // bind), so the tree is bound onto an existing directory instead. The
    // copy shows that directory's own contents, not the bind.
    let target: &Path = if root == Path::new("/") {
        ["/tmp", "/mnt", "/media"]
            .iter()
            .map(Path::new)
            .find(|p| p.is_dir())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no directory to stage the root on")
            })?
    } else {
        root
    };
    let source = root;
    let root = target;
    mount(
        Some(source),
        root,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )?;
    if source == Path::new("/") {
        without_host_kernel_trees(root)?;
    }
    crate::binds::apply(root, binds)?;
    if read_only {
        // A remount must repeat the flags the mount is locked with (nosuid,
        // nodev, noexec ... inherited from a less privileged namespace), or
        // it fails with EPERM.
        let kept = statvfs(root)?.flags();
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        for (st, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if kept.contains(st) {
                flags |= ms;
            }
        }
        mount(none, root, none, flags, none)?;
    }
    // pivot_root(".", ".") stacks the old root on top of the new one, so no
    // directory for it is needed in the (read-only) new root; stepping into
    // the old root and detaching it leaves the new root alone.
    let old_root = File::open("/")?;
    let new_root = File::open(root)?;
    fchdir(&new_root)?;
    pivot_root(".", ".")?;
    fchdir(&old_root)?;
    umount2(".", MntFlags::MNT_DETACH)?;
    chdir("/")?;
    Ok(PathBuf::from("/"))
}

/// The host's kernel interfaces, which the Sentry mounts its own of: the
/// host's copies, with everything mounted below them, are left out of a
/// served host root.
const HOST_KERNEL_TREES: [&str; 3] = ["proc", "sys", "dev"];

/// Detaches the copies of [`HOST_KERNEL_TREES`] (each with its submounts)
/// from the staged host root at `staged`, leaving the directories
/// beneath them (the Sentry's mount points). Other submounts (/home,
/// /tmp ...) stay. Several mounts may be stacked on one point.
///
/// In a mount namespace made in a user namespace other than the host's
/// (a rootless sandbox) the host's mounts are locked to each other: one
/// cannot be detached from its parent (EINVAL, as for a path that is no
/// mount point). Such a tree is hidden instead under an empty read-only
/// tmpfs, which the Gofer, in a user namespace of its own, cannot take
/// away.
fn without_host_kernel_trees(staged: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let root_dev = std::fs::metadata(staged)?.dev();
    for name in HOST_KERNEL_TREES {
        let point = staged.join(name);
        loop {
            match umount2(&point, MntFlags::MNT_DETACH) {
                Ok(()) => {}
                // Not (or no longer) a mount point, or absent.
                Err(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT) => break,
                Err(e) => return Err(e.into()),
            }
        }
        match std::fs::metadata(&point) {
            Ok(m) if m.dev() != root_dev => hide(&point)?,
            _ => {}
        }
    }
    Ok(())
}

/// Mounts an empty, read-only tmpfs over `point`.
fn hide(point: &Path) -> io::Result<()> {
    mount(
        Some("runsc-hidden"),
        point,
        Some("tmpfs"),
        MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=4k,mode=0555"),
    )?;
    Ok(())
}
