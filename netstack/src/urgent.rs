//! TCP urgent data (send and recv with MSG_OOB, SO_OOBINLINE, SIOCATMARK,
//! POLLPRI, SIGURG) as Linux gives it: a send with MSG_OOB makes its last
//! byte urgent; the receiver's reads stop before that byte, skip it
//! unless SO_OOBINLINE, and recv(MSG_OOB) returns it once.
//!
//! smoltcp neither sends nor reads TCP's urgent pointer, so the stack
//! carries the mark itself, beside the bytes: a send with MSG_OOB looks
//! for the connection's other end among the stack's own sockets and
//! records where in that socket's receive stream the urgent byte lies
//! (offsets from the connection's start; `Conn::sent` on one side counts
//! the same bytes as `Conn::read` on the other). Both ends of a loopback
//! connection are the stack's, so there it is exact. A peer outside the
//! sandbox gets the byte as ordinary data (no URG flag leaves), and an
//! urgent pointer arriving from outside is ignored (its byte stays in
//! the stream, as with SO_OOBINLINE).

use std::net::SocketAddr;

use crate::addr::ep_to_wire;
use crate::errno::Errno;
use crate::iface::Sock;
use crate::state::{Inner, Kind, Mark, Tcp};

/// What a read must do about the mark before it takes bytes.
pub(crate) struct Plan {
    /// Bytes at the read position to drop first: earlier urgent bytes a
    /// newer mark replaced while the reader sat at them, then the urgent
    /// byte itself when the reader is at it and SO_OOBINLINE is off.
    pub skip: u64,
    /// At most this many bytes after those: a read stops before the
    /// urgent byte (Linux's tcp_recvmsg never reads across the mark).
    pub limit: Option<u64>,
}

/// Bytes of the mark's hole lying at `read`.
fn hole_at(m: &Mark, read: u64) -> u64 {
    match m.hole {
        Some((start, n)) if start <= read && read < start + n => start + n - read,
        _ => 0,
    }
}

/// Where the reader is once it has stepped over the hole (Linux's
/// copied_seq, which passed those bytes when the newer mark came).
fn position(m: &Mark, read: u64) -> u64 {
    read + hole_at(m, read)
}

pub(crate) fn plan(inner: &Inner, sock: Sock, read: u64, inline: bool) -> Plan {
    let Some(m) = inner.urgent.get(&sock) else {
        return Plan {
            skip: 0,
            limit: None,
        };
    };
    let mut skip = hole_at(m, read);
    let pos = read + skip;
    let mut limit = None;
    if pos == m.at {
        if !inline {
            skip += 1;
        }
    } else if pos < m.at {
        limit = Some(m.at - pos);
    }
    Plan { skip, limit }
}

/// After a read moved the reader to `read`: a mark it passed is gone
/// (Linux clears urg_data once copied_seq is past urg_seq).
pub(crate) fn passed(inner: &mut Inner, sock: Sock, read: u64) {
    if let Some(m) = inner.urgent.get_mut(&sock) {
        if read > m.at {
            inner.urgent.remove(&sock);
        } else if hole_at(m, read) == 0 && m.hole.is_some_and(|(s, _)| s < read) {
            m.hole = None;
        }
    }
}

/// The connected endpoint whose connection is `sock`, with its read
/// position and SO_OOBINLINE; None for a connection still waiting in a
/// listener's queue (it has read nothing).
fn receiver(inner: &Inner, sock: Sock) -> Option<(usize, u64, bool)> {
    inner.eps.iter().enumerate().find_map(|(id, ep)| match ep {
        Some(ep) => match &ep.kind {
            Kind::Tcp(Tcp::Connected(c)) if c.sock == sock => {
                Some((id, c.read, ep.opts.oob_inline))
            }
            _ => None,
        },
        None => None,
    })
}

/// The stack's own socket at the other end of a connection from `local`
/// to `peer` on interface `iface`.
fn other_end(inner: &Inner, iface: usize, local: SocketAddr, peer: SocketAddr) -> Option<Sock> {
    let (l, p) = (ep_to_wire(local), ep_to_wire(peer));
    inner.ifaces[iface]
        .sockets
        .iter()
        .find_map(|(h, s)| match s {
            smoltcp::socket::Socket::Tcp(t)
                if t.local_endpoint() == Some(p) && t.remote_endpoint() == Some(l) =>
            {
                Some(Sock { iface, h })
            }
            _ => None,
        })
}

/// A send with MSG_OOB queued bytes ending with `byte`: the other end
/// gets its mark, and its owner SIGURG (`urgent_hook`). A newer mark
/// replaces an older one; if the reader sat at the older urgent byte
/// (not inline), that byte is skipped, as Linux's tcp_check_urg does.
pub(crate) fn mark(inner: &mut Inner, id: usize, byte: u8) {
    let Kind::Tcp(Tcp::Connected(c)) = &inner.ep(id).kind else {
        return;
    };
    let (sock, local, peer, at) = (c.sock, c.local, c.peer, c.sent.saturating_sub(1));
    let Some(rx) = other_end(inner, sock.iface, local, peer) else {
        return;
    };
    let who = receiver(inner, rx);
    let (read, inline) = who.map_or((0, false), |(_, r, i)| (r, i));
    let hole = match inner.urgent.get(&rx) {
        Some(old) if old.at >= at => return,
        Some(old) if position(old, read) == old.at && !inline => {
            Some((read, hole_at(old, read) + 1))
        }
        Some(old) => old.hole.filter(|_| hole_at(old, read) > 0),
        None => None,
    };
    inner.urgent.insert(
        rx,
        Mark {
            at,
            byte,
            taken: false,
            hole,
        },
    );
    if let Some((rid, _, _)) = who {
        if let Some(h) = inner.ep(rid).urgent_hook.clone() {
            inner.urgent_hooks.push(h);
        }
        inner.note(rid);
    }
}

/// recv(MSG_OOB): the urgent byte (None: end of stream), once; EINVAL
/// with SO_OOBINLINE, without one or once taken; EAGAIN while it is
/// announced but not yet arrived (never a wait, as on Linux).
pub(crate) fn recv(inner: &mut Inner, id: usize, peek: bool) -> Result<Option<u8>, Errno> {
    let inline = inner.ep(id).opts.oob_inline;
    let c = match inner.tcp_ep(id) {
        Tcp::Listening(_) => return Err(Errno::ENOTCONN),
        Tcp::Idle { .. } | Tcp::Connecting { .. } => return Err(Errno::EINVAL),
        Tcp::Connected(c) => (c.sock, c.read, c.shut_rd || c.fin_seen || c.closed),
    };
    let (sock, read, done) = c;
    if inline {
        return Err(Errno::EINVAL);
    }
    let queued = inner.tcp(sock).recv_queue() as u64;
    let Some(m) = inner.urgent.get_mut(&sock) else {
        return Err(Errno::EINVAL);
    };
    if m.taken {
        return Err(Errno::EINVAL);
    }
    if m.at < read + queued {
        let byte = m.byte;
        if !peek {
            m.taken = true;
            inner.note(id);
        }
        return Ok(Some(byte));
    }
    if done {
        return Ok(None);
    }
    Err(Errno::EAGAIN)
}

/// SIOCATMARK: the reader is at the urgent byte.
pub(crate) fn at_mark(inner: &mut Inner, id: usize) -> bool {
    let Tcp::Connected(c) = inner.tcp_ep(id) else {
        return false;
    };
    let (sock, read) = (c.sock, c.read);
    inner
        .urgent
        .get(&sock)
        .is_some_and(|m| position(m, read) == m.at)
}

/// FIONREAD / SIOCINQ of a connection with `queued` unread bytes: the
/// hole is no data, and without SO_OOBINLINE only the bytes before the
/// urgent byte count (Linux answers 0 at the mark, with more queued
/// behind it).
pub(crate) fn inq(inner: &Inner, sock: Sock, read: u64, inline: bool, queued: u64) -> u64 {
    let Some(m) = inner.urgent.get(&sock) else {
        return queued;
    };
    let avail = queued - hole_at(m, read).min(queued);
    let pos = position(m, read);
    if inline || pos > m.at {
        avail
    } else {
        avail.min(m.at - pos)
    }
}

/// What the mark changes in tcp_poll's answer, given `queued` unread
/// bytes: whether they make the socket readable (the hole is no data,
/// and at the mark the urgent byte alone is not, unless inline), and
/// POLLPRI while an untaken urgent byte has arrived.
pub(crate) fn readiness(inner: &Inner, sock: Sock, read: u64, inline: bool, queued: u64) -> i16 {
    let Some(m) = inner.urgent.get(&sock) else {
        return if queued > 0 { libc::POLLIN } else { 0 };
    };
    let hole = hole_at(m, read).min(queued);
    let avail = queued - hole;
    let target = if position(m, read) == m.at && !inline {
        2
    } else {
        1
    };
    let mut ev = 0;
    if avail >= target {
        ev |= libc::POLLIN;
    }
    if !m.taken && m.at < read + queued {
        ev |= libc::POLLPRI;
    }
    ev
}
