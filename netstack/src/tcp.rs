//! A TCP endpoint's life: connect(2), the changes of state its smoltcp
//! socket drives (`sync`), shutdown, close and disconnect. A listener's
//! part of each is in `listener`, a connection's data path in `stream`,
//! the socket's setup in `tcp_sock`.

use std::net::SocketAddr;

use smoltcp::socket::tcp::{self, State};
use smoltcp::time::Duration;

use crate::addr::{self, ep_from_wire, ep_to_wire};
use crate::bind;
use crate::errno::Errno;
use crate::iface::Sock;
use crate::listener;
use crate::ports::{Owner, Spec};
use crate::route::resolve_unspecified;
use crate::socket::{Proto, Shutdown};
use crate::state::{Conn, Inner, Kind, Tcp};
use crate::stream;
use crate::tcp_sock::{apply_options, new_socket, rewake};

/// Linux's first SYN retransmission timeout (TCP_TIMEOUT_INIT); each
/// retry doubles it, up to TCP_RTO_MAX.
const SYN_RTO: u64 = 1;
const RTO_MAX: u64 = 120;

/// How long a connect waits for its SYN's answer before ETIMEDOUT:
/// TCP_USER_TIMEOUT when set, else the time Linux's `retries` SYN
/// retransmissions take (1 + 2 + 4 ... s: 127 s for the default 6).
pub(crate) fn connect_timeout(user: Option<std::time::Duration>, retries: u8) -> Duration {
    if let Some(u) = user {
        return Duration::from_micros(u.as_micros() as u64);
    }
    let secs: u64 = (0..=u32::from(retries))
        .map(|i| SYN_RTO.checked_shl(i).unwrap_or(RTO_MAX).min(RTO_MAX))
        .sum();
    Duration::from_secs(secs)
}

pub(crate) fn connect(inner: &mut Inner, id: usize, addr: SocketAddr) -> Result<(), Errno> {
    match inner.tcp_ep(id) {
        Tcp::Listening(_) => return Err(Errno::EISCONN),
        Tcp::Connecting { .. } => return Err(Errno::EALREADY),
        Tcp::Connected(c) if c.reported => return Err(Errno::EISCONN),
        Tcp::Connected(c) => {
            c.reported = true;
            return Ok(());
        }
        Tcp::Idle { failed: true } => {
            *inner.tcp_ep(id) = Tcp::Idle { failed: false };
            let e = inner.ep_mut(id).error.take();
            return Err(e.unwrap_or(Errno::ECONNABORTED));
        }
        Tcp::Idle { failed: false } => {}
    }
    let ep = inner.ep(id);
    let dst = addr::take(ep.v6, ep.opts.v6_only, addr)?;
    let dst = SocketAddr::new(resolve_unspecified(dst.ip()), dst.port());
    if dst.port() == 0 {
        return Err(Errno::ECONNREFUSED);
    }
    let path = inner.route(dst.ip())?;
    let src = match inner.ep(id).bound {
        Some(b) if !b.addr.is_unspecified() => b.addr,
        _ => path.src,
    };
    if src.is_ipv4() != dst.is_ipv4() {
        return Err(Errno::ENETUNREACH);
    }
    let port = match inner.ep(id).bound {
        Some(b) => b.port,
        None => bind::autobind(inner, id)?,
    };
    let local = SocketAddr::new(src, port);
    claim_tuple(inner, path.iface, local, dst)?;

    let ep = inner.ep(id);
    let mut s = new_socket(&ep.opts);
    let retries = ep.opts.syn_retries.unwrap_or(inner.syn_retries);
    s.set_timeout(Some(connect_timeout(ep.opts.user_timeout, retries)));
    s.register_recv_waker(ep.waker.waker());
    s.register_send_waker(ep.waker.waker());
    let f = &mut inner.ifaces[path.iface];
    let h = f.sockets.add(s);
    let cx = f.iface.context();
    if f.sockets
        .get_mut::<tcp::Socket>(h)
        .connect(cx, ep_to_wire(dst), ep_to_wire(local))
        .is_err()
    {
        f.sockets.remove(h);
        return Err(Errno::EINVAL);
    }
    // A handle smoltcp reuses must not inherit an old urgent mark.
    inner.urgent.remove(&Sock {
        iface: path.iface,
        h,
    });
    // Linux fixes the socket's receive address at connect.
    inner
        .ports
        .respec(Proto::Tcp, port, Owner::Ep(id), Spec::Addr(src));
    *inner.tcp_ep(id) = Tcp::Connecting {
        sock: Sock {
            iface: path.iface,
            h,
        },
    };
    inner.request_poll();
    Err(Errno::EINPROGRESS)
}

/// EADDRNOTAVAIL when another connection has this 4-tuple; one that is
/// only finishing (an orphan) gives way.
fn claim_tuple(
    inner: &mut Inner,
    iface: usize,
    local: SocketAddr,
    peer: SocketAddr,
) -> Result<(), Errno> {
    let (l, p) = (ep_to_wire(local), ep_to_wire(peer));
    let holder = inner.ifaces[iface]
        .sockets
        .iter()
        .find_map(|(h, s)| match s {
            smoltcp::socket::Socket::Tcp(t)
                if t.local_endpoint() == Some(l) && t.remote_endpoint() == Some(p) =>
            {
                Some(h)
            }
            _ => None,
        });
    match holder {
        None => Ok(()),
        Some(h) if inner.kill_orphan(Sock { iface, h }) => Ok(()),
        Some(_) => Err(Errno::EADDRNOTAVAIL),
    }
}

/// Brings the endpoint up to date with its smoltcp socket after a poll.
pub(crate) fn sync(inner: &mut Inner, id: usize) {
    match inner.tcp_ep(id) {
        Tcp::Idle { .. } => {}
        Tcp::Listening(_) => listener::sync(inner, id),
        Tcp::Connected(_) => stream::sync(inner, id),
        &mut Tcp::Connecting { sock } => {
            rewake(inner, id, sock);
            let s = inner.tcp(sock);
            match s.state() {
                State::SynSent | State::SynReceived => {}
                State::Closed => {
                    // A reset refuses; otherwise smoltcp's timeout ran out.
                    let e = if inner.resets.contains(&sock) {
                        Errno::ECONNREFUSED
                    } else {
                        Errno::ETIMEDOUT
                    };
                    fail_connect(inner, id, e);
                }
                _ => {
                    let local = s.local_endpoint().map(ep_from_wire);
                    let peer = s.remote_endpoint().map(ep_from_wire);
                    let (Some(local), Some(peer)) = (local, peer) else {
                        return;
                    };
                    let opts = inner.ep(id).opts.clone();
                    apply_options(inner.tcp(sock), &opts);
                    *inner.tcp_ep(id) = Tcp::Connected(Conn {
                        sock,
                        local,
                        peer,
                        reported: false,
                        shut_rd: false,
                        shut_wr: false,
                        fin_seen: false,
                        closed: false,
                        sent: 0,
                        read: 0,
                    });
                    stream::sync(inner, id);
                }
            }
        }
    }
}

/// Ends a connect in progress with `e` (its pending error), leaving the
/// socket as Linux's tcp_done does: unconnected, shut both ways.
pub(crate) fn fail_connect(inner: &mut Inner, id: usize, e: Errno) {
    let Tcp::Connecting { sock } = *inner.tcp_ep(id) else {
        return;
    };
    inner.ifaces[sock.iface].sockets.remove(sock.h);
    inner.ep_mut(id).error = Some(e);
    *inner.tcp_ep(id) = Tcp::Idle { failed: true };
    bind::release_implicit(inner, id);
    inner.note(id);
}

pub(crate) fn shutdown(inner: &mut Inner, id: usize, how: Shutdown) -> Result<(), Errno> {
    let rd = matches!(how, Shutdown::Read | Shutdown::Both);
    let wr = matches!(how, Shutdown::Write | Shutdown::Both);
    match inner.tcp_ep(id) {
        Tcp::Idle { .. } => Err(Errno::ENOTCONN),
        Tcp::Listening(_) => {
            // Linux's disconnect of a listener: it stops listening and
            // wakes whoever sleeps in accept.
            if rd {
                listener::stop(inner, id);
                inner.note(id);
            }
            Ok(())
        }
        &mut Tcp::Connecting { sock, .. } => {
            inner.ifaces[sock.iface].sockets.remove(sock.h);
            *inner.tcp_ep(id) = Tcp::Idle { failed: false };
            bind::release_implicit(inner, id);
            inner.note(id);
            Ok(())
        }
        Tcp::Connected(c) => {
            c.shut_rd |= rd;
            if c.closed {
                c.shut_wr |= wr;
                return Err(Errno::ENOTCONN);
            }
            let sock = c.sock;
            if wr && !c.shut_wr {
                c.shut_wr = true;
                inner.tcp(sock).close();
                inner.request_poll();
            }
            inner.note(id);
            Ok(())
        }
    }
}

/// close(2): FIN in the background, or RST when unread data remains or
/// SO_LINGER is zero, as Linux's tcp_close.
pub(crate) fn close(inner: &mut Inner, id: usize) {
    let ep = inner.remove_keep_id(id);
    let port = ep.bound.map(|b| b.port);
    let Kind::Tcp(t) = ep.kind else {
        unreachable!()
    };
    match t {
        Tcp::Idle { .. } => bind::unbind(inner, id, ep.proto, port),
        Tcp::Connecting { sock, .. } => {
            inner.ifaces[sock.iface].sockets.remove(sock.h);
            bind::unbind(inner, id, ep.proto, port);
        }
        Tcp::Listening(l) => {
            listener::close(inner, id, port, l);
            bind::unbind(inner, id, ep.proto, port);
        }
        Tcp::Connected(c) => {
            inner.urgent.remove(&c.sock);
            let s = inner.tcp(c.sock);
            if c.closed && s.local_endpoint().is_none() {
                inner.ifaces[c.sock.iface].sockets.remove(c.sock.h);
                bind::unbind(inner, id, ep.proto, port);
            } else {
                if ep.opts.linger == Some(std::time::Duration::ZERO) || s.recv_queue() > 0 {
                    s.abort();
                } else {
                    s.close();
                }
                inner.orphan(port.map(|p| (id, p)), c.sock, ep.proto);
                inner.request_poll();
            }
        }
    }
    inner.release_id(id);
}

/// connect(2) with AF_UNSPEC: Linux's tcp_disconnect drops whatever the
/// socket holds (a connection goes with RST) and leaves it unconnected.
pub(crate) fn disconnect(inner: &mut Inner, id: usize) {
    match inner.tcp_ep(id) {
        Tcp::Idle { .. } => return,
        Tcp::Listening(_) => {
            listener::stop(inner, id);
            inner.note(id);
            return;
        }
        &mut Tcp::Connecting { sock, .. } => {
            inner.ifaces[sock.iface].sockets.remove(sock.h);
        }
        Tcp::Connected(c) => {
            let (sock, closed) = (c.sock, c.closed);
            if closed {
                inner.ifaces[sock.iface].sockets.remove(sock.h);
            } else {
                inner.tcp(sock).abort();
                inner.orphan(None, sock, Proto::Tcp);
                inner.request_poll();
            }
        }
    }
    *inner.tcp_ep(id) = Tcp::Idle { failed: false };
    bind::release_implicit(inner, id);
    inner.note(id);
}
