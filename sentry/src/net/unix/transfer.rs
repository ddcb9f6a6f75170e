//! Moving messages: send into the peer's receive queue, recv from one's
//! own. A stream's bytes coalesce across sends; a seqpacket record or a
//! datagram is read whole or cut (MSG_TRUNC).
//!
//! No two sockets' locks are ever held at once: a sender reads its own
//! state, lets go, then locks the receiver. A send with descriptors, and
//! a receive from a queue holding some, first take the in-flight lock
//! (`inflight.rs`), so that queueing or taking the descriptors and
//! counting them is one step to the collector.

use std::sync::{Arc, Weak};

use super::inflight::{Locked, Sender};
use super::queue::Message;
use super::{message_cred, UnixSocket, MAX_DGRAM_QUEUE};
use crate::caps::{CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN};
use crate::errno::Errno;
use crate::net::addr::UnixName;
use crate::net::socket::{self, RecvMsg, SendMsg};
use crate::vfs::io::progress;
use crate::vfs::Caller;

/// Largest piece of a stream send queued as one message.
const STREAM_CHUNK: usize = 64 * 1024;

/// The credentials a message carries: the ones the sender gave
/// (SCM_CREDENTIALS, checked as Linux's scm_check_creds does, its pid a
/// number in the sender's PID namespace: ESRCH for none), else the
/// sender's own. The pid is kept as a kernel id; the receiver sees its
/// own namespace's number.
fn credentials(t: &dyn Caller, msg: &SendMsg<'_>) -> Result<libc::ucred, Errno> {
    let own = message_cred(t);
    let Some(c) = msg.control.creds else {
        return Ok(own);
    };
    let (real, eff) = (t.real_cred(), t.fs_cred());
    let pid_ok = c.pid == t.pid_nr(own.pid) || eff.capable(CAP_SYS_ADMIN);
    let uid_ok = c.uid == real.uid || c.uid == eff.uid || eff.capable(CAP_SETUID);
    let gid_ok = c.gid == real.gid || c.gid == eff.gid || eff.capable(CAP_SETGID);
    if !(pid_ok && uid_ok && gid_ok) {
        return Err(Errno::EPERM);
    }
    let pid = t.pid_kernel(c.pid).ok_or(Errno::ESRCH)?;
    Ok(libc::ucred { pid, ..c })
}

/// The sender of a message with descriptors, allowed to queue them
/// (ETOOMANYREFS when its user has too many in flight); None for a
/// message without.
fn rights_sender(
    s: &UnixSocket,
    t: &dyn Caller,
    msg: &SendMsg<'_>,
) -> Result<Option<Sender>, Errno> {
    if msg.control.rights.is_empty() {
        return Ok(None);
    }
    let inflight = s.names.inflight();
    inflight.before_send();
    let who = Sender::of(t);
    inflight.check(&who)?;
    Ok(Some(who))
}

/// Counts `rights`, about to be queued, for `who`; the uid the message
/// records.
fn charge(
    gc: Option<&mut Locked<'_>>,
    who: Option<&Sender>,
    rights: &[Arc<crate::vfs::File>],
) -> u32 {
    match (gc, who) {
        (Some(gc), Some(who)) if !rights.is_empty() => {
            gc.charge(who, rights);
            who.uid
        }
        _ => 0,
    }
}

pub(super) fn send(
    s: &UnixSocket,
    t: &dyn Caller,
    msg: &mut SendMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    let nonblock = nonblock || msg.flags & libc::MSG_DONTWAIT != 0;
    let creds = credentials(t, msg)?;
    if s.lock().passcred {
        s.autobind()?;
    }
    if s.connection_based() {
        send_connected(s, t, msg, creds, nonblock)
    } else {
        send_datagram(s, t, msg, creds, nonblock)
    }
}

fn send_connected(
    s: &UnixSocket,
    t: &dyn Caller,
    msg: &mut SendMsg<'_>,
    creds: libc::ucred,
    nonblock: bool,
) -> Result<usize, Errno> {
    let (peer, sndbuf, timeout) = {
        let st = s.lock();
        if msg.to.is_some() {
            return Err(if st.connected {
                Errno::EISCONN
            } else {
                Errno::EOPNOTSUPP
            });
        }
        if st.shut_wr {
            return Err(Errno::EPIPE);
        }
        if !st.connected {
            return Err(Errno::ENOTCONN);
        }
        let peer = st.peer.as_ref().and_then(Weak::upgrade);
        (peer, st.sndbuf, st.sndtimeo)
    };
    let peer = peer.ok_or(Errno::EPIPE)?;
    let total = msg.data.len();
    let record = s.kind == libc::SOCK_SEQPACKET;
    if record && total > sndbuf {
        return Err(Errno::EMSGSIZE);
    }
    let sender = rights_sender(s, t, msg)?;
    let mut rights = std::mem::take(&mut msg.control.rights);
    let inflight = s.names.inflight();
    let mut sent = 0;
    loop {
        {
            let mut gc = (!rights.is_empty()).then(|| inflight.lock());
            let mut ps = peer.lock();
            if ps.shut_rd || ps.peer_closed {
                return progress(sent, Errno::EPIPE);
            }
            let room = sndbuf.saturating_sub(ps.recv.bytes);
            let fits = if record {
                room >= total || ps.recv.is_empty()
            } else {
                room > 0
            };
            if fits {
                let n = if record {
                    total
                } else {
                    (total - sent).min(room).min(STREAM_CHUNK)
                };
                let mut data = vec![0u8; n];
                let got = match msg.data.copy_in(&mut data) {
                    Ok(g) => g,
                    Err(e) => return progress(sent, e),
                };
                data.truncate(got);
                let charged_to = charge(gc.as_mut(), sender.as_ref(), &rights);
                ps.recv.push(Message {
                    data,
                    taken: 0,
                    rights: std::mem::take(&mut rights),
                    charged_to,
                    creds,
                    from: Vec::new(),
                });
                drop(ps);
                drop(gc);
                s.notify_with(Some(&peer));
                sent += got;
                if sent >= total || got < n || record {
                    return Ok(sent);
                }
                continue;
            }
        }
        if nonblock {
            return progress(sent, Errno::EAGAIN);
        }
        // Wake for exactly what lets the loop go on: the room a record
        // (seqpacket) or any byte (stream) needs, or the end.
        if let Err(e) = socket::wait(t, &[&s.queue], timeout, &mut || {
            let ps = peer.lock();
            let room = sndbuf.saturating_sub(ps.recv.bytes);
            let fits = if record {
                room >= total || ps.recv.is_empty()
            } else {
                room > 0
            };
            ps.shut_rd || ps.peer_closed || fits || s.lock().shut_wr
        }) {
            return progress(sent, e);
        }
    }
}

fn send_datagram(
    s: &UnixSocket,
    t: &dyn Caller,
    msg: &mut SendMsg<'_>,
    creds: libc::ucred,
    nonblock: bool,
) -> Result<usize, Errno> {
    let (default, sndbuf, timeout, from) = {
        let st = s.lock();
        if st.shut_wr {
            return Err(Errno::EPIPE);
        }
        (
            st.peer.clone(),
            st.sndbuf,
            st.sndtimeo,
            st.name.to_sockaddr(),
        )
    };
    // Linux's order: the address, the size, the descriptors, then the
    // destination.
    let name = msg.to.as_deref().map(UnixName::parse).transpose()?;
    let total = msg.data.len();
    if total > sndbuf {
        return Err(Errno::EMSGSIZE);
    }
    let sender = rights_sender(s, t, msg)?;
    let target = match &name {
        Some(name) => s.find(t, name)?,
        None => default
            .ok_or(Errno::ENOTCONN)?
            .upgrade()
            .ok_or(Errno::ECONNREFUSED)?,
    };
    let mut data = vec![0u8; total];
    let got = msg.data.copy_in(&mut data)?;
    data.truncate(got);
    let mut m = Some(Message {
        data,
        taken: 0,
        rights: std::mem::take(&mut msg.control.rights),
        charged_to: 0,
        creds,
        from,
    });
    let inflight = s.names.inflight();
    let me: Weak<UnixSocket> = s.me.clone();
    loop {
        {
            let carries = m.as_ref().is_some_and(|m| !m.rights.is_empty());
            let mut gc = carries.then(|| inflight.lock());
            let mut ts = target.lock();
            // A socket connected elsewhere takes datagrams only from its
            // peer.
            if ts.peer.as_ref().is_some_and(|p| !p.ptr_eq(&me)) {
                return Err(Errno::EPERM);
            }
            if ts.shut_rd {
                return Err(Errno::EPIPE);
            }
            if ts.recv.msgs.len() < MAX_DGRAM_QUEUE {
                let mut m = m.take().expect("sent once");
                m.charged_to = charge(gc.as_mut(), sender.as_ref(), &m.rights);
                ts.recv.push(m);
                drop(ts);
                drop(gc);
                s.notify_with(Some(&target));
                return Ok(got);
            }
        }
        if nonblock {
            return Err(Errno::EAGAIN);
        }
        socket::wait(t, &[&target.queue], timeout, &mut || {
            let ts = target.lock();
            ts.shut_rd || ts.recv.msgs.len() < MAX_DGRAM_QUEUE
        })?;
    }
}

pub(super) fn recv(
    s: &UnixSocket,
    t: &dyn Caller,
    msg: &mut RecvMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    let nonblock = nonblock || msg.flags & libc::MSG_DONTWAIT != 0;
    let waitall = msg.flags & libc::MSG_WAITALL != 0 && s.is_stream();
    let timeout = s.lock().rcvtimeo;
    let inflight = s.names.inflight();
    let mut carries = false;
    loop {
        let mut peer = None;
        {
            let mut gc = carries.then(|| inflight.lock());
            let mut st = s.lock();
            if st.listener.is_some() || (s.connection_based() && !st.connected) {
                return Err(Errno::EINVAL);
            }
            if !st.recv.is_empty() {
                if gc.is_none() && st.recv.with_rights > 0 {
                    // Again, in the lock order.
                    carries = true;
                    continue;
                }
                let r = if s.is_stream() {
                    take_stream(&mut st, msg, gc.as_mut())
                } else {
                    take_record(s, &mut st, msg, gc.as_mut())
                };
                peer = st.peer.as_ref().and_then(Weak::upgrade);
                drop(st);
                drop(gc);
                s.notify_with(peer.as_deref());
                let n = r?;
                // Descriptors end even a MSG_WAITALL read, as on Linux
                // (a second batch would have nowhere to go).
                let took_rights = !msg.control.rights.is_empty();
                if !waitall || msg.data.is_empty() || msg.flags & libc::MSG_PEEK != 0 || took_rights
                {
                    // A stream's MSG_WAITALL counts every step's bytes.
                    return Ok(if waitall { msg.data.done() } else { n });
                }
                continue;
            }
            if st.shut_rd || st.peer_shut_wr || st.peer_closed {
                return Ok(msg.data.done());
            }
        }
        drop(peer);
        if msg.data.done() > 0 && !waitall {
            return Ok(msg.data.done());
        }
        if nonblock {
            return progress(msg.data.done(), Errno::EAGAIN);
        }
        if let Err(e) = socket::wait(t, &[&s.queue], timeout, &mut || {
            let st = s.lock();
            !st.recv.is_empty() || st.shut_rd || st.peer_shut_wr || st.peer_closed
        }) {
            return progress(msg.data.done(), e);
        }
    }
}

/// A stream read: bytes from the front messages until the buffers are
/// full. It stops before a message with descriptors once it has read
/// something, and after one it read (Linux's unix_stream_read_generic),
/// and, for a reader with SO_PASSCRED, where the sender changes.
///
/// Descriptors taken off the queue are uncounted in `gc`, held whenever
/// the queue holds any.
fn take_stream(
    st: &mut super::State,
    msg: &mut RecvMsg<'_>,
    mut gc: Option<&mut Locked<'_>>,
) -> Result<usize, Errno> {
    let peek = msg.flags & libc::MSG_PEEK != 0;
    let start = msg.data.done();
    let mut first_creds = None;
    let mut i = 0;
    while !msg.data.is_empty() {
        let Some(m) = st.recv.msgs.get(i) else { break };
        let has_rights = !m.rights.is_empty();
        let read_any = msg.data.done() > start;
        if read_any && has_rights {
            break;
        }
        if st.passcred {
            match first_creds {
                None => first_creds = Some(m.creds),
                Some(c) if !same_cred(&c, &m.creds) => break,
                Some(_) => {}
            }
        }
        let left = m.left();
        let n = match msg.data.copy_out(left) {
            Ok(n) => n,
            Err(e) if !read_any => return Err(e),
            Err(_) => break,
        };
        let whole = n == left.len();
        if has_rights {
            msg.control.rights = if peek {
                m.rights.clone()
            } else {
                let charged_to = m.charged_to;
                let rights = st.recv.take_rights(i);
                debug_assert!(gc.is_some(), "descriptors taken without the lock");
                if let Some(gc) = gc.as_deref_mut() {
                    gc.uncharge(charged_to, &rights);
                }
                rights
            };
        }
        if peek {
            i += 1;
        } else {
            st.recv.take(n);
            if whole {
                st.recv.pop();
            }
        }
        if !whole || has_rights {
            break;
        }
    }
    if st.passcred {
        msg.control.creds = first_creds;
    }
    Ok(msg.data.done() - start)
}

/// A seqpacket record or a datagram: read whole, or cut to the buffers
/// with MSG_TRUNC.
fn take_record(
    s: &UnixSocket,
    st: &mut super::State,
    msg: &mut RecvMsg<'_>,
    gc: Option<&mut Locked<'_>>,
) -> Result<usize, Errno> {
    let peek = msg.flags & libc::MSG_PEEK != 0;
    let m = st.recv.msgs.front().expect("a message");
    let n = msg.data.copy_out(&m.data)?;
    if n < m.data.len() {
        msg.out_flags |= libc::MSG_TRUNC;
    }
    msg.full_len = m.data.len();
    if s.kind == libc::SOCK_DGRAM {
        msg.from = Some(m.from.clone());
    }
    if st.passcred {
        msg.control.creds = Some(m.creds);
    }
    if peek {
        msg.control.rights = m.rights.clone();
    } else if let Some(m) = st.recv.pop() {
        if let (Some(gc), false) = (gc, m.rights.is_empty()) {
            gc.uncharge(m.charged_to, &m.rights);
        }
        msg.control.rights = m.rights;
    }
    if msg.flags & libc::MSG_TRUNC != 0 {
        return Ok(msg.full_len);
    }
    Ok(n)
}

fn same_cred(a: &libc::ucred, b: &libc::ucred) -> bool {
    a.pid == b.pid && a.uid == b.uid && a.gid == b.gid
}
