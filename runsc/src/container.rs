//! The runc-compatible container lifecycle: create, start, run, state,
//! kill, delete, list, ps, events, pause, resume, spec.
//!
//! `create` starts a *supervisor* (this binary, `supervise`), which starts
//! the Gofer and the Sentry, puts them in the container's cgroup, and lives
//! as long as the sandbox. Its pid is the pid file's: Docker (through
//! containerd's shim, a subreaper) waits on it, and its exit status is the
//! container's. The Sentry boots the container up to its first instruction
//! and waits for `start` on the control socket.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

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

/// Where the supervisor finds the pipe on which it reports to `create`.
const SUPERVISOR_READY_FD: RawFd = 3;
/// Where the supervisor finds the host terminal for the container's
/// console (process.terminal).
const SUPERVISOR_CONSOLE_FD: RawFd = 4;
/// Descriptor numbers the Sentry gets from the supervisor.
const BOOT_PLAN_FD: RawFd = 5;
const BOOT_CONTROL_FD: RawFd = 6;
const BOOT_READY_FD: RawFd = 7;
const BOOT_CONSOLE_FD: RawFd = 8;

/// What the supervisor reports to `create`, one JSON line.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Ready {
    error: Option<String>,
    cgroups: Vec<PathBuf>,
}

/// What the supervisor (`supervise`, started by `create`) looks after.
#[derive(Debug)]
pub struct SuperviseOptions {
    pub bundle: PathBuf,
    /// The container's directory under the state root.
    pub state_dir: PathBuf,
    /// The host terminal for the container's console.
    pub console_fd: Option<RawFd>,
}

fn pipe() -> Result<(std::fs::File, std::fs::File)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}

pub fn create(g: &Config, a: &CreateOptions) -> Result<u8> {
    create_inner(g, a)?;
    Ok(0)
}

/// Creates the container; returns it and the supervisor (our child).
fn create_inner(g: &Config, a: &CreateOptions) -> Result<(Container, std::process::Child)> {
    crate::spec::check_id(&a.id)?;
    let plan = crate::spec::load(&a.bundle)?;
    if plan.boot.process.terminal && a.console_socket.is_none() {
        bail!("process.terminal is true but no --console-socket was given");
    }
    if !plan.boot.process.terminal && a.console_socket.is_some() {
        bail!("--console-socket was given but process.terminal is false");
    }
    let root = Root::new(&g.root)?;
    let dir = root.reserve(&a.id)?;
    match start_supervisor(g, a, &plan, &dir) {
        Ok((c, child)) => {
            if let Err(e) = root.save(&c).and_then(|()| {
                if let Some(p) = &a.pid_file {
                    write_pid_file(p, c.pid)?;
                }
                run_hooks("prestart", &plan.hooks.prestart, &c)?;
                run_hooks("createRuntime", &plan.hooks.create_runtime, &c)
            }) {
                destroy(&root, &c);
                return Err(e);
            }
            Ok((c, child))
        }
        Err(e) => {
            let _ = root.remove(&a.id);
            Err(e)
        }
    }
}

pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    // Written whole under another name, then renamed: a reader never sees
    // a partial pid.
    let tmp = path.with_extension("runsc-tmp");
    std::fs::write(&tmp, pid.to_string())
        .with_context(|| format!("cannot write the pid file {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot write the pid file {}", path.display()))
}

fn start_supervisor(
    g: &Config,
    a: &CreateOptions,
    plan: &crate::spec::Plan,
    dir: &Path,
) -> Result<(Container, std::process::Child)> {
    let (ready_r, ready_w) = pipe()?;
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
    let ready_fd = ready_w.as_raw_fd();
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
    drop(ready_w);
    drop(console);
    let mut line = String::new();
    let _ = BufReader::new(ready_r).read_line(&mut line);
    let ready: Ready = if line.is_empty() {
        Ready {
            error: Some("the sandbox supervisor exited during start-up".into()),
            ..Ready::default()
        }
    } else {
        serde_json::from_str(&line).unwrap_or(Ready {
            error: Some(format!("bad report from the sandbox supervisor: {line}")),
            ..Ready::default()
        })
    };
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
        owner: nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.name)
            .unwrap_or_default(),
        annotations: plan.annotations.clone(),
        started: false,
        cgroups: ready.cgroups,
        poststop: plan.hooks.poststop.clone(),
    };
    Ok((c, child))
}

/// The supervisor: runs for the life of the sandbox; exits with its code.
pub fn supervise(g: &Config, a: SuperviseOptions) -> Result<u8> {
    crate::sandbox::set_process_name(crate::sandbox::SUPERVISOR_NAME);
    // SAFETY: the parent put the report pipe on this number for us.
    let mut report = unsafe { std::fs::File::from_raw_fd(SUPERVISOR_READY_FD) };
    let mut cgroups = Vec::new();
    let r = supervise_start(g, &a, &mut cgroups);
    let (launched, ok) = match r {
        Ok(l) => (
            Some(l),
            Ready {
                error: None,
                cgroups,
            },
        ),
        Err(e) => (
            None,
            Ready {
                error: Some(format!("{e:#}")),
                cgroups,
            },
        ),
    };
    let mut line = serde_json::to_vec(&ok)?;
    line.push(b'\n');
    let _ = report.write_all(&line);
    drop(report);
    let Some(l) = launched else { return Ok(1) };
    crate::sandbox::forward_signals_to(l.boot.id() as i32);
    crate::sandbox::wait_sandbox(l)
}

fn supervise_start(
    g: &Config,
    a: &SuperviseOptions,
    cgroups: &mut Vec<PathBuf>,
) -> Result<crate::sandbox::Launched> {
    let plan = crate::spec::load(&a.bundle)?;
    // Before any thread is started: the namespace is the calling thread's,
    // and the Gofer and the Sentry inherit it.
    enter_network_namespace(&plan.netns)?;
    if let Some(p) = &plan.cgroups_path {
        *cgroups = crate::cgroup::setup(
            p,
            g.systemd_cgroup,
            &plan.resources,
            std::process::id() as i32,
        )?;
    }
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
    let mut gofer: Vec<OsString> = vec![{
        let mut s = OsString::from("--root=");
        s.push(&plan.rootfs);
        s
    }];
    if !plan.binds.is_empty() {
        gofer.push(format!("--binds={}", serde_json::to_string(&plan.binds)?).into());
    }
    let l = crate::sandbox::launch(
        g,
        crate::sandbox::LaunchArgs {
            gofer,
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

pub fn start(g: &Config, id: &str) -> Result<u8> {
    let root = Root::new(&g.root)?;
    let mut c = root.load(id)?;
    match c.status() {
        Status::Created => {}
        s => bail!("cannot start container {id:?}: it is {}", s.as_str()),
    }
    crate::control::call(&root.dir(id), &crate::control::Request::Start)?;
    c.started = true;
    root.save(&c)?;
    let hooks = crate::spec::load(&c.bundle)
        .map(|p| p.hooks.poststart)
        .unwrap_or_default();
    // A failing poststart hook is logged, not fatal (runtime spec).
    if let Err(e) = run_hooks("poststart", &hooks, &c) {
        tracing::warn!("{e:#}");
    }
    Ok(0)
}

pub fn run(g: &Config, a: &CreateOptions, detach: bool) -> Result<u8> {
    let (c, mut child) = create_inner(g, a)?;
    let root = Root::new(&g.root)?;
    if let Err(e) = start(g, &c.id) {
        destroy(&root, &c);
        let _ = child.wait();
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    crate::sandbox::forward_signals_to(c.pid);
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    };
    destroy(&root, &c);
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .map(|c| c as u8)
        .unwrap_or_else(|| 128u8.wrapping_add(status.signal().unwrap_or(0) as u8)))
}

pub fn state(g: &Config, id: &str) -> Result<u8> {
    let root = Root::new(&g.root)?;
    let c = root.load(id)?;
    println!("{}", serde_json::to_string_pretty(&c.oci_state())?);
    Ok(0)
}

/// A signal by number or name (`9`, `KILL`, `SIGKILL`, `sigterm`).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        bail!("invalid signal {s:?}");
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let sig: nix::sys::signal::Signal = format!("SIG{name}")
        .parse()
        .map_err(|_| anyhow!("unknown signal {s:?}"))?;
    Ok(sig as i32)
}

pub fn kill(g: &Config, id: &str, signal: Option<&str>, all: bool) -> Result<u8> {
    let sig = parse_signal(signal.unwrap_or("SIGTERM"))?;
    let root = Root::new(&g.root)?;
    let c = root.load(id)?;
    match c.status() {
        Status::Stopped => bail!("container {id:?} is not running"),
        // Not started: there is no process to take the signal; like runc's
        // waiting init, the container dies of it.
        Status::Created => {
            kill_supervisor(&c);
            return Ok(0);
        }
        _ => {}
    }
    if sig == libc::SIGKILL {
        // SIGKILL cannot be caught: the whole sandbox goes, and the
        // container's status is "killed by SIGKILL" (137) as with runc.
        kill_supervisor(&c);
        return Ok(0);
    }
    crate::control::call(
        &root.dir(id),
        &crate::control::Request::Signal { signal: sig, all },
    )?;
    Ok(0)
}

/// SIGKILLs the supervisor (the Gofer and the Sentry die with it: their
/// parent-death signal) if it is still this container's.
fn kill_supervisor(c: &Container) {
    if c.alive() {
        // SAFETY: kill on a pid we verified by start time.
        unsafe { libc::kill(c.pid, libc::SIGKILL) };
    }
}

/// Kills what is left of a container and removes every trace of it.
fn destroy(root: &Root, c: &Container) {
    // The Gofer, the Sentry and its stubs die with the supervisor (parent
    // death signals, PTRACE_O_EXITKILL), each a moment later: wait for all.
    let pids = if c.alive() { host_pids(c) } else { Vec::new() };
    kill_supervisor(c);
    let deadline = Instant::now() + Duration::from_secs(10);
    while (c.alive() || pids.iter().any(|p| running_pid(*p))) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    crate::cgroup::remove(&c.cgroups);
    if let Err(e) = run_hooks("poststop", &c.poststop, c) {
        tracing::warn!("{e:#}");
    }
    let _ = root.remove(&c.id);
}

pub fn delete(g: &Config, id: &str, force: bool) -> Result<u8> {
    let root = Root::new(&g.root)?;
    let c = match root.load(id) {
        Ok(c) => c,
        Err(_) if force && !root.dir(id).join("state.json").exists() => {
            // Nothing to delete (runc's --force is quiet about it), but a
            // directory left half-made by a crashed create goes too.
            let _ = root.remove(id);
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    match c.status() {
        Status::Running | Status::Paused if !force => {
            bail!("cannot delete container {id:?} that is not stopped: it is running")
        }
        _ => {}
    }
    if c.status() == Status::Paused {
        let _ = crate::cgroup::freeze(&c.cgroups, false);
    }
    destroy(&root, &c);
    Ok(0)
}

pub fn list(g: &Config, format: &str, quiet: bool) -> Result<u8> {
    let root = Root::new(&g.root)?;
    let cs: Vec<Container> = root
        .ids()
        .iter()
        .filter_map(|i| root.load(i).ok())
        .collect();
    if quiet {
        for c in &cs {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    match format {
        "json" => {
            let v: Vec<_> = cs.iter().map(|c| c.oci_state()).collect();
            println!("{}", serde_json::to_string(&v)?);
        }
        "table" => {
            println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
            for c in &cs {
                let s = c.status();
                let pid = if s == Status::Stopped { 0 } else { c.pid };
                println!(
                    "{}\t{pid}\t{}\t{}\t{}\t{}",
                    c.id,
                    s.as_str(),
                    c.bundle.display(),
                    c.created,
                    c.owner
                );
            }
        }
        f => bail!("unknown format {f:?}: use table or json"),
    }
    Ok(0)
}

/// Whether host process `pid` exists and is not a zombie.
fn running_pid(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Host processes of the sandbox: the supervisor and everything below it
/// (Gofer, Sentry, the application's stub processes).
fn host_pids(c: &Container) -> Vec<i32> {
    let mut out = vec![c.pid];
    let mut i = 0;
    while i < out.len() {
        let pid = out[i];
        for t in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                kids.split_whitespace()
                    .filter_map(|k| k.parse::<i32>().ok()),
            );
        }
        i += 1;
    }
    out.sort_unstable();
    out.dedup();
    out
}

pub fn ps(g: &Config, id: &str, format: &str) -> Result<u8> {
    let root = Root::new(&g.root)?;
    let c = root.load(id)?;
    if c.status() == Status::Stopped {
        bail!("container {id:?} is not running");
    }
    match format {
        // containerd (and so `docker top`) asks for host pids and looks
        // them up in the host's `ps`: the sandbox's host processes.
        "json" => println!("{}", serde_json::to_string(&host_pids(&c))?),
        "table" => {
            let r = crate::control::call(&root.dir(id), &crate::control::Request::Ps)?;
            println!("PID\tPPID\tUID\tCMD");
            for p in r.processes {
                println!("{}\t{}\t{}\t{}", p.pid, p.ppid, p.uid, p.comm);
            }
        }
        f => bail!("unknown format {f:?}: use table or json"),
    }
    Ok(0)
}

pub fn pause(g: &Config, id: &str, frozen: bool) -> Result<u8> {
    let root = Root::new(&g.root)?;
    let c = root.load(id)?;
    match (c.status(), frozen) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (s, _) => bail!(
            "cannot {} container {id:?}: it is {}",
            if frozen { "pause" } else { "resume" },
            s.as_str()
        ),
    }
    crate::cgroup::freeze(&c.cgroups, frozen)?;
    Ok(0)
}

/// `events --stats`: one JSON stats record (containerd's runc shim reads
/// `data.memory.usage.usage`, `data.pids.current` ...); without --stats, a
/// record every `interval` until the container stops.
pub fn events(g: &Config, id: &str, stats: bool, interval: Duration) -> Result<u8> {
    let root = Root::new(&g.root)?;
    loop {
        let c = root.load(id)?;
        if c.status() == Status::Stopped {
            bail!("container {id:?} is not running");
        }
        let pids = host_pids(&c).len();
        let mem = crate::cgroup::memory_usage(&c.cgroups).unwrap_or(0);
        let ev = serde_json::json!({
            "type": "stats",
            "id": id,
            "data": {
                "memory": {"usage": {"usage": mem}},
                "pids": {"current": pids},
            }
        });
        println!("{ev}");
        if stats {
            return Ok(0);
        }
        std::thread::sleep(interval);
    }
}

/// Runs hooks on the host with the container's state on stdin, as the
/// runtime spec says; a hook that fails or outlives its timeout is an
/// error naming it.
fn run_hooks(stage: &str, hooks: &[crate::spec::Hook], c: &Container) -> Result<()> {
    let state = serde_json::to_vec(&c.oci_state())?;
    for h in hooks {
        let mut cmd = Command::new(&h.path);
        if let Some((first, rest)) = h.args.split_first() {
            use std::os::unix::process::CommandExt;
            cmd.arg0(first).args(rest);
        }
        cmd.env_clear();
        for e in &h.env {
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("{stage} hook {}", h.path.display()))?;
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(&state);
        }
        let deadline = h
            .timeout
            .filter(|t| *t > 0)
            .map(|t| Instant::now() + Duration::from_secs(t as u64));
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{stage} hook {} timed out", h.path.display());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if !status.success() {
            bail!("{stage} hook {} failed: {status}", h.path.display());
        }
    }
    Ok(())
}

/// `spec`: writes a default config.json (runc's defaults: `sh` on a
/// terminal, rootfs in `rootfs`).
pub fn spec(bundle: &Path) -> Result<u8> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} already exists", path.display());
    }
    let mut s = oci_spec::runtime::Spec::default();
    s.set_hostname(Some("runsc-rs".into()));
    s.save(&path)
        .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(0)
}
