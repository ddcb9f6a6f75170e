//! The runc-compatible lifecycle on busybox bundles: run, create/start/
//! state/kill/delete, bind mounts, the spec's process settings, errors that
//! name the problem, and nothing left behind.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::bundle::{exists, text, Bundle};
use tests::console::{drive_shell, Console};
use tests::{require, sandbox};

fn state_of(b: &Bundle, id: &str) -> Value {
    let o = b.runtime(&["state", id]);
    assert!(o.status.success(), "state {id}: {:?}", text(&o));
    serde_json::from_slice(&o.stdout).expect("state prints JSON")
}

fn wait_status(b: &Bundle, id: &str, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let s = state_of(b, id);
        if s["status"] == want {
            return s;
        }
        assert!(Instant::now() < deadline, "{id} never became {want}: {s}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn assert_nothing_left(b: &Bundle) {
    assert!(
        b.leftover_processes().is_empty(),
        "{:?}",
        b.leftover_processes()
    );
    assert!(b.leftover_state().is_empty(), "{:?}", b.leftover_state());
}

#[test]
fn run_gives_the_process_its_spec_and_exit_code() {
    require!(sandbox());
    let b = require!(Bundle::busybox(
        "oci-run",
        &["sh", "-c", "echo hi; id; hostname; pwd; echo $FOO; exit 7"],
        |c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [10]});
            c["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
            c["process"]["cwd"] = json!("/tmp");
            c["hostname"] = json!("boxy");
        }
    ));
    let o = b.runtime(&["run", "c1"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(7), "{out}{err}");
    assert_eq!(
        out, "hi\nuid=1000 gid=1000 groups=10\nboxy\n/tmp\nbar\n",
        "stderr: {err}"
    );
    assert_nothing_left(&b);
}

/// Docker's default capability set (no SYS_ADMIN, no DAC_READ_SEARCH,
/// no NET_ADMIN ...) and noNewPrivileges reach the container's root:
/// /proc/self/status shows them as the spec gives them, and what needs a
/// capability left out is refused (sethostname, mount), while what the
/// set keeps works (chown to another user).
#[test]
fn a_docker_default_capability_set_is_what_the_containers_root_holds() {
    require!(sandbox());
    let docker = [
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    ];
    let script = "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; \
                  hostname other || echo hostname refused; \
                  mount -t tmpfs none /mnt || echo mount refused; \
                  touch /tmp/f && chown 1000 /tmp/f && echo chown ok";
    let b = require!(Bundle::busybox("oci-caps", &["sh", "-c", script], |c| {
        c["process"]["capabilities"] = json!({
            "bounding": docker, "effective": docker, "permitted": docker,
        });
        c["process"]["noNewPrivileges"] = json!(true);
    }));
    let o = b.runtime(&["run", "ccaps"]);
    let (out, err) = text(&o);
    assert_eq!(
        out,
        "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\n\
         CapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n\
         hostname refused\nmount refused\nchown ok\n",
        "stderr: {err}"
    );
    assert!(
        err.contains("not permitted") || err.contains("ermission denied"),
        "stderr: {err}"
    );
    assert_nothing_left(&b);
}

#[test]
fn create_start_state_kill_delete() {
    require!(sandbox());
    let b = require!(Bundle::busybox(
        "oci-life",
        &[
            "sh",
            "-c",
            "trap 'echo got TERM; exit 3' TERM; echo up; while true; do sleep 0.05; done"
        ],
        |_| {}
    ));
    let pid_file = b.dir.join("pid");
    let o = b.runtime_detached(&["create", "--pid-file", pid_file.to_str().unwrap(), "c2"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let s = state_of(&b, "c2");
    assert_eq!(s["status"], "created", "{s}");
    assert_eq!(s["id"], "c2");
    let pid: i64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(s["pid"], pid, "{s}");
    assert_eq!(s["bundle"], b.dir.canonicalize().unwrap().to_str().unwrap());

    // A second container of the same id is refused and changes nothing.
    let o = b.runtime_detached(&["create", "c2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("already exists"), "{:?}", text(&o));
    assert_eq!(state_of(&b, "c2")["status"], "created");

    let o = b.runtime(&["start", "c2"]);
    assert!(o.status.success(), "{:?}", text(&o));
    wait_status(&b, "c2", "running");
    let o = b.runtime(&["start", "c2"]);
    assert!(!o.status.success(), "a second start must fail");

    // ps lists the sandbox's processes.
    let o = b.runtime(&["ps", "c2"]);
    assert!(text(&o).0.contains("sh"), "{:?}", text(&o));
    let o = b.runtime(&["ps", "--format", "json", "c2"]);
    let pids: Vec<i64> = serde_json::from_slice(&o.stdout).expect("ps json");
    assert!(pids.contains(&pid), "{pids:?}");

    // A reader that is gone (`state c2 | head -c0`) ends state by SIGPIPE,
    // as runc, not with a panic on the failed write.
    let (r, w) = nix::unistd::pipe().unwrap();
    drop(r);
    let o = b
        .runtime_cmd(&["state", "c2"])
        .stdout(std::process::Stdio::from(w))
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(o.status.signal(), Some(libc::SIGPIPE), "{:?}", text(&o));
    assert!(!text(&o).1.contains("panicked"), "{:?}", text(&o));

    // Not stopped yet: delete without --force refuses.
    let o = b.runtime(&["delete", "c2"]);
    assert!(!o.status.success());
    assert!(text(&o).1.contains("not stopped"), "{:?}", text(&o));

    // The application's handler takes SIGTERM.
    std::thread::sleep(Duration::from_millis(300));
    let o = b.runtime(&["kill", "c2", "TERM"]);
    assert!(o.status.success(), "{:?}", text(&o));
    wait_status(&b, "c2", "stopped");
    let o = b.runtime(&["list"]);
    assert!(text(&o).0.contains("c2\t0\tstopped"), "{:?}", text(&o));
    let o = b.runtime(&["delete", "c2"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_nothing_left(&b);
    let o = b.runtime(&["state", "c2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("does not exist"), "{:?}", text(&o));
}

/// `pause` freezes the sandbox through its cgroup and `resume` thaws it:
/// the container prints nothing while paused and goes on counting after,
/// as under runc. (The thaw used to kill the sandbox: the kernel restarts
/// an interrupted timed wait with restart_syscall, which the Sentry's
/// seccomp filter did not allow.)
#[test]
fn pause_and_resume_stop_and_continue_the_container() {
    require!(sandbox());
    let cgroup = format!("runsc-rs-tests/{}", tests::unique_name("pause"));
    let b = require!(Bundle::busybox(
        "oci-pause",
        &[
            "sh",
            "-c",
            "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done"
        ],
        |c| c["linux"]["cgroupsPath"] = json!(format!("/{cgroup}"))
    ));
    let out = b.dir.join("ticks");
    let status = b
        .runtime_cmd(&["create", "p1"])
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(b.dir.join("create.stderr")).unwrap())
        .status()
        .unwrap();
    assert!(status.success(), "create failed");
    let ticks = || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let wait_ticks = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while ticks() < n {
            assert!(
                Instant::now() < deadline,
                "only {} lines, waiting for {n}",
                ticks()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let o = b.runtime(&["start", "p1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    wait_ticks(3);

    let o = b.runtime(&["pause", "p1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(state_of(&b, "p1")["status"], "paused");
    let n = ticks();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(ticks(), n, "the container printed while paused");
    // A paused container is not paused again, as runc says.
    let o = b.runtime(&["pause", "p1"]);
    assert!(!o.status.success(), "{:?}", text(&o));

    let o = b.runtime(&["resume", "p1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(state_of(&b, "p1")["status"], "running");
    wait_ticks(n + 5);
    assert_eq!(state_of(&b, "p1")["status"], "running");

    let o = b.runtime(&["kill", "p1", "KILL"]);
    assert!(o.status.success(), "{:?}", text(&o));
    wait_status(&b, "p1", "stopped");
    let o = b.runtime(&["delete", "p1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_nothing_left(&b);
    let err = std::fs::read_to_string(b.dir.join("create.stderr")).unwrap_or_default();
    assert!(!err.contains("seccomp refused"), "{err}");
}

#[test]
fn sigkill_and_forced_delete_leave_nothing() {
    require!(sandbox());
    let b = require!(Bundle::busybox("oci-kill", &["sleep", "100"], |_| {}));
    assert!(b
        .runtime_detached(&["run", "--detach", "c3"])
        .status
        .success());
    wait_status(&b, "c3", "running");
    // SIGTERM without a handler: PID 1 ignores it, as under runc.
    assert!(b.runtime(&["kill", "c3"]).status.success());
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(state_of(&b, "c3")["status"], "running");
    assert!(b.runtime(&["kill", "c3", "9"]).status.success());
    wait_status(&b, "c3", "stopped");
    assert!(b.runtime(&["delete", "c3"]).status.success());
    assert_nothing_left(&b);

    assert!(b.runtime_detached(&["run", "-d", "c4"]).status.success());
    let o = b.runtime(&["delete", "--force", "c4"]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_nothing_left(&b);
    // --force on nothing is quiet, as runc's.
    assert!(b
        .runtime(&["delete", "--force", "never-was"])
        .status
        .success());
}

#[test]
fn bind_mounts_write_through_and_read_only_ones_refuse() {
    require!(sandbox());
    let vol = tests::scratch_dir().join(tests::unique_name("vol"));
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::write(vol.join("in"), "from host\n").unwrap();
    let v = vol.to_str().unwrap().to_string();
    let b = require!(Bundle::busybox(
        "oci-bind",
        &["sh", "-c", "cat /data/in; echo out > /data/out; mkdir /data/d; echo x > /ro/y || echo ro-refused; echo z > /z || echo root-refused"],
        |c| {
            c["root"]["readonly"] = json!(true);
            let m = c["mounts"].as_array_mut().unwrap();
            m.push(json!({"destination": "/data", "type": "bind", "source": v, "options": ["rbind", "rprivate"]}));
            m.push(json!({"destination": "/ro", "type": "bind", "source": v, "options": ["rbind", "ro"]}));
        }
    ));
    let o = b.runtime(&["run", "c5"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(out, "from host\nro-refused\nroot-refused\n", "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert_eq!(std::fs::read_to_string(vol.join("out")).unwrap(), "out\n");
    assert!(vol.join("d").is_dir());
    assert!(!exists(&vol.join("y")));
    assert!(!exists(&b.dir.join("rootfs/z")));
    assert_nothing_left(&b);
    let _ = std::fs::remove_dir_all(&vol);
}

#[test]
fn a_missing_program_is_reported_by_create_in_runc_words() {
    require!(sandbox());
    let b = require!(Bundle::busybox("oci-noexec", &["no-such-program"], |_| {}));
    let log = b.dir.join("log.json");
    let o = b.runtime_detached(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "c6",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let (_, err) = text(&o);
    assert!(
        err.contains("exec: \"no-such-program\": executable file not found in $PATH"),
        "{err}"
    );
    let line = std::fs::read_to_string(&log).unwrap();
    let v: Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .contains("executable file not found"),
        "{v}"
    );
    assert!(v["time"].is_string());
    assert_nothing_left(&b);
}

#[test]
fn bad_bundles_and_ids_are_named_and_leave_nothing() {
    require!(sandbox());
    let b = require!(Bundle::busybox("oci-bad", &["true"], |_| {}));
    let cases: &[(&str, &str)] = &[
        ("{\"ociVersion\": ", "not a valid OCI runtime spec"),
        (
            r#"{"ociVersion":"1.0.2","root":{"path":"nowhere"},"process":{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
            "is not a directory",
        ),
        (
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0},"terminal":true}}"#,
            "console-socket",
        ),
        (
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0}},"mounts":[{"destination":"/x","type":"bind","source":"/no/such"}]}"#,
            "does not exist",
        ),
    ];
    for (config, want) in cases {
        b.write_config(config);
        let o = b.runtime_detached(&["create", "bad"]);
        assert_eq!(o.status.code(), Some(1), "{config}");
        assert!(text(&o).1.contains(want), "{config}: {:?}", text(&o));
        assert_nothing_left(&b);
    }
    for (args, want) in [
        (&["start", "unknown"][..], "does not exist"),
        (&["kill", "unknown", "TERM"][..], "does not exist"),
        (&["create", "a/b"][..], "invalid container id"),
        (&["kill", "unknown", "NOSUCHSIG"][..], "unknown signal"),
        (&["frobnicate"][..], "unrecognized subcommand"),
        (
            &["create", "--no-such-flag", "x"][..],
            "unexpected argument",
        ),
    ] {
        let o = b.runtime(args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(text(&o).1.contains(want), "{args:?}: {:?}", text(&o));
    }
    assert_nothing_left(&b);
}

/// A container that runs until killed, started detached.
fn running(name: &str, id: &str) -> Option<Bundle> {
    let b = Bundle::busybox(name, &["sh", "-c", "echo up; exec sleep 1000"], |c| {
        c["process"]["env"] = json!(["PATH=/bin", "A=from-spec"]);
    })
    .map_err(|e| tests::skip(&e))
    .ok()?;
    let o = b.runtime_detached(&["run", "--detach", id]);
    assert!(o.status.success(), "{:?}", text(&o));
    wait_status(&b, id, "running");
    Some(b)
}

#[test]
fn exec_runs_a_process_beside_init_with_its_stdio_and_exit_code() {
    require!(sandbox());
    let Some(b) = running("oci-exec", "e1") else {
        return;
    };
    // The container's own environment, our stdio, the process's exit code.
    let o = b.runtime(&["exec", "e1", "sh", "-c", "echo $A; ps -o pid,comm; exit 3"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(out.starts_with("from-spec\n"), "{out}");
    assert!(out.contains("\n    1 "), "init is still PID 1: {out}");
    assert!(out.lines().any(|l| l.ends_with(" ps")), "{out}");

    // -e, -u, --cwd change the spec's process.
    let o = b.runtime(&[
        "exec",
        "-e",
        "B=2",
        "-u",
        "1000:1000",
        "--cwd",
        "/tmp",
        "e1",
        "sh",
        "-c",
        "echo $A $B; id; pwd",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(text(&o).0, "from-spec 2\nuid=1000 gid=1000\n/tmp\n");

    // stdin reaches the process.
    let mut child = b
        .runtime_cmd(&["exec", "e1", "cat"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through stdin\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "through stdin\n");

    // --process, as containerd gives it.
    let pj = b.dir.join("process.json");
    std::fs::write(
        &pj,
        json!({"args": ["sh", "-c", "echo $C; exit 4"], "env": ["PATH=/bin", "C=from-json"],
               "cwd": "/", "user": {"uid": 0, "gid": 0}})
        .to_string(),
    )
    .unwrap();
    let o = b.runtime(&["exec", "--process", pj.to_str().unwrap(), "e1"]);
    assert_eq!(o.status.code(), Some(4), "{:?}", text(&o));
    assert_eq!(text(&o).0, "from-json\n");

    // --detach: the pid file names a host process that stands for it until
    // it exits.
    let pid_file = b.dir.join("exec.pid");
    let o = b.runtime_detached(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        "e1",
        "sleep",
        "0.5",
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z ")) {
        assert!(
            Instant::now() < deadline,
            "the stand-in outlived its process"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Killing the stand-in kills the process, as under runc.
    let mut child = b
        .runtime_cmd(&["exec", "e1", "sleep", "1000"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let before = text(&b.runtime(&["ps", "e1"])).0;
    assert!(before.contains("sleep"), "{before}");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ps = text(&b.runtime(&["ps", "e1"])).0;
        if ps.matches("sleep").count() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the exec'd sleep survived: {ps}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // Errors name the problem.
    let o = b.runtime(&["exec", "e1", "no-such-program"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).1.contains("executable file not found"),
        "{:?}",
        text(&o)
    );
    let o = b.runtime(&["exec", "nope", "true"]);
    assert!(text(&o).1.contains("does not exist"), "{:?}", text(&o));
    let o = b.runtime(&["exec", "--tty", "e1", "true"]);
    assert!(text(&o).1.contains("console-socket"), "{:?}", text(&o));

    assert!(b.runtime(&["delete", "--force", "e1"]).status.success());
    assert_nothing_left(&b);
}

#[test]
fn a_console_socket_gets_a_working_terminal_for_init_and_exec() {
    require!(sandbox());
    let b = require!(Bundle::busybox("oci-tty", &["sh"], |c| {
        c["process"]["terminal"] = json!(true);
    }));
    let sock = b.dir.join("console.sock");
    let l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let s = sock.to_str().unwrap();
    // As containerd's shim: create, take the console, start.
    let o = b.runtime_detached(&["create", "--console-socket", s, "t1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let mut c = Console::accept(&l);
    assert!(b.runtime(&["start", "t1"]).status.success());
    drive_shell(&mut c);

    // exec --tty: a terminal of its own.
    let mut e = b
        .runtime_cmd(&["exec", "--tty", "--console-socket", s, "t1", "sh"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut ec = Console::accept(&l);
    drive_shell(&mut ec);
    ec.send(b"exit 6\n");
    assert_eq!(e.wait().unwrap().code(), Some(6));

    c.send(b"exit 5\n");
    let s = wait_status(&b, "t1", "stopped");
    assert_eq!(s["status"], "stopped");
    assert!(b.runtime(&["delete", "t1"]).status.success());
    assert_nothing_left(&b);
}

/// xattrs.c on a container's read-write bind volume (under the default
/// overlay root): the same lines as natively on a copy, and the volume's
/// attributes on the host changed as the native run changed its copy's
/// (Tsetxattrat and Tremovexattrat below a writable bind).
#[test]
fn xattrs_on_a_bind_volume_reach_the_host_as_natively() {
    require!(sandbox());
    let prog = require!(tests::static_c_program("xattrs"));
    let base = tests::scratch_dir().join(tests::unique_name("oci-xattrs"));
    std::fs::create_dir_all(&base).unwrap();
    let (native, vol) = (base.join("native"), base.join("vol"));
    tests::xattr_fixture(&native);
    tests::xattr_fixture(&vol);
    let n = tests::Cmd::new(&tests::xattrs_argv(prog.to_str().unwrap(), &native)).run_native();
    assert!(n.stdout.ends_with("PASS\n"), "{}", n.describe());

    let args = tests::xattrs_argv("/progs/xattrs", std::path::Path::new("/data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let progs = prog.parent().unwrap().to_str().unwrap().to_string();
    let v = vol.to_str().unwrap().to_string();
    let b = require!(Bundle::busybox("oci-xattrs", &args, |c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/data", "type": "bind", "source": v, "options": ["rbind"]}));
        m.push(json!({"destination": "/progs", "type": "bind", "source": progs, "options": ["rbind", "ro"]}));
    }));
    let o = b.runtime(&["run", "cx"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(out, n.stdout, "{err}");
    for name in ["f", "g", "d", "sym"] {
        assert_eq!(
            tests::host_xattrs(&vol.join(name)),
            tests::host_xattrs(&native.join(name)),
            "{name}"
        );
    }
    // The comparison means something: the run left attributes behind.
    assert!(["f", "g", "d"]
        .iter()
        .any(|n| !tests::host_xattrs(&vol.join(n)).is_empty()));
    assert_nothing_left(&b);
    let _ = std::fs::remove_dir_all(&base);
}

/// `runsc-rs debug --stacks ID`: the container's task dump names init's
/// blocking call and what it sleeps on; an unknown container is an error.
#[test]
fn debug_stacks_names_each_tasks_blocking_call() {
    require!(sandbox());
    let Some(b) = running("oci-stacks", "s1") else {
        return;
    };
    let mut dump = String::new();
    let ok = tests::docker::wait_for(Duration::from_secs(20), || {
        let o = b.runtime(&["debug", "--stacks", "s1"]);
        dump = text(&o).0;
        o.status.success() && dump.contains("(sleep) in ") && dump.contains("asleep")
    });
    let _ = b.runtime(&["delete", "--force", "s1"]);
    assert!(ok, "{dump}");
    assert!(dump.starts_with("1 process\n"), "{dump}");
    let o = b.runtime(&["debug", "--stacks", "no-such-container"]);
    assert_ne!(o.status.code(), Some(0));
    assert_nothing_left(&b);
}
