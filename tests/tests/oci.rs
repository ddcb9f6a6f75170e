//! The runc-compatible lifecycle on busybox bundles: run, create/start/
//! state/kill/delete, bind mounts, the spec's process settings, errors that
//! name the problem, and nothing left behind.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tests::bundle::{exists, text, Bundle};
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
