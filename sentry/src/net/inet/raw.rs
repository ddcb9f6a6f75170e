//! Raw ICMP sockets (SOCK_RAW with IPPROTO_ICMP, or IPPROTO_ICMPV6 on
//! AF_INET6): who may make one, and the options only they have
//! (ICMP_FILTER, ICMP6_FILTER, IPV6_CHECKSUM, IP_HDRINCL), as Linux's
//! raw.c and ipv6/raw.c answer them. The stack does the rest
//! (`netstack::Proto::Raw`).

use super::{errno, InetSocket};
use crate::errno::Errno;
use crate::net::socket::{int_bytes, int_option};

/// ICMP_FILTER (level SOL_RAW) and ICMP6_FILTER (level SOL_ICMPV6).
const ICMP_FILTER: i32 = 1;
const ICMP6_FILTER: i32 = 1;

/// socket(2)'s verdict on SOCK_RAW: EPROTONOSUPPORT for protocol 0 (no
/// protocol is raw's default), EPERM without CAP_NET_RAW (`net_raw`),
/// and past that only ICMP of the socket's own family is offered
/// (EPROTONOSUPPORT for the rest, IPPROTO_RAW among them).
pub(super) fn allowed(v6: bool, protocol: i32, net_raw: bool) -> Result<(), Errno> {
    if !(0..=255).contains(&protocol) {
        return Err(Errno::EINVAL);
    }
    if protocol == 0 {
        return Err(Errno::EPROTONOSUPPORT);
    }
    if !net_raw {
        return Err(Errno::EPERM);
    }
    let icmp = if v6 {
        libc::IPPROTO_ICMPV6
    } else {
        libc::IPPROTO_ICMP
    };
    if protocol != icmp {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(())
}

fn is_raw(s: &InetSocket) -> bool {
    s.kind == libc::SOCK_RAW
}

/// getsockopt(2) of a raw socket's own options; None for the others
/// (and for every option of another socket).
pub(super) fn get(s: &InetSocket, level: i32, name: i32) -> Option<Result<Vec<u8>, Errno>> {
    if !is_raw(s) {
        return None;
    }
    let filter = || s.ep.options().icmp_filter;
    Some(Ok(match (s.v6, level, name) {
        (false, libc::SOL_RAW, ICMP_FILTER) => filter()[0].to_ne_bytes().to_vec(),
        (true, libc::SOL_ICMPV6, ICMP6_FILTER) => {
            filter().iter().flat_map(|w| w.to_ne_bytes()).collect()
        }
        (true, libc::SOL_RAW | libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM) => {
            int_bytes(s.lock().checksum.unwrap_or(2))
        }
        // IPv6 raw sockets know no IP-level option.
        (true, libc::IPPROTO_IP, _) => return Some(Err(Errno::ENOPROTOOPT)),
        _ => return None,
    }))
}

/// setsockopt(2) of a raw socket's own options; None for the others.
pub(super) fn set(s: &InetSocket, level: i32, name: i32, val: &[u8]) -> Option<Result<(), Errno>> {
    if !is_raw(s) {
        return None;
    }
    Some(match (s.v6, level, name) {
        // Linux copies what it is given, up to the filter's size.
        (false, libc::SOL_RAW, ICMP_FILTER) => filter(s, val, 1),
        (true, libc::SOL_ICMPV6, ICMP6_FILTER) => filter(s, val, 8),
        // RFC 3542: the ICMPv6 checksum is always the kernel's; only
        // Linux's SOL_RAW form may name an offset, which is kept for
        // getsockopt while the stack goes on summing at 2.
        (true, libc::IPPROTO_IPV6, libc::IPV6_CHECKSUM) => Err(Errno::EINVAL),
        (true, libc::SOL_RAW, libc::IPV6_CHECKSUM) => match int_option(val) {
            Ok(v) if v > 0 && v % 2 == 1 => Err(Errno::EINVAL),
            Ok(v) => {
                s.lock().checksum = Some(v.max(-1));
                Ok(())
            }
            Err(e) => Err(e),
        },
        // A header written by the application is not offered: the stack
        // writes every IP header itself.
        (false, libc::IPPROTO_IP, libc::IP_HDRINCL) => match int_option(val) {
            Ok(0) => Ok(()),
            Ok(_) => Err(Errno::EOPNOTSUPP),
            Err(e) => Err(e),
        },
        (true, libc::IPPROTO_IP, _) => Err(Errno::ENOPROTOOPT),
        _ => return None,
    })
}

/// Overwrites the first bytes of the filter's `words` words with `val`.
fn filter(s: &InetSocket, val: &[u8], words: usize) -> Result<(), Errno> {
    let mut f = s.ep.options().icmp_filter;
    let mut bytes: Vec<u8> = f[..words].iter().flat_map(|w| w.to_ne_bytes()).collect();
    let n = val.len().min(bytes.len());
    bytes[..n].copy_from_slice(&val[..n]);
    for (w, b) in f.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    }
    s.ep.set_options(&mut |o| o.icmp_filter = f).map_err(errno)
}
