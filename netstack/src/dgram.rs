//! UDP and ICMP echo (ping) endpoints. Receiving bypasses smoltcp: the
//! stack picks the endpoint for each arriving datagram as Linux's
//! udp4_lib_lookup does (family, bound address, connected peer) and moves
//! the frame itself into the endpoint's queue, so one endpoint bound to
//! the wildcard receives from every interface. Sending goes through a
//! smoltcp socket per interface (made on first use), which brings ARP and
//! NDP for free.

use std::net::{IpAddr, SocketAddr};

use smoltcp::iface::SocketHandle;
use smoltcp::socket::{icmp, udp};
use smoltcp::wire::IpListenEndpoint;

use crate::addr::{self, ep_to_wire, to_wire};
use crate::bind;
use crate::errno::Errno;
use crate::iface::{Iface, Sock, LO};
use crate::ports::{Owner, Spec};
use crate::route::resolve_unspecified;
use crate::socket::{Proto, RecvInfo, Shutdown};
use crate::state::{Datagram, Dgram, Inner, Kind};

/// The largest UDP payload IPv4 can carry (65535 - 20 - 8); IPv6's
/// payload length allows 65527.
const MAX_V4: usize = 65507;
const MAX_V6: usize = 65527;
/// Datagrams a send socket holds while waiting for ARP or NDP.
const TX_SLOTS: usize = 64;

/// A datagram `steer` found an endpoint for.
pub(crate) struct Delivery {
    pub ep: usize,
    pub from: SocketAddr,
    pub start: usize,
    pub end: usize,
}

pub(crate) fn state(inner: &mut Inner, id: usize) -> &mut Dgram {
    match &mut inner.ep_mut(id).kind {
        Kind::Dgram(d) => d,
        Kind::Tcp(_) => unreachable!("a datagram endpoint"),
    }
}

fn state_ref(inner: &Inner, id: usize) -> &Dgram {
    match &inner.ep(id).kind {
        Kind::Dgram(d) => d,
        Kind::Tcp(_) => unreachable!("a datagram endpoint"),
    }
}

/// The endpoint a datagram from `src` to `dst` belongs to (for ICMP the
/// port is the echo identifier): the best of those bound to the port,
/// a connected one over an unconnected, a specific address over the
/// wildcard, the latest bound among equals.
pub(crate) fn lookup(
    inner: &Inner,
    proto: Proto,
    src: SocketAddr,
    dst: SocketAddr,
) -> Option<usize> {
    let mut best = None;
    let mut best_score = 0;
    for b in inner.ports.bindings(proto, dst.port()) {
        let Owner::Ep(id) = b.owner else { continue };
        if !b.spec.accepts(dst.ip()) {
            continue;
        }
        let Some(Some(ep)) = inner.eps.get(id) else {
            continue;
        };
        let Kind::Dgram(d) = &ep.kind else { continue };
        let connected = match d.peer {
            Some(p) if proto == Proto::Icmp => {
                if p.ip() != src.ip() {
                    continue;
                }
                true
            }
            Some(p) => {
                if p != src {
                    continue;
                }
                true
            }
            None => false,
        };
        let score = 1 + 2 * u32::from(!b.spec.is_wildcard()) + 4 * u32::from(connected);
        if score >= best_score {
            best_score = score;
            best = Some(id);
        }
    }
    best
}

/// Queues a datagram `steer` matched, within the endpoint's receive
/// buffer (one datagram always fits, as on Linux).
pub(crate) fn deliver(inner: &mut Inner, d: Delivery, frame: Vec<u8>) {
    let limit = inner.ep(d.ep).opts.recv_buf;
    let st = state(inner, d.ep);
    let len = d.end - d.start;
    if st.shut_rd || (!st.rxq.is_empty() && st.rx_bytes + len > limit) {
        return;
    }
    st.rx_bytes += len;
    st.rxq.push_back(Datagram {
        buf: frame,
        start: d.start,
        end: d.end,
        from: d.from,
    });
    inner.note(d.ep);
}

/// An ICMP error reports that a connected UDP endpoint's peer refused a
/// datagram (Linux's ECONNREFUSED on the next call).
pub(crate) fn refused(inner: &mut Inner, local: SocketAddr, peer: SocketAddr) {
    let hit = inner
        .ports
        .bindings(Proto::Udp, local.port())
        .iter()
        .filter_map(|b| match b.owner {
            Owner::Ep(id) => Some(id),
            Owner::Orphan(_) => None,
        })
        .find(|&id| state_ref(inner, id).peer == Some(peer));
    if let Some(id) = hit {
        inner.ep_mut(id).error = Some(Errno::ECONNREFUSED);
        inner.note(id);
    }
}

pub(crate) fn connect(inner: &mut Inner, id: usize, a: SocketAddr) -> Result<(), Errno> {
    let ep = inner.ep(id);
    let dst = addr::take(ep.v6, ep.opts.v6_only, a)?;
    let dst = SocketAddr::new(resolve_unspecified(dst.ip()), dst.port());
    let path = inner.route(dst.ip())?;
    let port = match inner.ep(id).bound {
        Some(b) => b.port,
        None => bind::autobind(inner, id)?,
    };
    let ep = inner.ep(id);
    let bound = ep.bound.map(|b| b.addr).filter(|a| !a.is_unspecified());
    let src = bound.unwrap_or(path.src);
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Errno::ENETUNREACH);
    }
    let proto = ep.proto;
    inner
        .ports
        .respec(proto, port, Owner::Ep(id), Spec::Addr(src));
    let st = state(inner, id);
    st.peer = Some(dst);
    st.src = Some(src);
    Ok(())
}

pub(crate) fn disconnect(inner: &mut Inner, id: usize) {
    let st = state(inner, id);
    st.peer = None;
    st.src = None;
    bind::release_implicit(inner, id);
}

/// The smoltcp socket that sends for this endpoint on interface `n`.
fn tx_socket(inner: &mut Inner, id: usize, n: usize, port: u16) -> Result<SocketHandle, Errno> {
    if let Some(Some(h)) = state(inner, id).tx.get(n) {
        return Ok(*h);
    }
    let ep = inner.ep(id);
    let (proto, ttl, cap) = (ep.proto, ep.opts.ttl, ep.opts.send_buf.max(2 * 65536));
    let ttl = (ttl > 0).then_some(ttl);
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
    let st = state(inner, id);
    if st.tx.len() <= n {
        st.tx.resize(n + 1, None);
    }
    st.tx[n] = Some(h);
    Ok(h)
}

pub(crate) fn send(
    inner: &mut Inner,
    id: usize,
    to: Option<SocketAddr>,
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let ep = inner.ep(id);
    let (v6, v6_only, proto) = (ep.v6, ep.opts.v6_only, ep.proto);
    let st = state_ref(inner, id);
    if st.shut_wr {
        return Err(Errno::EPIPE);
    }
    let dst = match to {
        Some(a) => addr::take(v6, v6_only, a)?,
        None => st.peer.ok_or(Errno::EDESTADDRREQ)?,
    };
    let dst = SocketAddr::new(resolve_unspecified(dst.ip()), dst.port());
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
    let path = inner.route(dst.ip())?;
    if is_broadcast_to(&inner.ifaces[path.iface], dst.ip()) && !inner.ep(id).opts.broadcast {
        // Linux wants SO_BROADCAST before a datagram may go to everyone.
        return Err(Errno::EACCES);
    }
    let port = match inner.ep(id).bound {
        Some(b) => b.port,
        None => bind::autobind(inner, id)?,
    };
    let st = state_ref(inner, id);
    let bound = inner
        .ep(id)
        .bound
        .map(|b| b.addr)
        .filter(|a| !a.is_unspecified());
    let src = match (st.peer, st.src) {
        (Some(p), Some(s)) if p == dst => s,
        _ => bound.unwrap_or(path.src),
    };
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Errno::ENETUNREACH);
    }
    let header = if dst.is_ipv4() { 20 } else { 40 } + if proto == Proto::Udp { 8 } else { 0 };
    if path.iface != LO && len + header > inner.ifaces[path.iface].mtu as usize {
        // No IP fragmentation here: Linux would fragment, but a datagram
        // past the link's MTU could not leave whole.
        return Err(Errno::EMSGSIZE);
    }
    // The datagram goes out whole or not at all, so gather it first.
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
    let h = tx_socket(inner, id, path.iface, port)?;
    let set = &mut inner.ifaces[path.iface].sockets;
    match proto {
        Proto::Udp => {
            let mut meta = udp::UdpMetadata::from(ep_to_wire(dst));
            meta.local_address = Some(to_wire(src));
            set.get_mut::<udp::Socket>(h)
                .send_slice(&data, meta)
                .map_err(|_| Errno::EAGAIN)?;
        }
        _ => {
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
    }
    inner.request_poll();
    Ok(got)
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

pub(crate) fn recv(
    inner: &mut Inner,
    id: usize,
    peek: bool,
    len: usize,
    drain: &mut dyn FnMut(&[u8]) -> Result<usize, Errno>,
) -> Result<RecvInfo, Errno> {
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let v6 = inner.ep(id).v6;
    let st = state(inner, id);
    let Some(d) = st.rxq.front() else {
        if st.shut_rd {
            return Ok(RecvInfo {
                len: 0,
                full_len: 0,
                from: None,
            });
        }
        return Err(Errno::EAGAIN);
    };
    let payload = &d.buf[d.start..d.end];
    let want = len.min(payload.len());
    let mut took = 0;
    while took < want {
        let k = drain(&payload[took..want])?;
        if k == 0 {
            break;
        }
        took += k;
    }
    let info = RecvInfo {
        len: took,
        full_len: payload.len(),
        from: Some(addr::show(v6, d.from)),
    };
    if !peek {
        let full = payload.len();
        st.rx_bytes -= full;
        st.rxq.pop_front();
    }
    Ok(info)
}

pub(crate) fn shutdown(inner: &mut Inner, id: usize, how: Shutdown) -> Result<(), Errno> {
    let st = state(inner, id);
    // Linux's udp_disconnect path: shutdown needs a peer.
    if st.peer.is_none() {
        return Err(Errno::ENOTCONN);
    }
    st.shut_rd |= matches!(how, Shutdown::Read | Shutdown::Both);
    st.shut_wr |= matches!(how, Shutdown::Write | Shutdown::Both);
    inner.note(id);
    Ok(())
}

pub(crate) fn readiness(inner: &Inner, id: usize) -> i16 {
    let st = state_ref(inner, id);
    let mut m = libc::POLLOUT;
    if inner.ep(id).error.is_some() {
        m |= libc::POLLERR;
    }
    if !st.rxq.is_empty() {
        m |= libc::POLLIN;
    }
    if st.shut_rd {
        m |= libc::POLLIN | libc::POLLRDHUP;
    }
    if st.shut_rd && st.shut_wr {
        m |= libc::POLLHUP;
    }
    m
}

pub(crate) fn recv_queue(inner: &Inner, id: usize) -> usize {
    state_ref(inner, id)
        .rxq
        .front()
        .map_or(0, |d| d.end - d.start)
}

pub(crate) fn send_queue(inner: &Inner, id: usize) -> usize {
    let ep = inner.ep(id);
    let st = state_ref(inner, id);
    st.tx
        .iter()
        .enumerate()
        .filter_map(|(n, h)| h.map(|h| (n, h)))
        .map(|(n, h)| match ep.proto {
            Proto::Udp => inner.ifaces[n].sockets.get::<udp::Socket>(h).send_queue(),
            _ => inner.ifaces[n].sockets.get::<icmp::Socket>(h).send_queue(),
        })
        .sum()
}

pub(crate) fn peer(inner: &Inner, id: usize) -> Option<SocketAddr> {
    state_ref(inner, id).peer
}

pub(crate) fn source(inner: &Inner, id: usize) -> Option<IpAddr> {
    state_ref(inner, id).src
}

/// close(2): datagrams still waiting for a neighbour go out from an
/// orphan; the rest of the endpoint goes at once.
pub(crate) fn close(inner: &mut Inner, id: usize) {
    let ep = inner.remove_keep_id(id);
    let proto = ep.proto;
    let Kind::Dgram(d) = ep.kind else {
        unreachable!()
    };
    for (n, h) in d.tx.iter().enumerate() {
        let Some(h) = *h else { continue };
        let queued = match proto {
            Proto::Udp => inner.ifaces[n].sockets.get::<udp::Socket>(h).send_queue(),
            _ => inner.ifaces[n].sockets.get::<icmp::Socket>(h).send_queue(),
        };
        if queued > 0 {
            inner.orphan(None, Sock { iface: n, h }, proto);
        } else {
            inner.ifaces[n].sockets.remove(h);
        }
    }
    bind::unbind(inner, id, proto, ep.bound.map(|b| b.port));
    inner.release_id(id);
}
