//! `struct sockaddr_in` and `sockaddr_in6` as the application passes them,
//! and back.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::errno::Errno;
use crate::net::addr::family;

/// `sizeof(struct sockaddr_in)`.
const IN_LEN: usize = 16;
/// The shortest `sockaddr_in6` Linux takes (RFC 2133's, without
/// `sin6_scope_id`).
const IN6_MIN_LEN: usize = 24;
/// `sizeof(struct sockaddr_in6)`.
const IN6_LEN: usize = 28;

/// Linux's inet_bind rule: a nonzero port below
/// `net.ipv4.ip_unprivileged_port_start` (1024 unless the spec sets it;
/// Docker sets 0) needs CAP_NET_BIND_SERVICE (EACCES).
pub fn may_bind(t: &dyn crate::vfs::Caller, a: &SocketAddr) -> Result<(), Errno> {
    let p = a.port();
    if p != 0
        && p < t.unprivileged_port_start()
        && !t.fs_cred().capable(crate::caps::CAP_NET_BIND_SERVICE)
    {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// What an address argument names for a socket of the given family.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Addr(SocketAddr),
    /// AF_UNSPEC: connect(2) dissolves a datagram socket's association.
    Unspec,
}

/// Parses `addr` for a socket of family `v6`. Too short is EINVAL; another
/// family is EAFNOSUPPORT (AF_UNSPEC is returned for the caller to judge).
pub fn parse(addr: &[u8], v6: bool) -> Result<Target, Errno> {
    let fam = family(addr)?;
    if fam == libc::AF_UNSPEC {
        return Ok(Target::Unspec);
    }
    let port = |b: &[u8]| u16::from_be_bytes([b[2], b[3]]);
    match (fam, v6) {
        (libc::AF_INET, false) => {
            if addr.len() < IN_LEN {
                return Err(Errno::EINVAL);
            }
            let ip = Ipv4Addr::new(addr[4], addr[5], addr[6], addr[7]);
            Ok(Target::Addr(SocketAddr::V4(SocketAddrV4::new(
                ip,
                port(addr),
            ))))
        }
        (libc::AF_INET6, true) => {
            if addr.len() < IN6_MIN_LEN {
                return Err(Errno::EINVAL);
            }
            let ip: [u8; 16] = addr[8..24].try_into().expect("16 bytes");
            let flow = u32::from_be_bytes(addr[4..8].try_into().expect("4 bytes"));
            let scope = match addr.get(24..28) {
                Some(b) => u32::from_ne_bytes(b.try_into().expect("4 bytes")),
                None => 0,
            };
            Ok(Target::Addr(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(ip),
                port(addr),
                flow,
                scope,
            ))))
        }
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

/// The bytes getsockname(2), getpeername(2), accept(2) and recvfrom(2)
/// return for `a`.
pub fn to_bytes(a: &SocketAddr) -> Vec<u8> {
    match a {
        SocketAddr::V4(a) => {
            let mut v = vec![0u8; IN_LEN];
            v[..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
            v[2..4].copy_from_slice(&a.port().to_be_bytes());
            v[4..8].copy_from_slice(&a.ip().octets());
            v
        }
        SocketAddr::V6(a) => {
            let mut v = vec![0u8; IN6_LEN];
            v[..2].copy_from_slice(&(libc::AF_INET6 as u16).to_ne_bytes());
            v[2..4].copy_from_slice(&a.port().to_be_bytes());
            v[4..8].copy_from_slice(&a.flowinfo().to_be_bytes());
            v[8..24].copy_from_slice(&a.ip().octets());
            v[24..28].copy_from_slice(&a.scope_id().to_ne_bytes());
            v
        }
    }
}

/// AF_INET6 for a v6 socket, else AF_INET.
pub fn domain(v6: bool) -> i32 {
    if v6 {
        libc::AF_INET6
    } else {
        libc::AF_INET
    }
}

/// The unspecified address of a family, port 0: what an unbound socket's
/// getsockname(2) shows.
pub fn unspecified(v6: bool) -> SocketAddr {
    if v6 {
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, 0, 0, 0))
    } else {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip_and_bad_ones_are_refused() {
        for a in ["127.0.0.1:80", "[::1]:8080", "[::ffff:10.0.0.1]:1"] {
            let a: SocketAddr = a.parse().unwrap();
            let b = to_bytes(&a);
            assert_eq!(parse(&b, a.is_ipv6()), Ok(Target::Addr(a)));
            assert_eq!(parse(&b, !a.is_ipv6()), Err(Errno::EAFNOSUPPORT));
            assert_eq!(parse(&b[..7], a.is_ipv6()), Err(Errno::EINVAL));
        }
        assert_eq!(parse(&[0, 0, 0, 0], false), Ok(Target::Unspec));
        assert_eq!(parse(&[2], false), Err(Errno::EINVAL));
    }
}
