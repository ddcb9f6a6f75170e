//! Raw ICMP endpoints (SOCK_RAW with IPPROTO_ICMP or IPPROTO_ICMPV6), as
//! Linux's raw.c and ipv6/raw.c serve them.
//!
//! Every ICMP message that reaches the stack is copied to each raw
//! endpoint of its family whose bound (or connected-from) address is the
//! destination, whose connected peer is the source, and whose ICMP
//! filter lets the type through; the stack's own handling goes on as if
//! nobody had looked (it still answers echo requests). An IPv4 endpoint
//! reads the IP header too; an IPv6 one reads the ICMPv6 message.
//!
//! A send takes the ICMP message: the stack writes the IP header (the
//! endpoint's TTL or the datagram's, its source) and, for ICMPv6, the
//! checksum (IPV6_CHECKSUM at offset 2, which RFC 3542 makes mandatory);
//! an IPv4 message carries the sum its sender computed. The packet leaves
//! through a smoltcp raw socket per interface, which resolves neighbours.
//! A raw endpoint holds no port: its "port" is the protocol number, as
//! getsockname shows it on Linux.

use std::net::{IpAddr, SocketAddr};

use smoltcp::socket::raw;
use smoltcp::wire::Icmpv6Packet;

use crate::addr;
use crate::dgram::{self, state, state_ref};
use crate::errno::Errno;
use crate::fragment6;
use crate::outbound::{self, destination, fits, gather, ip_packet, tx_socket, ICMPV6};
use crate::route::is_local;
use crate::socket::{PacketInfo, Proto, SendInfo};
use crate::state::{Bound, Datagram, Inner, Kind};

/// IPPROTO_ICMP and IPPROTO_ICMPV6: the endpoint's protocol, which
/// getsockname reports as its port.
pub(crate) fn protocol(v6: bool) -> u16 {
    if v6 {
        58
    } else {
        1
    }
}

/// Where a new raw endpoint stands: on the wildcard address, its
/// protocol for a port.
pub(crate) fn unbound(v6: bool) -> Bound {
    Bound {
        addr: addr::unspecified(v6),
        port: protocol(v6),
        explicit: false,
    }
}

/// An ICMP message that reached the stack, for `deliver`.
pub(crate) struct Arrived<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The IP packet, header first.
    pub packet: &'a [u8],
    /// Where the ICMP message starts in `packet`.
    pub icmp_at: usize,
    pub info: PacketInfo,
}

/// bind(2): the local address only (no port), which must be the stack's
/// own or the wildcard; EINVAL once connected, as raw_bind says; a
/// second bind moves it.
pub(crate) fn bind(inner: &mut Inner, id: usize, a: SocketAddr) -> Result<(), Errno> {
    let ep = inner.ep(id);
    let v6 = ep.v6;
    let ip = match (v6, a.ip()) {
        (true, IpAddr::V6(v6a)) if v6a.to_ipv4_mapped().is_some() => {
            return Err(Errno::EADDRNOTAVAIL)
        }
        (true, IpAddr::V6(_)) | (false, IpAddr::V4(_)) => a.ip(),
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    if state_ref(inner, id).peer.is_some() {
        return Err(Errno::EINVAL);
    }
    if !ip.is_unspecified() && !is_local(&inner.ifaces, ip) {
        return Err(Errno::EADDRNOTAVAIL);
    }
    inner.ep_mut(id).bound = Some(Bound {
        addr: ip,
        port: protocol(v6),
        explicit: true,
    });
    Ok(())
}

/// connect(2): the default destination, and the only source received
/// from; the local address is fixed to the route's source, as
/// ip4_datagram_connect fixes it.
pub(crate) fn connect(inner: &mut Inner, id: usize, a: SocketAddr) -> Result<(), Errno> {
    let ep = inner.ep(id);
    let dst = addr::take(ep.v6, ep.opts.v6_only, a)?;
    let dst = SocketAddr::new(crate::route::resolve_unspecified(dst.ip()), dst.port());
    let src = dgram::connect_source(inner, id, dst.ip())?;
    let st = state(inner, id);
    st.peer = Some(dst);
    st.src = Some(src);
    Ok(())
}

pub(crate) fn disconnect(inner: &mut Inner, id: usize) {
    let st = state(inner, id);
    st.peer = None;
    st.src = None;
}

/// Whether ICMP type `t` passes the endpoint's filter.
fn passes(filter: &[u32; 8], t: u8) -> bool {
    filter[usize::from(t / 32)] & (1 << (t % 32)) == 0
}

/// Copies an arriving ICMP message to every raw endpoint that takes it
/// (see the module's description), within each one's receive buffer.
pub(crate) fn deliver(inner: &mut Inner, m: &Arrived) {
    let Some(&icmp_type) = m.packet.get(m.icmp_at) else {
        return;
    };
    let v6 = m.dst.is_ipv6();
    let takers: Vec<usize> = inner
        .eps
        .iter()
        .enumerate()
        .filter_map(|(id, ep)| {
            let ep = ep.as_ref()?;
            if ep.proto != Proto::Raw || ep.v6 != v6 || !passes(&ep.opts.icmp_filter, icmp_type) {
                return None;
            }
            let Kind::Dgram(d) = &ep.kind else {
                return None;
            };
            let bound = ep.bound.map(|b| b.addr).filter(|a| !a.is_unspecified());
            let local = d.src.or(bound);
            let full = !d.rxq.is_empty() && d.rx_bytes + m.packet.len() > ep.opts.recv_buf;
            let wanted = local.is_none_or(|l| l == m.dst)
                && d.peer.is_none_or(|p| p.ip() == m.src)
                && !d.shut_rd
                && !full;
            wanted.then_some(id)
        })
        .collect();
    // Linux gives an IPv4 raw socket the IP header; IPv6 never does.
    let body = if v6 { &m.packet[m.icmp_at..] } else { m.packet };
    for id in takers {
        let st = state(inner, id);
        st.rx_bytes += body.len();
        st.rxq.push_back(Datagram {
            buf: body.to_vec(),
            start: 0,
            end: body.len(),
            from: SocketAddr::new(m.src, 0),
            info: m.info,
        });
        inner.note(id);
    }
}

/// The largest ICMP message one packet carries: IPv4's total length
/// holds the header too, IPv6's payload length only the payload.
const MAX_V4: usize = 65535 - 20;
const MAX_V6: usize = 65535;

/// sendto(2) of one ICMP message (see the module's description). Linux's
/// rawv6_sendmsg takes a port of 0 or the protocol's number only
/// (EINVAL); an ICMPv6 message shorter than its checksum is EINVAL.
pub(crate) fn send(
    inner: &mut Inner,
    id: usize,
    to: Option<SocketAddr>,
    info: &SendInfo,
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let v6 = inner.ep(id).v6;
    if let Some(a) = to {
        if v6 && a.port() != 0 && a.port() != protocol(true) {
            return Err(Errno::EINVAL);
        }
    }
    let dst = destination(inner, id, to)?;
    if dst.is_ipv6() != v6 {
        return Err(Errno::ENETUNREACH);
    }
    if len > if v6 { MAX_V6 } else { MAX_V4 } {
        return Err(Errno::EMSGSIZE);
    }
    if v6 && len < 4 {
        return Err(Errno::EINVAL);
    }
    let plan = outbound::route(inner, id, dst, info)?;
    let header = if v6 { 40 } else { 20 };
    let fragments = fits(inner, &plan, len + header, !info.dont_frag)?;
    let mut data = gather(len, fill)?;
    let got = data.len();
    if v6 && got < 4 {
        return Err(Errno::EINVAL);
    }
    if let (true, IpAddr::V6(s), IpAddr::V6(d)) = (fragments, plan.src, plan.dst.ip()) {
        Icmpv6Packet::new_unchecked(&mut data[..]).fill_checksum(&s, &d);
        fragment6::send(&mut inner.ifaces[plan.iface], s, d, plan.hop, ICMPV6, &data)?;
        inner.request_poll();
        return Ok(got);
    }
    let packet = build(plan.src, plan.dst.ip(), plan.hop, data);
    let h = tx_socket(inner, id, plan.iface, 0, 0)?;
    inner.ifaces[plan.iface]
        .sockets
        .get_mut::<raw::Socket>(h)
        .send_slice(&packet)
        .map_err(|_| Errno::EAGAIN)?;
    inner.request_poll();
    Ok(got)
}

/// The IP packet for an ICMP message, an ICMPv6 one summed.
fn build(src: IpAddr, dst: IpAddr, hop: u8, mut icmp: Vec<u8>) -> Vec<u8> {
    let proto = match (src, dst) {
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            Icmpv6Packet::new_unchecked(&mut icmp[..]).fill_checksum(&s, &d);
            58
        }
        _ => 1,
    };
    ip_packet(src, dst, proto, hop, &icmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_block_by_type() {
        let mut f = [0u32; 8];
        f[0] = 1 << 8;
        f[4] = !(1 << 1);
        assert!(!passes(&f, 8));
        assert!(passes(&f, 0));
        assert!(passes(&f, 129));
        assert!(!passes(&f, 128));
    }

    #[test]
    fn icmpv6_checksum_is_filled() {
        let s: std::net::Ipv6Addr = "::1".parse().unwrap();
        let p = build(s.into(), s.into(), 64, vec![128, 0, 0, 0, 0, 1, 0, 1]);
        let icmp = Icmpv6Packet::new_checked(&p[40..]).unwrap();
        assert!(icmp.verify_checksum(&s, &s));
        assert_eq!((p[6], p[7]), (58, 64));
    }
}
