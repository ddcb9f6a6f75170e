//! /proc/net/{tcp,udp}{,6}: every socket of a protocol as Linux lists
//! them: listeners, connections (those still waiting for accept and
//! those closed but finishing, with inode 0), bound datagram sockets.

use std::net::SocketAddr;

use smoltcp::socket::tcp::State;

use crate::addr::{ep_from_wire, show, unspecified};
use crate::dgram;
use crate::iface::Sock;
use crate::info::ConnInfo;
use crate::socket::Proto;
use crate::state::{Inner, Kind, Tcp};
use crate::tcp_sock::linux_state;

fn sock_info(inner: &Inner, s: Sock, v6: bool, tag: u64) -> Option<ConnInfo> {
    let t = inner.ifaces[s.iface]
        .sockets
        .get::<smoltcp::socket::tcp::Socket>(s.h);
    let local = t.local_endpoint().map(ep_from_wire)?;
    Some(ConnInfo {
        v6,
        local: Some(show(v6, local)),
        remote: t.remote_endpoint().map(|r| show(v6, ep_from_wire(r))),
        state: linux_state(t.state()),
        send_queue: t.send_queue(),
        recv_queue: t.recv_queue(),
        tag,
    })
}

pub(crate) fn list(inner: &Inner, proto: Proto) -> Vec<ConnInfo> {
    let mut v = Vec::new();
    let live = inner
        .eps
        .iter()
        .enumerate()
        .filter_map(|(id, e)| e.as_ref().map(|e| (id, e)));
    for (id, ep) in live.filter(|(_, e)| e.proto == proto) {
        let bound = ep.bound.map(|b| {
            let a = if b.addr.is_unspecified() {
                unspecified(ep.v6)
            } else {
                b.addr
            };
            show(ep.v6, SocketAddr::new(a, b.port))
        });
        match &ep.kind {
            Kind::Tcp(Tcp::Idle { .. }) => {}
            Kind::Tcp(Tcp::Connecting { sock, .. }) => {
                v.extend(sock_info(inner, *sock, ep.v6, ep.tag));
            }
            Kind::Tcp(Tcp::Connected(c)) => {
                let t = inner.ifaces[c.sock.iface]
                    .sockets
                    .get::<smoltcp::socket::tcp::Socket>(c.sock.h);
                v.push(ConnInfo {
                    v6: ep.v6,
                    local: Some(show(ep.v6, c.local)),
                    remote: Some(show(ep.v6, c.peer)),
                    state: if c.closed {
                        linux_state(State::Closed)
                    } else {
                        linux_state(t.state())
                    },
                    send_queue: t.send_queue(),
                    recv_queue: t.recv_queue(),
                    tag: ep.tag,
                });
            }
            Kind::Tcp(Tcp::Listening(l)) => {
                v.push(ConnInfo {
                    v6: ep.v6,
                    local: bound,
                    remote: None,
                    state: linux_state(State::Listen),
                    send_queue: l.backlog,
                    recv_queue: l.queue.len(),
                    tag: ep.tag,
                });
                for &s in l.pending.iter().chain(l.queue.iter()) {
                    v.extend(sock_info(inner, s, ep.v6, 0));
                }
            }
            Kind::Dgram(d) => {
                let Some(b) = ep.bound else { continue };
                let local = d
                    .src
                    .map_or(bound, |a| Some(show(ep.v6, SocketAddr::new(a, b.port))));
                v.push(ConnInfo {
                    v6: ep.v6,
                    local,
                    remote: d.peer.map(|p| show(ep.v6, p)),
                    state: if d.peer.is_some() { 1 } else { 7 },
                    send_queue: dgram::send_queue(inner, id),
                    recv_queue: d.rx_bytes,
                    tag: ep.tag,
                });
            }
        }
    }
    if proto == Proto::Tcp {
        for o in inner.orphans.iter().filter(|o| o.proto == Proto::Tcp) {
            let t = inner.ifaces[o.sock.iface]
                .sockets
                .get::<smoltcp::socket::tcp::Socket>(o.sock.h);
            let v6 = t
                .local_endpoint()
                .is_some_and(|l| l.addr.version() == smoltcp::wire::IpVersion::Ipv6);
            v.extend(sock_info(inner, o.sock, v6, 0));
        }
    }
    v
}
