//! The routing tables as Linux shows them: the main table (the stack's
//! routes) and the local table the kernel makes for each address, with
//! the type, scope, protocol and metric Linux gives each route, in the
//! order its dumps and /proc files walk them. RTM_GETROUTE and
//! /proc/net/{route,ipv6_route} read this.
//!
//! An on-link route of an address the stack holds is the kernel's
//! (proto kernel, with the address as source); any other route is one the
//! runtime configured at boot (Docker adds its default route that way).

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netstack::{InterfaceInfo, RouteInfo};

use super::interface;

/// The metric of the routes IPv6 makes for a prefix, and of routes a
/// user adds without one.
const V6_KERNEL_METRIC: u32 = 256;
const V6_USER_METRIC: u32 = 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub prefix: u8,
    /// RT_TABLE_MAIN or RT_TABLE_LOCAL.
    pub table: u8,
    /// RTN_UNICAST, RTN_LOCAL, RTN_BROADCAST, RTN_MULTICAST.
    pub kind: u8,
    /// RT_SCOPE_*.
    pub scope: u8,
    /// RTPROT_KERNEL or RTPROT_BOOT.
    pub protocol: u8,
    pub prefsrc: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
    pub oif: u32,
    /// RTA_PRIORITY.
    pub metric: u32,
}

impl Route {
    fn v4(dst: Ipv4Addr, prefix: u8, table: u8, kind: u8, oif: u32) -> Route {
        Route {
            dst: IpAddr::V4(dst),
            prefix,
            table,
            kind,
            scope: if kind == libc::RTN_LOCAL {
                libc::RT_SCOPE_HOST
            } else {
                libc::RT_SCOPE_LINK
            },
            protocol: libc::RTPROT_KERNEL,
            prefsrc: None,
            gateway: None,
            oif,
            metric: 0,
        }
    }

    fn v6(dst: Ipv6Addr, prefix: u8, table: u8, kind: u8, oif: u32, metric: u32) -> Route {
        Route {
            dst: IpAddr::V6(dst),
            prefix,
            table,
            kind,
            scope: libc::RT_SCOPE_UNIVERSE,
            protocol: libc::RTPROT_KERNEL,
            prefsrc: None,
            gateway: None,
            oif,
            metric,
        }
    }

    pub fn is_v6(&self) -> bool {
        self.dst.is_ipv6()
    }
}

/// The on-link address of `ifaces[oif]` that makes `dst/prefix` a
/// kernel route, if any.
fn kernel_source(ifaces: &[InterfaceInfo], r: &RouteInfo) -> Option<IpAddr> {
    if r.gateway.is_some() {
        return None;
    }
    let i = interface::by_index(ifaces, r.interface_index)?;
    i.addrs
        .iter()
        .find(|&&(a, p)| p == r.prefix && netstack::prefix_of(a, p) == r.dst)
        .map(|&(a, _)| a)
}

/// IPv4: the main table, then the local table, each in fib_trie's order
/// (by destination, a longer prefix first), as a dump lists them.
pub fn ipv4(ifaces: &[InterfaceInfo], routes: &[RouteInfo]) -> Vec<Route> {
    let mut main = Vec::new();
    for r in routes {
        let IpAddr::V4(dst) = r.dst else { continue };
        let mut route = Route::v4(
            dst,
            r.prefix,
            libc::RT_TABLE_MAIN,
            libc::RTN_UNICAST,
            r.interface_index,
        );
        match kernel_source(ifaces, r) {
            Some(src) => route.prefsrc = Some(src),
            None => {
                route.protocol = libc::RTPROT_BOOT;
                route.gateway = r.gateway;
                if r.gateway.is_some() {
                    route.scope = libc::RT_SCOPE_UNIVERSE;
                }
            }
        }
        push_new(&mut main, route);
    }
    let mut local = Vec::new();
    for i in ifaces {
        for a in interface::ipv4(i) {
            let src = Some(IpAddr::V4(a.local));
            let mut add = |mut r: Route| {
                r.prefsrc = src;
                push_new(&mut local, r);
            };
            let (l, b) = (libc::RTN_LOCAL, libc::RTN_BROADCAST);
            // fib_add_ifaddr: the address itself, its explicit broadcast,
            // loopback's whole prefix, and the prefix's broadcast.
            add(Route::v4(a.local, 32, libc::RT_TABLE_LOCAL, l, i.index));
            if let Some(brd) = a.broadcast {
                add(Route::v4(brd, 32, libc::RT_TABLE_LOCAL, b, i.index));
            }
            let net = Ipv4Addr::from(u32::from(a.local) & u32::from(a.mask()));
            if net.is_unspecified() || (net == a.local && a.prefix == 32) {
                continue;
            }
            if interface::is_loopback(i) {
                add(Route::v4(net, a.prefix, libc::RT_TABLE_LOCAL, l, i.index));
            }
            if a.prefix < 31 {
                let last = Ipv4Addr::from(u32::from(net) | !u32::from(a.mask()));
                add(Route::v4(last, 32, libc::RT_TABLE_LOCAL, b, i.index));
            }
        }
    }
    main.sort_by(trie_order);
    local.sort_by(trie_order);
    main.extend(local);
    main
}

/// IPv6: the main table, then the local table, each in the order of
/// fib6's tree walk (children before their parent, so ::/0 comes last).
pub fn ipv6(ifaces: &[InterfaceInfo], routes: &[RouteInfo]) -> Vec<Route> {
    let mut main = Vec::new();
    for r in routes {
        let IpAddr::V6(dst) = r.dst else { continue };
        let mut route = Route::v6(
            dst,
            r.prefix,
            libc::RT_TABLE_MAIN,
            libc::RTN_UNICAST,
            r.interface_index,
            V6_KERNEL_METRIC,
        );
        if kernel_source(ifaces, r).is_none() {
            route.protocol = libc::RTPROT_BOOT;
            route.metric = V6_USER_METRIC;
            route.gateway = r.gateway;
        }
        push_new(&mut main, route);
    }
    let mut local = Vec::new();
    for i in ifaces {
        let addrs = interface::ipv6(i);
        for &(a, _) in &addrs {
            let r = Route::v6(a, 128, libc::RT_TABLE_LOCAL, libc::RTN_LOCAL, i.index, 0);
            push_new(&mut local, r);
        }
        if !addrs.is_empty() && !interface::is_loopback(i) {
            let all = Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0);
            let r = Route::v6(
                all,
                8,
                libc::RT_TABLE_LOCAL,
                libc::RTN_MULTICAST,
                i.index,
                V6_KERNEL_METRIC,
            );
            push_new(&mut local, r);
        }
    }
    main.sort_by(tree_order);
    local.sort_by(tree_order);
    main.extend(local);
    main
}

/// Keeps the first of two equal routes, as fib_table_insert refuses the
/// second (two addresses of one subnet make the same broadcast route).
/// The device is part of what makes a route equal: Linux keeps one prefix
/// on several devices (fe80::/64 on every IPv6 link, a subnet on two
/// interfaces), each its own entry.
fn push_new(v: &mut Vec<Route>, r: Route) {
    let same =
        |x: &Route| x.dst == r.dst && x.prefix == r.prefix && x.kind == r.kind && x.oif == r.oif;
    if !v.iter().any(same) {
        v.push(r);
    }
}

fn key(a: &IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(*v4)) << 96,
        IpAddr::V6(v6) => u128::from(*v6),
    }
}

/// fib_trie: leaves by key, and in a leaf the longer prefix first.
fn trie_order(a: &Route, b: &Route) -> Ordering {
    key(&a.dst).cmp(&key(&b.dst)).then(b.prefix.cmp(&a.prefix))
}

/// fib6's post-order walk: the bits both prefixes cover decide; where one
/// covers the other, the longer comes first.
fn tree_order(a: &Route, b: &Route) -> Ordering {
    let common = u32::from(a.prefix.min(b.prefix).min(128));
    let mask = u128::MAX.checked_shl(128 - common).unwrap_or(0);
    (key(&a.dst) & mask)
        .cmp(&(key(&b.dst) & mask))
        .then(b.prefix.cmp(&a.prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::interface::tests::{eth0, lo};

    fn show(r: &Route) -> String {
        format!(
            "{} {}/{} t{} p{} s{} src={:?} via={:?} dev{} m{}",
            r.kind,
            r.dst,
            r.prefix,
            r.table,
            r.protocol,
            r.scope,
            r.prefsrc,
            r.gateway,
            r.oif,
            r.metric
        )
    }

    fn docker_routes() -> Vec<RouteInfo> {
        let ifaces = [lo(), eth0()];
        let mut v: Vec<RouteInfo> = ifaces[1]
            .addrs
            .iter()
            .map(|&(a, p)| RouteInfo {
                dst: netstack::prefix_of(a, p),
                prefix: p,
                gateway: None,
                interface_index: 2,
            })
            .collect();
        v.push(RouteInfo {
            dst: "0.0.0.0".parse().unwrap(),
            prefix: 0,
            gateway: Some("172.17.0.1".parse().unwrap()),
            interface_index: 2,
        });
        v.push(RouteInfo {
            dst: "::".parse().unwrap(),
            prefix: 0,
            gateway: Some("2001:db8::1".parse().unwrap()),
            interface_index: 2,
        });
        v
    }

    #[test]
    fn loopback_alone_has_only_local_routes_in_linux_order() {
        let v4: Vec<String> = ipv4(&[lo()], &[]).iter().map(show).collect();
        assert_eq!(
            v4,
            [
                "2 127.0.0.0/8 t255 p2 s254 src=Some(127.0.0.1) via=None dev1 m0",
                "2 127.0.0.1/32 t255 p2 s254 src=Some(127.0.0.1) via=None dev1 m0",
                "3 127.255.255.255/32 t255 p2 s253 src=Some(127.0.0.1) via=None dev1 m0",
            ]
        );
        let v6: Vec<String> = ipv6(&[lo()], &[]).iter().map(show).collect();
        assert_eq!(v6, ["2 ::1/128 t255 p2 s0 src=None via=None dev1 m0"]);
    }

    #[test]
    fn a_docker_interface_gets_kernel_prefix_routes_and_a_boot_default() {
        let ifaces = [lo(), eth0()];
        let v4: Vec<String> = ipv4(&ifaces, &docker_routes()).iter().map(show).collect();
        assert_eq!(
            &v4[..2],
            [
                "1 0.0.0.0/0 t254 p3 s0 src=None via=Some(172.17.0.1) dev2 m0",
                "1 172.17.0.0/16 t254 p2 s253 src=Some(172.17.0.2) via=None dev2 m0",
            ]
        );
        assert!(v4.contains(
            &"3 172.17.255.255/32 t255 p2 s253 src=Some(172.17.0.2) via=None dev2 m0".into()
        ));
        assert_eq!(
            v4.iter().filter(|s| s.contains("172.17.255.255")).count(),
            1
        );
        let v6: Vec<String> = ipv6(&ifaces, &docker_routes()).iter().map(show).collect();
        assert_eq!(
            &v6[..3],
            [
                "1 2001:db8::/64 t254 p2 s0 src=None via=None dev2 m256",
                "1 fe80::/64 t254 p2 s0 src=None via=None dev2 m256",
                "1 ::/0 t254 p3 s0 src=None via=Some(2001:db8::1) dev2 m1024",
            ]
        );
        assert_eq!(
            v6.last().unwrap(),
            "5 ff00::/8 t255 p2 s0 src=None via=None dev2 m256"
        );
    }

    #[test]
    fn one_prefix_on_two_devices_is_two_routes() {
        let mut veth = eth0();
        veth.index = 3;
        veth.name = "veth0".into();
        veth.addrs = vec![("fe80::1".parse().unwrap(), 64)];
        let ifaces = [lo(), eth0(), veth];
        let link_local = |index| RouteInfo {
            dst: "fe80::".parse().unwrap(),
            prefix: 64,
            gateway: None,
            interface_index: index,
        };
        let v6: Vec<String> = ipv6(&ifaces, &[link_local(2), link_local(3)])
            .iter()
            .map(show)
            .collect();
        assert_eq!(
            &v6[..2],
            [
                "1 fe80::/64 t254 p2 s0 src=None via=None dev2 m256",
                "1 fe80::/64 t254 p2 s0 src=None via=None dev3 m256",
            ]
        );
    }
}
