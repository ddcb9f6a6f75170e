//! Docker end to end: `docker run --runtime=runsc-rs` on a busybox image,
//! compared with Docker's own runc where the two should agree; detached
//! containers, signals, stop, resource limits, errors, exec, terminals,
//! containerd's `ctr`, and the debug logs. One dockerd of the tests' own
//! (tests/src/docker.rs) serves every test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tests::docker::{
    docker, spawn_watched, still_alive, wait_for, Docker, Session, IMAGE, OURS, OURS_DEBUG,
    OURS_HOSTINET, OURS_KVM, OURS_NO_OVERLAY, RUNC,
};
use tests::{accept_line, require, Cmd};

fn both(d: &Docker, opts: &[&str], cmd: &[&str]) -> (tests::Output, tests::Output) {
    (d.run(RUNC, opts, cmd), d.run(OURS, opts, cmd))
}

fn assert_agree(d: &Docker, opts: &[&str], cmd: &[&str]) -> tests::Output {
    let (runc, ours) = both(d, opts, cmd);
    tests::assert_same(&runc, &ours);
    ours
}

#[test]
fn run_prints_and_exits_with_the_apps_code() {
    let d = require!(docker());
    let o = assert_agree(d, &[], &["echo", "hi"]);
    assert_eq!(o.stdout, "hi\n", "{}", o.describe());
    let o = assert_agree(d, &[], &["sh", "-c", "exit 42"]);
    assert_eq!(o.status, 42, "{}", o.describe());
}

/// Without `--network`, on Docker's default bridge: the prestart hook
/// (libnetwork-setkey) plugs the veth into the network namespace of the
/// state's pid, which must be the container's. Echo, an exit code, the
/// interface Docker gave (its MAC, read from /sys), and a connection from
/// the container to a server on the daemon's side of the bridge.
#[test]
fn default_bridge_network_runs_like_runc() {
    let d = require!(docker());
    let o = assert_agree(d, &[], &["sh", "-c", "echo hi; exit 3"]);
    assert_eq!(
        (o.stdout.as_str(), o.status),
        ("hi\n", 3),
        "{}",
        o.describe()
    );
    let mut gateway = String::new();
    for rt in [RUNC, OURS] {
        let id = d.run_detached(rt, &[], &["sleep", "30"]);
        let ip = d.inspect(&id, "{{.NetworkSettings.IPAddress}}");
        assert!(!ip.is_empty(), "{rt}: no address on the bridge");
        gateway = d.inspect(&id, "{{.NetworkSettings.Gateway}}");
        let mac = d.inspect(&id, "{{.NetworkSettings.MacAddress}}");
        let o = d.docker(&["exec", &id, "cat", "/sys/class/net/eth0/address"]);
        assert_eq!(o.stdout.trim(), mac, "{rt}\n{}", o.describe());
        // The address and the default route Docker gave, as `ip` reads
        // them over netlink.
        let o = d.docker(&[
            "exec",
            &id,
            "sh",
            "-c",
            "ip -o -4 addr show dev eth0; ip route",
        ]);
        let want_addr = format!("inet {ip}/16");
        let want_route = format!("default via {gateway} dev eth0");
        assert!(
            o.stdout.contains(&want_addr) && o.stdout.contains(&want_route),
            "{rt}\n{}",
            o.describe()
        );
        let _ = d.docker(&["rm", "-f", &id]);
    }
    // docker0, on the daemon's side of the bridge.
    assert!(!gateway.is_empty(), "no gateway on the bridge");
    for rt in [RUNC, OURS] {
        let gw = gateway.clone();
        let listener = d.in_netns(move || {
            std::net::TcpListener::bind((gw.as_str(), 0)).expect("listen on the bridge")
        });
        let port = listener.local_addr().unwrap().port();
        let client_done = Arc::new(AtomicBool::new(false));
        let done = client_done.clone();
        let server = std::thread::spawn(move || accept_line(&listener, &done));
        let msg = format!("hello from {rt}");
        let o = d.run(
            rt,
            &[],
            &[
                "sh",
                "-c",
                &format!("echo '{msg}' | nc -w 10 {gateway} {port}"),
            ],
        );
        client_done.store(true, Ordering::SeqCst);
        let got = server.join().unwrap();
        assert_eq!(got.as_deref(), Ok(msg.as_str()), "{rt}\n{}", o.describe());
    }
}

/// What a client connecting to `addr` (in the daemon's namespace) reads
/// back after sending `line`, retried until it holds `line` or `limit`
/// passes: the server in the container may not listen yet, and Docker's
/// proxy then closes the client's connection at once.
fn echo_until(d: &Docker, addr: String, line: String, limit: Duration) -> String {
    d.in_netns(move || {
        use std::io::{Read, Write};
        let deadline = Instant::now() + limit;
        let mut last = String::new();
        while Instant::now() < deadline {
            let got = std::net::TcpStream::connect(addr.as_str()).and_then(|mut c| {
                c.set_read_timeout(Some(Duration::from_secs(20)))?;
                c.write_all(line.as_bytes())?;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 512];
                // Until the echo is whole or the server closes: the client
                // closes first, so the server never closes on unread data.
                while !String::from_utf8_lossy(&buf).contains(&line) {
                    match c.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                Ok(String::from_utf8_lossy(&buf).into_owned())
            });
            match got {
                Ok(text) if text.contains(&line) => return text,
                Ok(text) => last = text,
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        last
    })
}

/// `-p`: Docker's userland proxy listens on the host port and passes
/// connections to the container's address: a client on the daemon's
/// loopback gets its line back from busybox nc echoing in the container.
#[test]
fn published_port_container_starts_and_docker_reports_the_port() {
    let d = require!(docker());
    for rt in [RUNC, OURS] {
        let id = d.run_detached(
            rt,
            &["-p", "127.0.0.1::8080"],
            &["nc", "-l", "-p", "8080", "-e", "cat"],
        );
        let o = d.docker(&["port", &id, "8080"]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        let addr = o
            .stdout
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        assert!(addr.starts_with("127.0.0.1:"), "{rt}\n{}", o.describe());
        assert_eq!(d.inspect(&id, "{{.State.Running}}"), "true", "{rt}");
        let line = format!("hello through {rt}\n");
        let got = echo_until(d, addr, line.clone(), Duration::from_secs(30));
        let logs = d.logs(&id);
        let _ = d.docker(&["rm", "-f", &id]);
        assert_eq!(got, line, "{rt}\nlogs: {logs}");
    }
}

#[test]
fn host_network_runs_like_runc() {
    let d = require!(docker());
    let o = assert_agree(d, &["--network=host"], &["sh", "-c", "echo hi; exit 4"]);
    // Docker names dockerd's own namespace in the spec: the sandbox must
    // not take the host's interfaces (docker0 is up and addressed).
    let docker0 = d.in_netns(|| {
        tests::Cmd::new(&[tests::docker::IP, "-4", "addr", "show", "dev", "docker0"]).run_native()
    });
    assert!(docker0.stdout.contains("inet "), "{}", docker0.describe());
    assert_eq!(
        (o.stdout.as_str(), o.status),
        ("hi\n", 4),
        "{}",
        o.describe()
    );
}

/// `--network=host` as a runtime argument (daemon.json's runtimeArgs):
/// the container's sockets are host sockets the Sentry drives. With
/// Docker's own `--network=host` the container connects to a server on
/// the daemon's loopback, as under runc.
#[test]
fn hostinet_through_runtime_args_reaches_the_hosts_loopback() {
    let d = require!(docker());
    for rt in [RUNC, OURS_HOSTINET] {
        let listener = d.in_netns(|| {
            std::net::TcpListener::bind(("127.0.0.1", 0)).expect("listen on the daemon's loopback")
        });
        let port = listener.local_addr().unwrap().port();
        let client_done = Arc::new(AtomicBool::new(false));
        let done = client_done.clone();
        let server = std::thread::spawn(move || accept_line(&listener, &done));
        let msg = format!("hello from {rt}");
        let o = d.run(
            rt,
            &["--network=host"],
            &[
                "sh",
                "-c",
                &format!("echo '{msg}' | nc -w 10 127.0.0.1 {port}"),
            ],
        );
        client_done.store(true, Ordering::SeqCst);
        let got = server.join().unwrap();
        assert_eq!(got.as_deref(), Ok(msg.as_str()), "{rt}\n{}", o.describe());
    }
}

/// A host socket bound into the container (`-v /run/x.sock:/run/x.sock`,
/// as docker.sock is): the container connects to the host's server
/// through it, as under runc (the Gofer connects and hands the
/// descriptor over).
#[test]
fn a_host_socket_bound_in_is_reached_from_the_container() {
    use std::io::{BufRead, Write};
    let d = require!(docker());
    let client = require!(tests::static_c_program("unix_client"));
    let dir = tests::scratch_dir().join(tests::unique_name("docker-uds"));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("x.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind the host socket");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut line = String::new();
            if std::io::BufReader::new(&conn).read_line(&mut line).is_ok() {
                let _ = conn.write_all(format!("host says: {line}").as_bytes());
            }
        }
    });
    let bind_sock = format!("{}:/run/x.sock", sock.display());
    let bind_client = format!("{}:/unix_client:ro", client.display());
    let o = assert_agree(
        d,
        &["-v", &bind_sock, "-v", &bind_client],
        &["/unix_client", "/run/x.sock", "hi"],
    );
    assert_eq!(o.stdout, "host says: hi\n", "{}", o.describe());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_defined_bridge_network_runs_like_runc() {
    let d = require!(docker());
    let net = tests::unique_name("runsc-rs-net");
    let o = d.docker(&["network", "create", &net]);
    assert_eq!(o.status, 0, "{}", o.describe());
    let flag = format!("--network={net}");
    let (runc, ours) = both(d, &[&flag], &["sh", "-c", "echo hi; exit 5"]);
    let _ = d.docker(&["network", "rm", &net]);
    tests::assert_same(&runc, &ours);
    assert_eq!(
        (ours.stdout.as_str(), ours.status),
        ("hi\n", 5),
        "{}",
        ours.describe()
    );
}

/// runc sets HOME from the image's /etc/passwd when the spec has none
/// (`/` for a user the file does not name); an explicit HOME wins.
#[test]
fn home_comes_from_the_images_passwd_as_under_runc() {
    let d = require!(docker());
    let cmd = ["sh", "-c", "echo $HOME"];
    let o = assert_agree(d, &[], &cmd);
    assert_eq!(o.stdout, "/root\n", "{}", o.describe());
    let o = assert_agree(d, &["-u", "1000"], &cmd);
    assert_eq!(o.stdout, "/home/user\n", "{}", o.describe());
    let o = assert_agree(d, &["-u", "4242"], &cmd);
    assert_eq!(o.stdout, "/\n", "{}", o.describe());
    let o = assert_agree(d, &["-e", "HOME=/elsewhere"], &cmd);
    assert_eq!(o.stdout, "/elsewhere\n", "{}", o.describe());
}

/// The Sentry and the Gofer are named in `ps` and `top` (comm), and their
/// command lines carry the container's id.
#[test]
fn sentry_and_gofer_are_named_with_the_container_id() {
    let d = require!(docker());
    let id = d.run_detached(OURS, &[], &["sleep", "30"]);
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.contains(&format!("--id={id}")) {
            continue;
        }
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        found.push((comm.trim().to_string(), args[0].clone()));
    }
    let _ = d.docker(&["rm", "-f", &id]);
    found.sort();
    assert_eq!(
        found,
        vec![
            ("runsc-rs-gofer".to_string(), "runsc-rs-gofer".to_string()),
            ("runsc-rs-sentry".to_string(), "runsc-rs-sentry".to_string()),
        ]
    );
}

#[test]
fn run_applies_env_workdir_user_and_hostname() {
    let d = require!(docker());
    let o = assert_agree(
        d,
        &[
            "-e",
            "FOO=bar",
            "-w",
            "/tmp",
            "-u",
            "1000:1000",
            "--hostname",
            "boxy",
        ],
        &["sh", "-c", "echo $FOO; pwd; id; hostname"],
    );
    assert_eq!(
        o.stdout,
        "bar\n/tmp\nuid=1000(user) gid=1000(user) groups=1000(user)\nboxy\n",
        "{}",
        o.describe()
    );
}

#[test]
fn volumes_write_through_to_the_host() {
    let d = require!(docker());
    for rt in [RUNC, OURS] {
        let host = tests::scratch_dir().join(tests::unique_name(&format!("vol-{rt}")));
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("in"), "from host\n").unwrap();
        let v = format!("{}:/data", host.display());
        let o = d.run(
            rt,
            &["-v", &v],
            &["sh", "-c", "cat /data/in; echo written > /data/out"],
        );
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        assert_eq!(o.stdout, "from host\n", "{rt}\n{}", o.describe());
        assert_eq!(
            std::fs::read_to_string(host.join("out")).unwrap_or_default(),
            "written\n",
            "{rt}: the container's write is not on the host"
        );
        let _ = std::fs::remove_dir_all(&host);
    }
}

/// 30 processes one after another over 3 s, in the foreground and detached.
#[test]
fn a_container_keeps_starting_processes() {
    let d = require!(docker());
    let cmd = "i=0; while [ $i -lt 30 ]; do sleep 0.1 || { echo fail $i; exit 1; }; \
               i=$((i+1)); done; echo end $i";
    let o = assert_agree(d, &[], &["sh", "-c", cmd]);
    assert_eq!(o.stdout, "end 30\n", "{}", o.describe());
    for rt in [RUNC, OURS] {
        let id = d.run_detached(rt, &[], &["sh", "-c", cmd]);
        let o = d.docker(&["wait", &id]);
        assert_eq!(o.stdout.trim(), "0", "{rt}: {}", d.logs(&id));
        assert_eq!(d.logs(&id), "end 30\n", "{rt}");
        let _ = d.docker(&["rm", &id]);
    }
}

/// As with runc, with `--overlay=none` a file the container writes to its
/// root is in the container's layer afterwards (`docker diff`); with the
/// default `--overlay=memory` it stays in the sandbox's memory.
#[test]
fn root_writes_reach_the_containers_layer_with_overlay_none_only() {
    let d = require!(docker());
    let name = tests::unique_name("diff-memory");
    let o = d.docker(&[
        "run",
        "--name",
        &name,
        &format!("--runtime={OURS}"),
        IMAGE,
        "sh",
        "-c",
        "echo data > /root/new && cat /root/new",
    ]);
    let diff = d.docker(&["diff", &name]);
    let _ = d.docker(&["rm", "-f", &name]);
    assert_eq!(
        (o.status, o.stdout.as_str()),
        (0, "data\n"),
        "{}",
        o.describe()
    );
    assert!(
        !diff.stdout.contains("/root/new"),
        "--overlay=memory wrote through\n{}",
        diff.describe()
    );
    for rt in [RUNC, OURS_NO_OVERLAY] {
        let name = tests::unique_name(&format!("diff-{rt}"));
        let o = d.docker(&[
            "run",
            "--name",
            &name,
            &format!("--runtime={rt}"),
            IMAGE,
            "sh",
            "-c",
            "echo data > /root/new",
        ]);
        let diff = d.docker(&["diff", &name]);
        let _ = d.docker(&["rm", "-f", &name]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        assert!(
            diff.stdout.contains("A /root/new"),
            "{rt}: docker diff\n{}",
            diff.describe()
        );
    }
}

#[test]
fn read_only_root_refuses_writes_and_tmpfs_takes_them() {
    let d = require!(docker());
    let cmd = "touch /x 2>&1 | grep -q 'Read-only file system' && echo erofs; \
               echo ok > /run/y && cat /run/y";
    let o = assert_agree(d, &["--read-only", "--tmpfs", "/run"], &["sh", "-c", cmd]);
    assert_eq!(o.stdout, "erofs\nok\n", "{}", o.describe());
}

#[test]
fn network_none_has_only_loopback() {
    let d = require!(docker());
    let o = assert_agree(
        d,
        &["--network=none"],
        &["sh", "-c", "ip -o link | cut -d: -f2 | tr -d ' '"],
    );
    assert_eq!(o.stdout, "lo\n", "{}", o.describe());
}

const TRAPS: &str = "trap 'echo got USR1' USR1; trap 'echo got TERM; exit 7' TERM; \
                     echo ready; while :; do sleep 0.1; done";

#[test]
fn detached_container_logs_takes_signals_and_stops_through_its_trap() {
    let d = require!(docker());
    for rt in [RUNC, OURS] {
        let id = d.run_detached(rt, &[], &["sh", "-c", TRAPS]);
        d.wait_logs(&id, "ready");
        let top = d.docker(&["top", &id]);
        assert_eq!(top.status, 0, "{rt}: docker top\n{}", top.describe());
        assert!(
            top.stdout.lines().count() >= 2,
            "{rt}: docker top\n{}",
            top.describe()
        );
        let o = d.docker(&["kill", "-s", "USR1", &id]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        d.wait_logs(&id, "got USR1");
        let o = d.docker(&["stop", "-t", "10", &id]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        assert_eq!(d.inspect(&id, "{{.State.ExitCode}}"), "7", "{rt}");
        assert!(d.logs(&id).contains("got TERM"), "{rt}: {}", d.logs(&id));
        let o = d.docker(&["rm", &id]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        assert!(d.leftovers(&id).is_empty(), "{rt}: {:?}", d.leftovers(&id));
    }
}

/// A signal the app ignores changes nothing: the container keeps working.
#[test]
fn an_ignored_signal_leaves_the_container_working() {
    let d = require!(docker());
    let app = "trap '' TERM; trap 'head -1 /etc/passwd' USR1; echo ready; \
               while :; do sleep 0.1 || { echo FAIL; exit 9; }; done";
    for rt in [RUNC, OURS] {
        let id = d.run_detached(rt, &[], &["sh", "-c", app]);
        d.wait_logs(&id, "ready");
        let o = d.docker(&["kill", "-s", "TERM", &id]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        std::thread::sleep(Duration::from_millis(500));
        let o = d.docker(&["kill", "-s", "USR1", &id]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        let logs = d.wait_logs(&id, "root:x:0:0");
        assert!(!logs.contains("FAIL"), "{rt}: {logs}");
        let _ = d.docker(&["rm", "-f", &id]);
    }
}

#[test]
fn stop_kills_an_app_that_ignores_term_after_the_timeout() {
    let d = require!(docker());
    for rt in [RUNC, OURS] {
        let id = d.run_detached(
            rt,
            &[],
            &[
                "sh",
                "-c",
                "trap '' TERM; echo ready; while :; do sleep 0.1; done",
            ],
        );
        d.wait_logs(&id, "ready");
        let procs = d.host_processes(&id);
        let start = Instant::now();
        let o = d.docker(&["stop", "-t", "1", &id]);
        assert_eq!(o.status, 0, "{rt}\n{}", o.describe());
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "{rt}: stop took {:?}",
            start.elapsed()
        );
        assert_eq!(d.inspect(&id, "{{.State.ExitCode}}"), "137", "{rt}");
        let _ = d.docker(&["rm", &id]);
        let gone = wait_for(Duration::from_secs(5), || still_alive(&procs).is_empty());
        assert!(
            gone,
            "{rt}: processes outlived the container: {:?}",
            still_alive(&procs)
        );
    }
}

#[test]
fn rm_force_leaves_nothing_behind() {
    let d = require!(docker());
    let id = d.run_detached(OURS, &[], &["sleep", "100"]);
    assert!(wait_for(Duration::from_secs(20), || d
        .inspect(&id, "{{.State.Running}}")
        == "true"));
    assert!(
        !d.leftovers(&id).is_empty(),
        "a running container shows up as processes and state"
    );
    let o = d.docker(&["rm", "-f", &id]);
    assert_eq!(o.status, 0, "{}", o.describe());
    // runc takes well under a second.
    assert!(
        o.elapsed < Duration::from_secs(5),
        "docker rm -f took {:?}",
        o.elapsed
    );
    let clean = wait_for(Duration::from_secs(10), || d.leftovers(&id).is_empty());
    assert!(clean, "left behind: {:?}", d.leftovers(&id));
}

#[test]
fn memory_limit_is_enforced() {
    let d = require!(docker());
    // 200 MB held in a shell variable, under a 64 MiB limit (no swap here).
    let cmd = "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived ${#x}";
    for rt in [RUNC, OURS] {
        let name = tests::unique_name(&format!("oom-{rt}"));
        let o = d.docker(&[
            "run",
            "--name",
            &name,
            &format!("--runtime={rt}"),
            "--memory=64m",
            "--memory-swap=64m",
            IMAGE,
            "sh",
            "-c",
            cmd,
        ]);
        let oom = d.inspect(&name, "{{.State.OOMKilled}}");
        let _ = d.docker(&["rm", "-f", &name]);
        assert!(
            !o.stdout.contains("survived"),
            "{rt}: the limit was not enforced\n{}",
            o.describe()
        );
        assert!(
            o.status == 137 || oom == "true",
            "{rt}: expected an OOM kill (137 or OOMKilled), got {} / OOMKilled={oom}\n{}",
            o.status,
            o.describe()
        );
    }
}

#[test]
fn pids_limit_is_enforced() {
    let d = require!(docker());
    // 100 sleeping children under a limit of 50: a fork fails.
    let cmd = "i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done; echo forked $i";
    for rt in [RUNC, OURS] {
        let start = Instant::now();
        let o = d.run(rt, &["--pids-limit=50"], &["sh", "-c", cmd]);
        assert!(
            !o.stdout.contains("forked 100"),
            "{rt}: 100 children under --pids-limit=50\n{}",
            o.describe()
        );
        assert_ne!(o.status, 0, "{rt}\n{}", o.describe());
        assert!(
            start.elapsed() < Duration::from_secs(25),
            "{rt}: took {:?}",
            start.elapsed()
        );
    }
}

#[test]
fn a_missing_executable_fails_the_start_with_127() {
    let d = require!(docker());
    let (runc, ours) = both(d, &[], &["no-such-program"]);
    assert_eq!(runc.status, 127, "runc\n{}", runc.describe());
    assert_eq!(ours.status, 127, "{}", ours.describe());
    assert!(
        ours.stderr.contains("executable file not found"),
        "{}",
        ours.describe()
    );
    assert!(d
        .docker(&["ps", "-aq", "--filter", "status=created"])
        .stdout
        .trim()
        .is_empty());
}

#[test]
fn exec_it_gives_a_shell_on_a_terminal_and_exec_i_takes_stdin() {
    let d = require!(docker());
    require!(tests::host_program("/usr/bin/script", "bsdutils"));
    let host = format!("unix://{}", d.sock.display());
    let cfg = d.base.join("client");
    for rt in [RUNC, OURS] {
        let id = d.run_detached(rt, &[], &["sleep", "100"]);
        let cmd = format!("{} exec -it {id} sh", tests::docker::CLIENT);
        let mut s = Session::start(
            &cmd,
            &[
                ("DOCKER_HOST", &host),
                ("DOCKER_CONFIG", cfg.to_str().unwrap()),
            ],
        );
        s.expect("# ");
        s.send(b"echo $((6*7))x; tty\r");
        s.expect("42x");
        s.expect("/dev/pts/");
        s.send(b"exit 6\r");
        assert_eq!(s.wait(), 6, "{rt}");
        let o = Cmd::new(&[tests::docker::CLIENT, "exec", "-i", &id, "cat"])
            .env("DOCKER_HOST", &host)
            .env("DOCKER_CONFIG", cfg.to_str().unwrap())
            .stdin(b"through stdin\n")
            .run_native();
        assert_eq!(o.stdout, "through stdin\n", "{rt}\n{}", o.describe());
        let _ = d.docker(&["rm", "-f", &id]);
    }
}

#[test]
fn exec_runs_commands_in_a_running_container() {
    let d = require!(docker());
    for rt in [RUNC, OURS] {
        let id = d.run_detached(rt, &[], &["sleep", "100"]);
        let o = d.docker(&["exec", &id, "echo", "hi"]);
        assert_eq!(
            (o.status, o.stdout.as_str()),
            (0, "hi\n"),
            "{rt}\n{}",
            o.describe()
        );
        let o = d.docker(&["exec", &id, "sh", "-c", "exit 3"]);
        assert_eq!(o.status, 3, "{rt}\n{}", o.describe());
        let o = d.docker(&[
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "-u",
            "1000",
            &id,
            "sh",
            "-c",
            "echo $X; pwd; id -u",
        ]);
        assert_eq!(o.stdout, "1\n/tmp\n1000\n", "{rt}\n{}", o.describe());
        let _ = d.docker(&["rm", "-f", &id]);
    }
}

fn interactive_shell(d: &Docker, rt: &str) {
    let host = format!("unix://{}", d.sock.display());
    let cfg = d.base.join("client");
    let cmd = format!(
        "{} run -it --rm --runtime={rt} {IMAGE} sh",
        tests::docker::CLIENT
    );
    let mut s = Session::start(
        &cmd,
        &[
            ("DOCKER_HOST", &host),
            ("DOCKER_CONFIG", cfg.to_str().unwrap()),
        ],
    );
    s.expect("# ");
    s.send(b"echo $((6*7))x\r");
    s.expect("42x");
    // Whether the shell goes on with the rest of the list after the
    // interrupted sleep is a race inside ash (its forked child may not have
    // reset its SIGINT handler yet), under runc as here: the test asks only
    // that Ctrl-C ends the sleep at once and gives the shell back.
    s.send(b"sleep 100; echo rc=$?\r");
    std::thread::sleep(Duration::from_millis(1500));
    let t = std::time::Instant::now();
    s.send(b"\x03");
    s.send(b"echo AF$((2+2))\r");
    s.expect("AF4");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "{rt}: Ctrl-C did not end the sleep"
    );
    s.send(b"exit 5\r");
    assert_eq!(s.wait(), 5, "{rt}");
}

#[test]
fn run_interactive_terminal_takes_input_and_ctrl_c() {
    let d = require!(docker());
    require!(tests::host_program("/usr/bin/script", "bsdutils"));
    interactive_shell(d, RUNC);
    interactive_shell(d, OURS);
}

#[test]
fn strace_and_debug_log_runtime_args_write_logs() {
    let d = require!(docker());
    let marker = tests::unique_name("strace-marker");
    let o = d.run(OURS_DEBUG, &[], &["echo", &marker]);
    assert_eq!(o.status, 0, "{}", o.describe());
    assert_eq!(o.stdout.trim(), marker, "{}", o.describe());
    let boot = std::fs::read_to_string(d.debug_dir.join("boot.log")).unwrap_or_default();
    let lines: Vec<&str> = boot.lines().filter(|l| l.contains(&marker)).collect();
    assert!(
        lines.iter().any(|l| l.contains("execve(")) && lines.iter().any(|l| l.contains("write(1,")),
        "no execve/write(1, line naming {marker} in {}/boot.log:\n{}",
        d.debug_dir.display(),
        lines.join("\n")
    );
}

/// Docker's runtimeArgs reach the platform: a container under
/// `--platform=kvm` runs a shell pipeline with a fork and an exec and
/// prints what runc's does.
#[test]
fn the_kvm_platform_runs_a_container_through_docker() {
    let d = require!(docker());
    let cmd = [
        "sh",
        "-c",
        "echo kvm; ls / | grep -c bin; (exit 7); echo $?",
    ];
    let ours = d.run(OURS_KVM, &[], &cmd);
    let theirs = d.run(RUNC, &[], &cmd);
    assert_eq!(ours.status, 0, "{}", ours.describe());
    assert_eq!(ours.stdout, theirs.stdout, "{}", ours.describe());
}

#[test]
fn ctr_runs_through_the_runc_shim_with_runsc_rs_as_its_binary() {
    let d = require!(docker());
    require!(tests::host_program(tests::docker::CONTAINERD, "containerd"));
    let ctr = require!(tests::host_program(tests::docker::CTR, "containerd"));
    let ctr = ctr.to_str().unwrap();
    let base = tests::scratch_dir().join("containerd");
    tests::docker::clean_stale(&base);
    std::fs::create_dir_all(&base).unwrap();
    let sock = base.join("containerd.sock");
    let config = base.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 2\nroot = \"{b}/root\"\nstate = \"{b}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{s}\"\n",
            b = base.display(),
            s = sock.display(),
        ),
    )
    .unwrap();
    let argv: Vec<String> = vec![
        tests::docker::CONTAINERD.into(),
        "--config".into(),
        config.to_string_lossy().into_owned(),
    ];
    spawn_watched(&base, &base.join("containerd.log"), &argv).unwrap();
    let a = sock.to_str().unwrap();
    let up = wait_for(Duration::from_secs(30), || {
        Cmd::new(&[ctr, "-a", a, "version"]).run_native().status == 0
    });
    assert!(
        up,
        "containerd did not start:\n{}",
        std::fs::read_to_string(base.join("containerd.log")).unwrap_or_default()
    );

    let archive = base.join("image.tar");
    let o = d.docker(&["save", "-o", archive.to_str().unwrap(), IMAGE]);
    assert_eq!(o.status, 0, "{}", o.describe());
    let o = Cmd::new(&[ctr, "-a", a, "images", "import", archive.to_str().unwrap()]).run_native();
    assert_eq!(o.status, 0, "{}", o.describe());
    let image = format!("docker.io/library/{IMAGE}");
    let bin = d.bin.to_str().unwrap();
    for (runtime_binary, id) in [("/usr/sbin/runc", "ctr-runc"), (bin, "ctr-runsc-rs")] {
        let o = Cmd::new(&[
            ctr,
            "-a",
            a,
            "run",
            "--rm",
            "--runtime",
            "io.containerd.runc.v2",
            "--runc-binary",
            runtime_binary,
            &image,
            id,
            "sh",
            "-c",
            "echo hi from ctr; exit 3",
        ])
        .timeout(Duration::from_secs(60))
        .run_native();
        assert_eq!(
            o.stdout,
            "hi from ctr\n",
            "{runtime_binary}\n{}",
            o.describe()
        );
        assert_eq!(o.status, 3, "{runtime_binary}\n{}", o.describe());
    }
}
