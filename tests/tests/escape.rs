//! The escape suite: `tests/programs/escape.c` tries every way out it
//! knows from inside a sandbox (`..` walks, symlinks and /proc roots,
//! hard links, chroot, host devices, host pids, syscall numbers past the
//! table, /proc/sys, a host Unix socket, the network under
//! `--network=none`, the Sentry's memory). Each case must print
//! "blocked", every expected case must be there, and the host is checked
//! afterwards: its processes alive and untraced, its sysctls and the
//! bundle's files unchanged, no connection or datagram received.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tests::bundle::{text, Bundle};
use tests::{require, sandbox, scratch_dir, static_c_program, unique_name};

/// Cases every run has: devices, syscall numbers, /proc/sys.
const ALWAYS: &[&str] = &[
    "mknod_sda_8_0",
    "mount_sda_8_0",
    "mknod_sda1_8_1",
    "mount_sda1_8_1",
    "mknod_vda_252_0",
    "mount_vda_252_0",
    "mknod_dm0_253_0",
    "mount_dm0_253_0",
    "mknod_vda_254_0",
    "mount_vda_254_0",
    "mknod_vda1_254_1",
    "mount_vda1_254_1",
    "mknod_nvme_259_0",
    "mount_nvme_259_0",
    "mknod_loop0_7_0",
    "mount_loop0_7_0",
    "mknod_mem_1_1",
    "mknod_kmsg_1_11",
    "mknod_kvm_10_232",
    "syscall_1000",
    "syscall_minus_1",
    "syscall_x32_getpid",
    "syscall_x32_512",
    "syscall_int_max",
    "syscall_335_gap",
    "proc_sys_domainname",
    "proc_sys_hostname",
    "proc_sys_ip_forward",
];

/// Cases of a container, whose root has something beside it on the host.
const WALKS: &[&str] = &[
    "dotdot_absolute",
    "dotdot_relative",
    "dotdot_chdir",
    "symlink_to_root",
    "proc_self_root",
    "proc_1_root",
    "hardlink_outside",
    "hardlink_proc_root",
    "chroot_escape",
];

/// The per-process cases for one host pid labelled `label`.
fn process_cases(label: &str) -> Vec<String> {
    ["kill", "ptrace", "proc_mem", "process_vm_readv"]
        .iter()
        .map(|c| format!("{c}_{label}"))
        .collect()
}

/// Checks the program's lines: every case blocked, exactly `expected`.
fn assert_all_blocked(out: &str, err: &str, expected: &[String]) {
    // The lines are the suite's report (docs/security.md quotes them).
    eprintln!("{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"done"),
        "the program did not finish:\n{out}{err}"
    );
    let mut seen = Vec::new();
    for l in &lines[..lines.len() - 1] {
        let mut f = l.splitn(3, ' ');
        let (case, verdict) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
        assert_eq!(verdict, "blocked", "{l}\n(all output:\n{out}{err})");
        seen.push(case.to_string());
    }
    let mut want = expected.to_vec();
    want.sort();
    seen.sort();
    assert_eq!(seen, want, "the cases run differ from the expected list");
}

/// What the program must not change on the host.
struct HostState {
    sysctls: BTreeMap<&'static str, String>,
}

const SYSCTLS: [&str; 3] = [
    "/proc/sys/kernel/domainname",
    "/proc/sys/kernel/hostname",
    "/proc/sys/net/ipv4/ip_forward",
];

impl HostState {
    fn read() -> HostState {
        HostState {
            sysctls: SYSCTLS
                .iter()
                .map(|p| (*p, std::fs::read_to_string(p).expect("a sysctl")))
                .collect(),
        }
    }

    fn assert_unchanged(&self) {
        let now = HostState::read();
        for (p, before) in &self.sysctls {
            if now.sysctls[p] != *before {
                // Put the host back before failing.
                let _ = std::fs::write(p, before);
                panic!("{p} changed: {before:?} -> {:?}", now.sysctls[p]);
            }
        }
    }
}

/// Host endpoints the sandbox must not reach, and the arguments naming
/// them.
struct Listeners {
    tcp: TcpListener,
    udp: UdpSocket,
    uds: Option<UnixListener>,
    args: Vec<String>,
}

impl Listeners {
    /// A TCP listener on loopback, a UDP socket on every address (sent to
    /// on loopback and on this machine's own outward address), and a Unix
    /// socket at `uds` (host path) named `uds_inside` in the sandbox.
    fn new(uds: Option<(&Path, &str)>) -> Listeners {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("a TCP listener");
        tcp.set_nonblocking(true).unwrap();
        let udp = UdpSocket::bind("0.0.0.0:0").expect("a UDP socket");
        udp.set_nonblocking(true).unwrap();
        let port = udp.local_addr().unwrap().port();
        let mut args = vec![
            format!("tcp={}", tcp.local_addr().unwrap()),
            format!("udp=127.0.0.1:{port}"),
        ];
        if let Some(ip) = outward_address() {
            args.push(format!("udp={ip}:{port}"));
        }
        let uds = uds.map(|(host, inside)| {
            let l = UnixListener::bind(host).expect("a Unix listener");
            l.set_nonblocking(true).unwrap();
            args.push(format!("uds={inside}"));
            l
        });
        Listeners {
            tcp,
            udp,
            uds,
            args,
        }
    }

    fn udp_sends(&self) -> usize {
        self.args.iter().filter(|a| a.starts_with("udp=")).count()
    }

    fn assert_untouched(&self) {
        let nothing = |r: std::io::Result<()>, what: &str| match r {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            other => panic!("{what} was reached from the sandbox: {other:?}"),
        };
        nothing(self.tcp.accept().map(|_| ()), "the host TCP listener");
        let mut buf = [0u8; 64];
        nothing(
            self.udp.recv_from(&mut buf).map(|_| ()),
            "the host UDP socket",
        );
        if let Some(u) = &self.uds {
            nothing(u.accept().map(|_| ()), "the host Unix socket");
        }
    }
}

/// This machine's address toward the outside (no packet is sent: a
/// connected UDP socket only picks its source address).
fn outward_address() -> Option<std::net::IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.1:9").ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

/// A host process the sandbox must not reach; killed on drop.
struct HostSleep(Child);

impl HostSleep {
    fn start() -> HostSleep {
        HostSleep(
            Command::new("sleep")
                .arg("600")
                .spawn()
                .expect("a host sleep"),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn assert_alive(&mut self) {
        assert!(
            self.0.try_wait().expect("try_wait").is_none(),
            "the host sleep was killed from the sandbox"
        );
        assert_eq!(tracer(self.pid()), 0, "the host sleep is traced");
    }
}

impl Drop for HostSleep {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_field(pid: u32, key: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.trim().to_string())
}

fn tracer(pid: u32) -> u32 {
    status_field(pid, "TracerPid")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn nothing_escapes_do() {
    require!(sandbox());
    let prog = require!(static_c_program("escape"));
    let dir = scratch_dir().join(unique_name("escape-do"));
    std::fs::create_dir_all(&dir).unwrap();
    // A host socket the sandbox sees (`do` serves the host's root) but
    // that no flag or spec allows.
    let sock = dir.join("host.sock");
    let listeners = Listeners::new(Some((&sock, sock.to_str().unwrap())));
    let mut sleep = HostSleep::start();
    let host = HostState::read();
    let mut args = vec![
        "--network=none".to_string(),
        "do".into(),
        prog.to_str().unwrap().into(),
        format!("pid=hostsleep:{}", sleep.pid()),
    ];
    args.extend(listeners.args.iter().cloned());
    let o = tests::runsc_command()
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .expect("runsc-rs do");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let mut expected: Vec<String> = ALWAYS.iter().map(|s| s.to_string()).collect();
    expected.extend(process_cases("hostsleep"));
    expected.push("tcp_host_listener".into());
    expected.push("host_unix_socket".into());
    expected.extend((0..listeners.udp_sends()).map(|i| format!("udp_send_{i}")));
    assert_all_blocked(&out, &err, &expected);

    sleep.assert_alive();
    host.assert_unchanged();
    listeners.assert_untouched();
    // Everything the program made lived in the sandbox's memory.
    let left: Vec<_> = std::fs::read_dir("/tmp")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            [
                "escape-root",
                "escape-link",
                "escape-jail",
                "escape-mnt",
                "escape-dev",
            ]
            .iter()
            .any(|p| n.starts_with(p))
        })
        .collect();
    assert!(left.is_empty(), "left on the host: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every file under `dir` with its type, size, mode and owner.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, u64, u32, u32)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let m = e.path().symlink_metadata().expect("metadata");
            if m.is_dir() {
                todo.push(e.path());
            }
            let size = if m.is_dir() { 0 } else { m.size() };
            out.insert(e.path(), (m.mode(), size, m.uid(), m.gid()));
        }
    }
    out
}

/// The host pids of the container's Sentry, one of its stubs and its
/// Gofer: the Sentry and the Gofer carry the bundle's environment tag;
/// a stub is a child of the Sentry (with nothing of its memory left).
/// Under the KVM platform there is no stub: the application runs on the
/// Sentry's vCPUs, so there is no such process to attack.
fn sandbox_pids(b: &Bundle) -> (u32, Option<u32>, u32) {
    let has_stubs = tests::test_platform() != "kvm";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (mut sentry, mut gofer) = (None, None);
        for line in b.leftover_processes() {
            let pid: u32 = line.split(':').next().unwrap().parse().unwrap();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            match comm.trim() {
                "runsc-rs-gofer" => gofer = Some(pid),
                "runsc-rs-sentry" => sentry = Some(pid),
                _ => {}
            }
        }
        let stub = sentry.and_then(|s| {
            std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .find(|&p| status_field(p, "PPid").and_then(|v| v.parse().ok()) == Some(s))
        });
        if let (Some(s), Some(g)) = (sentry, gofer) {
            if !has_stubs {
                return (s, None, g);
            }
            if let Some(t) = stub {
                return (s, Some(t), g);
            }
        }
        assert!(Instant::now() < deadline, "no sandbox processes");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn escape_container(overlay: &str) {
    require!(sandbox());
    let prog = require!(static_c_program("escape"));
    let b = require!(Bundle::busybox("escape", &["sleep", "600"], |_| {}));
    let rootfs = b.dir.join("rootfs");
    std::fs::copy(&prog, rootfs.join("bin/escape")).unwrap();
    // A host socket inside the root, which the spec does not bind in.
    let listeners = Listeners::new(Some((&rootfs.join("tmp/host.sock"), "/tmp/host.sock")));
    let mut sleep = HostSleep::start();
    let host = HostState::read();
    let flags = [format!("--overlay={overlay}"), "--network=none".into()];
    let mut run: Vec<&str> = flags.iter().map(String::as_str).collect();
    run.extend(["run", "--detach", "c1"]);
    let st = b
        .runtime_cmd(&run)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("runsc-rs run");
    assert!(st.success(), "run --detach");
    let (sentry, stub, gofer) = sandbox_pids(&b);
    // After the start, which made the spec's mount points (a
    // write-through root shows them).
    let before = snapshot(&b.dir);
    let mut exec: Vec<String> = vec![
        "exec".into(),
        "c1".into(),
        "/bin/escape".into(),
        "outside=config.json".into(),
        format!("pid=sentry:{sentry}"),
        format!("pid=gofer:{gofer}"),
        format!("pid=hostsleep:{}", sleep.pid()),
    ];
    exec.extend(stub.map(|t| format!("pid=stub:{t}")));
    exec.extend(listeners.args.iter().cloned());
    let exec: Vec<&str> = exec.iter().map(String::as_str).collect();
    let o = b.runtime(&exec);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let mut expected: Vec<String> = ALWAYS.iter().chain(WALKS).map(|s| s.to_string()).collect();
    let mut labels = vec!["sentry", "gofer", "hostsleep"];
    if stub.is_some() {
        labels.push("stub");
    }
    for label in labels {
        expected.extend(process_cases(label));
    }
    expected.push("tcp_host_listener".into());
    expected.push("host_unix_socket".into());
    expected.extend((0..listeners.udp_sends()).map(|i| format!("udp_send_{i}")));
    assert_all_blocked(&out, &err, &expected);

    // The sandbox's processes are alive, untraced, and still serve it.
    for pid in [sentry, gofer].into_iter().chain(stub) {
        assert!(Path::new(&format!("/proc/{pid}")).exists(), "{pid} is gone");
    }
    assert_eq!(tracer(sentry), 0, "the Sentry is traced");
    assert_eq!(tracer(gofer), 0, "the Gofer is traced");
    if let Some(stub) = stub {
        assert_traced_by_the_sentry(stub, sentry);
    }
    let o = b.runtime(&["exec", "c1", "cat", "/proc/1/cmdline"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = b.runtime(&["delete", "--force", "c1"]);
    assert!(o.status.success(), "{:?}", text(&o));
    sleep.assert_alive();
    host.assert_unchanged();
    listeners.assert_untouched();
    assert_eq!(before, snapshot(&b.dir), "the bundle changed");
}

/// A stub is traced by a Sentry thread, or by nothing between calls.
fn assert_traced_by_the_sentry(stub: u32, sentry: u32) {
    let t = tracer(stub);
    if t != 0 {
        let tgid = status_field(t, "Tgid").and_then(|v| v.parse().ok());
        assert_eq!(tgid, Some(sentry), "the stub {stub} is traced by {t}");
    }
}

#[test]
fn nothing_escapes_a_container_over_a_memory_overlay() {
    escape_container("memory");
}

#[test]
fn nothing_escapes_a_container_written_through() {
    escape_container("none");
}
