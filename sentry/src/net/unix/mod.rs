//! AF_UNIX sockets: stream, datagram and seqpacket, as Linux's
//! net/unix/af_unix.c serves them.
//!
//! Each socket owns its receive queue; a sender pushes into its peer's
//! queue and both sockets' wait queues hear of every change. A connected
//! pair refers to each other weakly, so a socket dies with its last
//! descriptor and its peer then sees end of file (reads) and EPIPE
//! (writes). Names live in a [`Names`] table per network namespace: an
//! abstract name by its bytes, a path by the (device, inode) of the socket
//! node bind(2) made in the filesystem.
//!
//! A socket that connects to a host socket (a socket file of a tree the
//! Gofer serves) becomes a front for the host descriptor the Gofer
//! connected ([`host`]).
//!
//! Descriptors sent in SCM_RIGHTS messages are counted while in flight
//! (`inflight.rs`: ETOOMANYREFS past a user's RLIMIT_NOFILE), and sockets
//! that only messages in flight keep alive are collected (`gc.rs`, Linux's
//! unix_gc).
//!
//! Limits: there is no SO_PEERSEC/SCM_SECURITY and no MSG_OOB.

mod gc;
mod host;
mod inflight;
mod names;
mod queue;
#[cfg(test)]
mod tests;
mod transfer;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::Duration;

pub use inflight::InFlight;
use names::Found;
pub use names::Names;
use queue::Queue;

use super::addr::UnixName;
use super::socket::{self, int_bytes, int_option, RecvMsg, SendMsg, Socket};
use crate::errno::Errno;
use crate::vfs::Caller;
use crate::waiter::WaitQueue;

/// SO_SNDBUF and SO_RCVBUF to start with (Linux's wmem_default).
const DEFAULT_BUF: usize = 212_992;
/// The smallest SO_SNDBUF and SO_RCVBUF (Linux's SOCK_MIN_SNDBUF and
/// SOCK_MIN_RCVBUF).
const MIN_SNDBUF: usize = 4608;
const MIN_RCVBUF: usize = 2304;
/// Largest SO_SNDBUF / SO_RCVBUF an unprivileged set gives (twice
/// wmem_max, as Linux doubles the value asked for).
const MAX_BUF: usize = 2 * 212_992;
/// Datagrams a receiver queues before senders wait (Linux's
/// net.unix.max_dgram_qlen).
const MAX_DGRAM_QUEUE: usize = 10;
/// The largest listen(2) backlog (Linux's net.core.somaxconn).
const SOMAXCONN: usize = 4096;

/// Credentials nobody gave (Linux's overflow ids).
const NO_CRED: libc::ucred = libc::ucred {
    pid: 0,
    uid: 65534,
    gid: 65534,
};

struct Listener {
    /// Server sides of connections not yet accepted, oldest first.
    backlog: VecDeque<Arc<UnixSocket>>,
    max: usize,
}

struct State {
    name: UnixName,
    /// The socket node of a path name.
    node: Option<names::Node>,
    listener: Option<Listener>,
    /// The connected peer (a stream's other end; a datagram socket's
    /// default destination).
    peer: Option<Weak<UnixSocket>>,
    /// A stream or seqpacket socket that was connected, even if its peer
    /// is gone now.
    connected: bool,
    peer_name: UnixName,
    recv: Queue,
    shut_rd: bool,
    shut_wr: bool,
    /// The peer sends no more: reads end once the queue is empty.
    peer_shut_wr: bool,
    /// The peer is gone.
    peer_closed: bool,
    passcred: bool,
    /// SO_PEERCRED: who connected (or listened, for a client).
    peercred: Option<libc::ucred>,
    rcvtimeo: Option<Duration>,
    sndtimeo: Option<Duration>,
    sndbuf: usize,
    rcvbuf: usize,
    /// SO_ERROR.
    error: Option<Errno>,
}

impl Default for State {
    fn default() -> State {
        State {
            name: UnixName::Unnamed,
            node: None,
            listener: None,
            peer: None,
            connected: false,
            peer_name: UnixName::Unnamed,
            recv: Queue::default(),
            shut_rd: false,
            shut_wr: false,
            peer_shut_wr: false,
            peer_closed: false,
            passcred: false,
            peercred: None,
            rcvtimeo: None,
            sndtimeo: None,
            sndbuf: DEFAULT_BUF,
            rcvbuf: DEFAULT_BUF,
            error: None,
        }
    }
}

pub struct UnixSocket {
    kind: i32,
    ino: u64,
    names: Arc<Names>,
    st: Mutex<State>,
    /// Shared with the host socket once there is one, so waiters hear
    /// its events.
    queue: Arc<WaitQueue>,
    me: Weak<UnixSocket>,
    /// The host socket this one was connected to, through the Gofer:
    /// then data, readiness and the peer's credentials are the host's.
    host: OnceLock<Arc<super::hostinet::HostSocket>>,
}

/// The caller's credentials as SO_PEERCRED reports them (effective ids).
fn peer_cred(t: &dyn Caller) -> libc::ucred {
    let c = t.fs_cred();
    libc::ucred {
        pid: t.tgid(),
        uid: c.uid,
        gid: c.gid,
    }
}

/// The caller's credentials as a message carries them (real ids).
fn message_cred(t: &dyn Caller) -> libc::ucred {
    let c = t.real_cred();
    libc::ucred {
        pid: t.tgid(),
        uid: c.uid,
        gid: c.gid,
    }
}

impl UnixSocket {
    /// A new socket of `kind` (SOCK_STREAM, SOCK_DGRAM or SOCK_SEQPACKET)
    /// whose names live in `names`.
    pub fn new(kind: i32, names: Arc<Names>) -> Result<Arc<UnixSocket>, Errno> {
        match kind {
            libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET => {}
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        }
        let s = Arc::new_cyclic(|me| UnixSocket {
            kind,
            ino: crate::vfs::anon::anon_ino(),
            names: names.clone(),
            st: Mutex::new(State::default()),
            queue: Arc::new(WaitQueue::new()),
            me: me.clone(),
            host: OnceLock::new(),
        });
        names.register(&s);
        Ok(s)
    }

    /// socketpair(2): two sockets connected to each other.
    pub fn pair(
        t: &dyn Caller,
        kind: i32,
        names: Arc<Names>,
    ) -> Result<(Arc<UnixSocket>, Arc<UnixSocket>), Errno> {
        let a = UnixSocket::new(kind, names.clone())?;
        let b = UnixSocket::new(kind, names)?;
        let cred = peer_cred(t);
        for (x, y) in [(&a, &b), (&b, &a)] {
            let mut st = x.lock();
            st.peer = Some(Arc::downgrade(y));
            st.connected = kind != libc::SOCK_DGRAM;
            st.peercred = Some(cred);
        }
        Ok((a, b))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_stream(&self) -> bool {
        self.kind == libc::SOCK_STREAM
    }

    fn connection_based(&self) -> bool {
        self.kind != libc::SOCK_DGRAM
    }

    /// Tells both ends that something changed.
    fn notify_with(&self, peer: Option<&UnixSocket>) {
        self.queue.notify_all();
        if let Some(p) = peer {
            p.queue.notify_all();
        }
    }

    /// The socket a name is bound to (ECONNREFUSED when none), checked
    /// for the caller's right to connect to it.
    fn find(&self, t: &dyn Caller, name: &UnixName) -> Result<Arc<UnixSocket>, Errno> {
        match self.find_or_host(t, name)? {
            Found::Sandbox(target) => Ok(target),
            // sendto(2) to a host socket without connecting first.
            Found::Host(_) => Err(Errno::ECONNREFUSED),
        }
    }

    /// [`UnixSocket::find`], or the host socket a path stands for,
    /// connected for a socket of this one's type.
    fn find_or_host(&self, t: &dyn Caller, name: &UnixName) -> Result<Found, Errno> {
        let found = self.names.find(t, name, self.kind)?;
        if let Found::Sandbox(target) = &found {
            if target.kind != self.kind {
                return Err(Errno::EPROTOTYPE);
            }
        }
        Ok(found)
    }

    /// Binds an unnamed socket to an abstract name of five hex digits
    /// (Linux's autobind).
    fn autobind(&self) -> Result<(), Errno> {
        let mut st = self.lock();
        if st.name != UnixName::Unnamed {
            return Ok(());
        }
        st.name = self.names.autobind(&self.me)?;
        Ok(())
    }

    fn connect_stream(&self, t: &dyn Caller, name: &UnixName, nonblock: bool) -> Result<(), Errno> {
        {
            let st = self.lock();
            if st.listener.is_some() {
                return Err(Errno::EINVAL);
            }
            if st.connected {
                return Err(Errno::EISCONN);
            }
        }
        if self.lock().passcred {
            self.autobind()?;
        }
        let listener = match self.find_for_connect(t, name, nonblock)? {
            Found::Sandbox(l) => l,
            Found::Host(fd) => return self.adopt_host(fd, name),
        };
        let server = UnixSocket::new(self.kind, self.names.clone())?;
        let (timeout, my_name) = {
            let st = self.lock();
            (st.sndtimeo, st.name.clone())
        };
        loop {
            let mut l = listener.lock();
            let listen_name = l.name.clone();
            let listen_passcred = l.passcred;
            let Some(q) = l.listener.as_mut() else {
                return Err(Errno::ECONNREFUSED);
            };
            // Linux refuses once the backlog holds more than `max`.
            if q.backlog.len() <= q.max {
                {
                    let mut s = server.lock();
                    s.name = listen_name.clone();
                    s.peer = Some(self.me.clone());
                    s.connected = true;
                    s.peer_name = my_name.clone();
                    s.peercred = Some(peer_cred(t));
                    s.passcred = listen_passcred;
                }
                q.backlog.push_back(server.clone());
                drop(l);
                let mut st = self.lock();
                st.peer = Some(Arc::downgrade(&server));
                st.connected = true;
                st.peer_name = listen_name;
                st.peercred = Some(listener.listen_cred());
                drop(st);
                listener.queue.notify_all();
                return Ok(());
            }
            drop(l);
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            socket::wait(t, &[&listener.queue], timeout, &mut || {
                let l = listener.lock();
                l.listener.as_ref().is_none_or(|q| q.backlog.len() <= q.max)
            })?;
        }
    }

    /// The credentials a listener's clients see as their peer's: its
    /// creator's, recorded at listen(2).
    fn listen_cred(&self) -> libc::ucred {
        self.lock().peercred.unwrap_or(NO_CRED)
    }

    fn socket_option(&self, name: i32) -> Result<Vec<u8>, Errno> {
        let mut st = self.lock();
        let v = match name {
            libc::SO_TYPE => int_bytes(self.kind),
            libc::SO_DOMAIN => int_bytes(libc::AF_UNIX),
            libc::SO_PROTOCOL => int_bytes(0),
            libc::SO_ERROR => int_bytes(st.error.take().map_or(0, |e| e.0)),
            libc::SO_PASSCRED => int_bytes(i32::from(st.passcred)),
            libc::SO_ACCEPTCONN => int_bytes(i32::from(st.listener.is_some())),
            libc::SO_SNDBUF => int_bytes(st.sndbuf as i32),
            libc::SO_RCVBUF => int_bytes(st.rcvbuf as i32),
            libc::SO_RCVTIMEO => socket::timeval_bytes(st.rcvtimeo),
            libc::SO_SNDTIMEO => socket::timeval_bytes(st.sndtimeo),
            libc::SO_PEERCRED => {
                let c = st.peercred.unwrap_or(libc::ucred {
                    pid: 0,
                    uid: u32::MAX,
                    gid: u32::MAX,
                });
                crate::usermem::as_bytes(&c).to_vec()
            }
            libc::SO_REUSEADDR | libc::SO_KEEPALIVE | libc::SO_BROADCAST | libc::SO_OOBINLINE => {
                int_bytes(0)
            }
            libc::SO_LINGER => vec![0; std::mem::size_of::<libc::linger>()],
            _ => return Err(Errno::ENOPROTOOPT),
        };
        Ok(v)
    }
}

impl Socket for UnixSocket {
    fn domain(&self) -> i32 {
        libc::AF_UNIX
    }

    fn kind(&self) -> i32 {
        self.kind
    }

    fn bind(&self, t: &dyn Caller, addr: &[u8]) -> Result<(), Errno> {
        let name = UnixName::parse(addr)?;
        // A path is made before the socket's own name is checked (a used
        // path is EADDRINUSE even for a bound socket), as on Linux.
        if !matches!(name, UnixName::Path(_)) && self.lock().name != UnixName::Unnamed {
            return Err(Errno::EINVAL);
        }
        if name == UnixName::Unnamed {
            return self.autobind();
        }
        let node = self.names.bind(t, &name, &self.me)?;
        let mut st = self.lock();
        if st.name != UnixName::Unnamed {
            drop(st);
            self.names.undo_bind(t, &name, node, &self.me);
            return Err(Errno::EINVAL);
        }
        st.name = name;
        st.node = node;
        Ok(())
    }

    fn listen(&self, t: &dyn Caller, backlog: i32) -> Result<(), Errno> {
        if self.host.get().is_some() {
            return Err(Errno::EINVAL);
        }
        if !self.connection_based() {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        if st.connected || st.name == UnixName::Unnamed {
            return Err(Errno::EINVAL);
        }
        let max = usize::try_from(backlog).unwrap_or(0).min(SOMAXCONN);
        match &mut st.listener {
            Some(l) => l.max = max,
            None => {
                st.listener = Some(Listener {
                    backlog: VecDeque::new(),
                    max,
                });
                st.peercred = Some(peer_cred(t));
            }
        }
        drop(st);
        // Connectors waiting for room see the new backlog.
        self.queue.notify_all();
        Ok(())
    }

    fn accept(&self, t: &dyn Caller, nonblock: bool) -> Result<(Arc<dyn Socket>, Vec<u8>), Errno> {
        if self.host.get().is_some() {
            return Err(Errno::EINVAL);
        }
        let timeout = self.lock().rcvtimeo;
        loop {
            {
                let mut st = self.lock();
                let l = st.listener.as_mut().ok_or(Errno::EINVAL)?;
                if let Some(s) = l.backlog.pop_front() {
                    drop(st);
                    // Connectors waiting for room may go on.
                    self.queue.notify_all();
                    let peer = s.lock().peer_name.to_sockaddr();
                    return Ok((s, peer));
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            socket::wait(t, &[&self.queue], timeout, &mut || {
                self.lock()
                    .listener
                    .as_ref()
                    .is_none_or(|l| !l.backlog.is_empty())
            })?;
        }
    }

    fn connect(&self, t: &dyn Caller, addr: &[u8], nonblock: bool) -> Result<(), Errno> {
        if self.host.get().is_some() {
            return Err(Errno::EISCONN);
        }
        if self.connection_based() {
            let name = UnixName::parse(addr)?;
            if name == UnixName::Unnamed {
                return Err(Errno::EINVAL);
            }
            return self.connect_stream(t, &name, nonblock);
        }
        // A datagram socket's connect sets (or, with AF_UNSPEC, clears)
        // its default destination.
        if super::addr::family(addr)? == libc::AF_UNSPEC {
            let mut st = self.lock();
            st.peer = None;
            st.peer_name = UnixName::Unnamed;
            return Ok(());
        }
        let name = UnixName::parse(addr)?;
        if name == UnixName::Unnamed {
            return Err(Errno::EINVAL);
        }
        if self.lock().passcred {
            self.autobind()?;
        }
        let target = match self.find_or_host(t, &name)? {
            Found::Sandbox(target) => target,
            Found::Host(fd) => return self.adopt_host(fd, &name),
        };
        let mut st = self.lock();
        st.peer = Some(Arc::downgrade(&target));
        st.peer_name = target.lock().name.clone();
        st.peercred = Some(peer_cred(t));
        Ok(())
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        if let Some(h) = self.host.get() {
            return h.shutdown(how);
        }
        let (rd, wr) = match how {
            libc::SHUT_RD => (true, false),
            libc::SHUT_WR => (false, true),
            libc::SHUT_RDWR => (true, true),
            _ => return Err(Errno::EINVAL),
        };
        let peer = {
            // Linux's unix_shutdown takes any socket, connected or not.
            let mut st = self.lock();
            st.shut_rd |= rd;
            st.shut_wr |= wr;
            st.peer.as_ref().and_then(Weak::upgrade)
        };
        if let (Some(p), true) = (&peer, self.connection_based()) {
            let mut ps = p.lock();
            // The peer reads to the end of what was sent (its writes to a
            // socket that reads no more fail on this socket's shut_rd).
            ps.peer_shut_wr |= wr;
        }
        self.notify_with(peer.as_deref());
        Ok(())
    }

    fn name(&self) -> Vec<u8> {
        self.lock().name.to_sockaddr()
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        let connected = if self.connection_based() {
            st.connected
        } else {
            st.peer.is_some()
        };
        if !connected {
            return Err(Errno::ENOTCONN);
        }
        Ok(st.peer_name.to_sockaddr())
    }

    fn send(&self, t: &dyn Caller, msg: &mut SendMsg<'_>, nonblock: bool) -> Result<usize, Errno> {
        if let Some(h) = self.host.get() {
            return h.send(t, msg, nonblock);
        }
        transfer::send(self, t, msg, nonblock)
    }

    fn recv(&self, t: &dyn Caller, msg: &mut RecvMsg<'_>, nonblock: bool) -> Result<usize, Errno> {
        if let Some(h) = self.host.get() {
            return h.recv(t, msg, nonblock);
        }
        transfer::recv(self, t, msg, nonblock)
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        if let Some(r) = self.host_getsockopt(level, name) {
            return r;
        }
        match level {
            libc::SOL_SOCKET => self.socket_option(name),
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn setsockopt(&self, _t: &dyn Caller, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        self.host_setsockopt(level, name, val)?;
        if level != libc::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut st = self.lock();
        match name {
            libc::SO_PASSCRED => st.passcred = int_option(val)? != 0,
            libc::SO_SNDBUF => {
                let v = int_option(val)?.max(0) as usize;
                st.sndbuf = v.saturating_mul(2).clamp(MIN_SNDBUF, MAX_BUF);
            }
            libc::SO_RCVBUF => {
                let v = int_option(val)?.max(0) as usize;
                st.rcvbuf = v.saturating_mul(2).clamp(MIN_RCVBUF, MAX_BUF);
            }
            libc::SO_RCVTIMEO => st.rcvtimeo = socket::timeval_option(val)?,
            libc::SO_SNDTIMEO => st.sndtimeo = socket::timeval_option(val)?,
            // Accepted without effect on a local socket.
            libc::SO_REUSEADDR
            | libc::SO_REUSEPORT
            | libc::SO_KEEPALIVE
            | libc::SO_BROADCAST
            | libc::SO_OOBINLINE
            | libc::SO_PRIORITY => {
                int_option(val)?;
            }
            libc::SO_LINGER => {
                if val.len() < std::mem::size_of::<libc::linger>() {
                    return Err(Errno::EINVAL);
                }
            }
            _ => return Err(Errno::ENOPROTOOPT),
        }
        drop(st);
        self.queue.notify_all();
        Ok(())
    }

    fn readiness(&self, mask: i16) -> i16 {
        if let Some(h) = self.host.get() {
            return h.readiness(mask);
        }
        let st = self.lock();
        let mut ev: i16 = 0;
        if let Some(l) = &st.listener {
            if !l.backlog.is_empty() {
                ev |= libc::POLLIN | libc::POLLRDNORM;
            }
            return ev & mask;
        }
        let rd_closed = st.shut_rd || st.peer_shut_wr || st.peer_closed;
        if !st.recv.is_empty() || rd_closed {
            ev |= libc::POLLIN | libc::POLLRDNORM;
        }
        if rd_closed {
            ev |= libc::POLLRDHUP;
        }
        let hup = (st.shut_rd && st.shut_wr)
            || (self.connection_based() && (!st.connected || st.peer_closed));
        if hup {
            ev |= libc::POLLHUP;
        }
        if st.error.is_some() {
            ev |= libc::POLLERR;
        }
        let peer = st.peer.as_ref().and_then(Weak::upgrade);
        let sndbuf = st.sndbuf;
        drop(st);
        let writable = match (&peer, self.connection_based()) {
            // A stream writes while what it sent and the peer has not
            // read stays under a quarter of its buffer (unix_writable).
            (Some(p), true) => p.lock().recv.bytes.saturating_mul(4) <= sndbuf,
            (Some(p), false) => p.lock().recv.msgs.len() < MAX_DGRAM_QUEUE,
            (None, _) => true,
        };
        if writable {
            ev |= libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
        }
        ev & (mask | libc::POLLHUP | libc::POLLERR)
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn readable_bytes(&self) -> usize {
        if let Some(h) = self.host.get() {
            return h.readable_bytes();
        }
        self.lock().recv.readable(self.is_stream())
    }

    fn unread_sent_bytes(&self) -> usize {
        if let Some(h) = self.host.get() {
            return h.unread_sent_bytes();
        }
        let peer = self.lock().peer.as_ref().and_then(Weak::upgrade);
        peer.map_or(0, |p| p.lock().recv.bytes)
    }

    fn ino(&self) -> u64 {
        self.ino
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        let st = self.st.get_mut().unwrap_or_else(|e| e.into_inner());
        let name = std::mem::replace(&mut st.name, UnixName::Unnamed);
        self.names.unbind(&name, st.node.take(), &self.me);
        // Connections nobody accepted end with the listener: their
        // clients see their peer gone.
        let backlog = st.listener.take().map(|l| l.backlog);
        let peer = st.peer.take().and_then(|p| p.upgrade());
        let pending = std::mem::take(&mut st.recv);
        drop(backlog);
        if let Some(p) = peer {
            let connected_to_me = {
                let mut ps = p.lock();
                let mine = ps.peer.as_ref().is_some_and(|w| w.ptr_eq(&self.me));
                if mine && self.kind != libc::SOCK_DGRAM {
                    ps.peer_closed = true;
                }
                mine
            };
            if connected_to_me {
                p.queue.notify_all();
            }
        }
        // Files in flight close with the socket, uncounted first.
        if pending.with_rights > 0 {
            let inflight = self.names.inflight();
            let mut files = Vec::new();
            {
                let mut g = inflight.lock();
                for m in pending.msgs {
                    if !m.rights.is_empty() {
                        g.uncharge(m.charged_to, &m.rights);
                        files.extend(m.rights);
                    }
                }
            }
            inflight::release(files);
        }
        self.names.inflight().socket_released();
    }
}
