//! The network namespace's links, addresses and routes, read over
//! rtnetlink, and an address removed. The Sentry does this once, at boot,
//! before it gives up its privileges: one request at a time on a blocking
//! socket, so no async runtime (the rtnetlink crate needs tokio). The
//! messages are netlink-packet-route's; this module turns them into the
//! plain values `network.rs` decides on.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkLayerType, LinkMessage};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};

/// A network interface (`ip link`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// The hardware address, when it is an Ethernet one.
    pub mac: Option<[u8; 6]>,
    pub mtu: u32,
    pub up: bool,
    pub loopback: bool,
    /// ARPHRD_ETHER: frames on it are Ethernet frames.
    pub ethernet: bool,
}

/// An address of an interface (`ip addr`).
#[derive(Clone, Debug)]
pub struct Addr {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix: u8,
    /// The kernel's own message, sent back as RTM_DELADDR to remove the
    /// address: it names the address exactly as the kernel keys it.
    message: AddressMessage,
}

#[cfg(test)]
impl Addr {
    pub fn for_test(index: u32, addr: IpAddr, prefix: u8) -> Addr {
        Addr {
            index,
            addr,
            prefix,
            message: AddressMessage::default(),
        }
    }
}

/// A route of the main table (`ip route`, `ip -6 route`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub dst: IpAddr,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
    /// The interface it leaves by; None for a multipath route.
    pub oif: Option<u32>,
    /// A plain unicast route of the main table: the only kind the stack
    /// takes (the local table's entries and broadcast, multicast or
    /// blackhole routes are the host kernel's business).
    pub main_unicast: bool,
}

/// An rtnetlink socket of the current network namespace.
pub struct Rtnl {
    sock: Socket,
    seq: u32,
}

/// Room for one datagram of a dump: the kernel fills at most
/// max(page size, 32 KiB) per read.
const RECV_BUF: usize = 64 * 1024;

/// Tries of a dump that the kernel marks interrupted (the tables changed
/// while it was read).
const DUMP_TRIES: usize = 3;

impl Rtnl {
    pub fn open() -> io::Result<Rtnl> {
        let sock = Socket::new(NETLINK_ROUTE)?;
        Ok(Rtnl { sock, seq: 0 })
    }

    pub fn links(&mut self) -> io::Result<Vec<Link>> {
        let req = RouteNetlinkMessage::GetLink(LinkMessage::default());
        Ok(self
            .dump(req)?
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                _ => None,
            })
            .collect())
    }

    pub fn addrs(&mut self) -> io::Result<Vec<Addr>> {
        let req = RouteNetlinkMessage::GetAddress(AddressMessage::default());
        Ok(self
            .dump(req)?
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => addr_of(a),
                _ => None,
            })
            .collect())
    }

    pub fn routes(&mut self) -> io::Result<Vec<Route>> {
        let mut v = Vec::new();
        // A dump of AF_UNSPEC routes gives IPv4 only on some kernels: ask
        // each family.
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut m = RouteMessage::default();
            m.header = RouteHeader {
                address_family: family,
                ..RouteHeader::default()
            };
            let req = RouteNetlinkMessage::GetRoute(m);
            v.extend(self.dump(req)?.into_iter().filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => route_of(&r),
                _ => None,
            }));
        }
        Ok(v)
    }

    /// `ip addr del`. An address that is already gone (a secondary IPv4
    /// address goes with its primary) is not an error.
    pub fn delete_addr(&mut self, a: &Addr) -> io::Result<()> {
        let req = RouteNetlinkMessage::DelAddress(a.message.clone());
        match self.request(req, NLM_F_REQUEST | NLM_F_ACK) {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn dump(&mut self, req: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut last = None;
        for _ in 0..DUMP_TRIES {
            match self.request(req.clone(), NLM_F_REQUEST | NLM_F_DUMP) {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => last = Some(e),
                r => return r,
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EINTR)))
    }

    /// Sends one request and collects its replies up to NLMSG_DONE or the
    /// acknowledgement.
    fn request(
        &mut self,
        req: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags;
        header.sequence_number = self.seq;
        let mut msg = NetlinkMessage::new(header, NetlinkPayload::from(req));
        msg.finalize();
        let mut out = vec![0u8; msg.buffer_len()];
        msg.serialize(&mut out);
        self.sock.send(&out, 0)?;
        let mut got = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(RECV_BUF);
        loop {
            buf.clear();
            let n = self.sock.recv(&mut buf, 0)?;
            if n > buf.len() {
                return Err(invalid("an rtnetlink reply was cut short"));
            }
            if parse_replies(&buf, self.seq, &mut got)? {
                return Ok(got);
            }
        }
    }
}

/// Parses one datagram of replies to request `seq` into `got`; true when
/// it ended the reply (NLMSG_DONE, or an acknowledgement). An error reply
/// is its errno; a dump the kernel marks interrupted is EINTR.
fn parse_replies(mut buf: &[u8], seq: u32, got: &mut Vec<RouteNetlinkMessage>) -> io::Result<bool> {
    while !buf.is_empty() {
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(buf)
            .map_err(|e| invalid(&format!("a bad rtnetlink reply: {e}")))?;
        let len = msg.header.length as usize;
        if len < 16 || len > buf.len() {
            return Err(invalid("an rtnetlink reply of a bad length"));
        }
        // Messages are 4-byte aligned in a datagram.
        buf = &buf[len.next_multiple_of(4).min(buf.len())..];
        if msg.header.sequence_number != seq {
            continue;
        }
        if msg.header.flags & NLM_F_DUMP_INTR != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINTR));
        }
        match msg.payload {
            NetlinkPayload::Done(_) => return Ok(true),
            NetlinkPayload::Error(e) => {
                return match e.code {
                    None => Ok(true),
                    Some(code) => Err(io::Error::from_raw_os_error(-code.get())),
                }
            }
            NetlinkPayload::InnerMessage(m) => got.push(m),
            NetlinkPayload::Overrun(_) => return Err(invalid("rtnetlink overrun")),
            _ => {}
        }
    }
    Ok(false)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

fn link_of(m: &LinkMessage) -> Link {
    let mut name = String::new();
    let mut mac = None;
    let mut mtu = 0;
    for a in &m.attributes {
        match a {
            LinkAttribute::IfName(n) => name = n.clone(),
            LinkAttribute::Mtu(n) => mtu = *n,
            LinkAttribute::Address(b) => mac = <[u8; 6]>::try_from(b.as_slice()).ok(),
            _ => {}
        }
    }
    let ethernet = m.header.link_layer_type == LinkLayerType::Ether;
    Link {
        index: m.header.index,
        name,
        mac: mac.filter(|_| ethernet),
        mtu,
        up: m.header.flags.contains(LinkFlags::Up),
        loopback: m.header.flags.contains(LinkFlags::Loopback),
        ethernet,
    }
}

fn addr_of(m: AddressMessage) -> Option<Addr> {
    // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on
    // a point-to-point link and the same as IFA_LOCAL elsewhere. IPv6
    // sends only IFA_ADDRESS.
    let mut local = None;
    let mut address = None;
    for a in &m.attributes {
        match a {
            AddressAttribute::Local(ip) => local = Some(*ip),
            AddressAttribute::Address(ip) => address = Some(*ip),
            _ => {}
        }
    }
    Some(Addr {
        index: m.header.index,
        addr: local.or(address)?,
        prefix: m.header.prefix_len,
        message: m,
    })
}

fn route_of(m: &RouteMessage) -> Option<Route> {
    let unspecified = match m.header.address_family {
        AddressFamily::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        AddressFamily::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        _ => return None,
    };
    let ip = |a: &RouteAddress| match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    };
    let mut dst = unspecified;
    let mut gateway = None;
    let mut oif = None;
    // RTA_TABLE carries tables past 255; the header's byte is then
    // RT_TABLE_UNSPEC.
    let mut table = u32::from(m.header.table);
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(d) => dst = ip(d)?,
            RouteAttribute::Gateway(g) => gateway = ip(g),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::Table(t) => table = *t,
            _ => {}
        }
    }
    Some(Route {
        dst,
        prefix: m.header.destination_prefix_length,
        gateway,
        oif,
        main_unicast: table == u32::from(RouteHeader::RT_TABLE_MAIN)
            && m.header.kind == RouteType::Unicast,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netlink_packet_core::{DoneMessage, ErrorMessage};
    use netlink_packet_route::address::AddressHeader;
    use netlink_packet_route::link::LinkHeader;

    fn eth0() -> LinkMessage {
        let mut m = LinkMessage::default();
        m.header = LinkHeader {
            index: 7,
            link_layer_type: LinkLayerType::Ether,
            flags: LinkFlags::Up | LinkFlags::Running | LinkFlags::Broadcast,
            ..LinkHeader::default()
        };
        m.attributes = vec![
            LinkAttribute::IfName("eth0".into()),
            LinkAttribute::Mtu(1500),
            LinkAttribute::Address(vec![2, 0x42, 0xac, 0x11, 0, 2]),
        ];
        m
    }

    fn wire(seq: u32, flags: u16, payload: NetlinkPayload<RouteNetlinkMessage>) -> Vec<u8> {
        let mut h = NetlinkHeader::default();
        h.sequence_number = seq;
        h.flags = flags;
        let mut m = NetlinkMessage::new(h, payload);
        m.finalize();
        let mut b = vec![0u8; m.buffer_len()];
        m.serialize(&mut b);
        b
    }

    /// Read-only dumps of the test's own namespace, through the kernel.
    #[test]
    fn the_current_namespace_has_a_loopback_with_its_address() {
        let mut r = Rtnl::open().unwrap();
        let links = r.links().unwrap();
        let lo = links.iter().find(|l| l.loopback).expect("a loopback link");
        assert_eq!(lo.name, "lo");
        let addrs = r.addrs().unwrap();
        if lo.up {
            assert!(
                addrs
                    .iter()
                    .any(|a| a.index == lo.index && a.addr == IpAddr::V4(Ipv4Addr::LOCALHOST)),
                "{addrs:?}"
            );
        }
        r.routes().unwrap();
        // Requests and replies stay paired across calls.
        assert_eq!(r.links().unwrap(), links);
    }

    #[test]
    fn a_link_gives_its_name_index_mac_mtu_and_state() {
        let l = link_of(&eth0());
        assert_eq!(
            l,
            Link {
                index: 7,
                name: "eth0".into(),
                mac: Some([2, 0x42, 0xac, 0x11, 0, 2]),
                mtu: 1500,
                up: true,
                loopback: false,
                ethernet: true,
            }
        );
        let mut lo = LinkMessage::default();
        lo.header.index = 1;
        lo.header.link_layer_type = LinkLayerType::Loopback;
        lo.header.flags = LinkFlags::Up | LinkFlags::Loopback;
        lo.attributes = vec![
            LinkAttribute::IfName("lo".into()),
            LinkAttribute::Address(vec![0; 6]),
        ];
        let lo = link_of(&lo);
        assert!(lo.loopback && lo.up && !lo.ethernet);
        assert_eq!(
            lo.mac, None,
            "only an Ethernet link has a MAC for the stack"
        );
    }

    #[test]
    fn an_address_is_its_local_address_with_the_prefix() {
        let mut m = AddressMessage::default();
        m.header = AddressHeader {
            family: AddressFamily::Inet,
            prefix_len: 16,
            index: 7,
            ..AddressHeader::default()
        };
        m.attributes = vec![
            AddressAttribute::Address("10.0.0.9".parse().unwrap()),
            AddressAttribute::Local("172.17.0.2".parse().unwrap()),
        ];
        let a = addr_of(m).unwrap();
        assert_eq!(
            (a.index, a.addr, a.prefix),
            (7, "172.17.0.2".parse().unwrap(), 16)
        );
        let mut v6 = AddressMessage::default();
        v6.header.family = AddressFamily::Inet6;
        v6.header.prefix_len = 64;
        v6.attributes = vec![AddressAttribute::Address("fe80::1".parse().unwrap())];
        assert_eq!(
            addr_of(v6).unwrap().addr,
            "fe80::1".parse::<IpAddr>().unwrap()
        );
        assert!(addr_of(AddressMessage::default()).is_none());
    }

    #[test]
    fn routes_give_destination_gateway_interface_and_kind() {
        let mut m = RouteMessage::default();
        m.header.address_family = AddressFamily::Inet;
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.kind = RouteType::Unicast;
        m.attributes = vec![
            RouteAttribute::Gateway(RouteAddress::Inet("172.17.0.1".parse().unwrap())),
            RouteAttribute::Oif(7),
        ];
        assert_eq!(
            route_of(&m),
            Some(Route {
                dst: "0.0.0.0".parse().unwrap(),
                prefix: 0,
                gateway: Some("172.17.0.1".parse().unwrap()),
                oif: Some(7),
                main_unicast: true,
            }),
            "no RTA_DST: the default route"
        );
        let mut local = m.clone();
        local.header.table = 255;
        local.header.kind = RouteType::Local;
        assert!(!route_of(&local).unwrap().main_unicast);
        let mut big = m.clone();
        big.header.table = 0;
        big.attributes.push(RouteAttribute::Table(1000));
        assert!(!route_of(&big).unwrap().main_unicast, "RTA_TABLE wins");
        let mut v6 = RouteMessage::default();
        v6.header.address_family = AddressFamily::Inet6;
        v6.header.destination_prefix_length = 64;
        v6.attributes = vec![RouteAttribute::Destination(RouteAddress::Inet6(
            "fe80::".parse().unwrap(),
        ))];
        let r = route_of(&v6).unwrap();
        assert_eq!((r.dst, r.prefix), ("fe80::".parse().unwrap(), 64));
        let mut other = RouteMessage::default();
        other.header.address_family = AddressFamily::Mpls;
        assert_eq!(route_of(&other), None);
    }

    #[test]
    fn replies_are_collected_up_to_done_and_others_skipped() {
        let mut buf = wire(
            5,
            0,
            NetlinkPayload::from(RouteNetlinkMessage::NewLink(eth0())),
        );
        buf.extend(wire(
            4,
            0,
            NetlinkPayload::from(RouteNetlinkMessage::NewLink(eth0())),
        ));
        let mut got = Vec::new();
        assert!(!parse_replies(&buf, 5, &mut got).unwrap());
        assert_eq!(got.len(), 1, "a reply to another request is skipped");
        let done = wire(5, 0, NetlinkPayload::Done(DoneMessage::default()));
        assert!(parse_replies(&done, 5, &mut got).unwrap());
    }

    #[test]
    fn an_error_reply_is_its_errno_and_an_ack_ends_the_reply() {
        let mut e = ErrorMessage::default();
        e.code = std::num::NonZeroI32::new(-libc::EPERM);
        let buf = wire(9, 0, NetlinkPayload::Error(e));
        let err = parse_replies(&buf, 9, &mut Vec::new()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        let ack = wire(9, 0, NetlinkPayload::Error(ErrorMessage::default()));
        assert!(parse_replies(&ack, 9, &mut Vec::new()).unwrap());
        let intr = wire(
            9,
            NLM_F_DUMP_INTR,
            NetlinkPayload::Done(DoneMessage::default()),
        );
        let err = parse_replies(&intr, 9, &mut Vec::new()).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINTR));
        assert!(parse_replies(&[1, 2, 3], 9, &mut Vec::new()).is_err());
    }
}
