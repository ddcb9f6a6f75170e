//! Raw ICMP endpoints and what comes with a datagram (PacketInfo,
//! SendInfo), over loopback.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use common::*;
use netstack::{Errno, PacketInfo, Proto, SendInfo, Stack, StackConfig};

fn stack() -> Arc<Stack> {
    Stack::new(StackConfig::default()).unwrap()
}

/// The Internet checksum (RFC 1071) of `b`.
fn sum(b: &[u8]) -> u16 {
    let mut acc: u32 = b
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

fn echo_request(v6: bool, ident: u16, seq: u16) -> Vec<u8> {
    let mut m = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    m.extend_from_slice(&ident.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"0123456789abcdef");
    if !v6 {
        let s = sum(&m);
        m[2..4].copy_from_slice(&s.to_be_bytes());
    }
    m
}

fn recv_info(s: &Sock) -> (Vec<u8>, PacketInfo) {
    loop {
        let mut out = Vec::new();
        match s.ep.recv_with_info(false, 70000, &mut |b| {
            out.extend_from_slice(b);
            Ok(b.len())
        }) {
            Ok((_, info)) => return (out, info.expect("a datagram's info")),
            Err(Errno::EAGAIN) => {
                s.wait(libc::POLLIN);
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
}

#[test]
fn v4_raw_socket_reads_its_request_and_the_stacks_reply_with_headers() {
    let s = stack();
    let r = sock(&s, false, Proto::Raw);
    assert_eq!(r.ep.local_addr(), Some(addr("0.0.0.0:1")));
    r.send_to(addr("127.0.0.1:0"), &echo_request(false, 77, 1))
        .unwrap();
    let (req, info) = recv_info(&r);
    assert_eq!(
        (req[0] >> 4, req[9], req[20]),
        (4, 1, 8),
        "IPv4, ICMP, request"
    );
    assert_eq!((info.ttl, info.ifindex), (64, 1));
    let (reply, _) = recv_info(&r);
    assert_eq!(reply.len(), 20 + 24);
    assert_eq!((reply[8], reply[20]), (64, 0), "TTL 64, an echo reply");
    assert_eq!(sum(&reply[..20]), 0, "IP header checksum");
    assert_eq!(sum(&reply[20..]), 0, "ICMP checksum");
    assert_eq!(&reply[24..28], &[0, 77, 0, 1]);
}

#[test]
fn v6_raw_socket_filter_passes_only_replies_and_the_stack_sums_requests() {
    let s = stack();
    let r = sock(&s, true, Proto::Raw);
    let mut block_all_but_reply = [u32::MAX; 8];
    block_all_but_reply[129 / 32] &= !(1 << (129 % 32));
    r.ep.set_options(&mut |o| o.icmp_filter = block_all_but_reply)
        .unwrap();
    // The checksum is left zero: the stack fills it.
    r.send_to(addr("[::1]:58"), &echo_request(true, 5, 9))
        .unwrap();
    let (reply, info) = recv_info(&r);
    assert_eq!(reply[0], 129);
    assert_eq!(&reply[4..8], &[0, 5, 0, 9]);
    assert_eq!(info.dst, "::1".parse::<IpAddr>().unwrap());
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&[0; 15]);
    pseudo.push(1);
    pseudo.extend_from_slice(&[0; 15]);
    pseudo.push(1);
    pseudo.extend_from_slice(&(reply.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, 58]);
    pseudo.extend_from_slice(&reply);
    assert_eq!(sum(&pseudo), 0, "ICMPv6 checksum");
    assert_eq!(r.try_recv(100, false).err(), Some(Errno::EAGAIN));
    assert_eq!(r.send_to(addr("[::1]:0"), &[128, 0, 0]), Err(Errno::EINVAL));
    assert_eq!(r.send_to(addr("[::1]:7"), &[128; 8]), Err(Errno::EINVAL));
}

#[test]
fn raw_sockets_see_a_ping_sockets_exchange_and_the_ping_socket_keeps_its_reply() {
    let s = stack();
    let r = sock(&s, false, Proto::Raw);
    let p = sock(&s, false, Proto::Icmp);
    p.send_to(addr("127.0.0.1:0"), &echo_request(false, 0, 3))
        .unwrap();
    let (reply, _) = p.recv_from(100).unwrap();
    assert_eq!(reply[0], 0);
    assert_eq!(recv_info(&r).0[20], 8);
    assert_eq!(recv_info(&r).0[20], 0);
}

#[test]
fn bound_and_connected_raw_sockets_take_only_their_traffic() {
    let s = stack();
    let other = sock(&s, false, Proto::Raw);
    other.ep.bind(addr("127.0.0.2:0")).unwrap();
    let peer = sock(&s, false, Proto::Raw);
    peer.ep.connect(addr("127.0.0.3:0")).unwrap();
    assert_eq!(peer.ep.local_addr(), Some(addr("127.0.0.1:1")));
    assert_eq!(other.ep.bind(addr("10.9.9.9:0")), Err(Errno::EADDRNOTAVAIL));
    assert_eq!(peer.ep.bind(addr("127.0.0.1:0")), Err(Errno::EINVAL));
    let r = sock(&s, false, Proto::Raw);
    r.send_to(addr("127.0.0.1:0"), &echo_request(false, 1, 1))
        .unwrap();
    recv_info(&r);
    recv_info(&r);
    for x in [&other, &peer] {
        assert_eq!(x.try_recv(100, false).err(), Some(Errno::EAGAIN));
    }
    // To 127.0.0.2 the bound one hears the request, and the reply comes
    // from there.
    r.send_to(addr("127.0.0.2:0"), &echo_request(false, 1, 2))
        .unwrap();
    assert_eq!(recv_info(&other).0[20], 8);
}

#[test]
fn udp_datagrams_carry_their_hop_limit_destination_and_interface() {
    let s = stack();
    for (v6, at) in [(false, "127.0.0.1:0"), (true, "[::1]:0")] {
        let srv = udp(&s, v6);
        srv.ep.bind(addr(at)).unwrap();
        let to = srv.ep.local_addr().unwrap();
        let c = udp(&s, v6);
        c.send_to(to, b"default").unwrap();
        let (_, info) = recv_info(&srv);
        assert_eq!((info.ttl, info.ifindex, info.dst), (64, 1, to.ip()));
        assert_eq!(info.local, to.ip());
        let hop2 = SendInfo {
            hop_limit: Some(2),
            ..SendInfo::default()
        };
        let data = b"two hops";
        c.ep.send_with(Some(to), &hop2, data.len(), &mut |b| {
            b.copy_from_slice(data);
            Ok(b.len())
        })
        .unwrap();
        let (got, info) = recv_info(&srv);
        assert_eq!((got.as_slice(), info.ttl), (&data[..], 2));
        // The socket's own TTL still applies to the next one.
        c.send_to(to, b"again").unwrap();
        assert_eq!(recv_info(&srv).1.ttl, 64);
        let (foreign, err) = if v6 {
            ("2001:db8::1", Errno::EINVAL)
        } else {
            ("192.0.2.1", Errno::ENETUNREACH)
        };
        let bad = SendInfo {
            src: Some(foreign.parse().unwrap()),
            ..SendInfo::default()
        };
        let r = c.ep.send_with(Some(to), &bad, 1, &mut |b| Ok(b.len()));
        assert_eq!(r, Err(err));
        let nowhere = SendInfo {
            ifindex: Some(99),
            ..SendInfo::default()
        };
        let r = c.ep.send_with(Some(to), &nowhere, 1, &mut |b| Ok(b.len()));
        assert_eq!(r, Err(Errno::ENODEV));
    }
}
