//! The stack looks at each arriving frame before smoltcp does. It owns
//! both receive paths (loopback's queue and the Ethernet descriptors), so
//! it can do what smoltcp alone cannot: grow a listener's pool for a SYN
//! or drop the SYN when the backlog is full (`listener`), pick the UDP or
//! ping endpoint for a datagram as Linux does (`dgram`), copy each ICMP
//! message to the raw endpoints (`raw`), and give an ICMP error to the
//! socket whose packet it quotes (`unreach`), note a RST's connection,
//! and hear neighbours answer (`neigh`). Everything else passes to smoltcp.
//! Each datagram taken notes what came with it (`PacketInfo`).

use std::net::{IpAddr, SocketAddr};
use std::time::SystemTime;

use smoltcp::phy::Medium;
use smoltcp::wire::{
    Icmpv4Packet, Icmpv6Packet, IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket,
};

use crate::addr::ep_to_wire;
use crate::dgram::{self, Delivery};
use crate::iface::{Sock, LO};
use crate::outbound::UDPLITE;
use crate::raw::{self, Arrived};
use crate::socket::{PacketInfo, Proto};
use crate::state::Inner;
use crate::{listener, multicast, udplite, unreach};

pub(crate) enum Verdict {
    /// smoltcp takes it.
    Pass,
    /// Nobody does (a SYN past the backlog, a duplicate SYN).
    Drop,
    /// Our own frame, which an AF_PACKET socket reads back: not traffic.
    Echo,
    /// An endpoint's receive queue takes it.
    Deliver(Delivery),
    /// Several endpoints' queues take it (a multicast datagram).
    DeliverAll(Vec<Delivery>),
}

struct Ip<'a> {
    src: IpAddr,
    dst: IpAddr,
    proto: IpProtocol,
    ttl: u8,
    tos: u8,
    /// The whole packet, header first.
    packet: &'a [u8],
    /// The transport header and payload, and where they start in the frame.
    l4: &'a [u8],
    l4_off: usize,
}

fn parse_ip(frame: &[u8], off: usize) -> Option<Ip<'_>> {
    let ip = frame.get(off..)?;
    match ip.first()? >> 4 {
        4 => {
            let p = Ipv4Packet::new_checked(ip).ok()?;
            // A fragment is smoltcp's to drop: the transport header may
            // not be in it.
            if p.more_frags() || p.frag_offset() != 0 {
                return None;
            }
            let hl = usize::from(p.header_len());
            let end = usize::from(p.total_len()).min(ip.len());
            Some(Ip {
                src: IpAddr::V4(p.src_addr()),
                dst: IpAddr::V4(p.dst_addr()),
                proto: p.next_header(),
                ttl: p.hop_limit(),
                tos: p.dscp() << 2 | p.ecn(),
                packet: ip.get(..end)?,
                l4: ip.get(hl..end)?,
                l4_off: off + hl,
            })
        }
        6 => {
            let p = Ipv6Packet::new_checked(ip).ok()?;
            let end = (40 + usize::from(p.payload_len())).min(ip.len());
            Some(Ip {
                src: IpAddr::V6(p.src_addr()),
                dst: IpAddr::V6(p.dst_addr()),
                proto: p.next_header(),
                ttl: p.hop_limit(),
                tos: p.traffic_class(),
                packet: ip.get(..end)?,
                l4: ip.get(40..end)?,
                l4_off: off + 40,
            })
        }
        _ => None,
    }
}

pub(crate) fn steer(inner: &mut Inner, n: usize, frame: &[u8]) -> Verdict {
    let f = &inner.ifaces[n];
    let off = if f.dev.medium == Medium::Ethernet {
        if frame.len() < 14 {
            return Verdict::Pass;
        }
        // An AF_PACKET socket also reads the frames we sent.
        if frame[6..12] == f.mac {
            return Verdict::Echo;
        }
        if let Some(who) = crate::neigh::heard(frame) {
            inner.neigh.heard(n, who);
        }
        let unicast_to_other = frame[0] & 1 == 0 && frame[0..6] != f.mac;
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        if unicast_to_other || (ethertype != 0x0800 && ethertype != 0x86dd) {
            return Verdict::Pass;
        }
        14
    } else {
        0
    };
    let Some(ip) = parse_ip(frame, off) else {
        return Verdict::Pass;
    };
    if n != LO && !f.has_addr(ip.dst) && !ip.dst.is_multicast() && !is_broadcast(ip.dst) {
        return Verdict::Pass;
    }
    if ip.proto == IpProtocol::Tcp {
        return segment(inner, n, &ip);
    }
    // Only datagrams take a timestamp: TCP's segments are many.
    let info = arrival(inner, n, &ip);
    if matches!(ip.proto, IpProtocol::Icmp | IpProtocol::Icmpv6) {
        let m = Arrived {
            src: ip.src,
            dst: ip.dst,
            packet: ip.packet,
            icmp_at: ip.packet.len() - ip.l4.len(),
            info,
        };
        raw::deliver(inner, &m);
    }
    match ip.proto {
        IpProtocol::Udp | IpProtocol::Unknown(UDPLITE) => {
            // UDP-Lite's length field is its checksum's coverage (0: all);
            // the datagram runs to the end of the IP packet.
            let (proto, end, cover) = if ip.proto == IpProtocol::Udp {
                let Ok(u) = UdpPacket::new_checked(ip.l4) else {
                    return Verdict::Pass;
                };
                let end = usize::from(u.len()).clamp(8, ip.l4.len());
                (Proto::Udp, end, None)
            } else {
                // Linux drops a coverage RFC 3828 forbids, silently.
                let Some(c) = udplite::coverage(ip.l4) else {
                    return Verdict::Drop;
                };
                (Proto::UdpLite, ip.l4.len(), Some(c))
            };
            let port = |at: usize| u16::from_be_bytes([ip.l4[at], ip.l4[at + 1]]);
            let src = SocketAddr::new(ip.src, port(0));
            let dst = SocketAddr::new(ip.dst, port(2));
            if ip.dst.is_multicast() {
                // Every member hears it; nobody answers for a group.
                let all = multicast::members(inner, proto, src, dst, n)
                    .into_iter()
                    .filter(|&ep| cover.is_none_or(|c| udplite::takes(inner, ep, c)))
                    .map(|ep| Delivery {
                        ep,
                        from: src,
                        start: ip.l4_off + 8,
                        end: ip.l4_off + end,
                        info,
                    })
                    .collect::<Vec<_>>();
                return if all.is_empty() {
                    Verdict::Drop
                } else {
                    Verdict::DeliverAll(all)
                };
            }
            match dgram::lookup(inner, proto, src, dst) {
                Some(ep) if cover.is_some_and(|c| !udplite::takes(inner, ep, c)) => Verdict::Drop,
                Some(ep) => Verdict::Deliver(Delivery {
                    ep,
                    from: src,
                    start: ip.l4_off + 8,
                    end: ip.l4_off + end,
                    info,
                }),
                // smoltcp answers with ICMP port unreachable.
                None => Verdict::Pass,
            }
        }
        IpProtocol::Icmp => {
            let Ok(p) = Icmpv4Packet::new_checked(ip.l4) else {
                return Verdict::Pass;
            };
            match (p.msg_type().into(), p.msg_code()) {
                (0u8, _) => echo_reply(inner, &ip, p.echo_ident(), info),
                (kind, code) => {
                    if let Some(err) = unreach::v4(kind, code) {
                        unreach::arrived(inner, &ip.l4[8..], err);
                    }
                    Verdict::Pass
                }
            }
        }
        IpProtocol::Icmpv6 => {
            let Ok(p) = Icmpv6Packet::new_checked(ip.l4) else {
                return Verdict::Pass;
            };
            match (p.msg_type().into(), p.msg_code()) {
                (129u8, _) => echo_reply(inner, &ip, p.echo_ident(), info),
                (kind, code) => {
                    if let Some(err) = unreach::v6(kind, code) {
                        unreach::arrived(inner, &ip.l4[8..], err);
                    }
                    Verdict::Pass
                }
            }
        }
        _ => Verdict::Pass,
    }
}

/// A SYN for a listener is admitted (the pool grows) or dropped (the
/// backlog is full); every other segment is smoltcp's.
fn segment(inner: &mut Inner, n: usize, ip: &Ip) -> Verdict {
    let Ok(t) = TcpPacket::new_checked(ip.l4) else {
        return Verdict::Pass;
    };
    if t.rst() {
        note_reset(inner, n, ip, &t);
        return Verdict::Pass;
    }
    if t.syn() && !t.ack() && !t.rst() {
        let src = SocketAddr::new(ip.src, t.src_port());
        let dst = SocketAddr::new(ip.dst, t.dst_port());
        return if listener::admit_syn(inner, n, src, dst) {
            Verdict::Pass
        } else {
            Verdict::Drop
        };
    }
    Verdict::Pass
}

/// Notes the connection a RST is for, so that its closing reads as a
/// reset rather than a timeout (see `stream::sync`).
fn note_reset(inner: &mut Inner, n: usize, ip: &Ip, t: &TcpPacket<&[u8]>) {
    let local = ep_to_wire(SocketAddr::new(ip.dst, t.dst_port()));
    let remote = ep_to_wire(SocketAddr::new(ip.src, t.src_port()));
    let hit = inner.ifaces[n].sockets.iter().find_map(|(h, s)| match s {
        smoltcp::socket::Socket::Tcp(s)
            if s.local_endpoint() == Some(local) && s.remote_endpoint() == Some(remote) =>
        {
            Some(h)
        }
        _ => None,
    });
    if let Some(h) = hit {
        inner.resets.push(Sock { iface: n, h });
    }
}

/// What a datagram arriving on interface `n` brings along.
fn arrival(inner: &Inner, n: usize, ip: &Ip) -> PacketInfo {
    let local = if ip.dst.is_multicast() || is_broadcast(ip.dst) {
        inner.route(ip.src).map_or(ip.dst, |p| p.src)
    } else {
        ip.dst
    };
    PacketInfo {
        dst: ip.dst,
        local,
        ifindex: inner.ifaces[n].index,
        ttl: ip.ttl,
        tos: ip.tos,
        stamp: SystemTime::now(),
    }
}

fn is_broadcast(a: IpAddr) -> bool {
    match a {
        // Subnet broadcasts end in all ones for any prefix of 24 or more;
        // shorter prefixes are rare in containers.
        IpAddr::V4(v4) => v4.is_broadcast() || v4.octets()[3] == 255,
        IpAddr::V6(_) => false,
    }
}

/// An echo reply goes to the ping endpoint whose identifier it carries,
/// ICMP header and all, as Linux's ping sockets read it.
fn echo_reply(inner: &Inner, ip: &Ip, ident: u16, info: PacketInfo) -> Verdict {
    let src = SocketAddr::new(ip.src, 0);
    let dst = SocketAddr::new(ip.dst, ident);
    match dgram::lookup(inner, Proto::Icmp, src, dst) {
        Some(ep) => Verdict::Deliver(Delivery {
            ep,
            from: src,
            start: ip.l4_off,
            end: ip.l4_off + ip.l4.len(),
            info,
        }),
        None => Verdict::Pass,
    }
}
