//! The Gofer side of runsc-rs: the 9P2000.L file server process and the client
//! codec the Sentry uses to talk to it.
//!
//! * [`server`]: serves one directory tree over a stream socket with the `p9`
//!   crate, after confining itself to that tree.
//! * [`client`]: a synchronous, thread-safe 9P2000.L client (the `p9` crate is a
//!   server only, so the codec is ours).
//! * [`binds`]: an OCI container's bind mounts, made beneath its root.
//! * [`wire`]: message encoding shared by the client and its tests.
//! * [`dirents`]: `getdents64` records, read by the Gofer and the Sentry.

pub mod binds;
pub mod client;
pub mod dirents;
pub mod server;
pub mod wire;

pub use client::{Attr, Client, DirEntry, DirPlus, Fid, Keep, LookupFd, Qid, SetAttr, StatFs};
