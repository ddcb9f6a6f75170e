//! The protocol between the Sentry and the Gofer, and the Sentry's side
//! of it. The Gofer process itself (its server, bind mounts and
//! lockdown) is the `gofer` crate, which the Sentry does not link.
//!
//! * [`wire`]: 9P2000.L and our additions, one table line per message,
//!   from which the message types, encoders and decoders are written.
//! * [`client`]: a synchronous, thread-safe 9P2000.L client (the `p9`
//!   crate is a server only, so the codec is ours).
//! * [`dirents`]: `getdents64` records, read by the Gofer and the Sentry.

pub mod client;
pub mod dirents;
pub mod wire;

pub use client::{Attr, Client, DirEntry, DirPlus, Fid, Keep, LookupFd, Qid, SetAttr, StatFs};
