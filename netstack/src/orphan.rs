//! Closed endpoints' sockets still finishing: a TCP connection sending its
//! FIN or waiting out TIME_WAIT, a datagram socket with packets queued
//! for a neighbour that has not answered yet. They stay in their
//! interface's socket set, and may keep their port (see `ports`), until
//! they are done; one shared waker asks for a reap when any of them moves.

use std::sync::Arc;
use std::task::Waker;

use smoltcp::socket::{icmp, raw, tcp, udp};
use smoltcp::time::{Duration, Instant};

use crate::iface::{Iface, Sock};
use crate::ports::{Owner, Ports};
use crate::socket::Proto;
use crate::wake::{EpWaker, WakeQueue, ORPHAN};

/// Linux's tcp_fin_timeout: how long a closed connection waits for its
/// peer's FIN (smoltcp has no FIN_WAIT_2 timer).
const ORPHAN_TIMEOUT: Duration = Duration::from_secs(60);

/// A closed endpoint's connection or datagram socket, left in its set
/// until it has finished.
pub(crate) struct Orphan {
    pub sock: Sock,
    pub proto: Proto,
    key: u64,
    port: u16,
    since: Instant,
}

pub(crate) struct Orphans {
    list: Vec<Orphan>,
    next_key: u64,
    waker: EpWaker,
}

/// Registers `w` where the socket will wake it: smoltcp drops a waker
/// once it has woken it, so each reap that keeps an orphan sets it again.
fn watch(ifaces: &mut [Iface], sock: Sock, proto: Proto, w: &Waker) {
    let set = &mut ifaces[sock.iface].sockets;
    match proto {
        Proto::Tcp => {
            let s = set.get_mut::<tcp::Socket>(sock.h);
            s.register_recv_waker(w);
            s.register_send_waker(w);
        }
        Proto::Udp => set.get_mut::<udp::Socket>(sock.h).register_send_waker(w),
        Proto::Icmp => set.get_mut::<icmp::Socket>(sock.h).register_send_waker(w),
        // UDP-Lite leaves through a raw socket too (see `udplite`).
        Proto::Raw | Proto::UdpLite => set.get_mut::<raw::Socket>(sock.h).register_send_waker(w),
    }
}

impl Orphans {
    pub(crate) fn new(wq: &Arc<WakeQueue>) -> Orphans {
        Orphans {
            list: Vec::new(),
            next_key: 1,
            waker: EpWaker::new(wq, ORPHAN),
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Orphan> {
        self.list.iter()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The stack has taken the orphans' wake from the queue.
    pub(crate) fn rearm(&self) {
        self.waker.rearm();
    }

    /// Keeps a closed endpoint's socket until it finishes; `hold`: the
    /// endpoint and port whose binding it keeps meanwhile.
    pub(crate) fn keep(
        &mut self,
        ifaces: &mut [Iface],
        ports: &mut Ports,
        now: Instant,
        hold: Option<(usize, u16)>,
        sock: Sock,
        proto: Proto,
    ) {
        let key = self.next_key;
        self.next_key += 1;
        watch(ifaces, sock, proto, self.waker.waker());
        if proto == Proto::Tcp {
            ifaces[sock.iface]
                .sockets
                .get_mut::<tcp::Socket>(sock.h)
                .set_timeout(Some(ORPHAN_TIMEOUT));
        }
        let port = match hold {
            Some((id, port)) => {
                ports.linger(proto, port, Owner::Ep(id), key);
                port
            }
            None => 0,
        };
        self.list.push(Orphan {
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
    pub(crate) fn reap(&mut self, ifaces: &mut [Iface], ports: &mut Ports, now: Instant) {
        let mut i = 0;
        while i < self.list.len() {
            let o = &self.list[i];
            let set = &ifaces[o.sock.iface].sockets;
            let done = match o.proto {
                Proto::Tcp => {
                    let s = set.get::<tcp::Socket>(o.sock.h);
                    s.state() == tcp::State::Closed && s.local_endpoint().is_none()
                }
                Proto::Udp => {
                    set.get::<udp::Socket>(o.sock.h).send_queue() == 0
                        || now - o.since > ORPHAN_TIMEOUT
                }
                Proto::Icmp => {
                    set.get::<icmp::Socket>(o.sock.h).send_queue() == 0
                        || now - o.since > ORPHAN_TIMEOUT
                }
                Proto::Raw | Proto::UdpLite => {
                    set.get::<raw::Socket>(o.sock.h).send_queue() == 0
                        || now - o.since > ORPHAN_TIMEOUT
                }
            };
            if done {
                let o = self.list.swap_remove(i);
                drop_socket(ifaces, ports, o);
            } else {
                watch(ifaces, o.sock, o.proto, self.waker.waker());
                i += 1;
            }
        }
    }

    /// Removes the orphan holding `sock` at once: a new connection takes
    /// over its 4-tuple (as Linux lets a new SYN end a TIME_WAIT).
    pub(crate) fn kill(&mut self, ifaces: &mut [Iface], ports: &mut Ports, sock: Sock) -> bool {
        let Some(i) = self.list.iter().position(|o| o.sock == sock) else {
            return false;
        };
        let o = self.list.swap_remove(i);
        drop_socket(ifaces, ports, o);
        true
    }
}

fn drop_socket(ifaces: &mut [Iface], ports: &mut Ports, o: Orphan) {
    ifaces[o.sock.iface].sockets.remove(o.sock.h);
    ports.unbind(o.proto, o.port, Owner::Orphan(o.key));
}
