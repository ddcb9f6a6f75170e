//! send and recv on a host socket: the host call is made with
//! MSG_DONTWAIT, and a task that must wait sleeps on the socket's queue.
//! recv hands the application's pages to the host as iovecs (checked
//! mapped first, so no fault can come in the middle); send goes through a
//! Sentry buffer, kept until the host took all of it.

use super::{check, HostSocket};
use crate::errno::Errno;
use crate::net::socket::{RecvMsg, SendMsg};
use crate::vfs::io::progress;
use crate::vfs::Caller;

/// The most one host call moves.
const CHUNK: usize = 256 * 1024;

/// The MSG_* flags passed on to the host as the application gave them.
const SEND_FLAGS: i32 = libc::MSG_EOR | libc::MSG_MORE | libc::MSG_OOB | libc::MSG_CONFIRM;
const RECV_FLAGS: i32 = libc::MSG_PEEK | libc::MSG_OOB;

fn host_sendto(fd: i32, data: &[u8], to: Option<&[u8]>, flags: i32) -> Result<usize, Errno> {
    let (addr, len) = match to {
        Some(a) => (a.as_ptr(), a.len() as libc::socklen_t),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: `data` and the address are live buffers of the lengths
    // passed (or a null address with length 0).
    let r = unsafe {
        libc::sendto(
            fd,
            data.as_ptr().cast(),
            data.len(),
            flags | libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            addr.cast(),
            len,
        )
    };
    check(r)
}

pub(super) fn send(
    s: &HostSocket,
    t: &dyn Caller,
    msg: &mut SendMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    let nonblock = nonblock || msg.flags & libc::MSG_DONTWAIT != 0;
    if s.is_unix() && !msg.control.is_empty() {
        // Sandbox files cannot become host descriptors, and credentials
        // would be the Sentry's: refused, not silently dropped.
        return Err(Errno::EINVAL);
    }
    let flags = msg.flags & SEND_FLAGS;
    let to = match &msg.to {
        Some(a) => Some(s.checked_addr(a)?),
        None => None,
    };
    let stream = s.kind == libc::SOCK_STREAM;
    let timeout = s.timeouts().snd;
    // A datagram goes whole; a stream in chunks, each kept until the host
    // took all of it.
    let mut pending: Vec<u8> = Vec::new();
    let mut at = 0;
    let mut sent = 0;
    loop {
        if at == pending.len() {
            let want = if stream {
                msg.data.len().min(CHUNK)
            } else {
                msg.data.len()
            };
            pending.resize(want, 0);
            let got = match msg.data.copy_in(&mut pending) {
                Ok(n) => n,
                Err(e) => return progress(sent, e),
            };
            pending.truncate(got);
            at = 0;
        }
        match host_sendto(s.raw(), &pending[at..], to.as_deref(), flags) {
            Ok(n) => {
                at += n;
                sent += n;
                if !stream || (at == pending.len() && msg.data.is_empty()) || pending.is_empty() {
                    return Ok(sent);
                }
                continue;
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => return progress(sent, e),
        }
        if nonblock {
            return progress(sent, Errno::EAGAIN);
        }
        if let Err(e) = s.wait_for(t, libc::POLLOUT, timeout) {
            return progress(sent, e);
        }
    }
}

/// What one host recvmsg answered.
struct Received {
    /// Its return: for a datagram the whole record's length.
    len: usize,
    msg_flags: i32,
    from: Vec<u8>,
}

/// One recvmsg(MSG_DONTWAIT) into `pieces`.
fn host_recv(fd: i32, pieces: &[(*mut u8, usize)], flags: i32) -> Result<Received, Errno> {
    let mut from = [0u8; 128];
    let mut iov: Vec<libc::iovec> = pieces
        .iter()
        .map(|&(p, n)| libc::iovec {
            iov_base: p.cast(),
            iov_len: n,
        })
        .collect();
    let mut m: libc::msghdr = crate::usermem::zeroed();
    m.msg_name = from.as_mut_ptr().cast();
    m.msg_namelen = from.len() as u32;
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = iov.len();
    // SAFETY: `m` points at `from` and at the iovecs, whose pieces the
    // caller guarantees writable for their lengths.
    let r = unsafe { libc::recvmsg(fd, &mut m, flags | libc::MSG_DONTWAIT) };
    let len = check(r)?;
    Ok(Received {
        len,
        msg_flags: m.msg_flags,
        from: from[..(m.msg_namelen as usize).min(from.len())].to_vec(),
    })
}

/// Receives into the application's pages straight (one copy, as
/// natively); buffers that are not all plain memory go through a Sentry
/// buffer. The bytes moved are counted in `msg.data`.
fn recv_once(s: &HostSocket, msg: &mut RecvMsg<'_>, flags: i32) -> Result<Received, Errno> {
    let want = msg.data.len();
    let mut got = None;
    let direct = msg.data.with_ranges(want, true, &mut |pieces| {
        let total: usize = pieces.iter().map(|p| p.1).sum();
        let r = host_recv(s.raw(), pieces, flags)?;
        let moved = r.len.min(total);
        got = Some(r);
        Ok(moved)
    });
    match direct {
        Ok(Ok(_)) => got.ok_or(Errno::EIO),
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let mut buf = vec![0u8; want.min(CHUNK)];
            let r = host_recv(s.raw(), &[(buf.as_mut_ptr(), buf.len())], flags)?;
            msg.data.copy_out(&buf[..r.len.min(buf.len())])?;
            Ok(r)
        }
    }
}

pub(super) fn recv(
    s: &HostSocket,
    t: &dyn Caller,
    msg: &mut RecvMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    // recv(MSG_OOB) never waits (Linux's tcp_recv_urg).
    let nonblock = nonblock || msg.flags & (libc::MSG_DONTWAIT | libc::MSG_OOB) != 0;
    let stream = s.kind == libc::SOCK_STREAM;
    let peek = msg.flags & libc::MSG_PEEK != 0;
    let waitall = msg.flags & libc::MSG_WAITALL != 0 && stream && !peek;
    // A datagram's whole length comes back with MSG_TRUNC.
    let flags = msg.flags & RECV_FLAGS | if stream { 0 } else { libc::MSG_TRUNC };
    let timeout = s.timeouts().rcv;
    loop {
        let before = msg.data.done();
        match recv_once(s, msg, flags) {
            Ok(r) if !stream => {
                let copied = msg.data.done() - before;
                msg.full_len = r.len;
                if r.msg_flags & libc::MSG_TRUNC != 0 {
                    msg.out_flags |= libc::MSG_TRUNC;
                }
                // A host Unix peer's name would be a host path.
                if !r.from.is_empty() && !s.is_unix() {
                    msg.from = Some(r.from);
                }
                return Ok(if msg.flags & libc::MSG_TRUNC != 0 {
                    r.len
                } else {
                    copied
                });
            }
            // Urgent data: one byte (or none, with MSG_TRUNC, into an
            // empty buffer), flagged as the host flags it.
            Ok(r) if msg.flags & libc::MSG_OOB != 0 => {
                msg.out_flags |= r.msg_flags & (libc::MSG_OOB | libc::MSG_TRUNC);
                return Ok(r.len);
            }
            Ok(r) if r.len == 0 => return Ok(msg.data.done()),
            Ok(_) => {
                if !waitall || msg.data.is_empty() {
                    return Ok(msg.data.done());
                }
                continue;
            }
            Err(Errno::EAGAIN) => {}
            Err(e) => return progress(msg.data.done(), e),
        }
        if nonblock {
            return progress(msg.data.done(), Errno::EAGAIN);
        }
        if let Err(e) = s.wait_for(t, libc::POLLIN | libc::POLLRDHUP, timeout) {
            return progress(msg.data.done(), e);
        }
    }
}
