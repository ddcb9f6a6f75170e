//! Multicast groups, as Linux keeps them: a socket joins a group on one
//! interface (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP); an interface takes a
//! group's datagrams once some socket has joined it there, and hands
//! each to every UDP socket bound to the port whose address and peer
//! match (Linux's __udp_is_mcast_sock), those that joined nothing too
//! under IP_MULTICAST_ALL. What the stack sends to a group goes out by
//! IP_MULTICAST_IF's interface (else the route's) with
//! IP_MULTICAST_TTL, and a copy comes back to the stack's own members
//! unless IP_MULTICAST_LOOP is off.
//!
//! No IGMP or MLD report is sent: a veth or a bridge that does not snoop
//! passes every group's traffic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::SystemTime;

use crate::errno::Errno;
use crate::iface::LO;
use crate::ports::Owner;
use crate::route::{is_local, Path};
use crate::socket::{PacketInfo, Proto};
use crate::state::{Datagram, Inner, Kind, Membership};

/// Linux's igmp_max_memberships: groups one IPv4 socket may join.
const MAX_V4_MEMBERSHIPS: usize = 20;

/// The interface a membership names: by index, by one of its addresses
/// (IPv4's imr_interface), else the group's route; ENODEV without one.
fn member_iface(
    inner: &Inner,
    group: IpAddr,
    index: u32,
    addr: Option<IpAddr>,
) -> Result<usize, Errno> {
    if index != 0 {
        return inner
            .ifaces
            .iter()
            .position(|f| f.index == index)
            .ok_or(Errno::ENODEV);
    }
    if let Some(a) = addr.filter(|a| !a.is_unspecified()) {
        return inner
            .ifaces
            .iter()
            .position(|f| f.has_addr(a))
            .or_else(|| is_local(&inner.ifaces[..1], a).then_some(LO))
            .ok_or(Errno::ENODEV);
    }
    inner
        .route(group)
        .map(|p| p.iface)
        .map_err(|_| Errno::ENODEV)
}

pub(crate) fn join(
    inner: &mut Inner,
    id: usize,
    group: IpAddr,
    index: u32,
    addr: Option<IpAddr>,
) -> Result<(), Errno> {
    if !group.is_multicast() {
        return Err(Errno::EINVAL);
    }
    let iface = member_iface(inner, group, index, addr)?;
    let m = Membership {
        ep: id,
        group,
        iface,
    };
    if inner.memberships.contains(&m) {
        return Err(Errno::EADDRINUSE);
    }
    let mine = inner
        .memberships
        .iter()
        .filter(|m| m.ep == id && m.group.is_ipv4())
        .count();
    if group.is_ipv4() && mine >= MAX_V4_MEMBERSHIPS {
        return Err(Errno::ENOBUFS);
    }
    inner.memberships.push(m);
    Ok(())
}

/// IP_DROP_MEMBERSHIP / IPV6_LEAVE_GROUP: EADDRNOTAVAIL for a group the
/// socket has not joined there.
pub(crate) fn leave(
    inner: &mut Inner,
    id: usize,
    group: IpAddr,
    index: u32,
    addr: Option<IpAddr>,
) -> Result<(), Errno> {
    if !group.is_multicast() {
        return Err(Errno::EINVAL);
    }
    let iface = member_iface(inner, group, index, addr);
    // With neither index nor address Linux drops the group on whichever
    // interface this socket joined it.
    let any = index == 0 && addr.is_none_or(|a| a.is_unspecified());
    let at = inner.memberships.iter().position(|m| {
        m.ep == id && m.group == group && (Ok(m.iface) == iface || (any && iface.is_err()))
    });
    match (at, iface) {
        (Some(i), _) => {
            inner.memberships.remove(i);
            Ok(())
        }
        (None, Err(e)) if !any => Err(e),
        (None, _) => Err(Errno::EADDRNOTAVAIL),
    }
}

/// A closing socket's memberships go with it.
pub(crate) fn drop_all(inner: &mut Inner, id: usize) {
    inner.memberships.retain(|m| m.ep != id);
}

fn joined_on(inner: &Inner, iface: usize, group: IpAddr) -> bool {
    inner
        .memberships
        .iter()
        .any(|m| m.iface == iface && m.group == group)
}

/// The UDP (or UDP-Lite) endpoints a datagram from `src` to the group
/// `dst`, arriving on interface `iface`, goes to: none unless the group
/// is joined there.
pub(crate) fn members(
    inner: &Inner,
    proto: Proto,
    src: SocketAddr,
    dst: SocketAddr,
    iface: usize,
) -> Vec<usize> {
    if !joined_on(inner, iface, dst.ip()) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for b in inner.ports.bindings(proto, dst.port()) {
        let Owner::Ep(id) = b.owner else { continue };
        if !b.spec.accepts(dst.ip()) || out.contains(&id) {
            continue;
        }
        let Some(Some(ep)) = inner.eps.get(id) else {
            continue;
        };
        let Kind::Dgram(d) = &ep.kind else { continue };
        if d.peer.is_some_and(|p| p != src) {
            continue;
        }
        let member = inner
            .memberships
            .iter()
            .any(|m| m.ep == id && m.group == dst.ip() && m.iface == iface);
        if member || ep.opts.mc_all {
            out.push(id);
        }
    }
    out
}

/// IP_MULTICAST_IF / IPV6_MULTICAST_IF: the interface and source a
/// datagram to the group `dst` leaves by, when the socket named one.
pub(crate) fn chosen_path(inner: &Inner, id: usize, dst: IpAddr) -> Option<Path> {
    let o = &inner.ep(id).opts;
    let index = if dst.is_ipv4() { o.mc_if } else { o.mc6_if };
    if index == 0 {
        return None;
    }
    let n = inner.ifaces.iter().position(|f| f.index == index)?;
    let f = &inner.ifaces[n];
    let src = match (dst, o.mc_addr) {
        (IpAddr::V4(_), Some(a)) if !a.is_unspecified() => IpAddr::V4(a),
        (IpAddr::V4(_), _) if n == LO => IpAddr::V4(Ipv4Addr::LOCALHOST),
        (IpAddr::V6(_), _) if n == LO => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ => f
            .addrs
            .iter()
            .map(|&(a, _)| a)
            .find(|a| a.is_ipv4() == dst.is_ipv4())?,
    };
    Some(Path {
        iface: n,
        src,
        via: None,
    })
}

/// The hop limit and loop choice for a datagram to a group.
pub(crate) fn hop_and_loop(inner: &Inner, id: usize, dst: IpAddr) -> (u8, bool) {
    let o = &inner.ep(id).opts;
    if dst.is_ipv4() {
        (o.mc_ttl, o.mc_loop)
    } else {
        (o.mc6_hops, o.mc6_loop)
    }
}

/// The copy of a datagram the stack sent to a group on interface
/// `iface` that its own members hear (IP_MULTICAST_LOOP). Loopback's
/// own traffic comes back by itself.
pub(crate) fn loop_back(
    inner: &mut Inner,
    proto: Proto,
    from: SocketAddr,
    dst: SocketAddr,
    iface: usize,
    hop: u8,
    payload: &[u8],
) {
    if iface == LO {
        return;
    }
    let info = PacketInfo {
        dst: dst.ip(),
        local: from.ip(),
        ifindex: inner.ifaces[iface].index,
        ttl: hop,
        tos: 0,
        stamp: SystemTime::now(),
    };
    for id in members(inner, proto, from, dst, iface) {
        let limit = inner.ep(id).opts.recv_buf;
        let Kind::Dgram(st) = &mut inner.ep_mut(id).kind else {
            continue;
        };
        if st.shut_rd || (!st.rxq.is_empty() && st.rx_bytes + payload.len() > limit) {
            continue;
        }
        st.rx_bytes += payload.len();
        st.rxq.push_back(Datagram {
            buf: payload.to_vec(),
            start: 0,
            end: payload.len(),
            from,
            info,
        });
        inner.note(id);
    }
}
