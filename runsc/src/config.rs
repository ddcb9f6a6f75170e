//! The runtime's configuration as plain data: what the global flags say
//! (as Docker passes them, before the subcommand), once parsed. Every
//! command takes a [`Config`]; `cli` builds it from the command line, and
//! the sandbox passes it on to the supervisor, the Gofer and the Sentry as
//! flags again ([`Config::to_flags`]).

use std::ffi::OsString;
use std::path::PathBuf;

use netstack::NetworkMode;
pub use platform::PlatformKind;

/// What every command is configured by.
#[derive(Clone, Debug)]
pub struct Config {
    /// How application code runs.
    pub platform: PlatformKind,
    /// Log every system call of the application.
    pub strace: bool,
    /// Patch system call sites (systrap).
    pub systrap_patch: bool,
    /// Log only these system calls (by number); None: all.
    pub strace_syscalls: Option<Vec<u64>>,
    /// The most bytes of a buffer or string a strace line shows.
    pub strace_log_size: usize,
    /// Verbose logging.
    pub debug: bool,
    /// Directory for per-process log files (boot.log, gofer.log), or a
    /// pattern with %ID% and %COMMAND% (see `logging`).
    pub debug_log: Option<PathBuf>,
    pub network: NetworkMode,
    /// Log every frame the network stack sends or receives (at info level).
    pub log_packets: bool,
    /// Directory for container state (runc's --root).
    pub root: PathBuf,
    /// Log file for errors (containerd reads the last error from it).
    pub log: Option<PathBuf>,
    pub log_format: LogFormat,
    /// Name cgroups the systemd way (slice:prefix:name).
    pub systemd_cgroup: bool,
    pub overlay: Overlay,
    pub file_access: FileAccess,
    /// `--host-uds=open`: any host socket file of the served trees may be
    /// connected to (else only those bound in by the spec).
    pub host_uds_open: bool,
    /// No root on the host: the sandbox is set up in a user namespace the
    /// caller owns, and what needs host root (cgroups not delegated to
    /// the caller) is skipped.
    pub rootless: bool,
}

/// The state directory without `--root`: runc's choice, /run/runsc-rs for
/// root and $XDG_RUNTIME_DIR/runsc-rs rootless (the caller's own
/// directory; without it, one under /tmp named by the caller's host uid,
/// made private to the caller when it is made).
pub fn default_root(rootless: bool) -> PathBuf {
    if !rootless {
        return PathBuf::from("/run/runsc-rs");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("runsc-rs"),
        _ => PathBuf::from(format!("/tmp/runsc-rs-{}", caller_uid())),
    }
}

/// The caller's uid on the host, also from inside a rootless command's
/// user namespace, where the caller is uid 0: the host uid this
/// namespace's root maps to (on the host, root's own).
pub fn caller_uid() -> u32 {
    let own = nix::unistd::geteuid().as_raw();
    if own != 0 {
        return own;
    }
    std::fs::read_to_string("/proc/self/uid_map")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.first() == Some(&"0")).then(|| f.get(1)?.parse().ok())?
            })
        })
        .unwrap_or(own)
}

/// The format of the `--log` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    /// logrus's keys, as containerd expects.
    Json,
}

/// The root filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlay {
    /// An in-memory overlay over the root, served read-only: writes stay
    /// in the sandbox.
    Memory,
    /// The root itself, served read-write: writes reach the host.
    None,
}

/// Whether the host changes the sandbox's files while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileAccess {
    /// Only the sandbox changes them: lookups, attributes and listings are
    /// cached.
    Exclusive,
    /// The host may change them too, and the sandbox sees those changes.
    Shared,
}

impl Overlay {
    pub fn as_str(self) -> &'static str {
        match self {
            Overlay::Memory => "memory",
            Overlay::None => "none",
        }
    }
}

impl FileAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            FileAccess::Exclusive => "exclusive",
            FileAccess::Shared => "shared",
        }
    }
}

impl Config {
    /// The flags that give a sandbox process (supervisor, Gofer, Sentry)
    /// this configuration, for its command line.
    pub fn to_flags(&self) -> Vec<OsString> {
        let mut v: Vec<OsString> = vec![
            format!("--network={}", self.network).into(),
            format!("--platform={}", self.platform).into(),
            format!("--overlay={}", self.overlay.as_str()).into(),
            format!("--file-access={}", self.file_access.as_str()).into(),
        ];
        if self.host_uds_open {
            v.push("--host-uds=open".into());
        }
        // Said outright: inside its user namespace a rootless sandbox's
        // processes run as root.
        v.push(format!("--rootless={}", self.rootless).into());
        if self.systrap_patch {
            v.push("--systrap-patch=true".into());
        }
        if self.strace {
            v.push("--strace".into());
            v.push(format!("--strace-log-size={}", self.strace_log_size).into());
        }
        if let Some(nrs) = &self.strace_syscalls {
            let names: Vec<&str> = nrs
                .iter()
                .map(|&nr| sentry::boot::syscall_name(nr as usize))
                .collect();
            v.push(format!("--strace-syscalls={}", names.join(",")).into());
        }
        if self.log_packets {
            v.push("--log-packets".into());
        }
        if self.debug {
            v.push("--debug".into());
        }
        if let Some(d) = &self.debug_log {
            let mut s = OsString::from("--debug-log=");
            s.push(d);
            v.push(s);
        }
        v
    }
}
