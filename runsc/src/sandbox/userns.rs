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
//!
//! Both maps are made of the ids the parent's own namespace maps: all of
//! them as root on the host; in a rootless sandbox (`rootless`), only the
//! caller's ids and its subordinate ranges.

use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;

use anyhow::{bail, Context, Result};

use super::fds::inherited_stream;

/// The uid/gid the Sentry runs as (in the parent's namespace: on the
/// host as root; in a rootless sandbox's namespace, a subordinate id).
const SENTRY_HOST_ID: u32 = 65534;

/// The ids a namespace maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdMap {
    /// Its root to [`SENTRY_HOST_ID`], nothing else (to the parent's
    /// root if the parent's namespace has no such id: a rootless sandbox
    /// whose caller has no subordinate ids, where that root is the
    /// caller).
    Unprivileged,
    /// Every id the parent's namespace maps to itself.
    Identity,
}

/// One line of an id map: (first id inside, first id outside, count).
type Extent = (u32, u32, u32);

/// The lines of a /proc/PID/uid_map or gid_map.
fn parse_map(text: &str) -> Vec<Extent> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .filter_map(|n| n.parse().ok())
                .collect();
            match f[..] {
                [inside, outside, count] => Some((inside, outside, count)),
                _ => None,
            }
        })
        .collect()
}

impl IdMap {
    /// The lines of uid_map or gid_map for a child of a process whose own
    /// map (its /proc/self/uid_map or gid_map) is `own`.
    fn lines(self, own: &str) -> String {
        let own = parse_map(own);
        match self {
            IdMap::Unprivileged => {
                let mapped = own.iter().any(|&(inside, _, count)| {
                    (inside..inside.saturating_add(count)).contains(&SENTRY_HOST_ID)
                });
                let id = if mapped { SENTRY_HOST_ID } else { 0 };
                format!("0 {id} 1\n")
            }
            IdMap::Identity => own
                .iter()
                .map(|&(inside, _, count)| format!("{inside} {inside} {count}\n"))
                .collect(),
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
    for which in ["uid_map", "gid_map"] {
        let own = std::fs::read_to_string(format!("/proc/self/{which}"))
            .with_context(|| format!("reading /proc/self/{which}"))?;
        let lines = map.lines(&own);
        tracing::debug!("{who}'s {which}: {}", lines.trim_end().replace('\n', ", "));
        std::fs::write(format!("/proc/{pid}/{which}"), lines)
            .with_context(|| format!("writing {which}"))?;
    }
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
    // The supplementary groups of whoever started the runtime would
    // otherwise stay the process's host groups for good (setgroups is
    // denied in the namespace). Without the privilege to drop them
    // (rootless) they are the caller's own and stay.
    match nix::unistd::setgroups(&[]) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => {}
        Err(e) => return Err(e).context("setgroups"),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_are_made_of_the_parents_ids() {
        // Root on the host: every id.
        let host = "         0          0 4294967295\n";
        assert_eq!(IdMap::Identity.lines(host), "0 0 4294967295\n");
        assert_eq!(IdMap::Unprivileged.lines(host), "0 65534 1\n");
        // Rootless with a subordinate range: the Sentry's root is one of it.
        let sub = "0 1000 1\n1 100000 65536\n";
        assert_eq!(IdMap::Identity.lines(sub), "0 0 1\n1 1 65536\n");
        assert_eq!(IdMap::Unprivileged.lines(sub), "0 65534 1\n");
        // Rootless with the caller's id alone: that is all there is.
        let single = "0 1000 1\n";
        assert_eq!(IdMap::Identity.lines(single), "0 0 1\n");
        assert_eq!(IdMap::Unprivileged.lines(single), "0 0 1\n");
    }
}
