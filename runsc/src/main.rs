//! `runsc-rs`: the OCI runtime binary.
//!
//! A thin CLI over a runtime library: `cli` parses the command line (clap)
//! into plain configuration ([`config::Config`] and each command's
//! options), and the commands take only that: `container` (the
//! runc-compatible lifecycle), `exec`, `debug`, `install`, and `sandbox`
//! (`do`, and the sandbox's own processes: the supervisor's launch of the
//! Gofer and the Sentry, `boot` and `gofer`, which the sandbox starts by
//! re-executing this binary).

mod cgroup;
mod cli;
mod config;
mod console;
mod container;
mod control;
mod debug;
mod exec;
#[cfg(test)]
mod fuzz_targets;
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
    if cli.command.prints() {
        // SAFETY: restores the default disposition before any thread
        // starts; Rust's runtime set SIGPIPE to ignored.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    // A rootless `do`, `create` or `run` is run again in a user namespace
    // of its own: this is that second run if so, and it enters the
    // namespace first, while it has one thread.
    let in_rootless_namespace = match sandbox::enter_if_reexecuted() {
        Ok(inside) => inside,
        Err(e) => {
            eprintln!("runsc-rs: {e:#}");
            return ExitCode::from(125);
        }
    };
    let config = cli.global.config_for(&cli.command, in_rootless_namespace);
    let reexecute = config.rootless && !in_rootless_namespace && cli.command.needs_user_namespace();
    let runtime_command = cli.command.is_runtime();
    if runtime_command {
        logging::log_panics(&config);
    }
    match cli::run(&config, cli.command, reexecute) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let msg = format!("{e:#}");
            eprintln!("runsc-rs: {msg}");
            tracing::error!("{msg}");
            if let Some(path) = &config.log {
                let json = config.log_format == config::LogFormat::Json;
                logging::append_error(path, json, &msg);
            }
            // runc's convention for the OCI commands: 1 on any error.
            ExitCode::from(if runtime_command { 1 } else { 125 })
        }
    }
}
