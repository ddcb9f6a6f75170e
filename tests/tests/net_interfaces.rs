//! The network as applications see it with loopback alone: NETLINK_ROUTE
//! sockets, the interface ioctls, getifaddrs(3), iproute2 and the
//! /proc/net interface files. Each command runs natively in a fresh
//! network namespace where only `lo` is up (`unshare -rn`: root, or
//! unprivileged user namespaces) and in the sandbox with `--network=none`
//! (loopback alone); stdout and exit status must be the same.
//!
//! One difference is allowed, and only while the sandbox has no AF_INET
//! sockets: the address ioctls (SIOCGIFADDR ...) need one, and so does
//! `ip -6 addr`'s queue length (it asks SIOCGIFTXQLEN on an AF_INET
//! socket, and prints nothing when it cannot make one). Every other line
//! must match as Linux prints it.

use std::io::Write;
use std::process::Command;

use tests::{assert_same, c_program, go_program, host_program, require, sandbox, Cmd, Output};

/// Whether this machine can make a network namespace for the native
/// runs (root, or unprivileged user namespaces), with iproute2 to bring
/// its loopback up.
fn netns() -> Result<(), String> {
    host_program("/usr/bin/unshare", "util-linux")?;
    ip()?;
    let ok = Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(
            "`unshare -rn` fails: a network namespace needs root or unprivileged user namespaces"
                .into(),
        )
    }
}

fn ip() -> Result<std::path::PathBuf, String> {
    host_program("/usr/sbin/ip", "iproute2").or_else(|_| host_program("/sbin/ip", "iproute2"))
}

/// `script` natively in a new network namespace with lo up, and in the
/// sandbox with loopback alone.
fn both(script: &str) -> (Output, Output) {
    let native = Cmd::new(&[
        "unshare",
        "-rn",
        "sh",
        "-c",
        &format!("ip link set lo up && {script}"),
    ])
    .run_native();
    let sandboxed = Cmd::new(&["sh", "-c", script])
        .flags(&["--network=none"])
        .run_sandboxed();
    (native, sandboxed)
}

/// Whether the sandbox makes AF_INET sockets yet.
fn sandbox_has_inet(program: &str) -> bool {
    let out = Cmd::new(&[program, "--probe-inet"])
        .flags(&["--network=none"])
        .run_sandboxed();
    out.assert_success();
    out.stdout == "inet\n"
}

/// Says on the real stderr (the test runner does not capture it) what
/// was left out.
fn note_no_inet(what: &str) {
    let _ = writeln!(
        std::io::stderr(),
        "\n*** NOTE: the sandbox has no AF_INET sockets yet: {what} not compared ***"
    );
}

/// Socket kinds, port ids, dumps read with MSG_PEEK|MSG_TRUNC, one link
/// by index or name, acks and errors, strict checking with extended
/// acks, options, poll, read/write, and hostile messages.
#[test]
fn netlink_route_sockets_answer_as_linux_does() {
    require!(sandbox());
    require!(netns());
    let program = require!(c_program("netlink_route"));
    let (native, sandboxed) = both(program.to_str().expect("utf-8 path"));
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "netlink_route fails natively: the test program is wrong\n{}",
        native.describe()
    );
    assert_same(&native, &sandboxed);
}

/// getifaddrs, if_nameindex, and SIOCGIFCONF, SIOCGIFFLAGS, SIOCGIFINDEX,
/// SIOCGIFNAME, SIOCGIFHWADDR, SIOCGIFMTU, SIOCGIFTXQLEN ... on AF_UNIX
/// and AF_NETLINK sockets, ENODEV for unknown names; the address ioctls
/// on an AF_INET socket.
#[test]
fn getifaddrs_and_interface_ioctls_match_linux() {
    require!(sandbox());
    require!(netns());
    let program = require!(c_program("net_interfaces"));
    let program = program.to_str().expect("utf-8 path");
    let mut script = program.to_string();
    if !sandbox_has_inet(program) {
        note_no_inet("SIOCGIFADDR, SIOCGIFNETMASK, SIOCGIFBRDADDR, SIOCGIFDSTADDR");
        script += " --no-inet";
    }
    let (native, sandboxed) = both(&script);
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "net_interfaces fails natively: the test program is wrong\n{}",
        native.describe()
    );
    assert_same(&native, &sandboxed);
}

/// Go's net package parses the dumps itself, with a page-sized buffer.
#[test]
fn go_net_interfaces_match_linux() {
    require!(sandbox());
    require!(netns());
    let program = require!(go_program("net_interfaces"));
    let (native, sandboxed) = both(program.to_str().expect("utf-8 path"));
    assert!(native.stdout.ends_with("PASS\n"), "{}", native.describe());
    assert_same(&native, &sandboxed);
}

/// iproute2 reads links, addresses and routes over netlink (and the queue
/// length of `ip -6` over an ioctl); hostname -I reads getifaddrs. Errors
/// (a missing device, a missing table) go to stderr; their status is
/// compared.
#[test]
fn iproute2_shows_the_same_interfaces_addresses_and_routes() {
    require!(sandbox());
    require!(netns());
    let commands = [
        "ip addr",
        "ip -4 addr",
        "ip link",
        "ip -d link",
        "ip -s link",
        "ip addr show dev lo",
        "ip link show dev lo",
        "ip link show dev nosuch0",
        "ip route",
        "ip -6 route",
        "ip route show table all",
        "ip -6 route show table all",
        "ip route show table local",
        "ip route show table 100",
        "ip -j addr",
        "ip -d -j link",
        "ip -6 -j route show table all",
    ];
    let mut script: String = commands
        .iter()
        .map(|c| format!("echo '== {c}'; {c}; echo rc=$?; "))
        .collect();
    if std::path::Path::new("/usr/bin/hostname").exists() {
        script += "echo '== hostname -I'; hostname -I; echo rc=$?; ";
    }
    let (native, sandboxed) = both(&script);
    assert_eq!(native.status, 0, "{}", native.describe());
    assert_same(&native, &sandboxed);

    let probe = require!(c_program("net_interfaces"));
    let (mut native, sandboxed) = both("ip -6 addr");
    if !sandbox_has_inet(probe.to_str().expect("utf-8 path")) {
        note_no_inet("the queue length `ip -6 addr` asks over an AF_INET socket");
        native.stdout = native.stdout.replace("qlen 1000", "");
    }
    assert_same(&native, &sandboxed);
}

/// /proc/net/{dev,if_inet6,route,ipv6_route} (and /proc/self/net, the
/// same namespace) as Linux prints them for loopback alone.
#[test]
fn proc_net_interface_files_match_linux() {
    require!(sandbox());
    require!(netns());
    let (native, sandboxed) = both(
        "cat /proc/net/dev /proc/net/if_inet6 /proc/net/route /proc/net/ipv6_route; \
         cmp /proc/net/dev /proc/self/net/dev && echo same",
    );
    assert!(native.stdout.ends_with("same\n"), "{}", native.describe());
    assert_same(&native, &sandboxed);
}

/// `--network=host` (`do`'s default): the application's sockets are the
/// host's, and so are the interfaces and routes it is shown (read at
/// boot). Brief and route listings, `hostname -I` and /proc/net/route
/// match the host's; the full `ip addr` may differ in flags of devices the
/// view models as veths (an ifb's NOARP, its queue discipline).
#[test]
fn host_networking_shows_the_hosts_interfaces_and_routes() {
    let ip = require!(ip());
    require!(sandbox());
    let ip = ip.display();
    // The view does not carry a veth's peer link (IFLA_LINK), which `ip`
    // prints as `name@peer`: the names are compared without it (and runs
    // of spaces as one, since `ip -br` pads the name), so a container's
    // veth on the host does not fail the test.
    let script = format!(
        "{{ {ip} -br -4 addr; {ip} -br -6 addr; }} | sed 's/^\\([^ @]*\\)@[^ ]*/\\1/' | tr -s ' '; \
         {ip} -4 route; {ip} -6 route; cat /proc/net/route"
    );
    let cmd = Cmd::new(&["/bin/sh", "-c", &script]);
    let native = cmd.run_native();
    assert_eq!(native.status, 0, "{}", native.describe());
    let sandboxed = cmd.flags(&["--network=host"]).run_sandboxed();
    assert_same(&native, &sandboxed);
}
