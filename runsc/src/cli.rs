//! The command line, and only it: clap's definitions of the global flags
//! (as Docker passes them, before the subcommand, and accepted after it
//! too) and of every subcommand, turned into the plain configuration the
//! commands take ([`Config`] and each command's options). No other module
//! names clap or this one.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use netstack::NetworkMode;

use crate::config::{self, Config};

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

/// Flags every command takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// How application code runs: ptrace (PTRACE_SYSEMU) or kvm.
    #[arg(long, global = true, value_enum, default_value = "ptrace")]
    pub platform: PlatformKind,
    /// Log every system call of the application (to stderr and the debug log).
    #[arg(long, global = true)]
    pub strace: bool,
    /// With --platform=systrap, patch hot `mov $nr,%eax; syscall` sites of
    /// application code into jumps to a trampoline that skips the seccomp
    /// trap (docs/architecture.md, "Syscall patching").
    #[arg(long = "systrap-patch", global = true, value_name = "BOOL", default_value_t = false, action = clap::ArgAction::Set)]
    pub systrap_patch: bool,
    /// With --strace, log only these calls (comma-separated names, as
    /// `open,read,mmap`); a name that is no x86-64 system call's is an
    /// error.
    #[arg(long = "strace-syscalls", global = true, value_name = "NAMES", value_parser = parse_syscall_list)]
    pub strace_syscalls: Option<SyscallList>,
    /// With --strace, the most bytes of each buffer or string shown (as
    /// strace's -s; paths are shown whole).
    #[arg(long = "strace-log-size", global = true, value_name = "BYTES", default_value_t = sentry::boot::STRACE_LOG_SIZE)]
    pub strace_log_size: usize,
    /// Verbose logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Directory for per-process log files (boot.log, gofer.log), or a
    /// pattern for each process's file with %ID% (the container id) and
    /// %COMMAND% (create, boot, gofer, ...), as
    /// /var/log/runsc-rs/%ID%/%COMMAND%.log.
    #[arg(long = "debug-log", global = true, value_name = "DIR|PATTERN")]
    pub debug_log: Option<PathBuf>,
    /// Network: sandbox (the sandbox's own TCP/IP stack on the container's
    /// interfaces, which it takes from the host side of the container's
    /// network namespace; the default for containers), host (the
    /// application's sockets are host sockets; the default for `do`, whose
    /// command runs on the host's own root), or none (loopback only).
    #[arg(long, global = true, value_parser = parse_network)]
    pub network: Option<NetworkMode>,
    /// Log every frame the sandbox's network stack sends or receives (to
    /// the debug log).
    #[arg(long = "log-packets", global = true)]
    pub log_packets: bool,
    /// Directory for container state (runc's --root). Default:
    /// /run/runsc-rs, or $XDG_RUNTIME_DIR/runsc-rs when rootless.
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
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
    /// Run without root on the host (runc's --rootless): `do`, `create`
    /// and `run` first enter a user namespace of their own, where the
    /// caller is root (its subordinate ids from /etc/subuid and
    /// /etc/subgid mapped too, through newuidmap/newgidmap, when it has
    /// them), and set the sandbox up inside it; cgroups are used only if
    /// writable. auto (the default): when the effective uid is not 0.
    #[arg(long, global = true, value_enum, value_name = "true|false|auto", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rootless: Option<Rootless>,
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
    /// Host Unix sockets in served trees: none = only those an OCI spec
    /// binds in (a socket file as a bind mount's source); open = the
    /// sandbox may connect to any socket file of the trees it sees (in
    /// `do`, the host's: /var/run/docker.sock included, root on the
    /// host). gVisor's --host-uds.
    #[arg(long = "host-uds", global = true, value_enum, default_value = "none")]
    pub host_uds: HostUdsMode,
}

// clap's faces of the configuration's enums (their value names are the
// flags' values).

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PlatformKind {
    Ptrace,
    Kvm,
    Systrap,
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
pub enum HostUdsMode {
    None,
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Rootless {
    True,
    False,
    Auto,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileAccess {
    Exclusive,
    Shared,
}

fn parse_network(s: &str) -> Result<NetworkMode, String> {
    s.parse()
}

/// `--strace-syscalls`' numbers, checked when the command line is read.
#[derive(Clone, Debug)]
pub struct SyscallList(Vec<u64>);

fn parse_syscall_list(s: &str) -> Result<SyscallList, String> {
    sentry::boot::syscall_numbers(s).map(SyscallList)
}

impl Global {
    /// The configuration these flags give to `command`: without
    /// `--network`, `do` gets the host's network (a command on the host's
    /// root expects to reach what the host reaches) and containers their
    /// own stack. `in_rootless_namespace`: this process is a rootless
    /// command re-executed in its user namespace (root there, rootless
    /// all the same).
    pub fn config_for(&self, command: &Command, in_rootless_namespace: bool) -> Config {
        let mut c = self.config(in_rootless_namespace);
        if self.network.is_none() && matches!(command, Command::Do(_)) {
            c.network = NetworkMode::Host;
        }
        c
    }

    /// The configuration these flags give (see [`Global::config_for`]).
    pub fn config(&self, in_rootless_namespace: bool) -> Config {
        let rootless = match self.rootless.unwrap_or(Rootless::Auto) {
            Rootless::True => true,
            Rootless::False => false,
            // runc's rule: an effective uid other than 0.
            Rootless::Auto => in_rootless_namespace || !nix::unistd::geteuid().is_root(),
        };
        Config {
            rootless,
            platform: match self.platform {
                PlatformKind::Ptrace => config::PlatformKind::Ptrace,
                PlatformKind::Kvm => config::PlatformKind::Kvm,
                PlatformKind::Systrap => config::PlatformKind::Systrap,
            },
            strace: self.strace,
            systrap_patch: self.systrap_patch,
            strace_syscalls: self.strace_syscalls.as_ref().map(|l| l.0.clone()),
            strace_log_size: self.strace_log_size,
            debug: self.debug,
            debug_log: self.debug_log.clone(),
            network: self.network.unwrap_or_default(),
            log_packets: self.log_packets,
            root: self
                .root
                .clone()
                .unwrap_or_else(|| config::default_root(rootless)),
            log: self.log.clone(),
            log_format: match self.log_format {
                LogFormat::Text => config::LogFormat::Text,
                LogFormat::Json => config::LogFormat::Json,
            },
            systemd_cgroup: self.systemd_cgroup,
            overlay: match self.overlay {
                OverlayMode::Memory => config::Overlay::Memory,
                OverlayMode::None => config::Overlay::None,
            },
            file_access: match self.file_access {
                FileAccess::Exclusive => config::FileAccess::Exclusive,
                FileAccess::Shared => config::FileAccess::Shared,
            },
            host_uds_open: self.host_uds == HostUdsMode::Open,
        }
    }
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
    /// * The network: the host's. The program's inet sockets are host
    ///   sockets the sandbox makes for it, so it reaches what the host
    ///   reaches. `--network=none` (or `sandbox`) gives it the sandbox's own
    ///   stack instead, with loopback only: `do` never takes the host's
    ///   interfaces.
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
    Exec(ExecArgs),
    /// Look into a running container's sandbox (`--stacks`: what each task
    /// is doing).
    Debug(DebugArgs),
    /// Internal: the supervisor of a container's sandbox.
    #[command(hide = true)]
    Supervise(SuperviseArgs),
    /// Internal: the Sentry of a sandbox.
    #[command(hide = true)]
    Boot(BootArgs),
    /// Internal: the Gofer of a sandbox.
    #[command(hide = true)]
    Gofer(GoferArgs),
    /// Register runsc-rs as a Docker runtime in daemon.json (other keys
    /// are kept); arguments after `--` become its runtimeArgs.
    Install(InstallArgs),
    /// Remove runsc-rs's runtime entry from daemon.json.
    Uninstall(UninstallArgs),
}

impl Command {
    /// Commands whose job is to print: a reader that goes away (`state
    /// ID | head -1`) ends them quietly by SIGPIPE, as it ends runc,
    /// instead of a failed write.
    pub fn prints(&self) -> bool {
        matches!(
            self,
            Command::State(_) | Command::List(_) | Command::Ps(_) | Command::Events(_)
        )
    }

    /// The subcommand's name (`--debug-log`'s `%COMMAND%`).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Do(_) => "do",
            Command::Create(_) => "create",
            Command::Start(_) => "start",
            Command::Run(_) => "run",
            Command::State(_) => "state",
            Command::Kill(_) => "kill",
            Command::Delete(_) => "delete",
            Command::List(_) => "list",
            Command::Ps(_) => "ps",
            Command::Events(_) => "events",
            Command::Pause(_) => "pause",
            Command::Resume(_) => "resume",
            Command::Spec(_) => "spec",
            Command::Exec(_) => "exec",
            Command::Debug(_) => "debug",
            Command::Supervise(_) => "supervise",
            Command::Boot(_) => "boot",
            Command::Gofer(_) => "gofer",
            Command::Install(_) => "install",
            Command::Uninstall(_) => "uninstall",
        }
    }

    /// The process kind that names its file in a `--debug-log` directory:
    /// the runc-compatible commands share `runtime.log`.
    pub fn process_kind(&self) -> &'static str {
        match self {
            Command::Do(_) | Command::Boot(_) | Command::Gofer(_) | Command::Supervise(_) => {
                self.name()
            }
            _ => "runtime",
        }
    }

    /// The container this command is about (`--debug-log`'s `%ID%`): the
    /// supervisor's is its state directory's name.
    pub fn container_id(&self) -> Option<&str> {
        match self {
            Command::Create(a) => Some(&a.id),
            Command::Run(a) => Some(&a.create.id),
            Command::Start(a) | Command::State(a) | Command::Pause(a) | Command::Resume(a) => {
                Some(&a.id)
            }
            Command::Kill(a) => Some(&a.id),
            Command::Delete(a) => Some(&a.id),
            Command::Ps(a) => Some(&a.id),
            Command::Events(a) => Some(&a.id),
            Command::Exec(a) => Some(&a.id),
            Command::Debug(a) => Some(&a.id),
            Command::Boot(a) => a.id.as_deref(),
            Command::Gofer(a) => a.id.as_deref(),
            Command::Supervise(a) => a.state_dir.file_name().and_then(|n| n.to_str()),
            Command::Do(_)
            | Command::List(_)
            | Command::Spec(_)
            | Command::Install(_)
            | Command::Uninstall(_) => None,
        }
    }

    /// The commands that set up namespaces on the host (a sandbox, or a
    /// container's supervisor): rootless, they run in a user namespace
    /// of their own.
    pub fn needs_user_namespace(&self) -> bool {
        matches!(self, Command::Do(_) | Command::Create(_) | Command::Run(_))
    }

    /// The runc-compatible commands (exit status 1 on error, as runc).
    pub fn is_runtime(&self) -> bool {
        !matches!(
            self,
            Command::Do(_) | Command::Boot(_) | Command::Gofer(_) | Command::Supervise(_)
        )
    }
}

#[derive(Args, Debug)]
pub struct DoArgs {
    /// Working directory inside the sandbox (default: the current one).
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct BootArgs {
    /// The descriptor of the connection to the Gofer.
    #[arg(long = "gofer-fd")]
    pub gofer_fd: RawFd,
    /// One of the Gofer's channels, as `CPU:FD`: the connection for the
    /// path-based requests made on that CPU.
    #[arg(long = "gofer-channel", value_parser = parse_channel)]
    pub gofer_channels: Vec<(usize, RawFd)>,
    /// The descriptor on which to ask the parent for user namespace maps
    /// (absent: stay in the current user namespace).
    #[arg(long = "userns-fd")]
    pub userns_fd: Option<RawFd>,
    /// The application's working directory.
    #[arg(long, default_value = "/")]
    pub cwd: PathBuf,
    /// The descriptor carrying an OCI container's boot plan as JSON
    /// (instead of a command line).
    #[arg(long = "plan-fd")]
    pub plan_fd: Option<RawFd>,
    /// The listening control socket (OCI containers).
    #[arg(long = "control-fd")]
    pub control_fd: Option<RawFd>,
    /// Where to report that the container is created ("ok") or why not.
    #[arg(long = "ready-fd")]
    pub ready_fd: Option<RawFd>,
    /// A host terminal for the container's console (process.terminal).
    #[arg(long = "console-fd")]
    pub console_fd: Option<RawFd>,
    /// The container's id: only so that `ps` shows whose Sentry this is.
    #[arg(long)]
    pub id: Option<String>,
    /// The application's command line.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<OsString>,
}

#[derive(Args, Debug)]
pub struct GoferArgs {
    /// The directory to serve as the sandbox's root.
    #[arg(long)]
    pub root: PathBuf,
    /// The descriptor of the connection to the Sentry.
    #[arg(long)]
    pub fd: RawFd,
    /// Where to ask the parent for user namespace maps.
    #[arg(long = "userns-fd")]
    pub userns_fd: RawFd,
    /// Host paths to bind into the served tree, as JSON (OCI bind mounts).
    #[arg(long)]
    pub binds: Option<String>,
    /// A channel to serve, as `CPU:FD`: path-based requests only, from a
    /// thread on that CPU.
    #[arg(long = "channel", value_parser = parse_channel)]
    pub channels: Vec<(usize, RawFd)>,
    /// The container's id: only so that `ps` shows whose Gofer this is.
    #[arg(long)]
    pub id: Option<String>,
}

/// `CPU:FD`.
fn parse_channel(s: &str) -> Result<(usize, RawFd), String> {
    let (cpu, fd) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not CPU:FD"))?;
    let cpu = cpu.parse().map_err(|e| format!("CPU {cpu:?}: {e}"))?;
    let fd = fd.parse().map_err(|e| format!("FD {fd:?}: {e}"))?;
    Ok((cpu, fd))
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The bundle directory (holding config.json).
    #[arg(long, short = 'b', default_value = ".")]
    pub bundle: PathBuf,
    /// Write the pid of the process to wait on and signal here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// A Unix socket to send the terminal's master to (process.terminal).
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility (the sandbox never pivots the host).
    #[arg(long = "no-pivot", hide = true)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility (no host keyring is used).
    #[arg(long = "no-new-keyring", hide = true)]
    pub no_new_keyring: bool,
    /// The container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container has started.
    #[arg(long, short = 'd')]
    pub detach: bool,
}

#[derive(Args, Debug)]
pub struct SuperviseArgs {
    #[arg(long)]
    pub bundle: PathBuf,
    #[arg(long = "state-dir")]
    pub state_dir: PathBuf,
    /// The host terminal for the container's console.
    #[arg(long = "console-fd")]
    pub console_fd: Option<RawFd>,
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

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// An OCI process JSON file describing the process (instead of the
    /// command line).
    #[arg(long, short = 'p')]
    pub process: Option<PathBuf>,
    /// Return once the process has started (its stand-in goes on in the
    /// background; see --pid-file).
    #[arg(long, short = 'd')]
    pub detach: bool,
    /// Give the process a terminal (its master goes to --console-socket).
    #[arg(long, short = 't')]
    pub tty: bool,
    /// A Unix socket to send the terminal's master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Write the pid of the host process standing for the new process here.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Working directory of the process.
    #[arg(long)]
    pub cwd: Option<String>,
    /// An environment variable (NAME=VALUE), added to the container's.
    #[arg(long, short = 'e')]
    pub env: Vec<String>,
    /// UID[:GID] of the process.
    #[arg(long, short = 'u')]
    pub user: Option<String>,
    /// An additional group id.
    #[arg(long = "additional-gids", short = 'g')]
    pub additional_gids: Vec<u32>,
    /// Accepted for runc compatibility (the sandbox grants no host
    /// privilege in any case).
    #[arg(long = "no-new-privs", hide = true)]
    pub no_new_privs: bool,
    /// A capability (`CAP_SYS_ADMIN`) added to the process's bounding,
    /// effective and permitted sets (and its ambient set where the
    /// inheritable set holds it), as runc adds it; an unknown name is
    /// ignored with a warning, as runc ignores it.
    #[arg(long, short = 'c')]
    pub cap: Vec<String>,
    #[arg(long = "process-label", hide = true)]
    pub process_label: Option<String>,
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    #[arg(long = "ignore-paused", hide = true)]
    pub ignore_paused: bool,
    /// Pass our descriptors 3 .. 3+N on to the process as its own 3 .. 3+N
    /// (each must be open).
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// The container id.
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DebugArgs {
    /// Print each task of the sandbox: its syscall, what it waits on, its
    /// signals.
    #[arg(long)]
    pub stacks: bool,
    /// The container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct InstallArgs {
    /// The runtime's name in daemon.json (`docker run --runtime=NAME`).
    #[arg(long, default_value = "runsc-rs")]
    pub runtime: String,
    /// Docker's daemon configuration file.
    #[arg(long = "config-file", default_value = "/etc/docker/daemon.json")]
    pub config_file: PathBuf,
    /// Flags Docker passes to runsc-rs (runtimeArgs), after `--`, e.g.
    /// `-- --network=none --debug-log=/tmp/runsc-rs/`.
    #[arg(last = true)]
    pub flags: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UninstallArgs {
    /// The runtime's name in daemon.json.
    #[arg(long, default_value = "runsc-rs")]
    pub runtime: String,
    /// Docker's daemon configuration file.
    #[arg(long = "config-file", default_value = "/etc/docker/daemon.json")]
    pub config_file: PathBuf,
}

impl From<DoArgs> for crate::sandbox::DoOptions {
    fn from(a: DoArgs) -> Self {
        crate::sandbox::DoOptions {
            cwd: a.cwd,
            cmd: a.cmd,
        }
    }
}

impl From<BootArgs> for crate::sandbox::BootOptions {
    fn from(a: BootArgs) -> Self {
        crate::sandbox::BootOptions {
            gofer_fd: a.gofer_fd,
            gofer_channels: a.gofer_channels,
            userns_fd: a.userns_fd,
            cwd: a.cwd,
            plan_fd: a.plan_fd,
            control_fd: a.control_fd,
            ready_fd: a.ready_fd,
            console_fd: a.console_fd,
            cmd: a.cmd,
        }
    }
}

impl GoferArgs {
    fn options(self) -> Result<crate::sandbox::GoferOptions> {
        let binds = match &self.binds {
            Some(j) => serde_json::from_str(j).context("--binds is not valid")?,
            None => Vec::new(),
        };
        Ok(crate::sandbox::GoferOptions {
            root: self.root,
            fd: self.fd,
            userns_fd: self.userns_fd,
            binds,
            channels: self.channels,
        })
    }
}

impl From<&CreateArgs> for crate::container::CreateOptions {
    fn from(a: &CreateArgs) -> Self {
        crate::container::CreateOptions {
            bundle: a.bundle.clone(),
            pid_file: a.pid_file.clone(),
            console_socket: a.console_socket.clone(),
            id: a.id.clone(),
        }
    }
}

impl From<SuperviseArgs> for crate::container::SuperviseOptions {
    fn from(a: SuperviseArgs) -> Self {
        crate::container::SuperviseOptions {
            bundle: a.bundle,
            state_dir: a.state_dir,
            console_fd: a.console_fd,
        }
    }
}

impl From<ExecArgs> for crate::exec::ExecOptions {
    fn from(a: ExecArgs) -> Self {
        crate::exec::ExecOptions {
            process: a.process,
            detach: a.detach,
            tty: a.tty,
            console_socket: a.console_socket,
            pid_file: a.pid_file,
            cwd: a.cwd,
            env: a.env,
            user: a.user,
            additional_gids: a.additional_gids,
            id: a.id,
            cmd: a.cmd,
            preserve_fds: a.preserve_fds,
            caps: a.cap,
        }
    }
}

/// Runs the command with the configuration the global flags give;
/// `in_user_namespace`: runs it again in a user namespace of its own
/// (rootless) and waits for it instead.
pub fn run(g: &Config, command: Command, in_user_namespace: bool) -> Result<u8> {
    let command_name = command.name();
    let who = |process| crate::logging::LogName {
        process,
        command: command_name,
        id: command.container_id(),
    };
    crate::logging::init(g, &who(command.process_kind()))?;
    if in_user_namespace {
        return crate::sandbox::run_in_user_namespace();
    }
    match command {
        Command::Do(args) => crate::sandbox::run_do(g, args.into()),
        Command::Boot(args) => crate::sandbox::boot(g, args.into()),
        Command::Gofer(args) => crate::sandbox::gofer(g, args.options()?),
        Command::Supervise(args) => crate::container::supervise(g, args.into()),
        other => {
            use crate::container as c;
            match other {
                Command::Create(a) => c::create(g, &(&a).into()),
                Command::Start(a) => c::start(g, &a.id),
                Command::Run(a) => c::run(g, &(&a.create).into(), a.detach),
                Command::State(a) => c::state(g, &a.id),
                Command::Kill(a) => c::kill(g, &a.id, a.signal.as_deref(), a.all),
                Command::Delete(a) => c::delete(g, &a.id, a.force),
                Command::List(a) => c::list(g, &a.format, a.quiet),
                Command::Ps(a) => c::ps(g, &a.id, &a.format),
                Command::Events(a) => c::events(g, &a.id, a.stats, a.interval),
                Command::Pause(a) => c::pause(g, &a.id, true),
                Command::Resume(a) => c::pause(g, &a.id, false),
                Command::Spec(a) => c::spec(&a.bundle),
                Command::Exec(a) => crate::exec::exec(g, &a.into()),
                Command::Debug(a) => crate::debug::debug(g, a.stacks, &a.id),
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
