//! The Sentry's user namespace: the Sentry enters it and asks its parent,
//! over a socketpair, for id maps (which only a process outside the
//! namespace may write); the parent maps the namespace's root to an
//! unprivileged host id.

use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;

use anyhow::{bail, Context, Result};

use super::fds::inherited_stream;

/// The host uid/gid the Sentry runs as: it needs no host privilege at all
/// once booted, so it gets none.
const SENTRY_HOST_ID: u32 = 65534;

/// Answers the Sentry's request for id maps: its root becomes an
/// unprivileged host id.
pub fn map_user_namespace(sock: &UnixStream, pid: u32) -> Result<()> {
    use std::io::{Read, Write};
    let mut s = sock;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("the Sentry exited before asking for its id maps");
    }
    std::fs::write(format!("/proc/{pid}/setgroups"), "deny").context("writing setgroups")?;
    std::fs::write(
        format!("/proc/{pid}/uid_map"),
        format!("0 {SENTRY_HOST_ID} 1\n"),
    )
    .context("writing uid_map")?;
    std::fs::write(
        format!("/proc/{pid}/gid_map"),
        format!("0 {SENTRY_HOST_ID} 1\n"),
    )
    .context("writing gid_map")?;
    s.write_all(b"k")?;
    Ok(())
}

/// In the Sentry: enters a new user namespace and waits until the parent
/// has written its id maps.
pub fn enter_user_namespace(fd: RawFd) -> Result<()> {
    use std::io::{Read, Write};
    let mut s = inherited_stream(fd)?;
    let parent = nix::unistd::getppid();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
    s.write_all(b"m")?;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("the parent did not map the user namespace");
    }
    // Become root of the new namespace with its full capability set.
    nix::unistd::setresgid(0.into(), 0.into(), 0.into()).context("setresgid")?;
    nix::unistd::setresuid(0.into(), 0.into(), 0.into()).context("setresuid")?;
    // A change of credentials clears the parent-death signal: armed again,
    // or the Sentry would outlive a SIGKILLed supervisor (`docker kill`).
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        bail!(
            "prctl(PR_SET_PDEATHSIG): {}",
            std::io::Error::last_os_error()
        );
    }
    if nix::unistd::getppid() != parent {
        // The parent died before the signal was armed again.
        std::process::exit(1);
    }
    Ok(())
}
