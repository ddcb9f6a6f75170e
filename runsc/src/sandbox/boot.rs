//! `runsc-rs boot`: the Sentry. It takes over the descriptors its parent
//! handed it, connects to the Gofer, takes the container's network
//! interfaces, enters its user namespace, cuts itself off from the host
//! (an empty root, new IPC and UTS namespaces, no capabilities, the
//! seccomp filter; `launch` made its PID namespace), and boots
//! the sandbox from a [`sentry::boot::BootSpec`]: a command (`do`), or an
//! OCI container's boot plan, which then waits for `start`.

use std::ffi::OsString;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use super::boot_spec::boot_spec;
use super::controller::handle_control;
use super::fds::{inherited, inherited_listener, inherited_stream};
use super::init::process;
use super::lockdown::empty_root;
use super::network;
use super::privileges;
use super::process::{die_on_panic, set_process_name, SENTRY_NAME};
use super::signals::{block_forwarded, FORWARDED};
use super::userns::enter_user_namespace;
use super::wait::code_of;
use crate::config::Config;
use crate::spec::BootPlan;

/// What the Sentry is handed: descriptors, and the command (`do`) or the
/// descriptor to read an OCI container's boot plan from.
#[derive(Debug)]
pub struct BootOptions {
    /// The connection to the Gofer.
    pub gofer_fd: RawFd,
    /// The Gofer's channels, (CPU, descriptor): the connection for the
    /// path-based requests made on that CPU.
    pub gofer_channels: Vec<(usize, RawFd)>,
    /// Where to ask the parent for user namespace maps (None: stay in the
    /// current user namespace).
    pub userns_fd: Option<RawFd>,
    /// The application's working directory (`do`).
    pub cwd: PathBuf,
    /// A pipe carrying an OCI container's [`BootPlan`] as JSON (instead of
    /// a command line).
    pub plan_fd: Option<RawFd>,
    /// The listening control socket (OCI containers).
    pub control_fd: Option<RawFd>,
    /// Where to report that the container is created ("ok") or why not.
    pub ready_fd: Option<RawFd>,
    /// A host terminal for the container's console (process.terminal).
    pub console_fd: Option<RawFd>,
    /// The application's command line (`do`).
    pub cmd: Vec<OsString>,
}

/// Boots the Sentry, runs the sandbox and exits with its status.
pub fn boot(g: &Config, args: BootOptions) -> Result<u8> {
    set_process_name(SENTRY_NAME);
    die_on_panic("the Sentry");
    // Before any thread exists, so every Sentry thread inherits the mask
    // and only the forwarder takes these signals (stubs unblock them).
    block_forwarded();
    let plan: Option<BootPlan> = match args.plan_fd {
        Some(fd) => Some(read_plan(fd)?),
        None => None,
    };
    if plan.is_none() && args.cmd.is_empty() {
        bail!("boot needs a command or --plan-fd");
    }
    let ready = args.ready_fd.map(|fd| std::fs::File::from(inherited(fd)));
    let control = match args.control_fd {
        Some(fd) => Some(inherited_listener(fd)?),
        None => None,
    };
    let sock = inherited_stream(args.gofer_fd)?;
    let channels = args
        .gofer_channels
        .iter()
        .map(|&(cpu, fd)| Ok((cpu, inherited_stream(fd)?)))
        .collect::<Result<Vec<_>>>()?;
    let client = gofer_protocol::Client::connect(sock)
        .map_err(|e| {
            anyhow!(
                "cannot connect to the Gofer: {}",
                std::io::Error::from_raw_os_error(e)
            )
        })?
        .with_channels(channels);
    // Host sockets come through the Gofer only as it allows (its own
    // policy); the Sentry then drives them with its host poller. The plan
    // says whether the spec binds one in (the Sentry never sees bind
    // sources).
    let host_uds = g.host_uds_open || plan.as_ref().is_some_and(|p| p.binds_host_socket);
    // Still root in the host's user namespace: taking the container's
    // interfaces needs CAP_NET_RAW and CAP_NET_ADMIN over its network
    // namespace, which the user namespace gives up.
    let net = match network::stack_config(g, plan.as_ref().map(|p| p.own_network_namespace)) {
        Ok(n) => n,
        Err(e) => {
            if let Some(mut r) = ready.as_ref() {
                use std::io::Write;
                let _ = writeln!(r, "{e:#}");
            }
            return Err(e);
        }
    };
    // The platform notes where the kernel's vDSO is while /proc is visible,
    // and opens /dev/kvm while still root in the host's user namespace.
    let kind = g.platform;
    platform::prepare(kind).map_err(|e| anyhow!("cannot prepare the {kind} platform: {e}"))?;
    if let Some(fd) = args.userns_fd {
        enter_user_namespace(fd)?;
    }
    let hostname = plan
        .as_ref()
        .and_then(|p| p.hostname.clone())
        .unwrap_or_else(hostname);
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    // After empty_root the Sentry cannot read host files: /proc/cpuinfo is
    // captured now.
    let cpuinfo = host_cpuinfo(cpus);
    privileges::check_single_threaded()?;
    empty_root()?;
    // No capability at all: the platform traces only its own stubs
    // (forked after this, so holding no more than the Sentry), in its
    // own user namespace, which needs none.
    privileges::keep_only(&[])?;
    let memfile = sentry::boot::memory_file().map_err(|e| anyhow!(e))?;
    let profile = crate::seccomp::SentryProfile {
        platform: kind,
        host_network: g.network == netstack::NetworkMode::Host,
        host_uds,
    };
    crate::seccomp::install_sentry(&profile, memfile.fd())?;
    // Stubs that are no longer traced are reaped by the kernel.
    // SAFETY: setting a disposition to SIG_IGN installs no handler.
    unsafe { libc::signal(libc::SIGCHLD, libc::SIG_IGN) };
    let spec = boot_spec(g, plan.as_ref(), hostname, cpus, cpuinfo);
    match plan {
        None => run_command(memfile, client, &spec, net, &args),
        Some(plan) => {
            let console = args.console_fd.map(inherited);
            boot_container(memfile, client, &spec, net, plan, ready, control, console)
        }
    }
}

/// Runs `do`'s command in the sandbox and exits with its status.
fn run_command(
    memfile: std::sync::Arc<sentry::boot::MemoryFile>,
    client: gofer_protocol::Client,
    spec: &sentry::boot::BootSpec,
    net: netstack::StackConfig,
    args: &BootOptions,
) -> Result<u8> {
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
        creds: sentry::boot::Credentials::root(),
        forward_signals: FORWARDED.to_vec(),
        // The caller's environment, as it is.
        home_from_passwd: false,
        rlimits: Vec::new(),
    };
    let status = sentry::boot::run(memfile, client, spec, net, init).map_err(|e| anyhow!(e))?;
    let sent: Vec<String> = gofer_protocol::client::requests_sent()
        .iter()
        .map(|(t, n)| format!("T{t}={n}"))
        .collect();
    tracing::debug!("gofer requests sent: {}", sent.join(" "));
    // Other Sentry threads may still be blocked; the sandbox is over.
    std::process::exit(code_of(status) as i32);
}

/// Boots an OCI container: everything up to its first instruction, then
/// reports to the supervisor and waits for `start` on the control socket.
#[allow(clippy::too_many_arguments)]
fn boot_container(
    memfile: std::sync::Arc<sentry::boot::MemoryFile>,
    client: gofer_protocol::Client,
    spec: &sentry::boot::BootSpec,
    net: netstack::StackConfig,
    plan: BootPlan,
    ready: Option<std::fs::File>,
    control: Option<UnixListener>,
    console: Option<OwnedFd>,
) -> Result<u8> {
    use std::io::Write;
    let init = process(&plan.process, FORWARDED.to_vec());
    let booted = sentry::boot::Sandbox::boot(memfile, client, spec, net).and_then(|sb| {
        let stdio = match console {
            Some(c) => sentry::boot::Stdio::Console(c),
            None => sentry::boot::Stdio::Inherited,
        };
        let p = sb.prepare_with(init, stdio)?;
        p.check()?;
        Ok((sb, p))
    });
    let (sandbox, prepared) = match booted {
        Ok(x) => x,
        Err(e) => {
            if let Some(mut r) = ready {
                let _ = writeln!(r, "{e}");
            }
            tracing::error!("{e}");
            std::process::exit(1);
        }
    };
    let sandbox = std::sync::Arc::new(sandbox);
    let pod = std::sync::Arc::new(super::pod::Pod::new(spec.root, prepared));
    if let Some(l) = control {
        let sb = sandbox.clone();
        crate::control::serve(l, move |req, fds| handle_control(&sb, &pod, req, fds))?;
    }
    if let Some(mut r) = ready {
        writeln!(r, "ok").context("reporting to the supervisor")?;
    }
    let status = sandbox.wait_init();
    // Other Sentry threads may still be blocked; the sandbox is over.
    std::process::exit(code_of(status) as i32);
}

fn read_plan(fd: RawFd) -> Result<BootPlan> {
    use std::io::Read;
    let mut f = std::fs::File::from(inherited(fd));
    let mut text = String::new();
    f.read_to_string(&mut text)
        .context("reading the boot plan")?;
    serde_json::from_str(&text).context("the boot plan is not valid")
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
