//! Rootless sandboxes: `do`, `create` and `run` for a caller who is not
//! root on the host. The command re-executes itself in a user namespace
//! of its own, where the caller is root, and sets the sandbox up there as
//! root would (gVisor's `specutils.MaybeRunAsRoot`); the first process
//! stays outside, maps the namespace's ids, passes signals on and exits
//! with the inner command's status:
//!
//! ```text
//! runsc-rs --rootless do CMD      the caller, on the host: maps ids, waits
//!  └── runsc-rs do CMD            root in the new user namespace
//!       ├── runsc-rs gofer        (as in root mode, one level down)
//!       └── runsc-rs boot
//! ```
//!
//! The map: the caller's uid and gid become 0; when /etc/subuid and
//! /etc/subgid give the caller subordinate ranges and newuidmap and
//! newgidmap (Debian's `uidmap`) are installed, those ranges follow from
//! 1 on, written by the two set-uid helpers (as rootless podman and runc
//! do). Otherwise the caller's own ids are all the namespace has, written
//! directly (setgroups denied, as the kernel requires of an unprivileged
//! gid map).

use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::launch::child_command;
use super::process::{set_process_name, ROOTLESS_NAME};
use super::signals::forward_signals_to;
use super::userns::enter_user_namespace;
use super::wait::code_of;

/// The environment variable that tells the re-executed command which of
/// its descriptors to ask for its id maps on (and that it is the inner
/// one). Removed at once, so the sandbox's environment never holds it.
const USERNS_FD_ENV: &str = "RUNSC_RS_ROOTLESS_USERNS_FD";
/// That descriptor's number in the inner command.
const CHILD_USERNS_FD: i32 = 3;

/// Where the subordinate ids are listed (shadow-utils' files).
const SUBUID: &str = "/etc/subuid";
const SUBGID: &str = "/etc/subgid";

/// Where the set-uid helpers are looked for after $PATH.
const TOOL_DIRS: [&str; 4] = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"];

/// In a re-executed rootless command (single-threaded, at its start):
/// enters its user namespace, mapped by the outer command, as root.
/// Returns whether it was one.
pub fn enter_if_reexecuted() -> Result<bool> {
    let Some(fd) = std::env::var_os(USERNS_FD_ENV) else {
        return Ok(false);
    };
    std::env::remove_var(USERNS_FD_ENV);
    let fd = fd
        .to_str()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("{USERNS_FD_ENV} is not a descriptor"))?;
    enter_user_namespace(fd).context("cannot enter the rootless user namespace")?;
    // Re-executed as /proc/self/exe, it would show as `exe`.
    set_process_name(ROOTLESS_NAME);
    Ok(true)
}

/// The outer side: runs this very command line again in a new user
/// namespace, maps it, and exits with its status.
pub fn run_in_user_namespace() -> Result<u8> {
    let (ours, theirs) =
        UnixStream::pair().context("cannot create the user namespace socketpair")?;
    let mut argv = std::env::args_os();
    let arg0 = argv
        .next()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "runsc-rs".into());
    let args: Vec<OsString> = argv.collect();
    let mut cmd = child_command(&arg0, &[(theirs.as_raw_fd(), CHILD_USERNS_FD)]);
    cmd.args(&args)
        .env(USERNS_FD_ENV, CHILD_USERNS_FD.to_string());
    // The handler is in place before the child exists: a signal in
    // between finds no pid and is dropped, as if sent a moment earlier.
    forward_signals_to(0);
    let mut child = cmd
        .spawn()
        .context("cannot start the command in a user namespace")?;
    drop(theirs);
    if let Err(e) = map_ids(&ours, child.id()) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    forward_signals_to(child.id() as i32);
    // Our end stays open while we wait: the inner command checks on it.
    let status = loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to status.
        let r = unsafe { libc::waitpid(child.id() as i32, &mut status, 0) };
        if r >= 0 {
            break status;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("waiting for the command in its user namespace");
        }
    };
    drop(ours);
    Ok(code_of(status))
}

/// Answers the inner command's request for its id maps.
fn map_ids(sock: &UnixStream, pid: u32) -> Result<()> {
    use std::io::{Read, Write};
    let mut s = sock;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("the command exited before asking for its id maps");
    }
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let name = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map(|u| u.name);
    let subuids = subordinate_ranges(SUBUID, name.as_deref(), uid);
    let subgids = subordinate_ranges(SUBGID, name.as_deref(), uid);
    let tools = helpers();
    let mapped = match (&tools, subuids.is_empty() || subgids.is_empty()) {
        (Some((newuidmap, newgidmap)), false) => {
            let by_helpers = run_helper(newuidmap, pid, uid, &subuids)
                .and_then(|()| run_helper(newgidmap, pid, gid, &subgids));
            match by_helpers {
                Ok(()) => {
                    tracing::debug!(
                        "rootless: uids 0={uid} {}, gids 0={gid} {} (newuidmap, newgidmap)",
                        describe(&subuids),
                        describe(&subgids)
                    );
                    true
                }
                // A map newuidmap wrote cannot be written again: the
                // fallback below then fails too, and says why.
                Err(e) => {
                    tracing::warn!("rootless: {e:#}; mapping the caller's own ids only");
                    false
                }
            }
        }
        (None, _) => {
            single_id_note("newuidmap/newgidmap are not installed (Debian package uidmap)");
            false
        }
        (Some(_), true) => {
            single_id_note(&format!(
                "no subordinate ids for uid {uid} in {SUBUID} and {SUBGID}"
            ));
            false
        }
    };
    if !mapped {
        single_id_map(pid, uid, gid)?;
    }
    s.write_all(b"k")?;
    Ok(())
}

/// Says why the sandbox gets a single-id map, and what that means.
fn single_id_note(why: &str) {
    tracing::info!(
        "rootless: {why}: a single-id map (the caller's uid and gid as 0, setgroups \
         denied); the sandbox has no other ids"
    );
}

/// The caller's own ids alone, written directly: an unprivileged process
/// may map its own uid, and its own gid once setgroups is denied.
fn single_id_map(pid: u32, uid: u32, gid: u32) -> Result<()> {
    std::fs::write(format!("/proc/{pid}/uid_map"), format!("0 {uid} 1\n"))
        .context("writing uid_map")?;
    std::fs::write(format!("/proc/{pid}/setgroups"), "deny").context("writing setgroups")?;
    std::fs::write(format!("/proc/{pid}/gid_map"), format!("0 {gid} 1\n"))
        .context("writing gid_map")?;
    Ok(())
}

/// A subordinate range: (first host id, count).
type Range = (u32, u32);

/// `1 start count` and so on for each range, as newuidmap takes them.
fn helper_args(own: u32, ranges: &[Range]) -> Vec<String> {
    let mut args = vec!["0".to_string(), own.to_string(), "1".to_string()];
    let mut inside: u32 = 1;
    for &(start, count) in ranges {
        args.extend([inside.to_string(), start.to_string(), count.to_string()]);
        inside = inside.saturating_add(count);
    }
    args
}

fn describe(ranges: &[Range]) -> String {
    let mut inside: u32 = 1;
    ranges
        .iter()
        .map(|&(start, count)| {
            let s = format!("{inside}..{}={start}..", inside.saturating_add(count));
            inside = inside.saturating_add(count);
            s
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn run_helper(tool: &Path, pid: u32, own: u32, ranges: &[Range]) -> Result<()> {
    let out = std::process::Command::new(tool)
        .arg(pid.to_string())
        .args(helper_args(own, ranges))
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}",
            tool.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// newuidmap and newgidmap, if both are installed.
fn helpers() -> Option<(PathBuf, PathBuf)> {
    Some((find_tool("newuidmap")?, find_tool("newgidmap")?))
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(TOOL_DIRS.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The caller's ranges in a subordinate id file, named by user name or
/// by uid; none if the file is missing.
fn subordinate_ranges(file: &str, name: Option<&str>, uid: u32) -> Vec<Range> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    parse_subordinate(&text, name, uid)
}

fn parse_subordinate(text: &str, name: Option<&str>, uid: u32) -> Vec<Range> {
    let uid = uid.to_string();
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let who = f.next()?;
            let start: u32 = f.next()?.parse().ok()?;
            let count: u32 = f.next()?.parse().ok()?;
            let ours = who == uid || Some(who) == name;
            (ours && count > 0).then_some((start, count))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_are_found_by_name_or_uid() {
        let text =
            "# comment\nalice:100000:65536\nbob:165536:65536\n1001:231072:1000\nalice:300000:0\n";
        assert_eq!(
            parse_subordinate(text, Some("alice"), 1000),
            vec![(100000, 65536)]
        );
        assert_eq!(
            parse_subordinate(text, Some("carol"), 1001),
            vec![(231072, 1000)]
        );
        assert!(parse_subordinate(text, Some("nobody"), 65534).is_empty());
        assert!(parse_subordinate("garbage\n", None, 0).is_empty());
    }

    #[test]
    fn the_caller_is_root_and_its_ranges_follow() {
        assert_eq!(
            helper_args(1000, &[(100000, 65536), (300000, 10)]),
            ["0", "1000", "1", "1", "100000", "65536", "65537", "300000", "10"]
        );
    }
}
