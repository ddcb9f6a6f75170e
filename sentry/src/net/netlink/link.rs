//! RTM_NEWLINK messages: an interface as rtnl_fill_ifinfo describes it
//! (what `ip link`, glibc's getifaddrs and Go's net.Interfaces read), and
//! as the IPv6 family's link dump does (inet6_fill_ifinfo, `ip -6 addr`).
//!
//! The attributes come in Linux's order with the values Linux gives a
//! loopback or veth device. Left out: the IPv4 and IPv6 sysctl arrays
//! and IPv6 statistics inside IFLA_AF_SPEC / IFLA_PROTINFO (nothing the
//! stack has), IFLA_LINK of a veth (its peer is outside the sandbox).

use netstack::InterfaceInfo;

use super::message::Builder;
use crate::net::interface::{self, TXQLEN};

/// Attribute types libc does not name (include/uapi/linux/if_link.h).
const IFLA_DEVLINK_PORT: u16 = 62;
const IFLA_GSO_IPV4_MAX_SIZE: u16 = 63;
const IFLA_GRO_IPV4_MAX_SIZE: u16 = 64;
const IFLA_MAX_PACING_OFFLOAD_HORIZON: u16 = 66;
const IFLA_NETNS_IMMUTABLE: u16 = 67;
const IFLA_HEADROOM: u16 = 68;
const IFLA_TAILROOM: u16 = 69;
const IFLA_DPLL_PIN: u16 = 65;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_INET6_FLAGS: u16 = 1;
const IFLA_INET6_CACHEINFO: u16 = 5;
const IFLA_INET6_TOKEN: u16 = 7;
const IFLA_INET6_ADDR_GEN_MODE: u16 = 8;

/// IF_READY: IPv6 runs on the device.
const IF_READY: u32 = 0x8000_0000;
/// Limits loopback and veth devices are made with.
const GSO_MAX_SEGS: u32 = 65535;
const GSO_MAX_SIZE: u32 = 65536;
const TSO_MAX_SIZE: u32 = 524_280;
/// IPv6 neighbour discovery defaults (ms): REACHABLE_TIME, RETRANS_TIMER.
const REACHABLE_TIME: u32 = 30_000;
const RETRANS_TIME: u32 = 1000;
/// Fields of `struct rtnl_link_stats64` (and, as u32, the first 24 of
/// them in `struct rtnl_link_stats`).
const STATS64_FIELDS: usize = 25;
const STATS_FIELDS: usize = 24;

/// Who a reply goes to, and its header flags.
#[derive(Clone, Copy)]
pub struct Reply {
    pub seq: u32,
    pub pid: u32,
    pub flags: u16,
}

/// `struct ifinfomsg`.
fn ifinfomsg(family: u8, i: &InterfaceInfo) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = family;
    h[2..4].copy_from_slice(&interface::arp_type(i).to_ne_bytes());
    h[4..8].copy_from_slice(&(i.index as i32).to_ne_bytes());
    h[8..12].copy_from_slice(&interface::flags(i).to_ne_bytes());
    h
}

/// The counters in `struct rtnl_link_stats64` order: rx_packets,
/// tx_packets, rx_bytes, tx_bytes, then errors and drops (none).
fn counters(i: &InterfaceInfo) -> [u64; STATS64_FIELDS] {
    let mut c = [0u64; STATS64_FIELDS];
    c[..4].copy_from_slice(&[i.rx_packets, i.tx_packets, i.rx_bytes, i.tx_bytes]);
    c
}

/// IFLA_INET6_* inside IFLA_AF_SPEC's AF_INET6 and IFLA_PROTINFO
/// (inet6_fill_ifla6_attrs).
fn inet6_attrs(b: &mut Builder) {
    b.u32(IFLA_INET6_FLAGS, IF_READY);
    let mut ci = Vec::with_capacity(16);
    // max_reasm_len, tstamp (since boot), reachable_time, retrans_time.
    for v in [65535u32, 0, REACHABLE_TIME, RETRANS_TIME] {
        ci.extend_from_slice(&v.to_ne_bytes());
    }
    b.attr(IFLA_INET6_CACHEINFO, &ci);
    b.attr(IFLA_INET6_TOKEN, &[0; 16]);
    // IN6_ADDR_GEN_MODE_EUI64.
    b.u8(IFLA_INET6_ADDR_GEN_MODE, 0);
}

/// RTM_NEWLINK for `i` (rtnl_fill_ifinfo); without IFLA_STATS64 and
/// IFLA_STATS when asked to skip them (RTEXT_FILTER_SKIP_STATS).
pub fn link(i: &InterfaceInfo, r: Reply, skip_stats: bool) -> Vec<u8> {
    let mut b = Builder::new(libc::RTM_NEWLINK, r.flags, r.seq, r.pid);
    b.put(&ifinfomsg(libc::AF_UNSPEC as u8, i));
    let (min_mtu, max_mtu) = interface::mtu_range(i);
    let lo = interface::is_loopback(i);
    b.str(libc::IFLA_IFNAME, &i.name)
        .u32(libc::IFLA_TXQLEN, TXQLEN)
        .u8(libc::IFLA_OPERSTATE, interface::operstate(i))
        .u8(libc::IFLA_LINKMODE, 0)
        // Loopback cannot move to another namespace.
        .u8(IFLA_NETNS_IMMUTABLE, u8::from(lo))
        .u32(libc::IFLA_MTU, i.mtu)
        .u32(libc::IFLA_MIN_MTU, min_mtu)
        .u32(libc::IFLA_MAX_MTU, max_mtu)
        .u32(libc::IFLA_GROUP, 0)
        .u32(libc::IFLA_PROMISCUITY, 0)
        .u32(libc::IFLA_ALLMULTI, 0)
        .u32(libc::IFLA_NUM_TX_QUEUES, 1)
        .u32(libc::IFLA_GSO_MAX_SEGS, GSO_MAX_SEGS)
        .u32(libc::IFLA_GSO_MAX_SIZE, GSO_MAX_SIZE)
        .u32(libc::IFLA_GRO_MAX_SIZE, GSO_MAX_SIZE)
        .u32(IFLA_GSO_IPV4_MAX_SIZE, GSO_MAX_SIZE)
        .u32(IFLA_GRO_IPV4_MAX_SIZE, GSO_MAX_SIZE)
        .u32(libc::IFLA_TSO_MAX_SIZE, TSO_MAX_SIZE)
        .u32(libc::IFLA_TSO_MAX_SEGS, GSO_MAX_SEGS)
        .u32(IFLA_MAX_PACING_OFFLOAD_HORIZON, 0)
        .u32(libc::IFLA_NUM_RX_QUEUES, 1)
        .u8(libc::IFLA_CARRIER, u8::from(interface::is_up(i)))
        .u32(libc::IFLA_CARRIER_CHANGES, 0)
        .u32(libc::IFLA_CARRIER_UP_COUNT, 0)
        .u32(libc::IFLA_CARRIER_DOWN_COUNT, 0)
        .u16(IFLA_HEADROOM, 0)
        .u16(IFLA_TAILROOM, 0)
        .u8(libc::IFLA_PROTO_DOWN, 0)
        .attr(libc::IFLA_ADDRESS, &i.mac)
        .attr(libc::IFLA_BROADCAST, &interface::hw_broadcast(i));
    if !skip_stats {
        let c = counters(i);
        let s64: Vec<u8> = c.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let s32: Vec<u8> = c[..STATS_FIELDS]
            .iter()
            .flat_map(|&v| (v as u32).to_ne_bytes())
            .collect();
        b.attr(libc::IFLA_STATS64, &s64)
            .attr(libc::IFLA_STATS, &s32);
    }
    let xdp = b.nest(libc::IFLA_XDP);
    // XDP_ATTACHED_NONE.
    b.u8(IFLA_XDP_ATTACHED, 0);
    b.end_nest(xdp);
    b.str(libc::IFLA_QDISC, "noqueue");
    let spec = b.nest(libc::IFLA_AF_SPEC);
    let v6 = b.nest(libc::AF_INET6 as u16);
    inet6_attrs(&mut b);
    b.end_nest(v6);
    b.end_nest(spec);
    // struct rtnl_link_ifmap: no memory window, IRQ or DMA channel.
    b.attr(libc::IFLA_MAP, &[0; 32]);
    let port = b.nest(IFLA_DEVLINK_PORT);
    b.end_nest(port);
    let pin = b.nest(IFLA_DPLL_PIN);
    b.end_nest(pin);
    b.finish()
}

/// RTM_NEWLINK of the IPv6 family (inet6_fill_ifinfo).
pub fn inet6_link(i: &InterfaceInfo, r: Reply) -> Vec<u8> {
    let mut b = Builder::new(libc::RTM_NEWLINK, r.flags, r.seq, r.pid);
    b.put(&ifinfomsg(libc::AF_INET6 as u8, i));
    b.str(libc::IFLA_IFNAME, &i.name)
        .attr(libc::IFLA_ADDRESS, &i.mac)
        .u32(libc::IFLA_MTU, i.mtu)
        .u8(libc::IFLA_OPERSTATE, interface::operstate(i));
    let p = b.nest(libc::IFLA_PROTINFO);
    inet6_attrs(&mut b);
    b.end_nest(p);
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::interface::tests::{eth0, lo};
    use crate::net::netlink::message::{attr_str, attr_u32, Attrs, Header, HDR_LEN};

    fn attrs(m: &[u8]) -> Vec<(u16, Vec<u8>)> {
        Attrs::new(&m[HDR_LEN + 16..])
            .map(|(k, d)| (k, d.to_vec()))
            .collect()
    }

    #[test]
    fn loopback_link_carries_linux_attributes_in_linux_order() {
        let r = Reply {
            seq: 3,
            pid: 77,
            flags: libc::NLM_F_MULTI as u16,
        };
        let m = link(&lo(), r, false);
        let h = Header::parse(&m).unwrap();
        assert_eq!((h.kind, h.flags, h.seq, h.pid), (16, 2, 3, 77));
        assert_eq!(h.len as usize, m.len());
        // ifinfomsg: AF_UNSPEC, ARPHRD_LOOPBACK, index 1, UP|LOOPBACK|RUNNING|LOWER_UP.
        assert_eq!(
            &m[16..32],
            &[0, 0, 4, 3, 1, 0, 0, 0, 0x49, 0, 1, 0, 0, 0, 0, 0]
        );
        let a = attrs(&m);
        let kinds: Vec<u16> = a.iter().map(|x| x.0).collect();
        assert_eq!(
            kinds,
            [
                3, 13, 16, 17, 67, 4, 50, 51, 27, 30, 61, 31, 40, 41, 58, 63, 64, 59, 60, 66, 32,
                33, 35, 47, 48, 68, 69, 39, 1, 2, 23, 7, 43, 6, 26, 14, 62, 65
            ]
        );
        assert_eq!(attr_str(&a[0].1), b"lo");
        assert_eq!(attr_u32(&a[5].1), Some(65536));
        assert_eq!(a[30].1.len(), 200);
        assert_eq!(a[31].1.len(), 96);
        assert_eq!(attr_str(&a[33].1), b"noqueue");
        let skip = attrs(&link(&lo(), r, true));
        assert!(!skip.iter().any(|x| x.0 == 23 || x.0 == 7));
    }

    #[test]
    fn ethernet_link_has_its_mac_counters_and_veth_limits() {
        let r = Reply {
            seq: 1,
            pid: 1,
            flags: 0,
        };
        let m = link(&eth0(), r, false);
        assert_eq!(&m[18..20], &1u16.to_ne_bytes());
        let a = attrs(&m);
        let get = |k: u16| a.iter().find(|x| x.0 == k).unwrap().1.clone();
        assert_eq!(get(1), [0x02, 0x42, 0xac, 0x11, 0, 2]);
        assert_eq!(get(2), [0xff; 6]);
        assert_eq!(get(16), [libc::IF_OPER_UP as u8]);
        assert_eq!(attr_u32(&get(50)), Some(68));
        let s64 = get(23);
        assert_eq!(u64::from_ne_bytes(s64[0..8].try_into().unwrap()), 12);
        assert_eq!(u64::from_ne_bytes(s64[16..24].try_into().unwrap()), 3456);
        let v6 = inet6_link(&eth0(), r);
        let kinds: Vec<u16> = attrs(&v6).iter().map(|x| x.0).collect();
        assert_eq!(kinds, [3, 1, 4, 16, 12]);
        assert_eq!(v6[16], libc::AF_INET6 as u8);
    }
}
