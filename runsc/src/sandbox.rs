//! Sandbox processes: `do` starts a Gofer and a Sentry (by re-executing this
//! binary as `gofer` and `boot`), connects them with a socketpair, and waits.
//! If either dies, the other is killed at once: a sandbox never half-runs.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::global::Global;
use crate::spec::BootPlan;

/// Where a child finds its end of the Gofer connection.
const CHILD_SOCK_FD: RawFd = 3;
/// Where the Sentry finds the socket it uses to ask for its user namespace's
/// id maps (which only a process outside the namespace may write).
const CHILD_USERNS_FD: RawFd = 4;

/// Where a child finds its ends of the Gofer's channels (one per CPU, see
/// [`gofer_channels`]), from this descriptor up.
const CHILD_CHANNEL_FD: RawFd = 10;
/// The most Gofer channels: CPUs past these use the first connection.
const MAX_CHANNELS: usize = 16;

/// The host uid/gid the Sentry runs as: it needs no host privilege at all
/// once booted, so it gets none.
const SENTRY_HOST_ID: u32 = 65534;

#[derive(Args, Debug)]
pub struct DoArgs {
    /// Working directory inside the sandbox (default: the current one).
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<std::ffi::OsString>,
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
    /// The descriptor carrying an OCI container's [`BootPlan`] as JSON
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

/// The Gofer's channels: for each CPU this process may run on (when there
/// are two or more, and at most [`MAX_CHANNELS`]), a socketpair whose
/// Gofer end is served by a Gofer thread on that CPU, so the Sentry's
/// requests from a task on any CPU are answered on that CPU (a same-CPU
/// switch instead of a cross-CPU wake-up, several times dearer; see
/// docs/benchmarks.md). Gives (cpu, gofer end, sentry end).
fn gofer_channels() -> Result<Vec<(usize, UnixStream, UnixStream)>> {
    let cpus = platform::cpus::allowed_cpus();
    if cpus.len() < 2 {
        return Ok(Vec::new());
    }
    cpus.into_iter()
        .take(MAX_CHANNELS)
        .map(|cpu| {
            let (g, s) = UnixStream::pair().context("cannot create a Gofer channel")?;
            Ok((cpu, g, s))
        })
        .collect()
}

/// The global flags, to pass on to `boot` and `gofer`.
pub fn global_flags(g: &Global) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![
        format!("--network={}", g.network).into(),
        format!("--platform={}", platform::PlatformKind::from(g.platform)).into(),
    ];
    if let Some(o) = g.overlay.to_possible_value() {
        v.push(format!("--overlay={}", o.get_name()).into());
    }
    if let Some(f) = g.file_access.to_possible_value() {
        v.push(format!("--file-access={}", f.get_name()).into());
    }
    if g.strace {
        v.push("--strace".into());
    }
    if g.debug {
        v.push("--debug".into());
    }
    if let Some(d) = &g.debug_log {
        let mut s = OsString::from("--debug-log=");
        s.push(d);
        v.push(s);
    }
    v
}

/// The names the sandbox's processes show in `ps` and `top` (argv[0], and
/// the thread name, at most 15 bytes), as gVisor's are `runsc-sandbox` and
/// `runsc-gofer`: re-executed as /proc/self/exe they would all be `exe`.
pub const SENTRY_NAME: &str = "runsc-rs-sentry";
pub const GOFER_NAME: &str = "runsc-rs-gofer";
pub const SUPERVISOR_NAME: &str = "runsc-rs-supervisor";

/// Names the calling process (its main thread; threads started later
/// take the name along unless they set their own). `comm` holds 15 bytes:
/// a longer name is cut there.
pub fn set_process_name(name: &str) {
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name.as_bytes()[..n]);
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes
    // from a buffer we own.
    unsafe { libc::prctl(libc::PR_SET_NAME, comm.as_ptr()) };
}

/// Gives the child each (descriptor, number) pair and ties its life to ours.
fn child_command(name: &str, fds: &[(RawFd, RawFd)]) -> Command {
    let mut c = Command::new("/proc/self/exe");
    c.arg0(name);
    let fds = fds.to_vec();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (dup2, prctl).
    unsafe {
        c.pre_exec(move || {
            // Move every source above the targets first, so one dup2 cannot
            // clobber another's source; dup2 also clears close-on-exec.
            let mut high = Vec::with_capacity(fds.len());
            for &(fd, _) in &fds {
                let h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 64);
                if h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(h);
            }
            for (&h, &(_, to)) in high.iter().zip(&fds) {
                if libc::dup2(h, to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    c
}

/// A Gofer and a Sentry started and connected.
pub struct Launched {
    pub gofer: Child,
    pub boot: Child,
}

/// What `launch` gives each process beyond the global flags.
pub struct LaunchArgs {
    /// Arguments of `gofer` after the subcommand (`--fd` is added).
    pub gofer: Vec<OsString>,
    /// Arguments of `boot` after the subcommand (`--gofer-fd` and
    /// `--userns-fd` are added first).
    pub boot: Vec<OsString>,
    /// Extra descriptors for `boot`: (ours, its number).
    pub boot_fds: Vec<(RawFd, RawFd)>,
    /// The container's id (OCI containers), shown in both command lines.
    pub id: Option<String>,
}

/// Starts the Gofer and the Sentry, connects them, and maps the Sentry's
/// user namespace. On error nothing is left running.
pub fn launch(g: &Global, a: LaunchArgs) -> Result<Launched> {
    let (gofer_end, sentry_end) =
        UnixStream::pair().context("cannot create the Gofer socketpair")?;
    let channels = gofer_channels()?;
    let mut gofer_fds = vec![(gofer_end.as_raw_fd(), CHILD_SOCK_FD)];
    let mut gofer_args = vec![format!("--fd={CHILD_SOCK_FD}")];
    let mut boot_channel_args = Vec::new();
    let mut boot_channel_fds = Vec::new();
    for (i, (cpu, g_end, s_end)) in channels.iter().enumerate() {
        // At most MAX_CHANNELS, so the numbers stay small.
        let fd = CHILD_CHANNEL_FD + i as RawFd;
        gofer_fds.push((g_end.as_raw_fd(), fd));
        gofer_args.push(format!("--channel={cpu}:{fd}"));
        boot_channel_fds.push((s_end.as_raw_fd(), fd));
        boot_channel_args.push(format!("--gofer-channel={cpu}:{fd}"));
    }
    let mut gofer = child_command(GOFER_NAME, &gofer_fds);
    gofer
        .args(global_flags(g))
        .arg("gofer")
        .args(a.id.iter().map(|id| format!("--id={id}")))
        .args(&gofer_args)
        .args(&a.gofer)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut gofer = gofer.spawn().context("cannot start the Gofer")?;
    drop(gofer_end);

    let (userns_parent, userns_child) =
        UnixStream::pair().context("cannot create the user namespace socketpair")?;
    let mut fds = vec![
        (sentry_end.as_raw_fd(), CHILD_SOCK_FD),
        (userns_child.as_raw_fd(), CHILD_USERNS_FD),
    ];
    fds.extend_from_slice(&a.boot_fds);
    fds.extend_from_slice(&boot_channel_fds);
    let mut boot = child_command(SENTRY_NAME, &fds);
    boot.args(global_flags(g))
        .arg("boot")
        .args(a.id.iter().map(|id| format!("--id={id}")))
        .arg(format!("--gofer-fd={CHILD_SOCK_FD}"))
        .arg(format!("--userns-fd={CHILD_USERNS_FD}"))
        .args(&boot_channel_args)
        .args(&a.boot);
    let mut boot = match boot.spawn() {
        Ok(b) => b,
        Err(e) => {
            let _ = gofer.kill();
            let _ = gofer.wait();
            return Err(anyhow!(e).context("cannot start the Sentry"));
        }
    };
    drop(sentry_end);
    drop(channels);
    drop(userns_child);
    if let Err(e) = map_user_namespace(&userns_parent, boot.id()) {
        let _ = boot.kill();
        let _ = boot.wait();
        let _ = gofer.kill();
        let _ = gofer.wait();
        return Err(e.context("cannot set up the Sentry's user namespace"));
    }
    Ok(Launched { gofer, boot })
}

pub fn run_do(g: &Global, args: DoArgs) -> Result<u8> {
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

/// Waits for whichever of the two ends first and returns the sandbox's
/// exit code; if the Gofer dies first, the Sentry is killed and that is an
/// error.
pub fn wait_sandbox(l: Launched) -> Result<u8> {
    let Launched {
        mut gofer,
        mut boot,
    } = l;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to status.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            let _ = boot.kill();
            let _ = gofer.kill();
            bail!("waiting for the sandbox: {e}");
        }
        if pid == boot.id() as i32 {
            let _ = gofer.kill();
            let _ = gofer.wait();
            return Ok(code_of(status));
        }
        if pid == gofer.id() as i32 {
            // A Gofer that ends cleanly saw the Sentry close its connection:
            // the Sentry is exiting, so its status is the sandbox's.
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
                while std::time::Instant::now() < deadline {
                    if let Some(st) = boot.try_wait()? {
                        return Ok(st.code().map(|c| c as u8).unwrap_or_else(|| {
                            use std::os::unix::process::ExitStatusExt;
                            128u8.wrapping_add(st.signal().unwrap_or(0) as u8)
                        }));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            let _ = boot.kill();
            let _ = boot.wait();
            bail!(
                "the Gofer died ({}); the sandbox was stopped",
                describe_status(status)
            );
        }
    }
}

/// Answers the Sentry's request for id maps: its root becomes an
/// unprivileged host id.
fn map_user_namespace(sock: &UnixStream, pid: u32) -> Result<()> {
    use std::io::{Read, Write};
    let mut s = sock;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("the Sentry exited before asking for its id maps");
    }
    std::fs::write(format!("/proc/{pid}/setgroups"), "deny").context("writing setgroups")?;
    std::fs::write(
        format!("/proc/{pid}/uid_map"),
        format!("0 {SENTRY_HOST_ID} 1\n"),
    )
    .context("writing uid_map")?;
    std::fs::write(
        format!("/proc/{pid}/gid_map"),
        format!("0 {SENTRY_HOST_ID} 1\n"),
    )
    .context("writing gid_map")?;
    s.write_all(b"k")?;
    Ok(())
}

/// In the Sentry: enters a new user namespace and waits until the parent
/// has written its id maps.
fn enter_user_namespace(fd: RawFd) -> Result<()> {
    use std::io::{Read, Write};
    let mut s = inherited_stream(fd)?;
    let parent = nix::unistd::getppid();
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
    s.write_all(b"m")?;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("the parent did not map the user namespace");
    }
    // Become root of the new namespace with its full capability set.
    nix::unistd::setresgid(0.into(), 0.into(), 0.into()).context("setresgid")?;
    nix::unistd::setresuid(0.into(), 0.into(), 0.into()).context("setresuid")?;
    // A change of credentials clears the parent-death signal: armed again,
    // or the Sentry would outlive a SIGKILLed supervisor (`docker kill`).
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
        bail!(
            "prctl(PR_SET_PDEATHSIG): {}",
            std::io::Error::last_os_error()
        );
    }
    if nix::unistd::getppid() != parent {
        // The parent died before the signal was armed again.
        std::process::exit(1);
    }
    Ok(())
}

/// Signals `do` and the Sentry pass on to the sandbox instead of dying of
/// them: what `kill`, `docker stop` and a terminal send.
const FORWARDED: [i32; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Passes the signals a sandbox takes (SIGTERM, SIGINT ...) on to `pid`
/// instead of dying of them.
pub fn forward_signals_to(pid: i32) {
    BOOT_PID.store(pid, std::sync::atomic::Ordering::SeqCst);
    set_disposition(
        &FORWARDED,
        forward_to_boot as *const () as usize,
        libc::SA_SIGINFO | libc::SA_RESTART,
    );
}

/// The Sentry's pid, for `do`'s signal handler.
static BOOT_PID: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// `do`'s handler: a signal sent by a process goes on to the Sentry. One from
/// the terminal driver (SI_KERNEL) reached the Sentry already: the whole
/// foreground process group gets it.
extern "C" fn forward_to_boot(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    let pid = BOOT_PID.load(std::sync::atomic::Ordering::SeqCst);
    if code != libc::SI_KERNEL && pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

fn set_disposition(sigs: &[i32], handler: usize, flags: i32) {
    for &s in sigs {
        // SAFETY: installs a handler that only makes async-signal-safe calls,
        // or SIG_IGN.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            sa.sa_flags = flags;
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

/// Blocks the forwarded signals in the calling thread (and so in every
/// thread it starts later).
fn block_forwarded() {
    // SAFETY: sigset_t is plain data; the calls only fill and apply it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        // Taken by the Sentry's forwarder thread too: it writes the task
        // dump.
        libc::sigaddset(&mut set, sentry::boot::DUMP_SIGNAL);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// A shell-style exit code: the exit status, or 128+N for death by signal N.
pub(crate) fn code_of(status: i32) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    } else {
        125
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else {
        format!("killed by signal {}", libc::WTERMSIG(status))
    }
}

/// Takes ownership of an inherited descriptor.
fn inherited_stream(fd: RawFd) -> Result<UnixStream> {
    // SAFETY: fstat only inspects the descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one struct stat.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        bail!("descriptor {fd} is not a socket");
    }
    // SAFETY: the parent handed this descriptor to us and nothing else owns it.
    let s = unsafe { UnixStream::from_raw_fd(fd) };
    // SAFETY: fcntl on our own descriptor.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(s)
}

/// Leaves the Sentry with nothing of the host's filesystem: a private mount
/// namespace whose root is an empty, read-only tmpfs.
fn empty_root() -> Result<()> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("making mounts private")?;
    let dir = "/tmp";
    mount(
        Some("runsc-root"),
        dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("size=4k,mode=0555"),
    )
    .context("mounting the empty root")?;
    std::env::set_current_dir(dir)?;
    nix::unistd::pivot_root(".", ".").context("pivot_root")?;
    umount2(".", MntFlags::MNT_DETACH).context("detaching the host root")?;
    std::env::set_current_dir("/")?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY,
        None::<&str>,
    )
    .context("making the root read-only")?;
    Ok(())
}

/// A panic anywhere in the Sentry is a bug that must end the sandbox at once
/// (a task thread unwinding alone would leave the rest hanging). Its
/// message and location go to stderr and the log first: the default hook
/// comes after, because a backtrace (RUST_BACKTRACE) reads files the
/// seccomp filter refuses, and the kill would take the message with it.
fn die_on_panic(process: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("?");
        let line = format!("runsc-rs: {process} panicked (thread {name}): {info}");
        eprintln!("{line}");
        tracing::error!("{line}");
        default(info);
        // SAFETY: _exit ends the process without running other threads' code.
        unsafe { libc::_exit(125) };
    }));
}

pub fn boot(g: &Global, args: BootArgs) -> Result<u8> {
    set_process_name(SENTRY_NAME);
    die_on_panic("the Sentry");
    // Before any thread exists, so every Sentry thread inherits the mask
    // and only the forwarder takes these signals (stubs unblock them).
    block_forwarded();
    let plan: Option<BootPlan> = match args.plan_fd {
        Some(fd) => Some(read_plan(fd)?),
        None => None,
    };
    if plan.is_none() && args.cmd.is_empty() {
        bail!("boot needs a command or --plan-fd");
    }
    // SAFETY: the parent handed these descriptors to us; nothing else owns
    // them.
    let ready = args
        .ready_fd
        .map(|fd| unsafe { std::fs::File::from_raw_fd(fd) });
    let control = match args.control_fd {
        Some(fd) => Some(inherited_listener(fd)?),
        None => None,
    };
    let sock = inherited_stream(args.gofer_fd)?;
    let channels = args
        .gofer_channels
        .iter()
        .map(|&(cpu, fd)| Ok((cpu, inherited_stream(fd)?)))
        .collect::<Result<Vec<_>>>()?;
    let client = gofer_protocol::Client::connect(sock)
        .map_err(|e| {
            anyhow!(
                "cannot connect to the Gofer: {}",
                std::io::Error::from_raw_os_error(e)
            )
        })?
        .with_channels(channels);
    if let Some(fd) = args.userns_fd {
        enter_user_namespace(fd)?;
    }
    let hostname = plan
        .as_ref()
        .and_then(|p| p.hostname.clone())
        .unwrap_or_else(hostname);
    // The platform notes where the kernel's vDSO is while /proc is visible.
    let kind = platform::PlatformKind::from(g.platform);
    platform::prepare(kind).map_err(|e| anyhow!("cannot prepare the {kind} platform: {e}"))?;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // After empty_root the Sentry cannot read host files: /proc/cpuinfo is
    // captured now.
    let cpuinfo = host_cpuinfo(cpus);
    empty_root()?;
    crate::seccomp::install_sentry()?;
    // Stubs that are no longer traced are reaped by the kernel.
    // SAFETY: setting a disposition to SIG_IGN installs no handler.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let spec = sentry::boot::BootSpec {
        platform: platform::PlatformKind::from(g.platform),
        strace: g.strace,
        hostname,
        cpus,
        cpuinfo,
        pids_limit: plan
            .as_ref()
            .and_then(|p| p.pids_limit)
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        root: sentry::boot::RootSpec {
            overlay: g.overlay == crate::global::OverlayMode::Memory,
            shared: g.file_access == crate::global::FileAccess::Shared,
            readonly: plan.as_ref().is_some_and(|p| p.readonly_root),
        },
        mounts: match &plan {
            Some(p) => sentry::boot::MountTree::Spec(
                p.mounts
                    .iter()
                    .map(|m| sentry::boot::Mount {
                        destination: m.destination.clone(),
                        fstype: m.fstype.clone(),
                        source: m.source.clone(),
                        options: m.options.clone(),
                    })
                    .collect(),
            ),
            None => sentry::boot::MountTree::Default,
        },
    };
    let Some(plan) = plan else {
        let init = sentry::boot::InitProcess {
            argv: args.cmd.iter().map(|a| a.as_bytes().to_vec()).collect(),
            envp: std::env::vars_os()
                .map(|(k, v)| {
                    let mut e = k.as_bytes().to_vec();
                    e.push(b'=');
                    e.extend_from_slice(v.as_bytes());
                    e
                })
                .collect(),
            cwd: args.cwd.as_os_str().as_bytes().to_vec(),
            creds: sentry::boot::Credentials::root(),
            forward_signals: FORWARDED.to_vec(),
            // The caller's environment, as it is.
            home_from_passwd: false,
        };
        let status = sentry::boot::run(client, &spec, init).map_err(|e| anyhow!(e))?;
        let sent: Vec<String> = gofer_protocol::client::requests_sent()
            .iter()
            .map(|(t, n)| format!("T{t}={n}"))
            .collect();
        tracing::debug!("gofer requests sent: {}", sent.join(" "));
        // Other Sentry threads may still be blocked; the sandbox is over.
        std::process::exit(code_of(status) as i32);
    };
    // SAFETY: the supervisor handed this descriptor to us; nothing else
    // owns it.
    let console = args
        .console_fd
        .map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    boot_container(client, &spec, plan, ready, control, console)
}

/// Boots an OCI container: everything up to its first instruction, then
/// reports to the supervisor and waits for `start` on the control socket.
fn boot_container(
    client: gofer_protocol::Client,
    spec: &sentry::boot::BootSpec,
    plan: BootPlan,
    ready: Option<std::fs::File>,
    control: Option<std::os::unix::net::UnixListener>,
    console: Option<std::os::fd::OwnedFd>,
) -> Result<u8> {
    use std::io::Write;
    let init = process(&plan.process, FORWARDED.to_vec());
    let booted = sentry::boot::Sandbox::boot(client, spec).and_then(|sb| {
        let stdio = match console {
            Some(c) => sentry::boot::Stdio::Console(c),
            None => sentry::boot::Stdio::Inherited,
        };
        let p = sb.prepare_with(init, stdio)?;
        p.check()?;
        Ok((sb, p))
    });
    let (sandbox, prepared) = match booted {
        Ok(x) => x,
        Err(e) => {
            if let Some(mut r) = ready {
                let _ = writeln!(r, "{e}");
            }
            tracing::error!("{e}");
            std::process::exit(1);
        }
    };
    let sandbox = std::sync::Arc::new(sandbox);
    let pending = std::sync::Mutex::new(Some(prepared));
    if let Some(l) = control {
        let sb = sandbox.clone();
        crate::control::serve(l, move |req, fds| handle_control(&sb, &pending, req, fds))?;
    }
    if let Some(mut r) = ready {
        writeln!(r, "ok").context("reporting to the supervisor")?;
    }
    let status = sandbox.wait_init();
    // Other Sentry threads may still be blocked; the sandbox is over.
    std::process::exit(code_of(status) as i32);
}

fn handle_control(
    sb: &std::sync::Arc<sentry::boot::Sandbox>,
    pending: &std::sync::Mutex<Option<sentry::boot::PreparedInit>>,
    req: crate::control::Request,
    fds: Vec<std::os::fd::OwnedFd>,
) -> (crate::control::Reply, Option<crate::control::FollowUp>) {
    use crate::control::{Process, Reply, Request};
    let signal_error =
        |signal: i32, e: std::io::Error| Reply::error(format!("cannot send signal {signal}: {e}"));
    let reply = match req {
        Request::Start => {
            let p = pending.lock().unwrap_or_else(|e| e.into_inner()).take();
            match p {
                Some(p) => match sb.start(p) {
                    Ok(()) => Reply::ok(),
                    Err(e) => Reply::error(e),
                },
                None => Reply::error("the container has already been started"),
            }
        }
        Request::Signal { signal, all } => match sb.signal(signal, all) {
            Ok(()) => Reply::ok(),
            Err(e) => signal_error(signal, e),
        },
        Request::SignalProcess { pid, signal } => match sb.signal_process(pid, signal) {
            Ok(()) => Reply::ok(),
            Err(e) => signal_error(signal, e),
        },
        Request::Stacks => Reply {
            stacks: Some(sb.dump_tasks()),
            ..Reply::ok()
        },
        Request::Ps => Reply {
            processes: sb
                .processes()
                .into_iter()
                .map(|p| Process {
                    pid: p.pid,
                    ppid: p.ppid,
                    uid: p.uid,
                    comm: String::from_utf8_lossy(&p.comm).into_owned(),
                    cmdline: String::new(),
                })
                .collect(),
            ..Reply::default()
        },
        Request::Exec { process } => {
            if pending.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                return (Reply::error("the container has not been started"), None);
            }
            return match exec_in(sb, process, fds) {
                Ok(pid) => {
                    let sb = sb.clone();
                    let follow: crate::control::FollowUp = Box::new(move |conn| {
                        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                        kill_when_closed(&sb, pid, conn, done.clone());
                        let status = sb.wait(pid);
                        done.store(true, std::sync::atomic::Ordering::SeqCst);
                        Reply {
                            status: Some(status),
                            ..Reply::default()
                        }
                    });
                    (
                        Reply {
                            pid: Some(pid),
                            ..Reply::default()
                        },
                        Some(follow),
                    )
                }
                Err(e) => (Reply::error(e), None),
            };
        }
    };
    (reply, None)
}

/// A process for the Sentry to start, running as (uid, gid, groups).
fn process(
    p: &crate::control::ProcessSpec,
    forward_signals: Vec<i32>,
) -> sentry::boot::InitProcess {
    let (uid, gid) = (p.uid, p.gid);
    sentry::boot::InitProcess {
        argv: p.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        envp: p.env.iter().map(|e| e.as_bytes().to_vec()).collect(),
        cwd: p.cwd.as_bytes().to_vec(),
        creds: sentry::boot::Credentials {
            uid,
            euid: uid,
            suid: uid,
            gid,
            egid: gid,
            sgid: gid,
            groups: p.groups.clone(),
        },
        forward_signals,
        home_from_passwd: true,
    }
}

/// SIGKILLs `exec`ed process `pid` if its host stand-in closes the control
/// connection before `done` (it was killed: so is the process, as a
/// process killed under runc is).
fn kill_when_closed(
    sb: &std::sync::Arc<sentry::boot::Sandbox>,
    pid: i32,
    conn: &UnixStream,
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let Ok(conn) = conn.try_clone() else { return };
    let sb = std::sync::Arc::downgrade(sb);
    let _ = std::thread::Builder::new()
        .name("exec-watch".into())
        .spawn(move || {
            let mut b = [0u8; 64];
            // The stand-in sends nothing after its request: any end of the
            // read is the connection closing.
            loop {
                match std::io::Read::read(&mut &conn, &mut b) {
                    Ok(n) if n > 0 => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    _ => break,
                }
            }
            if !done.load(std::sync::atomic::Ordering::SeqCst) {
                if let Some(sb) = sb.upgrade() {
                    let _ = sb.signal_process(pid, libc::SIGKILL);
                }
            }
        });
}

/// Starts `p` in the running sandbox with the descriptors `exec` sent as
/// its stdio; returns its pid.
fn exec_in(
    sb: &sentry::boot::Sandbox,
    p: crate::control::ProcessSpec,
    fds: Vec<std::os::fd::OwnedFd>,
) -> std::result::Result<i32, String> {
    if p.args.is_empty() || p.args[0].is_empty() {
        return Err("exec needs a program to run".into());
    }
    let stdio = match (p.terminal, <[std::os::fd::OwnedFd; 3]>::try_from(fds)) {
        (false, Ok(three)) => sentry::boot::Stdio::Host(three),
        (true, Err(mut one)) if one.len() == 1 => {
            sentry::boot::Stdio::Console(one.pop().expect("one descriptor"))
        }
        _ => return Err("exec: wrong descriptors for the process's stdio".into()),
    };
    let proc = process(&p, Vec::new());
    let prepared = sb.prepare_with(proc, stdio)?;
    sb.exec(prepared)
}

fn read_plan(fd: RawFd) -> Result<BootPlan> {
    use std::io::Read;
    // SAFETY: the parent handed this descriptor to us; nothing else owns it.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut text = String::new();
    f.read_to_string(&mut text)
        .context("reading the boot plan")?;
    serde_json::from_str(&text).context("the boot plan is not valid")
}

/// Takes ownership of an inherited listening socket.
fn inherited_listener(fd: RawFd) -> Result<std::os::unix::net::UnixListener> {
    let s = inherited_stream(fd)?;
    let fd: std::os::fd::OwnedFd = s.into();
    Ok(std::os::unix::net::UnixListener::from(fd))
}

/// The host's /proc/cpuinfo, keeping the first `cpus` processor blocks
/// (the CPUs the sandbox reports); empty if it cannot be read.
fn host_cpuinfo(cpus: usize) -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let mut out = String::new();
    for block in text
        .split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .take(cpus)
    {
        out.push_str(block.trim_end_matches('\n'));
        out.push_str("\n\n");
    }
    out
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

pub fn gofer(g: &Global, args: GoferArgs) -> Result<u8> {
    set_process_name(GOFER_NAME);
    die_on_panic("the Gofer");
    // The Gofer ends with the Sentry (EOF) or with `do` (SIGKILL), never of
    // a signal meant for the sandbox: a terminal's Ctrl-C reaches it too.
    set_disposition(&FORWARDED, libc::SIG_IGN, 0);
    let sock = inherited_stream(args.fd)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
    let binds: Vec<crate::spec::GoferBind> = match &args.binds {
        Some(j) => serde_json::from_str(j).context("--binds is not valid")?,
        None => Vec::new(),
    };
    let binds: Vec<gofer::binds::Bind> = binds
        .into_iter()
        .map(|b| gofer::binds::Bind {
            source: b.source,
            destination: b.destination,
            readonly: b.readonly,
        })
        .collect();
    // Served read-write only when the Sentry writes through to it; a
    // container's read-write volumes are writable in any case.
    let read_only = g.overlay == crate::global::OverlayMode::Memory;
    let server = gofer::server::Server::new_confined_with_binds(&args.root, read_only, &binds)
        .with_context(|| format!("cannot serve {}", args.root.display()))?;
    // Requests are synchronous round trips: each channel is served on
    // its CPU, and fid requests from the CPU of the sandbox's first task,
    // so a reply is no cross-CPU wake-up (docs/benchmarks.md, "Where
    // metadata time goes").
    let (started, ready) = std::sync::mpsc::channel::<()>();
    for &(cpu, fd) in &args.channels {
        let sock = inherited_stream(fd)?;
        let channel = server
            .channel()
            .context("cannot open the served root for a channel")?;
        let started = started.clone();
        std::thread::Builder::new()
            .name(format!("channel-{cpu}"))
            .spawn(move || {
                platform::cpus::pin_to_cpu(cpu);
                drop(started);
                match channel.serve(sock) {
                    // The Sentry is gone: the process ends with the first
                    // connection (a thread's own exit is not worth
                    // allowing in the filter).
                    Ok(()) => loop {
                        std::thread::park();
                    },
                    // One broken channel leaves the Sentry's requests
                    // from that CPU failing: end the sandbox instead.
                    Err(e) => {
                        eprintln!("runsc-rs gofer: serving 9P on the channel of CPU {cpu}: {e}");
                        std::process::exit(1);
                    }
                }
            })
            .context("cannot start a channel thread")?;
    }
    // The threads have started and pinned themselves (calls the filter
    // refuses) once every sender is dropped.
    drop(started);
    let _ = ready.recv();
    platform::ptrace::pin_to_first_pair_cpu();
    crate::seccomp::install_gofer()?;
    server.serve(sock).context("serving 9P")?;
    Ok(0)
}
