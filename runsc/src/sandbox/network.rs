//! The sandbox's network at boot: which interfaces of the network
//! namespace the Sentry takes for its stack, taking them, and the
//! [`StackConfig`] the Sentry boots with.
//!
//! Taking an interface (`--network=sandbox`, a container with a network
//! namespace of its own) is what gVisor's runsc does in
//! `createInterfacesAndRoutesFromNS` (runsc/sandbox/network.go): for each
//! link that is up, not loopback and has addresses, open an AF_PACKET
//! socket bound to it, note its MAC and MTU, keep its routes, and remove
//! its addresses from the host side. Removing them is what makes the
//! sandbox's stack the only one there: with the addresses in place the
//! host kernel of that namespace would answer ARP and NDP for them and
//! reset every TCP connection the stack accepts, since it has no socket
//! for them. The routes go with the addresses, so they are read first.
//!
//! Nothing else is ever taken: `--network=host` makes inet sockets host
//! sockets, `runsc-rs do` runs in the caller's network namespace, and a
//! container may share its caller's (`docker run --network=host`, whose
//! spec names dockerd's namespace by path; the supervisor tells); the
//! sandbox's stack then has loopback only.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;

use anyhow::{Context, Result};
use netstack::{
    InterfaceConfig, InterfaceInfo, NetworkMode, RouteConfig, RouteInfo, ShownNetwork, StackConfig,
};

use super::netlink::{Addr, Link, Route, Rtnl};
use super::packet::bound_socket;
use crate::config::Config;

/// Where the sandbox's network comes from.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    /// The namespace's interfaces.
    Take,
    /// Loopback only, for this reason (logged).
    LoopbackOnly(&'static str),
}

/// `container`: the sandbox is a container, Some(whether it has a network
/// namespace of its own); None for `do`.
fn source(mode: NetworkMode, container: Option<bool>) -> Source {
    match (mode, container) {
        (NetworkMode::None, _) => Source::LoopbackOnly("--network=none: loopback only"),
        (NetworkMode::Host, _) => Source::LoopbackOnly(
            "--network=host: inet sockets are host sockets; the namespace's interfaces \
             stay the host's, and the sandbox's own stack has loopback only",
        ),
        (NetworkMode::Sandbox, None) => Source::LoopbackOnly(
            "do: the sandbox's stack has a private loopback only; the caller's \
             interfaces are never taken",
        ),
        (NetworkMode::Sandbox, Some(false)) => Source::LoopbackOnly(
            "the container shares its caller's network namespace, the host's: \
             its interfaces are never taken; loopback only",
        ),
        (NetworkMode::Sandbox, Some(true)) => Source::Take,
    }
}

/// The stack the Sentry boots with. Must run before the Sentry leaves the
/// host's user namespace: taking interfaces needs CAP_NET_RAW and
/// CAP_NET_ADMIN over the network namespace.
pub fn stack_config(g: &Config, container: Option<bool>) -> Result<StackConfig> {
    let mut config = StackConfig {
        log_packets: g.log_packets,
        ..StackConfig::default()
    };
    if g.network == NetworkMode::Host {
        // The application's sockets are the namespace's own: it sees the
        // namespace's interfaces and routes, as they are now.
        match host_view() {
            Ok(v) => config.shown = Some(v),
            Err(e) => tracing::warn!("cannot read the host's interfaces for netlink: {e:#}"),
        }
    }
    match source(g.network, container) {
        Source::LoopbackOnly(why) => tracing::info!("{why}"),
        Source::Take if in_init_network_namespace() => {
            // gVisor refuses to run so (isRootNS); we only decline.
            tracing::warn!(
                "the container's network namespace is the host's own (PID 1's): \
                 its interfaces are never taken; loopback only"
            );
        }
        Source::Take => {
            let (interfaces, routes) =
                take().context("cannot take the container's network interfaces")?;
            config.interfaces = interfaces;
            config.routes = routes;
        }
    }
    Ok(config)
}

/// The current namespace's links, addresses and main-table routes as the
/// stack's view shows them (`--network=host`): read, never changed.
fn host_view() -> Result<ShownNetwork> {
    let mut rtnl = Rtnl::open().context("rtnetlink socket")?;
    let links = rtnl.links().context("listing links")?;
    let addrs = rtnl.addrs().context("listing addresses")?;
    let routes = rtnl.routes().context("listing routes")?;
    let mut interfaces: Vec<InterfaceInfo> = links
        .iter()
        .map(|l| {
            let kind = if l.loopback {
                libc::IFF_LOOPBACK
            } else {
                libc::IFF_BROADCAST | libc::IFF_MULTICAST
            };
            let up = if l.up {
                libc::IFF_UP | libc::IFF_RUNNING
            } else {
                0
            };
            InterfaceInfo {
                index: l.index,
                name: l.name.clone(),
                mac: l.mac.unwrap_or_default(),
                mtu: l.mtu,
                flags: (kind | up) as u32,
                addrs: addrs
                    .iter()
                    .filter(|a| a.index == l.index)
                    .map(|a| (a.addr, a.prefix))
                    .collect(),
                rx_packets: 0,
                rx_bytes: 0,
                tx_packets: 0,
                tx_bytes: 0,
            }
        })
        .collect();
    // Loopback first, as the stack lists its own.
    interfaces.sort_by_key(|i| (i.flags & libc::IFF_LOOPBACK as u32 == 0, i.index));
    let routes = routes
        .iter()
        .filter(|r| r.main_unicast)
        .filter_map(|r| {
            Some(RouteInfo {
                dst: r.dst,
                prefix: r.prefix,
                gateway: r.gateway,
                interface_index: r.oif?,
            })
        })
        .collect();
    Ok(ShownNetwork { interfaces, routes })
}

/// Whether this process's network namespace is PID 1's, which is never
/// taken whatever the spec says.
fn in_init_network_namespace() -> bool {
    let id = |p: &str| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    matches!((id("/proc/self/ns/net"), id("/proc/1/ns/net")), (Some(a), Some(b)) if a == b)
}

/// Takes the chosen interfaces of the current network namespace.
fn take() -> Result<(Vec<InterfaceConfig>, Vec<RouteConfig>)> {
    let mut rtnl = Rtnl::open().context("rtnetlink socket")?;
    let links = rtnl.links().context("listing links")?;
    let addrs = rtnl.addrs().context("listing addresses")?;
    let routes = rtnl.routes().context("listing routes")?;
    let choice = choose(&links, &addrs, &routes);
    for (name, why) in &choice.skipped {
        tracing::warn!("interface {name} is left to the host: {why}");
    }
    let mut interfaces = Vec::new();
    for c in choice.taken {
        let (frames, vnet_hdr) = bound_socket(c.link.index)
            .with_context(|| format!("AF_PACKET socket on {}", c.link.name))?;
        for a in &c.addrs {
            rtnl.delete_addr(a).with_context(|| {
                format!("removing {}/{} from {}", a.addr, a.prefix, c.link.name)
            })?;
        }
        tracing::info!(
            "took interface {} (index {}, MTU {}): {}",
            c.link.name,
            c.link.index,
            c.link.mtu,
            c.addrs
                .iter()
                .map(|a| format!("{}/{}", a.addr, a.prefix))
                .collect::<Vec<_>>()
                .join(" ")
        );
        interfaces.push(InterfaceConfig {
            name: c.link.name.clone(),
            index: c.link.index,
            mac: c.mac,
            mtu: c.link.mtu,
            addrs: c.addrs.iter().map(|a| (a.addr, a.prefix)).collect(),
            frames,
            vnet_hdr,
        });
    }
    for r in &choice.routes {
        let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
        tracing::info!("route {}/{}{via} dev {}", r.dst, r.prefix, r.interface);
    }
    Ok((interfaces, choice.routes))
}

/// An interface to take, with what it needs.
#[derive(Debug)]
struct Taken<'a> {
    link: &'a Link,
    mac: [u8; 6],
    addrs: Vec<&'a Addr>,
}

#[derive(Debug, Default)]
struct Choice<'a> {
    taken: Vec<Taken<'a>>,
    routes: Vec<RouteConfig>,
    /// Links up and addressed that cannot be taken: (name, why).
    skipped: Vec<(String, &'static str)>,
}

/// Which links to take (up, not loopback, with addresses, Ethernet) and
/// which of their routes the stack needs: those of the main table beyond
/// the on-link prefixes of their addresses, which the stack makes itself.
fn choose<'a>(links: &'a [Link], addrs: &'a [Addr], routes: &[Route]) -> Choice<'a> {
    let mut c = Choice::default();
    for link in links {
        let mine: Vec<&Addr> = addrs.iter().filter(|a| a.index == link.index).collect();
        if link.loopback || !link.up || mine.is_empty() {
            continue;
        }
        let Some(mac) = link.mac.filter(|_| link.ethernet) else {
            c.skipped.push((
                link.name.clone(),
                "not an Ethernet link (the stack has no other)",
            ));
            continue;
        };
        for r in routes {
            if !r.main_unicast || r.oif != Some(link.index) {
                continue;
            }
            let on_link = r.gateway.is_none()
                && mine
                    .iter()
                    .any(|a| a.prefix == r.prefix && network_of(a.addr, a.prefix) == r.dst);
            if !on_link {
                c.routes.push(RouteConfig {
                    dst: r.dst,
                    prefix: r.prefix,
                    gateway: r.gateway,
                    interface: link.name.clone(),
                });
            }
        }
        c.taken.push(Taken {
            link,
            mac,
            addrs: mine,
        });
    }
    c
}

/// The network part of `a/prefix` (the host bits cleared).
fn network_of(a: IpAddr, prefix: u8) -> IpAddr {
    match a {
        IpAddr::V4(v4) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix.min(32)))
                .unwrap_or(0);
            IpAddr::V4((u32::from(v4) & mask).into())
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix.min(128)))
                .unwrap_or(0);
            IpAddr::V6((u128::from(v6) & mask).into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(a: IpAddr, prefix: u8) -> String {
        format!("{a}/{prefix}")
    }

    fn link(index: u32, name: &str) -> Link {
        Link {
            index,
            name: name.into(),
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            mtu: 1500,
            up: true,
            loopback: false,
            ethernet: true,
        }
    }

    fn route(dst: &str, prefix: u8, gw: Option<&str>, oif: u32) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            prefix,
            gateway: gw.map(|g| g.parse().unwrap()),
            oif: Some(oif),
            main_unicast: true,
        }
    }

    #[test]
    fn only_a_container_with_its_own_namespace_in_sandbox_mode_is_taken() {
        let (sandbox, none, host) = (NetworkMode::Sandbox, NetworkMode::None, NetworkMode::Host);
        assert_eq!(source(sandbox, Some(true)), Source::Take);
        for (mode, container) in [
            (sandbox, None),
            (sandbox, Some(false)),
            (none, Some(true)),
            (none, None),
            (host, Some(true)),
            (host, None),
        ] {
            assert!(
                matches!(source(mode, container), Source::LoopbackOnly(_)),
                "{mode} {container:?}"
            );
        }
    }

    #[test]
    fn the_network_part_clears_the_host_bits() {
        let n = |a: &str, p| network_of(a.parse().unwrap(), p).to_string();
        assert_eq!(n("172.17.0.2", 16), "172.17.0.0");
        assert_eq!(n("10.1.2.3", 0), "0.0.0.0");
        assert_eq!(n("10.1.2.3", 32), "10.1.2.3");
        assert_eq!(n("fe80::42:acff:fe11:2", 64), "fe80::");
        assert_eq!(n("2001:db8::1", 128), "2001:db8::1");
    }

    #[test]
    fn up_addressed_ethernet_links_are_taken_with_their_routes() {
        let mut lo = link(1, "lo");
        lo.loopback = true;
        lo.ethernet = false;
        lo.mac = None;
        let mut down = link(3, "eth1");
        down.up = false;
        let mut tun = link(4, "tun0");
        tun.ethernet = false;
        tun.mac = None;
        let links = vec![lo, link(2, "eth0"), down, tun, link(5, "eth2")];
        let addrs = [
            (1, "127.0.0.1", 8),
            (2, "172.17.0.2", 16),
            (2, "fe80::42:acff:fe11:2", 64),
            (3, "10.9.0.2", 24),
            (4, "10.8.0.2", 24),
        ]
        .map(|(i, a, p)| Addr::for_test(i, a.parse().unwrap(), p));
        let routes = vec![
            route("0.0.0.0", 0, Some("172.17.0.1"), 2),
            route("172.17.0.0", 16, None, 2),
            route("fe80::", 64, None, 2),
            route("10.0.0.0", 8, None, 2),
            route("0.0.0.0", 0, Some("10.9.0.1"), 3),
            Route {
                main_unicast: false,
                ..route("172.17.0.2", 32, None, 2)
            },
        ];
        let c = choose(&links, &addrs, &routes);
        let taken: Vec<(&str, [u8; 6], Vec<String>)> = c
            .taken
            .iter()
            .map(|t| {
                (
                    t.link.name.as_str(),
                    t.mac,
                    t.addrs.iter().map(|a| show(a.addr, a.prefix)).collect(),
                )
            })
            .collect();
        assert_eq!(
            taken,
            vec![(
                "eth0",
                [2, 0, 0, 0, 0, 2],
                vec![
                    "172.17.0.2/16".to_string(),
                    "fe80::42:acff:fe11:2/64".into()
                ]
            )],
            "loopback, a down link, a link without addresses and a non-Ethernet link stay"
        );
        assert_eq!(
            c.routes,
            vec![
                RouteConfig {
                    dst: "0.0.0.0".parse().unwrap(),
                    prefix: 0,
                    gateway: Some("172.17.0.1".parse().unwrap()),
                    interface: "eth0".into(),
                },
                RouteConfig {
                    dst: "10.0.0.0".parse().unwrap(),
                    prefix: 8,
                    gateway: None,
                    interface: "eth0".into(),
                },
            ],
            "on-link prefixes are the stack's own; other tables and links are not taken"
        );
        assert_eq!(
            c.skipped,
            vec![(
                "tun0".to_string(),
                "not an Ethernet link (the stack has no other)"
            )]
        );
    }
}
