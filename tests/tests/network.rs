//! The sandbox's network at boot, on network namespaces the tests make
//! (`ip netns`, a veth pair between two of them, 10.213.x addresses that
//! exist only there): a container takes the interfaces of its own
//! namespace and the host side loses their addresses; `--network=none`,
//! `--network=host`, a container that shares its caller's namespace, and
//! `do` take nothing.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tests::bundle::{text, Bundle};
use tests::{accept_line, require, sandbox};

const IP: &str = "/bin/ip";
/// The container's side of the veth and its address.
const INNER_ADDR: &str = "10.213.0.2";
const OUTER_ADDR: &str = "10.213.0.1";

fn requirements() -> Result<(), String> {
    sandbox()?;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Err("network namespaces and veth pairs need root".into());
    }
    tests::host_program(IP, "iproute2").map(|_| ())
}

fn ip(args: &[&str]) -> String {
    let o = std::process::Command::new(IP)
        .args(args)
        .output()
        .expect("run ip");
    assert!(o.status.success(), "ip {args:?}: {:?}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A named network namespace; removed on drop.
struct NetNs(String);

impl NetNs {
    fn new(name: String) -> NetNs {
        ip(&["netns", "add", &name]);
        NetNs(name)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new(IP)
            .args(["netns", "del", &self.0])
            .status();
    }
}

/// A pair of named network namespaces joined by a veth: `eth0`
/// (10.213.0.2/24, default route via the outer end) in `inner`, its peer
/// (10.213.0.1/24) in `outer`. Nothing of the test's own namespace is
/// touched.
struct Wire {
    inner: NetNs,
    outer: NetNs,
}

impl Wire {
    fn new(tag: &str) -> Wire {
        let n = tests::unique_name(tag);
        let inner = NetNs::new(format!("{n}-in"));
        let outer = NetNs::new(format!("{n}-out"));
        let (i, o) = (inner.0.as_str(), outer.0.as_str());
        ip(&[
            "-n", o, "link", "add", "veth-out", "type", "veth", "peer", "name", "eth0", "netns", i,
        ]);
        ip(&[
            "-n",
            o,
            "addr",
            "add",
            &format!("{OUTER_ADDR}/24"),
            "dev",
            "veth-out",
        ]);
        ip(&["-n", o, "link", "set", "veth-out", "up"]);
        ip(&[
            "-n",
            i,
            "addr",
            "add",
            &format!("{INNER_ADDR}/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", i, "link", "set", "eth0", "up"]);
        ip(&["-n", i, "link", "set", "lo", "up"]);
        ip(&["-n", i, "route", "add", "default", "via", OUTER_ADDR]);
        Wire { inner, outer }
    }

    fn name(&self) -> &str {
        &self.inner.0
    }

    fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(self.name())
    }

    /// Runs `f` on a thread of its own in the outer namespace: sockets it
    /// makes stay there when it returns them.
    fn in_outer<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns = std::fs::File::open(PathBuf::from("/run/netns").join(&self.outer.0))
            .expect("the outer namespace");
        std::thread::spawn(move || {
            nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("the thread in the outer namespace panicked")
    }

    /// eth0's addresses as the inner namespace's host kernel has them.
    fn inner_addrs(&self) -> Vec<String> {
        let j: Value = serde_json::from_str(&ip(&[
            "-n",
            self.name(),
            "-j",
            "addr",
            "show",
            "dev",
            "eth0",
        ]))
        .expect("ip -j prints JSON");
        j[0]["addr_info"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["local"].as_str().map(str::to_string))
            .collect()
    }

    fn inner_mac(&self) -> String {
        let j: Value = serde_json::from_str(&ip(&[
            "-n",
            self.name(),
            "-j",
            "link",
            "show",
            "dev",
            "eth0",
        ]))
        .expect("ip -j prints JSON");
        j[0]["address"]
            .as_str()
            .expect("eth0 has a MAC")
            .to_string()
    }
}

/// What the sandbox shows of its interfaces.
const SHOW: &[&str] = &[
    "sh",
    "-c",
    "ls /sys/class/net; cat /sys/class/net/eth0/address /sys/class/net/eth0/mtu 2>/dev/null; true",
];

fn bundle(name: &str, netns: Option<&PathBuf>) -> Result<Bundle, String> {
    Bundle::busybox(name, SHOW, |c| {
        if let Some(p) = netns {
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces")
                .push(json!({"type": "network", "path": p}));
        }
    })
}

#[test]
fn a_container_takes_its_namespaces_interface_and_the_host_side_loses_its_address() {
    require!(requirements());
    let w = Wire::new("rt-take");
    let mac = w.inner_mac();
    assert!(w.inner_addrs().contains(&INNER_ADDR.to_string()));
    let b = require!(bundle("net-take", Some(&w.path())));
    let logs = b.dir.join("logs");
    let log_flag = format!("--debug-log={}/", logs.display());
    let o = b.runtime(&[&log_flag, "run", "c"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(out, format!("eth0\nlo\n{mac}\n1500\n"), "stderr: {err}");
    assert!(
        w.inner_addrs().is_empty(),
        "the host side still has {:?}",
        w.inner_addrs()
    );
    let boot: String = tests::read_logs(&logs)
        .into_iter()
        .filter(|(name, _)| name.starts_with("boot"))
        .map(|(_, t)| t)
        .collect();
    assert!(
        boot.contains("took interface eth0") && boot.contains(&format!("{INNER_ADDR}/24")),
        "{boot}"
    );
    assert!(
        boot.contains(&format!("route 0.0.0.0/0 via {OUTER_ADDR} dev eth0")),
        "the default route is kept: {boot}"
    );
}

/// The taken interface carries the sandbox's traffic: a connection from
/// the container to a server at the veth's other end (ARP, then TCP), and
/// `--log-packets` logs its frames.
#[test]
fn a_container_reaches_the_other_end_of_its_veth_and_log_packets_shows_the_frames() {
    require!(requirements());
    let w = Wire::new("rt-wire");
    let listener = w.in_outer(|| std::net::TcpListener::bind((OUTER_ADDR, 0)).expect("listen"));
    let port = listener.local_addr().unwrap().port();
    let done = Arc::new(AtomicBool::new(false));
    let client_done = done.clone();
    let server = std::thread::spawn(move || accept_line(&listener, &client_done));
    let send = format!("echo hello from the sandbox | busybox nc -w 10 {OUTER_ADDR} {port}");
    let b = require!(Bundle::busybox("net-wire", &["sh", "-c", &send], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "network", "path": w.path()}));
    }));
    let logs = b.dir.join("logs");
    let log_flag = format!("--debug-log={}/", logs.display());
    let o = b.runtime(&["--log-packets", &log_flag, "run", "c"]);
    done.store(true, Ordering::SeqCst);
    let got = server.join().unwrap();
    let (out, err) = text(&o);
    assert_eq!(got.as_deref(), Ok("hello from the sandbox"), "{out}{err}");
    let boot: String = tests::read_logs(&logs)
        .into_iter()
        .filter(|(name, _)| name.starts_with("boot"))
        .map(|(_, t)| t)
        .collect();
    let frames: Vec<&str> = boot
        .lines()
        .filter(|l| l.contains("eth0 tx") || l.contains("eth0 rx"))
        .collect();
    assert!(
        frames
            .iter()
            .any(|l| l.contains(INNER_ADDR) && l.contains(OUTER_ADDR)),
        "no frame between the two ends logged: {boot}"
    );
}

/// `none` has loopback only; under `host` inet sockets are host sockets
/// and the namespace's interfaces stay the host's: the sandbox is shown
/// them (as read at boot), and they keep their addresses.
#[test]
fn network_none_and_host_leave_the_namespaces_interfaces_alone() {
    require!(requirements());
    let w = Wire::new("rt-none");
    let b = require!(bundle("net-none", Some(&w.path())));
    for (flag, shown) in [("--network=none", false), ("--network=host", true)] {
        let o = b.runtime(&[flag, "run", "c"]);
        let (out, err) = text(&o);
        let first = out.lines().next().unwrap_or_default();
        assert_eq!(o.status.code(), Some(0), "{flag}: {err}");
        assert_eq!(first == "eth0", shown, "{flag}: {out}{err}");
    }
    assert!(
        w.inner_addrs().contains(&INNER_ADDR.to_string()),
        "{:?}",
        w.inner_addrs()
    );
}

/// A container that shares its caller's network namespace (here the
/// test's `inner` namespace, standing for the host's) takes nothing,
/// whether the spec names no namespace or names the caller's by path, as
/// Docker's `--network=host` does (dockerd's own namespace).
#[test]
fn a_container_in_its_callers_network_namespace_takes_nothing() {
    require!(requirements());
    let w = Wire::new("rt-host");
    for netns in [None, Some(w.path())] {
        let b = require!(bundle("net-host", netns.as_ref()));
        let mut cmd = std::process::Command::new(IP);
        cmd.args(["netns", "exec", w.name()]);
        let inner = b.runtime_cmd(&["run", "c"]);
        cmd.arg(inner.get_program()).args(inner.get_args());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd.current_dir(&b.dir);
        let o = cmd.output().expect("run runsc-rs");
        let (out, err) = text(&o);
        assert_eq!(
            (o.status.code(), out.as_str()),
            (Some(0), "lo\n"),
            "{netns:?}: {err}"
        );
    }
    assert!(
        w.inner_addrs().contains(&INNER_ADDR.to_string()),
        "{:?}",
        w.inner_addrs()
    );
}

#[test]
fn do_never_takes_the_callers_interfaces() {
    require!(requirements());
    let w = Wire::new("rt-do");
    let mut argv = vec![
        IP.to_string(),
        "netns".into(),
        "exec".into(),
        w.name().to_string(),
        tests::runsc_bin().to_string_lossy().into_owned(),
    ];
    argv.extend(tests::global_flags());
    argv.push("do".into());
    argv.extend(SHOW.iter().map(|s| s.to_string()));
    let o = tests::Cmd::new(&argv).run_native();
    // `do`'s default is the host's network: the namespace's interfaces
    // are shown as they are, not taken (the address check below).
    assert!(
        o.status == 0 && o.stdout.starts_with("eth0\nlo\n"),
        "{}",
        o.describe()
    );
    assert!(
        w.inner_addrs().contains(&INNER_ADDR.to_string()),
        "{:?}",
        w.inner_addrs()
    );
}

/// Docker's way: the spec asks for a new network namespace, and a
/// prestart hook (libnetwork-setkey) moves the container's veth into the
/// namespace of the state's pid and configures it. The Sentry boots after
/// the hooks, so it finds the interface there and takes it.
#[test]
fn an_interface_a_prestart_hook_moves_in_is_taken() {
    require!(requirements());
    require!(tests::host_program("/usr/bin/nsenter", "util-linux"));
    let outer = NetNs::new(tests::unique_name("rt-hook"));
    let script = format!(
        r#"pid=$(/bin/sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
/bin/ip -n {o} link add veth-out type veth peer name eth0 netns "$pid" &&
/bin/ip -n {o} addr add {OUTER_ADDR}/24 dev veth-out &&
/bin/ip -n {o} link set veth-out up &&
/usr/bin/nsenter --net=/proc/"$pid"/ns/net /bin/sh -c '
  /bin/ip addr add {INNER_ADDR}/24 dev eth0 &&
  /bin/ip link set eth0 up &&
  /bin/ip route add default via {OUTER_ADDR}'"#,
        o = outer.0
    );
    let b = require!(Bundle::busybox("net-hook", SHOW, |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "network"}));
        c["hooks"] = json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    }));
    let o = b.runtime(&["run", "c"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        (lines.first(), lines.get(1), lines.get(3)),
        (Some(&"eth0"), Some(&"lo"), Some(&"1500")),
        "{out}{err}"
    );
}

/// Datagrams past the MTU cross the veth in IPv4 fragments both ways, as
/// between two Linux hosts: the container sends 20,000 bytes (the stack
/// fragments, the outer kernel reassembles), is pinged with 4,000 bytes
/// (the stack reassembles the request and fragments its reply), and
/// receives 30,000 bytes (the outer kernel fragments, the stack
/// reassembles); every byte arrives.
#[test]
fn datagrams_past_the_mtu_cross_in_ipv4_fragments_both_ways() {
    require!(requirements());
    let w = Wire::new("rt-frag");
    fragments_both_ways(&w, OUTER_ADDR, INNER_ADDR);
}

/// The same in IPv6 fragments (Fragment headers), over addresses the
/// test adds to the veth's ends.
#[test]
fn datagrams_past_the_mtu_cross_in_ipv6_fragments_both_ways() {
    require!(requirements());
    let w = Wire::new("rt-frag6");
    let (outer, inner) = ("fd00:213::1", "fd00:213::2");
    let (o, i) = (w.outer.0.as_str(), w.inner.0.as_str());
    // nodad: the addresses are usable at once.
    let outer_net = format!("{outer}/64");
    ip(&[
        "-n", o, "addr", "add", &outer_net, "dev", "veth-out", "nodad",
    ]);
    let inner_net = format!("{inner}/64");
    ip(&["-n", i, "addr", "add", &inner_net, "dev", "eth0", "nodad"]);
    fragments_both_ways(&w, outer, inner);
}

/// The container sends 20,000 bytes to `outer`, is pinged with 4,000
/// bytes and receives 30,000 bytes back; every byte arrives.
fn fragments_both_ways(w: &Wire, outer_addr: &'static str, inner_addr: &'static str) {
    let program = require!(tests::static_c_program("udp_fragments"));
    let outer = w.outer.0.clone();
    let udp = w.in_outer(move || std::net::UdpSocket::bind((outer_addr, 0)).expect("bind"));
    let port = udp.local_addr().unwrap().port();
    let pattern = |n: usize| -> Vec<u8> { (0..n).map(|i| ((i * 31 + 7) % 251) as u8).collect() };
    let server = std::thread::spawn(move || -> Result<(usize, bool, String), String> {
        udp.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut buf = vec![0u8; 65536];
        let (n, from) = udp.recv_from(&mut buf).map_err(|e| e.to_string())?;
        let intact = buf[..n] == pattern(n)[..];
        let ping = std::process::Command::new(IP)
            .args([
                "netns", "exec", &outer, "ping", "-c", "1", "-W", "10", "-s", "4000",
            ])
            .arg(inner_addr)
            .output()
            .map_err(|e| e.to_string())?;
        let ping = String::from_utf8_lossy(&ping.stdout).into_owned();
        udp.send_to(&pattern(30000), from)
            .map_err(|e| e.to_string())?;
        Ok((n, intact, ping))
    });
    let port_s = port.to_string();
    let b = require!(Bundle::busybox(
        "net-frag",
        &["/bin/udp_fragments", outer_addr, &port_s, "20000"],
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .expect("namespaces")
                .push(json!({"type": "network", "path": w.path()}));
        }
    ));
    std::fs::copy(&program, b.dir.join("rootfs/bin/udp_fragments")).expect("copy the program");
    let o = b.runtime(&["run", "c"]);
    let (out, err) = text(&o);
    let (n, intact, ping) = server.join().unwrap().expect("the outer end's side");
    assert_eq!((n, intact), (20000, true), "{out}{err}");
    assert!(
        ping.contains("1 received") && ping.contains("4008 bytes from"),
        "the 4,000-byte ping: {ping}"
    );
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(out, "sent 20000\nreceived 30000, pattern intact\n", "{err}");
}

/// The router of `net_unreachable.c`'s topology, in the outer
/// namespace: it forwards, blackholes 10.214.0.0/24, prohibits
/// 10.215.0.0/24, has no route for 10.217.0.0/24, and owns 10.216.0.1
/// (on its loopback) until told to blackhole it.
fn make_router(w: &Wire) {
    let o = w.outer.0.as_str();
    let forward = std::process::Command::new(IP)
        .args(["netns", "exec", o, "sh", "-c"])
        .arg("echo 1 > /proc/sys/net/ipv4/ip_forward")
        .status()
        .expect("run ip netns exec");
    assert!(forward.success(), "enable forwarding");
    ip(&["-n", o, "link", "set", "lo", "up"]);
    ip(&["-n", o, "addr", "add", "10.216.0.1/32", "dev", "lo"]);
    ip(&["-n", o, "route", "add", "blackhole", "10.214.0.0/24"]);
    ip(&["-n", o, "route", "add", "prohibit", "10.215.0.0/24"]);
    ip(&["-n", o, "route", "add", "unreachable", "10.217.0.0/24"]);
}

/// Serves `net_unreachable.c`'s vanishing peer: accepts one connection
/// on 10.216.0.1, reads 64 KiB of it, then blackholes 10.216.0.1 and
/// holds the connection (answering nothing) until `done`.
fn vanishing_server(w: &Wire, done: Arc<AtomicBool>) -> (u16, std::thread::JoinHandle<()>) {
    use std::io::Read;
    let l = w.in_outer(|| std::net::TcpListener::bind(("10.216.0.1", 0)).expect("listen"));
    let port = l.local_addr().unwrap().port();
    let o = w.outer.0.clone();
    let t = std::thread::spawn(move || {
        l.set_nonblocking(true).unwrap();
        let mut conn = loop {
            match l.accept() {
                Ok((c, _)) => break c,
                Err(_) if done.load(Ordering::SeqCst) => return,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut got = 0;
        let mut buf = vec![0u8; 65536];
        while got < 65536 {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        ip(&["-n", &o, "addr", "del", "10.216.0.1/32", "dev", "lo"]);
        ip(&["-n", &o, "route", "add", "blackhole", "10.216.0.1/32"]);
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        drop(conn);
    });
    (port, t)
}

/// What a socket hears when the network does not answer, natively and in
/// the sandbox over the same topology (`net_unreachable.c`): refusals,
/// a router's ICMP errors, a neighbour that never answers ARP
/// (EHOSTUNREACH), SYNs dropped (ETIMEDOUT after TCP_SYNCNT or
/// net.ipv4.tcp_syn_retries), and an established connection whose peer
/// vanishes (ETIMEDOUT after TCP_USER_TIMEOUT).
#[test]
fn unanswered_connections_fail_with_linuxs_errors() {
    require!(requirements());
    let program = require!(tests::static_c_program("net_unreachable"));
    let run = |sandboxed: bool| -> (String, String) {
        let w = Wire::new(if sandboxed { "rt-unr-s" } else { "rt-unr-n" });
        make_router(&w);
        let done = Arc::new(AtomicBool::new(false));
        let (port, server) = vanishing_server(&w, done.clone());
        let port = port.to_string();
        let (out, err) = if sandboxed {
            let b = require_bundle(&w, &port);
            std::fs::copy(&program, b.dir.join("rootfs/bin/net_unreachable"))
                .expect("copy the program");
            let o = b.runtime(&["run", "c"]);
            text(&o)
        } else {
            let o = std::process::Command::new(IP)
                .args(["netns", "exec", w.name()])
                .arg(&program)
                .arg(&port)
                .output()
                .expect("run the program natively");
            text(&o)
        };
        done.store(true, Ordering::SeqCst);
        server.join().unwrap();
        (out, err)
    };
    let (native, nerr) = run(false);
    for line in [
        "silent neighbour: connect EHOSTUNREACH",
        "blackholed, TCP_SYNCNT 1: connect ETIMEDOUT",
        "vanishing peer: send ETIMEDOUT (after more than 64 KiB)",
    ] {
        assert!(native.contains(line), "native: {native}{nerr}");
    }
    let (sandboxed, serr) = run(true);
    assert_eq!(sandboxed, native, "sandbox stderr: {serr}");
}

fn require_bundle(w: &Wire, port: &str) -> Bundle {
    Bundle::busybox("net-unr", &["/bin/net_unreachable", port], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .expect("namespaces")
            .push(json!({"type": "network", "path": w.path()}));
    })
    .expect("a busybox bundle")
}

/// Multicast natively and in the sandbox over the same veth
/// (`udp_multicast.c`): the options and their errors, joining and
/// leaving, and delivery to every socket on the port, of the host's own
/// datagrams (IP_MULTICAST_LOOP) and of those the other end sends to the
/// group.
#[test]
fn multicast_groups_deliver_to_every_member_as_on_linux() {
    require!(requirements());
    let program = require!(tests::static_c_program("udp_multicast"));
    let run = |sandboxed: bool| -> (String, String) {
        let w = Wire::new(if sandboxed { "rt-mc-s" } else { "rt-mc-n" });
        ip(&[
            "-n",
            &w.outer.0,
            "route",
            "add",
            "224.0.0.0/4",
            "dev",
            "veth-out",
        ]);
        let sender = w.in_outer(|| std::net::UdpSocket::bind((OUTER_ADDR, 0)).expect("bind"));
        let port = 20000 + (std::process::id() % 20000) as u16;
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let peer = std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let _ = sender.send_to(b"from-peer", ("239.1.2.3", port));
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        let port = port.to_string();
        let (out, err) = if sandboxed {
            let b = Bundle::busybox("net-mc", &["/bin/udp_multicast", &port], |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .expect("namespaces")
                    .push(json!({"type": "network", "path": w.path()}));
            })
            .expect("a busybox bundle");
            std::fs::copy(&program, b.dir.join("rootfs/bin/udp_multicast"))
                .expect("copy the program");
            text(&b.runtime(&["run", "c"]))
        } else {
            text(
                &std::process::Command::new(IP)
                    .args(["netns", "exec", w.name()])
                    .arg(&program)
                    .arg(&port)
                    .output()
                    .expect("run the program natively"),
            )
        };
        done.store(true, Ordering::SeqCst);
        peer.join().unwrap();
        (out, err)
    };
    let (native, nerr) = run(false);
    for line in [
        "C got from-peer",
        "C got one",
        "A got three",
        "join again: EADDRINUSE",
    ] {
        assert!(native.contains(line), "native: {native}{nerr}");
    }
    let (sandboxed, serr) = run(true);
    assert_eq!(sandboxed, native, "sandbox stderr: {serr}");
}
