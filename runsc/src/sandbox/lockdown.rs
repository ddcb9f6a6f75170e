//! The Sentry's lockdown of its host filesystem view (its capabilities
//! are `privileges`', the seccomp filter `crate::seccomp`'s).

use anyhow::{Context, Result};

/// Leaves the Sentry with nothing of the host's filesystem: a private mount
/// namespace whose root is an empty, read-only tmpfs; and with IPC and
/// UTS namespaces of its own (the sandbox's are the Sentry's objects).
pub fn empty_root() -> Result<()> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    use nix::sched::CloneFlags;
    nix::sched::unshare(
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWUTS,
    )
    .context("unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS)")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("making mounts private")?;
    let dir = "/tmp";
    mount(
        Some("runsc-root"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=4k,mode=0555"),
    )
    .context("mounting the empty root")?;
    std::env::set_current_dir(dir)?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the host root")?;
    std::env::set_current_dir("/")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .context("making the root read-only")?;
    Ok(())
}
