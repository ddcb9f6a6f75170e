//! Sockets: the Sentry's own, with Linux's semantics. A socket is a file
//! in the VFS ([`socket::SocketFile`]) over a [`socket::Socket`] of one
//! family; the application's bytes move through the same buffers
//! ([`crate::usermem::IoSeq`]) as read(2) and write(2) use.
//!
//! * [`inet`]: AF_INET and AF_INET6 TCP, UDP and ping sockets over the
//!   `netstack` crate.
//! * [`hostinet`]: the same families as host sockets (`--network=host`).
//! * [`unix`]: AF_UNIX stream, datagram and seqpacket sockets, with path
//!   and abstract names, SCM_RIGHTS and SCM_CREDENTIALS.
//! * [`netlink`]: AF_NETLINK NETLINK_ROUTE sockets over the stack's
//!   interfaces and routes.
//! * [`ifreq`]: the interface ioctls (SIOCGIF*) of every socket.
//! * [`interface`], [`route_table`]: the stack's interfaces and routes as
//!   Linux shows them, which netlink, the ioctls and /proc/net share.
//! * [`control`]: ancillary data (`cmsg`) in and out.
//! * [`addr`]: socket addresses as the application passes them.
//!
//! The layer sits above the VFS and below the kernel (gVisor's
//! `socket/unix/transport` is below its kernel too): it needs files, wait
//! queues and the caller, and the kernel owns its namespaces (the abstract
//! and path names of AF_UNIX).

pub mod addr;
pub mod control;
pub mod hostinet;
pub mod ifreq;
pub mod inet;
pub mod interface;
pub mod netlink;
pub mod route_table;
pub mod socket;
pub mod unix;
