//! The boot spec: everything the runtime tells the Sentry about the
//! sandbox it boots, as plain data. The Sentry turns it into its kernel's
//! settings and its mount namespace, so the runtime never reaches into the
//! kernel, the VFS or a filesystem.

use crate::kernel::Config;

/// What to boot.
#[derive(Clone, Debug)]
pub struct BootSpec {
    /// Where application code runs (`--platform`).
    pub platform: platform::PlatformKind,
    /// Log each syscall (`--strace`).
    pub strace: bool,
    /// Patch system call sites (`--systrap-patch`).
    pub systrap_patch: bool,
    /// Log only these syscall numbers (`--strace-syscalls`); None: all.
    pub strace_syscalls: Option<Vec<u64>>,
    /// The most bytes of a buffer `--strace` shows (`--strace-log-size`).
    pub strace_log_size: usize,
    pub hostname: String,
    /// CPUs the sandbox reports (measured before the Sentry is locked down:
    /// finding out reads host files).
    pub cpus: usize,
    /// The host's /proc/cpuinfo, cut to `cpus` processors (read before
    /// lockdown); empty: /proc/cpuinfo is made from CPUID.
    pub cpuinfo: String,
    /// The most tasks the sandbox may hold (the container's pids limit).
    pub pids_limit: Option<usize>,
    /// Where inet sockets live (`--network`).
    pub network: netstack::NetworkMode,
    /// `net.ipv4.ip_unprivileged_port_start` (None: Linux's 1024).
    pub unprivileged_port_start: Option<u16>,
    pub root: RootSpec,
    pub mounts: MountTree,
}

/// The root filesystem: the Gofer's root, as `/`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RootSpec {
    /// `/` is an in-memory overlay over the read-only Gofer root
    /// (`--overlay=memory`); false: the Gofer root itself, written through
    /// to the host (`--overlay=none`).
    pub overlay: bool,
    /// The host may change the Gofer's files while the sandbox runs
    /// (`--file-access=shared`): revalidate instead of caching for good.
    pub shared: bool,
    /// Made read-only after every mount is made (OCI `root.readonly`).
    pub readonly: bool,
}

/// What is mounted over the root.
#[derive(Clone, Debug)]
pub enum MountTree {
    /// devfs on `/dev` (devpts on `/dev/pts`), procfs on `/proc` and sysfs
    /// on `/sys`, as `runsc-rs do` shows them; one that cannot be made is
    /// left out with a warning.
    Default,
    /// Exactly these, in order (an OCI spec's `mounts`); one that cannot
    /// be made fails the boot.
    Spec(Vec<Mount>),
}

/// A mount as an OCI spec gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mount {
    /// Absolute path in the sandbox.
    pub destination: String,
    /// A filesystem of the Sentry's (tmpfs, proc, sysfs, devpts, mqueue),
    /// or "bind" for a path the Gofer serves at `destination`.
    pub fstype: String,
    pub source: String,
    /// mount(8) options: `ro`, `nosuid`, ... and filesystem data
    /// (`mode=755`, `size=64m`).
    pub options: Vec<String>,
}

impl BootSpec {
    /// The kernel's settings.
    pub(super) fn kernel_config(&self) -> Config {
        Config {
            platform: self.platform,
            strace: self.strace,
            systrap_patch: self.systrap_patch,
            strace_syscalls: self.strace_syscalls.clone(),
            strace_log_size: self.strace_log_size,
            hostname: self.hostname.clone(),
            cpus: self.cpus,
            cpuinfo: self.cpuinfo.clone(),
            pids_limit: self.pids_limit,
            root_overlay: self.root.overlay,
            file_access_shared: self.root.shared,
            network: self.network,
            unprivileged_port_start: self.unprivileged_port_start,
        }
    }
}
