//! One Linux inet socket on the stack. Every call returns at once: EAGAIN
//! (or EINPROGRESS, EALREADY) where Linux would sleep, and the stack calls
//! the endpoint's [`Notify`] hook whenever its readiness may have changed,
//! so the Sentry sleeps on its own wait queue and asks again.
//!
//! Addresses are the socket family's: a v6 endpoint takes and reports IPv4
//! peers as v4-mapped addresses (`::ffff:a.b.c.d`), as Linux's dual-stack
//! sockets do (unless `v6_only`).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use crate::errno::Errno;
use crate::ports::Owner;
use crate::socket::{Notify, Options, PacketInfo, Proto, RecvInfo, SendInfo, Shutdown};
use crate::stack::Stack;
use crate::state::{EpState, Inner, Kind, Tcp};
use crate::tcp_sock::{apply_options, linux_state};
use crate::{addr, bind, dgram, listener, outbound, raw, stream, tcp, udplite, urgent};

/// One socket. Dropping it is close(2): a TCP connection closes with FIN
/// in the background (with RST when unread data remains or SO_LINGER is
/// zero, as Linux does); a listener resets the connections nobody
/// accepted.
pub struct Endpoint {
    pub(crate) stack: Arc<Stack>,
    pub(crate) id: usize,
}

impl Stack {
    /// A new socket: AF_INET6 when `v6`. `tag` names it in
    /// [`Stack::connections`]. Whether the caller may have a raw one
    /// (CAP_NET_RAW) is the caller's to decide.
    pub fn endpoint(
        self: &Arc<Self>,
        v6: bool,
        proto: Proto,
        notify: Notify,
        tag: u64,
    ) -> Result<Endpoint, Errno> {
        let id = self.with(|inner| {
            inner.insert(|_, waker| EpState {
                v6,
                proto,
                notify,
                tag,
                opts: Options::default(),
                waker,
                bound: (proto == Proto::Raw).then(|| raw::unbound(v6)),
                error: None,
                soft_error: None,
                urgent_hook: None,
                kind: match proto {
                    Proto::Tcp => Kind::Tcp(Tcp::Idle { failed: false }),
                    Proto::Udp | Proto::Icmp | Proto::Raw | Proto::UdpLite => {
                        Kind::Dgram(Default::default())
                    }
                },
            })
        });
        Ok(Endpoint {
            stack: self.clone(),
            id,
        })
    }
}

fn is_tcp(inner: &Inner, id: usize) -> bool {
    matches!(inner.ep(id).kind, Kind::Tcp(_))
}

fn is_raw(inner: &Inner, id: usize) -> bool {
    inner.ep(id).proto == Proto::Raw
}

impl Endpoint {
    fn with<R>(&self, f: impl FnOnce(&mut Inner, usize) -> R) -> R {
        self.stack.with(|inner| f(inner, self.id))
    }

    pub fn proto(&self) -> Proto {
        self.with(|i, id| i.ep(id).proto)
    }

    /// Made for AF_INET6.
    pub fn is_v6(&self) -> bool {
        self.with(|i, id| i.ep(id).v6)
    }

    /// bind(2). Port 0 picks an ephemeral port (32768..=60999). EINVAL when
    /// already bound; EADDRINUSE when another endpoint of the protocol holds
    /// the address and port (SO_REUSEADDR on both lets TCP share with
    /// endpoints that are not listening, and UDP share outright;
    /// SO_REUSEPORT on both lets them share); EADDRNOTAVAIL when the
    /// address is none of the stack's (the unspecified address always
    /// works); EAFNOSUPPORT for a v4 address on a v6 endpoint or the
    /// reverse (v4-mapped excepted).
    ///
    /// A raw endpoint binds an address only (the port is ignored), may
    /// bind again, and EINVAL once connected.
    pub fn bind(&self, addr: SocketAddr) -> Result<(), Errno> {
        self.with(|i, id| {
            if is_raw(i, id) {
                raw::bind(i, id, addr)
            } else {
                bind::bind(i, id, addr)
            }
        })
    }

    /// listen(2), TCP only (EOPNOTSUPP otherwise). Binds an ephemeral port
    /// first when unbound; a second call changes the backlog. Up to
    /// `backlog + 1` connections wait for accept once their handshake is
    /// done; SYNs beyond that are dropped, so the peer retransmits, as on
    /// Linux. EINVAL after connect.
    pub fn listen(&self, backlog: u32) -> Result<(), Errno> {
        self.with(|i, id| {
            if !is_tcp(i, id) {
                return Err(Errno::EOPNOTSUPP);
            }
            listener::listen(i, id, backlog)
        })
    }

    /// accept(2): the oldest completed connection and its peer. EAGAIN when
    /// none waits; EINVAL when not listening. The new endpoint reports to
    /// `notify` and `/proc/net` shows it with `tag`.
    pub fn accept(&self, notify: Notify, tag: u64) -> Result<(Endpoint, SocketAddr), Errno> {
        let (nid, peer) = self.with(|i, id| {
            if !is_tcp(i, id) {
                return Err(Errno::EOPNOTSUPP);
            }
            listener::accept(i, id, notify, tag)
        })?;
        Ok((
            Endpoint {
                stack: self.stack.clone(),
                id: nid,
            },
            peer,
        ))
    }

    /// connect(2).
    ///
    /// TCP, as Linux's inet_stream_connect: the first call binds an
    /// ephemeral port when unbound, sends the SYN and returns EINPROGRESS;
    /// a call while the handshake is under way returns EALREADY; the first
    /// call after it completed returns Ok, later ones EISCONN; after it
    /// failed, the failure (ECONNREFUSED, ETIMEDOUT, ENETUNREACH) once, and
    /// the endpoint may connect again. A blocking connect in the Sentry is
    /// the first call, a sleep until POLLOUT, and a second call.
    ///
    /// UDP and ICMP: sets the default peer, binding first when unbound;
    /// ENETUNREACH without a route. Raw: the default destination, and
    /// the only source received from.
    pub fn connect(&self, addr: SocketAddr) -> Result<(), Errno> {
        self.with(|i, id| {
            if is_tcp(i, id) {
                tcp::connect(i, id, addr)
            } else if is_raw(i, id) {
                raw::connect(i, id, addr)
            } else {
                dgram::connect(i, id, addr)
            }
        })
    }

    /// connect(2) with AF_UNSPEC on a datagram endpoint: forgets the peer.
    /// On a TCP endpoint it aborts the connection (Linux's tcp_disconnect).
    pub fn disconnect(&self) -> Result<(), Errno> {
        self.with(|i, id| {
            if is_tcp(i, id) {
                tcp::disconnect(i, id);
            } else if is_raw(i, id) {
                raw::disconnect(i, id);
            } else {
                dgram::disconnect(i, id);
            }
            Ok(())
        })
    }

    /// Queues bytes to send. `fill` is given successive pieces of buffer
    /// space and copies the application's next bytes into each, returning
    /// how many it copied (fewer than the piece ends the send); an error
    /// from it (EFAULT) ends the send and is returned if nothing was queued.
    ///
    /// TCP takes what fits: EAGAIN when nothing does (or while the
    /// handshake is under way); ENOTCONN before connect; EPIPE after
    /// shutdown(SHUT_WR) or once the connection is closed; the pending
    /// error (ECONNRESET) once after a reset. `to` is ignored, as Linux
    /// ignores it on a connected stream.
    ///
    /// UDP and ICMP take one whole datagram of `len` bytes to `to`, or the
    /// connected peer: EDESTADDRREQ with neither; EMSGSIZE over 65507
    /// bytes (UDP over IPv4), 65527 (over IPv6), or past an Ethernet
    /// link's MTU with IPV6_DONTFRAG (otherwise the datagram leaves in
    /// fragments); EAGAIN when the send buffer cannot hold it;
    /// ENETUNREACH without a route. An unbound endpoint binds an ephemeral
    /// port first.
    ///
    /// Raw: one ICMP message (see [`Proto::Raw`]); EMSGSIZE past what one
    /// IP packet holds; EINVAL for an ICMPv6 message under 4 bytes or a
    /// v6 destination port other than 0 or 58.
    pub fn send(
        &self,
        to: Option<SocketAddr>,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        self.send_with(to, &SendInfo::default(), len, fill)
    }

    /// [`send`](Self::send) with sendmsg's ancillary data: a datagram's
    /// own hop limit, source address (one of the stack's, see
    /// [`SendInfo`]) and interface (ENODEV unless one exists). TCP
    /// ignores `info`.
    pub fn send_with(
        &self,
        to: Option<SocketAddr>,
        info: &SendInfo,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        self.with(|i, id| match i.ep(id).proto {
            Proto::Tcp => stream::send(i, id, len, info.urgent, fill),
            Proto::Raw => raw::send(i, id, to, info, len, fill),
            Proto::UdpLite => udplite::send(i, id, to, info, len, fill),
            Proto::Udp | Proto::Icmp => outbound::send(i, id, to, info, len, fill),
        })
    }

    /// Takes up to `len` received bytes; `drain` is given successive
    /// pieces and returns how many it took. With `peek` the bytes stay.
    ///
    /// TCP: Ok with len 0 at the end of the stream (and after
    /// shutdown(SHUT_RD), once queued bytes are read); EAGAIN when nothing
    /// is queued and the stream is open (or still connecting); ENOTCONN
    /// before connect; the pending error (ECONNRESET) once after a reset,
    /// then end of stream.
    ///
    /// UDP and ICMP: one datagram (the rest of it dropped unless `peek`),
    /// its whole length in `full_len` and its sender in `from`; EAGAIN when
    /// none is queued.
    pub fn recv(
        &self,
        peek: bool,
        len: usize,
        drain: &mut dyn FnMut(&[u8]) -> Result<usize, Errno>,
    ) -> Result<RecvInfo, Errno> {
        self.recv_with_info(peek, len, drain).map(|(r, _)| r)
    }

    /// [`recv`](Self::recv), and what came with the datagram (None for
    /// TCP, and at the end of a shut-down datagram endpoint).
    pub fn recv_with_info(
        &self,
        peek: bool,
        len: usize,
        drain: &mut dyn FnMut(&[u8]) -> Result<usize, Errno>,
    ) -> Result<(RecvInfo, Option<PacketInfo>), Errno> {
        self.with(|i, id| {
            if is_tcp(i, id) {
                let v6 = i.ep(id).v6;
                let (n, from) = stream::recv(i, id, peek, len, drain)?;
                let info = RecvInfo {
                    len: n,
                    full_len: n,
                    from: from.map(|f| addr::show(v6, f)),
                };
                Ok((info, None))
            } else {
                dgram::recv(i, id, peek, len, drain)
            }
        })
    }

    /// recv(MSG_OOB) on TCP: the urgent byte, once (None at the end of
    /// the stream); EINVAL under SO_OOBINLINE, when there is none or it
    /// was taken; EAGAIN while it has not arrived; ENOTCONN on a
    /// listener. See `urgent` for where marks come from.
    pub fn recv_urgent(&self, peek: bool) -> Result<Option<u8>, Errno> {
        self.with(|i, id| {
            if is_tcp(i, id) {
                urgent::recv(i, id, peek)
            } else {
                Err(Errno::EINVAL)
            }
        })
    }

    /// SIOCATMARK: a TCP reader is at the urgent byte.
    pub fn at_mark(&self) -> bool {
        self.with(|i, id| is_tcp(i, id) && urgent::at_mark(i, id))
    }

    /// The hook called (without the stack's lock) when urgent data is
    /// marked for this endpoint: the Sentry's SIGURG.
    pub fn set_urgent_hook(&self, hook: Notify) {
        self.with(|i, id| i.ep_mut(id).urgent_hook = Some(hook))
    }

    /// shutdown(2): ENOTCONN when not connected.
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Errno> {
        self.with(|i, id| {
            if is_tcp(i, id) {
                tcp::shutdown(i, id, how)
            } else {
                dgram::shutdown(i, id, how)
            }
        })
    }

    /// poll(2) events (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP, as
    /// libc's i16 bits) as Linux's tcp_poll and udp_poll report them: a
    /// listener is POLLIN with a connection to accept; a new, unconnected
    /// TCP endpoint is POLLOUT | POLLHUP.
    pub fn readiness(&self) -> i16 {
        self.with(|i, id| {
            if is_tcp(i, id) {
                stream::readiness(i, id)
            } else {
                dgram::readiness(i, id)
            }
        })
    }

    /// getsockname(2): None while unbound.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.with(|i, id| {
            let ep = i.ep(id);
            let local = match &ep.kind {
                Kind::Tcp(Tcp::Connected(c)) => Some(c.local),
                // The source address was chosen when the SYN left.
                &Kind::Tcp(Tcp::Connecting { sock, .. }) => i.ifaces[sock.iface]
                    .sockets
                    .get::<smoltcp::socket::tcp::Socket>(sock.h)
                    .local_endpoint()
                    .map(addr::ep_from_wire),
                Kind::Dgram(_) => {
                    let b = ep.bound?;
                    let a = dgram::source(i, id).unwrap_or(b.addr);
                    Some(SocketAddr::new(a, b.port))
                }
                Kind::Tcp(_) => ep.bound.map(|b| SocketAddr::new(b.addr, b.port)),
            }?;
            let ip = if local.ip().is_unspecified() {
                addr::unspecified(ep.v6)
            } else {
                local.ip()
            };
            Some(addr::show(ep.v6, SocketAddr::new(ip, local.port())))
        })
    }

    /// getpeername(2): None while not connected, or connected to port 0.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.with(|i, id| {
            let ep = i.ep(id);
            let peer = match &ep.kind {
                Kind::Tcp(Tcp::Connected(c)) if !c.closed => Some(c.peer),
                Kind::Tcp(_) => None,
                // Linux's inet_getname: a peer without a port is none
                // (a raw or ping socket connects to port 0).
                Kind::Dgram(_) => dgram::peer(i, id).filter(|p| p.port() != 0),
            }?;
            Some(addr::show(ep.v6, peer))
        })
    }

    /// IP_MTU / IPV6_MTU: the MTU of the route to the connected peer
    /// (IPv4 routes capped at 65,535, the largest IPv4 packet, as
    /// Linux's ipv4_mtu caps them); None when not connected (ENOTCONN).
    pub fn path_mtu(&self) -> Option<u32> {
        self.with(|i, id| {
            let peer = match &i.ep(id).kind {
                Kind::Tcp(Tcp::Connected(c)) if !c.closed => c.peer,
                Kind::Tcp(_) => return None,
                Kind::Dgram(_) => dgram::peer(i, id)?,
            };
            let path = i.route(peer.ip()).ok()?;
            let mtu = i.ifaces[path.iface].mtu;
            Some(if peer.is_ipv4() {
                mtu.min(u32::from(u16::MAX))
            } else {
                mtu
            })
        })
    }

    /// SO_ERROR: the pending error, else the noted (soft) one, cleared,
    /// as Linux's sock_getsockopt reads sk_err then sk_err_soft.
    pub fn take_error(&self) -> Option<Errno> {
        self.with(|i, id| {
            let ep = i.ep_mut(id);
            ep.error.take().or_else(|| ep.soft_error.take())
        })
    }

    /// Makes `e` pending again: a send that took the connection's error
    /// after it had queued bytes returns their count, and Linux leaves
    /// the error (sk_err) for the next call.
    pub fn restore_error(&self, e: Errno) {
        self.with(|i, id| {
            let ep = i.ep_mut(id);
            ep.error.get_or_insert(e);
        })
    }

    /// IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP: `group` (wire form) on the
    /// interface of index `index`, else the one holding `addr`, else the
    /// group's route's (ENODEV when there is none; EINVAL for a group
    /// that is not multicast, EADDRINUSE when already joined there).
    pub fn join_group(&self, group: IpAddr, index: u32, addr: Option<IpAddr>) -> Result<(), Errno> {
        self.with(|i, id| crate::multicast::join(i, id, group, index, addr))
    }

    /// IP_DROP_MEMBERSHIP / IPV6_LEAVE_GROUP (EADDRNOTAVAIL when not
    /// joined).
    pub fn leave_group(
        &self,
        group: IpAddr,
        index: u32,
        addr: Option<IpAddr>,
    ) -> Result<(), Errno> {
        self.with(|i, id| crate::multicast::leave(i, id, group, index, addr))
    }

    /// The index of the interface holding `addr` (loopback for
    /// 127.0.0.0/8 and ::1), as Linux's ip_dev_find.
    pub fn interface_with(&self, addr: IpAddr) -> Option<u32> {
        self.with(|i, _| {
            if let Some(f) = i.ifaces.iter().skip(1).find(|f| f.has_addr(addr)) {
                return Some(f.index);
            }
            crate::route::is_local(&i.ifaces[..1], addr).then_some(1)
        })
    }

    /// Whether an interface of index `index` exists.
    pub fn has_interface(&self, index: u32) -> bool {
        self.with(|i, _| i.ifaces.iter().any(|f| f.index == index))
    }

    /// TCP_SYNCNT as getsockopt reports it: the socket's own, else the
    /// stack's net.ipv4.tcp_syn_retries.
    pub fn syn_retries(&self) -> u8 {
        self.with(|i, id| i.ep(id).opts.syn_retries.unwrap_or(i.syn_retries))
    }

    pub fn options(&self) -> Options {
        self.with(|i, id| i.ep(id).opts.clone())
    }

    /// Changes options; those that act on a live connection (no_delay,
    /// keep-alive, ttl) do so at once.
    pub fn set_options(&self, f: &mut dyn FnMut(&mut Options)) -> Result<(), Errno> {
        self.with(|i, id| {
            let ep = i.ep_mut(id);
            f(&mut ep.opts);
            let (opts, proto, bound) = (ep.opts.clone(), ep.proto, ep.bound);
            if let Some(b) = bound {
                i.ports.set_flags(
                    proto,
                    b.port,
                    Owner::Ep(id),
                    opts.reuse_addr,
                    opts.reuse_port,
                );
            }
            match &i.ep(id).kind {
                Kind::Tcp(Tcp::Connected(c)) => {
                    let sock = c.sock;
                    apply_options(i.tcp(sock), &opts);
                    i.request_poll();
                }
                Kind::Tcp(Tcp::Connecting { sock, .. }) => {
                    let sock = *sock;
                    apply_options(i.tcp(sock), &opts);
                }
                _ => {}
            }
            Ok(())
        })
    }

    /// FIONREAD / SIOCINQ: bytes queued to read (a datagram endpoint: the
    /// next datagram's length; TCP: up to urgent data, see `urgent`).
    pub fn recv_queue(&self) -> usize {
        self.with(|i, id| match &i.ep(id).kind {
            Kind::Tcp(Tcp::Connected(c)) => {
                let (sock, read) = (c.sock, c.read);
                let inline = i.ep(id).opts.oob_inline;
                let queued = i.tcp(sock).recv_queue() as u64;
                urgent::inq(i, sock, read, inline, queued) as usize
            }
            Kind::Tcp(_) => 0,
            Kind::Dgram(_) => dgram::recv_queue(i, id),
        })
    }

    /// SIOCOUTQ: bytes sent and not yet acknowledged.
    pub fn send_queue(&self) -> usize {
        self.with(|i, id| match &i.ep(id).kind {
            Kind::Tcp(Tcp::Connected(c)) => {
                let sock = c.sock;
                i.tcp(sock).send_queue()
            }
            Kind::Tcp(_) => 0,
            Kind::Dgram(_) => dgram::send_queue(i, id),
        })
    }

    /// Linux's TCP state number (TCP_INFO's tcpi_state; 7, TCP_CLOSE,
    /// for an unconnected endpoint).
    pub fn tcp_state(&self) -> u8 {
        self.with(|i, id| match &i.ep(id).kind {
            Kind::Tcp(Tcp::Connected(c)) if c.closed => 7,
            Kind::Tcp(Tcp::Connected(c)) => {
                let sock = c.sock;
                linux_state(i.tcp(sock).state())
            }
            Kind::Tcp(Tcp::Connecting { .. }) => 2,
            Kind::Tcp(Tcp::Listening(_)) => 10,
            _ => 7,
        })
    }

    /// SO_ACCEPTCONN.
    pub fn is_listening(&self) -> bool {
        self.with(|i, id| matches!(i.ep(id).kind, Kind::Tcp(Tcp::Listening(_))))
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.with(|i, id| {
            if is_tcp(i, id) {
                tcp::close(i, id)
            } else {
                dgram::close(i, id)
            }
        })
    }
}
