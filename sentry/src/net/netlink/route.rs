//! RTM_NEWROUTE messages: an IPv4 route as fib_dump_info writes it, an
//! IPv6 one as rt6_fill_node does.

use std::net::IpAddr;

use super::link::Reply;
use super::message::Builder;
use crate::net::route_table::Route;

/// `sizeof(struct rta_cacheinfo)`: nothing cached, nothing expires.
const RTA_CACHEINFO_LEN: usize = 32;
/// ICMPV6_ROUTER_PREF_MEDIUM.
const PREF_MEDIUM: u8 = 0;

fn octets(a: &IpAddr) -> Vec<u8> {
    match a {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// `struct rtmsg`.
fn rtmsg(rt: &Route) -> [u8; 12] {
    let family = if rt.is_v6() {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    [
        family as u8,
        rt.prefix,
        0,
        0,
        rt.table,
        rt.protocol,
        rt.scope,
        rt.kind,
        0,
        0,
        0,
        0,
    ]
}

pub fn route(rt: &Route, r: Reply) -> Vec<u8> {
    let mut b = Builder::new(libc::RTM_NEWROUTE, r.flags, r.seq, r.pid);
    b.put(&rtmsg(rt));
    b.u32(libc::RTA_TABLE, u32::from(rt.table));
    if rt.prefix > 0 {
        b.attr(libc::RTA_DST, &octets(&rt.dst));
    }
    if rt.is_v6() {
        b.u32(libc::RTA_PRIORITY, rt.metric);
    } else {
        if rt.metric != 0 {
            b.u32(libc::RTA_PRIORITY, rt.metric);
        }
        if let Some(src) = &rt.prefsrc {
            b.attr(libc::RTA_PREFSRC, &octets(src));
        }
    }
    if let Some(gw) = &rt.gateway {
        b.attr(libc::RTA_GATEWAY, &octets(gw));
    }
    b.u32(libc::RTA_OIF, rt.oif);
    if rt.is_v6() {
        b.attr(libc::RTA_CACHEINFO, &[0; RTA_CACHEINFO_LEN])
            .u8(libc::RTA_PREF, PREF_MEDIUM);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::interface::tests::lo;
    use crate::net::netlink::message::{Attrs, HDR_LEN};
    use crate::net::route_table;

    #[test]
    fn loopback_routes_match_what_linux_dumps() {
        let r = Reply {
            seq: 1,
            pid: 5,
            flags: libc::NLM_F_MULTI as u16,
        };
        let v4 = route_table::ipv4(&[lo()], &[]);
        let m = route(&v4[0], r);
        // local 127.0.0.0/8 dev lo table local proto kernel scope host src 127.0.0.1
        assert_eq!(&m[16..28], &[2, 8, 0, 0, 255, 2, 254, 2, 0, 0, 0, 0]);
        let kinds: Vec<u16> = Attrs::new(&m[HDR_LEN + 12..]).map(|(k, _)| k).collect();
        assert_eq!(kinds, [15, 1, 7, 4]);
        assert_eq!(m.len(), 60);
        let v6 = route_table::ipv6(&[lo()], &[]);
        let m = route(&v6[0], r);
        assert_eq!(&m[16..28], &[10, 128, 0, 0, 255, 2, 0, 2, 0, 0, 0, 0]);
        let kinds: Vec<u16> = Attrs::new(&m[HDR_LEN + 12..]).map(|(k, _)| k).collect();
        assert_eq!(kinds, [15, 1, 6, 4, 12, 20]);
        assert_eq!(m.len(), 116);
    }
}
