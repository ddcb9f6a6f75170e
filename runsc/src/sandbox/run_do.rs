//! `runsc-rs do`: a command in a sandbox over the host's root.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;

use super::launch::{launch, LaunchArgs};
use super::signals::forward_signals_to;
use super::wait::wait_sandbox;
use crate::config::Config;

/// What `do` runs.
#[derive(Debug)]
pub struct DoOptions {
    /// Working directory inside the sandbox (default: the current one).
    pub cwd: Option<PathBuf>,
    /// The command and its arguments.
    pub cmd: Vec<OsString>,
}

pub fn run_do(g: &Config, args: DoOptions) -> Result<u8> {
    let cwd = match args.cwd {
        Some(c) => c,
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    let mut boot_args: Vec<OsString> = vec!["--cwd".into(), cwd.into_os_string(), "--".into()];
    boot_args.extend(args.cmd);
    // The handler is installed before the Sentry exists: a signal in
    // between finds no pid and is dropped, as if sent a moment earlier.
    forward_signals_to(0);
    let l = launch(
        g,
        LaunchArgs {
            gofer: vec!["--root=/".into()],
            boot: boot_args,
            boot_fds: Vec::new(),
            id: None,
        },
    )?;
    forward_signals_to(l.boot.id() as i32);
    wait_sandbox(l)
}
