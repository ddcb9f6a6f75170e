//! Sending a datagram (UDP, ping or raw): where it goes, from which
//! address and with which hop limit (`destination`, then `route`), and
//! the smoltcp socket that carries it (`tx_socket`): one per interface
//! and hop limit, made on first use, which brings ARP and NDP for free.
//! UDP and ping sends are here; raw ones, which write their own IP
//! header, are `raw`'s.

use std::net::{IpAddr, SocketAddr};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::{icmp, raw, udp};
use smoltcp::wire::{IpListenEndpoint, IpProtocol, IpVersion};

use crate::addr::{self, ep_to_wire, to_wire};
use crate::bind;
use crate::dgram::{queued, state, state_ref};
use crate::errno::Errno;
use crate::fragment6;
use crate::iface::{Iface, LO};
use crate::multicast;
use crate::route::{is_local, resolve_unspecified};
use crate::socket::{Proto, SendInfo};
use crate::state::{Inner, Tx};

/// The largest UDP payload IPv4 can carry (65535 - 20 - 8); IPv6's
/// payload length allows 65527.
pub(crate) const MAX_V4: usize = 65507;
pub(crate) const MAX_V6: usize = 65527;
/// UDP-Lite's protocol number.
pub(crate) const UDPLITE: u8 = 136;
/// UDP's and ICMPv6's protocol numbers, and UDP's header length.
const UDP: u8 = libc::IPPROTO_UDP as u8;
pub(crate) const ICMPV6: u8 = libc::IPPROTO_ICMPV6 as u8;
const UDP_HEADER: usize = 8;
/// Datagrams a send socket holds while waiting for ARP or NDP.
const TX_SLOTS: usize = 64;
/// Send sockets an endpoint keeps before it drops idle ones: a program
/// that varies the hop limit per datagram would otherwise grow one per
/// value.
const TX_MAX: usize = 8;

/// Where a datagram goes and how it leaves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Wire form.
    pub dst: SocketAddr,
    pub src: IpAddr,
    pub iface: usize,
    pub hop: u8,
}

/// The checks every datagram send starts with (a pending error, a shut
/// write side), and its destination in wire form: `to`, or the
/// connected peer (EDESTADDRREQ with neither).
pub(crate) fn destination(
    inner: &mut Inner,
    id: usize,
    to: Option<SocketAddr>,
) -> Result<SocketAddr, Errno> {
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let ep = inner.ep(id);
    let (v6, v6_only) = (ep.v6, ep.opts.v6_only);
    let st = state_ref(inner, id);
    if st.shut_wr {
        return Err(Errno::EPIPE);
    }
    let dst = match to {
        Some(a) => addr::take(v6, v6_only, a)?,
        None => st.peer.ok_or(Errno::EDESTADDRREQ)?,
    };
    Ok(SocketAddr::new(resolve_unspecified(dst.ip()), dst.port()))
}

/// The interface, source address and hop limit for a datagram to `dst`:
/// the route's, unless `info` or the endpoint (its connected source, its
/// bound address, its TTL) says otherwise. A source that is not the
/// stack's own is ENETUNREACH for IPv4 and EINVAL for IPv6, as Linux
/// answers.
pub(crate) fn route(
    inner: &Inner,
    id: usize,
    dst: SocketAddr,
    info: &SendInfo,
) -> Result<Plan, Errno> {
    let chosen = dst
        .ip()
        .is_multicast()
        .then(|| multicast::chosen_path(inner, id, dst.ip()))
        .flatten();
    let mut path = match chosen {
        Some(p) => p,
        None => inner.route(dst.ip())?,
    };
    if let Some(index) = info.ifindex.filter(|&i| i != 0) {
        let n = inner
            .ifaces
            .iter()
            .position(|f| f.index == index)
            .ok_or(Errno::ENODEV)?;
        // A local destination is reached through loopback whichever
        // interface was named, as Linux's local table has it.
        if n != path.iface && path.iface != LO {
            path.iface = n;
            path.src = source_on(&inner.ifaces[n], dst.ip()).ok_or(Errno::ENETUNREACH)?;
        }
    }
    let ep = inner.ep(id);
    if is_broadcast_to(&inner.ifaces[path.iface], dst.ip()) && !ep.opts.broadcast {
        // Linux wants SO_BROADCAST before a datagram may go to everyone.
        return Err(Errno::EACCES);
    }
    let st = state_ref(inner, id);
    let bound = ep.bound.map(|b| b.addr).filter(|a| !a.is_unspecified());
    if bound.is_some_and(|b| b.is_ipv4() != dst.is_ipv4()) {
        // A v6 endpoint bound to an IPv6 address reaches no IPv4 peer,
        // whatever source it names.
        return Err(Errno::ENETUNREACH);
    }
    let src = match info.src.map(wire_ip).filter(|a| !a.is_unspecified()) {
        Some(a) if a.is_ipv4() != dst.is_ipv4() => return Err(Errno::EINVAL),
        // Linux's IPv4 route lookup finds no way out from a foreign
        // source; IPv6's sendmsg checks the address first.
        Some(a) if !is_local(&inner.ifaces, a) && a.is_ipv4() => return Err(Errno::ENETUNREACH),
        Some(a) if !is_local(&inner.ifaces, a) => return Err(Errno::EINVAL),
        Some(a) => a,
        None => match (st.peer, st.src) {
            (Some(p), Some(s)) if p == dst => s,
            _ => bound.unwrap_or(path.src),
        },
    };
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Errno::ENETUNREACH);
    }
    Ok(Plan {
        dst,
        src,
        iface: path.iface,
        hop: info.hop_limit.unwrap_or(if dst.ip().is_multicast() {
            multicast::hop_and_loop(inner, id, dst.ip()).0
        } else if ep.v6 && dst.is_ipv4() {
            ep.opts.v4_ttl
        } else {
            ep.opts.ttl
        }),
    })
}

/// A v4-mapped address as the IPv4 address it maps.
fn wire_ip(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        a => a,
    }
}

/// The interface's first address of `dst`'s family.
fn source_on(f: &Iface, dst: IpAddr) -> Option<IpAddr> {
    f.addrs
        .iter()
        .map(|&(a, _)| a)
        .find(|a| a.is_ipv4() == dst.is_ipv4())
}

/// The limited broadcast address, or the subnet broadcast of one of the
/// interface's IPv4 prefixes.
fn is_broadcast_to(f: &Iface, dst: IpAddr) -> bool {
    let IpAddr::V4(d) = dst else { return false };
    d.is_broadcast()
        || f.addrs.iter().any(|&(a, p)| {
            let IpAddr::V4(a) = a else { return false };
            let host = u32::MAX.checked_shr(u32::from(p)).unwrap_or(0);
            p < 31 && u32::from(d) == (u32::from(a) | host)
        })
}

/// Whether a datagram of `len` bytes (IP header included) leaves in
/// IPv6 fragments, or EMSGSIZE when it may not. IPv4 datagrams past the
/// link's MTU leave in fragments too, but those are smoltcp's fragmenter's
/// (up to the 64 KiB an IPv4 packet can hold), as on Linux; smoltcp
/// cannot fragment IPv6, so `fragment6` does, unless IPV6_DONTFRAG says
/// not to (EMSGSIZE, as Linux's) or the sender (UDP-Lite) cannot.
pub(crate) fn fits(
    inner: &Inner,
    plan: &Plan,
    len: usize,
    can_fragment: bool,
) -> Result<bool, Errno> {
    if plan.iface != LO && plan.dst.is_ipv6() && len > inner.ifaces[plan.iface].mtu as usize {
        return if can_fragment {
            Ok(true)
        } else {
            Err(Errno::EMSGSIZE)
        };
    }
    Ok(false)
}

/// The application's `len` bytes: a datagram goes out whole or not at
/// all, so it is gathered before anything is queued.
pub(crate) fn gather(
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<Vec<u8>, Errno> {
    let mut data = vec![0; len];
    let mut got = 0;
    while got < len {
        let k = fill(&mut data[got..])?;
        if k == 0 {
            break;
        }
        got += k;
    }
    data.truncate(got);
    Ok(data)
}

/// The smoltcp socket that sends for this endpoint on interface `n` with
/// hop limit `hop` (raw and UDP-Lite endpoints pass 0: the header they
/// write carries it).
pub(crate) fn tx_socket(
    inner: &mut Inner,
    id: usize,
    n: usize,
    hop: u8,
    port: u16,
) -> Result<SocketHandle, Errno> {
    if let Some(tx) = state(inner, id)
        .tx
        .iter()
        .find(|t| t.iface == n && t.hop == hop)
    {
        return Ok(tx.h);
    }
    prune(inner, id);
    let ep = inner.ep(id);
    let (proto, v6, cap) = (ep.proto, ep.v6, ep.opts.send_buf.max(2 * 65536));
    // smoltcp refuses to send with hop limit 0, which only IPv6 allows.
    let ttl = Some(hop.max(1));
    let set = &mut inner.ifaces[n].sockets;
    let h = match proto {
        Proto::Udp => {
            let mut s = udp::Socket::new(
                udp::PacketBuffer::new(Vec::new(), Vec::new()),
                udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; TX_SLOTS], vec![0; cap]),
            );
            s.bind(IpListenEndpoint { addr: None, port })
                .map_err(|_| Errno::EINVAL)?;
            s.set_hop_limit(ttl);
            set.add(s)
        }
        // smoltcp's raw sockets send a packet of either version,
        // whichever they were made for.
        Proto::Raw | Proto::UdpLite => {
            let version = if v6 { IpVersion::Ipv6 } else { IpVersion::Ipv4 };
            let protocol = match (proto, v6) {
                (Proto::UdpLite, _) => IpProtocol::Unknown(UDPLITE),
                (_, true) => IpProtocol::Icmpv6,
                _ => IpProtocol::Icmp,
            };
            set.add(raw::Socket::new(
                version,
                protocol,
                raw::PacketBuffer::new(Vec::new(), Vec::new()),
                raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; TX_SLOTS], vec![0; cap]),
            ))
        }
        _ => {
            let mut s = icmp::Socket::new(
                icmp::PacketBuffer::new(Vec::new(), Vec::new()),
                icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; TX_SLOTS], vec![0; cap]),
            );
            s.bind(icmp::Endpoint::Ident(port))
                .map_err(|_| Errno::EINVAL)?;
            s.set_hop_limit(ttl);
            set.add(s)
        }
    };
    state(inner, id).tx.push(Tx { iface: n, hop, h });
    Ok(h)
}

/// Drops the endpoint's idle send sockets once it holds `TX_MAX`.
fn prune(inner: &mut Inner, id: usize) {
    if state_ref(inner, id).tx.len() < TX_MAX {
        return;
    }
    let proto = inner.ep(id).proto;
    let all = std::mem::take(&mut state(inner, id).tx);
    let (busy, idle): (Vec<Tx>, Vec<Tx>) =
        all.into_iter().partition(|&t| queued(inner, proto, t) > 0);
    for t in idle {
        inner.ifaces[t.iface].sockets.remove(t.h);
    }
    state(inner, id).tx = busy;
}

/// A UDP or ping datagram (see `Endpoint::send`).
pub(crate) fn send(
    inner: &mut Inner,
    id: usize,
    to: Option<SocketAddr>,
    info: &SendInfo,
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let dst = destination(inner, id, to)?;
    let proto = inner.ep(id).proto;
    let max = if dst.is_ipv4() { MAX_V4 } else { MAX_V6 };
    if len > max {
        return Err(Errno::EMSGSIZE);
    }
    if proto == Proto::Udp && dst.port() == 0 {
        return Err(Errno::EINVAL);
    }
    if proto == Proto::Icmp && len < 8 {
        return Err(Errno::EINVAL);
    }
    let plan = route(inner, id, dst, info)?;
    let port = match inner.ep(id).bound {
        Some(b) => b.port,
        None => bind::autobind(inner, id)?,
    };
    let header = if dst.is_ipv4() { 20 } else { 40 } + if proto == Proto::Udp { 8 } else { 0 };
    let fragments = fits(inner, &plan, len + header, !info.dont_frag)?;
    let mut data = gather(len, fill)?;
    let got = data.len();
    if fragments {
        send_fragments(inner, id, &plan, port, data)?;
        inner.request_poll();
        return Ok(got);
    }
    let h = tx_socket(inner, id, plan.iface, plan.hop, port)?;
    let set = &mut inner.ifaces[plan.iface].sockets;
    if proto == Proto::Udp {
        let mut meta = udp::UdpMetadata::from(ep_to_wire(dst));
        meta.local_address = Some(to_wire(plan.src));
        set.get_mut::<udp::Socket>(h)
            .send_slice(&data, meta)
            .map_err(|_| Errno::EAGAIN)?;
        if dst.ip().is_multicast() && multicast::hop_and_loop(inner, id, dst.ip()).1 {
            let from = SocketAddr::new(plan.src, port);
            multicast::loop_back(inner, proto, from, dst, plan.iface, plan.hop, &data);
        }
    } else {
        // Linux's ping sockets take an echo request and stamp their
        // own identifier on it (the checksum is smoltcp's to fill).
        let echo = if dst.is_ipv4() { 8 } else { 128 };
        if data.len() < 8 || data[0] != echo || data[1] != 0 {
            return Err(Errno::EINVAL);
        }
        data[4..6].copy_from_slice(&port.to_be_bytes());
        set.get_mut::<icmp::Socket>(h)
            .send_slice(&data, to_wire(dst.ip()))
            .map_err(|_| Errno::EAGAIN)?;
    }
    inner.request_poll();
    Ok(got)
}

/// A UDP or ping datagram over IPv6 past the link's MTU, in fragments
/// (`fragment6`): the transport header and checksum are written here,
/// since no smoltcp socket sees the message.
fn send_fragments(
    inner: &mut Inner,
    id: usize,
    plan: &Plan,
    port: u16,
    mut data: Vec<u8>,
) -> Result<(), Errno> {
    let (IpAddr::V6(src), IpAddr::V6(dst)) = (plan.src, plan.dst.ip()) else {
        return Err(Errno::EMSGSIZE);
    };
    let proto = inner.ep(id).proto;
    let (number, msg) = if proto == Proto::Udp {
        let mut msg = Vec::with_capacity(UDP_HEADER + data.len());
        msg.extend_from_slice(&port.to_be_bytes());
        msg.extend_from_slice(&plan.dst.port().to_be_bytes());
        msg.extend_from_slice(&((UDP_HEADER + data.len()) as u16).to_be_bytes());
        msg.extend_from_slice(&[0, 0]);
        msg.extend_from_slice(&data);
        let sum = transport_sum(plan.src, plan.dst.ip(), UDP, &msg, msg.len());
        // A UDP checksum of 0 means none, which IPv6 forbids.
        let sum = if sum == 0 { 0xffff } else { sum };
        msg[6..8].copy_from_slice(&sum.to_be_bytes());
        (UDP, msg)
    } else {
        let echo = 128;
        if data.len() < 8 || data[0] != echo || data[1] != 0 {
            return Err(Errno::EINVAL);
        }
        data[4..6].copy_from_slice(&port.to_be_bytes());
        data[2..4].fill(0);
        let sum = transport_sum(plan.src, plan.dst.ip(), ICMPV6, &data, data.len());
        data[2..4].copy_from_slice(&sum.to_be_bytes());
        (ICMPV6, data)
    };
    fragment6::send(
        &mut inner.ifaces[plan.iface],
        src,
        dst,
        plan.hop,
        number,
        &msg,
    )?;
    if proto == Proto::Udp
        && plan.dst.ip().is_multicast()
        && multicast::hop_and_loop(inner, id, plan.dst.ip()).1
    {
        let from = SocketAddr::new(plan.src, port);
        let data = &msg[UDP_HEADER..];
        multicast::loop_back(inner, proto, from, plan.dst, plan.iface, plan.hop, data);
    }
    Ok(())
}

/// An IP packet around `payload`. smoltcp's raw sockets write the header
/// again from what they parse here (addresses, protocol, length, hop
/// limit), so only those fields matter.
pub(crate) fn ip_packet(src: IpAddr, dst: IpAddr, proto: u8, hop: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + payload.len());
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + payload.len()) as u16;
            p.extend_from_slice(&[0x45, 0]);
            p.extend_from_slice(&total.to_be_bytes());
            p.extend_from_slice(&[0, 0, 0x40, 0, hop.max(1), proto, 0, 0]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            p.extend_from_slice(&[0x60, 0, 0, 0]);
            p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
            p.extend_from_slice(&[proto, hop]);
            p.extend_from_slice(&s.octets());
            p.extend_from_slice(&d.octets());
        }
        // `route` gives a source of the destination's family.
        _ => {}
    }
    p.extend_from_slice(payload);
    p
}

/// The Internet checksum (RFC 1071) of the first `covered` bytes of a
/// transport message, with the pseudo-header of its IP packet.
pub(crate) fn transport_sum(
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    msg: &[u8],
    covered: usize,
) -> u16 {
    fn add(acc: &mut u64, b: &[u8]) {
        for c in b.chunks(2) {
            *acc += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
        }
    }
    let mut acc = 0u64;
    for a in [src, dst] {
        match a {
            IpAddr::V4(a) => add(&mut acc, &a.octets()),
            IpAddr::V6(a) => add(&mut acc, &a.octets()),
        }
    }
    acc += u64::from(proto) + msg.len() as u64;
    add(&mut acc, &msg[..covered.min(msg.len())]);
    while acc >> 16 != 0 {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}
