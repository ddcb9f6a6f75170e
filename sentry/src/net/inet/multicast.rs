//! The multicast options of inet sockets, read and checked as Linux's
//! ip_setsockopt and ipv6_setsockopt read them (sizes, ranges, errnos);
//! the stack keeps the groups and acts on the rest
//! (`netstack::Options::mc_*`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{errno, InetSocket};
use crate::errno::Errno;
use crate::net::socket::{int_bytes, int_option};

/// struct ip_mreq: the group, then the local address naming the
/// interface.
const IP_MREQ: usize = 8;
/// struct ip_mreqn: ip_mreq, then an interface index.
const IP_MREQN: usize = 12;
/// struct ipv6_mreq: the group, then an interface index.
const IPV6_MREQ: usize = 20;
/// struct in_addr.
const IN_ADDR: usize = 4;

fn v4_at(val: &[u8], at: usize) -> Ipv4Addr {
    let b: [u8; 4] = val[at..at + 4].try_into().expect("4 bytes");
    Ipv4Addr::from(b)
}

fn u32_at(val: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(val[at..at + 4].try_into().expect("4 bytes"))
}

/// IP-level integer options take an int, or a single byte when shorter
/// (Linux's ip_setsockopt), and nothing shorter.
fn ip_int(val: &[u8]) -> Result<i32, Errno> {
    match val.len() {
        0 => Err(Errno::EINVAL),
        1..=3 => Ok(i32::from(val[0])),
        _ => int_option(val),
    }
}

fn set_opts(s: &InetSocket, f: impl FnOnce(&mut netstack::Options)) -> Result<(), Errno> {
    let mut f = Some(f);
    s.ep.set_options(&mut |o| {
        if let Some(f) = f.take() {
            f(o)
        }
    })
    .map_err(errno)
}

pub(super) fn get(s: &InetSocket, level: i32, name: i32) -> Option<Result<Vec<u8>, Errno>> {
    let o = || s.ep.options();
    let v = match (level, name) {
        (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL) => int_bytes(o().mc_ttl.into()),
        (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP) => int_bytes(o().mc_loop.into()),
        (libc::IPPROTO_IP, libc::IP_MULTICAST_ALL) => int_bytes(o().mc_all.into()),
        (libc::IPPROTO_IP, libc::IP_MULTICAST_IF) => o()
            .mc_addr
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
            .octets()
            .to_vec(),
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS) if s.v6 => int_bytes(o().mc6_hops.into()),
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP) if s.v6 => int_bytes(o().mc6_loop.into()),
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF) if s.v6 => int_bytes(o().mc6_if as i32),
        _ => return None,
    };
    Some(Ok(v))
}

pub(super) fn set(s: &InetSocket, level: i32, name: i32, val: &[u8]) -> Option<Result<(), Errno>> {
    Some(match (level, name) {
        (libc::IPPROTO_IP, libc::IP_MULTICAST_TTL) => ip_int(val).and_then(|v| {
            let ttl = match v {
                -1 => 1,
                0..=255 => v as u8,
                _ => return Err(Errno::EINVAL),
            };
            set_opts(s, |o| o.mc_ttl = ttl)
        }),
        (libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP) => {
            ip_int(val).and_then(|v| set_opts(s, |o| o.mc_loop = v != 0))
        }
        (libc::IPPROTO_IP, libc::IP_MULTICAST_ALL) => ip_int(val).and_then(|v| match v {
            0 | 1 => set_opts(s, |o| o.mc_all = v == 1),
            _ => Err(Errno::EINVAL),
        }),
        (libc::IPPROTO_IP, libc::IP_MULTICAST_IF) => multicast_if(s, val),
        (libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP | libc::IP_DROP_MEMBERSHIP) => {
            membership_v4(s, name == libc::IP_ADD_MEMBERSHIP, val)
        }
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS) if s.v6 => int_option(val).and_then(|v| {
            let hops = match v {
                -1 => 1,
                0..=255 => v as u8,
                _ => return Err(Errno::EINVAL),
            };
            set_opts(s, |o| o.mc6_hops = hops)
        }),
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP) if s.v6 => {
            int_option(val).and_then(|v| match v {
                0 | 1 => set_opts(s, |o| o.mc6_loop = v == 1),
                _ => Err(Errno::EINVAL),
            })
        }
        (libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF) if s.v6 => int_option(val).and_then(|v| {
            if v != 0 && !s.ep.has_interface(v as u32) {
                return Err(Errno::ENODEV);
            }
            set_opts(s, |o| o.mc6_if = v as u32)
        }),
        (libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP | libc::IPV6_DROP_MEMBERSHIP) if s.v6 => {
            membership_v6(s, name == libc::IPV6_ADD_MEMBERSHIP, val)
        }
        _ => return None,
    })
}

/// IP_MULTICAST_IF takes an ip_mreqn, an ip_mreq or an in_addr (the
/// longest that fits): the interface by index, else by its address;
/// EADDRNOTAVAIL when there is no such interface.
fn multicast_if(s: &InetSocket, val: &[u8]) -> Result<(), Errno> {
    let (addr, mut index) = if val.len() >= IP_MREQN {
        (v4_at(val, 4), u32_at(val, 8))
    } else if val.len() >= IP_MREQ {
        (v4_at(val, 4), 0)
    } else if val.len() >= IN_ADDR {
        (v4_at(val, 0), 0)
    } else {
        return Err(Errno::EINVAL);
    };
    if index == 0 {
        if addr.is_unspecified() {
            return set_opts(s, |o| {
                o.mc_if = 0;
                o.mc_addr = None;
            });
        }
        index =
            s.ep.interface_with(IpAddr::V4(addr))
                .ok_or(Errno::EADDRNOTAVAIL)?;
    } else if !s.ep.has_interface(index) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    set_opts(s, |o| {
        o.mc_if = index;
        o.mc_addr = Some(addr);
    })
}

fn membership_v4(s: &InetSocket, join: bool, val: &[u8]) -> Result<(), Errno> {
    if val.len() < IP_MREQ {
        return Err(Errno::EINVAL);
    }
    // TCP sockets have no groups (Linux's is_icsk check).
    if s.is_stream() {
        return Err(Errno(libc::EPROTO));
    }
    let group = IpAddr::V4(v4_at(val, 0));
    let addr = IpAddr::V4(v4_at(val, 4));
    let index = if val.len() >= IP_MREQN {
        u32_at(val, 8)
    } else {
        0
    };
    let r = if join {
        s.ep.join_group(group, index, Some(addr))
    } else {
        s.ep.leave_group(group, index, Some(addr))
    };
    r.map_err(errno)
}

fn membership_v6(s: &InetSocket, join: bool, val: &[u8]) -> Result<(), Errno> {
    if val.len() < IPV6_MREQ {
        return Err(Errno::EINVAL);
    }
    if s.is_stream() {
        return Err(Errno(libc::EPROTO));
    }
    let b: [u8; 16] = val[..16].try_into().expect("16 bytes");
    let group = IpAddr::V6(Ipv6Addr::from(b));
    let index = u32_at(val, 16);
    let r = if join {
        s.ep.join_group(group, index, None)
    } else {
        s.ep.leave_group(group, index, None)
    };
    r.map_err(errno)
}
