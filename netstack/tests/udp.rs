//! UDP and ping endpoints over loopback.

mod common;

use std::sync::Arc;

use common::*;
use netstack::{Errno, Proto, Stack, StackConfig};

fn stack() -> Arc<Stack> {
    Stack::new(StackConfig::default()).unwrap()
}

fn echo(server_at: &str, client_v6: bool, to: &str) {
    let s = stack();
    let srv = udp(&s, addr(server_at).is_ipv6());
    srv.ep.bind(addr(server_at)).unwrap();
    let port = srv.ep.local_addr().unwrap().port();
    let c = udp(&s, client_v6);
    let mut to = addr(to);
    to.set_port(port);
    assert_eq!(c.send_to(to, b"question").unwrap(), 8);
    let (msg, from) = srv.recv_from(100).unwrap();
    assert_eq!(msg, b"question");
    let from = from.unwrap();
    assert_eq!(from.port(), c.ep.local_addr().unwrap().port());
    srv.send_to(from, b"answer").unwrap();
    let (msg, from) = c.recv_from(100).unwrap();
    assert_eq!(msg, b"answer");
    assert_eq!(from, Some(to));
}

#[test]
fn echo_over_ipv4() {
    echo("127.0.0.1:0", false, "127.0.0.1:0");
}

#[test]
fn echo_over_ipv6() {
    echo("[::1]:0", true, "[::1]:0");
}

#[test]
fn wildcard_v6_socket_takes_v4_datagrams_as_mapped() {
    let s = stack();
    let srv = udp(&s, true);
    srv.ep.bind(addr("[::]:0")).unwrap();
    let port = srv.ep.local_addr().unwrap().port();
    let c = udp(&s, false);
    c.send_to(addr(&format!("127.0.0.1:{port}")), b"hi")
        .unwrap();
    let (_, from) = srv.recv_from(10).unwrap();
    assert_eq!(from.unwrap().ip().to_string(), "::ffff:127.0.0.1");
}

#[test]
fn datagrams_stay_whole_peek_and_truncation() {
    let s = stack();
    let srv = udp(&s, false);
    srv.ep.bind(addr("127.0.0.1:0")).unwrap();
    let to = srv.ep.local_addr().unwrap();
    let c = udp(&s, false);
    c.send_to(to, b"first datagram").unwrap();
    c.send_to(to, b"second").unwrap();
    srv.wait(libc::POLLIN);
    assert_eq!(srv.ep.recv_queue(), 14);
    let (v, info) = srv.try_recv(5, true).unwrap();
    assert_eq!((v.as_slice(), info.full_len), (&b"first"[..], 14));
    // A short read takes the whole datagram.
    let (v, info) = srv.try_recv(5, false).unwrap();
    assert_eq!((v.as_slice(), info.full_len), (&b"first"[..], 14));
    assert_eq!(srv.try_recv(100, false).unwrap().0, b"second");
    assert_eq!(srv.try_recv(100, false).err(), Some(Errno::EAGAIN));
}

#[test]
fn send_errors() {
    let s = stack();
    let c = udp(&s, false);
    assert_eq!(c.send(b"x"), Err(Errno::EDESTADDRREQ));
    let big = vec![0u8; 65508];
    assert_eq!(c.send_to(addr("127.0.0.1:9"), &big), Err(Errno::EMSGSIZE));
    assert_eq!(c.send_to(addr("10.1.2.3:9"), b"x"), Err(Errno::ENETUNREACH));
    let max = vec![7u8; 65507];
    let srv = udp(&s, false);
    srv.ep.set_options(&mut |o| o.recv_buf = 1 << 20).unwrap();
    srv.ep.bind(addr("127.0.0.1:0")).unwrap();
    c.send_to(srv.ep.local_addr().unwrap(), &max).unwrap();
    assert_eq!(srv.recv(70000).unwrap(), max);
}

#[test]
fn connected_socket_filters_and_hears_refusal() {
    let s = stack();
    let a = udp(&s, false);
    a.ep.bind(addr("127.0.0.1:0")).unwrap();
    let b = udp(&s, false);
    b.ep.bind(addr("127.0.0.1:0")).unwrap();
    let other = udp(&s, false);
    a.ep.connect(b.ep.local_addr().unwrap()).unwrap();
    assert_eq!(a.ep.peer_addr(), b.ep.local_addr());
    // Only the peer gets through.
    other
        .send_to(a.ep.local_addr().unwrap(), b"stranger")
        .unwrap();
    b.send_to(a.ep.local_addr().unwrap(), b"peer").unwrap();
    assert_eq!(a.recv(10).unwrap(), b"peer");
    assert_eq!(a.try_recv(10, false).err(), Some(Errno::EAGAIN));
    // A datagram to a closed port comes back as ECONNREFUSED.
    let gone = b.ep.local_addr().unwrap();
    drop(b);
    a.send(b"anyone?").unwrap();
    a.wait(libc::POLLERR);
    assert_eq!(a.try_recv(10, false).err(), Some(Errno::ECONNREFUSED));
    a.ep.disconnect().unwrap();
    assert_eq!(a.ep.peer_addr(), None);
    let _ = gone;
}

#[test]
fn reuse_addr_lets_udp_share_a_port() {
    let s = stack();
    let a = udp(&s, false);
    let b = udp(&s, false);
    a.ep.bind(addr("127.0.0.1:0")).unwrap();
    let at = a.ep.local_addr().unwrap();
    assert_eq!(b.ep.bind(at), Err(Errno::EADDRINUSE));
    let c = udp(&s, false);
    let d = udp(&s, false);
    for x in [&c, &d] {
        x.ep.set_options(&mut |o| o.reuse_addr = true).unwrap();
    }
    c.ep.bind(addr("127.0.0.1:0")).unwrap();
    d.ep.bind(c.ep.local_addr().unwrap()).unwrap();
}

#[test]
fn ping_socket_gets_its_echo_reply() {
    let s = stack();
    for (v6, to, echo) in [(false, "127.0.0.1:0", 8u8), (true, "[::1]:0", 128u8)] {
        let p = sock(&s, v6, Proto::Icmp);
        let mut req = vec![echo, 0, 0, 0, 0, 0, 0, 1];
        req.extend_from_slice(b"payload");
        p.send_to(addr(to), &req).unwrap();
        let (reply, from) = p.recv_from(100).unwrap();
        assert_eq!(from.unwrap().ip(), addr(to).ip());
        assert_eq!(reply[0], if v6 { 129 } else { 0 });
        assert_eq!(&reply[6..8], &[0, 1], "sequence kept");
        assert_eq!(&reply[8..], b"payload");
        let ident = p.ep.local_addr().unwrap().port();
        assert_eq!(u16::from_be_bytes([reply[4], reply[5]]), ident);
    }
}

#[test]
fn connections_lists_udp() {
    let s = stack();
    let a = s.endpoint(false, Proto::Udp, Arc::new(|| {}), 5).unwrap();
    a.bind(addr("127.0.0.1:0")).unwrap();
    let list = s.connections(Proto::Udp);
    let me = list.iter().find(|c| c.tag == 5).unwrap();
    assert_eq!((me.state, me.local), (7, a.local_addr()));
}

#[test]
fn udplite_echoes_on_ports_of_its_own() {
    let s = stack();
    for (v6, at) in [(false, "127.0.0.1:0"), (true, "[::1]:0")] {
        let srv = sock(&s, v6, Proto::UdpLite);
        srv.ep.bind(addr(at)).unwrap();
        let to = srv.ep.local_addr().unwrap();
        // A UDP socket on the same port is another table's.
        let u = udp(&s, v6);
        u.ep.bind(to).unwrap();
        let c = sock(&s, v6, Proto::UdpLite);
        c.send_to(to, b"lite").unwrap();
        let (msg, from) = srv.recv_from(100).unwrap();
        assert_eq!(msg, b"lite");
        let from = from.unwrap();
        assert_eq!(from.port(), c.ep.local_addr().unwrap().port());
        assert_eq!(u.try_recv(10, false).err(), Some(Errno::EAGAIN));
        srv.send_to(from, b"back").unwrap();
        assert_eq!(c.recv(10).unwrap(), b"back");
        assert_eq!(c.send_to(addr(at), b"x"), Err(Errno::EINVAL), "port 0");
    }
}
