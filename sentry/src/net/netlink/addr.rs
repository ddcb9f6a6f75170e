//! RTM_NEWADDR messages: an interface's IPv4 addresses as
//! inet_fill_ifaddr writes them, its IPv6 ones as inet6_fill_ifaddr does.
//! Every address is permanent (the runtime configured it, nothing
//! expires it), created when the sandbox booted.

use std::net::Ipv6Addr;

use netstack::InterfaceInfo;

use super::link::Reply;
use super::message::Builder;
use crate::net::interface::{self, V4Addr};

/// Attribute types libc does not name (include/uapi/linux/if_addr.h).
const IFA_FLAGS: u16 = 8;
const IFA_PROTO: u16 = 11;
/// INFINITY_LIFE_TIME.
const FOREVER: u32 = u32::MAX;

/// `struct ifaddrmsg`.
fn ifaddrmsg(family: i32, prefix: u8, scope: u8, index: u32) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[0] = family as u8;
    h[1] = prefix;
    h[2] = libc::IFA_F_PERMANENT as u8;
    h[3] = scope;
    h[4..8].copy_from_slice(&index.to_ne_bytes());
    h
}

/// `struct ifa_cacheinfo`: lifetimes, then creation and update times in
/// hundredths of a second since boot.
fn cacheinfo() -> Vec<u8> {
    [FOREVER, FOREVER, 0, 0]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect()
}

pub fn v4(i: &InterfaceInfo, a: &V4Addr, r: Reply) -> Vec<u8> {
    let mut b = Builder::new(libc::RTM_NEWADDR, r.flags, r.seq, r.pid);
    b.put(&ifaddrmsg(libc::AF_INET, a.prefix, a.scope(), i.index));
    b.attr(libc::IFA_ADDRESS, &a.local.octets())
        .attr(libc::IFA_LOCAL, &a.local.octets());
    if let Some(brd) = a.broadcast {
        b.attr(libc::IFA_BROADCAST, &brd.octets());
    }
    b.str(libc::IFA_LABEL, &i.name)
        .u32(IFA_FLAGS, libc::IFA_F_PERMANENT)
        .attr(libc::IFA_CACHEINFO, &cacheinfo());
    b.finish()
}

pub fn v6(i: &InterfaceInfo, a: &Ipv6Addr, prefix: u8, r: Reply) -> Vec<u8> {
    let mut b = Builder::new(libc::RTM_NEWADDR, r.flags, r.seq, r.pid);
    let (scope, _) = interface::v6_scope(a);
    b.put(&ifaddrmsg(libc::AF_INET6, prefix, scope, i.index));
    b.attr(libc::IFA_ADDRESS, &a.octets())
        .attr(libc::IFA_CACHEINFO, &cacheinfo())
        .u32(IFA_FLAGS, libc::IFA_F_PERMANENT);
    let proto = interface::v6_proto(a);
    if proto != 0 {
        b.u8(IFA_PROTO, proto);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::interface::tests::{eth0, lo};
    use crate::net::netlink::message::{Attrs, HDR_LEN};

    fn kinds(m: &[u8]) -> Vec<u16> {
        Attrs::new(&m[HDR_LEN + 8..]).map(|(k, _)| k).collect()
    }

    #[test]
    fn addresses_are_laid_out_as_linux_lays_out_loopbacks() {
        let r = Reply {
            seq: 1,
            pid: 5,
            flags: libc::NLM_F_MULTI as u16,
        };
        let lo = lo();
        let a = interface::ipv4(&lo)[0];
        let m = v4(&lo, &a, r);
        // What Linux sends for 127.0.0.1/8 on lo.
        assert_eq!(&m[16..24], &[2, 8, 0x80, 0xfe, 1, 0, 0, 0]);
        assert_eq!(kinds(&m), [1, 2, 3, 8, 6]);
        assert_eq!(m.len(), 76);
        let m6 = v6(&lo, &"::1".parse().unwrap(), 128, r);
        assert_eq!(&m6[16..24], &[10, 128, 0x80, 0xfe, 1, 0, 0, 0]);
        assert_eq!(kinds(&m6), [1, 6, 8, 11]);
        assert_eq!(m6.len(), 80);
        let eth = eth0();
        let e = v4(&eth, &interface::ipv4(&eth)[0], r);
        assert_eq!(kinds(&e), [1, 2, 4, 3, 8, 6]);
        assert_eq!(e[19], 0, "a global address has universe scope");
    }
}
