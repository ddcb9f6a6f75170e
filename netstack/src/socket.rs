//! What an endpoint is made with and answers with: its protocol, its
//! readiness hook, the options the stack acts on, shutdown's directions,
//! and what a recv took. Its own file so the stack, the endpoint and the
//! protocol code all use these without importing one another.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Called when an endpoint's readiness may have changed. The stack calls
/// it after releasing its lock, on whichever thread moved the stack (an
/// application's or the stack's own), so it should only set flags and
/// wake sleepers.
pub type Notify = Arc<dyn Fn() + Send + Sync>;

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
