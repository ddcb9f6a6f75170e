//! Which interface a packet to a destination leaves by, and from which
//! source address: Linux's local table first (loopback and the stack's
//! own addresses go through lo), then the longest matching prefix among
//! the interfaces' on-link subnets and the configured routes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::addr::in_prefix;
use crate::errno::Errno;
use crate::iface::{Iface, LO};

/// A configured route, resolved to an interface.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub dst: IpAddr,
    pub prefix: u8,
    pub iface: usize,
    pub gateway: Option<IpAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Path {
    pub iface: usize,
    pub src: IpAddr,
    /// The router the packet goes through; None: on-link.
    pub via: Option<IpAddr>,
}

impl Path {
    /// The neighbour a packet to `dst` is handed to.
    pub(crate) fn next_hop(&self, dst: IpAddr) -> IpAddr {
        self.via.unwrap_or(dst)
    }
}

/// Linux reads a connect to the unspecified address as one to the host
/// itself.
pub(crate) fn resolve_unspecified(dst: IpAddr) -> IpAddr {
    match dst {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        a => a,
    }
}

/// Whether `a` is one of the stack's own addresses (bind accepts these).
pub(crate) fn is_local(ifaces: &[Iface], a: IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) if v4.is_loopback() => true,
        IpAddr::V6(v6) if v6.is_loopback() => true,
        _ => ifaces.iter().any(|i| i.has_addr(a)),
    }
}

pub(crate) fn route(ifaces: &[Iface], routes: &[Entry], dst: IpAddr) -> Result<Path, Errno> {
    match dst {
        IpAddr::V4(v4) if v4.is_loopback() => {
            return Ok(Path {
                iface: LO,
                src: IpAddr::V4(Ipv4Addr::LOCALHOST),
                via: None,
            })
        }
        IpAddr::V6(v6) if v6.is_loopback() => {
            return Ok(Path {
                iface: LO,
                src: IpAddr::V6(Ipv6Addr::LOCALHOST),
                via: None,
            })
        }
        _ => {}
    }
    if ifaces.iter().skip(1).any(|i| i.has_addr(dst)) {
        return Ok(Path {
            iface: LO,
            src: dst,
            via: None,
        });
    }
    let mut best: Option<(u8, Path)> = None;
    for (n, i) in ifaces.iter().enumerate().skip(1) {
        for &(a, p) in &i.addrs {
            if in_prefix(dst, a, p) && best.is_none_or(|(bp, _)| p > bp) {
                best = Some((
                    p,
                    Path {
                        iface: n,
                        src: a,
                        via: None,
                    },
                ));
            }
        }
    }
    for r in routes {
        if in_prefix(dst, r.dst, r.prefix) && best.is_none_or(|(bp, _)| r.prefix > bp) {
            if let Some(src) = source_for(&ifaces[r.iface], dst) {
                best = Some((
                    r.prefix,
                    Path {
                        iface: r.iface,
                        src,
                        via: r.gateway,
                    },
                ));
            }
        }
    }
    best.map(|(_, p)| p).ok_or(Errno::ENETUNREACH)
}

/// The interface's first address of `dst`'s family, preferring a global
/// v6 address over a link-local one.
fn source_for(i: &Iface, dst: IpAddr) -> Option<IpAddr> {
    let same = |a: &IpAddr| a.is_ipv4() == dst.is_ipv4();
    let link_local = |a: &IpAddr| matches!(a, IpAddr::V6(v6) if v6.is_unicast_link_local());
    i.addrs
        .iter()
        .map(|&(a, _)| a)
        .filter(same)
        .min_by_key(link_local)
}
