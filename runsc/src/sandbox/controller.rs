//! The Sentry's side of the control socket: each request of the runtime
//! (`start`, `kill`, `ps`, `exec`, `debug --stacks`) answered by the
//! booted sandbox.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sentry::boot::{Credentials, InitProcess, PreparedInit, Sandbox, Stdio};

use crate::control::{FollowUp, Process, ProcessSpec, Reply, Request};

/// Answers one request; an `exec` also gets a follow-up, which waits for
/// the process and gives its wait status.
pub fn handle_control(
    sb: &Arc<Sandbox>,
    pending: &Mutex<Option<PreparedInit>>,
    req: Request,
    fds: Vec<OwnedFd>,
) -> (Reply, Option<FollowUp>) {
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
            return match exec_in(sb, *process, fds) {
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

/// A process for the Sentry to start, running as (uid, gid, groups).
pub fn process(p: &ProcessSpec, forward_signals: Vec<i32>) -> InitProcess {
    let mut creds = Credentials::of(p.uid, p.gid, p.groups.clone());
    if let Some(c) = &p.capabilities {
        let set = sentry::boot::capabilities_named;
        creds.bounding = set(&c.bounding);
        creds.effective = set(&c.effective);
        creds.permitted = set(&c.permitted);
        creds.inheritable = set(&c.inheritable);
        // Only what is both permitted and inheritable can be ambient: the
        // rest is what runc's PR_CAP_AMBIENT_RAISE fails on and skips.
        creds.ambient = set(&c.ambient)
            .intersect(creds.permitted)
            .intersect(creds.inheritable);
    }
    creds.no_new_privs = p.no_new_privileges;
    InitProcess {
        argv: p.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        envp: p.env.iter().map(|e| e.as_bytes().to_vec()).collect(),
        cwd: p.cwd.as_bytes().to_vec(),
        creds,
        forward_signals,
        home_from_passwd: true,
        rlimits: p.rlimits.clone(),
    }
}

/// SIGKILLs `exec`ed process `pid` if its host stand-in closes the control
/// connection before `done` (it was killed: so is the process, as a
/// process killed under runc is).
fn kill_when_closed(sb: &Arc<Sandbox>, pid: i32, conn: &UnixStream, done: Arc<AtomicBool>) {
    let Ok(conn) = conn.try_clone() else { return };
    let sb = Arc::downgrade(sb);
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
) -> std::result::Result<i32, String> {
    if p.args.is_empty() || p.args[0].is_empty() {
        return Err("exec needs a program to run".into());
    }
    let stdio_count = if p.terminal { 1 } else { 3 };
    if fds.len() != stdio_count + p.preserve_fds as usize {
        return Err("exec: wrong descriptors for the process's stdio".into());
    }
    let preserved = fds.split_off(stdio_count);
    let stdio = match (p.terminal, <[OwnedFd; 3]>::try_from(fds)) {
        (false, Ok(three)) => Stdio::Host(three),
        (true, Err(mut one)) if one.len() == 1 => {
            Stdio::Console(one.pop().expect("one descriptor"))
        }
        _ => return Err("exec: wrong descriptors for the process's stdio".into()),
    };
    let proc = process(&p, Vec::new());
    let prepared = sb.prepare_with(proc, stdio)?;
    prepared.give_host_fds(preserved)?;
    sb.exec(prepared)
}
