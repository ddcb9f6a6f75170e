//! `create`: checks the bundle, reserves the container's state directory,
//! starts its supervisor and, once the supervisor is in the container's
//! network namespace, runs the prestart and createRuntime hooks; the
//! supervisor then starts the sandbox and reports when it is created
//! (`report.rs` has the conversation).

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};

use super::destroy::destroy;
use super::hooks::run_hooks;
use super::pod::Role;
use super::report::{
    channel, read_ready, send_line, GO, SUPERVISOR_CONSOLE_FD, SUPERVISOR_READY_FD,
};
use crate::config::Config;
use crate::state::{Container, Root, Status};

/// What `create` (and `run`) makes a container of.
#[derive(Debug, Default)]
pub struct CreateOptions {
    /// The bundle directory (holding config.json).
    pub bundle: PathBuf,
    /// Where to write the pid of the process to wait on and signal.
    pub pid_file: Option<PathBuf>,
    /// A Unix socket to send the terminal's master to (process.terminal).
    pub console_socket: Option<PathBuf>,
    /// The container id.
    pub id: String,
}

pub fn create(g: &Config, a: &CreateOptions) -> Result<u8> {
    create_inner(g, a)?;
    Ok(0)
}

/// Creates the container; returns it and the supervisor (our child).
pub(super) fn create_inner(
    g: &Config,
    a: &CreateOptions,
) -> Result<(Container, std::process::Child)> {
    crate::spec::check_id(&a.id)?;
    let plan = crate::spec::load(&a.bundle)?;
    if plan.boot.process.terminal && a.console_socket.is_none() {
        bail!("process.terminal is true but no --console-socket was given");
    }
    if !plan.boot.process.terminal && a.console_socket.is_some() {
        bail!("--console-socket was given but process.terminal is false");
    }
    let root = Root::open(g)?;
    let mut sandbox_cgroups = Vec::new();
    let sandbox = match super::pod::role(&a.id, &plan.annotations)? {
        Role::Sandbox => None,
        Role::Member { sandbox } => {
            sandbox_cgroups = check_sandbox(&root, &sandbox)?;
            Some(sandbox)
        }
    };
    let dir = root.reserve(&a.id)?;
    let (mut c, child, channel) = match start_supervisor(g, a, &plan, &dir, sandbox) {
        Ok(x) => x,
        Err(e) => {
            let _ = root.remove(&a.id);
            return Err(e);
        }
    };
    c.sandbox_cgroups = sandbox_cgroups;
    // The supervisor is in the container's network namespace and waits:
    // the hooks run before the Sentry boots, so that the interfaces
    // Docker's prestart hook moves in are there for it to take.
    let created = root
        .save(&c)
        .and_then(|()| {
            if let Some(p) = &a.pid_file {
                write_pid_file(p, c.pid)?;
            }
            run_hooks("prestart", &plan.hooks.prestart, &c)?;
            run_hooks("createRuntime", &plan.hooks.create_runtime, &c)
        })
        .and_then(|()| {
            send_line(&channel, GO);
            match read_ready(&channel).error {
                None => Ok(()),
                Some(e) => Err(anyhow!(e)),
            }
        });
    if let Err(e) = created {
        destroy(&root, &c);
        return Err(e);
    }
    Ok((c, child))
}

/// A pod's further container starts in the sandbox of container
/// `sandbox`, which must be a running (or created) sandbox of its own;
/// gives the sandbox's cgroups.
fn check_sandbox(root: &Root, sandbox: &str) -> Result<Vec<PathBuf>> {
    let s = root
        .load(sandbox)
        .with_context(|| format!("the pod's sandbox {sandbox:?} cannot be joined"))?;
    if s.sandbox.is_some() {
        bail!(
            "container {sandbox:?} is not a sandbox: it runs in sandbox {:?}",
            s.sandbox
        );
    }
    match s.status() {
        Status::Created | Status::Running => Ok(s.cgroups),
        st => bail!("the pod's sandbox {sandbox:?} is {}", st.as_str()),
    }
}

pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    // Written whole under another name, then renamed: a reader never sees
    // a partial pid.
    let tmp = path.with_extension("runsc-tmp");
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("cannot write the pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write the pid file {}", path.display()))
}

/// Starts the supervisor and waits until it is in the container's network
/// namespace and cgroup; returns the container, the supervisor and the
/// channel to it.
fn start_supervisor(
    g: &Config,
    a: &CreateOptions,
    plan: &crate::spec::Plan,
    dir: &Path,
    sandbox: Option<String>,
) -> Result<(Container, std::process::Child, UnixStream)> {
    let (channel, theirs) = channel()?;
    // The terminal is made (and its master sent) before anything starts,
    // so a bad console socket fails `create` with nothing to undo.
    let console = match &a.console_socket {
        Some(sock) => Some(crate::console::open(sock)?),
        None => None,
    };
    let mut cmd = Command::new("/proc/self/exe");
    {
        use std::os::unix::process::CommandExt;
        cmd.arg0(crate::sandbox::SUPERVISOR_NAME);
    }
    cmd.args(g.to_flags())
        .arg("supervise")
        .arg("--bundle")
        .arg(&plan.bundle)
        .arg("--state-dir")
        .arg(dir);
    if console.is_some() {
        cmd.arg(format!("--console-fd={SUPERVISOR_CONSOLE_FD}"));
        // The terminal is the container's stdio; our caller's stdout and
        // stderr must not stay open in the sandbox, as containerd's shim
        // reads `create`'s output to its end before it takes the console.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    }
    let ready_fd = theirs.as_raw_fd();
    let console_fd = console.as_ref().map(|c| c.as_raw_fd());
    // SAFETY: runs in the forked child before exec; dup2 and setsid are
    // async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            if libc::dup2(ready_fd, SUPERVISOR_READY_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if let Some(fd) = console_fd {
                if libc::dup2(fd, SUPERVISOR_CONSOLE_FD) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            // Its own session: a terminal's signals reach it only through
            // `run`'s forwarding, and it outlives `create`.
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("cannot start the sandbox supervisor")?;
    drop(theirs);
    drop(console);
    let ready = read_ready(&channel);
    if let Some(e) = ready.error {
        let _ = child.kill();
        let _ = child.wait();
        crate::cgroup::remove(&ready.cgroups);
        return Err(anyhow!(e));
    }
    let pid = child.id() as i32;
    let c = Container {
        id: a.id.clone(),
        bundle: plan.bundle.clone(),
        rootfs: plan.rootfs.clone(),
        pid,
        pid_start: crate::state::start_time(pid).unwrap_or(0),
        created: crate::state::now_rfc3339(),
        // The caller's name on the host, rootless too (runc's owner).
        owner: nix::unistd::User::from_uid(crate::config::caller_uid().into())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default(),
        annotations: plan.annotations.clone(),
        started: false,
        cgroups: ready.cgroups,
        poststop: plan.hooks.poststop.clone(),
        sandbox,
        paused: false,
        sandbox_cgroups: Vec::new(),
    };
    Ok((c, child, channel))
}
