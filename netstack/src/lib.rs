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
//! * [`Endpoint`]: one Linux socket (TCP, UDP or ICMP echo), every call
//!   non-blocking: the Sentry sleeps on its own wait queues and is woken
//!   through the [`Notify`] hook the endpoint was made with.
//! * [`Errno`]: Linux's error numbers, which the Sentry passes on as they are.
//!
//! This crate knows nothing of the Sentry: it takes bytes through closures
//! and addresses as `std::net::SocketAddr`.

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
mod iface;
mod inner;
mod listener;
mod poller;
mod ports;
mod route;
mod steer;
mod sys;
mod tcp;
mod wake;

pub use config::{InterfaceConfig, RouteConfig, StackConfig};
pub use endpoint::Endpoint;
pub use errno::Errno;
pub use info::{ConnInfo, InterfaceInfo, RouteInfo};
pub use mode::NetworkMode;
pub use socket::{Options, Proto, RecvInfo, Shutdown};
pub use stack::{Notify, Stack};
