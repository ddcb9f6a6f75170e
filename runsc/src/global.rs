//! The flags every command takes (as Docker passes them, before the
//! subcommand, and accepted after it too): what the runtime, the
//! supervisor, the Sentry and the Gofer are configured by.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use netstack::NetworkMode;

/// `--platform`: clap's face of [`platform::PlatformKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlatformKind {
    Ptrace,
    Kvm,
}

impl From<PlatformKind> for platform::PlatformKind {
    fn from(k: PlatformKind) -> platform::PlatformKind {
        match k {
            PlatformKind::Ptrace => platform::PlatformKind::Ptrace,
            PlatformKind::Kvm => platform::PlatformKind::Kvm,
        }
    }
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
    /// Directory for container state (runc's --root).
    #[arg(long, global = true, default_value = "/run/runsc-rs")]
    pub root: PathBuf,
    /// Log file for errors (containerd reads the last error from it).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of the --log file: text, or json (logrus keys, as containerd
    /// expects).
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Name cgroups the systemd way (slice:prefix:name).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (runc's --rootless); the sandbox needs
    /// root on the host to set up its namespaces.
    #[arg(long, global = true, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
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
pub enum LogFormat {
    Text,
    Json,
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
