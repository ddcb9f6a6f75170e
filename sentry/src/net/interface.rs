//! An interface as Linux shows it to applications: what netlink's link
//! and address messages, the SIOCGIF* ioctls and /proc/net agree on, from
//! the stack's [`InterfaceInfo`].
//!
//! The stack knows addresses, flags, MTU and counters; the rest is what
//! Linux shows for the same kind of device in a container: loopback as
//! `lo` is, every other interface as a veth (Docker's `eth0`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netstack::InterfaceInfo;

/// `dev->tx_queue_len` of loopback and veth devices.
pub const TXQLEN: u32 = 1000;

/// /proc/net/if_inet6's scope column (IFA_HOST, IFA_LINK, IFA_SITE).
const IFA_HOST: u8 = 0x10;
const IFA_LINK: u8 = 0x20;
const IFA_SITE: u8 = 0x40;

pub fn is_loopback(i: &InterfaceInfo) -> bool {
    i.flags & libc::IFF_LOOPBACK as u32 != 0
}

pub fn is_up(i: &InterfaceInfo) -> bool {
    i.flags & libc::IFF_UP as u32 != 0
}

/// `dev->type`: ARPHRD_LOOPBACK or ARPHRD_ETHER.
pub fn arp_type(i: &InterfaceInfo) -> u16 {
    if is_loopback(i) {
        libc::ARPHRD_LOOPBACK
    } else {
        libc::ARPHRD_ETHER
    }
}

/// netif_get_flags: the device's flags, with IFF_LOWER_UP while it runs
/// (the stack's interfaces always have their carrier).
pub fn flags(i: &InterfaceInfo) -> u32 {
    let running = i.flags & libc::IFF_RUNNING as u32 != 0;
    i.flags
        | if running {
            libc::IFF_LOWER_UP as u32
        } else {
            0
        }
}

/// IF_OPER_*: loopback has no carrier to speak of (UNKNOWN, as `ip link`
/// shows it); another device is UP while running.
pub fn operstate(i: &InterfaceInfo) -> u8 {
    let state = if !is_up(i) {
        libc::IF_OPER_DOWN
    } else if is_loopback(i) {
        libc::IF_OPER_UNKNOWN
    } else {
        libc::IF_OPER_UP
    };
    state as u8
}

/// The hardware broadcast address (IFLA_BROADCAST).
pub fn hw_broadcast(i: &InterfaceInfo) -> [u8; 6] {
    if is_loopback(i) {
        [0; 6]
    } else {
        [0xff; 6]
    }
}

/// `dev->min_mtu` and `dev->max_mtu`: loopback sets none, a veth has
/// Ethernet's minimum and its own maximum.
pub fn mtu_range(i: &InterfaceInfo) -> (u32, u32) {
    if is_loopback(i) {
        (0, 0)
    } else {
        (68, 65535)
    }
}

/// An IPv4 address as the interface holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct V4Addr {
    pub local: Ipv4Addr,
    pub prefix: u8,
    /// `ifa_broadcast`: Docker assigns the subnet's broadcast address to
    /// its interfaces (`brd +`); loopback's address has none.
    pub broadcast: Option<Ipv4Addr>,
}

impl V4Addr {
    pub fn mask(&self) -> Ipv4Addr {
        mask_v4(self.prefix)
    }

    /// `ifa_scope`: host for 127/8, else universe (global).
    pub fn scope(&self) -> u8 {
        if self.local.is_loopback() {
            libc::RT_SCOPE_HOST
        } else {
            libc::RT_SCOPE_UNIVERSE
        }
    }
}

/// inet_make_mask.
pub fn mask_v4(prefix: u8) -> Ipv4Addr {
    let bits = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from(bits)
}

pub fn ipv4(i: &InterfaceInfo) -> Vec<V4Addr> {
    let lo = is_loopback(i);
    i.addrs
        .iter()
        .filter_map(|&(a, prefix)| match a {
            IpAddr::V4(local) => {
                let broadcast = (!lo && prefix < 31)
                    .then(|| Ipv4Addr::from(u32::from(local) | !u32::from(mask_v4(prefix))));
                Some(V4Addr {
                    local,
                    prefix,
                    broadcast,
                })
            }
            IpAddr::V6(_) => None,
        })
        .collect()
}

pub fn ipv6(i: &InterfaceInfo) -> Vec<(Ipv6Addr, u8)> {
    i.addrs
        .iter()
        .filter_map(|&(a, p)| match a {
            IpAddr::V6(v6) => Some((v6, p)),
            IpAddr::V4(_) => None,
        })
        .collect()
}

/// An IPv6 address's scope: as `ifa_scope` in netlink (RT_SCOPE_*) and
/// as /proc/net/if_inet6 prints it (IFA_*), per ipv6_addr_scope.
pub fn v6_scope(a: &Ipv6Addr) -> (u8, u8) {
    let s = a.segments();
    if a.is_loopback() {
        (libc::RT_SCOPE_HOST, IFA_HOST)
    } else if s[0] & 0xffc0 == 0xfe80 {
        (libc::RT_SCOPE_LINK, IFA_LINK)
    } else if s[0] & 0xffc0 == 0xfec0 {
        (libc::RT_SCOPE_SITE, IFA_SITE)
    } else {
        (libc::RT_SCOPE_UNIVERSE, 0)
    }
}

/// IFA_PROTO of an IPv6 address the kernel made itself: ::1 on loopback
/// (IFAPROT_KERNEL_LO) and link-local addresses (IFAPROT_KERNEL_LL).
pub fn v6_proto(a: &Ipv6Addr) -> u8 {
    const IFAPROT_KERNEL_LO: u8 = 1;
    const IFAPROT_KERNEL_LL: u8 = 2;
    if a.is_loopback() {
        IFAPROT_KERNEL_LO
    } else if v6_scope(a).0 == libc::RT_SCOPE_LINK {
        IFAPROT_KERNEL_LL
    } else {
        0
    }
}

/// The interface an ifreq or IFLA_IFNAME names (names are exact).
pub fn by_name<'a>(ifaces: &'a [InterfaceInfo], name: &[u8]) -> Option<&'a InterfaceInfo> {
    ifaces.iter().find(|i| i.name.as_bytes() == name)
}

pub fn by_index(ifaces: &[InterfaceInfo], index: u32) -> Option<&InterfaceInfo> {
    ifaces.iter().find(|i| i.index == index)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Loopback as the stack reports it.
    pub(crate) fn lo() -> InterfaceInfo {
        InterfaceInfo {
            index: 1,
            name: "lo".into(),
            mac: [0; 6],
            mtu: 65536,
            flags: (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_LOOPBACK) as u32,
            addrs: vec![
                ("127.0.0.1".parse().unwrap(), 8),
                ("::1".parse().unwrap(), 128),
            ],
            rx_packets: 0,
            rx_bytes: 0,
            tx_packets: 0,
            tx_bytes: 0,
        }
    }

    /// Docker's eth0 with an IPv6 network.
    pub(crate) fn eth0() -> InterfaceInfo {
        InterfaceInfo {
            index: 2,
            name: "eth0".into(),
            mac: [0x02, 0x42, 0xac, 0x11, 0x00, 0x02],
            mtu: 1500,
            flags: (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_BROADCAST | libc::IFF_MULTICAST)
                as u32,
            addrs: vec![
                ("172.17.0.2".parse().unwrap(), 16),
                ("2001:db8::2".parse().unwrap(), 64),
                ("fe80::42:acff:fe11:2".parse().unwrap(), 64),
            ],
            rx_packets: 12,
            rx_bytes: 3456,
            tx_packets: 7,
            tx_bytes: 890,
        }
    }

    #[test]
    fn loopback_and_ethernet_show_as_linux_shows_lo_and_a_veth() {
        let (lo, eth) = (lo(), eth0());
        assert_eq!(flags(&lo), 0x10049);
        assert_eq!(flags(&eth), 0x11043);
        assert_eq!(operstate(&lo), libc::IF_OPER_UNKNOWN as u8);
        assert_eq!(operstate(&eth), libc::IF_OPER_UP as u8);
        assert_eq!(arp_type(&lo), 772);
        let v4 = ipv4(&eth);
        assert_eq!(v4[0].broadcast, Some("172.17.255.255".parse().unwrap()));
        assert_eq!(v4[0].mask(), Ipv4Addr::new(255, 255, 0, 0));
        assert_eq!(ipv4(&lo)[0].broadcast, None);
        assert_eq!(ipv4(&lo)[0].scope(), libc::RT_SCOPE_HOST);
        assert_eq!(v6_scope(&"::1".parse().unwrap()), (254, 0x10));
        assert_eq!(v6_scope(&"fe80::1".parse().unwrap()), (253, 0x20));
        assert_eq!(v6_scope(&"2001:db8::2".parse().unwrap()), (0, 0));
        assert_eq!(mask_v4(0), Ipv4Addr::UNSPECIFIED);
        assert_eq!(mask_v4(32), Ipv4Addr::BROADCAST);
    }
}
