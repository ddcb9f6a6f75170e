//! `kill`: a signal to a container's init (or every process of it).

use anyhow::{anyhow, bail, Result};

use super::destroy::kill_supervisor;
use crate::config::Config;
use crate::state::{Root, Status};

/// A signal by number or name (`9`, `KILL`, `SIGKILL`, `sigterm`).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal {s:?}");
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let sig: nix::sys::signal::Signal = format!("SIG{name}")
        .parse()
        .map_err(|_| anyhow!("unknown signal {s:?}"))?;
    Ok(sig as i32)
}

pub fn kill(g: &Config, id: &str, signal: Option<&str>, all: bool) -> Result<u8> {
    let sig = parse_signal(signal.unwrap_or("SIGTERM"))?;
    let root = Root::open(g)?;
    let c = root.load(id)?;
    match c.status() {
        // runc's words: containerd's runc shim takes "container not
        // running" after a kill as "already finished", anything else as an
        // error that fails StopContainer and StopPodSandbox.
        Status::Stopped => bail!("container {id:?}: container not running"),
        // Not started: there is no process to take the signal; like runc's
        // waiting init, the container dies of it.
        Status::Created => {
            kill_supervisor(&c);
            return Ok(0);
        }
        _ => {}
    }
    if sig == libc::SIGKILL && c.sandbox.is_none() {
        // SIGKILL cannot be caught: the whole sandbox goes, and the
        // container's status is "killed by SIGKILL" (137) as with runc.
        // A pod's further container is killed inside the Sentry instead
        // (its proxy then exits of SIGKILL too): the pod lives on.
        kill_supervisor(&c);
        return Ok(0);
    }
    let (dir, container) = root.control(&c);
    crate::control::call(
        &dir,
        &crate::control::Request::Signal {
            signal: sig,
            all,
            container,
        },
    )?;
    Ok(0)
}
