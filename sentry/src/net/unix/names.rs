//! Where AF_UNIX names lead: one table per network namespace (the
//! sandbox's), owned by the kernel, so two kernels share no names.
//!
//! A path name is a socket node bind(2) makes in the filesystem (tmpfs,
//! the overlay's upper layer); connect(2) walks the path, needs write
//! permission on the node, and finds the socket by the node's (device,
//! inode). An abstract name is private to the sandbox. A socket node no
//! sandbox socket is bound to may stand for a host socket (one in a tree
//! the Gofer serves): connect(2) then asks the Gofer for a connected
//! descriptor ([`crate::vfs::Inode::connect_host`]).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::inflight::InFlight;
use super::UnixSocket;
use crate::errno::Errno;
use crate::hostpoll::HostPoller;
use crate::net::addr::UnixName;
use crate::vfs::ops::{self, Ctx};
use crate::vfs::{Caller, InodeRef, MAY_WRITE};

/// A socket node: its (device, inode).
pub type Node = (u64, u64);

/// Autobind names are five hex digits, as Linux's.
const AUTOBIND_NAMES: u32 = 0x10_0000;

pub struct Names {
    poller: Arc<HostPoller>,
    abstract_names: Mutex<HashMap<Vec<u8>, Weak<UnixSocket>>>,
    paths: Mutex<HashMap<Node, Weak<UnixSocket>>>,
    next_auto: AtomicU32,
    /// Every socket, for /proc/net/unix.
    all: Mutex<Vec<Weak<UnixSocket>>>,
    /// The kernel's descriptors in flight, shared by the tables of all
    /// its network namespaces.
    inflight: Arc<InFlight>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The (device, inode) of the socket node at `path`, and the node, with
/// the caller's right to connect to it checked.
fn socket_node(t: &dyn Caller, path: &[u8], for_connect: bool) -> Result<(Node, InodeRef), Errno> {
    let ctx = Ctx::of(t);
    let start = ops::start_dir(t, libc::AT_FDCWD, path)?;
    let d = ops::walk(&ctx, start, path, for_connect)?;
    let st = d.stat()?;
    if for_connect {
        if st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
            return Err(Errno::ECONNREFUSED);
        }
        ctx.cred.may_stat(&st, MAY_WRITE)?;
    }
    Ok(((st.st_dev, st.st_ino), d.inode.clone()))
}

/// Where a name a socket connects to leads.
pub(super) enum Found {
    /// A socket of the sandbox.
    Sandbox(Arc<UnixSocket>),
    /// A host socket (a socket file in a tree the Gofer serves), already
    /// connected by the Gofer: its descriptor.
    Host(OwnedFd),
}

impl Names {
    /// The table of a kernel's first network namespace.
    pub fn new(poller: Arc<HostPoller>) -> Arc<Names> {
        Names::with(poller, InFlight::new())
    }

    fn with(poller: Arc<HostPoller>, inflight: Arc<InFlight>) -> Arc<Names> {
        Arc::new(Names {
            poller,
            abstract_names: Mutex::default(),
            paths: Mutex::default(),
            next_auto: AtomicU32::new(0),
            all: Mutex::default(),
            inflight,
        })
    }

    /// An empty table for another network namespace of the same kernel:
    /// no names, the same host poller and descriptors in flight.
    pub fn sibling(&self) -> Arc<Names> {
        Names::with(self.poller.clone(), self.inflight.clone())
    }

    /// The kernel's descriptors in flight.
    pub fn inflight(&self) -> &Arc<InFlight> {
        &self.inflight
    }

    pub(super) fn register(&self, sock: &Arc<UnixSocket>) {
        let mut all = locked(&self.all);
        // Prune as the list doubles, so it stays within twice the live
        // sockets at a constant cost per socket.
        if all.len() >= 64 && all.len().is_power_of_two() {
            all.retain(|w| w.strong_count() > 0);
        }
        all.push(Arc::downgrade(sock));
    }

    /// /proc/net/unix: every socket, as Linux's unix_seq_show prints it
    /// (kernel addresses as zeros, as an unprivileged reader sees them).
    pub fn proc_net_unix(&self) -> Vec<u8> {
        let socks: Vec<Arc<UnixSocket>> =
            locked(&self.all).iter().filter_map(Weak::upgrade).collect();
        let mut out = String::from("Num       RefCount Protocol Flags    Type St Inode Path\n");
        for s in socks {
            let st = s.lock();
            let listening = st.listener.is_some();
            let connected = st.connected || (!s.connection_based() && st.peer.is_some());
            // __SO_ACCEPTCON, and SS_UNCONNECTED / SS_CONNECTED.
            let flags = if listening { 1 << 16 } else { 0 };
            let state = if connected { 3 } else { 1 };
            out.push_str(&format!(
                "0000000000000000: 00000002 00000000 {flags:08X} {:04X} {state:02X} {:5}",
                s.kind, s.ino
            ));
            match &st.name {
                UnixName::Path(p) => {
                    out.push(' ');
                    out.push_str(&String::from_utf8_lossy(p));
                }
                UnixName::Abstract(a) => {
                    out.push_str(" @");
                    // NULs inside an abstract name print as '@'.
                    let shown: Vec<u8> = a.iter().map(|&b| if b == 0 { b'@' } else { b }).collect();
                    out.push_str(&String::from_utf8_lossy(&shown));
                }
                UnixName::Unnamed => {}
            }
            out.push('\n');
        }
        out.into_bytes()
    }

    /// The poller that drives host sockets this namespace's sockets
    /// connect to.
    pub(super) fn poller(&self) -> &Arc<HostPoller> {
        &self.poller
    }

    /// Where `name` leads for a socket of type `kind`: the live sandbox
    /// socket bound to it, else (a path) the host socket the node stands
    /// for, connected through the Gofer; ECONNREFUSED when neither.
    pub(super) fn find(&self, t: &dyn Caller, name: &UnixName, kind: i32) -> Result<Found, Errno> {
        let found = match name {
            UnixName::Abstract(a) => locked(&self.abstract_names).get(a).and_then(Weak::upgrade),
            UnixName::Path(p) => {
                let (key, node) = socket_node(t, p, true)?;
                let bound = locked(&self.paths).get(&key).and_then(Weak::upgrade);
                if bound.is_none() {
                    if let Some(host) = node.connect_host(kind) {
                        return host.map(Found::Host);
                    }
                }
                bound
            }
            UnixName::Unnamed => None,
        };
        found.map(Found::Sandbox).ok_or(Errno::ECONNREFUSED)
    }

    /// Binds `sock` to `name`: a path makes a socket node (EADDRINUSE
    /// when the path exists), an abstract name must be free. Returns the
    /// node of a path, which [`Names::unbind`] takes.
    pub(super) fn bind(
        &self,
        t: &dyn Caller,
        name: &UnixName,
        sock: &Weak<UnixSocket>,
    ) -> Result<Option<Node>, Errno> {
        match name {
            UnixName::Abstract(a) => {
                let mut names = locked(&self.abstract_names);
                if names.get(a).is_some_and(|w| w.strong_count() > 0) {
                    return Err(Errno::EADDRINUSE);
                }
                names.insert(a.clone(), sock.clone());
                Ok(None)
            }
            UnixName::Path(p) => {
                let ctx = Ctx::of(t);
                let start = ops::start_dir(t, libc::AT_FDCWD, p)?;
                match ops::mknodat(&ctx, start, p, libc::S_IFSOCK | 0o777, 0) {
                    Err(Errno::EEXIST) => return Err(Errno::EADDRINUSE),
                    r => r?,
                }
                let (key, _) = socket_node(t, p, false)?;
                locked(&self.paths).insert(key, sock.clone());
                Ok(Some(key))
            }
            UnixName::Unnamed => Err(Errno::EINVAL),
        }
    }

    /// A fresh abstract name for `sock`.
    pub(super) fn autobind(&self, sock: &Weak<UnixSocket>) -> Result<UnixName, Errno> {
        let mut names = locked(&self.abstract_names);
        for _ in 0..AUTOBIND_NAMES {
            let n = self.next_auto.fetch_add(1, Ordering::Relaxed) % AUTOBIND_NAMES;
            let name = format!("{n:05x}").into_bytes();
            if names.get(&name).is_some_and(|w| w.strong_count() > 0) {
                continue;
            }
            names.insert(name.clone(), sock.clone());
            return Ok(UnixName::Abstract(name));
        }
        Err(Errno::ENOSPC)
    }

    /// Takes back a [`Names::bind`] of a socket that turned out to be
    /// named already: the name, and the node a path made.
    pub(super) fn undo_bind(
        &self,
        t: &dyn Caller,
        name: &UnixName,
        node: Option<Node>,
        sock: &Weak<UnixSocket>,
    ) {
        self.unbind(name, node, sock);
        if let UnixName::Path(p) = name {
            let ctx = Ctx::of(t);
            if let Ok(start) = ops::start_dir(t, libc::AT_FDCWD, p) {
                let _ = ops::unlinkat(&ctx, start, p);
            }
        }
    }

    /// Forgets `name` if it still leads to `sock` (a path's node stays in
    /// the filesystem, as on Linux, and connects to nothing).
    pub(super) fn unbind(&self, name: &UnixName, node: Option<Node>, sock: &Weak<UnixSocket>) {
        match name {
            UnixName::Abstract(a) => {
                let mut names = locked(&self.abstract_names);
                if names.get(a).is_some_and(|w| w.ptr_eq(sock)) {
                    names.remove(a);
                }
            }
            UnixName::Path(_) => {
                let mut paths = locked(&self.paths);
                if let Some(n) = node {
                    if paths.get(&n).is_some_and(|w| w.ptr_eq(sock)) {
                        paths.remove(&n);
                    }
                }
            }
            UnixName::Unnamed => {}
        }
    }
}
