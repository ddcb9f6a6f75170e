//! ping inside a sandbox without a network (`--network=none`): the
//! stack's loopback answers echo requests, and ping's output is native's
//! but for the times. Debian's busybox ping uses a raw ICMP socket (the
//! sandbox runs it as root); iputils' ping, when installed, a ping socket.

use std::time::Duration;

use tests::{host_program, require, sandbox, static_host_program, Cmd};

const BUSYBOX: &str = "/bin/busybox";
const IPUTILS_PING: &str = "/usr/bin/ping";

/// ping's output with its times left out: a reply's `time=...`, iputils'
/// `, time NNNms` and the closing min/avg/max line's numbers.
fn without_times(out: &str) -> String {
    out.lines()
        .map(|l| {
            let l = l.split(" time=").next().unwrap_or(l);
            let l = l.split(", time ").next().unwrap_or(l);
            match l.split_once(" = ") {
                Some((head, _)) if head.contains("min/avg/max") => format!("{head} = T"),
                _ => l.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ping_matches_native(argv: &[&str]) {
    let cmd = Cmd::new(argv)
        .flags(&["--network=none"])
        .timeout(Duration::from_secs(60));
    let native = cmd.run_native();
    assert_eq!(
        native.status,
        0,
        "native ping fails:\n{}",
        native.describe()
    );
    let sandboxed = cmd.run_sandboxed();
    assert_eq!(sandboxed.status, 0, "{}", sandboxed.describe());
    assert_eq!(
        without_times(&native.stdout),
        without_times(&sandboxed.stdout),
        "\n===== native =====\n{}\n===== sandboxed =====\n{}",
        native.describe(),
        sandboxed.describe()
    );
}

#[test]
fn busybox_ping_of_127_0_0_1_over_a_raw_socket_matches_native() {
    require!(sandbox());
    require!(static_host_program(BUSYBOX, "busybox-static"));
    ping_matches_native(&[BUSYBOX, "ping", "-c", "3", "127.0.0.1"]);
}

#[test]
fn busybox_ping_of_ipv6_loopback_over_a_raw_socket_matches_native() {
    require!(sandbox());
    require!(static_host_program(BUSYBOX, "busybox-static"));
    ping_matches_native(&[BUSYBOX, "ping", "-6", "-c", "3", "::1"]);
}

#[test]
fn iputils_ping_of_both_loopbacks_matches_native() {
    require!(sandbox());
    require!(host_program(IPUTILS_PING, "iputils-ping"));
    ping_matches_native(&[IPUTILS_PING, "-c", "2", "-i", "0.2", "127.0.0.1"]);
    ping_matches_native(&[IPUTILS_PING, "-6", "-c", "2", "-i", "0.2", "::1"]);
}

#[test]
fn times_are_left_out_of_pings_output() {
    let busybox = "64 bytes from ::1: seq=0 ttl=64 time=0.316 ms\n\
                   round-trip min/avg/max = 0.165/0.216/0.316 ms";
    assert_eq!(
        without_times(busybox),
        "64 bytes from ::1: seq=0 ttl=64\nround-trip min/avg/max = T"
    );
    let iputils = "2 packets transmitted, 2 received, 0% packet loss, time 1013ms";
    assert_eq!(
        without_times(iputils),
        "2 packets transmitted, 2 received, 0% packet loss"
    );
}
