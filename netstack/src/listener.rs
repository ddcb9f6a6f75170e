//! A TCP listener with a real backlog. smoltcp's listening socket turns
//! into the connection it accepts, so a Linux listener is a pool that
//! grows on demand: the stack inspects each arriving SYN before smoltcp
//! does (`steer`), and if the SYN's listener has room it adds a socket
//! listening on exactly the SYN's destination, which smoltcp then hands
//! the SYN to. Without room the SYN is dropped and the client retransmits,
//! as Linux does when the accept queue is full. Completed connections
//! wait in a FIFO until accept makes them endpoints.

use std::collections::VecDeque;
use std::net::SocketAddr;

use smoltcp::socket::tcp::State;
use smoltcp::time::Duration;
use smoltcp::wire::IpListenEndpoint;

use crate::addr::{self, ep_from_wire, ep_to_wire, to_wire};
use crate::bind;
use crate::errno::Errno;
use crate::iface::Sock;
use crate::ports::{Binding, Owner, Spec};
use crate::socket::{Notify, Proto};
use crate::state::{Bound, Conn, EpState, Inner, Kind, Listener, Tcp};
use crate::stream;
use crate::tcp_sock::{apply_options, new_socket, rewake};

/// About Linux's SYN-ACK retries (tcp_synack_retries = 5): a half-open
/// connection whose client went silent frees its slot after this.
const SYN_RECV_TIMEOUT: Duration = Duration::from_secs(63);

/// Linux's somaxconn: listen(2) silently caps the backlog here.
const SOMAXCONN: u32 = 4096;

pub(crate) fn listen(inner: &mut Inner, id: usize, backlog: u32) -> Result<(), Errno> {
    let backlog = backlog.min(SOMAXCONN) as usize;
    match inner.tcp_ep(id) {
        Tcp::Listening(l) => {
            l.backlog = backlog;
            return Ok(());
        }
        Tcp::Connecting { .. } | Tcp::Connected(_) => return Err(Errno::EINVAL),
        Tcp::Idle { .. } => {}
    }
    let port = match inner.ep(id).bound {
        Some(b) => b.port,
        None => bind::autobind(inner, id)?,
    };
    inner
        .ports
        .set_listening(Proto::Tcp, port, Owner::Ep(id), true)?;
    *inner.tcp_ep(id) = Tcp::Listening(Listener {
        backlog,
        pending: Vec::new(),
        queue: VecDeque::new(),
    });
    inner.listeners.entry(port).or_default().push(id);
    Ok(())
}

pub(crate) fn accept(
    inner: &mut Inner,
    id: usize,
    notify: Notify,
    tag: u64,
) -> Result<(usize, SocketAddr), Errno> {
    loop {
        let Tcp::Listening(l) = inner.tcp_ep(id) else {
            return Err(Errno::EINVAL);
        };
        let Some(sock) = l.queue.pop_front() else {
            return Err(Errno::EAGAIN);
        };
        let s = inner.tcp(sock);
        let (Some(local), Some(peer)) = (s.local_endpoint(), s.remote_endpoint()) else {
            // Reset before anyone accepted it: nothing left to return.
            inner.ifaces[sock.iface].sockets.remove(sock.h);
            continue;
        };
        let (local, peer) = (ep_from_wire(local), ep_from_wire(peer));
        let lst = inner.ep(id);
        let (v6, opts) = (lst.v6, lst.opts.clone());
        let nid = inner.insert(|_, waker| EpState {
            v6,
            proto: Proto::Tcp,
            notify,
            tag,
            opts: opts.clone(),
            waker,
            bound: Some(Bound {
                addr: local.ip(),
                port: local.port(),
                explicit: true,
            }),
            error: None,
            soft_error: None,
            urgent_hook: None,
            kind: Kind::Tcp(Tcp::Connected(Conn {
                sock,
                local,
                peer,
                reported: true,
                shut_rd: false,
                shut_wr: false,
                fin_seen: false,
                closed: false,
                sent: 0,
                read: 0,
            })),
        });
        let w = inner.ep(nid).waker.waker().clone();
        let s = inner.tcp(sock);
        s.register_recv_waker(&w);
        s.register_send_waker(&w);
        apply_options(s, &opts);
        inner.ports.add(
            Proto::Tcp,
            local.port(),
            Binding::new(
                Owner::Ep(nid),
                Spec::Addr(local.ip()),
                opts.reuse_addr,
                opts.reuse_port,
            ),
        );
        stream::sync(inner, nid);
        return Ok((nid, addr::show(v6, peer)));
    }
}

/// Moves completed handshakes to the accept queue and drops the sockets
/// whose handshake failed.
pub(crate) fn sync(inner: &mut Inner, id: usize) {
    let Tcp::Listening(l) = inner.tcp_ep(id) else {
        return;
    };
    let pending = std::mem::take(&mut l.pending);
    let (mut keep, mut done) = (Vec::new(), Vec::new());
    let opts = inner.ep(id).opts.clone();
    for sock in pending {
        let s = inner.tcp(sock);
        match s.state() {
            State::Listen | State::SynReceived => {
                rewake(inner, id, sock);
                keep.push(sock);
            }
            State::Closed => {
                inner.ifaces[sock.iface].sockets.remove(sock.h);
            }
            _ => {
                apply_options(s, &opts);
                done.push(sock);
            }
        }
    }
    let Tcp::Listening(l) = inner.tcp_ep(id) else {
        unreachable!()
    };
    l.pending = keep;
    l.queue.extend(done);
}

/// Decides the fate of a SYN (no ACK) from `src` to `dst` arriving on
/// interface `n`: whether smoltcp is to see it (false: it is dropped).
pub(crate) fn admit_syn(inner: &mut Inner, n: usize, src: SocketAddr, dst: SocketAddr) -> bool {
    let (l, r) = (ep_to_wire(dst), ep_to_wire(src));
    let holder = inner.ifaces[n].sockets.iter().find_map(|(h, s)| match s {
        smoltcp::socket::Socket::Tcp(t)
            if t.local_endpoint() == Some(l) && t.remote_endpoint() == Some(r) =>
        {
            Some((h, t.state()))
        }
        _ => None,
    });
    match holder {
        None => {}
        // Simultaneous open (a socket connecting to itself, chiefly).
        Some((_, State::SynSent)) => return true,
        // A new connection on a 4-tuple in TIME_WAIT ends the old one,
        // as Linux accepts such a SYN.
        Some((h, State::TimeWait)) if inner.kill_orphan(Sock { iface: n, h }) => {}
        // A retransmitted SYN for a handshake already under way.
        Some(_) => return false,
    }
    let Some(lid) = pick(inner, src, dst) else {
        // smoltcp answers with RST: nobody listens.
        return true;
    };
    let Tcp::Listening(lst) = inner.tcp_ep(lid) else {
        return true;
    };
    let (pending, waiting, backlog) = (lst.pending.clone(), lst.queue.len(), lst.backlog);
    let free = pending.iter().any(|&s| {
        s.iface == n && {
            let t = inner.tcp(s);
            t.state() == State::Listen && t.listen_endpoint().addr == Some(to_wire(dst.ip()))
        }
    });
    if free {
        return true;
    }
    if waiting + pending.len() > backlog {
        return false;
    }
    let ep = inner.ep(lid);
    let mut s = new_socket(&ep.opts);
    s.set_timeout(Some(SYN_RECV_TIMEOUT));
    s.register_recv_waker(ep.waker.waker());
    s.register_send_waker(ep.waker.waker());
    if s.listen(IpListenEndpoint {
        addr: Some(to_wire(dst.ip())),
        port: dst.port(),
    })
    .is_err()
    {
        return false;
    }
    let h = inner.ifaces[n].sockets.add(s);
    // A handle smoltcp reuses must not inherit an old urgent mark.
    inner.urgent.remove(&Sock { iface: n, h });
    if let Tcp::Listening(lst) = inner.tcp_ep(lid) {
        lst.pending.push(Sock { iface: n, h });
    }
    true
}

/// The listener a SYN to `dst` belongs to, as Linux's compute_score
/// ranks them: a specific address over a wildcard, the packet's own
/// family over a dual-stack socket; SO_REUSEPORT peers share by the
/// client's address.
fn pick(inner: &Inner, src: SocketAddr, dst: SocketAddr) -> Option<usize> {
    let ids = inner.listeners.get(&dst.port())?;
    let mut best: Vec<usize> = Vec::new();
    let mut best_score = 0;
    for &id in ids {
        let ep = inner.ep(id);
        let Some(b) = ep.bound else { continue };
        let spec = Spec::new(b.addr, ep.opts.v6_only);
        if !spec.accepts(dst.ip()) {
            continue;
        }
        let score = 1 + 2 * u32::from(!spec.is_wildcard()) + u32::from(ep.v6 == dst.is_ipv6());
        if score > best_score {
            best_score = score;
            best.clear();
        }
        if score == best_score {
            best.push(id);
        }
    }
    match best.len() {
        0 => None,
        1 => Some(best[0]),
        k => {
            let h = std::hash::BuildHasher::hash_one(&FixedHash, src);
            Some(best[(h % k as u64) as usize])
        }
    }
}

/// A fixed hasher, so one client keeps landing on the same SO_REUSEPORT
/// listener.
struct FixedHash;

impl std::hash::BuildHasher for FixedHash {
    type Hasher = std::collections::hash_map::DefaultHasher;
    fn build_hasher(&self) -> Self::Hasher {
        Default::default()
    }
}

/// Resets every connection the listener holds.
fn drain(inner: &mut Inner, l: Listener) {
    for sock in l.pending.into_iter().chain(l.queue) {
        let s = inner.tcp(sock);
        if s.state() == State::Listen || s.state() == State::Closed {
            inner.ifaces[sock.iface].sockets.remove(sock.h);
        } else {
            s.abort();
            inner.orphan(None, sock, Proto::Tcp);
        }
    }
}

fn unlist(inner: &mut Inner, id: usize, port: Option<u16>) {
    if let Some(port) = port {
        if let Some(v) = inner.listeners.get_mut(&port) {
            v.retain(|&x| x != id);
            if v.is_empty() {
                inner.listeners.remove(&port);
            }
        }
    }
}

/// close(2) of a listener (its state already taken out of the endpoint,
/// whose id is still reserved).
pub(crate) fn close(inner: &mut Inner, id: usize, port: Option<u16>, l: Listener) {
    unlist(inner, id, port);
    drain(inner, l);
    inner.request_poll();
}

/// shutdown(SHUT_RD) of a listener: it stops listening, keeps its port.
pub(crate) fn stop(inner: &mut Inner, id: usize) {
    let port = inner.ep(id).bound.map(|b| b.port);
    unlist(inner, id, port);
    let st = std::mem::replace(inner.tcp_ep(id), Tcp::Idle { failed: false });
    if let Tcp::Listening(l) = st {
        drain(inner, l);
    }
    if let Some(port) = inner.ep(id).bound.map(|b| b.port) {
        let _ = inner
            .ports
            .set_listening(Proto::Tcp, port, Owner::Ep(id), false);
    }
    inner.request_poll();
}
