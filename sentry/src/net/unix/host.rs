//! An AF_UNIX socket connected to a host socket: a socket file of a tree
//! the Gofer serves, which the Gofer connected on the sandbox's behalf
//! (gVisor's `--host-uds=open`). The socket keeps its own name, the path
//! it connected to as its peer's, and its options; data, readiness and
//! SO_PEERCRED (host ids) are the host socket's, driven as `hostinet`
//! drives host inet sockets. SCM_RIGHTS and SCM_CREDENTIALS are refused
//! on send (EINVAL) and descriptors the host sends are dropped (the host
//! kernel closes them and sets MSG_CTRUNC).

use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use super::names::Found;
use super::{socket, UnixSocket};
use crate::errno::Errno;
use crate::net::addr::UnixName;
use crate::net::hostinet::HostSocket;
use crate::net::socket::Socket;
use crate::vfs::Caller;

/// How often a blocking connect asks the Gofer again while the host
/// listener's backlog is full (the host's own wait cannot be shared).
const BACKLOG_POLL: Duration = Duration::from_millis(10);

impl UnixSocket {
    /// [`UnixSocket::find_or_host`] for connect(2): a host listener with
    /// a full backlog (the Gofer's non-blocking connect says EAGAIN) is
    /// waited out as Linux's blocking connect waits, up to SO_SNDTIMEO,
    /// a signal interrupting.
    pub(super) fn find_for_connect(
        &self,
        t: &dyn Caller,
        name: &UnixName,
        nonblock: bool,
    ) -> Result<Found, Errno> {
        let limit = self.lock().sndtimeo;
        let start = Instant::now();
        loop {
            match self.find_or_host(t, name) {
                Err(Errno::EAGAIN) if !nonblock => {}
                r => return r,
            }
            if limit.is_some_and(|l| start.elapsed() >= l) {
                return Err(Errno::EAGAIN);
            }
            let until = Instant::now() + BACKLOG_POLL;
            match t.block(&[&self.queue], Some(until), &mut || false) {
                Err(Errno::ETIMEDOUT) | Ok(()) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes this socket the front of `fd`, the Gofer's connection to the
    /// host socket at `name`.
    pub(super) fn adopt_host(&self, fd: OwnedFd, name: &UnixName) -> Result<(), Errno> {
        let host = HostSocket::adopt_unix(self.names.poller(), fd, self.kind, self.queue.clone())?;
        let (rcv, snd) = {
            let mut st = self.lock();
            st.connected = self.connection_based();
            st.peer_name = name.clone();
            (st.rcvtimeo, st.sndtimeo)
        };
        set_timeout(&host, libc::SO_RCVTIMEO, rcv)?;
        set_timeout(&host, libc::SO_SNDTIMEO, snd)?;
        // Two racing connects: the first to finish wins, as Linux's
        // EISCONN for the second.
        self.host.set(host).map_err(|_| Errno::EISCONN)?;
        self.queue.notify_all();
        Ok(())
    }

    /// getsockopt answered by the host socket: SO_PEERCRED and SO_ERROR;
    /// `None` for the socket's own options.
    pub(super) fn host_getsockopt(&self, level: i32, name: i32) -> Option<Result<Vec<u8>, Errno>> {
        let h = self.host.get()?;
        if level != libc::SOL_SOCKET {
            return None;
        }
        match name {
            libc::SO_PEERCRED => Some(h.peer_cred().map(|c| {
                let bytes = [
                    c.pid.to_ne_bytes(),
                    c.uid.to_ne_bytes(),
                    c.gid.to_ne_bytes(),
                ];
                bytes.concat()
            })),
            libc::SO_ERROR => Some(h.getsockopt(level, name)),
            _ => None,
        }
    }

    /// setsockopt's receive and send timeouts reach the host socket too
    /// (its waits use its own copy).
    pub(super) fn host_setsockopt(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        let Some(h) = self.host.get() else {
            return Ok(());
        };
        match (level, name) {
            (libc::SOL_SOCKET, libc::SO_RCVTIMEO | libc::SO_SNDTIMEO) => {
                h.setsockopt_local(level, name, val)
            }
            _ => Ok(()),
        }
    }
}

fn set_timeout(h: &HostSocket, name: i32, t: Option<std::time::Duration>) -> Result<(), Errno> {
    h.setsockopt_local(libc::SOL_SOCKET, name, &socket::timeval_bytes(t))
}
