//! `supervise`: the supervisor, the process `create` leaves behind. It
//! enters the container's network namespace and cgroup, tells `create`,
//! waits while `create` runs the hooks that fill that namespace, launches
//! the Gofer and the Sentry, reports to `create` again, and lives (and
//! exits) with the sandbox.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};

use super::pod::Role;
use super::report::{pipe, read_line, send_ready, Ready, GO, SUPERVISOR_READY_FD};
use crate::config::Config;
use crate::spec::Plan;

/// Descriptor numbers the Sentry gets from the supervisor.
const BOOT_PLAN_FD: RawFd = 5;
const BOOT_CONTROL_FD: RawFd = 6;
const BOOT_READY_FD: RawFd = 7;
const BOOT_CONSOLE_FD: RawFd = 8;

/// What the supervisor (`supervise`, started by `create`) looks after.
#[derive(Debug)]
pub struct SuperviseOptions {
    pub bundle: PathBuf,
    /// The container's directory under the state root.
    pub state_dir: PathBuf,
    /// The host terminal for the container's console.
    pub console_fd: Option<RawFd>,
}

/// The supervisor: runs for the life of the sandbox; exits with its code.
pub fn supervise(g: &Config, a: SuperviseOptions) -> Result<u8> {
    crate::sandbox::set_process_name(crate::sandbox::SUPERVISOR_NAME);
    // SAFETY: `create` put its socketpair's end on this number for us.
    let report = unsafe { UnixStream::from_raw_fd(SUPERVISOR_READY_FD) };
    let mut cgroups = Vec::new();
    let prepared = prepare(g, &a, &mut cgroups);
    send_ready(
        &report,
        &Ready {
            error: prepared.as_ref().err().map(|e| format!("{e:#}")),
            cgroups: cgroups.clone(),
        },
    );
    let Ok((plan, role)) = prepared else {
        return Ok(1);
    };
    // `create` runs the prestart hooks now; anything but its word (it
    // failed, or died) ends the container here.
    if read_line(&report) != GO {
        return Ok(1);
    }
    if let Role::Member { sandbox } = role {
        let sandbox_dir = a.state_dir.with_file_name(&sandbox);
        return super::member::supervise_member(
            g,
            &a.state_dir,
            a.console_fd,
            &plan,
            &sandbox_dir,
            report,
            cgroups,
        );
    }
    let launched = launch_sandbox(g, &a, &plan);
    send_ready(
        &report,
        &Ready {
            error: launched.as_ref().err().map(|e| format!("{e:#}")),
            cgroups,
        },
    );
    drop(report);
    let Ok(l) = launched else { return Ok(1) };
    crate::sandbox::forward_signals_to(l.boot.id() as i32);
    crate::sandbox::wait_sandbox(l)
}

/// The container's environment on the host: its network namespace and
/// its cgroup. Returns the checked bundle and where the container runs.
/// A further container of a pod takes no network namespace: its network
/// is the pod's, the sandbox's Sentry's.
fn prepare(g: &Config, a: &SuperviseOptions, cgroups: &mut Vec<PathBuf>) -> Result<(Plan, Role)> {
    let mut plan = crate::spec::load(&a.bundle)?;
    plan.boot.process.rlimits =
        crate::spec::with_callers_rlimits(std::mem::take(&mut plan.boot.process.rlimits));
    let id = a
        .state_dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let role = super::pod::role(&id, &plan.annotations)?;
    if matches!(role, Role::Member { .. }) {
        plan.netns = crate::spec::NetNs::Host;
    }
    let callers = network_namespace_id();
    // Before any thread is started: the namespace is the calling thread's,
    // and the Gofer and the Sentry inherit it.
    enter_network_namespace(&plan.netns)?;
    // A spec may name its caller's own namespace by path (Docker's
    // `--network=host` gives /var/run/docker/netns/default, dockerd's):
    // that is the host's network, whose interfaces are never the
    // container's to take.
    let own = match plan.netns {
        crate::spec::NetNs::Host => false,
        crate::spec::NetNs::New => true,
        crate::spec::NetNs::Join(_) => {
            matches!((callers, network_namespace_id()), (Some(a), Some(b)) if a != b)
        }
    };
    if !own {
        tracing::info!("the container shares its caller's network namespace: the host's network");
    }
    plan.boot.own_network_namespace = own;
    if let Some(p) = &plan.cgroups_path {
        let setup = if g.rootless {
            crate::cgroup::setup_rootless
        } else {
            crate::cgroup::setup
        };
        *cgroups = setup(
            p,
            g.systemd_cgroup,
            &plan.resources,
            std::process::id() as i32,
        )?;
    }
    Ok((plan, role))
}

/// Starts the Gofer and the Sentry and waits until the Sentry has booted
/// the container (or failed to).
fn launch_sandbox(
    g: &Config,
    a: &SuperviseOptions,
    plan: &Plan,
) -> Result<crate::sandbox::Launched> {
    let listener = crate::control::bind(&a.state_dir)?;
    let (plan_r, mut plan_w) = pipe()?;
    // The Sentry reads its plan before it asks for its id maps (which
    // `launch` waits for): the plan is written from another thread.
    let plan_json = serde_json::to_vec(&plan.boot)?;
    let writer = std::thread::spawn(move || {
        let r = plan_w.write_all(&plan_json);
        drop(plan_w);
        r
    });
    let (ready_r, ready_w) = pipe()?;
    let mut boot: Vec<OsString> = vec![
        format!("--plan-fd={BOOT_PLAN_FD}").into(),
        format!("--control-fd={BOOT_CONTROL_FD}").into(),
        format!("--ready-fd={BOOT_READY_FD}").into(),
    ];
    let mut boot_fds = vec![
        (plan_r.as_raw_fd(), BOOT_PLAN_FD),
        (listener.as_raw_fd(), BOOT_CONTROL_FD),
        (ready_w.as_raw_fd(), BOOT_READY_FD),
    ];
    if let Some(fd) = a.console_fd {
        boot.push(format!("--console-fd={BOOT_CONSOLE_FD}").into());
        boot_fds.push((fd, BOOT_CONSOLE_FD));
    }
    let l = crate::sandbox::launch(
        g,
        crate::sandbox::LaunchArgs {
            gofer: crate::sandbox::gofer_args(&plan.rootfs, &plan.binds)?,
            boot,
            boot_fds,
            id: a
                .state_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned()),
        },
    )?;
    if let Some(fd) = a.console_fd {
        // The Sentry has its copy.
        // SAFETY: `create` handed this descriptor to us; nothing else owns it.
        drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
    }
    drop(plan_r);
    drop(ready_w);
    drop(listener);
    let fail =
        |l: crate::sandbox::Launched, e: anyhow::Error| -> Result<crate::sandbox::Launched> {
            let crate::sandbox::Launched {
                mut gofer,
                mut boot,
                ..
            } = l;
            let _ = boot.kill();
            let _ = boot.wait();
            let _ = gofer.kill();
            let _ = gofer.wait();
            Err(e)
        };
    if let Ok(Err(e)) = writer.join() {
        return fail(l, anyhow!(e).context("cannot send the boot plan"));
    }
    let mut line = String::new();
    let _ = BufReader::new(ready_r).read_line(&mut line);
    match line.trim_end() {
        "ok" => Ok(l),
        "" => fail(
            l,
            anyhow!("the sandbox failed to start (see the debug log)"),
        ),
        e => {
            let e = e.to_string();
            fail(l, anyhow!(e))
        }
    }
}

/// The current network namespace, as (device, inode) of its nsfs file;
/// None if it cannot be read (then a joined namespace is not told apart
/// from the caller's, and nothing is taken).
fn network_namespace_id() -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata("/proc/thread-self/ns/net").ok()?;
    Some((m.dev(), m.ino()))
}

/// Puts the supervisor, and so the Sentry and the Gofer it starts, in the
/// container's network namespace. The supervisor's pid is the one the
/// container's state gives, and Docker's prestart hook (libnetwork-setkey)
/// moves the container's veth into the network namespace of that pid: a
/// supervisor left in the host's would have the hook fail (or plug the veth
/// into the host).
fn enter_network_namespace(ns: &crate::spec::NetNs) -> Result<()> {
    use nix::sched::CloneFlags;
    match ns {
        crate::spec::NetNs::Host => Ok(()),
        crate::spec::NetNs::New => nix::sched::unshare(CloneFlags::CLONE_NEWNET)
            .context("cannot create the container's network namespace (unshare)"),
        crate::spec::NetNs::Join(path) => {
            let f = std::fs::File::open(path)
                .with_context(|| format!("cannot open the network namespace {}", path.display()))?;
            nix::sched::setns(f, CloneFlags::CLONE_NEWNET)
                .with_context(|| format!("cannot join the network namespace {}", path.display()))
        }
    }
}
