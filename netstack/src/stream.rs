//! A TCP endpoint's data path: send, recv and poll(2) readiness over its
//! connection's smoltcp socket, and `sync`, which reads what the peer
//! did (FIN, reset) from that socket after each poll.

use std::net::SocketAddr;

use smoltcp::socket::tcp::State;

use crate::errno::Errno;
use crate::state::{Inner, Tcp};
use crate::tcp_sock::{apply_options, peer_finished, rewake, send_limit};
use crate::urgent;

/// Brings a connection up to date with its smoltcp socket after a poll:
/// smoltcp keeps no error and reports the peer's FIN only through the
/// socket's state, so the endpoint notes both here.
pub(crate) fn sync(inner: &mut Inner, id: usize) {
    let Tcp::Connected(c) = inner.tcp_ep(id) else {
        return;
    };
    if c.closed {
        return;
    }
    let sock = c.sock;
    rewake(inner, id, sock);
    let s = inner.tcp(sock);
    let fin = peer_finished(s);
    let closed = s.state() == State::Closed;
    let opts = inner.ep(id).opts.clone();
    apply_options(inner.tcp(sock), &opts);
    let Tcp::Connected(c) = inner.tcp_ep(id) else {
        unreachable!()
    };
    c.fin_seen |= fin;
    if closed {
        c.closed = true;
        if !(c.fin_seen && c.shut_wr) {
            let fin_seen = c.fin_seen;
            let e = if inner.resets.contains(&sock) {
                // Linux's tcp_reset: EPIPE once the peer had closed
                // its side, ECONNRESET otherwise.
                if fin_seen {
                    Errno::EPIPE
                } else {
                    Errno::ECONNRESET
                }
            } else {
                // smoltcp gave up retransmitting (tcp_write_err): the
                // ICMP error noted meanwhile, else ETIMEDOUT.
                inner
                    .ep_mut(id)
                    .soft_error
                    .take()
                    .unwrap_or(Errno::ETIMEDOUT)
            };
            inner.ep_mut(id).error = Some(e);
        }
    }
}

/// Queues up to `len` bytes; `urgent` (MSG_OOB) marks the last one for
/// the peer (see `urgent`).
pub(crate) fn send(
    inner: &mut Inner,
    id: usize,
    len: usize,
    urgent: bool,
    fill: &mut dyn FnMut(&mut [u8]) -> Result<usize, Errno>,
) -> Result<usize, Errno> {
    let sock = match inner.tcp_ep(id) {
        Tcp::Connecting { .. } => return Err(Errno::EAGAIN),
        Tcp::Idle { .. } | Tcp::Listening(_) => return Err(Errno::ENOTCONN),
        Tcp::Connected(c) => {
            if c.shut_wr {
                return Err(Errno::EPIPE);
            }
            c.sock
        }
    };
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let opts = inner.ep(id).opts.clone();
    let s = inner.tcp(sock);
    if !s.may_send() {
        return Err(Errno::EPIPE);
    }
    if len == 0 {
        // Nothing to queue: Linux answers 0 at once, never waits for room.
        return Ok(0);
    }
    let room = send_limit(s, opts.send_buf).saturating_sub(s.send_queue());
    let len = len.min(room);
    let mut total = 0;
    let mut err = None;
    let mut last = 0;
    while total < len {
        let want = len - total;
        let r = s.send(|buf| {
            let n = buf.len().min(want);
            if n == 0 {
                return (0, Ok((0, 0)));
            }
            match fill(&mut buf[..n]) {
                Ok(k) => {
                    let k = k.min(n);
                    if k > 0 {
                        last = buf[k - 1];
                    }
                    (k, Ok((k, n)))
                }
                Err(e) => (0, Err(e)),
            }
        });
        match r {
            Ok(Ok((k, offered))) => {
                total += k;
                if k == 0 || k < offered {
                    break;
                }
            }
            Ok(Err(e)) => {
                err = Some(e);
                break;
            }
            Err(_) => break,
        }
    }
    if total == 0 {
        return Err(err.unwrap_or(Errno::EAGAIN));
    }
    if let Tcp::Connected(c) = inner.tcp_ep(id) {
        c.sent += total as u64;
    }
    if urgent {
        urgent::mark(inner, id, last);
    }
    apply_options(inner.tcp(sock), &opts);
    inner.request_poll();
    Ok(total)
}

pub(crate) fn recv(
    inner: &mut Inner,
    id: usize,
    peek: bool,
    len: usize,
    drain: &mut dyn FnMut(&[u8]) -> Result<usize, Errno>,
) -> Result<(usize, Option<SocketAddr>), Errno> {
    let inline = inner.ep(id).opts.oob_inline;
    let (sock, peer, read) = match inner.tcp_ep(id) {
        Tcp::Connecting { .. } => return Err(Errno::EAGAIN),
        Tcp::Idle { .. } | Tcp::Listening(_) => return Err(Errno::ENOTCONN),
        Tcp::Connected(c) => (c.sock, c.peer, c.read),
    };
    let plan = if inner.urgent.is_empty() {
        urgent::Plan {
            skip: 0,
            limit: None,
        }
    } else {
        urgent::plan(inner, sock, read, inline)
    };
    let s = inner.tcp(sock);
    let skip = (plan.skip as usize).min(s.recv_queue());
    let len = plan.limit.map_or(len, |l| len.min(l as usize));
    if s.recv_queue() > skip && len > 0 {
        let mut total = 0;
        let mut err = None;
        if peek {
            let mut tmp = vec![0; (skip + len).min(s.recv_queue())];
            let n = s.peek_slice(&mut tmp).unwrap_or(0);
            match drain(&tmp[skip.min(n)..n]) {
                Ok(k) => total = k,
                Err(e) => err = Some(e),
            }
        } else {
            if skip > 0 {
                // The urgent byte (or an older one) is not data here.
                let _ = s.recv_slice(&mut vec![0u8; skip]);
            }
            while total < len {
                let want = len - total;
                let r = s.recv(|buf| {
                    let n = buf.len().min(want);
                    if n == 0 {
                        return (0, Ok((0, 0)));
                    }
                    match drain(&buf[..n]) {
                        Ok(k) => (k.min(n), Ok((k.min(n), n))),
                        Err(e) => (0, Err(e)),
                    }
                });
                match r {
                    Ok(Ok((k, offered))) if k > 0 => {
                        total += k;
                        if k < offered {
                            break;
                        }
                    }
                    Ok(Err(e)) => {
                        err = Some(e);
                        break;
                    }
                    _ => break,
                }
            }
            advance(inner, id, sock, (skip + total) as u64);
            // The window opened: tell the peer now.
            inner.request_poll();
        }
        if total == 0 {
            if let Some(e) = err {
                return Err(e);
            }
        }
        return Ok((total, Some(peer)));
    }
    if skip > 0 && !peek {
        // Only the urgent byte was queued: it goes, and nothing is read.
        let _ = inner.tcp(sock).recv_slice(&mut vec![0u8; skip]);
        advance(inner, id, sock, skip as u64);
        inner.request_poll();
    }
    if let Some(e) = inner.ep_mut(id).error.take() {
        return Err(e);
    }
    let fin = peer_finished(inner.tcp(sock));
    let Tcp::Connected(c) = inner.tcp_ep(id) else {
        unreachable!()
    };
    c.fin_seen |= fin;
    if c.shut_rd || c.fin_seen || c.closed {
        return Ok((0, Some(peer)));
    }
    Err(Errno::EAGAIN)
}

/// Counts `n` bytes taken from the connection's receive buffer.
fn advance(inner: &mut Inner, id: usize, sock: crate::iface::Sock, n: u64) {
    let Tcp::Connected(c) = inner.tcp_ep(id) else {
        return;
    };
    c.read += n;
    let read = c.read;
    if !inner.urgent.is_empty() {
        urgent::passed(inner, sock, read);
    }
}

pub(crate) fn readiness(inner: &mut Inner, id: usize) -> i16 {
    let err = if inner.ep(id).error.is_some() {
        libc::POLLERR
    } else {
        0
    };
    let c = match inner.tcp_ep(id) {
        Tcp::Idle { failed: false } => return libc::POLLOUT | libc::POLLHUP | err,
        // A failed connect leaves the socket shut both ways (tcp_done).
        Tcp::Idle { failed: true } => {
            return libc::POLLIN | libc::POLLOUT | libc::POLLHUP | libc::POLLRDHUP | err
        }
        Tcp::Connecting { .. } => return err,
        Tcp::Listening(l) => {
            return if l.queue.is_empty() { 0 } else { libc::POLLIN };
        }
        Tcp::Connected(c) => (c.sock, c.shut_rd, c.shut_wr, c.fin_seen, c.closed, c.read),
    };
    let (sock, shut_rd, shut_wr, fin_seen, closed, read) = c;
    let (inline, send_buf) = (inner.ep(id).opts.oob_inline, inner.ep(id).opts.send_buf);
    let queued = inner.tcp(sock).recv_queue() as u64;
    let data = urgent::readiness(inner, sock, read, inline, queued);
    let s = inner.tcp(sock);
    let rd_shut = shut_rd || fin_seen || closed || peer_finished(s);
    let wr_shut = shut_wr || closed;
    let mut m = err;
    if rd_shut && wr_shut {
        m |= libc::POLLHUP;
    }
    if rd_shut {
        m |= libc::POLLIN | libc::POLLRDHUP;
    }
    m |= data;
    if wr_shut {
        m |= libc::POLLOUT;
    } else {
        // Linux's sk_stream_is_writeable: free space of at least half
        // what is queued, so a writer wakes for a useful amount.
        let used = s.send_queue();
        let free = send_limit(s, send_buf).saturating_sub(used);
        if free > 0 && free >= used / 2 {
            m |= libc::POLLOUT;
        }
    }
    m
}
