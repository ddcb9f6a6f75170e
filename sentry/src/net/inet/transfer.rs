//! send and recv on an inet socket: the stack takes and gives bytes
//! straight from and into the application's buffers (one copy, through
//! [`IoSeq`](crate::usermem::IoSeq)); this file adds Linux's blocking,
//! MSG_* flags, timeouts and a datagram's control messages around it.

use std::net::{IpAddr, SocketAddr};

use netstack::SendInfo;

use super::{ancillary, errno, from_bytes, net_errno, sockaddr, InetSocket};
use crate::errno::Errno;
use crate::net::socket::{RecvMsg, SendMsg};
use crate::vfs::io::progress;
use crate::vfs::Caller;

/// TCP_SYN_SENT and TCP_SYN_RECV: a stream whose connect is under way.
fn connecting(state: u8) -> bool {
    state == 2 || state == 3
}

pub(super) fn send(
    s: &InetSocket,
    t: &dyn Caller,
    msg: &mut SendMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    let nonblock = nonblock || msg.flags & libc::MSG_DONTWAIT != 0;
    let to = match &msg.to {
        // A stream ignores the address, as Linux's tcp_sendmsg does.
        Some(a) if !s.is_stream() => match s.target(a)? {
            sockaddr::Target::Addr(a) => Some(a),
            sockaddr::Target::Unspec => None,
        },
        _ => None,
    };
    let oob = msg.flags & libc::MSG_OOB != 0;
    let info = if s.is_stream() {
        // MSG_OOB: the last byte is urgent (see `netstack::Endpoint::recv_urgent`).
        SendInfo {
            urgent: oob,
            ..SendInfo::default()
        }
    } else if oob && refuses_oob(s, to) {
        return Err(Errno::EOPNOTSUPP);
    } else {
        datagram_info(s, msg, to)?
    };
    let timeout = s.lock().sndtimeo;
    let mut sent = 0;
    loop {
        let len = msg.data.len();
        let data = &mut msg.data;
        let r = s.ep.send_with(to, &info, len, &mut |buf| {
            data.copy_in(buf).map_err(net_errno)
        });
        match r {
            Ok(n) => {
                sent += n;
                // A datagram goes whole; a stream until every byte is
                // queued, as a blocking Linux send does.
                if !s.is_stream() || msg.data.is_empty() || n == 0 {
                    return Ok(sent);
                }
            }
            Err(netstack::Errno::EAGAIN) => {}
            // A stream before its connect completes waits for it; one that
            // never connected (or listens) is a broken pipe, as Linux's
            // sk_stream_wait_connect says.
            Err(netstack::Errno::ENOTCONN) if s.is_stream() => {
                if !connecting(s.ep.tcp_state()) {
                    return progress(sent, Errno::EPIPE);
                }
            }
            Err(e) => {
                // The connection's error, met after some bytes went: those
                // are the answer, the error the next call's.
                let own = !matches!(e, netstack::Errno::EFAULT | netstack::Errno::EPIPE);
                if sent > 0 && s.is_stream() && own {
                    s.ep.restore_error(e);
                }
                return progress(sent, errno(e));
            }
        }
        if nonblock {
            return progress(sent, Errno::EAGAIN);
        }
        if let Err(e) = s.wait_for(t, libc::POLLOUT, timeout) {
            return progress(sent, e);
        }
    }
}

/// MSG_OOB on a datagram socket: udp_sendmsg (an IPv4 datagram, from a
/// v6 socket too), the ping and the raw sends refuse it; udpv6_sendmsg
/// ignores it.
fn refuses_oob(s: &InetSocket, to: Option<SocketAddr>) -> bool {
    let udp = matches!(s.protocol, libc::IPPROTO_UDP | libc::IPPROTO_UDPLITE);
    let v4_dst = to
        .or_else(|| s.ep.peer_addr())
        .is_some_and(|a| matches!(a.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some()));
    !(s.v6 && udp && s.kind == libc::SOCK_DGRAM && !v4_dst)
}

/// What a datagram's control messages ask of it: IP_PKTINFO and its kin
/// are read by the rules of the family the datagram goes out in.
/// Descriptors and credentials are AF_UNIX's, and skipped (Linux's
/// __sock_cmsg_send skips them too).
fn datagram_info(
    s: &InetSocket,
    msg: &SendMsg<'_>,
    to: Option<SocketAddr>,
) -> Result<SendInfo, Errno> {
    let c = &msg.control;
    if c.data.is_empty() {
        return Ok(SendInfo::default());
    }
    let mapped = |a: SocketAddr| matches!(a.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some());
    let v4_rules = !s.v6 || to.or_else(|| s.ep.peer_addr()).is_some_and(mapped);
    ancillary::send(v4_rules, &c.data)
}

pub(super) fn recv(
    s: &InetSocket,
    t: &dyn Caller,
    msg: &mut RecvMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    let nonblock = nonblock || msg.flags & libc::MSG_DONTWAIT != 0;
    let peek = msg.flags & libc::MSG_PEEK != 0;
    if msg.flags & libc::MSG_OOB != 0 {
        if !s.is_stream() {
            return Err(Errno::EINVAL);
        }
        return recv_urgent(s, msg, peek);
    }
    let waitall = msg.flags & libc::MSG_WAITALL != 0 && s.is_stream() && !peek;
    let timeout = s.lock().rcvtimeo;
    if s.is_stream() && msg.data.is_empty() && s.ep.peer_addr().is_some() {
        return Ok(0);
    }
    loop {
        let len = msg.data.len();
        let data = &mut msg.data;
        let r =
            s.ep.recv_with_info(peek, len, &mut |buf| data.copy_out(buf).map_err(net_errno));
        match r {
            Ok((info, arrived)) if !s.is_stream() => {
                let wanted = s.lock().wanted;
                if let Some(p) = arrived.filter(|_| wanted.any()) {
                    msg.control.data = ancillary::recv(wanted, s.v6, &p);
                }
                msg.from = from_bytes(info.from);
                msg.full_len = info.full_len;
                if info.len < info.full_len {
                    msg.out_flags |= libc::MSG_TRUNC;
                }
                return Ok(if msg.flags & libc::MSG_TRUNC != 0 {
                    info.full_len
                } else {
                    info.len
                });
            }
            // The end of the stream.
            Ok((info, _)) if info.len == 0 => return Ok(msg.data.done()),
            Ok(_) => {
                if !waitall || msg.data.is_empty() {
                    return Ok(msg.data.done());
                }
            }
            Err(netstack::Errno::EAGAIN) => {
                if msg.data.done() > 0 && !waitall {
                    return Ok(msg.data.done());
                }
            }
            Err(e) => return progress(msg.data.done(), errno(e)),
        }
        if nonblock {
            return progress(msg.data.done(), Errno::EAGAIN);
        }
        if let Err(e) = s.wait_for(t, libc::POLLIN | libc::POLLRDHUP, timeout) {
            return progress(msg.data.done(), e);
        }
    }
}

/// recv(MSG_OOB) on a stream: the one urgent byte, never a wait (Linux's
/// tcp_recv_urg); MSG_OOB in `msg_flags`, and MSG_TRUNC for an empty
/// buffer.
fn recv_urgent(s: &InetSocket, msg: &mut RecvMsg<'_>, peek: bool) -> Result<usize, Errno> {
    let Some(byte) = s.ep.recv_urgent(peek).map_err(errno)? else {
        return Ok(0);
    };
    msg.out_flags |= libc::MSG_OOB;
    if msg.data.is_empty() {
        msg.out_flags |= libc::MSG_TRUNC;
        return Ok(0);
    }
    if msg.flags & libc::MSG_TRUNC == 0 {
        msg.data.copy_out(&[byte])?;
    }
    Ok(1)
}
