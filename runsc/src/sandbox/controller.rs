//! The Sentry's side of the control socket: each request of the runtime
//! (`start`, `kill`, `ps`, `exec`, `pause`, `debug --stacks`) answered by the
//! booted sandbox.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use sentry::boot::{ContainerFs, Sandbox};

use super::init::{process, stdio_of};
use super::pod::{Pod, Target};
use super::watch;
use crate::control::{FollowUp, Process, ProcessSpec, Reply, Request};

/// Answers one request; an `exec` (and a pod's `CreateContainer`) also
/// gets a follow-up, which waits for the process and gives its wait status.
pub fn handle_control(
    sb: &Arc<Sandbox>,
    pod: &Arc<Pod>,
    req: Request,
    fds: Vec<OwnedFd>,
) -> (Reply, Option<FollowUp>) {
    let signal_error =
        |signal: i32, e: std::io::Error| Reply::error(format!("cannot send signal {signal}: {e}"));
    let reply = match req {
        Request::Start => {
            let p = pod.pending.lock().unwrap_or_else(|e| e.into_inner()).take();
            match p {
                Some(p) => match sb.start(p) {
                    Ok(()) => Reply::ok(),
                    Err(e) => Reply::error(e),
                },
                None => Reply::error("the container has already been started"),
            }
        }
        Request::CreateContainer { id, plan } => {
            return match pod.create(sb, id, plan, fds) {
                Ok((r, follow)) => (r, Some(follow)),
                Err(e) => (Reply::error(e), None),
            };
        }
        Request::StartContainer { id } => match pod.start(sb, &id) {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::error(e),
        },
        Request::PauseContainer { id, paused } => match pod.target(Some(&id)) {
            Ok(Target::Member { fs, .. }) => {
                sb.pause_container(fs.number(), paused);
                Reply::ok()
            }
            Ok(Target::Own) => Reply::error("the sandbox's own container is paused by its cgroup"),
            Err(e) => Reply::error(e),
        },
        Request::Signal {
            signal,
            all,
            container,
        } => {
            let sent = match pod.target(container.as_deref()) {
                Err(e) => return (Reply::error(e), None),
                Ok(Target::Own) => sb.signal(signal, all),
                Ok(Target::Member { fs, init }) => {
                    sb.signal_container(fs.number(), init, signal, all)
                }
            };
            match sent {
                Ok(()) => Reply::ok(),
                Err(e) => signal_error(signal, e),
            }
        }
        Request::SignalProcess { pid, signal } => match sb.signal_process(pid, signal) {
            Ok(()) => Reply::ok(),
            Err(e) => signal_error(signal, e),
        },
        Request::Stacks => Reply {
            stacks: Some(sb.dump_tasks()),
            ..Reply::ok()
        },
        Request::Ps { container } => {
            let number = match pod.target(container.as_deref()) {
                Err(e) => return (Reply::error(e), None),
                Ok(Target::Own) => 0,
                Ok(Target::Member { fs, .. }) => fs.number(),
            };
            let ours = sb.container_pids(number);
            Reply {
                processes: sb
                    .processes()
                    .into_iter()
                    .filter(|p| ours.binary_search(&p.pid).is_ok())
                    .map(|p| Process {
                        pid: p.pid,
                        ppid: p.ppid,
                        uid: p.uid,
                        comm: String::from_utf8_lossy(&p.comm).into_owned(),
                        cmdline: String::new(),
                    })
                    .collect(),
                ..Reply::default()
            }
        }
        Request::Exec { process, container } => {
            if pod.unstarted(container.as_deref()) {
                return (Reply::error("the container has not been started"), None);
            }
            let fs = match pod.target(container.as_deref()) {
                Err(e) => return (Reply::error(e), None),
                Ok(Target::Own) => None,
                Ok(Target::Member { fs, .. }) => Some(fs),
            };
            return match exec_in(sb, *process, fds, fs.as_deref()) {
                Ok(pid) => {
                    let sb = sb.clone();
                    let follow: FollowUp = Box::new(move |conn| {
                        let done = Arc::new(AtomicBool::new(false));
                        kill_when_closed(&sb, pid, conn, done.clone());
                        let status = sb.wait(pid);
                        done.store(true, Ordering::SeqCst);
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

/// SIGKILLs `exec`ed process `pid` if its host stand-in closes the control
/// connection before `done` (it was killed: so is the process, as a
/// process killed under runc is).
fn kill_when_closed(sb: &Arc<Sandbox>, pid: i32, conn: &UnixStream, done: Arc<AtomicBool>) {
    let sb = Arc::downgrade(sb);
    watch::on_close(conn, "exec-watch", move || {
        if !done.load(Ordering::SeqCst) {
            if let Some(sb) = sb.upgrade() {
                let _ = sb.signal_process(pid, libc::SIGKILL);
            }
        }
    });
}

/// Starts `p` in the running sandbox with the descriptors `exec` sent as
/// its stdio, and those after them as its 3, 4 ... (`--preserve-fds`);
/// returns its pid.
fn exec_in(
    sb: &Sandbox,
    p: ProcessSpec,
    mut fds: Vec<OwnedFd>,
    container: Option<&ContainerFs>,
) -> std::result::Result<i32, String> {
    if p.args.is_empty() || p.args[0].is_empty() {
        return Err("exec needs a program to run".into());
    }
    let stdio_count = if p.terminal { 1 } else { 3 };
    if fds.len() != stdio_count + p.preserve_fds as usize {
        return Err("exec: wrong descriptors for the process's stdio".into());
    }
    let preserved = fds.split_off(stdio_count);
    let stdio = stdio_of(p.terminal, fds).map_err(|e| format!("exec: {e}"))?;
    let proc = process(&p, Vec::new());
    let prepared = sb.prepare_in(proc, stdio, container)?;
    prepared.give_host_fds(preserved)?;
    sb.exec(prepared)
}
