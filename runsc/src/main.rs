//! `runsc-rs`: the OCI runtime binary.
//!
//! User-facing commands (`do`, and the runc-compatible set as it grows) are
//! thin: they parse flags and call into `sandbox`. `boot` (the Sentry) and
//! `gofer` are internal subcommands the sandbox starts by re-executing this
//! binary.

mod cgroup;
mod cli;
mod container;
mod control;
mod logging;
mod sandbox;
mod seccomp;
mod spec;
mod state;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("runsc-rs: {e:#}");
            tracing::error!("{e:#}");
            ExitCode::from(125)
        }
    }
}
