//! The supervisor of a pod's further container (one whose annotations
//! name a running sandbox): the container's *proxy* on the host. It stays
//! in the container's cgroup, starts a Gofer of the container's own for
//! its root and bind mounts, and asks the sandbox's Sentry, over the
//! sandbox's control socket, to create the container, sending the
//! Sentry's end of the Gofer connection and the container's stdio with
//! the request. That connection then stays open: the Sentry's second
//! reply is the wait status of the container's init, and the proxy exits
//! with it (the same code, or dies of the same signal), so the runc shim
//! that reaps the pid in `--pid-file` sees what runc would give. Signals
//! sent to the proxy go on to the container's init; when the proxy is
//! killed, the Sentry sees the connection close and kills the container.

use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::report::{send_ready, Ready};
use crate::config::Config;
use crate::control::Request;
use crate::spec::Plan;

/// Creates the container in the sandbox whose state is in `sandbox_dir`, reports
/// to `create`, then stands for the container's init until it ends; does
/// not return.
#[allow(clippy::too_many_arguments)]
pub(super) fn supervise_member(
    g: &Config,
    state_dir: &Path,
    console_fd: Option<RawFd>,
    plan: &Plan,
    sandbox_dir: &Path,
    report: UnixStream,
    cgroups: Vec<PathBuf>,
) -> Result<u8> {
    // Before any thread is started (the Gofer's spawner is one): only the
    // thread `pass_signals_on` starts takes them.
    crate::sandbox::block_forwarded();
    let id = state_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let created = create_in_sandbox(g, console_fd, plan, &id, sandbox_dir);
    send_ready(
        &report,
        &Ready {
            error: created.as_ref().err().map(|e| format!("{e:#}")),
            cgroups,
        },
    );
    drop(report);
    let Ok((mut gofer, conn)) = created else {
        return Ok(1);
    };
    pass_signals_on(sandbox_dir.to_path_buf(), id);
    let status = crate::control::read_reply(&conn)
        .ok()
        .and_then(|r| r.status)
        // The Sentry is gone (the pod's sandbox ended): the container was
        // killed with it.
        .unwrap_or(libc::SIGKILL);
    let _ = gofer.kill();
    let _ = gofer.wait();
    exit_as(status)
}

/// Starts the container's Gofer and has the sandbox create the container;
/// gives the Gofer and the connection the init's wait status comes on.
fn create_in_sandbox(
    g: &Config,
    console_fd: Option<RawFd>,
    plan: &Plan,
    id: &str,
    sandbox_dir: &Path,
) -> Result<(std::process::Child, UnixStream)> {
    let args = crate::sandbox::gofer_args(&plan.rootfs, &plan.binds)?;
    let l = crate::sandbox::launch_gofer(g, args, Some(id))?;
    let crate::sandbox::LaunchedGofer {
        mut gofer,
        sentry_end,
        userns: _userns,
    } = l;
    let mut fds: Vec<RawFd> = vec![sentry_end.as_raw_fd()];
    match console_fd {
        Some(c) => fds.push(c),
        None => fds.extend([libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO]),
    }
    let req = Request::CreateContainer {
        id: id.to_string(),
        plan: serde_json::to_value(&plan.boot)?,
    };
    match crate::control::call_with_fds(sandbox_dir, &req, &fds).with_context(|| {
        format!(
            "cannot create the container in sandbox {}",
            sandbox_dir.display()
        )
    }) {
        Ok((_, conn)) => Ok((gofer, conn)),
        Err(e) => {
            let _ = gofer.kill();
            let _ = gofer.wait();
            Err(e)
        }
    }
}

/// A thread takes the signals the proxy gets (SIGTERM, SIGINT ...) and
/// sends them to the container's init.
fn pass_signals_on(sandbox_dir: PathBuf, id: String) {
    let mut set = nix::sys::signal::SigSet::empty();
    for s in crate::sandbox::FORWARDED {
        if let Ok(sig) = nix::sys::signal::Signal::try_from(s) {
            set.add(sig);
        }
    }
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let Ok(sig) = set.wait() else { continue };
            let req = Request::Signal {
                signal: sig as i32,
                all: false,
                container: Some(id.clone()),
            };
            if let Err(e) = crate::control::call(&sandbox_dir, &req) {
                tracing::warn!("cannot pass {sig} on to container {id}: {e:#}");
            }
        });
}

/// Exits as a process of wait status `status` did: with its exit code, or
/// killed by its signal (without a core dump: the proxy's core is nobody's
/// business).
fn exit_as(status: i32) -> ! {
    if libc::WIFSIGNALED(status) {
        let sig = libc::WTERMSIG(status);
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads one rlimit; signal and sigprocmask change
        // only this process's dispositions and mask; kill signals
        // ourselves.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
    }
    std::process::exit(crate::sandbox::code_of(status) as i32)
}
