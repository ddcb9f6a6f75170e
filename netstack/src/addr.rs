//! Addresses between the Linux view and the wire. Inside the stack an
//! address is what goes in the IP header: a v6 endpoint's v4-mapped
//! address (`::ffff:a.b.c.d`) is an IPv4 address. Only at the API edge
//! is it mapped back for a v6 endpoint.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use smoltcp::wire::{IpAddress, IpEndpoint};

use crate::errno::Errno;

/// How an endpoint of family `v6` shows wire address `a`.
pub(crate) fn show(v6: bool, a: SocketAddr) -> SocketAddr {
    match (v6, a.ip()) {
        (true, IpAddr::V4(v4)) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port()),
        _ => a,
    }
}

/// Checks an application's address against the endpoint's family and
/// returns its wire form: EAFNOSUPPORT for the other family, EINVAL (as
/// Linux) for a v4-mapped address on a v6-only endpoint.
pub(crate) fn take(v6: bool, v6_only: bool, a: SocketAddr) -> Result<SocketAddr, Errno> {
    match (v6, a) {
        (false, SocketAddr::V4(_)) => Ok(a),
        (true, SocketAddr::V6(s)) => match s.ip().to_ipv4_mapped() {
            Some(_) if v6_only => Err(Errno::EINVAL),
            Some(v4) => Ok(SocketAddr::new(IpAddr::V4(v4), a.port())),
            None => Ok(a),
        },
        _ => Err(Errno::EAFNOSUPPORT),
    }
}

pub(crate) fn to_wire(a: IpAddr) -> IpAddress {
    match a {
        IpAddr::V4(v4) => IpAddress::Ipv4(v4),
        IpAddr::V6(v6) => IpAddress::Ipv6(v6),
    }
}

pub(crate) fn from_wire(a: IpAddress) -> IpAddr {
    match a {
        IpAddress::Ipv4(v4) => IpAddr::V4(v4),
        IpAddress::Ipv6(v6) => IpAddr::V6(v6),
    }
}

pub(crate) fn ep_to_wire(a: SocketAddr) -> IpEndpoint {
    IpEndpoint::new(to_wire(a.ip()), a.port())
}

pub(crate) fn ep_from_wire(e: IpEndpoint) -> SocketAddr {
    SocketAddr::new(from_wire(e.addr), e.port)
}

pub(crate) fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// Whether `a` lies in `net/prefix`.
pub(crate) fn in_prefix(a: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (a, net) {
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            prefix_of(a, prefix) == prefix_of(net, prefix)
        }
        _ => false,
    }
}

/// The network part of `a/prefix`.
pub fn prefix_of(a: IpAddr, prefix: u8) -> IpAddr {
    match a {
        IpAddr::V4(v4) => {
            let m = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & m).into())
        }
        IpAddr::V6(v6) => {
            let m = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & m).into())
        }
    }
}
