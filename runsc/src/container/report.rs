//! The supervisor's report to `create`: one JSON line on a pipe, on a
//! descriptor number both sides know.

use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Where the supervisor finds the pipe on which it reports to `create`.
pub const SUPERVISOR_READY_FD: RawFd = 3;
/// Where the supervisor finds the host terminal for the container's
/// console (process.terminal).
pub const SUPERVISOR_CONSOLE_FD: RawFd = 4;

/// What the supervisor reports to `create`, one JSON line.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ready {
    pub error: Option<String>,
    pub cgroups: Vec<PathBuf>,
}

pub fn pipe() -> Result<(std::fs::File, std::fs::File)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}
