//! The stack's interfaces: each a smoltcp `Interface`, its device and its
//! own socket set, where a socket is named by its interface and its
//! handle (`Sock`). Loopback (index 0 here, ifindex 1) owns 127.0.0.1/8,
//! ::1 and, through AnyIP routes, every address of the Ethernet
//! interfaces: Linux's local table sends traffic to the host's own
//! addresses through lo, and so does this stack.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use smoltcp::iface::{Config, Interface, Route, SocketHandle, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr};

use crate::addr::to_wire;
use crate::config::InterfaceConfig;
use crate::device::Dev;

/// Loopback's place in `Inner::ifaces`.
pub(crate) const LO: usize = 0;

/// An IPv4 packet's total length field caps loopback's segments.
const LO_MTU: usize = 65535;

/// A smoltcp socket: which interface's set, and its handle there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Sock {
    pub iface: usize,
    pub h: SocketHandle,
}

pub(crate) struct Iface {
    pub index: u32,
    pub name: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub addrs: Vec<(IpAddr, u8)>,
    pub iface: Interface,
    pub dev: Dev,
    pub sockets: SocketSet<'static>,
    /// The raw socket IPv6 fragments leave by (`fragment6`), made on
    /// first use.
    pub frag6: Option<SocketHandle>,
}

fn cidr(a: IpAddr, prefix: u8) -> IpCidr {
    IpCidr::new(to_wire(a), prefix)
}

impl Iface {
    /// `local`: the Ethernet interfaces' addresses, which loopback also
    /// delivers to.
    pub(crate) fn loopback(local: &[IpAddr], now: Instant, seed: u64, log: bool) -> Iface {
        let mut dev = Dev::loopback(LO_MTU, log.then(|| "lo".to_string()));
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, now);
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        iface.update_ip_addrs(|a| {
            let _ = a.push(cidr(v4, 8));
            let _ = a.push(cidr(v6, 128));
        });
        // AnyIP takes a packet whose destination routes through one of
        // the interface's own addresses: all of 127/8 (Linux answers on
        // every address there) and each Ethernet address.
        iface.set_any_ip(true);
        iface.routes_mut().update(|r| {
            let mut add = |dst: IpAddr, prefix: u8| {
                let via = if dst.is_ipv4() { v4 } else { v6 };
                let _ = r.push(Route {
                    cidr: cidr(dst, prefix),
                    via_router: to_wire(via),
                    preferred_until: None,
                    expires_at: None,
                });
            };
            add(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8);
            for &a in local {
                add(a, if a.is_ipv4() { 32 } else { 128 });
            }
        });
        Iface {
            index: 1,
            name: "lo".into(),
            mac: [0; 6],
            mtu: 65536,
            addrs: vec![(v4, 8), (v6, 128)],
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            frag6: None,
        }
    }

    /// `gateways`: the routes out of this interface, `(dst, prefix, via)`.
    pub(crate) fn ethernet(
        cfg: InterfaceConfig,
        gateways: &[(IpAddr, u8, IpAddr)],
        now: Instant,
        seed: u64,
        log: bool,
    ) -> std::io::Result<Iface> {
        let InterfaceConfig {
            name,
            index,
            mac,
            mtu,
            addrs,
            frames,
            vnet_hdr,
        } = cfg;
        crate::sys::set_nonblocking(std::os::fd::AsRawFd::as_raw_fd(&frames))?;
        let frame_len = mtu as usize + 14;
        let mut dev = Dev::ethernet(frames, frame_len, vnet_hdr, log.then(|| name.clone()));
        let ether = EthernetAddress(mac);
        if !ether.is_unicast() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{name}: MAC {ether} is not unicast"),
            ));
        }
        let mut config = Config::new(HardwareAddress::Ethernet(ether));
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut dev, now);
        iface.update_ip_addrs(|a| {
            for &(addr, prefix) in &addrs {
                let _ = a.push(cidr(addr, prefix));
            }
        });
        iface.routes_mut().update(|r| {
            for &(dst, prefix, via) in gateways {
                let _ = r.push(Route {
                    cidr: cidr(dst, prefix),
                    via_router: to_wire(via),
                    preferred_until: None,
                    expires_at: None,
                });
            }
        });
        Ok(Iface {
            index,
            name,
            mac,
            mtu,
            addrs,
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            frag6: None,
        })
    }

    pub(crate) fn has_addr(&self, a: IpAddr) -> bool {
        self.addrs.iter().any(|&(x, _)| x == a)
    }
}
