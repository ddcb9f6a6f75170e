//! UDP and ICMP echo (ping) endpoints, and what raw endpoints share with
//! them. Receiving bypasses smoltcp: the stack picks the endpoint for
//! each arriving datagram as Linux's udp4_lib_lookup does (family, bound
//! address, connected peer) and moves the frame itself into the
//! endpoint's queue, so one endpoint bound to the wildcard receives from
//! every interface. Sending is `outbound`'s.

use std::net::{IpAddr, SocketAddr};

use smoltcp::socket::{icmp, raw, udp};

use crate::addr;
use crate::bind;
use crate::errno::Errno;
use crate::iface::Sock;
use crate::ports::{Owner, Spec};
use crate::route::resolve_unspecified;
use crate::socket::{PacketInfo, Proto, RecvInfo, Shutdown};
use crate::state::{Datagram, Dgram, Inner, Kind, Tx};

/// A datagram `steer` found an endpoint for.
pub(crate) struct Delivery {
    pub ep: usize,
    pub from: SocketAddr,
    pub start: usize,
    pub end: usize,
    pub info: PacketInfo,
}

pub(crate) fn state(inner: &mut Inner, id: usize) -> &mut Dgram {
    match &mut inner.ep_mut(id).kind {
        Kind::Dgram(d) => d,
        Kind::Tcp(_) => unreachable!("a datagram endpoint"),
    }
}

pub(crate) fn state_ref(inner: &Inner, id: usize) -> &Dgram {
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
        info: d.info,
    });
    inner.note(d.ep);
}

pub(crate) fn connect(inner: &mut Inner, id: usize, a: SocketAddr) -> Result<(), Errno> {
    let ep = inner.ep(id);
    let dst = addr::take(ep.v6, ep.opts.v6_only, a)?;
    let dst = SocketAddr::new(resolve_unspecified(dst.ip()), dst.port());
    let src = connect_source(inner, id, dst.ip())?;
    let port = match inner.ep(id).bound {
        Some(b) => b.port,
        None => bind::autobind(inner, id)?,
    };
    let proto = inner.ep(id).proto;
    inner
        .ports
        .respec(proto, port, Owner::Ep(id), Spec::Addr(src));
    let st = state(inner, id);
    st.peer = Some(dst);
    st.src = Some(src);
    Ok(())
}

/// The source a connected endpoint's datagrams leave from: its bound
/// address, else the route's.
pub(crate) fn connect_source(inner: &Inner, id: usize, dst: IpAddr) -> Result<IpAddr, Errno> {
    let path = inner.route(dst)?;
    let bound = inner
        .ep(id)
        .bound
        .map(|b| b.addr)
        .filter(|a| !a.is_unspecified());
    let src = bound.unwrap_or(path.src);
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Errno::ENETUNREACH);
    }
    Ok(src)
}

pub(crate) fn disconnect(inner: &mut Inner, id: usize) {
    let st = state(inner, id);
    st.peer = None;
    st.src = None;
    bind::release_implicit(inner, id);
}

/// One datagram, and what came with it (None at end of file after
/// shutdown).
pub(crate) fn recv(
    inner: &mut Inner,
    id: usize,
    peek: bool,
    len: usize,
    drain: &mut dyn FnMut(&[u8]) -> Result<usize, Errno>,
) -> Result<(RecvInfo, Option<PacketInfo>), Errno> {
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let v6 = inner.ep(id).v6;
    let st = state(inner, id);
    let Some(d) = st.rxq.front() else {
        if st.shut_rd {
            let eof = RecvInfo {
                len: 0,
                full_len: 0,
                from: None,
            };
            return Ok((eof, None));
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
    let arrived = d.info;
    if !peek {
        let full = payload.len();
        st.rx_bytes -= full;
        st.rxq.pop_front();
    }
    Ok((info, Some(arrived)))
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

/// Bytes a send socket still holds (waiting for a neighbour).
pub(crate) fn queued(inner: &Inner, proto: Proto, tx: Tx) -> usize {
    let set = &inner.ifaces[tx.iface].sockets;
    match proto {
        Proto::Udp => set.get::<udp::Socket>(tx.h).send_queue(),
        Proto::Icmp => set.get::<icmp::Socket>(tx.h).send_queue(),
        Proto::Raw | Proto::UdpLite => set.get::<raw::Socket>(tx.h).send_queue(),
        Proto::Tcp => 0,
    }
}

pub(crate) fn send_queue(inner: &Inner, id: usize) -> usize {
    let proto = inner.ep(id).proto;
    let st = state_ref(inner, id);
    st.tx.iter().map(|&tx| queued(inner, proto, tx)).sum()
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
    for &tx in &d.tx {
        if queued(inner, proto, tx) > 0 {
            let sock = Sock {
                iface: tx.iface,
                h: tx.h,
            };
            inner.orphan(None, sock, proto);
        } else {
            inner.ifaces[tx.iface].sockets.remove(tx.h);
        }
    }
    if proto != Proto::Raw {
        bind::unbind(inner, id, proto, ep.bound.map(|b| b.port));
    }
    crate::multicast::drop_all(inner, id);
    inner.release_id(id);
}
