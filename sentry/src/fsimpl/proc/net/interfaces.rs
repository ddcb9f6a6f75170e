//! /proc/net/{dev,if_inet6,route,ipv6_route}: the stack's interfaces
//! and routing tables in the text Linux prints (net/core/net-procfs.c,
//! net/ipv6/addrconf.c, net/ipv4/fib_trie.c, net/ipv6/ip6_fib.c), column
//! widths and padding included: tools parse these by position.

use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr};

use netstack::{InterfaceInfo, RouteInfo};

use crate::net::interface;
use crate::net::route_table::{self, Route};

/// Route flags of /proc/net/route and ipv6_route (include/uapi/linux/route.h,
/// ipv6_route.h).
const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_HOST: u32 = 0x0004;
const RTF_REJECT: u32 = 0x0200;
const RTF_NONEXTHOP: u32 = 0x0020_0000;
const RTF_LOCAL: u32 = 0x8000_0000;

/// /proc/net/route's lines are padded to this width (seq_setwidth).
const ROUTE_WIDTH: usize = 127;

/// Pads `line` with spaces to `width`, then ends it (seq_pad).
pub fn pad(out: &mut String, line: &str, width: usize) {
    let _ = writeln!(out, "{line:<width$}");
}

pub fn dev(ifaces: &[InterfaceInfo]) -> String {
    let mut out = String::from(
        "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs \
         drop fifo colls carrier compressed\n",
    );
    for i in ifaces {
        let _ = writeln!(
            out,
            "{:>6}: {:7} {:7} {:4} {:4} {:4} {:5} {:10} {:9} {:8} {:7} {:4} {:4} {:4} {:5} {:7} {:10}",
            i.name, i.rx_bytes, i.rx_packets, 0, 0, 0, 0, 0, 0, i.tx_bytes, i.tx_packets, 0, 0, 0, 0, 0, 0
        );
    }
    out
}

/// `%pi6`: 32 hex digits, no colons.
fn hex6(a: &Ipv6Addr) -> String {
    a.octets().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn if_inet6(ifaces: &[InterfaceInfo]) -> String {
    let mut out = String::new();
    for i in ifaces {
        for (a, prefix) in interface::ipv6(i) {
            let (_, scope) = interface::v6_scope(&a);
            let _ = writeln!(
                out,
                "{} {:02x} {:02x} {:02x} {:02x} {:>8}",
                hex6(&a),
                i.index,
                prefix,
                scope,
                libc::IFA_F_PERMANENT,
                i.name
            );
        }
    }
    out
}

fn dev_name(ifaces: &[InterfaceInfo], index: u32) -> &str {
    interface::by_index(ifaces, index).map_or("", |i| i.name.as_str())
}

/// An IPv4 address as `%08X` prints a `__be32`: its bytes in memory
/// order, read back as a little-endian number.
fn hex4(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => format!("{:08X}", u32::from_le_bytes(v4.octets())),
        IpAddr::V6(_) => "00000000".into(),
    }
}

/// The main table's IPv4 routes (fib_route_seq_show), broadcast and
/// multicast routes left out as Linux leaves them.
pub fn route(ifaces: &[InterfaceInfo], routes: &[RouteInfo]) -> String {
    let mut out = String::new();
    pad(
        &mut out,
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
        ROUTE_WIDTH,
    );
    let main = route_table::ipv4(ifaces, routes)
        .into_iter()
        .filter(|r| r.table == libc::RT_TABLE_MAIN)
        .filter(|r| r.kind != libc::RTN_BROADCAST && r.kind != libc::RTN_MULTICAST);
    for r in main {
        let mask = IpAddr::V4(interface::mask_v4(r.prefix));
        let mut flags = RTF_UP;
        if r.gateway.is_some() {
            flags |= RTF_GATEWAY;
        }
        if r.prefix == 32 {
            flags |= RTF_HOST;
        }
        let gw = r
            .gateway
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let line = format!(
            "{}\t{}\t{}\t{:04X}\t0\t0\t{}\t{}\t0\t0\t0",
            dev_name(ifaces, r.oif),
            hex4(&r.dst),
            hex4(&gw),
            flags,
            r.metric,
            hex4(&mask)
        );
        pad(&mut out, &line, ROUTE_WIDTH);
    }
    out
}

fn v6_line(
    out: &mut String,
    dst: &Ipv6Addr,
    prefix: u8,
    gw: Option<&Ipv6Addr>,
    nums: [u32; 4],
    dev: &str,
) {
    let zero = "0".repeat(32);
    let gw = gw.map_or(zero.clone(), hex6);
    let [metric, refs, used, flags] = nums;
    let _ = writeln!(
        out,
        "{} {prefix:02x} {zero} 00 {gw} {metric:08x} {refs:08x} {used:08x} {flags:08x} {dev:>8}",
        hex6(dst)
    );
}

/// Both tables' IPv6 routes (ipv6_route_native_seq_show), each table
/// ending with the null entry its root holds unless a default route
/// stands there.
pub fn ipv6_route(ifaces: &[InterfaceInfo], routes: &[RouteInfo]) -> String {
    let all = route_table::ipv6(ifaces, routes);
    let mut out = String::new();
    for table in [libc::RT_TABLE_MAIN, libc::RT_TABLE_LOCAL] {
        let rows: Vec<&Route> = all.iter().filter(|r| r.table == table).collect();
        for r in &rows {
            let IpAddr::V6(dst) = r.dst else { continue };
            let gw = match &r.gateway {
                Some(IpAddr::V6(g)) => Some(g),
                _ => None,
            };
            let (flags, refs) = if r.kind == libc::RTN_LOCAL {
                (RTF_UP | RTF_NONEXTHOP | RTF_LOCAL, 2)
            } else if gw.is_some() {
                (RTF_UP | RTF_GATEWAY, 1)
            } else {
                (RTF_UP, 1)
            };
            v6_line(
                &mut out,
                &dst,
                r.prefix,
                gw,
                [r.metric, refs, 0, flags],
                dev_name(ifaces, r.oif),
            );
        }
        if !rows.iter().any(|r| r.prefix == 0) {
            let null = [u32::MAX, 1, 0, RTF_REJECT | RTF_NONEXTHOP];
            v6_line(&mut out, &Ipv6Addr::UNSPECIFIED, 0, None, null, "lo");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::interface::tests::{eth0, lo};

    #[test]
    fn loopback_alone_prints_as_a_fresh_linux_namespace_does() {
        let lo = [lo()];
        assert_eq!(
            dev(&lo),
            "Inter-|   Receive                                                |  Transmit\n \
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
             lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n"
        );
        assert_eq!(
            if_inet6(&lo),
            "00000000000000000000000000000001 01 80 10 80       lo\n"
        );
        let header =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";
        assert_eq!(route(&lo, &[]), format!("{header:<127}\n"));
        let null = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                    00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
        assert_eq!(
            ipv6_route(&lo, &[]),
            format!(
                "{null}00000000000000000000000000000001 80 00000000000000000000000000000000 00 \
                 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n{null}"
            )
        );
    }

    #[test]
    fn an_ethernet_interface_shows_its_routes_and_counters() {
        let ifaces = [lo(), eth0()];
        let routes = [
            RouteInfo {
                dst: "172.17.0.0".parse().unwrap(),
                prefix: 16,
                gateway: None,
                interface_index: 2,
            },
            RouteInfo {
                dst: "0.0.0.0".parse().unwrap(),
                prefix: 0,
                gateway: Some("172.17.0.1".parse().unwrap()),
                interface_index: 2,
            },
        ];
        let text = route(&ifaces, &routes);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[1].trim_end(),
            "eth0\t00000000\t010011AC\t0003\t0\t0\t0\t00000000\t0\t0\t0"
        );
        assert_eq!(
            lines[2].trim_end(),
            "eth0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0"
        );
        assert!(lines.iter().all(|l| l.len() == 127));
        assert!(dev(&ifaces).ends_with(
            "  eth0:    3456      12    0    0    0     0          0         0      890       7    0    0    0     0       0          0\n"
        ));
        assert_eq!(if_inet6(&ifaces).lines().count(), 3);
    }
}
