//! The sandbox's network stack: smoltcp's TCP/IP under Linux's socket
//! semantics (gVisor's netstack plays this part in gVisor).
//!
//! The Sentry owns every inet socket; the host sees only Ethernet frames on
//! the container's interfaces, read and written through AF_PACKET
//! descriptors opened before lockdown. A loopback interface (127.0.0.1/8,
//! ::1) always exists and also carries traffic to the sandbox's own
//! addresses, as Linux's local routing table does.
//!
//! * [`Stack`]: the interfaces, their sockets, and the thread that runs
//!   timers and reads frames.
//! * [`Endpoint`]: one Linux socket (TCP, UDP, ICMP echo or raw ICMP), every call
//!   non-blocking: the Sentry sleeps on its own wait queues and is woken
//!   through the [`Notify`] hook the endpoint was made with.
//! * [`Errno`]: Linux's error numbers, which the Sentry passes on as they are.
//!
//! This crate knows nothing of the Sentry: it takes bytes through closures
//! and addresses as `std::net::SocketAddr`.
//!
//! # Layers
//!
//! Each module imports only from the layers before it (and from earlier
//! modules of its own layer, in the order listed); `tests/layers.rs`
//! holds the same list and checks it.
//!
//! 1. Foundations: `errno`, `socket`, `info`, `config`, `mode`, `sys`,
//!    `wake`, `addr`, `ports`, `neigh`, `device`.
//! 2. Interfaces and routing: `iface`, `route`; IP fragments:
//!    `reassembly` (arriving ones), `fragment6` (sending IPv6 ones).
//! 3. The shared state: `orphan` (closed sockets finishing), `state`
//!    (the stack's state behind its lock and every endpoint's).
//! 4. The protocols, acting on that state: `tcp_sock`, `bind`, `urgent`, `stream`,
//!    `listener`, `tcp`, `multicast`, `dgram`, `unreach`, `outbound`, `raw`, `udplite`,
//!    `steer`, `conns`.
//! 5. The engine: `engine` (polling smoltcp, dispatching what arrives),
//!    `poller` (the stack's thread).
//! 6. The API: `stack`, `endpoint`.

pub mod config;
pub mod endpoint;
pub mod errno;
pub mod info;
pub mod mode;
pub mod socket;
pub mod stack;

mod addr;
mod bind;
mod conns;
mod device;
mod dgram;
mod engine;
mod fragment6;
mod iface;
mod listener;
mod multicast;
mod neigh;
mod orphan;
mod outbound;
mod poller;
mod ports;
mod raw;
mod reassembly;
mod route;
mod state;
mod steer;
mod stream;
mod sys;
mod tcp;
mod tcp_sock;
mod udplite;
mod unreach;
mod urgent;
mod wake;

pub use addr::prefix_of;
pub use config::{InterfaceConfig, RouteConfig, StackConfig};
pub use endpoint::Endpoint;
pub use errno::Errno;
pub use info::{ConnInfo, InterfaceInfo, RouteInfo, ShownNetwork};
pub use mode::NetworkMode;
pub use socket::{Notify, Options, PacketInfo, Proto, RecvInfo, SendInfo, Shutdown};
pub use stack::Stack;
