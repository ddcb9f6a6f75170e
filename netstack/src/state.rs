//! The stack's state behind its one lock: the interfaces, the endpoints
//! and each one's protocol state, the port table, and the closed sockets
//! still finishing. Every call, from an application thread or the stack's
//! own, runs on it with the lock held; hooks run after it is released
//! (see `Stack::with`).
//!
//! Only data and its bookkeeping live here. The protocols (`tcp`,
//! `stream`, `listener`, `dgram`, `bind`) change it; `engine` polls
//! smoltcp over it and hands what arrives to the protocols. A protocol
//! that has given smoltcp something to send asks for a poll
//! (`request_poll`) rather than running one: polling steers arriving
//! frames back into the protocols.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;

use crate::errno::Errno;
use crate::iface::{Iface, Sock};
use crate::orphan::Orphans;
use crate::ports::Ports;
use crate::route::{Entry, Path};
use crate::socket::{Notify, Options, PacketInfo, Proto};
use crate::wake::{EpWaker, WakeQueue};

/// Where an endpoint is bound, in wire form (unspecified: wildcard).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bound {
    pub addr: IpAddr,
    pub port: u16,
    /// bind(2) chose the port (rather than connect or listen).
    pub explicit: bool,
}

pub(crate) enum Kind {
    Tcp(Tcp),
    Dgram(Dgram),
}

pub(crate) struct EpState {
    pub v6: bool,
    pub proto: Proto,
    pub notify: Notify,
    pub tag: u64,
    pub opts: Options,
    pub waker: EpWaker,
    pub bound: Option<Bound>,
    /// SO_ERROR.
    pub error: Option<Errno>,
    /// An ICMP error a connection only notes (Linux's sk_err_soft): it
    /// becomes the error if the connection later times out.
    pub soft_error: Option<Errno>,
    /// Called when urgent data is marked for this endpoint (SIGURG).
    pub urgent_hook: Option<Notify>,
    pub kind: Kind,
}

/// A TCP endpoint. smoltcp forgets a connection's addresses once it
/// closes and keeps no error, so the endpoint keeps both.
pub(crate) enum Tcp {
    /// New, bound, or back after a failed connect (`failed`: the failure
    /// has not yet been returned by connect).
    Idle {
        failed: bool,
    },
    Connecting {
        sock: Sock,
    },
    Connected(Conn),
    Listening(Listener),
}

pub(crate) struct Conn {
    pub sock: Sock,
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// connect(2) has returned 0 once; later calls say EISCONN.
    pub reported: bool,
    pub shut_rd: bool,
    pub shut_wr: bool,
    /// The peer's FIN has arrived.
    pub fin_seen: bool,
    /// smoltcp's socket has reached CLOSED (both FINs, or a reset).
    pub closed: bool,
    /// Bytes queued for sending since the connection was made: where
    /// in the stream an urgent byte lies (see `urgent`).
    pub sent: u64,
    /// Bytes taken from the receive buffer since the connection was
    /// made (read, or skipped as urgent).
    pub read: u64,
}

/// Where urgent data (send with MSG_OOB) lies in a connection's receive
/// stream, kept by the stack since smoltcp carries no urgent pointer (see
/// `urgent`). Offsets count bytes from the connection's start, as the
/// sender's `Conn::sent` and the receiver's `Conn::read` do.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    /// The urgent byte's offset.
    pub at: u64,
    pub byte: u8,
    /// recv(MSG_OOB) has taken it (Linux's TCP_URG_READ).
    pub taken: bool,
    /// Earlier urgent bytes (start, count) the reader sat at when this
    /// mark replaced them: skipped when reached, as Linux's
    /// tcp_check_urg steps over them.
    pub hole: Option<(u64, u64)>,
}

/// A listener's pool of smoltcp sockets (see `listener`).
pub(crate) struct Listener {
    pub backlog: usize,
    /// Sockets in LISTEN or SYN-RECEIVED, each made for one SYN.
    pub pending: Vec<Sock>,
    /// Established connections, oldest first.
    pub queue: VecDeque<Sock>,
}

/// A UDP, ping or raw endpoint (see `dgram`, `raw`).
#[derive(Default)]
pub(crate) struct Dgram {
    pub rxq: VecDeque<Datagram>,
    pub rx_bytes: usize,
    /// The default peer (connect), wire form.
    pub peer: Option<SocketAddr>,
    /// The source address connect routed to.
    pub src: Option<IpAddr>,
    /// The smoltcp sockets that send for it (see `outbound`).
    pub tx: Vec<Tx>,
    pub shut_rd: bool,
    pub shut_wr: bool,
}

/// A smoltcp socket sending for a datagram endpoint: on one interface,
/// with one hop limit, since smoltcp fixes the hop limit per socket and
/// applies it only when the datagram leaves (a raw endpoint writes its
/// own IP header, and keeps one socket per interface).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tx {
    pub iface: usize,
    pub hop: u8,
    pub h: SocketHandle,
}

/// One socket's membership of one multicast group on one interface
/// (see `multicast`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Membership {
    pub ep: usize,
    pub group: IpAddr,
    pub iface: usize,
}

/// A received datagram: the frame it came in, where in it the payload
/// lies, and what came with it.
pub(crate) struct Datagram {
    pub buf: Vec<u8>,
    pub start: usize,
    pub end: usize,
    pub from: SocketAddr,
    pub info: PacketInfo,
}

/// Linux's default net.ipv4.tcp_syn_retries.
const DEFAULT_SYN_RETRIES: u8 = 6;

pub(crate) struct Inner {
    pub ifaces: Vec<Iface>,
    pub routes: Vec<Entry>,
    pub eps: Vec<Option<EpState>>,
    free: Vec<usize>,
    pub ports: Ports,
    /// TCP port → the endpoints listening on it.
    pub listeners: HashMap<u16, Vec<usize>>,
    pub orphans: Orphans,
    pub wq: Arc<WakeQueue>,
    /// Endpoints whose readiness may have changed since the lock was
    /// taken.
    pub noted: Vec<usize>,
    epoch: std::time::Instant,
    /// When the stack's thread means to wake next; a call that needs it
    /// sooner kicks it.
    pub deadline: Option<Instant>,
    /// A call polled: the thread's deadline may need to move.
    pub polled: bool,
    /// A call gave smoltcp something to send (or room to receive): the
    /// stack polls before it releases the lock.
    pub poll_requested: bool,
    /// IP datagrams arriving in fragments, being put back together.
    pub frags: crate::reassembly::Reassembly,
    /// net.ipv4.tcp_syn_retries: a connect's SYNs sent again before
    /// ETIMEDOUT, unless TCP_SYNCNT says otherwise.
    pub syn_retries: u8,
    /// TCP sockets a RST arrived for during this poll: when such a
    /// socket closes, it was reset, not timed out.
    pub resets: Vec<Sock>,
    /// Neighbours asked for and not yet heard from (see `neigh`).
    pub neigh: crate::neigh::Pending,
    /// Every socket's multicast groups (see `multicast`).
    pub memberships: Vec<Membership>,
    /// The urgent mark of each receiving TCP socket that has one (see
    /// `urgent`).
    pub urgent: HashMap<Sock, Mark>,
    /// Urgent hooks to call once the lock is released.
    pub urgent_hooks: Vec<Notify>,
}

impl Inner {
    pub(crate) fn new(ifaces: Vec<Iface>, routes: Vec<Entry>, seed: u64) -> Inner {
        let wq = Arc::new(WakeQueue::default());
        Inner {
            ifaces,
            routes,
            eps: Vec::new(),
            free: Vec::new(),
            ports: Ports::new(seed),
            listeners: HashMap::new(),
            orphans: Orphans::new(&wq),
            wq,
            noted: Vec::new(),
            epoch: std::time::Instant::now(),
            deadline: None,
            polled: false,
            poll_requested: false,
            frags: Default::default(),
            syn_retries: DEFAULT_SYN_RETRIES,
            resets: Vec::new(),
            neigh: Default::default(),
            memberships: Vec::new(),
            urgent: HashMap::new(),
            urgent_hooks: Vec::new(),
        }
    }

    /// smoltcp's clock: monotonic, so a wall-clock step cannot fire or
    /// stall every timer at once.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    pub(crate) fn ep(&self, id: usize) -> &EpState {
        self.eps[id].as_ref().expect("live endpoint")
    }

    pub(crate) fn ep_mut(&mut self, id: usize) -> &mut EpState {
        self.eps[id].as_mut().expect("live endpoint")
    }

    /// A TCP endpoint's state; the caller knows the endpoint is TCP.
    pub(crate) fn tcp_ep(&mut self, id: usize) -> &mut Tcp {
        match &mut self.ep_mut(id).kind {
            Kind::Tcp(t) => t,
            Kind::Dgram(_) => unreachable!("a TCP endpoint"),
        }
    }

    pub(crate) fn insert(&mut self, make: impl FnOnce(usize, EpWaker) -> EpState) -> usize {
        let id = self.free.pop().unwrap_or_else(|| {
            self.eps.push(None);
            self.eps.len() - 1
        });
        let w = EpWaker::new(&self.wq, id);
        self.eps[id] = Some(make(id, w));
        id
    }

    /// Takes a closing endpoint's state; its id stays reserved until
    /// `release_id`, so the port table's record of it cannot be confused
    /// with a new endpoint's meanwhile.
    pub(crate) fn remove_keep_id(&mut self, id: usize) -> EpState {
        self.eps[id].take().expect("live endpoint")
    }

    pub(crate) fn release_id(&mut self, id: usize) {
        self.free.push(id);
    }

    pub(crate) fn route(&self, dst: IpAddr) -> Result<Path, Errno> {
        crate::route::route(&self.ifaces, &self.routes, dst)
    }

    pub(crate) fn tcp(&mut self, s: Sock) -> &mut tcp::Socket<'static> {
        self.ifaces[s.iface].sockets.get_mut::<tcp::Socket>(s.h)
    }

    pub(crate) fn note(&mut self, id: usize) {
        self.noted.push(id);
    }

    pub(crate) fn request_poll(&mut self) {
        self.poll_requested = true;
    }

    /// Keeps a closed endpoint's socket until it finishes; `hold`: the
    /// endpoint and port whose binding it keeps meanwhile (see `ports`).
    pub(crate) fn orphan(&mut self, hold: Option<(usize, u16)>, sock: Sock, proto: Proto) {
        let now = self.now();
        self.orphans
            .keep(&mut self.ifaces, &mut self.ports, now, hold, sock, proto);
    }

    /// Drops the orphans that have finished.
    pub(crate) fn reap(&mut self) {
        let now = self.now();
        self.orphans.reap(&mut self.ifaces, &mut self.ports, now);
    }

    /// Removes the orphan holding `sock` at once, if one does.
    pub(crate) fn kill_orphan(&mut self, sock: Sock) -> bool {
        self.orphans.kill(&mut self.ifaces, &mut self.ports, sock)
    }
}
