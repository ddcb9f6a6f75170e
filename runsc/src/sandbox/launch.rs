//! The parent's side of a sandbox (`do`, the supervisor): starts the Gofer
//! and the Sentry by re-executing this binary, hands each its descriptors,
//! connects them (one connection, and a channel per CPU) and maps their
//! user namespaces. Each starts as the first process of a PID namespace
//! of its own: neither can name, signal or trace a host process, and
//! when it ends, the kernel ends every process left in its namespace
//! (the Sentry's stubs).

use std::ffi::OsString;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};

use super::process::{GOFER_NAME, SENTRY_NAME};
use super::userns::{map_user_namespace, IdMap};
use crate::config::Config;

/// Where a child finds its end of the Gofer connection.
const CHILD_SOCK_FD: RawFd = 3;
/// Where the Sentry and the Gofer find the socket they use to ask for
/// their user namespace's id maps (which only a process outside the
/// namespace may write).
const CHILD_USERNS_FD: RawFd = 4;

/// Where a child finds its ends of the Gofer's channels (one per CPU, see
/// [`gofer_channels`]), from this descriptor up.
const CHILD_CHANNEL_FD: RawFd = 10;
/// The most Gofer channels: CPUs past these use the first connection.
const MAX_CHANNELS: usize = 16;

/// The Gofer's channels: for each CPU this process may run on (when there
/// are two or more, and at most [`MAX_CHANNELS`]), a socketpair whose
/// Gofer end is served by a Gofer thread on that CPU, so the Sentry's
/// requests from a task on any CPU are answered on that CPU (a same-CPU
/// switch instead of a cross-CPU wake-up, several times dearer; see
/// docs/performance.md). Gives (cpu, gofer end, sentry end).
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

/// Gives the child each (descriptor, number) pair and ties its life to ours.
pub(super) fn child_command(name: &str, fds: &[(RawFd, RawFd)]) -> Command {
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

/// Spawns `cmd` as the first process (pid 1) of a new PID namespace.
/// A thread of its own makes the namespace its children's and spawns:
/// switching a thread back to its own PID namespace afterwards needs
/// CAP_SYS_ADMIN over that namespace, which a rootless sandbox has not
/// got (it belongs to the host). The thread then stays, parked: the
/// child's parent-death signal fires when the thread that forked it
/// ends, which must be when this process does.
fn spawn_in_new_pid_namespace(mut cmd: Command) -> Result<Child> {
    use nix::sched::{unshare, CloneFlags};
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("pidns-spawner".into())
        .spawn(move || {
            let spawned = unshare(CloneFlags::CLONE_NEWPID)
                .context("unshare(CLONE_NEWPID)")
                .and_then(|()| Ok(cmd.spawn()?));
            let _ = tx.send(spawned);
            loop {
                std::thread::park();
            }
        })
        .context("cannot start a thread to spawn from")?;
    rx.recv().context("the spawning thread ended")?
}

/// A Gofer and a Sentry started and connected.
pub struct Launched {
    pub gofer: Child,
    pub boot: Child,
    /// Our ends of the user namespace sockets, open while we live: a
    /// child that finds its end closed knows we are gone.
    pub userns: [UnixStream; 2],
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

/// A Gofer started for a running Sentry (a further container of a pod,
/// whose root it serves): the Sentry's end of its connection is to be
/// sent to the Sentry.
pub struct LaunchedGofer {
    pub gofer: Child,
    pub sentry_end: UnixStream,
    /// Our end of its user namespace socket, open while we live.
    pub userns: UnixStream,
}

/// Starts a Gofer alone with arguments `gofer` (one connection, no CPU
/// channels) and maps its user namespace. On error nothing is left
/// running.
pub fn launch_gofer(g: &Config, gofer: Vec<OsString>, id: Option<&str>) -> Result<LaunchedGofer> {
    let (mut child, sentry_end, userns) = spawn_gofer(g, &gofer, id, &[])?;
    if let Err(e) = map_user_namespace(&userns, child.id(), IdMap::Identity, "the Gofer") {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e.context("cannot set up the Gofer's user namespace"));
    }
    Ok(LaunchedGofer {
        gofer: child,
        sentry_end,
        userns,
    })
}

/// Spawns the Gofer with arguments `args` and the Gofer ends of
/// `channels`; gives it, the Sentry's end of its connection and our end of
/// its user namespace socket.
fn spawn_gofer(
    g: &Config,
    args: &[OsString],
    id: Option<&str>,
    channels: &[(usize, UnixStream, UnixStream)],
) -> Result<(Child, UnixStream, UnixStream)> {
    let (gofer_end, sentry_end) =
        UnixStream::pair().context("cannot create the Gofer socketpair")?;
    let (gofer_userns, gofer_userns_child) =
        UnixStream::pair().context("cannot create the user namespace socketpair")?;
    let mut gofer_fds = vec![
        (gofer_end.as_raw_fd(), CHILD_SOCK_FD),
        (gofer_userns_child.as_raw_fd(), CHILD_USERNS_FD),
    ];
    let mut gofer_args = vec![
        format!("--fd={CHILD_SOCK_FD}"),
        format!("--userns-fd={CHILD_USERNS_FD}"),
    ];
    for (i, (cpu, g_end, _)) in channels.iter().enumerate() {
        // At most MAX_CHANNELS, so the numbers stay small.
        let fd = CHILD_CHANNEL_FD + i as RawFd;
        gofer_fds.push((g_end.as_raw_fd(), fd));
        gofer_args.push(format!("--channel={cpu}:{fd}"));
    }
    let mut gofer = child_command(GOFER_NAME, &gofer_fds);
    gofer
        .args(g.to_flags())
        .arg("gofer")
        .args(id.iter().map(|id| format!("--id={id}")))
        .args(&gofer_args)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let gofer = spawn_in_new_pid_namespace(gofer).context("cannot start the Gofer")?;
    Ok((gofer, sentry_end, gofer_userns))
}

/// Starts the Gofer and the Sentry, connects them, and maps the Sentry's
/// user namespace. On error nothing is left running.
pub fn launch(g: &Config, a: LaunchArgs) -> Result<Launched> {
    let channels = gofer_channels()?;
    let (mut gofer, sentry_end, gofer_userns) =
        spawn_gofer(g, &a.gofer, a.id.as_deref(), &channels)?;
    let mut boot_channel_args = Vec::new();
    let mut boot_channel_fds = Vec::new();
    for (i, (cpu, _, s_end)) in channels.iter().enumerate() {
        let fd = CHILD_CHANNEL_FD + i as RawFd;
        boot_channel_fds.push((s_end.as_raw_fd(), fd));
        boot_channel_args.push(format!("--gofer-channel={cpu}:{fd}"));
    }

    let (userns_parent, userns_child) =
        UnixStream::pair().context("cannot create the user namespace socketpair")?;
    let mut fds = vec![
        (sentry_end.as_raw_fd(), CHILD_SOCK_FD),
        (userns_child.as_raw_fd(), CHILD_USERNS_FD),
    ];
    fds.extend_from_slice(&a.boot_fds);
    fds.extend_from_slice(&boot_channel_fds);
    let mut boot = child_command(SENTRY_NAME, &fds);
    boot.args(g.to_flags())
        .arg("boot")
        .args(a.id.iter().map(|id| format!("--id={id}")))
        .arg(format!("--gofer-fd={CHILD_SOCK_FD}"))
        .arg(format!("--userns-fd={CHILD_USERNS_FD}"))
        .args(&boot_channel_args)
        .args(&a.boot);
    let mut boot = match spawn_in_new_pid_namespace(boot) {
        Ok(b) => b,
        Err(e) => {
            let _ = gofer.kill();
            let _ = gofer.wait();
            return Err(e.context("cannot start the Sentry"));
        }
    };
    drop(sentry_end);
    drop(channels);
    drop(userns_child);
    // The Gofer asks once it has confined itself, whatever the Sentry
    // does; the Sentry asks after connecting to the Gofer, so the Gofer
    // is answered first.
    let mapped = map_user_namespace(&gofer_userns, gofer.id(), IdMap::Identity, "the Gofer")
        .context("cannot set up the Gofer's user namespace")
        .and_then(|()| {
            map_user_namespace(&userns_parent, boot.id(), IdMap::Unprivileged, "the Sentry")
                .context("cannot set up the Sentry's user namespace")
        });
    if let Err(e) = mapped {
        let _ = boot.kill();
        let _ = boot.wait();
        let _ = gofer.kill();
        let _ = gofer.wait();
        return Err(e);
    }
    Ok(Launched {
        gofer,
        boot,
        userns: [gofer_userns, userns_parent],
    })
}
