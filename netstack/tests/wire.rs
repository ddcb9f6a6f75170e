//! Two stacks joined by a wire: an AF_UNIX datagram pair carries whole
//! Ethernet frames between them, as an AF_PACKET socket would to a veth.

mod common;

use std::net::IpAddr;
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;

use common::*;
use netstack::{InterfaceConfig, RouteConfig, Stack, StackConfig};

fn eth(mac_last: u8, addrs: &[(&str, u8)], frames: UnixDatagram) -> InterfaceConfig {
    InterfaceConfig {
        name: "eth0".into(),
        index: 2,
        mac: [0x02, 0, 0, 0, 0, mac_last],
        mtu: 1500,
        addrs: addrs
            .iter()
            .map(|&(a, p)| (a.parse::<IpAddr>().unwrap(), p))
            .collect(),
        frames: frames.into(),
        vnet_hdr: false,
    }
}

fn wired(
    a: &[(&str, u8)],
    b: &[(&str, u8)],
    a_routes: Vec<RouteConfig>,
) -> (Arc<Stack>, Arc<Stack>) {
    wired_with(a, b, a_routes, false)
}

/// `vnet`: every frame after a virtio-net header, as on a packet socket
/// with PACKET_VNET_HDR; runs of segments then cross as one large frame.
fn wired_with(
    a: &[(&str, u8)],
    b: &[(&str, u8)],
    a_routes: Vec<RouteConfig>,
    vnet: bool,
) -> (Arc<Stack>, Arc<Stack>) {
    let (fa, fb) = UnixDatagram::pair().unwrap();
    let with_vnet = |mut c: InterfaceConfig| {
        c.vnet_hdr = vnet;
        c
    };
    let sa = Stack::new(StackConfig {
        interfaces: vec![with_vnet(eth(1, a, fa))],
        routes: a_routes,
        ..StackConfig::default()
    })
    .unwrap();
    let sb = Stack::new(StackConfig {
        interfaces: vec![with_vnet(eth(2, b, fb))],
        routes: Vec::new(),
        ..StackConfig::default()
    })
    .unwrap();
    (sa, sb)
}

fn tcp_echo(
    client: &Arc<Stack>,
    server: &Arc<Stack>,
    listen: &str,
    to: &str,
) -> std::net::SocketAddr {
    let (l, bound) = listener(server, listen, 4);
    let mut to = addr(to);
    to.set_port(bound.port());
    let c = tcp(client, to.is_ipv6());
    c.connect(to).unwrap();
    let (a, peer) = l.accept();
    // Larger than one segment: the MTU is 1500 here.
    let msg: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let writer = {
        let msg = msg.clone();
        std::thread::spawn(move || {
            c.send_all(&msg).unwrap();
            c
        })
    };
    let got = a.recv_exact(msg.len()).unwrap();
    assert!(got == msg, "bytes changed on the wire");
    let c = writer.join().unwrap();
    a.send_all(b"done").unwrap();
    assert_eq!(c.recv_exact(4).unwrap(), b"done");
    peer
}

#[test]
fn arp_then_tcp_echo_and_a_udp_datagram() {
    let (sa, sb) = wired(&[("10.0.0.1", 24)], &[("10.0.0.2", 24)], Vec::new());
    let peer = tcp_echo(&sa, &sb, "0.0.0.0:0", "10.0.0.2:0");
    assert_eq!(peer.ip().to_string(), "10.0.0.1");

    let srv = udp(&sb, false);
    srv.ep.bind(addr("10.0.0.2:0")).unwrap();
    let c = udp(&sa, false);
    c.send_to(srv.ep.local_addr().unwrap(), b"over the wire")
        .unwrap();
    let (msg, from) = srv.recv_from(100).unwrap();
    assert_eq!(msg, b"over the wire");
    assert_eq!(from.unwrap().ip().to_string(), "10.0.0.1");

    let e = &sa.interfaces()[1];
    assert_eq!((e.name.as_str(), e.index), ("eth0", 2));
    assert!(
        e.rx_packets > 0 && e.tx_packets > 0 && e.tx_bytes > 100_000,
        "{e:?}"
    );
    let r = sa.routes();
    assert!(r
        .iter()
        .any(|r| r.dst.to_string() == "10.0.0.0" && r.prefix == 24));
}

#[test]
fn merged_segments_cross_the_wire_whole_both_ways() {
    let (sa, sb) = wired_with(&[("10.0.0.1", 24)], &[("10.0.0.2", 24)], Vec::new(), true);
    tcp_echo(&sa, &sb, "0.0.0.0:0", "10.0.0.2:0");
    tcp_echo(&sb, &sa, "0.0.0.0:0", "10.0.0.1:0");
    let (sa6, sb6) = wired_with(&[("fd00::1", 64)], &[("fd00::2", 64)], Vec::new(), true);
    tcp_echo(&sa6, &sb6, "[::]:0", "[fd00::2]:0");
}

#[test]
fn ipv6_over_ndp() {
    let (sa, sb) = wired(&[("fd00::1", 64)], &[("fd00::2", 64)], Vec::new());
    let peer = tcp_echo(&sa, &sb, "[::]:0", "[fd00::2]:0");
    assert_eq!(peer.ip().to_string(), "fd00::1");
}

#[test]
fn routes_through_a_gateway() {
    let default = RouteConfig {
        dst: "0.0.0.0".parse().unwrap(),
        prefix: 0,
        gateway: Some("10.0.0.2".parse().unwrap()),
        interface: "eth0".into(),
    };
    let (sa, sb) = wired(
        &[("10.0.0.1", 24)],
        &[("10.0.0.2", 24), ("172.16.9.9", 32)],
        vec![default],
    );
    let peer = tcp_echo(&sa, &sb, "172.16.9.9:0", "172.16.9.9:0");
    assert_eq!(peer.ip().to_string(), "10.0.0.1");
    // Without a route there is no way out.
    let c = tcp(&sb, false);
    assert_eq!(
        c.ep.connect(addr("192.0.2.1:80")),
        Err(netstack::Errno::ENETUNREACH)
    );
}

#[test]
fn own_address_goes_through_loopback() {
    let (sa, _sb) = wired(&[("10.0.0.1", 24)], &[("10.0.0.2", 24)], Vec::new());
    let before = sa.interfaces()[1].tx_packets;
    let peer = tcp_echo(&sa, &sa, "0.0.0.0:0", "10.0.0.1:0");
    assert_eq!(peer.ip().to_string(), "10.0.0.1");
    assert_eq!(
        sa.interfaces()[1].tx_packets,
        before,
        "nothing left by eth0"
    );
}

#[test]
fn broadcast_needs_so_broadcast_and_reaches_wildcard_sockets() {
    let (sa, sb) = wired(&[("10.0.0.1", 24)], &[("10.0.0.2", 24)], Vec::new());
    let srv = udp(&sb, false);
    srv.ep.bind(addr("0.0.0.0:0")).unwrap();
    let port = srv.ep.local_addr().unwrap().port();
    let c = udp(&sa, false);
    let to = addr(&format!("10.0.0.255:{port}"));
    assert_eq!(c.send_to(to, b"all"), Err(netstack::Errno::EACCES));
    c.ep.set_options(&mut |o| o.broadcast = true).unwrap();
    c.send_to(to, b"all").unwrap();
    let (msg, from) = srv.recv_from(10).unwrap();
    assert_eq!(msg, b"all");
    assert_eq!(from.unwrap().ip().to_string(), "10.0.0.1");
}

/// An echo request from a raw endpoint leaves by eth0 (after ARP or NDP),
/// the far stack answers it, and raw endpoints on both sides read what
/// arrived there, NDP's messages among them, as Linux's do.
#[test]
fn raw_echo_crosses_the_wire_both_ways() {
    let (sa, sb) = wired(
        &[("10.0.0.1", 24), ("fd00::1", 64)],
        &[("10.0.0.2", 24), ("fd00::2", 64)],
        Vec::new(),
    );
    for (v6, to) in [(false, "10.0.0.2:0"), (true, "[fd00::2]:0")] {
        let here = sock(&sa, v6, netstack::Proto::Raw);
        let there = sock(&sb, v6, netstack::Proto::Raw);
        let mut req = vec![if v6 { 128 } else { 8 }, 0, 0, 0, 0x42, 0x42, 0, 7];
        req.extend_from_slice(b"across");
        here.send_to(addr(to), &req).unwrap();
        // The ICMP message of the next packet of type `t`, and its sender.
        let next = |s: &Sock, t: u8| loop {
            let (got, from) = s.recv_from(200).unwrap();
            let icmp = if v6 { got } else { got[20..].to_vec() };
            if icmp[0] == t {
                return (icmp, from.unwrap().ip().to_string());
            }
        };
        let (_, from) = next(&there, req[0]);
        assert_eq!(from, if v6 { "fd00::1" } else { "10.0.0.1" });
        let (reply, _) = next(&here, if v6 { 129 } else { 0 });
        assert_eq!(&reply[4..], &req[4..], "identifier, sequence and data kept");
    }
}
