//! The command line: global flags (as Docker passes them, before the
//! subcommand, and accepted after it too) and subcommands.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use crate::container::{CreateArgs, RunArgs};
pub use crate::global::{Global, PlatformKind};
use crate::sandbox::DoArgs;

#[derive(Parser, Debug)]
#[command(
    name = "runsc-rs",
    version,
    about = "A user-space kernel sandbox for containers (gVisor-style, in Rust)"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in a sandbox over the host's root filesystem, read-only
    /// (writes stay in the sandbox's memory).
    ///
    /// What the sandbox sees:
    ///
    /// * `/`: the host's root, served by the Gofer, under an overlay whose
    ///   upper layer is the sandbox's memory: every write (in /tmp, your
    ///   home, /etc ...) stays in the sandbox and is gone when it ends. The
    ///   current directory and /tmp are the host's, like the rest of the
    ///   root. With `--overlay=none` the root is writable and writes reach
    ///   the host.
    ///
    /// * `/dev`: the sandbox's own devices (null, zero, full, random,
    ///   urandom, tty, ptmx) and `/dev/pts` for its terminals.
    ///
    /// * `/proc` and `/sys`: the sandbox's own procfs (only its processes)
    ///   and a small read-only sysfs.
    ///
    /// The program runs as root of the sandbox, in the current directory
    /// (or `--cwd`), with the caller's environment.
    Do(DoArgs),
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Start a created container's process.
    Start(IdArg),
    /// Create and start a container, and wait for it unless --detach.
    Run(RunArgs),
    /// Print a container's state as OCI state JSON.
    State(IdArg),
    /// Send a signal to a container's process (or all with --all).
    Kill(KillArgs),
    /// Delete a container and everything it left.
    Delete(DeleteArgs),
    /// List containers.
    #[command(alias = "ls")]
    List(ListArgs),
    /// List a container's processes (`--format json`: host pids, for
    /// containerd).
    Ps(PsArgs),
    /// Print container statistics.
    Events(EventsArgs),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Write a default config.json.
    Spec(SpecArgs),
    /// Run a new process in a running container.
    Exec(crate::exec::ExecArgs),
    /// Look into a running container's sandbox (`--stacks`: what each task
    /// is doing).
    Debug(crate::debug::DebugArgs),
    /// Internal: the supervisor of a container's sandbox.
    #[command(hide = true)]
    Supervise(crate::container::SuperviseArgs),
    /// Internal: the Sentry of a sandbox.
    #[command(hide = true)]
    Boot(crate::sandbox::BootArgs),
    /// Internal: the Gofer of a sandbox.
    #[command(hide = true)]
    Gofer(crate::sandbox::GoferArgs),
    /// Register runsc-rs as a Docker runtime in daemon.json (other keys
    /// are kept); arguments after `--` become its runtimeArgs.
    Install(crate::install::InstallArgs),
    /// Remove runsc-rs's runtime entry from daemon.json.
    Uninstall(crate::install::UninstallArgs),
}

impl Command {
    /// The runc-compatible commands (exit status 1 on error, as runc).
    pub fn is_runtime(&self) -> bool {
        !matches!(
            self,
            Command::Do(_) | Command::Boot(_) | Command::Gofer(_) | Command::Supervise(_)
        )
    }
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// The container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container.
    #[arg(long, short = 'a')]
    pub all: bool,
    pub id: String,
    /// Signal name or number (default SIGTERM).
    pub signal: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container if it is still running.
    #[arg(long, short = 'f')]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// table or json.
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
    /// Only ids.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// table or json.
    #[arg(long, short = 'f', default_value = "table")]
    pub format: String,
    pub id: String,
    /// Accepted for runc compatibility (ps options).
    #[arg(trailing_var_arg = true, hide = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one statistics record and exit.
    #[arg(long)]
    pub stats: bool,
    /// Interval between records (seconds, or with an s/ms suffix).
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Where to write config.json.
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    // `spec --rootless` is the global --rootless (a field of the same
    // name here would clash with it in clap).
}

fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = match s.strip_suffix("ms") {
        Some(n) => (n, 1e-3),
        None => (s.strip_suffix('s').unwrap_or(s), 1.0),
    };
    let v: f64 = num.parse().map_err(|_| format!("invalid interval {s:?}"))?;
    if !(v > 0.0 && v < 1e6) {
        return Err(format!("invalid interval {s:?}"));
    }
    Ok(std::time::Duration::from_secs_f64(v * unit))
}

pub fn run(cli: Cli) -> Result<u8> {
    if cli.global.platform == PlatformKind::Kvm {
        bail!("--platform=kvm is not available yet; use --platform=ptrace");
    }
    match cli.command {
        Command::Do(args) => {
            crate::logging::init(&cli.global, "do")?;
            crate::sandbox::run_do(&cli.global, args)
        }
        Command::Boot(args) => {
            crate::logging::init(&cli.global, "boot")?;
            crate::sandbox::boot(&cli.global, args)
        }
        Command::Gofer(args) => {
            crate::logging::init(&cli.global, "gofer")?;
            crate::sandbox::gofer(&cli.global, args)
        }
        Command::Supervise(args) => {
            crate::logging::init(&cli.global, "supervise")?;
            crate::container::supervise(&cli.global, args)
        }
        other => {
            let g = &cli.global;
            crate::logging::init(g, "runtime")?;
            use crate::container as c;
            match other {
                Command::Create(a) => c::create(g, &a),
                Command::Start(a) => c::start(g, &a.id),
                Command::Run(a) => c::run(g, &a),
                Command::State(a) => c::state(g, &a.id),
                Command::Kill(a) => c::kill(g, &a.id, a.signal.as_deref(), a.all),
                Command::Delete(a) => c::delete(g, &a.id, a.force),
                Command::List(a) => c::list(g, &a.format, a.quiet),
                Command::Ps(a) => c::ps(g, &a.id, &a.format),
                Command::Events(a) => c::events(g, &a.id, a.stats, a.interval),
                Command::Pause(a) => c::pause(g, &a.id, true),
                Command::Resume(a) => c::pause(g, &a.id, false),
                Command::Spec(a) => c::spec(&a.bundle),
                Command::Exec(a) => crate::exec::exec(g, &a),
                Command::Debug(a) => crate::debug::debug(g, &a),
                Command::Install(a) => {
                    crate::install::install(&a.config_file, &a.runtime, &a.flags)
                }
                Command::Uninstall(a) => crate::install::uninstall(&a.config_file, &a.runtime),
                Command::Do(_) | Command::Boot(_) | Command::Gofer(_) | Command::Supervise(_) => {
                    unreachable!("handled above")
                }
            }
        }
    }
}
