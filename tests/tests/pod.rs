//! A Kubernetes pod as one sandbox, through the plain runc command line a
//! CRI runtime drives (`create --bundle --pid-file`, `start`, `state`,
//! `kill`, `exec`, `delete`) with the CRI annotations in config.json: a
//! sandbox container, and containers that name it and start inside its
//! Sentry, each with its own busybox root.
//!
//! * Two containers of the pod meet over 127.0.0.1 (the pod's loopback)
//!   and through a SysV message queue (its IPC namespace); the same pair
//!   under runc, joined to one network and IPC namespace as a CRI runtime
//!   joins them, prints the same.
//! * `exec` into a container sees that container's root; `ps` lists its
//!   processes only.
//! * The pid in `--pid-file` is the container's host proxy: reaped by a
//!   subreaper (as containerd's shim is), it gives the exit status runc's
//!   init would (an exit code, or death by the same signal).
//! * `kill` of one container leaves the rest of the pod running; `delete`
//!   of the sandbox ends them all, and nothing is left: no process, state
//!   directory, mount or cgroup, also after a `create` that failed half-way.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tests::bundle::{text, Bundle};
use tests::console::{drive_shell, Console};
use tests::{require, sandbox};

const RUNC: &str = "/usr/sbin/runc";

/// The annotations containerd's CRI plugin writes.
const TYPE: &str = "io.kubernetes.cri.container-type";
const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";

/// A pod: its sandbox bundle (whose `--root` every container shares) and
/// the sandbox's id.
struct Pod {
    sandbox: Bundle,
    id: String,
}

/// A container made by `create`: its pid file's pid and where its stdio
/// went.
struct Created {
    pid: i32,
    out: PathBuf,
}

impl Created {
    fn output(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

/// Makes this test process a subreaper, as containerd's shim is: a
/// container's proxy, orphaned when `create` exits, becomes our child and
/// its wait status ours to take.
fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(r, 0, "PR_SET_CHILD_SUBREAPER");
}

/// The wait status of our child `pid` (a proxy), once it exits.
fn wait_status(pid: i32) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to status.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(r >= 0, "waitpid {pid}: {}", std::io::Error::last_os_error());
        if r == pid {
            return status;
        }
        assert!(Instant::now() < deadline, "process {pid} never exited");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A shell-style description of a wait status, as a reader of runc's
/// results would put it.
fn describe(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("signal {}", libc::WTERMSIG(status))
    } else {
        format!("status {status:#x}")
    }
}

/// A busybox bundle whose root also holds the static `pod` program and a
/// file /who naming the container, annotated as the pod's sandbox (None)
/// or as a container of sandbox `sandbox`.
fn bundle(name: &str, args: &[&str], sandbox: Option<&str>) -> Result<Bundle, String> {
    let prog = tests::static_c_program("pod")?;
    let b = Bundle::busybox(name, args, |c| {
        c["annotations"] = match sandbox {
            None => json!({TYPE: "sandbox"}),
            Some(s) => json!({TYPE: "container", SANDBOX_ID: s}),
        };
    })?;
    std::fs::copy(&prog, b.dir.join("rootfs/bin/pod")).map_err(|e| e.to_string())?;
    std::fs::write(b.dir.join("rootfs/who"), format!("{name}\n")).map_err(|e| e.to_string())?;
    Ok(b)
}

impl Pod {
    /// Creates and starts the sandbox container (`sleep`, as a pause
    /// container waits).
    fn new(name: &str) -> Result<(Pod, Created), String> {
        let sandbox = bundle(name, &["sleep", "1000"], None)?;
        let id = tests::unique_name("pod");
        let pod = Pod { sandbox, id };
        let dir = pod.sandbox.dir.clone();
        let c = pod.create(&pod.id.clone(), &dir);
        pod.start(&pod.id.clone());
        Ok((pod, c))
    }

    fn runtime(&self, args: &[&str]) -> std::process::Output {
        self.sandbox
            .runtime_cmd(args)
            .stdin(Stdio::null())
            .output()
            .expect("run runsc-rs")
    }

    /// `create --bundle DIR --pid-file F ID`, its stdio (and so the
    /// container's) on files; panics if it fails.
    fn create(&self, id: &str, dir: &Path) -> Created {
        let r = self.try_create(id, dir);
        assert!(r.0.success(), "create {id}: {}", r.2);
        r.1
    }

    fn try_create(&self, id: &str, dir: &Path) -> (std::process::ExitStatus, Created, String) {
        self.try_create_with(id, dir, &[])
    }

    /// [`Pod::try_create`] with more flags for `create` (`--console-socket`).
    fn try_create_with(
        &self,
        id: &str,
        dir: &Path,
        flags: &[&str],
    ) -> (std::process::ExitStatus, Created, String) {
        let out = self.sandbox.dir.join(format!("{id}.out"));
        let pid_file = self.sandbox.dir.join(format!("{id}.pid"));
        let err_path = self.sandbox.dir.join(format!("{id}.err"));
        let status = self
            .sandbox
            .runtime_cmd(
                &[
                    &["create", "--bundle", dir.to_str().unwrap()],
                    flags,
                    &["--pid-file", pid_file.to_str().unwrap(), id],
                ]
                .concat(),
            )
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("run runsc-rs create");
        let pid = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        let err = std::fs::read_to_string(&err_path).unwrap_or_default();
        (status, Created { pid, out }, err)
    }

    fn start(&self, id: &str) {
        let o = self.runtime(&["start", id]);
        assert!(o.status.success(), "start {id}: {:?}", text(&o));
    }

    /// `state ID`'s status and pid.
    fn state(&self, id: &str) -> (String, i64) {
        let o = self.runtime(&["state", id]);
        assert!(o.status.success(), "state {id}: {:?}", text(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("state JSON");
        (
            v["status"].as_str().unwrap_or_default().to_string(),
            v["pid"].as_i64().unwrap_or(-1),
        )
    }

    /// `exec ID ARGS...`: its stdout, after checking it succeeded.
    fn exec(&self, id: &str, args: &[&str]) -> String {
        let mut a = vec!["exec", id];
        a.extend_from_slice(args);
        let o = self.runtime(&a);
        assert!(o.status.success(), "exec {id} {args:?}: {:?}", text(&o));
        text(&o).0
    }

    /// Host processes, mounts and state left of the pod.
    fn leftovers(&self) -> Vec<String> {
        let mut left = self.sandbox.leftover_processes();
        left.extend(self.sandbox.leftover_state());
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let dir = self.sandbox.dir.to_string_lossy().into_owned();
        left.extend(
            mounts
                .lines()
                .filter(|l| l.contains(&dir))
                .map(str::to_string),
        );
        left
    }
}

#[test]
fn containers_of_a_pod_share_loopback_and_ipc_and_keep_their_own_roots() {
    require!(sandbox());
    become_subreaper();
    let (pod, sandbox_proc) = require!(Pod::new("pause"));
    let server = require!(bundle(
        "server",
        &["/bin/pod", "serve", "7070", "hello from the server"],
        Some(&pod.id)
    ));
    let client = require!(bundle(
        "client",
        &["/bin/pod", "connect", "7070"],
        Some(&pod.id)
    ));
    let (s_id, c_id) = (format!("{}-server", pod.id), format!("{}-client", pod.id));
    let s = pod.create(&s_id, &server.dir);
    assert_eq!(pod.state(&s_id), ("created".to_string(), s.pid as i64));
    let c = pod.create(&c_id, &client.dir);
    pod.start(&s_id);
    pod.start(&c_id);
    assert_eq!(describe(wait_status(c.pid)), "exit 0", "{}", c.output());
    assert_eq!(describe(wait_status(s.pid)), "exit 0", "{}", s.output());
    assert_eq!(c.output(), "client got: hello from the server\n");
    assert_eq!(s.output(), "server got: hello\n");
    // The pod's IPC namespace: one container fills a queue, a later one
    // drains it.
    let putter = require!(bundle(
        "putter",
        &["/bin/pod", "msgput", "77", "queued"],
        Some(&pod.id)
    ));
    let taker = require!(bundle(
        "taker",
        &["/bin/pod", "msgget", "77"],
        Some(&pod.id)
    ));
    let mut ipc = Vec::new();
    for (name, b) in [("putter", &putter), ("taker", &taker)] {
        let id = format!("{}-{name}", pod.id);
        let c = pod.create(&id, &b.dir);
        pod.start(&id);
        assert_eq!(describe(wait_status(c.pid)), "exit 0", "{}", c.output());
        ipc.push(c.output());
        let o = pod.runtime(&["delete", &id]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    assert_eq!(ipc, ["put: queued\n", "took: queued\n"]);
    match runc_pod(
        &[
            &["/bin/pod", "serve", "7070", "hello from the server"],
            &["/bin/pod", "connect", "7070"],
        ],
        false,
    ) {
        Some(runc) => assert_eq!(runc, [s.output(), c.output()], "runc vs runsc-rs"),
        None => eprintln!("SKIPPED (the runc comparison): runc not installed"),
    }
    if let Some(runc) = runc_pod(
        &[
            &["/bin/pod", "msgput", "77", "queued"],
            &["/bin/pod", "msgget", "77"],
        ],
        true,
    ) {
        assert_eq!(runc, ipc, "runc vs runsc-rs");
    }
    assert_eq!(pod.state(&c_id).0, "stopped");
    // The sandbox's own container runs on.
    assert_eq!(pod.state(&pod.id).0, "running");

    // Two long-running containers: exec sees each one's root, IPC is the
    // pod's, ps and kill reach one container only.
    let a = require!(bundle("first", &["sleep", "1000"], Some(&pod.id)));
    let b = require!(bundle("second", &["sleep", "1001"], Some(&pod.id)));
    // b has a cgroup: its proxy is in it, and it goes with the pod.
    let cgroup = format!("runsc-rs-tests/{}", tests::unique_name("pod-cg"));
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
    cfg["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
    b.write_config(&cfg.to_string());
    let (a_id, b_id) = (format!("{}-a", pod.id), format!("{}-b", pod.id));
    let ca = pod.create(&a_id, &a.dir);
    let cb = pod.create(&b_id, &b.dir);
    pod.start(&a_id);
    pod.start(&b_id);
    let holding = cgroup_dirs(&cgroup)
        .iter()
        .filter(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .any(|l| l == cb.pid.to_string())
        })
        .count();
    assert!(
        holding > 0,
        "b's proxy is in none of {:?}",
        cgroup_dirs(&cgroup)
    );
    assert_eq!(pod.exec(&a_id, &["cat", "/who"]), "first\n");
    assert_eq!(pod.exec(&b_id, &["cat", "/who"]), "second\n");
    assert_eq!(pod.exec(&pod.id, &["cat", "/who"]), "pause\n");
    assert_eq!(
        pod.exec(&a_id, &["/bin/pod", "msgput", "4242", "shared"]),
        "put: shared\n"
    );
    assert_eq!(
        pod.exec(&b_id, &["/bin/pod", "msgget", "4242"]),
        "took: shared\n"
    );
    let ps = text(&pod.runtime(&["ps", &b_id])).0;
    assert!(ps.contains("sleep"), "{ps}");
    assert_eq!(ps.lines().count(), 2, "b's init only: {ps}");
    // TERM to an init without a handler is ignored, as runc's init (PID 1
    // of its namespace) ignores it; KILL kills it, as under runc, and b
    // lives on.
    let o = pod.runtime(&["kill", &a_id, "TERM"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(pod.state(&a_id).0, "running");
    let o = pod.runtime(&["kill", &a_id, "KILL"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(describe(wait_status(ca.pid)), "signal 9");
    assert_eq!(pod.state(&a_id).0, "stopped");
    assert_eq!(pod.state(&b_id).0, "running");
    assert_eq!(pod.exec(&b_id, &["cat", "/who"]), "second\n");
    for id in [&s_id, &c_id, &a_id] {
        let o = pod.runtime(&["delete", id]);
        assert!(o.status.success(), "delete {id}: {:?}", text(&o));
    }
    // Deleting the sandbox ends the pod: b's proxy exits (killed, as its
    // processes were) and every state directory goes.
    let o = pod.runtime(&["delete", "--force", &pod.id]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(describe(wait_status(cb.pid)), "signal 9");
    wait_status(sandbox_proc.pid);
    assert_eq!(pod.leftovers(), Vec::<String>::new());
    assert_eq!(cgroup_dirs(&cgroup), Vec::<PathBuf>::new());
}

/// The directories of cgroup `rel` in every hierarchy mounted under
/// /sys/fs/cgroup (v2, or v1's controllers and the unified one).
fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let top = Path::new("/sys/fs/cgroup");
    let mut v: Vec<PathBuf> = std::iter::once(top.join(rel))
        .chain(
            std::fs::read_dir(top)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path().join(rel)),
        )
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn exit_codes_reach_the_pid_file_process_as_runc_gives_them() {
    require!(sandbox());
    become_subreaper();
    let (pod, sandbox_proc) = require!(Pod::new("pause-exit"));
    let scripts = [("three", "exit 3"), ("ok", "echo fine")];
    let mut seen = Vec::new();
    for (name, script) in scripts {
        let b = require!(bundle(name, &["sh", "-c", script], Some(&pod.id)));
        let id = format!("{}-{name}", pod.id);
        let c = pod.create(&id, &b.dir);
        pod.start(&id);
        seen.push((name, describe(wait_status(c.pid))));
        let o = pod.runtime(&["delete", &id]);
        assert!(o.status.success(), "{:?}", text(&o));
    }
    // A container's init that handles the signal `kill` sends.
    let b = require!(bundle(
        "trapper",
        &[
            "sh",
            "-c",
            "trap 'exit 7' TERM; while true; do sleep 1; done"
        ],
        Some(&pod.id)
    ));
    let id = format!("{}-trapper", pod.id);
    let c = pod.create(&id, &b.dir);
    pod.start(&id);
    // Until the shell has set its trap, TERM is ignored (init of its
    // namespace without a handler): send it until the container exits.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        // It may fail once the container has ended, before the proxy
        // (reaped below) has.
        let _ = pod.runtime(&["kill", &id, "TERM"]);
        let mut status = 0;
        // SAFETY: waitpid writes only to status.
        let r = unsafe { libc::waitpid(c.pid, &mut status, libc::WNOHANG) };
        if r == c.pid {
            break status;
        }
        assert!(Instant::now() < deadline, "the trapper never exited");
        std::thread::sleep(Duration::from_millis(200));
    };
    seen.push(("trapper", describe(status)));
    let o = pod.runtime(&["delete", &id]);
    assert!(o.status.success(), "{:?}", text(&o));
    if let Some(runc) = runc_statuses(&scripts) {
        assert_eq!(seen[..2], runc[..], "runsc-rs vs runc");
    }
    assert_eq!(
        seen,
        vec![
            ("three", "exit 3".to_string()),
            ("ok", "exit 0".to_string()),
            ("trapper", "exit 7".to_string())
        ]
    );
    let o = pod.runtime(&["delete", "--force", &pod.id]);
    assert!(o.status.success(), "{:?}", text(&o));
    wait_status(sandbox_proc.pid);
    assert_eq!(pod.leftovers(), Vec::<String>::new());
}

/// The wait statuses runc's init gives for the same scripts (None: no
/// runc here).
fn runc_statuses(scripts: &[(&'static str, &str)]) -> Option<Vec<(&'static str, String)>> {
    if tests::host_program(RUNC, "runc").is_err() {
        eprintln!("SKIPPED (the runc comparison): runc not installed");
        return None;
    }
    let mut out = Vec::new();
    for (name, script) in scripts {
        let b = Bundle::busybox(name, &["sh", "-c", script], |_| {}).ok()?;
        let id = tests::unique_name("runc");
        let o = Command::new(RUNC)
            .arg("--root")
            .arg(&b.state)
            .args(["run", "--bundle"])
            .arg(&b.dir)
            .arg(&id)
            .stdin(Stdio::null())
            .output()
            .expect("run runc");
        // runc run exits as its container did (128+N for signal N).
        let code = o.status.code().unwrap_or(-1);
        out.push((
            *name,
            if code > 128 {
                format!("signal {}", code - 128)
            } else {
                format!("exit {code}")
            },
        ));
        let _ = Command::new(RUNC)
            .arg("--root")
            .arg(&b.state)
            .args(["delete", "--force", &id])
            .output();
    }
    Some(out)
}

#[test]
fn a_failed_create_in_a_pod_leaves_nothing_and_the_pod_runs_on() {
    require!(sandbox());
    become_subreaper();
    let (pod, sandbox_proc) = require!(Pod::new("pause-fail"));
    // A program its root lacks: the Sentry refuses it at create.
    let b = require!(bundle("missing", &["/bin/nothing-here"], Some(&pod.id)));
    let id = format!("{}-missing", pod.id);
    let (st, _, err) = pod.try_create(&id, &b.dir);
    assert!(!st.success());
    assert!(err.contains("nothing-here"), "{err}");
    // A sandbox id that names no container.
    let lost = require!(bundle("lost", &["true"], Some("no-such-pod")));
    let (st, _, err) = pod.try_create(&format!("{}-lost", pod.id), &lost.dir);
    assert!(!st.success());
    assert!(err.contains("no-such-pod"), "{err}");
    assert_eq!(pod.sandbox.leftover_state(), vec![pod.id.clone()]);
    assert_eq!(pod.state(&pod.id).0, "running");
    let o = pod.runtime(&["delete", "--force", &pod.id]);
    assert!(o.status.success(), "{:?}", text(&o));
    wait_status(sandbox_proc.pid);
    assert_eq!(pod.leftovers(), Vec::<String>::new());
}

/// A pod under runc, as a CRI runtime makes it there: a pause container
/// with new network and IPC namespaces, and each container joined to
/// them by path. Everything is deleted on drop.
struct RuncPod {
    root: PathBuf,
    pause_id: String,
    /// Pause namespaces' holder.
    pid: i64,
    made: Vec<(String, Bundle)>,
    _pause: Bundle,
}

impl RuncPod {
    /// None: no runc here.
    fn new() -> Option<RuncPod> {
        tests::host_program(RUNC, "runc").ok()?;
        let pause = bundle("runc-pause", &["sleep", "1000"], None).ok()?;
        let root = pause.state.with_extension("runc");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(pause.dir.join("config.json")).ok()?).ok()?;
        cfg["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "network"}));
        pause.write_config(&cfg.to_string());
        let mut pod = RuncPod {
            root,
            pause_id: tests::unique_name("runc-pause"),
            pid: 0,
            made: Vec::new(),
            _pause: pause,
        };
        let st = pod
            .runc()
            .args(["run", "--detach", "--bundle"])
            .arg(&pod._pause.dir)
            .arg(&pod.pause_id)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("runc run");
        assert!(st.success(), "runc run of the pause container");
        pod.pid = pod.state(&pod.pause_id)["pid"].as_i64().expect("pause pid");
        Some(pod)
    }

    fn runc(&self) -> Command {
        let mut c = Command::new(RUNC);
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        c
    }

    fn state(&self, id: &str) -> serde_json::Value {
        let o = self
            .runc()
            .args(["state", id])
            .output()
            .expect("runc state");
        serde_json::from_slice(&o.stdout).unwrap_or_default()
    }

    fn wait_stopped(&self, id: &str) {
        wait_until(&format!("runc container {id} stopped"), || {
            self.state(id)["status"] == "stopped"
        });
    }

    /// Runs a container of the pod (`args`) detached; gives its id and
    /// the file its stdout goes to.
    fn run(&mut self, name: &str, args: &[&str]) -> (String, PathBuf) {
        let b = bundle(&format!("runc-{name}"), args, None).expect("runc bundle");
        let mut cfg: serde_json::Value =
            serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
        let ns = cfg["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces");
        ns.retain(|n| n["type"] != "ipc");
        let pid = self.pid;
        ns.push(json!({"type": "network", "path": format!("/proc/{pid}/ns/net")}));
        ns.push(json!({"type": "ipc", "path": format!("/proc/{pid}/ns/ipc")}));
        b.write_config(&cfg.to_string());
        let id = tests::unique_name("runc-member");
        let out = b.dir.join("out");
        let st = self
            .runc()
            .args(["run", "--detach", "--bundle"])
            .arg(&b.dir)
            .arg(&id)
            .stdout(std::fs::File::create(&out).expect("output file"))
            .stderr(Stdio::null())
            .status()
            .expect("runc run");
        assert!(st.success(), "runc run {args:?}");
        self.made.push((id.clone(), b));
        (id, out)
    }
}

impl Drop for RuncPod {
    fn drop(&mut self) {
        for (id, _) in &self.made {
            let _ = self.runc().args(["delete", "--force", id]).output();
        }
        let _ = self
            .runc()
            .args(["delete", "--force", &self.pause_id])
            .output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// Waits (up to a minute, then fails) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The outputs of containers running `commands` under runc, in one pod
/// (see [`RuncPod`]). All start at once, or with `sequential` each after
/// the last has ended. None: no runc here.
fn runc_pod(commands: &[&[&str]], sequential: bool) -> Option<Vec<String>> {
    let mut pod = RuncPod::new()?;
    let mut made = Vec::new();
    for (i, args) in commands.iter().enumerate() {
        let (id, out) = pod.run(&i.to_string(), args);
        if sequential {
            pod.wait_stopped(&id);
        }
        made.push((id, out));
    }
    let mut outputs = Vec::new();
    for (id, out) in &made {
        pod.wait_stopped(id);
        outputs.push(std::fs::read_to_string(out).unwrap_or_default());
    }
    Some(outputs)
}

/// A container that prints a count every 50 ms, and on SIGTERM says so
/// and exits 7.
const TICKER: &[&str] = &[
    "sh",
    "-c",
    "trap 'echo got TERM; exit 7' TERM; i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done",
];

/// A pod's side of the pause story, under either runtime.
trait PodRuntime {
    /// Creates and starts a container of the pod running `args`; gives
    /// its id and the file its stdout goes to.
    fn run(&mut self, name: &str, args: &[&str]) -> (String, PathBuf);
    /// The runtime's command line, `--root` given.
    fn cmd(&self, args: &[&str]) -> std::process::Output;
    /// `state ID`'s status.
    fn status(&self, id: &str) -> String;
}

impl PodRuntime for RuncPod {
    fn run(&mut self, name: &str, args: &[&str]) -> (String, PathBuf) {
        RuncPod::run(self, name, args)
    }
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        self.runc().args(args).output().expect("run runc")
    }
    fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A runsc-rs pod with the containers it has run (their bundles live as
/// long as it does).
struct RunscPod<'a> {
    pod: &'a Pod,
    made: Vec<(String, Bundle, Created)>,
}

impl PodRuntime for RunscPod<'_> {
    fn run(&mut self, name: &str, args: &[&str]) -> (String, PathBuf) {
        let b = bundle(name, args, Some(&self.pod.id)).expect("bundle");
        let id = format!("{}-{name}", self.pod.id);
        let c = self.pod.create(&id, &b.dir);
        self.pod.start(&id);
        let out = c.out.clone();
        self.made.push((id.clone(), b, c));
        (id, out)
    }
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        self.pod.runtime(args)
    }
    fn status(&self, id: &str) -> String {
        self.pod.state(id).0
    }
}

fn lines(out: &Path) -> usize {
    std::fs::read_to_string(out)
        .unwrap_or_default()
        .lines()
        .count()
}

/// Waits until the container writing `out` has printed `n` lines.
fn wait_lines(out: &Path, n: usize) {
    wait_until(&format!("{n} lines in {}", out.display()), || {
        lines(out) >= n
    });
}

fn must(o: std::process::Output, what: &str) {
    assert!(o.status.success(), "{what}: {:?}", text(&o));
}

/// Pauses and resumes one container of a pod beside a running one, sends
/// a paused container TERM (taken at the resume) and KILL (which kills
/// it paused); gives what `state` and the outputs show at each step.
fn pause_story(rt: &mut dyn PodRuntime) -> Vec<String> {
    let mut seen = Vec::new();
    let (a, a_out) = rt.run("a", TICKER);
    let (b, b_out) = rt.run("b", TICKER);
    wait_lines(&a_out, 3);
    wait_lines(&b_out, 3);
    must(rt.cmd(&["pause", &a]), "pause a");
    seen.push(format!(
        "paused a: a {}, b {}",
        rt.status(&a),
        rt.status(&b)
    ));
    let n = lines(&a_out);
    wait_lines(&b_out, lines(&b_out) + 20);
    seen.push(format!(
        "a printed {} lines while b printed 20",
        lines(&a_out) - n
    ));
    let e = rt.cmd(&["exec", &a, "true"]);
    seen.push(format!(
        "exec into paused a succeeds: {}",
        e.status.success()
    ));
    must(rt.cmd(&["resume", &a]), "resume a");
    seen.push(format!("resumed a: a {}", rt.status(&a)));
    // It counts on from where it stopped.
    wait_lines(&a_out, n + 5);
    let counted: Vec<usize> = std::fs::read_to_string(&a_out)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    seen.push(format!(
        "a's count has no gap: {}",
        counted.iter().enumerate().all(|(i, c)| *c == i + 1)
    ));
    // TERM waits for the resume.
    must(rt.cmd(&["pause", &a]), "pause a again");
    must(rt.cmd(&["kill", &a, "TERM"]), "kill a TERM");
    let n = lines(&a_out);
    wait_lines(&b_out, lines(&b_out) + 20);
    seen.push(format!(
        "TERM to paused a: a {}, {} lines since",
        rt.status(&a),
        lines(&a_out) - n
    ));
    must(rt.cmd(&["resume", &a]), "resume a again");
    wait_until("a stopped", || rt.status(&a) == "stopped");
    let out = std::fs::read_to_string(&a_out).unwrap_or_default();
    seen.push(format!("a's last line: {:?}", out.lines().last()));
    // KILL kills a paused container.
    must(rt.cmd(&["pause", &b]), "pause b");
    must(rt.cmd(&["kill", &b, "KILL"]), "kill b KILL");
    wait_until("b stopped", || rt.status(&b) == "stopped");
    seen.push(format!("KILL to paused b: b {}", rt.status(&b)));
    let e = rt.cmd(&["resume", &b]);
    seen.push(format!(
        "resume of killed b succeeds: {}",
        e.status.success()
    ));
    seen
}

#[test]
fn pausing_one_container_of_a_pod_stops_it_alone_as_under_runc() {
    require!(sandbox());
    become_subreaper();
    let (pod, sandbox_proc) = require!(Pod::new("pause-one"));
    let mut rt = RunscPod {
        pod: &pod,
        made: Vec::new(),
    };
    let seen = pause_story(&mut rt);
    assert_eq!(
        seen,
        [
            "paused a: a paused, b running",
            "a printed 0 lines while b printed 20",
            "exec into paused a succeeds: false",
            "resumed a: a running",
            "a's count has no gap: true",
            "TERM to paused a: a paused, 0 lines since",
            "a's last line: Some(\"got TERM\")",
            "KILL to paused b: b stopped",
            "resume of killed b succeeds: false",
        ]
    );
    let statuses: Vec<String> = rt
        .made
        .iter()
        .map(|(_, _, c)| describe(wait_status(c.pid)))
        .collect();
    assert_eq!(statuses, ["exit 7", "signal 9"]);
    assert_eq!(pod.state(&pod.id).0, "running");
    match RuncPod::new() {
        Some(mut runc) => assert_eq!(pause_story(&mut runc), seen, "runc vs runsc-rs"),
        None => eprintln!("SKIPPED (the runc comparison): runc not installed"),
    }
    // Deleting the pod while one of its containers is paused ends it all.
    let (c, _) = rt.run("c", TICKER);
    must(pod.runtime(&["pause", &c]), "pause c");
    let o = pod.runtime(&["delete", "--force", &pod.id]);
    assert!(o.status.success(), "{:?}", text(&o));
    let (_, _, cc) = rt.made.last().expect("c");
    assert_eq!(describe(wait_status(cc.pid)), "signal 9");
    wait_status(sandbox_proc.pid);
    assert_eq!(pod.leftovers(), Vec::<String>::new());
}

#[test]
fn a_container_of_a_pod_with_a_terminal_gets_its_own_and_so_does_exec_tty() {
    require!(sandbox());
    become_subreaper();
    let (pod, sandbox_proc) = require!(Pod::new("pause-tty"));
    let b = require!(bundle("tty", &["sh"], Some(&pod.id)));
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
    cfg["process"]["terminal"] = json!(true);
    b.write_config(&cfg.to_string());
    let sock = pod.sandbox.dir.join("console.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let s = sock.to_str().unwrap();
    let id = format!("{}-tty", pod.id);
    // As containerd's shim: create, take the console, start.
    let (st, c, err) = pod.try_create_with(&id, &b.dir, &["--console-socket", s]);
    assert!(st.success(), "{err}");
    let mut con = Console::accept(&l);
    pod.start(&id);
    drive_shell(&mut con);
    // The container's own root behind its terminal.
    con.send(b"cat /who\n");
    con.expect("\r\ntty\r\n");

    // exec --tty into the container: a terminal of its own.
    let mut e = pod
        .sandbox
        .runtime_cmd(&["exec", "--tty", "--console-socket", s, &id, "sh"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut ec = Console::accept(&l);
    drive_shell(&mut ec);
    ec.send(b"cat /who; echo $((3+4))\n");
    ec.expect("\r\ntty\r\n7\r\n");
    ec.send(b"exit 6\n");
    assert_eq!(e.wait().unwrap().code(), Some(6));

    // The sandbox's own container runs on; the terminal's exit is the
    // container's.
    assert_eq!(pod.state(&pod.id).0, "running");
    con.send(b"exit 5\n");
    assert_eq!(describe(wait_status(c.pid)), "exit 5");
    assert_eq!(pod.state(&id).0, "stopped");
    must(pod.runtime(&["delete", &id]), "delete the tty container");
    must(
        pod.runtime(&["delete", "--force", &pod.id]),
        "delete the pod",
    );
    wait_status(sandbox_proc.pid);
    assert_eq!(pod.leftovers(), Vec::<String>::new());
}

/// Pausing the sandbox container freezes the whole Sentry through its
/// cgroup, so every container of the pod stops; its resume thaws them.
#[test]
fn pausing_the_sandbox_container_pauses_the_whole_pod() {
    require!(sandbox());
    become_subreaper();
    // A cgroup for the sandbox: its freezer is what pauses it.
    let cgroup = format!("runsc-rs-tests/{}", tests::unique_name("pod-all-cg"));
    let sandbox = require!(bundle("pause-all", &["sleep", "1000"], None));
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sandbox.dir.join("config.json")).unwrap()).unwrap();
    cfg["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"));
    sandbox.write_config(&cfg.to_string());
    let pod = Pod {
        sandbox,
        id: tests::unique_name("pod"),
    };
    let dir = pod.sandbox.dir.clone();
    let sandbox_proc = pod.create(&pod.id, &dir);
    pod.start(&pod.id);
    let mut rt = RunscPod {
        pod: &pod,
        made: Vec::new(),
    };
    let (a, a_out) = rt.run("a", TICKER);
    wait_lines(&a_out, 3);
    must(pod.runtime(&["pause", &pod.id]), "pause the sandbox");
    assert_eq!(
        (pod.state(&pod.id).0, pod.state(&a).0),
        ("paused".to_string(), "paused".to_string())
    );
    let n = lines(&a_out);
    // Its Sentry is frozen: the container is resumed with the sandbox
    // only. (A wait for output that must not come.)
    let o = pod.runtime(&["resume", &a]);
    assert!(!o.status.success(), "{:?}", text(&o));
    assert!(text(&o).1.contains("resume that"), "{:?}", text(&o));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        lines(&a_out),
        n,
        "the container printed while its pod was paused"
    );
    must(pod.runtime(&["resume", &pod.id]), "resume the sandbox");
    assert_eq!(
        (pod.state(&pod.id).0, pod.state(&a).0),
        ("running".to_string(), "running".to_string())
    );
    wait_lines(&a_out, n + 5);
    must(
        pod.runtime(&["delete", "--force", &pod.id]),
        "delete the pod",
    );
    let (_, _, ca) = rt.made.last().expect("a");
    assert_eq!(describe(wait_status(ca.pid)), "signal 9");
    wait_status(sandbox_proc.pid);
    assert_eq!(pod.leftovers(), Vec::<String>::new());
    assert_eq!(cgroup_dirs(&cgroup), Vec::<PathBuf>::new());
}
