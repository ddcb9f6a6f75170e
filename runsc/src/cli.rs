//! The command line: global flags (as Docker passes them, before the
//! subcommand, and accepted after it too) and subcommands.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use netstack::NetworkMode;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlatformKind {
    Ptrace,
    Kvm,
}

/// Flags every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// How application code runs: ptrace (PTRACE_SYSEMU) or kvm.
    #[arg(long, global = true, value_enum, default_value = "ptrace")]
    pub platform: PlatformKind,
    /// Log every system call of the application (to stderr and the debug log).
    #[arg(long, global = true)]
    pub strace: bool,
    /// Verbose logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Directory for per-process log files (boot.log, gofer.log).
    #[arg(long = "debug-log", global = true, value_name = "DIR")]
    pub debug_log: Option<PathBuf>,
    /// Network: sandbox (our own stack), host (host sockets) or none.
    #[arg(long, global = true, default_value = "sandbox", value_parser = parse_network)]
    pub network: NetworkMode,
    /// The root filesystem: memory = an in-memory overlay over the host's
    /// root, served read-only (writes stay in the sandbox); none = the
    /// host's root itself, served read-write (writes reach the host).
    #[arg(long, global = true, value_enum, default_value = "memory")]
    pub overlay: OverlayMode,
    /// Host files: exclusive = only the sandbox changes them while it runs
    /// (lookups, attributes and listings are cached); shared = the host may
    /// change them too, and the sandbox sees those changes.
    #[arg(
        long = "file-access",
        global = true,
        value_enum,
        default_value = "exclusive"
    )]
    pub file_access: FileAccess,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OverlayMode {
    Memory,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileAccess {
    Exclusive,
    Shared,
}

fn parse_network(s: &str) -> Result<NetworkMode, String> {
    s.parse()
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a command in a sandbox over the host's root filesystem, read-only
    /// (writes stay in the sandbox's memory).
    Do(DoArgs),
    /// Internal: the Sentry of a sandbox.
    #[command(hide = true)]
    Boot(crate::sandbox::BootArgs),
    /// Internal: the Gofer of a sandbox.
    #[command(hide = true)]
    Gofer(crate::sandbox::GoferArgs),
}

#[derive(Args, Debug)]
pub struct DoArgs {
    /// Working directory inside the sandbox (default: the current one).
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<std::ffi::OsString>,
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
    }
}
