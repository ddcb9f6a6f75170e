//! An inet datagram socket's ancillary data: the options that ask
//! recvmsg(2) for control messages (IP_PKTINFO, IP_RECVTTL, IP_RECVTOS,
//! IPV6_RECVPKTINFO, IPV6_RECVHOPLIMIT, IPV6_RECVTCLASS, their RFC 2292
//! forms, SO_TIMESTAMP, SO_TIMESTAMPNS), the messages themselves built
//! from what the stack noted of each datagram, and the sendmsg(2)
//! messages that set a datagram's hop limit, source and interface.
//!
//! Orders and sizes are Linux's: the timestamp first (sock_recv_cmsgs),
//! then ip_cmsg_recv_offset's (in_pktinfo, an int TTL, a one-byte TOS)
//! for an IPv4 datagram, or ip6_datagram_recv_ctl's (in6_pktinfo, int
//! hop limit, int traffic class, then the RFC 2292 ones) for an IPv6 one.
//! A v6 socket given an IPv4 datagram reports IPV6_PKTINFO with the
//! v4-mapped address, then the IP-level messages it asked for.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::UNIX_EPOCH;

use netstack::{PacketInfo, SendInfo};

use crate::errno::Errno;
use crate::net::control::Cmsg;
use crate::net::socket::{int_bytes, int_option};

/// One flag per message recvmsg adds.
const PKTINFO: u32 = 1 << 0;
const TTL: u32 = 1 << 1;
const TOS: u32 = 1 << 2;
const V6_PKTINFO: u32 = 1 << 3;
const V6_HOPLIMIT: u32 = 1 << 4;
const V6_TCLASS: u32 = 1 << 5;
const V6_2292PKTINFO: u32 = 1 << 6;
const V6_2292HOPLIMIT: u32 = 1 << 7;
/// SO_TIMESTAMP: a `struct timeval`.
const STAMP: u32 = 1 << 8;
/// SO_TIMESTAMPNS: a `struct timespec` (and STAMP set too, as Linux's
/// SOCK_RCVTSTAMPNS comes with SOCK_RCVTSTAMP).
const STAMP_NS: u32 = 1 << 9;

/// SO_TIMESTAMPNS (SO_TIMESTAMPNS_OLD on x86-64), and its message type.
const SO_TIMESTAMPNS: i32 = 35;

/// The options behind the flags: (level, name, flag, v6 sockets only).
const OPTIONS: &[(i32, i32, u32, bool)] = &[
    (libc::IPPROTO_IP, libc::IP_PKTINFO, PKTINFO, false),
    (libc::IPPROTO_IP, libc::IP_RECVTTL, TTL, false),
    (libc::IPPROTO_IP, libc::IP_RECVTOS, TOS, false),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, V6_PKTINFO, true),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_RECVHOPLIMIT,
        V6_HOPLIMIT,
        true,
    ),
    (libc::IPPROTO_IPV6, libc::IPV6_RECVTCLASS, V6_TCLASS, true),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_2292PKTINFO,
        V6_2292PKTINFO,
        true,
    ),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_2292HOPLIMIT,
        V6_2292HOPLIMIT,
        true,
    ),
];

/// Which messages a socket's recvmsg adds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Wanted(u32);

impl Wanted {
    pub fn any(self) -> bool {
        self.0 != 0
    }

    fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }
}

fn flag_of(v6: bool, level: i32, name: i32) -> Option<u32> {
    OPTIONS
        .iter()
        .find(|o| o.0 == level && o.1 == name && (v6 || !o.3))
        .map(|o| o.2)
}

/// getsockopt(2) of one of these options, or None when it is none of
/// them.
pub fn get(w: Wanted, v6: bool, level: i32, name: i32) -> Option<Vec<u8>> {
    let on = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_TIMESTAMP) => w.has(STAMP) && !w.has(STAMP_NS),
        (libc::SOL_SOCKET, SO_TIMESTAMPNS) => w.has(STAMP_NS),
        _ => w.has(flag_of(v6, level, name)?),
    };
    Some(int_bytes(i32::from(on)))
}

/// setsockopt(2) of one of these options: the new flags, or None when
/// it is none of them.
pub fn set(
    w: Wanted,
    v6: bool,
    level: i32,
    name: i32,
    val: &[u8],
) -> Option<Result<Wanted, Errno>> {
    let flag = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_TIMESTAMP) => STAMP,
        (libc::SOL_SOCKET, SO_TIMESTAMPNS) => STAMP | STAMP_NS,
        _ => flag_of(v6, level, name)?,
    };
    let on = match int_option(val) {
        Ok(v) => v != 0,
        Err(e) => return Some(Err(e)),
    };
    let mut bits = w.0;
    if flag & STAMP != 0 {
        // Linux's __sock_set_timestamps: turning either on picks the
        // format, turning either off ends both.
        bits &= !(STAMP | STAMP_NS);
    }
    if on {
        bits |= flag;
    } else {
        bits &= !flag;
    }
    Some(Ok(Wanted(bits)))
}

/// The messages recvmsg adds for a datagram the stack noted `p` of, on a
/// socket of family `v6`.
pub fn recv(w: Wanted, v6: bool, p: &PacketInfo) -> Vec<Cmsg> {
    let mut out = Vec::new();
    let mut put = |level: i32, kind: i32, data: Vec<u8>| out.push(Cmsg { level, kind, data });
    if w.has(STAMP) {
        let d = p.stamp.duration_since(UNIX_EPOCH).unwrap_or_default();
        let (kind, frac) = if w.has(STAMP_NS) {
            (SO_TIMESTAMPNS, i64::from(d.subsec_nanos()))
        } else {
            (libc::SO_TIMESTAMP, i64::from(d.subsec_micros()))
        };
        let mut b = (d.as_secs() as i64).to_ne_bytes().to_vec();
        b.extend_from_slice(&frac.to_ne_bytes());
        put(libc::SOL_SOCKET, kind, b);
    }
    match p.dst {
        IpAddr::V4(dst) => {
            if v6 && w.has(V6_PKTINFO) {
                put(
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    in6_pktinfo(dst.to_ipv6_mapped(), p.ifindex),
                );
            }
            if w.has(PKTINFO) {
                let local = match p.local {
                    IpAddr::V4(a) => a,
                    IpAddr::V6(_) => dst,
                };
                let mut b = (p.ifindex as i32).to_ne_bytes().to_vec();
                b.extend_from_slice(&local.octets());
                b.extend_from_slice(&dst.octets());
                put(libc::IPPROTO_IP, libc::IP_PKTINFO, b);
            }
            if w.has(TTL) {
                put(libc::IPPROTO_IP, libc::IP_TTL, int_bytes(p.ttl.into()));
            }
            if w.has(TOS) {
                put(libc::IPPROTO_IP, libc::IP_TOS, vec![p.tos]);
            }
        }
        IpAddr::V6(dst) => {
            let hops = || int_bytes(p.ttl.into());
            if w.has(V6_PKTINFO) {
                put(
                    libc::IPPROTO_IPV6,
                    libc::IPV6_PKTINFO,
                    in6_pktinfo(dst, p.ifindex),
                );
            }
            if w.has(V6_HOPLIMIT) {
                put(libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT, hops());
            }
            if w.has(V6_TCLASS) {
                put(
                    libc::IPPROTO_IPV6,
                    libc::IPV6_TCLASS,
                    int_bytes(p.tos.into()),
                );
            }
            if w.has(V6_2292PKTINFO) {
                put(
                    libc::IPPROTO_IPV6,
                    libc::IPV6_2292PKTINFO,
                    in6_pktinfo(dst, p.ifindex),
                );
            }
            if w.has(V6_2292HOPLIMIT) {
                put(libc::IPPROTO_IPV6, libc::IPV6_2292HOPLIMIT, hops());
            }
        }
    }
    out
}

/// `struct in6_pktinfo`: the address, then the interface index.
fn in6_pktinfo(a: Ipv6Addr, ifindex: u32) -> Vec<u8> {
    let mut b = a.octets().to_vec();
    b.extend_from_slice(&ifindex.to_ne_bytes());
    b
}

/// The message's int, within `lo..=hi`: it must hold exactly an int
/// (CMSG_LEN(sizeof(int))), else EINVAL.
fn int_in(data: &[u8], lo: i32, hi: i32) -> Result<i32, Errno> {
    match int_option(data) {
        Ok(v) if data.len() == 4 && (lo..=hi).contains(&v) => Ok(v),
        _ => Err(Errno::EINVAL),
    }
}

/// What sendmsg's control messages ask of one datagram. `v4_rules`:
/// Linux's ip_cmsg_send reads them (an AF_INET socket, or an AF_INET6
/// one sending to a v4-mapped address, which also takes IPV6_PKTINFO
/// with a v4-mapped source); otherwise ip6_datagram_send_ctl. Messages
/// of other levels are skipped; a malformed or unknown one of the level
/// read is EINVAL. IP_TOS and IPV6_TCLASS are checked and dropped: the
/// stack marks no traffic class.
pub fn send(v4_rules: bool, msgs: &[Cmsg]) -> Result<SendInfo, Errno> {
    let mut info = SendInfo::default();
    for m in msgs {
        let d = &m.data[..];
        match (v4_rules, m.level, m.kind) {
            (true, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                let (a, ifindex) = pktinfo6(d)?;
                let v4 = a.to_ipv4_mapped().ok_or(Errno::EINVAL)?;
                info.src = Some(IpAddr::V4(v4));
                info.ifindex = Some(ifindex);
            }
            (true, libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                if d.len() != 12 {
                    return Err(Errno::EINVAL);
                }
                let ifindex = u32::from_ne_bytes([d[0], d[1], d[2], d[3]]);
                info.ifindex = Some(ifindex);
                info.src = Some(IpAddr::V4(Ipv4Addr::new(d[4], d[5], d[6], d[7])));
            }
            (true, libc::IPPROTO_IP, libc::IP_TTL) => {
                info.hop_limit = Some(int_in(d, 1, 255)? as u8);
            }
            // One byte, or an int.
            (true, libc::IPPROTO_IP, libc::IP_TOS) if d.len() == 1 => {}
            (true, libc::IPPROTO_IP, libc::IP_TOS) => {
                int_in(d, 0, 255)?;
            }
            (true, libc::IPPROTO_IP, _) => return Err(Errno::EINVAL),
            (false, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO | libc::IPV6_2292PKTINFO) => {
                let (a, ifindex) = pktinfo6(d)?;
                if ifindex != 0 {
                    info.ifindex = Some(ifindex);
                }
                if !a.is_unspecified() {
                    info.src = Some(IpAddr::V6(a));
                }
            }
            (false, libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT | libc::IPV6_2292HOPLIMIT) => {
                // -1: the socket's own.
                info.hop_limit = u8::try_from(int_in(d, -1, 255)?).ok();
            }
            (false, libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => {
                int_in(d, -1, 255)?;
            }
            (false, libc::IPPROTO_IPV6, libc::IPV6_DONTFRAG) => {
                // -1: the socket's own (off: no IPV6_DONTFRAG option).
                info.dont_frag = int_in(d, -1, 1)? == 1;
            }
            (false, libc::IPPROTO_IPV6, _) => return Err(Errno::EINVAL),
            _ => {}
        }
    }
    Ok(info)
}

/// `struct in6_pktinfo` from a message at least that long.
fn pktinfo6(d: &[u8]) -> Result<(Ipv6Addr, u32), Errno> {
    if d.len() < 20 {
        return Err(Errno::EINVAL);
    }
    let mut a = [0u8; 16];
    a.copy_from_slice(&d[..16]);
    let ifindex = u32::from_ne_bytes([d[16], d[17], d[18], d[19]]);
    Ok((Ipv6Addr::from(a), ifindex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn info(dst: &str, ttl: u8) -> PacketInfo {
        let dst: IpAddr = dst.parse().unwrap();
        PacketInfo {
            dst,
            local: dst,
            ifindex: 1,
            ttl,
            tos: 0,
            stamp: UNIX_EPOCH + Duration::new(5, 6_007_000),
        }
    }

    fn on(w: Wanted, v6: bool, level: i32, name: i32) -> Wanted {
        set(w, v6, level, name, &1i32.to_ne_bytes())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn v6_messages_come_in_linux_order_with_int_sizes() {
        let mut w = Wanted::default();
        for name in [
            libc::IPV6_RECVTCLASS,
            libc::IPV6_RECVHOPLIMIT,
            libc::IPV6_RECVPKTINFO,
        ] {
            w = on(w, true, libc::IPPROTO_IPV6, name);
        }
        let got = recv(w, true, &info("::1", 9));
        let kinds: Vec<_> = got.iter().map(|c| (c.kind, c.data.len())).collect();
        assert_eq!(
            kinds,
            [
                (libc::IPV6_PKTINFO, 20),
                (libc::IPV6_HOPLIMIT, 4),
                (libc::IPV6_TCLASS, 4)
            ]
        );
        assert_eq!(got[1].data, 9i32.to_ne_bytes());
    }

    #[test]
    fn v4_datagram_on_v6_socket_gets_mapped_pktinfo_then_ip_messages() {
        let mut w = on(
            Wanted::default(),
            true,
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVPKTINFO,
        );
        w = on(w, true, libc::IPPROTO_IP, libc::IP_RECVTOS);
        w = on(w, true, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT);
        let got = recv(w, true, &info("127.0.0.1", 64));
        assert_eq!(got.len(), 2);
        assert_eq!(
            &got[0].data[..16],
            &Ipv4Addr::LOCALHOST.to_ipv6_mapped().octets()
        );
        assert_eq!((got[1].kind, got[1].data.len()), (libc::IP_TOS, 1));
    }

    #[test]
    fn timestamps_pick_one_format_and_come_first() {
        let w = on(Wanted::default(), false, libc::SOL_SOCKET, SO_TIMESTAMPNS);
        let w = on(w, false, libc::IPPROTO_IP, libc::IP_RECVTTL);
        assert_eq!(
            get(w, false, libc::SOL_SOCKET, libc::SO_TIMESTAMP),
            Some(int_bytes(0))
        );
        let got = recv(w, false, &info("127.0.0.1", 1));
        assert_eq!(got[0].kind, SO_TIMESTAMPNS);
        assert_eq!(&got[0].data[8..], &6_007_000i64.to_ne_bytes());
        let w = on(w, false, libc::SOL_SOCKET, libc::SO_TIMESTAMP);
        let got = recv(w, false, &info("127.0.0.1", 1));
        assert_eq!(&got[0].data[8..], &6007i64.to_ne_bytes());
    }

    #[test]
    fn send_messages_set_hop_limit_and_source_and_reject_odd_sizes() {
        let hop = |v: i32| Cmsg {
            level: libc::IPPROTO_IPV6,
            kind: libc::IPV6_HOPLIMIT,
            data: v.to_ne_bytes().to_vec(),
        };
        assert_eq!(send(false, &[hop(2)]).unwrap().hop_limit, Some(2));
        assert_eq!(send(false, &[hop(-1)]).unwrap().hop_limit, None);
        assert_eq!(send(false, &[hop(256)]), Err(Errno::EINVAL));
        let mut odd = hop(0);
        odd.kind = libc::IPV6_TCLASS;
        odd.data.push(0);
        assert_eq!(send(false, &[odd.clone()]), Err(Errno::EINVAL));
        // Another level's message is skipped.
        assert_eq!(send(true, &[odd]), Ok(SendInfo::default()));
        let mut pkt = vec![0u8; 4];
        pkt.extend_from_slice(&[127, 0, 0, 1, 0, 0, 0, 0]);
        let m = Cmsg {
            level: libc::IPPROTO_IP,
            kind: libc::IP_PKTINFO,
            data: pkt,
        };
        let got = send(true, &[m]).unwrap();
        assert_eq!(got.src, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    }

    #[test]
    fn dontfrag_takes_minus_one_to_one() {
        let dontfrag = |v: i32| Cmsg {
            level: libc::IPPROTO_IPV6,
            kind: libc::IPV6_DONTFRAG,
            data: v.to_ne_bytes().to_vec(),
        };
        assert!(send(false, &[dontfrag(1)]).unwrap().dont_frag);
        assert!(!send(false, &[dontfrag(0)]).unwrap().dont_frag);
        assert!(!send(false, &[dontfrag(-1)]).unwrap().dont_frag);
        assert_eq!(send(false, &[dontfrag(2)]), Err(Errno::EINVAL));
    }
}
