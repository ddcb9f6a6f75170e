//! The user namespaces of the Sentry and the Gofer: each process enters
//! a namespace of its own and asks its parent, over a socketpair, for id
//! maps (which only a process outside the namespace may write); the
//! parent writes them and keeps its end open for as long as it lives, so
//! the child can tell whether it is still there.
//!
//! * The Sentry's root is an unprivileged host id ([`IdMap::Unprivileged`]):
//!   it needs no host privilege at all once booted, so it gets none.
//! * The Gofer's map is the identity over every id ([`IdMap::Identity`]):
//!   it serves host files of any owner, and a stat through a namespace
//!   shows an unmapped owner as 65534, so every host id must map to
//!   itself for the Sentry to show the right owners. What the namespace
//!   takes away is every capability over what the host's user namespace
//!   owns (mounts, network, other processes, open_by_handle_at): the
//!   Gofer keeps only the file capabilities it names, over files.

use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;

use anyhow::{bail, Context, Result};

use super::fds::inherited_stream;

/// The host uid/gid the Sentry runs as.
const SENTRY_HOST_ID: u32 = 65534;

/// The ids a namespace maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdMap {
    /// Its root to [`SENTRY_HOST_ID`], nothing else.
    Unprivileged,
    /// Every id to itself (as the host's own namespace maps them).
    Identity,
}

impl IdMap {
    /// The lines of uid_map and gid_map.
    fn lines(self) -> String {
        match self {
            IdMap::Unprivileged => format!("0 {SENTRY_HOST_ID} 1\n"),
            // 2^32 - 1 ids: (uid_t)-1 is never an id.
            IdMap::Identity => format!("0 0 {}\n", u32::MAX),
        }
    }
}

/// Answers a child's request for id maps: writes `map` for `pid`.
/// `who` names the child in errors.
pub fn map_user_namespace(sock: &UnixStream, pid: u32, map: IdMap, who: &str) -> Result<()> {
    use std::io::{Read, Write};
    let mut s = sock;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("{who} exited before asking for its id maps");
    }
    // Nothing in either process calls setgroups: refused for good.
    std::fs::write(format!("/proc/{pid}/setgroups"), "deny").context("writing setgroups")?;
    std::fs::write(format!("/proc/{pid}/uid_map"), map.lines()).context("writing uid_map")?;
    std::fs::write(format!("/proc/{pid}/gid_map"), map.lines()).context("writing gid_map")?;
    s.write_all(b"k")?;
    Ok(())
}

/// In the Sentry or the Gofer (single-threaded, not chrooted): enters a
/// new user namespace, waits until the parent has written its id maps,
/// and becomes the namespace's root, with every capability in it (to be
/// cut down by `privileges::keep_only`).
pub fn enter_user_namespace(fd: RawFd) -> Result<()> {
    use std::io::{Read, Write};
    let mut s = inherited_stream(fd)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
    s.write_all(b"m")?;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("the parent did not map the user namespace");
    }
    nix::unistd::setresgid(0.into(), 0.into(), 0.into()).context("setresgid")?;
    nix::unistd::setresuid(0.into(), 0.into(), 0.into()).context("setresuid")?;
    // A change of credentials clears the parent-death signal: armed again,
    // or the process would outlive a SIGKILLed parent (`docker kill`).
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .context("prctl(PR_SET_PDEATHSIG)")?;
    // The parent died before the signal was armed again if its end is
    // closed (getppid cannot tell: in a PID namespace of its own the
    // parent has no pid).
    s.set_nonblocking(true)?;
    match s.read(&mut b) {
        Ok(0) => std::process::exit(1),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
        Ok(_) => bail!("unexpected data on the user namespace socket"),
        Err(e) => Err(e).context("checking on the parent"),
    }
}
