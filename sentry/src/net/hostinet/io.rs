//! send and recv on a host socket, through a Sentry buffer: the host call
//! is made with MSG_DONTWAIT, and a task that must wait sleeps on the
//! socket's queue. (The application's pages could be handed to the host
//! as iovecs; the buffer keeps a fault in the middle of them from losing
//! track of what the host took.)

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

pub(super) fn recv(
    s: &HostSocket,
    t: &dyn Caller,
    msg: &mut RecvMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    let nonblock = nonblock || msg.flags & libc::MSG_DONTWAIT != 0;
    let stream = s.kind == libc::SOCK_STREAM;
    let peek = msg.flags & libc::MSG_PEEK != 0;
    let waitall = msg.flags & libc::MSG_WAITALL != 0 && stream && !peek;
    // A datagram's whole length comes back with MSG_TRUNC.
    let flags = msg.flags & RECV_FLAGS | if stream { 0 } else { libc::MSG_TRUNC };
    let timeout = s.timeouts().rcv;
    let mut buf = vec![0u8; msg.data.len().min(CHUNK)];
    loop {
        let mut from = [0u8; 128];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: msg.data.len().min(buf.len()),
        };
        let mut m: libc::msghdr = crate::usermem::zeroed();
        m.msg_name = from.as_mut_ptr().cast();
        m.msg_namelen = from.len() as u32;
        m.msg_iov = &mut iov;
        m.msg_iovlen = 1;
        // SAFETY: `m` points at live buffers (`from`, `buf` through `iov`)
        // of the lengths it gives.
        let r = unsafe { libc::recvmsg(s.raw(), &mut m, flags | libc::MSG_DONTWAIT) };
        match check(r) {
            Ok(n) if !stream => {
                let copied = n.min(iov.iov_len);
                msg.data.copy_out(&buf[..copied])?;
                msg.full_len = n;
                if m.msg_flags & libc::MSG_TRUNC != 0 {
                    msg.out_flags |= libc::MSG_TRUNC;
                }
                // A host Unix peer's name would be a host path.
                if m.msg_namelen > 0 && !s.is_unix() {
                    msg.from = Some(from[..(m.msg_namelen as usize).min(from.len())].to_vec());
                }
                return Ok(if msg.flags & libc::MSG_TRUNC != 0 {
                    n
                } else {
                    copied
                });
            }
            Ok(0) => return Ok(msg.data.done()),
            Ok(n) => {
                if let Err(e) = msg.data.copy_out(&buf[..n]) {
                    return progress(msg.data.done(), e);
                }
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
