//! `runsc-rs gofer`: the Gofer. It serves the root (and an OCI
//! container's bind mounts) over 9P from a mount namespace of its own,
//! one thread per CPU channel, under its seccomp filter.
//!
//! Its lockdown, in order: new mount, network, IPC and UTS namespaces
//! (its PID namespace is made by `launch`); pivot_root into the served
//! tree (`gofer::confine`); a user namespace of its own
//! (`userns::IdMap::Identity`); of its capabilities only those serving
//! files in this mode needs ([`kept_capabilities`]), no_new_privs, not
//! dumpable, no core; then the seccomp filter.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::path::PathBuf;

use anyhow::{Context, Result};
use caps::Capability;

use super::fds::inherited_stream;
use super::privileges;
use super::process::{die_on_panic, set_process_name, GOFER_NAME};
use super::signals::{set_disposition, FORWARDED};
use super::userns::enter_user_namespace;
use crate::config::{Config, Overlay};
use crate::spec::GoferBind;

/// What the Gofer serves, and on which descriptors.
#[derive(Debug)]
pub struct GoferOptions {
    /// The directory to serve as the sandbox's root.
    pub root: PathBuf,
    /// The connection to the Sentry.
    pub fd: RawFd,
    /// Where to ask the parent for user namespace maps.
    pub userns_fd: RawFd,
    /// Host paths to bind into the served tree (OCI bind mounts).
    pub binds: Vec<GoferBind>,
    /// Channels to serve, (CPU, descriptor): path-based requests only, from
    /// a thread on that CPU.
    pub channels: Vec<(usize, RawFd)>,
}

/// The Gofer's arguments for a container (after `gofer`): its root and
/// bind mounts.
pub fn gofer_args(rootfs: &std::path::Path, binds: &[GoferBind]) -> Result<Vec<OsString>> {
    let mut root = OsString::from("--root=");
    root.push(rootfs);
    let mut args = vec![root];
    if !binds.is_empty() {
        args.push(format!("--binds={}", serde_json::to_string(binds)?).into());
    }
    Ok(args)
}

/// Serves the root until the Sentry closes its connection.
pub fn gofer(g: &Config, args: GoferOptions) -> Result<u8> {
    set_process_name(GOFER_NAME);
    die_on_panic("the Gofer");
    // The Gofer ends with the Sentry (EOF) or with `do` (SIGKILL), never of
    // a signal meant for the sandbox: a terminal's Ctrl-C reaches it too.
    set_disposition(&FORWARDED, libc::SIG_IGN, 0);
    let sock = inherited_stream(args.fd)?;
    privileges::check_single_threaded()?;
    // No network: host sockets are reached by path (which a network
    // namespace does not hide), abstract ones not at all.
    use nix::sched::CloneFlags;
    nix::sched::unshare(
        CloneFlags::CLONE_NEWNS
            | CloneFlags::CLONE_NEWNET
            | CloneFlags::CLONE_NEWIPC
            | CloneFlags::CLONE_NEWUTS,
    )
    .context("unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)")?;
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
    let kept = kept_capabilities(read_only, &binds, &host_uds);
    let mut server = gofer::server::Server::new_confined_with_binds(&args.root, read_only, &binds)
        .with_context(|| format!("cannot serve {}", args.root.display()))?;
    server.set_host_uds(host_uds);
    // Confined by now: a user namespace cannot be made in a chroot, and
    // the mount namespace, made by host root, stays out of reach of the
    // new one's capabilities.
    enter_user_namespace(args.userns_fd)?;
    privileges::keep_only(&kept)?;
    // Requests are synchronous round trips: each channel is served on
    // its CPU, and fid requests from the CPU of the sandbox's first task,
    // so a reply is no cross-CPU wake-up (docs/performance.md, "Where
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

/// The capabilities serving files needs (gVisor's Gofer keeps six:
/// these and CAP_DAC_READ_SEARCH and CAP_SYS_CHROOT in every mode):
/// * reading any file and searching any directory: CAP_DAC_READ_SEARCH,
///   or CAP_DAC_OVERRIDE where that is kept anyway (it covers both);
/// * changing files of any owner: CAP_DAC_OVERRIDE, and CAP_CHOWN (new
///   files get the caller's owner), CAP_FOWNER (chmod, utimes and links
///   of files the Gofer does not own), CAP_FSETID (set-id bits kept);
///   needed when the root is served read-write or a volume is;
/// * connecting to a host socket: write permission on it, so
///   CAP_DAC_OVERRIDE when any socket may be connected to.
///
/// Nothing else: the Gofer chroots into nothing (pivot_root was before),
/// makes no devices and changes no ids.
pub fn kept_capabilities(
    read_only: bool,
    binds: &[gofer::binds::Bind],
    host_uds: &gofer::server::HostUds,
) -> Vec<Capability> {
    let writes = !read_only || binds.iter().any(|b| !b.readonly);
    if writes {
        return vec![
            Capability::CAP_CHOWN,
            Capability::CAP_DAC_OVERRIDE,
            Capability::CAP_FOWNER,
            Capability::CAP_FSETID,
        ];
    }
    if *host_uds != gofer::server::HostUds::None {
        return vec![Capability::CAP_DAC_OVERRIDE];
    }
    vec![Capability::CAP_DAC_READ_SEARCH]
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

#[cfg(test)]
mod tests {
    use super::*;
    use gofer::binds::Bind;
    use gofer::server::HostUds;

    fn bind(readonly: bool) -> Bind {
        Bind {
            source: "/srv".into(),
            destination: "/data".into(),
            readonly,
        }
    }

    #[test]
    fn each_mode_keeps_only_what_it_serves_with() {
        let read = vec![Capability::CAP_DAC_READ_SEARCH];
        let write = vec![
            Capability::CAP_CHOWN,
            Capability::CAP_DAC_OVERRIDE,
            Capability::CAP_FOWNER,
            Capability::CAP_FSETID,
        ];
        assert_eq!(kept_capabilities(true, &[], &HostUds::None), read);
        assert_eq!(kept_capabilities(true, &[bind(true)], &HostUds::None), read);
        assert_eq!(
            kept_capabilities(true, &[], &HostUds::Open),
            vec![Capability::CAP_DAC_OVERRIDE]
        );
        assert_eq!(
            kept_capabilities(true, &[bind(false)], &HostUds::None),
            write
        );
        assert_eq!(kept_capabilities(false, &[], &HostUds::None), write);
        // Never more than gVisor's six, and never CAP_SYS_CHROOT.
        for caps in [read, write] {
            assert!(!caps.contains(&Capability::CAP_SYS_CHROOT));
        }
    }
}
