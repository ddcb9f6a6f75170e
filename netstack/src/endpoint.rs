//! One Linux inet socket on the stack. Every call returns at once: EAGAIN
//! (or EINPROGRESS, EALREADY) where Linux would sleep, and the stack calls
//! the endpoint's [`Notify`] hook whenever its readiness may have changed,
//! so the Sentry sleeps on its own wait queue and asks again.
//!
//! Addresses are the socket family's: a v6 endpoint takes and reports IPv4
//! peers as v4-mapped addresses (`::ffff:a.b.c.d`), as Linux's dual-stack
//! sockets do (unless `v6_only`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::errno::Errno;
use crate::stack::{Notify, Stack};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
    /// ICMP echo (ping sockets, SOCK_DGRAM with IPPROTO_ICMP/ICMPV6).
    Icmp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    Read,
    Write,
    Both,
}

/// The socket options the stack acts on; the Sentry keeps the others.
/// Sizes are the bytes the stack uses (the Sentry doubles what
/// getsockopt reports, as Linux does).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub reuse_addr: bool,
    pub reuse_port: bool,
    pub keep_alive: bool,
    pub keep_idle: Duration,
    pub keep_interval: Duration,
    pub keep_count: u32,
    pub no_delay: bool,
    /// The receive buffer a connection gets when it is made.
    pub recv_buf: usize,
    /// The send buffer a connection gets when it is made.
    pub send_buf: usize,
    /// SO_LINGER: Some(0) resets the connection on close.
    pub linger: Option<Duration>,
    /// IP_TTL / IPV6_UNICAST_HOPS.
    pub ttl: u8,
    pub v6_only: bool,
    pub broadcast: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            reuse_addr: false,
            reuse_port: false,
            keep_alive: false,
            keep_idle: Duration::from_secs(7200),
            keep_interval: Duration::from_secs(75),
            keep_count: 9,
            no_delay: false,
            recv_buf: 128 * 1024,
            send_buf: 128 * 1024,
            linger: None,
            ttl: 64,
            v6_only: false,
            broadcast: false,
        }
    }
}

/// What recv took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvInfo {
    /// Bytes given to `drain`.
    pub len: usize,
    /// A datagram's whole length (MSG_TRUNC); `len` for a stream.
    pub full_len: usize,
    /// The sender (datagrams; a stream's peer).
    pub from: Option<SocketAddr>,
}

/// One socket. Dropping it is close(2): a TCP connection closes with FIN
/// in the background (with RST when unread data remains or SO_LINGER is
/// zero, as Linux does); a listener resets the connections nobody
/// accepted.
pub struct Endpoint {
    #[allow(dead_code)] // until the bodies land
    pub(crate) stack: Arc<Stack>,
    #[allow(dead_code)]
    pub(crate) id: usize,
}

impl Endpoint {
    pub fn proto(&self) -> Proto {
        todo!()
    }

    /// Made for AF_INET6.
    pub fn is_v6(&self) -> bool {
        todo!()
    }

    /// bind(2). Port 0 picks an ephemeral port (32768..=60999). EINVAL when
    /// already bound; EADDRINUSE when another endpoint of the protocol holds
    /// the address and port (SO_REUSEADDR on both lets TCP share with
    /// endpoints that are not listening, and UDP share outright;
    /// SO_REUSEPORT on both lets them share); EADDRNOTAVAIL when the
    /// address is none of the stack's (the unspecified address always
    /// works); EAFNOSUPPORT for a v4 address on a v6 endpoint or the
    /// reverse (v4-mapped excepted).
    pub fn bind(&self, addr: SocketAddr) -> Result<(), Errno> {
        let _ = addr;
        todo!()
    }

    /// listen(2), TCP only (EOPNOTSUPP otherwise). Binds an ephemeral port
    /// first when unbound; a second call changes the backlog. Up to
    /// `backlog + 1` connections wait for accept once their handshake is
    /// done; SYNs beyond that are dropped, so the peer retransmits, as on
    /// Linux. EINVAL after connect.
    pub fn listen(&self, backlog: u32) -> Result<(), Errno> {
        let _ = backlog;
        todo!()
    }

    /// accept(2): the oldest completed connection and its peer. EAGAIN when
    /// none waits; EINVAL when not listening. The new endpoint reports to
    /// `notify` and `/proc/net` shows it with `tag`.
    pub fn accept(&self, notify: Notify, tag: u64) -> Result<(Endpoint, SocketAddr), Errno> {
        let _ = (notify, tag);
        todo!()
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
    /// ENETUNREACH without a route.
    pub fn connect(&self, addr: SocketAddr) -> Result<(), Errno> {
        let _ = addr;
        todo!()
    }

    /// connect(2) with AF_UNSPEC on a datagram endpoint: forgets the peer.
    pub fn disconnect(&self) -> Result<(), Errno> {
        todo!()
    }

    /// Queues bytes to send. `fill` is given successive pieces of buffer
    /// space and copies the application's next bytes into each, returning
    /// how many it copied (fewer than the piece ends the send); an error
    /// from it (EFAULT) ends the send and is returned if nothing was queued.
    ///
    /// TCP takes what fits: EAGAIN when nothing does; ENOTCONN before the
    /// connection is established; EPIPE after shutdown(SHUT_WR) or once the
    /// connection is closed; the pending error (ECONNRESET) once after a
    /// reset. `to` is ignored, as Linux ignores it on a connected stream.
    ///
    /// UDP and ICMP take one whole datagram of `len` bytes to `to`, or the
    /// connected peer: EDESTADDRREQ with neither; EMSGSIZE over 65507
    /// bytes (UDP over IPv4); EAGAIN when the send buffer cannot hold it;
    /// ENETUNREACH without a route. An unbound endpoint binds an ephemeral
    /// port first.
    pub fn send(
        &self,
        to: Option<SocketAddr>,
        len: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
    ) -> Result<usize, Errno> {
        let _ = (to, len, fill);
        todo!()
    }

    /// Takes up to `len` received bytes; `drain` is given successive
    /// pieces and returns how many it took. With `peek` the bytes stay.
    ///
    /// TCP: Ok with len 0 at the end of the stream (and after
    /// shutdown(SHUT_RD)); EAGAIN when nothing is queued and the stream is
    /// open; ENOTCONN before connect; the pending error (ECONNRESET) once
    /// after a reset, then end of stream.
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
        let _ = (peek, len, drain);
        todo!()
    }

    /// shutdown(2): ENOTCONN when not connected.
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Errno> {
        let _ = how;
        todo!()
    }

    /// poll(2) events (POLLIN, POLLOUT, POLLERR, POLLHUP, POLLRDHUP, as
    /// libc's i16 bits) as Linux's tcp_poll and udp_poll report them: a
    /// listener is POLLIN with a connection to accept; a new, unconnected
    /// TCP endpoint is POLLOUT | POLLHUP.
    pub fn readiness(&self) -> i16 {
        todo!()
    }

    /// getsockname(2): None while unbound.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        todo!()
    }

    /// getpeername(2): None while not connected.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        todo!()
    }

    /// SO_ERROR: the pending error, cleared.
    pub fn take_error(&self) -> Option<Errno> {
        todo!()
    }

    pub fn options(&self) -> Options {
        todo!()
    }

    /// Changes options; those that act on a live connection (no_delay,
    /// keep-alive, ttl) do so at once.
    pub fn set_options(&self, f: &mut dyn FnMut(&mut Options)) -> Result<(), Errno> {
        let _ = f;
        todo!()
    }

    /// FIONREAD / SIOCINQ: bytes queued to read (a datagram endpoint: the
    /// next datagram's length).
    pub fn recv_queue(&self) -> usize {
        todo!()
    }

    /// SIOCOUTQ: bytes sent and not yet acknowledged.
    pub fn send_queue(&self) -> usize {
        todo!()
    }

    /// Linux's TCP state number (TCP_INFO's tcpi_state; 7, TCP_CLOSE,
    /// for an unconnected endpoint).
    pub fn tcp_state(&self) -> u8 {
        todo!()
    }

    /// SO_ACCEPTCONN.
    pub fn is_listening(&self) -> bool {
        todo!()
    }
}
