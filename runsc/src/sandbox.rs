//! Sandbox processes: `do` starts a Gofer and a Sentry (by re-executing this
//! binary as `gofer` and `boot`), connects them with a socketpair, and waits.
//! If either dies, the other is killed at once: a sandbox never half-runs.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};

use crate::cli::{DoArgs, Global};

/// Where a child finds its end of the Gofer connection.
const CHILD_SOCK_FD: RawFd = 3;
/// Where the Sentry finds the socket it uses to ask for its user namespace's
/// id maps (which only a process outside the namespace may write).
const CHILD_USERNS_FD: RawFd = 4;

/// The host uid/gid the Sentry runs as: it needs no host privilege at all
/// once booted, so it gets none.
const SENTRY_HOST_ID: u32 = 65534;

#[derive(Args, Debug)]
pub struct BootArgs {
    /// The descriptor of the connection to the Gofer.
    #[arg(long = "gofer-fd")]
    pub gofer_fd: RawFd,
    /// The descriptor on which to ask the parent for user namespace maps
    /// (absent: stay in the current user namespace).
    #[arg(long = "userns-fd")]
    pub userns_fd: Option<RawFd>,
    /// The application's working directory.
    #[arg(long, default_value = "/")]
    pub cwd: PathBuf,
    /// The application's command line.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
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
}

/// The global flags, to pass on to `boot` and `gofer`.
fn global_flags(g: &Global) -> Vec<OsString> {
    let mut v: Vec<OsString> = vec![format!("--network={}", g.network).into()];
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

/// Gives the child each (descriptor, number) pair and ties its life to ours.
fn child_command(fds: &[(RawFd, RawFd)]) -> Command {
    let mut c = Command::new("/proc/self/exe");
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

pub fn run_do(g: &Global, args: DoArgs) -> Result<u8> {
    let (gofer_end, sentry_end) =
        UnixStream::pair().context("cannot create the Gofer socketpair")?;
    let cwd = match args.cwd {
        Some(c) => c,
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };

    let mut gofer = child_command(&[(gofer_end.as_raw_fd(), CHILD_SOCK_FD)]);
    gofer
        .args(global_flags(g))
        .arg("gofer")
        .arg("--root=/")
        .arg(format!("--fd={CHILD_SOCK_FD}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut gofer = gofer.spawn().context("cannot start the Gofer")?;
    drop(gofer_end);

    let (userns_parent, userns_child) =
        UnixStream::pair().context("cannot create the user namespace socketpair")?;
    let mut boot = child_command(&[
        (sentry_end.as_raw_fd(), CHILD_SOCK_FD),
        (userns_child.as_raw_fd(), CHILD_USERNS_FD),
    ]);
    boot.args(global_flags(g))
        .arg("boot")
        .arg(format!("--gofer-fd={CHILD_SOCK_FD}"))
        .arg(format!("--userns-fd={CHILD_USERNS_FD}"))
        .arg("--cwd")
        .arg(&cwd)
        .arg("--")
        .args(&args.cmd);
    let mut boot = match boot.spawn() {
        Ok(b) => b,
        Err(e) => {
            let _ = gofer.kill();
            let _ = gofer.wait();
            return Err(anyhow!(e).context("cannot start the Sentry"));
        }
    };
    drop(sentry_end);
    drop(userns_child);
    BOOT_PID.store(boot.id() as i32, std::sync::atomic::Ordering::SeqCst);
    set_disposition(
        &FORWARDED,
        forward_to_boot as *const () as usize,
        libc::SA_SIGINFO | libc::SA_RESTART,
    );
    if let Err(e) = map_user_namespace(&userns_parent, boot.id()) {
        let _ = boot.kill();
        let _ = boot.wait();
        let _ = gofer.kill();
        let _ = gofer.wait();
        return Err(e.context("cannot set up the Sentry's user namespace"));
    }

    // Wait for whichever ends first.
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
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).context("unshare(CLONE_NEWUSER)")?;
    s.write_all(b"m")?;
    let mut b = [0u8; 1];
    if s.read(&mut b)? != 1 {
        bail!("the parent did not map the user namespace");
    }
    // Become root of the new namespace with its full capability set.
    nix::unistd::setresgid(0.into(), 0.into(), 0.into()).context("setresgid")?;
    nix::unistd::setresuid(0.into(), 0.into(), 0.into()).context("setresuid")?;
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
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// A shell-style exit code: the exit status, or 128+N for death by signal N.
fn code_of(status: i32) -> u8 {
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
/// (a task thread unwinding alone would leave the rest hanging).
fn die_on_panic(process: &'static str) {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        tracing::error!("{process} panicked: {info}");
        // SAFETY: _exit ends the process without running other threads' code.
        unsafe { libc::_exit(125) };
    }));
}

pub fn boot(g: &Global, args: BootArgs) -> Result<u8> {
    die_on_panic("the Sentry");
    // Before any thread exists, so every Sentry thread inherits the mask
    // and only the forwarder takes these signals (stubs unblock them).
    block_forwarded();
    let sock = inherited_stream(args.gofer_fd)?;
    let client = gofer::Client::connect(sock).map_err(|e| {
        anyhow!(
            "cannot connect to the Gofer: {}",
            std::io::Error::from_raw_os_error(e)
        )
    })?;
    if let Some(fd) = args.userns_fd {
        enter_user_namespace(fd)?;
    }
    let hostname = hostname();
    // The platform notes where the kernel's vDSO is while /proc is visible.
    platform::ptrace::prepare().map_err(|e| anyhow!("cannot prepare the ptrace platform: {e}"))?;
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
    let config = sentry::kernel::Config {
        strace: g.strace,
        hostname,
        cpus,
        cpuinfo,
        root_overlay: g.overlay == crate::cli::OverlayMode::Memory,
        file_access_shared: g.file_access == crate::cli::FileAccess::Shared,
    };
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
        creds: sentry::kernel::Credentials::root(),
        forward_signals: FORWARDED.to_vec(),
    };
    let status = sentry::boot::run(client, config, init).map_err(|e| anyhow!(e))?;
    // Other Sentry threads may still be blocked; the sandbox is over.
    std::process::exit(code_of(status) as i32);
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
    die_on_panic("the Gofer");
    // The Gofer ends with the Sentry (EOF) or with `do` (SIGKILL), never of
    // a signal meant for the sandbox: a terminal's Ctrl-C reaches it too.
    set_disposition(&FORWARDED, libc::SIG_IGN, 0);
    let sock = inherited_stream(args.fd)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
    // Served read-write only when the Sentry writes through to it.
    let read_only = g.overlay == crate::cli::OverlayMode::Memory;
    let server = gofer::server::Server::new_confined(&args.root, read_only)
        .with_context(|| format!("cannot serve {}", args.root.display()))?;
    crate::seccomp::install_gofer()?;
    server.serve(sock).context("serving 9P")?;
    Ok(0)
}
