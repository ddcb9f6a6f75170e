//! `exec`: a new process in a running container.
//!
//! The process is described by `--process` (an OCI process JSON, as
//! containerd writes it) or by the command line over the container's own
//! process settings, as runc builds it. Its stdio are our descriptors 0-2,
//! or with `--tty` the replica of a host pty whose master goes to
//! `--console-socket`; they are sent to the Sentry on the control socket,
//! which starts the process and, on the same connection, later reports its
//! wait status.
//!
//! The host process that holds that connection stands for the sandboxed
//! one: its exit status is the process's, a signal sent to it is passed on,
//! and killing it kills the process (the Sentry sees the connection close).
//! With `--detach` it is a forked child whose pid goes to `--pid-file`:
//! containerd's shim, a subreaper, reaps it to learn the exit status.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use crate::config::Config;
use crate::control::{CapabilitySets, ProcessSpec, Request};
use crate::state::{Root, Status};

/// What `exec` runs, and how.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// An OCI process JSON file describing the process (instead of `cmd`).
    pub process: Option<PathBuf>,
    /// Return once the process has started (its stand-in goes on in the
    /// background).
    pub detach: bool,
    /// Give the process a terminal (its master goes to `console_socket`).
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    /// Where to write the pid of the host process standing for the new
    /// process.
    pub pid_file: Option<PathBuf>,
    pub cwd: Option<String>,
    /// NAME=VALUE entries added to the container's environment.
    pub env: Vec<String>,
    /// UID[:GID].
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    /// The container id.
    pub id: String,
    /// The command and its arguments (without `process`).
    pub cmd: Vec<String>,
    /// runc's `--preserve-fds=N`: our descriptors 3..3+N become the
    /// process's.
    pub preserve_fds: u32,
    /// runc's `--cap`: capabilities added to the container's own.
    pub caps: Vec<String>,
}

/// Our descriptors 3 .. 3+n, which `--preserve-fds=n` passes on. Each
/// must be open: runc would pass whatever it holds itself at a closed
/// number, which is nothing the caller meant.
fn preserved(n: u32) -> Result<Vec<RawFd>> {
    let fds: Vec<RawFd> = (0..n)
        .map(|i| i32::try_from(i).map(|i| 3 + i))
        .collect::<std::result::Result<_, _>>()
        .context("--preserve-fds is too large")?;
    if 3 + fds.len() > crate::control::MAX_FDS {
        bail!(
            "exec --preserve-fds={n}: at most {} descriptors can be passed on",
            crate::control::MAX_FDS - 3
        );
    }
    for &fd in &fds {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            bail!("exec --preserve-fds={n}: descriptor {fd} is not open");
        }
    }
    Ok(fds)
}

/// Signals the stand-in passes on to the sandboxed process.
const PASSED_ON: [i32; 12] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGPIPE,
    libc::SIGALRM,
    libc::SIGTERM,
    libc::SIGCONT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

pub fn exec(g: &Config, a: &ExecOptions) -> Result<u8> {
    let preserved = preserved(a.preserve_fds)?;
    let root = Root::open(g)?;
    let c = root.load(&a.id)?;
    match c.status() {
        Status::Running => {}
        s => bail!("cannot exec in container {:?}: it is {}", a.id, s.as_str()),
    }
    let process = process_of(a, &c.bundle)?;
    if process.terminal && a.console_socket.is_none() {
        bail!("a terminal was asked for but no --console-socket was given");
    }
    if !process.terminal && a.console_socket.is_some() {
        bail!("--console-socket was given but no terminal was asked for");
    }
    let (dir, container) = root.control(&c);
    // The terminal's master is sent before the process exists, as runc does.
    let console: Option<OwnedFd> = match (&a.console_socket, process.terminal) {
        (Some(s), true) => Some(crate::console::open(s)?),
        _ => None,
    };
    let mut fds: Vec<RawFd> = match &console {
        Some(c) => vec![c.as_raw_fd()],
        None => vec![0, 1, 2],
    };
    fds.extend(&preserved);
    let req = Request::Exec {
        process: Box::new(process),
        container,
    };
    if !a.detach {
        let (reply, conn) = crate::control::call_with_fds(&dir, &req, &fds)?;
        drop(console);
        if let Some(p) = &a.pid_file {
            crate::container::write_pid_file(p, std::process::id() as i32)?;
        }
        tracing::debug!("exec: sandbox pid {:?}", reply.pid);
        return stand_in(&dir, reply.pid.unwrap_or(0), &conn);
    }
    // Detached: a forked child stands in; it tells us on `report` whether
    // the process started.
    let (report_r, report_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    // SAFETY: this process is single-threaded here (logging writes
    // synchronously), so the child may go on running Rust code.
    match unsafe { nix::unistd::fork() }.context("fork")? {
        nix::unistd::ForkResult::Child => {
            drop(report_r);
            if console.is_some() {
                // The terminal is the process's stdio; our caller's must
                // not stay open here (containerd's shim reads `exec`'s
                // output to its end before it takes the console).
                detach_stdio();
            }
            let code = match crate::control::call_with_fds(&dir, &req, &fds) {
                Ok((reply, conn)) => {
                    drop(console);
                    let _ = nix::unistd::write(&report_w, b"ok\n");
                    drop(report_w);
                    stand_in(&dir, reply.pid.unwrap_or(0), &conn).unwrap_or(255)
                }
                Err(e) => {
                    let _ = nix::unistd::write(&report_w, format!("{e:#}\n").as_bytes());
                    1
                }
            };
            std::process::exit(code as i32);
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(report_w);
            drop(console);
            let mut line = String::new();
            use std::io::BufRead;
            let _ = std::io::BufReader::new(std::fs::File::from(report_r)).read_line(&mut line);
            match line.trim_end() {
                "ok" => {}
                "" => {
                    let _ = nix::sys::wait::waitpid(child, None);
                    bail!("exec failed: its stand-in process died");
                }
                e => {
                    let _ = nix::sys::wait::waitpid(child, None);
                    return Err(anyhow!(e.to_string()));
                }
            }
            if let Some(p) = &a.pid_file {
                crate::container::write_pid_file(p, child.as_raw())?;
            }
            Ok(0)
        }
    }
}

/// Points descriptors 0-2 at /dev/null.
fn detach_stdio() {
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        for fd in 0..3 {
            // SAFETY: dup2 onto our own standard descriptors.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

/// Stands for sandbox process `pid` until it exits: passes signals on, and
/// returns its exit code (128+N for death by signal N).
fn stand_in(dir: &std::path::Path, pid: i32, conn: &std::os::unix::net::UnixStream) -> Result<u8> {
    pass_signals_on(dir.to_path_buf(), pid);
    let r = crate::control::read_reply(conn).context("waiting for the process")?;
    let status = r
        .status
        .ok_or_else(|| anyhow!("the sandbox sent no exit status"))?;
    Ok(crate::sandbox::code_of(status))
}

/// A thread takes the signals the stand-in gets and sends them on.
fn pass_signals_on(dir: PathBuf, pid: i32) {
    let mut set = nix::sys::signal::SigSet::empty();
    for s in PASSED_ON {
        if let Ok(sig) = nix::sys::signal::Signal::try_from(s) {
            set.add(sig);
        }
    }
    // Blocked before the thread exists, so only its sigwait takes them.
    let _ = set.thread_block();
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let Ok(sig) = set.wait() else { continue };
            let req = Request::SignalProcess {
                pid,
                signal: sig as i32,
            };
            if let Err(e) = crate::control::call(&dir, &req) {
                tracing::warn!("exec: cannot pass {sig} on: {e:#}");
            }
        });
}

/// The process to run: `--process`, or the container's own process with
/// the command line's changes, as runc builds it.
fn process_of(a: &ExecOptions, bundle: &std::path::Path) -> Result<ProcessSpec> {
    if let Some(path) = &a.process {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the process file {}", path.display()))?;
        let p: oci_spec::runtime::Process = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid OCI process", path.display()))?;
        if !a.cmd.is_empty() {
            bail!("give the command either in --process or on the command line, not both");
        }
        if !a.caps.is_empty() {
            // runc takes the process file as it is, too.
            tracing::warn!(
                "exec --cap {} is ignored: --process gives the capabilities",
                a.caps.join(",")
            );
        }
        return check(ProcessSpec {
            args: p.args().clone().unwrap_or_default(),
            env: p.env().clone().unwrap_or_default(),
            cwd: p.cwd().to_string_lossy().into_owned(),
            uid: p.user().uid(),
            gid: p.user().gid(),
            groups: p.user().additional_gids().clone().unwrap_or_default(),
            terminal: p.terminal().unwrap_or(false) || a.tty,
            capabilities: p
                .capabilities()
                .as_ref()
                .map(crate::control::CapabilitySets::of),
            no_new_privileges: p.no_new_privileges().unwrap_or(false),
            rlimits: crate::spec::with_callers_rlimits(
                p.rlimits()
                    .iter()
                    .flatten()
                    .map(|r| {
                        let res = crate::spec::rlimit_resource(r.typ());
                        (res, r.soft(), r.hard())
                    })
                    .collect(),
            ),
            preserve_fds: a.preserve_fds,
        });
    }
    if a.cmd.is_empty() {
        bail!("exec needs a command (or --process)");
    }
    let plan = crate::spec::load(bundle)?;
    let mut env = plan.boot.process.env.clone();
    for e in &a.env {
        let Some((name, _)) = e.split_once('=') else {
            bail!("--env {e:?} is not NAME=VALUE");
        };
        env.retain(|old| old.split_once('=').map(|(n, _)| n) != Some(name));
        env.push(e.clone());
    }
    let (mut uid, mut gid) = (plan.boot.process.uid, plan.boot.process.gid);
    if let Some(u) = &a.user {
        let (us, gs) = match u.split_once(':') {
            Some((us, gs)) => (us, Some(gs)),
            None => (u.as_str(), None),
        };
        uid = us
            .parse()
            .map_err(|_| anyhow!("--user {u:?}: the sandbox takes numeric ids (UID[:GID])"))?;
        if let Some(gs) = gs {
            gid = gs
                .parse()
                .map_err(|_| anyhow!("--user {u:?}: the sandbox takes numeric ids (UID[:GID])"))?;
        }
    }
    let mut groups = plan.boot.process.groups.clone();
    if !a.additional_gids.is_empty() {
        groups = a.additional_gids.clone();
    }
    check(ProcessSpec {
        args: a.cmd.clone(),
        env,
        cwd: a.cwd.clone().unwrap_or(plan.boot.process.cwd),
        uid,
        gid,
        groups,
        terminal: a.tty,
        // The container's own process's privileges, as runc's exec, with
        // what --cap adds.
        capabilities: with_added_caps(plan.boot.process.capabilities, uid, &a.caps),
        no_new_privileges: plan.boot.process.no_new_privileges,
        rlimits: crate::spec::with_callers_rlimits(plan.boot.process.rlimits),
        preserve_fds: a.preserve_fds,
    })
}

/// `--cap` as runc applies it: each known name joins the bounding,
/// effective and permitted sets, and the ambient set (which keeps only
/// what the inheritable set holds too, as the kernel's
/// PR_CAP_AMBIENT_RAISE does for runc). Unknown names are left out with
/// runc's warning.
fn with_added_caps(
    sets: Option<CapabilitySets>,
    uid: u32,
    added: &[String],
) -> Option<CapabilitySets> {
    let known: Vec<&String> = added
        .iter()
        // runc knows only the full upper-case names: `SYS_ADMIN` and
        // `cap_sys_admin` are no capabilities to it.
        .filter(|c| {
            c.starts_with("CAP_")
                && **c == c.to_ascii_uppercase()
                && sentry::boot::capabilities_named(std::slice::from_ref(c))
                    != sentry::boot::CapSet::EMPTY
        })
        .collect();
    let unknown: Vec<&str> = added
        .iter()
        .filter(|c| !known.contains(c))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        tracing::warn!("ignoring unknown or unavailable capabilities: {unknown:?}");
    }
    if known.is_empty() {
        return sets;
    }
    // Without sets in the spec root holds every capability already; any
    // other user starts from none.
    let mut sets = match sets {
        Some(s) => s,
        None if uid == 0 => return None,
        None => CapabilitySets::default(),
    };
    for c in known {
        for set in [
            &mut sets.bounding,
            &mut sets.effective,
            &mut sets.permitted,
            &mut sets.ambient,
        ] {
            if !set.contains(c) {
                set.push(c.clone());
            }
        }
    }
    Some(sets)
}

fn check(p: ProcessSpec) -> Result<ProcessSpec> {
    if p.args.is_empty() || p.args[0].is_empty() {
        bail!("process.args must name a program");
    }
    if !p.cwd.starts_with('/') {
        bail!("the working directory {:?} is not an absolute path", p.cwd);
    }
    if let Some(bad) = p.env.iter().find(|e| !e.contains('=')) {
        bail!("environment entry {bad:?} is not NAME=VALUE");
    }
    Ok(p)
}
