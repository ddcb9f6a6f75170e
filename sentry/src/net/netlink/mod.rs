//! AF_NETLINK sockets (net/netlink/af_netlink.c): an application talks
//! to the kernel, here to the Sentry's view of the network stack.
//!
//! Only NETLINK_ROUTE exists ([`rtnl`]); other protocols are
//! EPROTONOSUPPORT, as in gVisor. A send is answered at once: the replies
//! queue on the socket as datagrams, which recv reads whole or cut
//! (MSG_TRUNC, MSG_PEEK: glibc and iproute2 peek to size their buffers).
//! The kernel (port 0) is the only peer: a destination port or group is
//! EPERM, as Linux answers an unprivileged sender and gVisor everyone.
//! Multicast groups may be joined and are listed back, but no
//! notification is ever sent to them (the interfaces never change).

mod addr;
mod link;
pub mod message;
mod ports;
mod route;
mod rtnl;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use ports::Ports;

use super::socket::{self, int_bytes, int_option, RecvMsg, SendMsg, Socket};
use crate::caps::{CAP_NET_ADMIN, CAP_NET_BROADCAST};
use crate::errno::Errno;
use crate::vfs::Caller;
use crate::waiter::WaitQueue;

/// `sizeof(struct sockaddr_nl)`: family, pad, nl_pid, nl_groups.
const SOCKADDR_LEN: usize = 12;
/// SO_SNDBUF and SO_RCVBUF to start with (Linux's wmem_default and
/// rmem_default), and the most an unprivileged set gives: twice
/// wmem_max/rmem_max, 4 MiB since Linux 6.13.
const DEFAULT_BUF: usize = 212_992;
const MAX_BUF: usize = 2 * (4 << 20);
const MIN_SNDBUF: usize = 4608;
const MIN_RCVBUF: usize = 2304;
/// The most SO_RCVBUFFORCE gives here: replies are Sentry memory.
const MAX_FORCED_BUF: usize = 16 << 20;
/// A dump datagram's size until the application reads with a larger
/// buffer (NLMSG_GOODSIZE: a page less the skb's overhead), and its cap
/// then (SKB_WITH_OVERHEAD(32768)).
const DUMP_SIZE_MIN: usize = 3776;
const DUMP_SIZE_MAX: usize = 32_448;
/// Multicast groups of NETLINK_ROUTE (RTNLGRP_MAX).
const ROUTE_GROUPS: u32 = 39;

/// The SOL_NETLINK flags a socket keeps (NETLINK_F_*), by option number.
#[derive(Default, Clone, Copy)]
struct Flags(u32);

impl Flags {
    fn has(self, opt: i32) -> bool {
        self.0 & (1 << opt) != 0
    }

    fn set(&mut self, opt: i32, on: bool) {
        if on {
            self.0 |= 1 << opt;
        } else {
            self.0 &= !(1 << opt);
        }
    }
}

struct State {
    /// The port id, once bound (explicitly or on first use).
    port: Option<u32>,
    /// Joined multicast groups, group N at bit N-1.
    groups: u64,
    /// connect(2)'s destination: the kernel (0), unless connected to a
    /// port or group (EPERM).
    dst: (u32, u32),
    recv: VecDeque<Vec<u8>>,
    queued: usize,
    /// SO_ERROR: ENOBUFS once replies were dropped for want of room.
    error: Option<Errno>,
    flags: Flags,
    passcred: bool,
    rcvtimeo: Option<Duration>,
    sndtimeo: Option<Duration>,
    sndbuf: usize,
    rcvbuf: usize,
    /// The largest buffer a recv offered, which sizes dump datagrams
    /// (Linux's max_recvmsg_len).
    max_recv: usize,
}

pub struct NetlinkSocket {
    kind: i32,
    protocol: i32,
    ino: u64,
    net: Arc<netstack::Stack>,
    ports: Arc<Ports>,
    st: Mutex<State>,
    queue: WaitQueue,
}

/// A `sockaddr_nl`: EINVAL when short or of another family.
fn parse_addr(addr: &[u8]) -> Result<(u32, u32), Errno> {
    if addr.len() < SOCKADDR_LEN || super::addr::family(addr)? != libc::AF_NETLINK {
        return Err(Errno::EINVAL);
    }
    let pid = u32::from_ne_bytes(addr[4..8].try_into().expect("4 bytes"));
    let groups = u32::from_ne_bytes(addr[8..12].try_into().expect("4 bytes"));
    Ok((pid, groups))
}

fn sockaddr(pid: u32, groups: u32) -> Vec<u8> {
    let mut a = (libc::AF_NETLINK as u16).to_ne_bytes().to_vec();
    a.extend_from_slice(&[0, 0]);
    a.extend_from_slice(&pid.to_ne_bytes());
    a.extend_from_slice(&groups.to_ne_bytes());
    a
}

/// netlink_group_mask: the bit of one group number.
fn group_mask(group: u32) -> u32 {
    match group {
        1..=32 => 1 << (group - 1),
        _ => 0,
    }
}

impl NetlinkSocket {
    /// socket(AF_NETLINK, kind, protocol) over `net`, with its port ids in
    /// `ports`.
    pub fn new(
        kind: i32,
        protocol: i32,
        net: Arc<netstack::Stack>,
        ports: Arc<Ports>,
    ) -> Result<Arc<NetlinkSocket>, Errno> {
        if kind != libc::SOCK_RAW && kind != libc::SOCK_DGRAM {
            return Err(Errno::ESOCKTNOSUPPORT);
        }
        if protocol != libc::NETLINK_ROUTE {
            return Err(Errno::EPROTONOSUPPORT);
        }
        Ok(Arc::new(NetlinkSocket {
            kind,
            protocol,
            ino: crate::vfs::anon::anon_ino(),
            net,
            ports,
            st: Mutex::new(State {
                port: None,
                groups: 0,
                dst: (0, 0),
                recv: VecDeque::new(),
                queued: 0,
                error: None,
                flags: Flags::default(),
                passcred: false,
                rcvtimeo: None,
                sndtimeo: None,
                sndbuf: DEFAULT_BUF,
                rcvbuf: DEFAULT_BUF,
                max_recv: 0,
            }),
            queue: WaitQueue::new(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.st.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The port id, binding to the caller's tgid (or another free id)
    /// first if unbound, as Linux does on connect and send.
    fn autobind(&self, st: &mut State, t: &dyn Caller) -> u32 {
        *st.port
            .get_or_insert_with(|| self.ports.autobind(self.protocol, t.tgid()))
    }

    /// Queues the kernel's replies. One that found the queue over
    /// SO_RCVBUF was dropped: the reader is told ENOBUFS once (Linux's
    /// netlink_overrun), unless it asked not to be (NETLINK_NO_ENOBUFS).
    fn deliver(&self, replies: rtnl::Replies) {
        let mut st = self.lock();
        if replies.overrun && !st.flags.has(libc::NETLINK_NO_ENOBUFS) {
            st.error = Some(Errno::ENOBUFS);
        }
        for d in replies.grams {
            st.queued += d.len();
            st.recv.push_back(d);
        }
        drop(st);
        self.queue.notify_all();
    }

    fn socket_option(&self, name: i32) -> Result<Vec<u8>, Errno> {
        let mut st = self.lock();
        Ok(match name {
            libc::SO_TYPE => int_bytes(self.kind),
            libc::SO_DOMAIN => int_bytes(libc::AF_NETLINK),
            libc::SO_PROTOCOL => int_bytes(self.protocol),
            libc::SO_ERROR => int_bytes(st.error.take().map_or(0, |e| e.0)),
            libc::SO_PASSCRED => int_bytes(i32::from(st.passcred)),
            libc::SO_SNDBUF => int_bytes(st.sndbuf as i32),
            libc::SO_RCVBUF => int_bytes(st.rcvbuf as i32),
            libc::SO_RCVTIMEO => socket::timeval_bytes(st.rcvtimeo),
            libc::SO_SNDTIMEO => socket::timeval_bytes(st.sndtimeo),
            libc::SO_ACCEPTCONN
            | libc::SO_REUSEADDR
            | libc::SO_KEEPALIVE
            | libc::SO_BROADCAST
            | libc::SO_PRIORITY => int_bytes(0),
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    fn netlink_option(&self, name: i32) -> Result<Vec<u8>, Errno> {
        let st = self.lock();
        match name {
            libc::NETLINK_PKTINFO
            | libc::NETLINK_BROADCAST_ERROR
            | libc::NETLINK_NO_ENOBUFS
            | libc::NETLINK_LISTEN_ALL_NSID
            | libc::NETLINK_CAP_ACK
            | libc::NETLINK_EXT_ACK
            | libc::NETLINK_GET_STRICT_CHK => Ok(int_bytes(i32::from(st.flags.has(name)))),
            // The group bitmap as u32s, rounded up to whole u32s.
            libc::NETLINK_LIST_MEMBERSHIPS => {
                let mut v = (st.groups as u32).to_ne_bytes().to_vec();
                v.extend_from_slice(&((st.groups >> 32) as u32).to_ne_bytes());
                Ok(v)
            }
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn set_socket_option(&self, t: &dyn Caller, name: i32, val: &[u8]) -> Result<(), Errno> {
        let mut st = self.lock();
        let forced = |v: i32| -> Result<usize, Errno> {
            if !t.fs_cred().capable(CAP_NET_ADMIN) {
                return Err(Errno::EPERM);
            }
            Ok((v.max(0) as usize).saturating_mul(2))
        };
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
            libc::SO_SNDBUFFORCE => {
                st.sndbuf = forced(int_option(val)?)?.clamp(MIN_SNDBUF, MAX_FORCED_BUF)
            }
            libc::SO_RCVBUFFORCE => {
                st.rcvbuf = forced(int_option(val)?)?.clamp(MIN_RCVBUF, MAX_FORCED_BUF)
            }
            libc::SO_RCVTIMEO => st.rcvtimeo = socket::timeval_option(val)?,
            libc::SO_SNDTIMEO => st.sndtimeo = socket::timeval_option(val)?,
            // Accepted without effect: nothing here routes or lingers.
            libc::SO_REUSEADDR
            | libc::SO_REUSEPORT
            | libc::SO_KEEPALIVE
            | libc::SO_BROADCAST
            | libc::SO_PRIORITY
            | libc::SO_TIMESTAMP => {
                int_option(val)?;
            }
            // No socket filters (gVisor refuses them on route sockets too).
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    fn set_netlink_option(&self, t: &dyn Caller, name: i32, val: &[u8]) -> Result<(), Errno> {
        // Linux reads an int when there is one and takes 0 otherwise.
        let v = int_option(val).unwrap_or(0);
        let mut st = self.lock();
        match name {
            libc::NETLINK_ADD_MEMBERSHIP | libc::NETLINK_DROP_MEMBERSHIP => {
                let group = v as u32;
                if group == 0 || group > ROUTE_GROUPS {
                    return Err(Errno::EINVAL);
                }
                let bit = 1u64 << (group - 1);
                if name == libc::NETLINK_ADD_MEMBERSHIP {
                    st.groups |= bit;
                } else {
                    st.groups &= !bit;
                }
            }
            libc::NETLINK_LISTEN_ALL_NSID if !t.fs_cred().capable(CAP_NET_BROADCAST) => {
                return Err(Errno::EPERM)
            }
            libc::NETLINK_PKTINFO
            | libc::NETLINK_BROADCAST_ERROR
            | libc::NETLINK_NO_ENOBUFS
            | libc::NETLINK_LISTEN_ALL_NSID
            | libc::NETLINK_CAP_ACK
            | libc::NETLINK_EXT_ACK
            | libc::NETLINK_GET_STRICT_CHK => st.flags.set(name, v != 0),
            _ => return Err(Errno::ENOPROTOOPT),
        }
        Ok(())
    }

    /// Takes the front datagram into `msg` (or a copy, with MSG_PEEK).
    fn take(&self, st: &mut State, msg: &mut RecvMsg<'_>) -> Result<usize, Errno> {
        let d = st.recv.front().expect("a datagram");
        let n = msg.data.copy_out(d)?;
        let full = d.len();
        if n < full {
            msg.out_flags |= libc::MSG_TRUNC;
        }
        msg.full_len = full;
        msg.from = Some(sockaddr(0, 0));
        if st.passcred {
            // The kernel sends as pid 0, root.
            msg.control.creds = Some(libc::ucred {
                pid: 0,
                uid: 0,
                gid: 0,
            });
        }
        if msg.flags & libc::MSG_PEEK == 0 {
            st.recv.pop_front();
            st.queued -= full;
        }
        Ok(if msg.flags & libc::MSG_TRUNC != 0 {
            full
        } else {
            n
        })
    }
}

impl Socket for NetlinkSocket {
    fn domain(&self) -> i32 {
        libc::AF_NETLINK
    }

    fn kind(&self) -> i32 {
        self.kind
    }

    fn bind(&self, t: &dyn Caller, addr: &[u8]) -> Result<(), Errno> {
        let (pid, groups) = parse_addr(addr)?;
        let mut st = self.lock();
        match st.port {
            // A bound socket may only name its own port again.
            Some(p) if p != pid => return Err(Errno::EINVAL),
            Some(_) => {}
            None if pid != 0 => {
                self.ports.take(self.protocol, pid)?;
                st.port = Some(pid);
            }
            None => {
                self.autobind(&mut st, t);
            }
        }
        // bind(2) sets the first 32 groups (RTNLGRP_MAX masks the rest).
        let mask = (1u64 << ROUTE_GROUPS) - 1;
        st.groups = ((st.groups & !0xffff_ffff) | u64::from(groups)) & mask;
        Ok(())
    }

    fn listen(&self, _t: &dyn Caller, _backlog: i32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn accept(
        &self,
        _t: &dyn Caller,
        _nonblock: bool,
    ) -> Result<(Arc<dyn Socket>, Vec<u8>), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn connect(&self, t: &dyn Caller, addr: &[u8], _nonblock: bool) -> Result<(), Errno> {
        if super::addr::family(addr)? == libc::AF_UNSPEC {
            self.lock().dst = (0, 0);
            return Ok(());
        }
        let (pid, groups) = parse_addr(addr)?;
        if pid != 0 || groups != 0 {
            return Err(Errno::EPERM);
        }
        let mut st = self.lock();
        self.autobind(&mut st, t);
        st.dst = (0, 0);
        Ok(())
    }

    fn shutdown(&self, _how: i32) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn name(&self) -> Vec<u8> {
        let st = self.lock();
        sockaddr(st.port.unwrap_or(0), st.groups as u32)
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        let (pid, group) = self.lock().dst;
        Ok(sockaddr(pid, group_mask(group)))
    }

    fn send(&self, t: &dyn Caller, msg: &mut SendMsg<'_>, _nonblock: bool) -> Result<usize, Errno> {
        if msg.flags & libc::MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let total = msg.data.len();
        if total == 0 {
            return Err(Errno::ENODATA);
        }
        let (dst_pid, dst_groups) = match &msg.to {
            Some(addr) => parse_addr(addr)?,
            None => self.lock().dst,
        };
        if dst_pid != 0 || dst_groups != 0 {
            return Err(Errno::EPERM);
        }
        let (who, room) = {
            let mut st = self.lock();
            let pid = self.autobind(&mut st, t);
            if total > st.sndbuf.saturating_sub(32) {
                return Err(Errno::EMSGSIZE);
            }
            let who = rtnl::Requester {
                pid,
                privileged: t.fs_cred().capable(CAP_NET_ADMIN),
                cap_ack: st.flags.has(libc::NETLINK_CAP_ACK),
                ext_ack: st.flags.has(libc::NETLINK_EXT_ACK),
                strict: st.flags.has(libc::NETLINK_GET_STRICT_CHK),
                dump_size: st.max_recv.clamp(DUMP_SIZE_MIN, DUMP_SIZE_MAX),
            };
            (who, st.rcvbuf.saturating_sub(st.queued))
        };
        let mut buf = vec![0u8; total];
        if msg.data.copy_in(&mut buf)? < total {
            // Linux copies the whole message before the kernel sees any.
            return Err(Errno::EFAULT);
        }
        let view = rtnl::View {
            ifaces: self.net.interfaces(),
            routes: self.net.routes(),
        };
        self.deliver(rtnl::receive(&view, &who, &buf, room));
        Ok(total)
    }

    fn recv(&self, t: &dyn Caller, msg: &mut RecvMsg<'_>, nonblock: bool) -> Result<usize, Errno> {
        if msg.flags & libc::MSG_OOB != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let nonblock = nonblock || msg.flags & libc::MSG_DONTWAIT != 0;
        let timeout = {
            let mut st = self.lock();
            st.max_recv = st.max_recv.max(msg.data.len()).min(DUMP_SIZE_MAX);
            st.rcvtimeo
        };
        loop {
            {
                let mut st = self.lock();
                if let Some(e) = st.error.take() {
                    return Err(e);
                }
                if !st.recv.is_empty() {
                    return self.take(&mut st, msg);
                }
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            socket::wait(t, &[&self.queue], timeout, &mut || {
                let st = self.lock();
                !st.recv.is_empty() || st.error.is_some()
            })?;
        }
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        match level {
            libc::SOL_SOCKET => self.socket_option(name),
            libc::SOL_NETLINK => self.netlink_option(name),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn setsockopt(&self, t: &dyn Caller, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        match level {
            libc::SOL_SOCKET => self.set_socket_option(t, name, val),
            libc::SOL_NETLINK => self.set_netlink_option(t, name, val),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn readiness(&self, mask: i16) -> i16 {
        let st = self.lock();
        // A send is answered at once, so there is always room to write.
        let mut ev = libc::POLLOUT | libc::POLLWRNORM | libc::POLLWRBAND;
        if !st.recv.is_empty() {
            ev |= libc::POLLIN | libc::POLLRDNORM;
        }
        if st.error.is_some() {
            ev |= libc::POLLERR;
        }
        ev & (mask | libc::POLLERR)
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn readable_bytes(&self) -> usize {
        self.lock().recv.front().map_or(0, Vec::len)
    }

    fn unread_sent_bytes(&self) -> usize {
        0
    }

    fn ino(&self) -> u64 {
        self.ino
    }
}

impl Drop for NetlinkSocket {
    fn drop(&mut self) {
        let st = self.st.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = st.port {
            self.ports.release(self.protocol, p);
        }
    }
}
