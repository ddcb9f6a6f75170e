//! What a stack is built from: the container's interfaces as the runtime
//! found them in the network namespace it was given, before lockdown.
//! Loopback is not listed: every stack has it.

use std::net::IpAddr;
use std::os::fd::OwnedFd;

use crate::info::ShownNetwork;

/// A stack's interfaces and routes. The default is loopback only
/// (`--network=none`).
#[derive(Debug, Default)]
pub struct StackConfig {
    pub interfaces: Vec<InterfaceConfig>,
    /// Routes beyond the on-link prefixes of the interfaces' addresses
    /// (the default route through the bridge, chiefly).
    pub routes: Vec<RouteConfig>,
    /// Log one line per frame at `tracing` info level (`--log-packets`).
    pub log_packets: bool,
    /// Shown instead of the stack's interfaces and routes
    /// (`--network=host`).
    pub shown: Option<ShownNetwork>,
}

/// One Ethernet interface of the container (Docker's `eth0`).
#[derive(Debug)]
pub struct InterfaceConfig {
    /// The name the application sees (`eth0`).
    pub name: String,
    /// The interface index the application sees (Linux's ifindex in the
    /// namespace; loopback is 1).
    pub index: u32,
    pub mac: [u8; 6],
    pub mtu: u32,
    /// Addresses with their prefix lengths.
    pub addrs: Vec<(IpAddr, u8)>,
    /// An AF_PACKET socket (SOCK_RAW, ETH_P_ALL) bound to the host
    /// interface: each read is one frame, each write sends one. Tests may
    /// give one end of an AF_UNIX SOCK_DGRAM pair instead (a wire between
    /// two stacks).
    pub frames: OwnedFd,
    /// Each frame on `frames` comes and goes after a virtio-net header
    /// (the runtime set PACKET_VNET_HDR): the stack then sends a run of
    /// one connection's segments as one large frame for the host to cut.
    pub vnet_hdr: bool,
}

/// A route: `dst/prefix` through `gateway` (or on-link) out of the
/// interface named `interface`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteConfig {
    pub dst: IpAddr,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
    pub interface: String,
}
