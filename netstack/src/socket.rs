//! What an endpoint is made with and answers with: its protocol, its
//! readiness hook, the options the stack acts on, shutdown's directions,
//! what a recv took and what came with it, and how a datagram is to
//! leave. Its own file so the stack, the endpoint and the protocol code
//! all use these without importing one another.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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
    /// A raw ICMP socket (SOCK_RAW with IPPROTO_ICMP on a v4 endpoint,
    /// IPPROTO_ICMPV6 on a v6 one): a copy of every ICMP message that
    /// reaches the stack, the IPv4 header included as Linux gives it;
    /// sends take the ICMP message and the stack adds the IP header.
    Raw,
    /// UDP-Lite (SOCK_DGRAM with IPPROTO_UDPLITE, RFC 3828): UDP's ports,
    /// lookup and datagrams under protocol 136, with a checksum that may
    /// cover only the first bytes (see `Options::udplite_send_coverage`).
    UdpLite,
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
    /// IP_TTL of a v6 endpoint: the TTL of its IPv4 datagrams (to
    /// v4-mapped peers), as Linux keeps it apart from IPV6_UNICAST_HOPS.
    /// A v6 endpoint's TCP connections use `ttl` either way.
    pub v4_ttl: u8,
    pub v6_only: bool,
    pub broadcast: bool,
    /// The ICMP types a raw endpoint does not receive: bit `t % 32` of
    /// word `t / 32` blocks type `t`. ICMP_FILTER sets the first word
    /// (IPv4 filters types below 32 only), ICMP6_FILTER all of them.
    pub icmp_filter: [u32; 8],
    /// UDP-Lite's UDPLITE_SEND_CSCOV once set: how many bytes (header
    /// included, 8 to 65535) the checksum of a longer datagram covers; 0
    /// asks for full coverage written as 0. Unset: full, written as the
    /// length.
    pub udplite_send_coverage: Option<u16>,
    /// UDPLITE_RECV_CSCOV once set: a partly covered datagram with less
    /// coverage is dropped (all of them for 0).
    pub udplite_recv_coverage: Option<u16>,
    /// TCP_SYNCNT: how many times connect(2) sends its SYN again before
    /// ETIMEDOUT; None: the stack's `tcp_syn_retries`.
    pub syn_retries: Option<u8>,
    /// TCP_USER_TIMEOUT: how long sent data may stay unacknowledged (and
    /// a connect unanswered) before the connection ends with ETIMEDOUT;
    /// None: the retransmission limits decide.
    pub user_timeout: Option<Duration>,
    /// IP_RECVERR / IPV6_RECVERR: every ICMP error for a datagram
    /// endpoint becomes its pending error, not only the hard ones of a
    /// connected endpoint.
    pub recv_err: bool,
    /// IP_MULTICAST_TTL / IPV6_MULTICAST_HOPS: the hop limit of
    /// datagrams to a multicast group (1: the link only).
    pub mc_ttl: u8,
    pub mc6_hops: u8,
    /// IP_MULTICAST_LOOP / IPV6_MULTICAST_LOOP: the stack's own sockets
    /// in the group hear what it sends there.
    pub mc_loop: bool,
    pub mc6_loop: bool,
    /// IP_MULTICAST_IF / IPV6_MULTICAST_IF: the interface (index, 0 for
    /// the route's) multicast leaves by, and IPv4's source address for it.
    pub mc_if: u32,
    pub mc_addr: Option<std::net::Ipv4Addr>,
    pub mc6_if: u32,
    /// IP_MULTICAST_ALL: a socket that joined nothing hears every group
    /// some socket joined on the interface (Linux's default).
    pub mc_all: bool,
    /// SO_OOBINLINE: urgent data stays in the stream and recv(MSG_OOB)
    /// is EINVAL.
    pub oob_inline: bool,
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
            v4_ttl: 64,
            v6_only: false,
            broadcast: false,
            icmp_filter: [0; 8],
            udplite_send_coverage: None,
            udplite_recv_coverage: None,
            syn_retries: None,
            user_timeout: None,
            recv_err: false,
            oob_inline: false,
            mc_ttl: 1,
            mc6_hops: 1,
            mc_loop: true,
            mc6_loop: true,
            mc_if: 0,
            mc_addr: None,
            mc6_if: 0,
            mc_all: true,
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

/// What arrived with a datagram (UDP, ping or raw), for recvmsg's
/// ancillary data: IP_PKTINFO, IP_TTL, IP_TOS, their IPv6 twins, and
/// SO_TIMESTAMP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketInfo {
    /// The IP header's destination, as on the wire: an IPv4 packet's is
    /// an IPv4 address, on a v6 endpoint too.
    pub dst: IpAddr,
    /// The address a reply leaves from (IP_PKTINFO's ipi_spec_dst): the
    /// destination itself, unless that is a broadcast or multicast
    /// address, when it is the source of the route back to the sender.
    pub local: IpAddr,
    /// The interface it arrived on: loopback (1) for traffic the stack
    /// sent itself, to its own addresses too, as Linux's local routes do.
    pub ifindex: u32,
    /// TTL / hop limit.
    pub ttl: u8,
    /// TOS / traffic class.
    pub tos: u8,
    /// When the stack took it in.
    pub stamp: SystemTime,
}

/// How one datagram is to leave, from sendmsg's ancillary data
/// (IP_TTL, IPV6_HOPLIMIT, IP_PKTINFO, IPV6_PKTINFO). None: the
/// endpoint's own choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendInfo {
    pub hop_limit: Option<u8>,
    /// The source address; it must be one of the stack's (else
    /// ENETUNREACH for IPv4, EINVAL for IPv6, as Linux says). A v6
    /// endpoint gives an IPv4 source as a v4-mapped address.
    pub src: Option<IpAddr>,
    /// The interface to leave by (ENODEV when there is none such).
    pub ifindex: Option<u32>,
    /// MSG_OOB on a TCP send: the last byte sent is urgent.
    pub urgent: bool,
    /// IPV6_DONTFRAG: an IPv6 datagram past the path MTU is EMSGSIZE
    /// instead of leaving in fragments.
    pub dont_frag: bool,
}
