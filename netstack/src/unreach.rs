//! Errors the network reports about packets the stack sent: an ICMP or
//! ICMPv6 error quoting one of them, or a neighbour that never answered
//! ARP or NDP (which Linux turns into an ICMP host-unreachable to
//! itself). Each becomes an errno for the socket that sent the packet, by
//! Linux's rules (tcp_v4_err, __udp4_lib_err and their v6 twins):
//!
//! * a TCP connect in progress fails with it at once;
//! * an established connection only notes it (sk_err_soft): it becomes
//!   the error if the connection later times out, or at once under
//!   IP_RECVERR;
//! * a UDP socket takes it as its pending error when it is connected and
//!   the error is a hard one (port unreachable, administratively
//!   prohibited ...), or always under IP_RECVERR.

use std::net::{IpAddr, SocketAddr};

use crate::dgram::{self, state_ref};
use crate::errno::Errno;
use crate::socket::Proto;
use crate::state::{Inner, Kind, Tcp};
use crate::tcp;

const TCP: u8 = 6;
const UDP: u8 = 17;
const UDPLITE: u8 = 136;

/// What one ICMP error means for its sender: the errno, and whether it
/// is hard (Linux's `fatal`: a connected UDP socket reports it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IcmpError {
    pub errno: Errno,
    pub hard: bool,
}

const fn e(errno: Errno, hard: bool) -> Option<IcmpError> {
    Some(IcmpError { errno, hard })
}

/// An ICMPv4 error's meaning (Linux's icmp_err_convert); None for what
/// is not an error to report (source quench, redirects, fragmentation
/// needed, which path MTU discovery would handle).
pub(crate) fn v4(kind: u8, code: u8) -> Option<IcmpError> {
    match (kind, code) {
        (3, 0 | 6 | 11) => e(Errno::ENETUNREACH, code != 0 && code != 11),
        (3, 9) => e(Errno::ENETUNREACH, true),
        (3, 1 | 12) => e(Errno::EHOSTUNREACH, false),
        (3, 10 | 13 | 14 | 15) => e(Errno::EHOSTUNREACH, true),
        (3, 2) => e(Errno(libc::ENOPROTOOPT), true),
        (3, 3) => e(Errno::ECONNREFUSED, true),
        (3, 5) => e(Errno::EOPNOTSUPP, false),
        (3, 7) => e(Errno(libc::EHOSTDOWN), true),
        (3, 8) => e(Errno(libc::ENONET), true),
        (11, _) => e(Errno::EHOSTUNREACH, false),
        (12, _) => e(Errno(libc::EPROTO), true),
        _ => None,
    }
}

/// An ICMPv6 error's meaning (Linux's icmpv6_err_convert).
pub(crate) fn v6(kind: u8, code: u8) -> Option<IcmpError> {
    match (kind, code) {
        (1, 0) => e(Errno::ENETUNREACH, false),
        (1, 1 | 5 | 6) => e(Errno::EACCES, true),
        (1, 2 | 3) => e(Errno::EHOSTUNREACH, false),
        (1, 4) => e(Errno::ECONNREFUSED, true),
        (3, _) => e(Errno::EHOSTUNREACH, false),
        (4, _) => e(Errno(libc::EPROTO), true),
        _ => None,
    }
}

/// An ICMP error arrived quoting `quoted` (the IP header and at least 8
/// bytes of what follows), a packet of the stack's.
pub(crate) fn arrived(inner: &mut Inner, quoted: &[u8], err: IcmpError) {
    let Some(first) = quoted.first() else { return };
    let (src, dst, proto, l4) = match first >> 4 {
        4 => {
            let hl = usize::from(first & 0xf) * 4;
            if quoted.len() < hl + 8 || hl < 20 {
                return;
            }
            let a =
                |o: usize| IpAddr::from([quoted[o], quoted[o + 1], quoted[o + 2], quoted[o + 3]]);
            (a(12), a(16), quoted[9], &quoted[hl..])
        }
        6 => {
            if quoted.len() < 48 {
                return;
            }
            let a = |o: usize| {
                let b: [u8; 16] = quoted[o..o + 16].try_into().unwrap_or([0; 16]);
                IpAddr::from(b)
            };
            (a(8), a(24), quoted[6], &quoted[40..])
        }
        _ => return,
    };
    let port = |at: usize| u16::from_be_bytes([l4[at], l4[at + 1]]);
    let local = SocketAddr::new(src, port(0));
    let remote = SocketAddr::new(dst, port(2));
    match proto {
        TCP => {
            if let Some(id) = tcp_endpoint(inner, local, remote) {
                tcp_error(inner, id, err);
            }
        }
        UDP | UDPLITE => {
            let p = if proto == UDP {
                Proto::Udp
            } else {
                Proto::UdpLite
            };
            if let Some(id) = dgram::lookup(inner, p, remote, local) {
                dgram_error(inner, id, err);
            }
        }
        _ => {}
    }
}

/// The neighbour `who` on interface `iface` never answered: every
/// socket whose packets go through it hears host-unreachable.
pub(crate) fn neighbour_failed(inner: &mut Inner, iface: usize, who: IpAddr) {
    let err = IcmpError {
        errno: Errno::EHOSTUNREACH,
        hard: false,
    };
    let through = |inner: &Inner, peer: IpAddr| {
        inner
            .route(peer)
            .is_ok_and(|p| p.iface == iface && p.next_hop(peer) == who)
    };
    for id in 0..inner.eps.len() {
        let Some(ep) = &inner.eps[id] else { continue };
        let peer = match &ep.kind {
            Kind::Tcp(Tcp::Connecting { sock }) => {
                let sock = *sock;
                inner.ifaces[sock.iface]
                    .sockets
                    .get::<smoltcp::socket::tcp::Socket>(sock.h)
                    .remote_endpoint()
                    .map(|r| IpAddr::from(r.addr))
            }
            Kind::Tcp(Tcp::Connected(c)) if !c.closed => Some(c.peer.ip()),
            Kind::Dgram(d) if matches!(ep.proto, Proto::Udp | Proto::UdpLite) => {
                d.peer.map(|p| p.ip())
            }
            _ => None,
        };
        if !peer.is_some_and(|p| through(inner, p)) {
            continue;
        }
        if matches!(inner.ep(id).kind, Kind::Tcp(_)) {
            tcp_error(inner, id, err);
        } else {
            dgram_error(inner, id, err);
        }
    }
}

/// The TCP endpoint connecting or connected from `local` to `remote`.
fn tcp_endpoint(inner: &Inner, local: SocketAddr, remote: SocketAddr) -> Option<usize> {
    let (l, r) = (
        crate::addr::ep_to_wire(local),
        crate::addr::ep_to_wire(remote),
    );
    inner
        .eps
        .iter()
        .position(|ep| match ep.as_ref().map(|e| &e.kind) {
            Some(Kind::Tcp(Tcp::Connecting { sock })) => {
                let s = inner.ifaces[sock.iface]
                    .sockets
                    .get::<smoltcp::socket::tcp::Socket>(sock.h);
                s.local_endpoint() == Some(l) && s.remote_endpoint() == Some(r)
            }
            Some(Kind::Tcp(Tcp::Connected(c))) => !c.closed && c.local == local && c.peer == remote,
            _ => false,
        })
}

fn tcp_error(inner: &mut Inner, id: usize, err: IcmpError) {
    match inner.tcp_ep(id) {
        Tcp::Connecting { .. } => tcp::fail_connect(inner, id, err.errno),
        _ => {
            let ep = inner.ep_mut(id);
            if ep.opts.recv_err {
                ep.error = Some(err.errno);
                inner.note(id);
            } else {
                ep.soft_error = Some(err.errno);
            }
        }
    }
}

fn dgram_error(inner: &mut Inner, id: usize, err: IcmpError) {
    let connected = state_ref(inner, id).peer.is_some();
    let ep = inner.ep_mut(id);
    if ep.opts.recv_err || (err.hard && connected) {
        ep.error = Some(err.errno);
        inner.note(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_codes_map_as_linux_maps_them() {
        assert_eq!(v4(3, 3), e(Errno::ECONNREFUSED, true));
        assert_eq!(v4(3, 1), e(Errno::EHOSTUNREACH, false));
        assert_eq!(v4(3, 13), e(Errno::EHOSTUNREACH, true));
        assert_eq!(v4(3, 4), None);
        assert_eq!(v4(4, 0), None);
        assert_eq!(v6(1, 4), e(Errno::ECONNREFUSED, true));
        assert_eq!(v6(1, 1), e(Errno::EACCES, true));
        assert_eq!(v6(2, 0), None);
    }
}
