//! A TCP endpoint: Linux's connect, send, recv, shutdown and poll over
//! one smoltcp socket. smoltcp forgets a connection's addresses once it
//! closes and keeps no error, so the endpoint keeps both, and learns of
//! resets by watching the socket's state after each poll (`sync`).

use std::net::SocketAddr;

use smoltcp::socket::tcp::{self, RecvError, State};
use smoltcp::time::{Duration, Instant};

use crate::addr::{self, ep_from_wire, ep_to_wire};
use crate::bind;
use crate::errno::Errno;
use crate::inner::{Inner, Kind, Sock};
use crate::listener::{self, Listener};
use crate::ports::{Owner, Spec};
use crate::socket::{Options, Shutdown};

/// About Linux's SYN retries (tcp_syn_retries = 6): 127 s.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(127);

/// About Linux's tcp_retries2 = 15: how long unacknowledged data may go
/// unanswered before the connection is dropped.
const RETRIES_TIMEOUT: Duration = Duration::from_secs(924);

/// smoltcp panics past 1 GiB; Linux's own ceiling is far lower.
const MAX_BUF: usize = 64 << 20;
/// Linux's SOCK_MIN_RCVBUF, roughly.
const MIN_BUF: usize = 4096;

pub(crate) enum Tcp {
    /// New, bound, or back after a failed connect (`failed`: the failure
    /// has not yet been returned by connect).
    Idle {
        failed: bool,
    },
    Connecting {
        sock: Sock,
        since: Instant,
    },
    Connected(Conn),
    Listening(Listener),
}

pub(crate) struct Conn {
    pub sock: Sock,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// connect(2) has returned 0 once; later calls say EISCONN.
    pub reported: bool,
    pub shut_rd: bool,
    pub shut_wr: bool,
    /// The peer's FIN has arrived.
    pub fin_seen: bool,
    /// smoltcp's socket has reached CLOSED (both FINs, or a reset).
    pub closed: bool,
}

pub(crate) fn state(inner: &mut Inner, id: usize) -> &mut Tcp {
    match &mut inner.ep_mut(id).kind {
        Kind::Tcp(t) => t,
        Kind::Dgram(_) => unreachable!("a TCP endpoint"),
    }
}

/// A smoltcp socket with the endpoint's buffer sizes and options.
pub(crate) fn new_socket(opts: &Options) -> tcp::Socket<'static> {
    // Zeroed allocations: the pages cost nothing until bytes arrive.
    let rx = tcp::SocketBuffer::new(vec![0; opts.recv_buf.clamp(MIN_BUF, MAX_BUF)]);
    let tx = tcp::SocketBuffer::new(vec![0; opts.send_buf.clamp(MIN_BUF, MAX_BUF)]);
    let mut s = tcp::Socket::new(rx, tx);
    // Linux ACKs at once in the exchanges that matter here (quick-ack
    // mode, and every full segment); a 10 ms delayed ACK would stall a
    // ping-pong on loopback.
    s.set_ack_delay(None);
    apply_options(&mut s, opts);
    s
}

/// The options that act on a live connection.
pub(crate) fn apply_options(s: &mut tcp::Socket, opts: &Options) {
    s.set_nagle_enabled(!opts.no_delay);
    if opts.ttl > 0 {
        s.set_hop_limit(Some(opts.ttl));
    }
    // smoltcp probes every `interval` of idleness and gives up after
    // `timeout` of silence: Linux's idle + interval * count.
    let ka = opts
        .keep_alive
        .then(|| Duration::from_micros(opts.keep_interval.as_micros().max(1000) as u64));
    if s.keep_alive() != ka {
        s.set_keep_alive(ka);
    }
    if matches!(
        s.state(),
        State::Listen | State::SynSent | State::SynReceived
    ) {
        return;
    }
    let silence = opts
        .keep_alive
        .then(|| opts.keep_idle + opts.keep_interval * opts.keep_count);
    let mut timeout = silence.map(|d| Duration::from_micros(d.as_micros() as u64));
    // smoltcp's timeout counts from the last segment received even when
    // there is nothing to send, so without data in flight an idle
    // connection must have none (Linux never times one out).
    if s.send_queue() > 0 {
        timeout = Some(timeout.map_or(RETRIES_TIMEOUT, |t| t.min(RETRIES_TIMEOUT)));
    }
    s.set_timeout(timeout);
}

/// Linux's TCP state numbers (include/net/tcp_states.h).
pub(crate) fn linux_state(s: State) -> u8 {
    match s {
        State::Established => 1,
        State::SynSent => 2,
        State::SynReceived => 3,
        State::FinWait1 => 4,
        State::FinWait2 => 5,
        State::TimeWait => 6,
        State::Closed => 7,
        State::CloseWait => 8,
        State::LastAck => 9,
        State::Listen => 10,
        State::Closing => 11,
    }
}

/// Whether the peer's FIN has arrived. smoltcp reports it through recv's
/// error once the socket has closed.
fn peer_finished(s: &mut tcp::Socket) -> bool {
    match s.state() {
        State::CloseWait | State::LastAck | State::Closing | State::TimeWait => true,
        State::Closed => matches!(s.recv(|_| (0, ())), Err(RecvError::Finished)),
        _ => false,
    }
}

pub(crate) fn connect(inner: &mut Inner, id: usize, addr: SocketAddr) -> Result<(), Errno> {
    match state(inner, id) {
        Tcp::Listening(_) => return Err(Errno::EISCONN),
        Tcp::Connecting { .. } => return Err(Errno::EALREADY),
        Tcp::Connected(c) if c.reported => return Err(Errno::EISCONN),
        Tcp::Connected(c) => {
            c.reported = true;
            return Ok(());
        }
        Tcp::Idle { failed: true } => {
            *state(inner, id) = Tcp::Idle { failed: false };
            let e = inner.ep_mut(id).error.take();
            return Err(e.unwrap_or(Errno::ECONNABORTED));
        }
        Tcp::Idle { failed: false } => {}
    }
    let ep = inner.ep(id);
    let dst = addr::take(ep.v6, ep.opts.v6_only, addr)?;
    let dst = SocketAddr::new(crate::route::resolve_unspecified(dst.ip()), dst.port());
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
    s.set_timeout(Some(CONNECT_TIMEOUT));
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
    // Linux fixes the socket's receive address at connect.
    inner.ports.respec(
        crate::socket::Proto::Tcp,
        port,
        Owner::Ep(id),
        Spec::Addr(src),
    );
    let since = inner.now();
    *state(inner, id) = Tcp::Connecting {
        sock: Sock {
            iface: path.iface,
            h,
        },
        since,
    };
    inner.poll();
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

/// Registers the endpoint's waker on `sock` again: smoltcp drops a
/// waker once it has woken it.
pub(crate) fn rewake(inner: &mut Inner, id: usize, sock: Sock) {
    let w = inner.ep(id).waker.waker().clone();
    let s = inner.tcp(sock);
    s.register_recv_waker(&w);
    s.register_send_waker(&w);
}

/// Brings the endpoint up to date with its smoltcp socket after a poll.
pub(crate) fn sync(inner: &mut Inner, id: usize) {
    let now = inner.now();
    match state(inner, id) {
        &mut Tcp::Connecting { sock, .. } => rewake(inner, id, sock),
        Tcp::Connected(c) if !c.closed => {
            let sock = c.sock;
            rewake(inner, id, sock);
        }
        _ => {}
    }
    match state(inner, id) {
        Tcp::Idle { .. } => {}
        Tcp::Listening(_) => listener::sync(inner, id),
        &mut Tcp::Connecting { sock, since } => {
            let s = inner.tcp(sock);
            match s.state() {
                State::SynSent | State::SynReceived => {}
                State::Closed => {
                    inner.ifaces[sock.iface].sockets.remove(sock.h);
                    // smoltcp's timer starts with the first SYN sent, a
                    // moment after `since`.
                    let e = if now - since + Duration::from_secs(1) >= CONNECT_TIMEOUT {
                        Errno::ETIMEDOUT
                    } else {
                        Errno::ECONNREFUSED
                    };
                    inner.ep_mut(id).error = Some(e);
                    *state(inner, id) = Tcp::Idle { failed: true };
                    bind::release_implicit(inner, id);
                }
                _ => {
                    let local = s.local_endpoint().map(ep_from_wire);
                    let peer = s.remote_endpoint().map(ep_from_wire);
                    let (Some(local), Some(peer)) = (local, peer) else {
                        return;
                    };
                    let opts = inner.ep(id).opts.clone();
                    apply_options(inner.tcp(sock), &opts);
                    *state(inner, id) = Tcp::Connected(Conn {
                        sock,
                        local,
                        peer,
                        reported: false,
                        shut_rd: false,
                        shut_wr: false,
                        fin_seen: false,
                        closed: false,
                    });
                    sync(inner, id);
                }
            }
        }
        Tcp::Connected(c) => {
            if c.closed {
                return;
            }
            let sock = c.sock;
            let s = inner.tcp(sock);
            let fin = peer_finished(s);
            let closed = s.state() == State::Closed;
            let opts = inner.ep(id).opts.clone();
            apply_options(inner.tcp(sock), &opts);
            let Tcp::Connected(c) = state(inner, id) else {
                unreachable!()
            };
            c.fin_seen |= fin;
            if closed {
                c.closed = true;
                if !(c.fin_seen && c.shut_wr) {
                    // Linux's tcp_reset: EPIPE once the peer had closed
                    // its side, ECONNRESET otherwise.
                    let e = if c.fin_seen {
                        Errno::EPIPE
                    } else {
                        Errno::ECONNRESET
                    };
                    inner.ep_mut(id).error = Some(e);
                }
            }
        }
    }
}

pub(crate) fn send(
    inner: &mut Inner,
    id: usize,
    len: usize,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let sock = match state(inner, id) {
        Tcp::Connecting { .. } => return Err(Errno::EAGAIN),
        Tcp::Idle { .. } | Tcp::Listening(_) => return Err(Errno::ENOTCONN),
        Tcp::Connected(c) => {
            if c.shut_wr {
                return Err(Errno::EPIPE);
            }
            c.sock
        }
    };
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let s = inner.tcp(sock);
    if !s.may_send() {
        return Err(Errno::EPIPE);
    }
    let mut total = 0;
    let mut err = None;
    while total < len {
        let want = len - total;
        let r = s.send(|buf| {
            let n = buf.len().min(want);
            if n == 0 {
                return (0, Ok((0, 0)));
            }
            match fill(&mut buf[..n]) {
                Ok(k) => (k.min(n), Ok((k.min(n), n))),
                Err(e) => (0, Err(e)),
            }
        });
        match r {
            Ok(Ok((k, offered))) => {
                total += k;
                if k == 0 || k < offered {
                    break;
                }
            }
            Ok(Err(e)) => {
                err = Some(e);
                break;
            }
            Err(_) => break,
        }
    }
    if total == 0 {
        return Err(err.unwrap_or(Errno::EAGAIN));
    }
    let opts = inner.ep(id).opts.clone();
    apply_options(inner.tcp(sock), &opts);
    inner.poll();
    Ok(total)
}

pub(crate) fn recv(
    inner: &mut Inner,
    id: usize,
    peek: bool,
    len: usize,
    drain: &mut dyn FnMut(&[u8]) -> Result<usize, Errno>,
) -> Result<(usize, Option<SocketAddr>), Errno> {
    let (sock, peer) = match state(inner, id) {
        Tcp::Connecting { .. } => return Err(Errno::EAGAIN),
        Tcp::Idle { .. } | Tcp::Listening(_) => return Err(Errno::ENOTCONN),
        Tcp::Connected(c) => (c.sock, c.peer),
    };
    let s = inner.tcp(sock);
    if s.recv_queue() > 0 && len > 0 {
        let mut total = 0;
        let mut err = None;
        if peek {
            let mut tmp = vec![0; len.min(s.recv_queue())];
            let n = s.peek_slice(&mut tmp).unwrap_or(0);
            match drain(&tmp[..n]) {
                Ok(k) => total = k,
                Err(e) => err = Some(e),
            }
        } else {
            while total < len {
                let want = len - total;
                let r = s.recv(|buf| {
                    let n = buf.len().min(want);
                    if n == 0 {
                        return (0, Ok((0, 0)));
                    }
                    match drain(&buf[..n]) {
                        Ok(k) => (k.min(n), Ok((k.min(n), n))),
                        Err(e) => (0, Err(e)),
                    }
                });
                match r {
                    Ok(Ok((k, offered))) if k > 0 => {
                        total += k;
                        if k < offered {
                            break;
                        }
                    }
                    Ok(Err(e)) => {
                        err = Some(e);
                        break;
                    }
                    _ => break,
                }
            }
            // The window opened: tell the peer now.
            inner.poll();
        }
        if total == 0 {
            if let Some(e) = err {
                return Err(e);
            }
        }
        return Ok((total, Some(peer)));
    }
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let fin = peer_finished(inner.tcp(sock));
    let Tcp::Connected(c) = state(inner, id) else {
        unreachable!()
    };
    c.fin_seen |= fin;
    if c.shut_rd || c.fin_seen || c.closed {
        return Ok((0, Some(peer)));
    }
    Err(Errno::EAGAIN)
}

pub(crate) fn shutdown(inner: &mut Inner, id: usize, how: Shutdown) -> Result<(), Errno> {
    let rd = matches!(how, Shutdown::Read | Shutdown::Both);
    let wr = matches!(how, Shutdown::Write | Shutdown::Both);
    match state(inner, id) {
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
            *state(inner, id) = Tcp::Idle { failed: false };
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
                inner.poll();
            }
            inner.note(id);
            Ok(())
        }
    }
}

pub(crate) fn readiness(inner: &mut Inner, id: usize) -> i16 {
    let err = if inner.ep(id).error.is_some() {
        libc::POLLERR
    } else {
        0
    };
    let c = match state(inner, id) {
        Tcp::Idle { failed: false } => return libc::POLLOUT | libc::POLLHUP | err,
        // A failed connect leaves the socket shut both ways (tcp_done).
        Tcp::Idle { failed: true } => {
            return libc::POLLIN | libc::POLLOUT | libc::POLLHUP | libc::POLLRDHUP | err
        }
        Tcp::Connecting { .. } => return err,
        Tcp::Listening(l) => {
            return if l.queue.is_empty() { 0 } else { libc::POLLIN };
        }
        Tcp::Connected(c) => (c.sock, c.shut_rd, c.shut_wr, c.fin_seen, c.closed),
    };
    let (sock, shut_rd, shut_wr, fin_seen, closed) = c;
    let s = inner.tcp(sock);
    let rd_shut = shut_rd || fin_seen || closed || peer_finished(s);
    let wr_shut = shut_wr || closed;
    let mut m = err;
    if rd_shut && wr_shut {
        m |= libc::POLLHUP;
    }
    if rd_shut {
        m |= libc::POLLIN | libc::POLLRDHUP;
    }
    if s.recv_queue() > 0 {
        m |= libc::POLLIN;
    }
    if wr_shut {
        m |= libc::POLLOUT;
    } else {
        // Linux's sk_stream_is_writeable: free space of at least half
        // what is queued, so a writer wakes for a useful amount.
        let used = s.send_queue();
        let free = s.send_capacity() - used;
        if free > 0 && free >= used / 2 {
            m |= libc::POLLOUT;
        }
    }
    m
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
                inner.poll();
            }
        }
    }
    inner.release_id(id);
}

/// connect(2) with AF_UNSPEC: Linux's tcp_disconnect drops whatever the
/// socket holds (a connection goes with RST) and leaves it unconnected.
pub(crate) fn disconnect(inner: &mut Inner, id: usize) {
    match state(inner, id) {
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
                inner.orphan(None, sock, crate::socket::Proto::Tcp);
                inner.poll();
            }
        }
    }
    *state(inner, id) = Tcp::Idle { failed: false };
    bind::release_implicit(inner, id);
    inner.note(id);
}
