//! The Gofer process: serves a directory tree over 9P2000.L.
//!
//! The protocol work is the `p9` crate's. Around it this module adds:
//! * framing of its own (`frames`): each request is read whole (at most
//!   [`MAX_MSIZE`] bytes) before anything looks at it, so a bad frame
//!   cannot leave the stream out of step, and a clean end of stream is
//!   told apart from a torn message;
//! * one decoding of each frame into a typed request (`request`), which
//!   two checks see before anything serves it: the name filter (requests
//!   of 9P's own naming `""`, `"."`, `".."` or anything with `/` or NUL
//!   are refused with `EINVAL`; `p9` 0.3.2 resolves names with `openat`
//!   and would otherwise walk out of its root), and writability
//!   (`writable`: `EROFS` for a change a read-only server does not
//!   allow);
//! * our protocol additions (see `docs/architecture.md`, "9P additions"),
//!   routed by `route` to a module per family: `open` (Topenfd,
//!   Topenfds, Tlookupfd: descriptors of files by path, passed back with
//!   SCM_RIGHTS), `readdir` (Treaddirplus), `change` (Tcreateat and the
//!   other changes by path), `xattr`, `connect` (Tconnectat: host Unix
//!   sockets connected and passed back, as the policy allows); all resolve paths beneath the root
//!   with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` (`host`).
//!   `walk` serves Twalkgetattr by feeding `p9` a Twalk and a Tgetattr
//!   and answering both at once.
//!
//! [`crate::confine`] pivot_roots into the served tree, so that even a
//! name the filter missed, or a symlink the host kernel follows, stays
//! inside it. `p9` opens `/proc` when its server is created and reopens
//! files through `/proc/self/fd` for the rest of its life, so create the
//! [`Server`] while `/proc` is reachable: before confining (as
//! [`Server::new_confined`] does), or with procfs mounted inside the new
//! root.

use std::io;
use std::os::fd::{OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use gofer_protocol::wire::{self, Rmessage, Tmessage};

use crate::confine::confine_with_binds;
use frames::{serve_frames, Out};
use request::Request;
use writable::Writable;

mod change;
mod connect;
mod frames;
mod host;
mod open;
mod readdir;
mod request;
mod route;
mod walk;
mod writable;
mod xattr;

pub use connect::HostUds;
pub use frames::MAX_MSIZE;

/// A 9P2000.L file server for one directory tree (and one connection).
pub struct Server {
    p9: p9::Server,
    /// The served tree's path, opened (for Topenfd) when serving starts,
    /// as `p9` opens it when the client attaches.
    root: PathBuf,
    /// Which changes are allowed (see [`Server::set_read_only`]).
    writable: Writable,
    /// Which host sockets Tconnectat reaches (see [`Server::set_host_uds`]).
    host_uds: HostUds,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// A server for the tree at `root`, with uids and gids passed through
    /// unchanged. `root` is opened when a client attaches; `/proc` is opened
    /// now (see the module documentation).
    pub fn new(root: &Path) -> io::Result<Server> {
        // Empty maps: p9 maps an id it does not find to itself.
        let uid_map = p9::ServerUidMap::new();
        let gid_map = p9::ServerGidMap::new();
        let p9 = p9::Server::new(root, uid_map, gid_map)?;
        Ok(Server {
            p9,
            root: root.to_path_buf(),
            writable: Writable::All,
            host_uds: HostUds::None,
        })
    }

    /// Which host Unix sockets of the tree the client may connect to
    /// (Tconnectat); none unless this is called.
    pub fn set_host_uds(&mut self, policy: HostUds) {
        self.host_uds = policy;
    }

    /// Makes the server refuse, with `EROFS`, every request that would
    /// change the tree (creating, removing, renaming, linking, changing
    /// attributes, opening for writing), whatever the host mount allows:
    /// submounts of a served tree keep their own (writable) flags.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.writable = if read_only {
            Writable::Nowhere
        } else {
            Writable::All
        };
    }

    /// Makes the server read-only (as [`Server::set_read_only`]) except
    /// below the directories at `paths` (names from the served root): the
    /// bind volumes of a sandbox whose root is an overlay. Only our
    /// path-based requests may change them, and only if every path they
    /// name (both of a link or rename) lies below one of `paths` (the
    /// directory itself may be opened for writing or have its attributes
    /// changed); paths are plain names resolved without symlinks, so a
    /// prefix of names is a prefix of the file reached.
    pub fn set_writable_below(&mut self, paths: Vec<Vec<Vec<u8>>>) {
        self.writable = Writable::Below(paths);
    }

    /// Opens the server first (so it holds `/proc`), then
    /// [`confine_with`](crate::confine::confine_with)s
    /// this thread to `root`; the server serves `/` of the new root. The
    /// caller has already unshared its mount namespace (CLONE_NEWNS).
    pub fn new_confined(root: &Path, read_only: bool) -> io::Result<Server> {
        Server::new_confined_with_binds(root, read_only, &[])
    }

    /// [`Server::new_confined`] with host paths bound into the tree.
    pub fn new_confined_with_binds(
        root: &Path,
        read_only: bool,
        binds: &[crate::binds::Bind],
    ) -> io::Result<Server> {
        let mut server = Server::new(Path::new("/"))?;
        server.set_read_only(read_only);
        if read_only {
            // Read-write volumes stay writable under a read-only root.
            server.set_writable_below(
                binds
                    .iter()
                    .filter(|b| !b.readonly)
                    .map(|b| {
                        use std::os::unix::ffi::OsStrExt;
                        b.destination
                            .iter()
                            .filter(|c| *c != "/")
                            .map(|c| c.as_bytes().to_vec())
                            .collect()
                    })
                    .collect(),
            );
        }
        confine_with_binds(root, read_only, binds)?;
        Ok(server)
    }

    /// The descriptors the server holds open (its `/proc`), to keep when
    /// closing the rest and to allow in a seccomp filter.
    pub fn keep_fds(&self) -> Vec<RawFd> {
        self.p9.keep_fds()
    }

    /// Serves requests from `sock` until the peer closes it: `Ok(())` at a
    /// clean end of stream (or when the peer is gone mid-reply), an error
    /// for a torn or oversized frame or a failing socket.
    pub fn serve(self, sock: UnixStream) -> io::Result<()> {
        let Server {
            mut p9,
            root,
            writable,
            host_uds,
        } = self;
        // An O_PATH descriptor of the root: the path-based requests
        // resolve beneath it.
        let root = open_root(&root)?;
        serve_frames(sock, |frame, out| {
            let req = match checked(frame, &writable, out)? {
                Some(req) => req,
                None => return Ok(()),
            };
            if route::by_path(&root, &host_uds, &req, out)? {
                return Ok(());
            }
            match req {
                Request::Decoded(Tmessage::Walkgetattr {
                    fid,
                    newfid,
                    keep,
                    names,
                }) => match walk::walk_getattr(&mut p9, fid, newfid, keep, &names) {
                    Ok((kept, qids, attr)) => {
                        out.reply(&Rmessage::Walkgetattr { kept, qids, attr })
                    }
                    Err(e) => out.error(e),
                },
                Request::Undecoded(wire::TWALKGETATTR) => out.error(libc::EINVAL),
                // The rest is 9P's own: `p9` reads the frame as it came.
                _ => p9.handle_message(&mut &frame[..], out.writer()),
            }
        })
    }

    /// A server for one more connection, answering only the path-based
    /// requests (which need no fid, so no state shared with this one):
    /// one per CPU lets each CPU's requests be answered on that CPU
    /// (docs/architecture.md, "Gofer channels"). Everything else is
    /// refused with `EOPNOTSUPP`.
    pub fn channel(&self) -> io::Result<Channel> {
        Ok(Channel {
            root: open_root(&self.root)?,
            writable: self.writable.clone(),
            host_uds: self.host_uds.clone(),
        })
    }
}

/// The server of one extra connection (see [`Server::channel`]).
#[derive(Debug)]
pub struct Channel {
    root: OwnedFd,
    writable: Writable,
    host_uds: HostUds,
}

impl Channel {
    /// Serves requests from `sock` until the peer closes it, as
    /// [`Server::serve`] does.
    pub fn serve(self, sock: UnixStream) -> io::Result<()> {
        serve_frames(sock, |frame, out| {
            let req = match checked(frame, &self.writable, out)? {
                Some(req) => req,
                None => return Ok(()),
            };
            if route::by_path(&self.root, &self.host_uds, &req, out)? {
                return Ok(());
            }
            out.error(libc::EOPNOTSUPP)
        })
    }
}

/// An O_PATH descriptor of the served root.
fn open_root(root: &Path) -> io::Result<OwnedFd> {
    let root = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(root)?;
    Ok(OwnedFd::from(root))
}

/// Serves the tree at `root` over `sock` until the peer closes it (then
/// `Ok(())`). Needs `/proc` (see the module documentation).
pub fn serve(root: &Path, sock: UnixStream) -> io::Result<()> {
    Server::new(root)?.serve(sock)
}

/// Decodes `frame` once and checks it: `None` once a check has answered
/// it (the name filter first, then writability), else the request to
/// serve.
fn checked<'f>(
    frame: &'f [u8],
    writable: &Writable,
    out: &mut Out<'_>,
) -> io::Result<Option<Request<'f>>> {
    let req = Request::decode(frame);
    match req.refusal().or_else(|| writable.refusal(&req)) {
        Some(errno) => out.error(errno).map(|()| None),
        None => Ok(Some(req)),
    }
}
