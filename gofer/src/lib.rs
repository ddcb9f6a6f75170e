//! The Gofer process of runsc-rs: the 9P2000.L file server and its
//! lockdown. The protocol it speaks, and the client the Sentry uses, are
//! the `gofer_protocol` crate.
//!
//! * [`server`]: serves one directory tree over a stream socket with the `p9`
//!   crate, after confining itself to that tree.
//! * [`binds`]: an OCI container's bind mounts, made beneath its root.
//! * [`confine`]: the lockdown: pivot_root into the served tree.

pub mod binds;
pub mod confine;
pub mod server;
