//! `runsc-rs gofer`: the Gofer. It serves the root (and an OCI
//! container's bind mounts) over 9P from a mount namespace of its own,
//! one thread per CPU channel, under its seccomp filter.

use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::fds::inherited_stream;
use super::process::{die_on_panic, set_process_name, GOFER_NAME};
use super::signals::{set_disposition, FORWARDED};
use crate::config::{Config, Overlay};
use crate::spec::GoferBind;

/// What the Gofer serves, and on which descriptors.
#[derive(Debug)]
pub struct GoferOptions {
    /// The directory to serve as the sandbox's root.
    pub root: PathBuf,
    /// The connection to the Sentry.
    pub fd: RawFd,
    /// Host paths to bind into the served tree (OCI bind mounts).
    pub binds: Vec<GoferBind>,
    /// Channels to serve, (CPU, descriptor): path-based requests only, from
    /// a thread on that CPU.
    pub channels: Vec<(usize, RawFd)>,
}

/// Serves the root until the Sentry closes its connection.
pub fn gofer(g: &Config, args: GoferOptions) -> Result<u8> {
    set_process_name(GOFER_NAME);
    die_on_panic("the Gofer");
    // The Gofer ends with the Sentry (EOF) or with `do` (SIGKILL), never of
    // a signal meant for the sandbox: a terminal's Ctrl-C reaches it too.
    set_disposition(&FORWARDED, libc::SIG_IGN, 0);
    let sock = inherited_stream(args.fd)?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).context("unshare(CLONE_NEWNS)")?;
    let binds: Vec<gofer::binds::Bind> = args
        .binds
        .into_iter()
        .map(|b| gofer::binds::Bind {
            source: b.source,
            destination: b.destination,
            readonly: b.readonly,
        })
        .collect();
    // Served read-write only when the Sentry writes through to it; a
    // container's read-write volumes are writable in any case.
    let read_only = g.overlay == Overlay::Memory;
    let host_uds = host_uds_policy(g, &binds);
    let mut server = gofer::server::Server::new_confined_with_binds(&args.root, read_only, &binds)
        .with_context(|| format!("cannot serve {}", args.root.display()))?;
    server.set_host_uds(host_uds);
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
    crate::seccomp::install_gofer(server.keep_fds().first().copied())?;
    server.serve(sock).context("serving 9P")?;
    Ok(0)
}

/// Which host sockets the sandbox may connect to: any with
/// `--host-uds=open`, else only the socket files the spec binds in by
/// name (DESIGN.md: a host socket is never reachable by default). Looked
/// at before confining, while the sources are host paths.
fn host_uds_policy(g: &Config, binds: &[gofer::binds::Bind]) -> gofer::server::HostUds {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::FileTypeExt;
    if g.host_uds_open {
        return gofer::server::HostUds::Open;
    }
    let sockets: Vec<Vec<Vec<u8>>> = binds
        .iter()
        .filter(|b| std::fs::metadata(&b.source).is_ok_and(|m| m.file_type().is_socket()))
        .map(|b| {
            b.destination
                .iter()
                .filter(|c| *c != "/")
                .map(|c| c.as_bytes().to_vec())
                .collect()
        })
        .collect();
    if sockets.is_empty() {
        gofer::server::HostUds::None
    } else {
        gofer::server::HostUds::Only(sockets)
    }
}
