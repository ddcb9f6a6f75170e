//! AF_INET and AF_INET6 sockets: TCP, UDP, UDP-Lite, ICMP echo and raw
//! ICMP over the sandbox's network stack (the `netstack` crate, smoltcp
//! underneath).
//!
//! The stack never blocks: every endpoint call answers at once, and the
//! stack wakes the socket's wait queue through the endpoint's notify hook
//! when its readiness may have changed. The blocking, timeouts, signals
//! and Linux's per-call rules live here:
//! * [`transfer`]: send and recv;
//! * [`ancillary`]: their control messages (IP_PKTINFO, IPV6_HOPLIMIT,
//!   SO_TIMESTAMP ...) and the options that ask for them;
//! * [`options`]: getsockopt and setsockopt;
//! * [`pmtu`]: the path MTU options;
//! * [`raw`]: who may make a raw socket, and its own options;
//! * [`sockaddr`]: `sockaddr_in` / `sockaddr_in6` bytes.

mod ancillary;
mod multicast;
pub mod options;
mod pmtu;
mod raw;
pub mod sockaddr;
mod transfer;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use netstack::{Endpoint, Proto, Shutdown, Stack};

use self::sockaddr::Target;
use super::socket::{self, RecvMsg, SendMsg, Socket};
use crate::errno::Errno;
use crate::vfs::dnotify::{Notice, SignalOwner, SI_KERNEL};
use crate::vfs::Caller;
use crate::waiter::WaitQueue;

/// The stack's error as the Sentry's.
pub fn errno(e: netstack::Errno) -> Errno {
    Errno(e.0)
}

/// The Sentry's error as the stack's (an EFAULT met while copying).
fn net_errno(e: Errno) -> netstack::Errno {
    netstack::Errno(e.0)
}

/// What the Sentry keeps of a socket beyond the endpoint.
#[derive(Default)]
struct State {
    rcvtimeo: Option<Duration>,
    sndtimeo: Option<Duration>,
    /// SO_RCVBUF / SO_SNDBUF as set, before Linux's doubling; None: the
    /// default.
    rcvbuf: Option<usize>,
    sndbuf: Option<usize>,
    /// Options Linux keeps and reports but that change nothing here
    /// (IP_TOS, TCP_CORK ...), by (level, name).
    kept: Vec<((i32, i32), i32)>,
    /// The control messages recvmsg adds.
    wanted: ancillary::Wanted,
    /// A raw ICMPv6 socket's IPV6_CHECKSUM as set through SOL_RAW.
    checksum: Option<i32>,
    /// IP_MTU_DISCOVER and IPV6_MTU_DISCOVER.
    pmtu: pmtu::Modes,
}

/// F_SETOWN's process: SIGURG goes to it when urgent data is marked.
#[derive(Default)]
struct Owner {
    pid: i32,
    target: Option<Weak<dyn SignalOwner>>,
}

pub struct InetSocket {
    ep: Endpoint,
    owner: Arc<Mutex<Owner>>,
    stack: Arc<Stack>,
    v6: bool,
    kind: i32,
    protocol: i32,
    ino: u64,
    queue: Arc<WaitQueue>,
    st: Mutex<State>,
}

/// The F_SETOWN cell of a new endpoint, and (TCP) the stack's hook that
/// sends its process SIGURG when urgent data is marked (Linux's
/// sk_send_sigurg: the signal comes from the kernel).
fn urgent_owner(ep: &Endpoint, stream: bool) -> Arc<Mutex<Owner>> {
    let owner = Arc::new(Mutex::new(Owner::default()));
    if stream {
        let o = Arc::downgrade(&owner);
        ep.set_urgent_hook(Arc::new(move || {
            let Some(o) = o.upgrade() else {
                return;
            };
            let target = o.lock().unwrap_or_else(|e| e.into_inner()).target.clone();
            if let Some(t) = target.and_then(|t| t.upgrade()) {
                t.send_notice(Notice {
                    signo: libc::SIGURG,
                    code: SI_KERNEL,
                    band: None,
                });
            }
        }));
    }
    owner
}

/// A wait queue and the hook that wakes it, for a new endpoint.
fn queue_and_hook() -> (Arc<WaitQueue>, netstack::Notify) {
    let queue = Arc::new(WaitQueue::new());
    let q = Arc::downgrade(&queue);
    let hook: netstack::Notify = Arc::new(move || {
        if let Some(q) = q.upgrade() {
            q.notify_all();
        }
    });
    (queue, hook)
}

impl InetSocket {
    /// socket(2) for AF_INET (`v6` false) or AF_INET6. `net_raw`: the
    /// caller holds CAP_NET_RAW, which a raw socket needs.
    pub fn new(
        stack: &Arc<Stack>,
        v6: bool,
        kind: i32,
        protocol: i32,
        net_raw: bool,
    ) -> Result<Arc<InetSocket>, Errno> {
        let (proto, protocol) = match (kind, protocol) {
            (libc::SOCK_STREAM, 0 | libc::IPPROTO_TCP) => (Proto::Tcp, libc::IPPROTO_TCP),
            (libc::SOCK_DGRAM, 0 | libc::IPPROTO_UDP) => (Proto::Udp, libc::IPPROTO_UDP),
            (libc::SOCK_DGRAM, libc::IPPROTO_UDPLITE) => (Proto::UdpLite, protocol),
            (libc::SOCK_DGRAM, libc::IPPROTO_ICMP) if !v6 => (Proto::Icmp, protocol),
            (libc::SOCK_DGRAM, libc::IPPROTO_ICMPV6) if v6 => (Proto::Icmp, protocol),
            (libc::SOCK_RAW, _) => {
                raw::allowed(v6, protocol, net_raw)?;
                (Proto::Raw, protocol)
            }
            (libc::SOCK_STREAM | libc::SOCK_DGRAM, _) => return Err(Errno::EPROTONOSUPPORT),
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        };
        let ino = crate::vfs::anon::anon_ino();
        let (queue, hook) = queue_and_hook();
        let ep = stack.endpoint(v6, proto, hook, ino).map_err(errno)?;
        let owner = urgent_owner(&ep, proto == Proto::Tcp);
        Ok(Arc::new(InetSocket {
            ep,
            owner,
            stack: stack.clone(),
            v6,
            kind,
            protocol,
            ino,
            queue,
            st: Mutex::new(State::default()),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn is_stream(&self) -> bool {
        self.kind == libc::SOCK_STREAM
    }

    fn target(&self, addr: &[u8]) -> Result<Target, Errno> {
        sockaddr::parse(addr, self.v6)
    }

    /// Sleeps until the endpoint shows one of `events` (or an error or
    /// hang-up), with the socket's timeout for the direction.
    fn wait_for(
        &self,
        t: &dyn Caller,
        events: i16,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let want = events | libc::POLLERR | libc::POLLHUP;
        socket::wait(t, &[&self.queue], timeout, &mut || {
            self.ep.readiness() & want != 0
        })
    }
}

impl Socket for InetSocket {
    fn domain(&self) -> i32 {
        sockaddr::domain(self.v6)
    }

    fn kind(&self) -> i32 {
        self.kind
    }

    fn bind(&self, t: &dyn Caller, addr: &[u8]) -> Result<(), Errno> {
        let a = match self.target(addr)? {
            Target::Addr(a) => {
                if self.kind != libc::SOCK_RAW {
                    sockaddr::may_bind(t, &a)?;
                }
                a
            }
            // Linux takes AF_UNSPEC with INADDR_ANY on an AF_INET socket,
            // for old programs.
            Target::Unspec if !self.v6 && addr.len() >= 8 && addr[4..8] == [0; 4] => {
                sockaddr::unspecified(false)
            }
            Target::Unspec => return Err(Errno::EAFNOSUPPORT),
        };
        self.ep.bind(a).map_err(errno)
    }

    fn listen(&self, _t: &dyn Caller, backlog: i32) -> Result<(), Errno> {
        if !self.is_stream() {
            return Err(Errno::EOPNOTSUPP);
        }
        // Linux clamps the backlog to [0, somaxconn].
        let backlog = backlog.clamp(0, 4096) as u32;
        self.ep.listen(backlog).map_err(errno)
    }

    fn accept(&self, t: &dyn Caller, nonblock: bool) -> Result<(Arc<dyn Socket>, Vec<u8>), Errno> {
        if !self.is_stream() {
            return Err(Errno::EOPNOTSUPP);
        }
        let timeout = self.lock().rcvtimeo;
        // Made once: a wait and a retry must not use up inode numbers.
        let ino = crate::vfs::anon::anon_ino();
        let (queue, hook) = queue_and_hook();
        loop {
            match self.ep.accept(hook.clone(), ino) {
                Ok((ep, peer)) => {
                    // What Linux's sk_clone copies from the listener.
                    let (rcvbuf, sndbuf, pmtu) = {
                        let st = self.lock();
                        (st.rcvbuf, st.sndbuf, st.pmtu)
                    };
                    let owner = urgent_owner(&ep, true);
                    let sock = Arc::new(InetSocket {
                        ep,
                        owner,
                        stack: self.stack.clone(),
                        v6: self.v6,
                        kind: self.kind,
                        protocol: self.protocol,
                        ino,
                        queue: queue.clone(),
                        st: Mutex::new(State {
                            rcvbuf,
                            sndbuf,
                            pmtu,
                            ..State::default()
                        }),
                    });
                    return Ok((sock, sockaddr::to_bytes(&peer)));
                }
                Err(netstack::Errno::EAGAIN) if !nonblock => {
                    self.wait_for(t, libc::POLLIN, timeout)?;
                }
                Err(e) => return Err(errno(e)),
            }
        }
    }

    fn connect(&self, t: &dyn Caller, addr: &[u8], nonblock: bool) -> Result<(), Errno> {
        let a = match self.target(addr)? {
            Target::Addr(a) => a,
            Target::Unspec if !self.is_stream() => return self.ep.disconnect().map_err(errno),
            // Linux resets a connected stream on AF_UNSPEC
            // (tcp_disconnect); the stack cannot yet, so only an
            // unconnected stream takes it, as a no-op.
            Target::Unspec if self.ep.peer_addr().is_none() => return Ok(()),
            Target::Unspec => return Err(Errno::EOPNOTSUPP),
        };
        let r = self.ep.connect(a);
        if !self.is_stream() || r != Err(netstack::Errno::EINPROGRESS) || nonblock {
            return r.map_err(errno);
        }
        let timeout = self.lock().sndtimeo;
        loop {
            match self.wait_for(t, libc::POLLOUT, timeout) {
                // A connect that timed out is still under way.
                Err(Errno::EAGAIN) => return Err(Errno::EINPROGRESS),
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            match self.ep.connect(a) {
                Err(netstack::Errno::EALREADY) => continue,
                r => return r.map_err(errno),
            }
        }
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        let how = match how {
            libc::SHUT_RD => Shutdown::Read,
            libc::SHUT_WR => Shutdown::Write,
            libc::SHUT_RDWR => Shutdown::Both,
            _ => return Err(Errno::EINVAL),
        };
        self.ep.shutdown(how).map_err(errno)
    }

    fn name(&self) -> Vec<u8> {
        let a = self
            .ep
            .local_addr()
            .unwrap_or_else(|| sockaddr::unspecified(self.v6));
        sockaddr::to_bytes(&a)
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        self.ep
            .peer_addr()
            .map(|a| sockaddr::to_bytes(&a))
            .ok_or(Errno::ENOTCONN)
    }

    fn send(&self, t: &dyn Caller, msg: &mut SendMsg<'_>, nonblock: bool) -> Result<usize, Errno> {
        transfer::send(self, t, msg, nonblock)
    }

    fn recv(&self, t: &dyn Caller, msg: &mut RecvMsg<'_>, nonblock: bool) -> Result<usize, Errno> {
        transfer::recv(self, t, msg, nonblock)
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        options::get(self, level, name)
    }

    fn setsockopt(&self, _t: &dyn Caller, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        options::set(self, level, name, val)
    }

    fn readiness(&self, mask: i16) -> i16 {
        self.ep.readiness() & (mask | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn readable_bytes(&self) -> usize {
        self.ep.recv_queue()
    }

    fn unread_sent_bytes(&self) -> usize {
        self.ep.send_queue()
    }

    fn ino(&self) -> u64 {
        self.ino
    }

    fn at_mark(&self) -> Result<bool, Errno> {
        // Linux's inet sockets answer SIOCATMARK only for TCP.
        if !self.is_stream() {
            return Err(Errno::ENOTTY);
        }
        Ok(self.ep.at_mark())
    }

    fn set_owner(&self, pid: i32, target: Option<Weak<dyn SignalOwner>>) {
        *self.owner.lock().unwrap_or_else(|e| e.into_inner()) = Owner { pid, target };
    }

    fn owner(&self) -> i32 {
        self.owner.lock().unwrap_or_else(|e| e.into_inner()).pid
    }
}

/// The peer address of a datagram as recvfrom(2) reports it.
fn from_bytes(a: Option<SocketAddr>) -> Option<Vec<u8>> {
    a.map(|a| sockaddr::to_bytes(&a))
}
