//! What the stack tells about itself: netlink route dumps, ioctls
//! (SIOCGIF*) and /proc/net read these.

use std::net::{IpAddr, SocketAddr};

/// One interface, loopback included (index 1, `lo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub index: u32,
    pub name: String,
    /// All zero for loopback.
    pub mac: [u8; 6],
    pub mtu: u32,
    /// Linux's IFF_* flags: IFF_UP | IFF_RUNNING, with IFF_LOOPBACK or
    /// IFF_BROADCAST | IFF_MULTICAST.
    pub flags: u32,
    pub addrs: Vec<(IpAddr, u8)>,
    /// Counters as /proc/net/dev shows them.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
}

/// What netlink, the interface ioctls and /proc/net show in place of the
/// stack's own interfaces and routes. Under `--network=host` the
/// application's sockets are the host's, so it must see the host's
/// interfaces (as the runtime read them at boot: no counters), not the
/// stack's idle loopback.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShownNetwork {
    pub interfaces: Vec<InterfaceInfo>,
    /// The main table, on-link prefixes included.
    pub routes: Vec<RouteInfo>,
}

/// One route of the main table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    pub dst: IpAddr,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
    pub interface_index: u32,
}

/// One socket as /proc/net/{tcp,tcp6,udp,udp6} lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// Whether the endpoint was made for AF_INET6.
    pub v6: bool,
    pub local: Option<SocketAddr>,
    pub remote: Option<SocketAddr>,
    /// Linux's TCP state number (TCP_ESTABLISHED = 1 ... TCP_LISTEN = 10;
    /// UDP sockets show TCP_CLOSE = 7, or TCP_ESTABLISHED when connected).
    pub state: u8,
    pub send_queue: usize,
    pub recv_queue: usize,
    /// The tag the endpoint was made with (the Sentry's socket inode).
    pub tag: u64,
}
