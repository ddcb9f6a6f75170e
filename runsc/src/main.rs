//! `runsc-rs`: the OCI runtime binary.
//!
//! User-facing commands (`do`, and the runc-compatible set as it grows) are
//! thin: they parse flags and call into `sandbox`. `boot` (the Sentry) and
//! `gofer` are internal subcommands the sandbox starts by re-executing this
//! binary.

mod cgroup;
mod cli;
mod console;
mod container;
mod control;
mod debug;
mod exec;
mod global;
mod install;
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
    let log = cli.global.log.clone();
    let json = cli.global.log_format == global::LogFormat::Json;
    let runtime_command = cli.command.is_runtime();
    match cli::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = format!("{e:#}");
            eprintln!("runsc-rs: {msg}");
            tracing::error!("{msg}");
            if let Some(path) = log {
                logging::append_error(&path, json, &msg);
            }
            // runc's convention for the OCI commands: 1 on any error.
            ExitCode::from(if runtime_command { 1 } else { 125 })
        }
    }
}
