//! A Docker daemon of the tests' own, with runsc-rs registered as a runtime,
//! and a busybox image.
//!
//! [`docker`] starts Debian's dockerd (docker.io) once per test binary with
//! `--iptables=false --ip-masq=false`, in a network namespace of its own
//! (`unshare --net`): Docker's default bridge, the veths of containers on
//! it, user-defined networks, `-p`'s proxies and `--network=host` all live
//! there, and nothing of the host's network is touched. Its data root, exec
//! root, pid file and socket under `target/tmp/runsc-rs-tests/docker/`, and a
//! daemon.json written by `runsc-rs install` itself: runtime `runsc-rs`
//! (no flags), `runsc-rs-debug` (`--strace --debug-log=DIR/`) and
//! `runsc-rs-overlay-none` (`--overlay=none`). Docker's
//! own `runc` stays available as the native reference.
//!
//! A test binary's statics are never dropped, so each daemon runs under a
//! small shell watchdog that reads a pipe from the test process: when the
//! test process exits (or dies), the pipe closes and the watchdog stops the
//! daemon (SIGTERM, then SIGKILL), kills whatever is left whose command line
//! names the daemon's directory, or whose environment carries its marker
//! (shims, sandboxes, and a Sentry that outlived its supervisor), unmounts
//! what is mounted under it and removes it (but its logs). The next start
//! does the same first, in case a watchdog itself was killed.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::{Cmd, Output};

/// The client: Debian's docker.io (not /usr/local/bin/docker, a newer one).
pub const CLIENT: &str = "/usr/bin/docker";
pub const DOCKERD: &str = "/usr/sbin/dockerd";
pub const CONTAINERD: &str = "/usr/bin/containerd";
pub const CTR: &str = "/usr/bin/ctr";
/// util-linux's unshare, which puts the daemon in a network namespace of
/// its own.
pub const UNSHARE: &str = "/usr/bin/unshare";
/// iproute2's ip, which brings up the loopback of that namespace (`-p`'s
/// proxies listen on 127.0.0.1 there).
pub const IP: &str = "/bin/ip";
/// The image every test runs.
pub const IMAGE: &str = "runsc-rs-test-busybox:latest";
/// runsc-rs without flags.
pub const OURS: &str = "runsc-rs";
/// runsc-rs with `--strace --debug-log=DEBUG_DIR/`.
pub const OURS_DEBUG: &str = "runsc-rs-debug";
/// runsc-rs with `--overlay=none`: root writes go to the container's layer.
pub const OURS_NO_OVERLAY: &str = "runsc-rs-overlay-none";
/// runsc-rs with `--network=host`: the application's inet sockets are host
/// sockets (in the container's namespace).
pub const OURS_HOSTINET: &str = "runsc-rs-hostinet";
/// runsc-rs with `--platform=kvm`.
pub const OURS_KVM: &str = "runsc-rs-kvm";
/// Docker's runc, the reference.
pub const RUNC: &str = "runc";

/// The shared daemon.
pub struct Docker {
    /// Everything of this daemon lives here.
    pub base: PathBuf,
    pub sock: PathBuf,
    pub exec_root: PathBuf,
    /// `--debug-log` of the `runsc-rs-debug` runtime.
    pub debug_dir: PathBuf,
    /// The image as a root filesystem tarball (for `docker import`).
    pub rootfs_tar: PathBuf,
    /// The runsc-rs binary the runtimes point at.
    pub bin: PathBuf,
}

/// Set to the daemon's directory in the environment of the daemon and so
/// of everything it starts (containerd, shims, runsc-rs and its Sentry,
/// whose command lines do not name the directory): the cleanup kills
/// every process that carries it.
pub const MARKER: &str = "RUNSC_RS_TEST_DAEMON";

/// Pipes to the watchdogs; never closed while the test process lives.
static WATCHDOGS: Mutex<Vec<ChildStdin>> = Mutex::new(Vec::new());

/// The watchdog: `sh -c WATCHDOG sh BASE LOG CMD...`.
const WATCHDOG: &str = r#"
base=$1; log=$2; shift 2
"$@" >>"$log" 2>&1 </dev/null &
pid=$!
read -r _ || :
kill -TERM "$pid" 2>/dev/null
i=0
while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 200 ]; do sleep 0.1; i=$((i+1)); done
kill -KILL "$pid" 2>/dev/null
for p in /proc/[0-9]*; do
	n=${p#/proc/}
	[ "$n" = "$$" ] && continue
	if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$base/" ||
		tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF -- "RUNSC_RS_TEST_DAEMON=$base"; then
		kill -KILL "$n" 2>/dev/null
	fi
done
sleep 0.2
awk '{print $2}' /proc/self/mounts | grep -F -- "$base/" | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
find "$base" -mindepth 1 -maxdepth 1 ! -name '*.log' ! -name debug -exec rm -rf {} +
"#;

/// Starts `argv` under a watchdog that stops it, and cleans `base` (all but its logs), when
/// this test process ends. Output goes to `log`.
pub fn spawn_watched(base: &Path, log: &Path, argv: &[String]) -> std::io::Result<()> {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(WATCHDOG)
        .arg("sh")
        .arg(base)
        .arg(log)
        .args(argv)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env(MARKER, base)
        .process_group(0);
    let mut child = c.spawn()?;
    let pipe = child.stdin.take().expect("piped stdin");
    WATCHDOGS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(pipe);
    // The watchdog is reaped by nobody until we exit; it is tiny.
    std::mem::forget(child);
    Ok(())
}

/// Kills processes whose command line names `base`, unmounts everything
/// under it and removes it: what a previous run may have left.
pub fn clean_stale(base: &Path) {
    let needle = format!("{}/", base.display());
    let me = std::process::id().to_string();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == me || !name.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
            let marker = format!("{MARKER}={}", base.display());
            let marked = env.split(|b| *b == 0).any(|v| v == marker.as_bytes());
            {
                if marked
                    || String::from_utf8_lossy(&cmd)
                        .replace('\0', " ")
                        .contains(&needle)
                {
                    if let Ok(pid) = name.parse::<i32>() {
                        // SAFETY: signalling a leftover of an earlier run.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|m| m.starts_with(&needle))
        .collect();
    points.sort();
    for m in points.iter().rev() {
        if let Ok(c) = std::ffi::CString::new(*m) {
            // SAFETY: a valid C string; detaching a leftover mount.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let _ = std::fs::remove_dir_all(base);
}

/// Waits until `ready` holds, up to `limit`.
pub fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if ready() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ready()
}

/// The shared daemon with the image imported, started on first use; Err
/// (skip, or failure in CI) when something it needs is missing. A daemon
/// that fails to start is a failure.
pub fn docker() -> Result<&'static Docker, String> {
    // get_or_init runs `start` once; other threads wait for its result.
    static D: OnceLock<Result<Docker, String>> = OnceLock::new();
    D.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn requirements() -> Result<PathBuf, String> {
    crate::sandbox()?;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Err("the Docker tests need root (dockerd, cgroups, mounts)".into());
    }
    crate::host_program(DOCKERD, "docker.io")?;
    crate::host_program(CLIENT, "docker.io")?;
    crate::host_program(UNSHARE, "util-linux")?;
    crate::host_program(IP, "iproute2")?;
    crate::static_host_program("/bin/busybox", "busybox-static")
}

fn start() -> Result<Docker, String> {
    let busybox = requirements()?;
    let bin = crate::runsc_bin()
        .canonicalize()
        .map_err(|e| format!("runsc-rs binary: {e}"))?;
    let base = crate::scratch_dir().join("docker");
    clean_stale(&base);
    let mk = |p: &Path| {
        std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()))
    };
    let data = base.join("data");
    let exec_root = base.join("exec");
    let debug_dir = base.join("debug");
    let client = base.join("client");
    for d in [&data, &exec_root, &debug_dir, &client] {
        mk(d);
    }
    // daemon.json: an existing key, then the runtimes added by `install`.
    let config = base.join("daemon.json");
    std::fs::write(&config, "{\"log-level\": \"warn\"}\n").expect("write daemon.json");
    let install = |args: &[&str]| {
        let mut argv = vec![bin.to_string_lossy().into_owned(), "install".into()];
        argv.push(format!("--config-file={}", config.display()));
        argv.extend(args.iter().map(|s| s.to_string()));
        let o = Cmd::new(&argv).run_native();
        assert_eq!(o.status, 0, "runsc-rs install failed\n{}", o.describe());
    };
    install(&[]);
    let debug_flag = format!("--debug-log={}/", debug_dir.display());
    install(&["--runtime", OURS_DEBUG, "--", "--strace", &debug_flag]);
    install(&["--runtime", OURS_NO_OVERLAY, "--", "--overlay=none"]);
    install(&["--runtime", OURS_HOSTINET, "--", "--network=host"]);
    install(&["--runtime", OURS_KVM, "--", "--platform=kvm"]);

    let sock = base.join("docker.sock");
    let argv: Vec<String> = vec![
        // unshare execs dockerd in the same process: the watchdog's pid is
        // the daemon's.
        UNSHARE.into(),
        "--net".into(),
        "--".into(),
        DOCKERD.into(),
        format!("--config-file={}", config.display()),
        format!("--data-root={}", data.display()),
        format!("--exec-root={}", exec_root.display()),
        format!("--pidfile={}", base.join("docker.pid").display()),
        format!("-H=unix://{}", sock.display()),
        "--iptables=false".into(),
        "--ip-masq=false".into(),
    ];
    let log = base.join("dockerd.log");
    spawn_watched(&base, &log, &argv).unwrap_or_else(|e| panic!("cannot start dockerd: {e}"));
    let d = Docker {
        base: base.clone(),
        sock,
        exec_root,
        debug_dir,
        rootfs_tar: base.join("rootfs.tar"),
        bin,
    };
    let up = wait_for(Duration::from_secs(60), || {
        d.docker(&["version"]).status == 0
    });
    assert!(
        up,
        "dockerd did not come up in 60 s; its log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // A new network namespace's loopback is down.
    let lo = d.in_netns(|| Cmd::new(&[IP, "link", "set", "lo", "up"]).run_native());
    assert_eq!(lo.status, 0, "{}", lo.describe());
    d.build_image(&busybox);
    Ok(d)
}

impl Docker {
    /// `docker ARGS...` with this daemon's DOCKER_HOST.
    pub fn cmd<S: AsRef<str>>(&self, args: &[S]) -> Cmd {
        let mut argv = vec![CLIENT.to_string()];
        argv.extend(args.iter().map(|s| s.as_ref().to_string()));
        Cmd::new(&argv)
            .env("DOCKER_HOST", &format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.base.join("client").to_string_lossy())
            .timeout(Duration::from_secs(90))
    }

    /// `docker ARGS...`, run to completion.
    pub fn docker<S: AsRef<str>>(&self, args: &[S]) -> Output {
        self.cmd(args).run_native()
    }

    /// `docker run --rm --runtime=RUNTIME OPTS... IMAGE CMD...`.
    pub fn run(&self, runtime: &str, opts: &[&str], cmd: &[&str]) -> Output {
        self.run_image(runtime, opts, IMAGE, cmd)
    }

    /// [`Docker::run`] of another image.
    pub fn run_image(&self, runtime: &str, opts: &[&str], image: &str, cmd: &[&str]) -> Output {
        let mut a = vec![
            "run".to_string(),
            "--rm".into(),
            format!("--runtime={runtime}"),
        ];
        a.extend(opts.iter().map(|s| s.to_string()));
        a.push(image.into());
        a.extend(cmd.iter().map(|s| s.to_string()));
        self.docker(&a)
    }

    /// `docker run -d --runtime=RUNTIME OPTS... IMAGE CMD...`: the id.
    pub fn run_detached(&self, runtime: &str, opts: &[&str], cmd: &[&str]) -> String {
        let mut a = vec![
            "run".to_string(),
            "-d".into(),
            format!("--runtime={runtime}"),
        ];
        a.extend(opts.iter().map(|s| s.to_string()));
        a.push(IMAGE.into());
        a.extend(cmd.iter().map(|s| s.to_string()));
        let o = self.docker(&a);
        assert_eq!(o.status, 0, "docker run -d failed\n{}", o.describe());
        o.stdout.trim().to_string()
    }

    /// `docker inspect -f FORMAT ID`, trimmed.
    pub fn inspect(&self, id: &str, format: &str) -> String {
        let o = self.docker(&["inspect", "-f", format, id]);
        assert_eq!(o.status, 0, "docker inspect failed\n{}", o.describe());
        o.stdout.trim().to_string()
    }

    /// Runs `f` on a thread of its own in the daemon's network namespace,
    /// where the bridge, the host ends of the containers' veths and `-p`'s
    /// proxies are: sockets it makes stay there when it returns them.
    pub fn in_netns<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let pid = std::fs::read_to_string(self.base.join("docker.pid"))
            .expect("dockerd's pid file")
            .trim()
            .to_string();
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))
            .expect("dockerd's network namespace");
        std::thread::spawn(move || {
            // The thread's own namespace only: the test's other threads
            // stay where they are.
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .expect("setns into dockerd's network namespace");
            f()
        })
        .join()
        .expect("the thread in dockerd's namespace panicked")
    }

    /// `docker logs ID`: stdout and stderr together.
    pub fn logs(&self, id: &str) -> String {
        let o = self.docker(&["logs", id]);
        format!("{}{}", o.stdout, o.stderr)
    }

    /// Waits for `docker logs ID` to contain `text`; the logs.
    pub fn wait_logs(&self, id: &str, text: &str) -> String {
        let mut logs = String::new();
        let ok = wait_for(Duration::from_secs(30), || {
            logs = self.logs(id);
            logs.contains(text)
        });
        assert!(ok, "the logs of {id} never showed {text:?}:\n{logs}");
        logs
    }

    /// What a removed container left: host processes whose command line
    /// names its id, and runtime state directories named after it.
    pub fn leftovers(&self, id: &str) -> Vec<String> {
        let mut left = Vec::new();
        let me = std::process::id().to_string();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name == me {
                    continue;
                }
                if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
                    let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                    if cmd.contains(id) {
                        left.push(format!("process {name}: {cmd}"));
                    }
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(&self.exec_root) {
            for e in entries.flatten() {
                let dir = e.path().join("moby").join(id);
                if e.file_name().to_string_lossy().starts_with("runtime-") && dir.exists() {
                    left.push(format!("state directory {}", dir.display()));
                }
            }
        }
        left
    }

    /// Every host process of a running container: those in the cgroup of
    /// its init process (for runsc-rs: supervisor, Gofer, Sentry, stubs),
    /// as (pid, start time) so that a reused pid is not taken for it.
    pub fn host_processes(&self, id: &str) -> Vec<(i32, u64)> {
        let pid = self.inspect(id, "{{.State.Pid}}");
        let Ok(cg) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            return Vec::new();
        };
        // v1 "N:pids:/path" or v2 "0::/path".
        let dir = cg.lines().find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctl, path) = (f.next()?, f.next()?, f.next()?);
            match ctl {
                "pids" => Some(format!("/sys/fs/cgroup/pids{path}")),
                "" => Some(format!("/sys/fs/cgroup{path}")),
                _ => None,
            }
        });
        let procs = dir
            .and_then(|d| std::fs::read_to_string(format!("{d}/cgroup.procs")).ok())
            .unwrap_or_default();
        procs
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .filter_map(|p| start_time(p).map(|t| (p, t)))
            .collect()
    }

    /// The busybox image: /bin/busybox and one symlink per applet, users
    /// root and 1000, imported with PATH=/bin.
    fn build_image(&self, busybox: &Path) {
        let root = self.base.join("rootfs");
        for d in ["bin", "etc", "tmp", "root", "home/user", "data"] {
            std::fs::create_dir_all(root.join(d)).expect("create rootfs dirs");
        }
        std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
        let list = Cmd::new(&[busybox.to_str().expect("utf-8 path"), "--list"]).run_native();
        assert_eq!(list.status, 0, "{}", list.describe());
        for applet in list.stdout.lines().map(str::trim) {
            // `busybox` itself would be a symlink to itself.
            if applet.is_empty() || applet == "busybox" || applet.contains('/') {
                continue;
            }
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
                .unwrap_or_else(|e| panic!("symlink {applet}: {e}"));
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
        )
        .expect("write passwd");
        std::fs::write(root.join("etc/group"), "root:x:0:\nuser:x:1000:\n").expect("write group");
        let tar = Cmd::new(&[
            "/bin/tar",
            "-C",
            root.to_str().expect("utf-8 path"),
            "--owner=0",
            "--group=0",
            "-cf",
            self.rootfs_tar.to_str().expect("utf-8 path"),
            ".",
        ])
        .run_native();
        assert_eq!(tar.status, 0, "{}", tar.describe());
        let o = self.docker(&[
            "import",
            "-c",
            "ENV PATH=/bin",
            self.rootfs_tar.to_str().expect("utf-8 path"),
            IMAGE,
        ]);
        assert_eq!(o.status, 0, "docker import failed\n{}", o.describe());
    }
}

/// A process's start time (field 22 of /proc/PID/stat), if it is alive
/// (not a zombie).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// Which of `procs` are still alive (same pid, same start time).
pub fn still_alive(procs: &[(i32, u64)]) -> Vec<String> {
    procs
        .iter()
        .filter(|(p, t)| start_time(*p) == Some(*t))
        .map(|(p, _)| {
            let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            format!("{p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}

/// An interactive command on a pty (`script -qfec CMD /dev/null`): send
/// input, wait for output.
pub struct Session {
    child: std::process::Child,
    input: ChildStdin,
    out: std::sync::Arc<Mutex<Vec<u8>>>,
}

impl Session {
    pub fn start(command: &str, env: &[(&str, &str)]) -> Session {
        let mut c = Command::new("/usr/bin/script");
        c.args(["-qfec", command, "/dev/null"])
            .envs(env.iter().copied())
            .env("TERM", "xterm")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = c.spawn().expect("start script");
        let input = child.stdin.take().expect("stdin");
        let mut stdout = child.stdout.take().expect("stdout");
        let out = std::sync::Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut b = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut b) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend_from_slice(&b[..n]);
            }
        });
        Session { child, input, out }
    }

    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.input.write_all(bytes).expect("write to the session");
        self.input.flush().expect("flush the session");
    }

    /// Waits up to 30 s for the output to contain `text`.
    pub fn expect(&self, text: &str) {
        let ok = wait_for(Duration::from_secs(30), || self.output().contains(text));
        assert!(
            ok,
            "the session never printed {text:?}; it printed:\n{}",
            self.output()
        );
    }

    /// Waits up to 30 s for the session to end; its exit status.
    pub fn wait(mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                // SAFETY: killing the group we created.
                unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
                let _ = self.child.wait();
                panic!("the session did not end; it printed:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: killing the group we created (no-op once it is gone).
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.wait();
    }
}
