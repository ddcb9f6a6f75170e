//! The stack's state behind its one lock: the interfaces, the endpoints,
//! the port table, and the closed connections still finishing. Every
//! call, from an application thread or the stack's own, runs here with
//! the lock held; hooks run after it is released (see `Stack::with`).

use std::collections::HashMap;
use std::sync::Arc;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};

use crate::errno::Errno;
use crate::iface::{Iface, LO};
use crate::ports::{Owner, Ports};
use crate::route::{Entry, Path};
use crate::socket::{Options, Proto};
use crate::stack::Notify;
use crate::wake::{EpWaker, WakeQueue, ORPHAN};

/// How many times one call cycles loopback before leaving the rest to
/// the stack's thread: enough for a send buffer's worth of segments and
/// their ACKs.
const LOOP_ROUNDS: usize = 64;

/// Linux's tcp_fin_timeout: how long a closed connection waits for its
/// peer's FIN (smoltcp has no FIN_WAIT_2 timer).
const ORPHAN_TIMEOUT: Duration = Duration::from_secs(60);

/// A smoltcp socket: which interface's set, and its handle there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sock {
    pub iface: usize,
    pub h: SocketHandle,
}

/// Where an endpoint is bound, in wire form (unspecified: wildcard).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bound {
    pub addr: std::net::IpAddr,
    pub port: u16,
    /// bind(2) chose the port (rather than connect or listen).
    pub explicit: bool,
}

pub(crate) enum Kind {
    Tcp(crate::tcp::Tcp),
    Dgram(crate::dgram::Dgram),
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
    pub kind: Kind,
}

/// A closed endpoint's connection or datagram socket, left in its set
/// until it has finished.
pub(crate) struct Orphan {
    pub key: u64,
    pub sock: Sock,
    pub proto: Proto,
    pub port: u16,
    pub since: Instant,
}

pub(crate) struct Inner {
    pub ifaces: Vec<Iface>,
    pub routes: Vec<Entry>,
    pub eps: Vec<Option<EpState>>,
    free: Vec<usize>,
    pub ports: Ports,
    /// TCP port → the endpoints listening on it.
    pub listeners: HashMap<u16, Vec<usize>>,
    pub orphans: Vec<Orphan>,
    next_orphan: u64,
    pub wq: Arc<WakeQueue>,
    orphan_waker: EpWaker,
    /// Endpoints whose readiness may have changed since the lock was
    /// taken.
    pub noted: Vec<usize>,
    epoch: std::time::Instant,
    /// When the stack's thread means to wake next; a call that needs it
    /// sooner kicks it.
    pub deadline: Option<Instant>,
    /// A call polled: the thread's deadline may need to move.
    pub polled: bool,
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
            orphans: Vec::new(),
            next_orphan: 1,
            orphan_waker: EpWaker::new(&wq, ORPHAN),
            wq,
            noted: Vec::new(),
            epoch: std::time::Instant::now(),
            deadline: None,
            polled: false,
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

    pub(crate) fn route(&self, dst: std::net::IpAddr) -> Result<Path, Errno> {
        crate::route::route(&self.ifaces, &self.routes, dst)
    }

    pub(crate) fn tcp(&mut self, s: Sock) -> &mut tcp::Socket<'static> {
        self.ifaces[s.iface].sockets.get_mut::<tcp::Socket>(s.h)
    }

    pub(crate) fn note(&mut self, id: usize) {
        self.noted.push(id);
    }

    /// Runs the interfaces: loopback until its queue is quiet (so a send
    /// has reached its peer's buffer when the call returns), then each
    /// Ethernet interface once (its egress; frames in arrive on the
    /// stack's thread).
    pub(crate) fn poll(&mut self) {
        let now = self.now();
        self.polled = true;
        for _ in 0..LOOP_ROUNDS {
            self.feed(LO);
            let lo = &mut self.ifaces[LO];
            lo.iface.poll_egress(now, &mut lo.dev, &mut lo.sockets);
            if self.loopback_quiet() {
                break;
            }
        }
        for i in 1..self.ifaces.len() {
            let f = &mut self.ifaces[i];
            f.iface.poll(now, &mut f.dev, &mut f.sockets);
        }
    }

    fn loopback_quiet(&self) -> bool {
        match &self.ifaces[LO].dev.sink {
            crate::device::Sink::Queue(q) => q.is_empty(),
            crate::device::Sink::Fd(_) => true,
        }
    }

    /// Moves frames loopback sent to its receive side, through `steer`.
    fn feed(&mut self, n: usize) {
        let frames = match &mut self.ifaces[n].dev.sink {
            crate::device::Sink::Queue(q) => std::mem::take(q),
            crate::device::Sink::Fd(_) => return,
        };
        for f in frames {
            self.admit(n, f);
        }
    }

    /// Frames read from an Ethernet interface's descriptor.
    pub(crate) fn read_frames(&mut self, n: usize) -> bool {
        let frames = crate::device::frames::read_batch(&self.ifaces[n].dev);
        let any = !frames.is_empty();
        for f in frames {
            self.admit(n, f);
        }
        any
    }

    /// Hands one arriving frame to smoltcp, to an endpoint, or to no one.
    /// smoltcp takes each frame before the next is steered: a SYN's fate
    /// depends on the sockets the ones before it made or used up.
    fn admit(&mut self, n: usize, frame: Vec<u8>) {
        let verdict = crate::steer::steer(self, n, &frame);
        if !matches!(verdict, crate::steer::Verdict::Echo) {
            self.ifaces[n].dev.arrived(&frame);
        }
        match verdict {
            crate::steer::Verdict::Pass => {
                let now = self.now();
                let f = &mut self.ifaces[n];
                f.dev.rx.push_back(frame);
                while f.dev.rx.front().is_some() {
                    f.iface.poll_ingress_single(now, &mut f.dev, &mut f.sockets);
                }
            }
            crate::steer::Verdict::Drop | crate::steer::Verdict::Echo => {
                self.ifaces[n].dev.recycle(frame)
            }
            crate::steer::Verdict::Deliver(d) => crate::dgram::deliver(self, d, frame),
        }
    }

    /// The earliest time any interface needs polling.
    pub(crate) fn next_poll(&mut self) -> Option<Instant> {
        let now = self.now();
        if !self.loopback_quiet() {
            return Some(now);
        }
        let mut next: Option<Instant> = None;
        for f in &mut self.ifaces {
            if let Some(t) = f.iface.poll_at(now, &f.sockets) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        }
        next
    }

    /// Brings every endpoint smoltcp woke up to date; returns the hooks
    /// to call once the lock is released.
    pub(crate) fn settle(&mut self) -> Vec<Notify> {
        let mut hooks: Vec<(usize, Notify)> = Vec::new();
        loop {
            let ids = self.wq.take();
            if ids.is_empty() {
                break;
            }
            for id in ids {
                if id == ORPHAN {
                    self.orphan_waker.rearm();
                    self.reap();
                    continue;
                }
                let Some(Some(ep)) = self.eps.get(id) else {
                    continue;
                };
                ep.waker.rearm();
                if matches!(ep.kind, Kind::Tcp(_)) {
                    crate::tcp::sync(self, id);
                }
                self.noted.push(id);
            }
        }
        for id in std::mem::take(&mut self.noted) {
            if let Some(Some(ep)) = self.eps.get(id) {
                if !hooks.iter().any(|(i, _)| *i == id) {
                    hooks.push((id, ep.notify.clone()));
                }
            }
        }
        hooks.into_iter().map(|(_, h)| h).collect()
    }

    /// Keeps a closed endpoint's socket until it finishes; `hold`: the
    /// endpoint and port whose binding it keeps meanwhile (see `ports`).
    pub(crate) fn orphan(&mut self, hold: Option<(usize, u16)>, sock: Sock, proto: Proto) {
        let key = self.next_orphan;
        self.next_orphan += 1;
        let now = self.now();
        let w = self.orphan_waker.waker().clone();
        match proto {
            Proto::Tcp => {
                let s = self.tcp(sock);
                s.register_recv_waker(&w);
                s.register_send_waker(&w);
                s.set_timeout(Some(ORPHAN_TIMEOUT));
            }
            Proto::Udp => {
                let s = self.ifaces[sock.iface]
                    .sockets
                    .get_mut::<smoltcp::socket::udp::Socket>(sock.h);
                s.register_send_waker(&w);
            }
            Proto::Icmp => {
                let s = self.ifaces[sock.iface]
                    .sockets
                    .get_mut::<smoltcp::socket::icmp::Socket>(sock.h);
                s.register_send_waker(&w);
            }
        }
        let port = match hold {
            Some((id, port)) => {
                self.ports.linger(proto, port, Owner::Ep(id), key);
                port
            }
            None => 0,
        };
        self.orphans.push(Orphan {
            key,
            sock,
            proto,
            port,
            since: now,
        });
    }

    /// Drops the orphans that have finished: TCP back in CLOSED with its
    /// RST or last ACK sent, datagram sockets with nothing left to send
    /// (or stuck past a while, their neighbour never answering).
    pub(crate) fn reap(&mut self) {
        let now = self.now();
        let mut i = 0;
        while i < self.orphans.len() {
            let o = &self.orphans[i];
            let set = &mut self.ifaces[o.sock.iface].sockets;
            let done = match o.proto {
                Proto::Tcp => {
                    let s = set.get::<tcp::Socket>(o.sock.h);
                    s.state() == tcp::State::Closed && s.local_endpoint().is_none()
                }
                Proto::Udp => {
                    set.get::<smoltcp::socket::udp::Socket>(o.sock.h)
                        .send_queue()
                        == 0
                        || now - o.since > ORPHAN_TIMEOUT
                }
                Proto::Icmp => {
                    set.get::<smoltcp::socket::icmp::Socket>(o.sock.h)
                        .send_queue()
                        == 0
                        || now - o.since > ORPHAN_TIMEOUT
                }
            };
            if done {
                let o = self.orphans.swap_remove(i);
                self.ifaces[o.sock.iface].sockets.remove(o.sock.h);
                self.ports.unbind(o.proto, o.port, Owner::Orphan(o.key));
            } else {
                // smoltcp drops a waker once woken.
                let w = self.orphan_waker.waker().clone();
                let sock = o.sock;
                match o.proto {
                    Proto::Tcp => {
                        let s = self.tcp(sock);
                        s.register_recv_waker(&w);
                        s.register_send_waker(&w);
                    }
                    Proto::Udp => self.ifaces[sock.iface]
                        .sockets
                        .get_mut::<smoltcp::socket::udp::Socket>(sock.h)
                        .register_send_waker(&w),
                    Proto::Icmp => self.ifaces[sock.iface]
                        .sockets
                        .get_mut::<smoltcp::socket::icmp::Socket>(sock.h)
                        .register_send_waker(&w),
                }
                i += 1;
            }
        }
    }

    /// Removes the orphan holding `sock` at once: a new connection takes
    /// over its 4-tuple (as Linux lets a new SYN end a TIME_WAIT).
    pub(crate) fn kill_orphan(&mut self, sock: Sock) -> bool {
        let Some(i) = self.orphans.iter().position(|o| o.sock == sock) else {
            return false;
        };
        let o = self.orphans.swap_remove(i);
        self.ifaces[o.sock.iface].sockets.remove(o.sock.h);
        self.ports.unbind(o.proto, o.port, Owner::Orphan(o.key));
        true
    }
}
