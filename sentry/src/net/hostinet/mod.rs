//! `--network=host`: the application's inet sockets are host sockets the
//! Sentry makes and drives on its behalf (gVisor's hostinet). The host
//! descriptor is non-blocking; a task that must wait sleeps on the
//! socket's wait queue, which the kernel's [`HostPoller`] wakes.
//!
//! Only what the application names is passed on: addresses are checked
//! for their family and length, flags and options go through allow-lists
//! ([`options`]), ancillary data is not forwarded, and every call is made
//! on the socket's own descriptor.
//!
//! * [`io`]: send and recv, straight between application pages and the
//!   host socket where the buffers allow.
//!
//! The same socket drives a host Unix socket the Gofer connected for an
//! AF_UNIX connect(2) ([`HostSocket::adopt_unix`]): then it is always
//! connected, sends no address and no ancillary data, and reports no
//! host name.

mod io;
mod options;

pub use options::passed as passed_options;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::inet::sockaddr::{self, Target};
use super::socket::{self, RecvMsg, SendMsg, Socket};
use crate::errno::Errno;
use crate::hostpoll::{HostPoller, Registration};
use crate::vfs::Caller;
use crate::waiter::WaitQueue;

fn set_nonblocking(fd: &OwnedFd) -> Result<(), Errno> {
    // SAFETY: F_GETFL and F_SETFL take and return plain flags.
    let fl = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) } as isize)? as i32;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK) } as isize)
        .map(drop)
}

fn last_errno() -> Errno {
    Errno::from_io(&std::io::Error::last_os_error())
}

/// A host call's result: the value, or the host's errno.
fn check(r: isize) -> Result<usize, Errno> {
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(r as usize)
    }
}

#[derive(Default)]
struct Timeouts {
    rcv: Option<Duration>,
    snd: Option<Duration>,
}

pub struct HostSocket {
    /// First, so it is dropped (taking the descriptor out of the poller's
    /// set by number) while the descriptor is still ours: once closed, its
    /// number may name another task's new socket.
    _reg: Registration,
    fd: OwnedFd,
    /// AF_INET, AF_INET6, or AF_UNIX for an adopted host Unix socket.
    domain: i32,
    kind: i32,
    ino: u64,
    queue: Arc<WaitQueue>,
    poller: Arc<HostPoller>,
    timeouts: Mutex<Timeouts>,
}

impl HostSocket {
    /// socket(2) on the host for AF_INET (`v6` false) or AF_INET6: TCP,
    /// UDP, or ICMP echo (whatever the host lets the Sentry make).
    pub fn new(
        poller: &Arc<HostPoller>,
        v6: bool,
        kind: i32,
        protocol: i32,
    ) -> Result<Arc<HostSocket>, Errno> {
        match kind {
            libc::SOCK_STREAM | libc::SOCK_DGRAM => {}
            // Raw sockets are not passed through: they would see all of
            // the host's traffic.
            libc::SOCK_RAW => return Err(Errno::EPERM),
            _ => return Err(Errno::ESOCKTNOSUPPORT),
        }
        let domain = if v6 { libc::AF_INET6 } else { libc::AF_INET };
        // SAFETY: creates a descriptor; the result is checked before it is
        // owned.
        let fd = unsafe {
            libc::socket(
                domain,
                kind | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                protocol,
            )
        };
        let fd = check(fd as isize)? as i32;
        // SAFETY: `fd` was just made and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Self::wrap(poller, fd, domain, kind, Arc::new(WaitQueue::new()))
    }

    /// A connected host Unix socket of type `kind` (the Gofer's, for an
    /// AF_UNIX connect to a host socket file), driven as the others are;
    /// `queue` is the sandbox socket's, so its waiters hear the host's
    /// events.
    pub fn adopt_unix(
        poller: &Arc<HostPoller>,
        fd: OwnedFd,
        kind: i32,
        queue: Arc<WaitQueue>,
    ) -> Result<Arc<HostSocket>, Errno> {
        set_nonblocking(&fd)?;
        Self::wrap(poller, fd, libc::AF_UNIX, kind, queue)
    }

    fn wrap(
        poller: &Arc<HostPoller>,
        fd: OwnedFd,
        domain: i32,
        kind: i32,
        queue: Arc<WaitQueue>,
    ) -> Result<Arc<HostSocket>, Errno> {
        let reg = poller.register(fd.as_raw_fd(), &queue)?;
        Ok(Arc::new(HostSocket {
            _reg: reg,
            fd,
            domain,
            kind,
            ino: crate::vfs::anon::anon_ino(),
            queue,
            poller: poller.clone(),
            timeouts: Mutex::new(Timeouts::default()),
        }))
    }

    fn raw(&self) -> i32 {
        self.fd.as_raw_fd()
    }

    fn v6(&self) -> bool {
        self.domain == libc::AF_INET6
    }

    fn is_unix(&self) -> bool {
        self.domain == libc::AF_UNIX
    }

    /// SO_PEERCRED of the host peer: host ids, as gVisor reports them.
    pub fn peer_cred(&self) -> Result<libc::ucred, Errno> {
        let mut c = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: `c` and `len` are live and describe each other.
        let r = unsafe {
            libc::getsockopt(
                self.raw(),
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut c as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        check(r as isize)?;
        Ok(c)
    }

    fn timeouts(&self) -> MutexGuard<'_, Timeouts> {
        self.timeouts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host socket's events among `mask`, without waiting.
    fn poll(&self, mask: i16) -> i16 {
        let mut p = libc::pollfd {
            fd: self.raw(),
            events: mask,
            revents: 0,
        };
        // SAFETY: one live pollfd and a zero timeout.
        let r = unsafe { libc::poll(&mut p, 1, 0) };
        if r <= 0 {
            0
        } else {
            p.revents
        }
    }

    /// Sleeps until the host socket shows one of `events` (or an error or
    /// hang-up).
    fn wait_for(
        &self,
        t: &dyn Caller,
        events: i16,
        timeout: Option<Duration>,
    ) -> Result<(), Errno> {
        let want = events | libc::POLLERR | libc::POLLHUP;
        socket::wait(t, &[&self.queue], timeout, &mut || self.poll(want) != 0)
    }

    /// An address the application gave, checked: its family matches the
    /// socket's and its length is what that family needs.
    fn checked_addr(&self, addr: &[u8]) -> Result<Vec<u8>, Errno> {
        if self.is_unix() {
            // Connected for good: another address would name a host path.
            return Err(Errno::EISCONN);
        }
        match sockaddr::parse(addr, self.v6())? {
            Target::Addr(a) => Ok(sockaddr::to_bytes(&a)),
            Target::Unspec => Ok(addr.to_vec()),
        }
    }

    /// getsockname(2) or getpeername(2) on the host socket.
    fn host_name(&self, peer: bool) -> Result<Vec<u8>, Errno> {
        let mut buf = [0u8; 128];
        let mut len = buf.len() as libc::socklen_t;
        // SAFETY: `buf` and `len` are live and describe each other.
        let r = unsafe {
            if peer {
                libc::getpeername(self.raw(), buf.as_mut_ptr().cast(), &mut len)
            } else {
                libc::getsockname(self.raw(), buf.as_mut_ptr().cast(), &mut len)
            }
        };
        check(r as isize)?;
        Ok(buf[..(len as usize).min(buf.len())].to_vec())
    }

    /// setsockopt(2) without a caller: the timeouts the Sentry keeps,
    /// the rest through the allow-list to the host.
    pub fn setsockopt_local(&self, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        match (level, name) {
            (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => {
                self.timeouts().rcv = socket::timeval_option(val)?;
                Ok(())
            }
            (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => {
                self.timeouts().snd = socket::timeval_option(val)?;
                Ok(())
            }
            _ => options::set(self.raw(), level, name, val),
        }
    }

    fn int_ioctl(&self, req: u64) -> usize {
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD and SIOCOUTQ write one int through the pointer.
        let r = unsafe { libc::ioctl(self.raw(), req, &mut n) };
        if r < 0 {
            0
        } else {
            n.max(0) as usize
        }
    }
}

impl Socket for HostSocket {
    fn domain(&self) -> i32 {
        self.domain
    }

    fn kind(&self) -> i32 {
        self.kind
    }

    fn bind(&self, t: &dyn Caller, addr: &[u8]) -> Result<(), Errno> {
        if let (false, Ok(Target::Addr(a))) = (self.is_unix(), sockaddr::parse(addr, self.v6())) {
            if self.kind != libc::SOCK_RAW {
                sockaddr::may_bind(t, &a)?;
            }
        }
        let a = self.checked_addr(addr)?;
        // SAFETY: `a` is a live buffer of the length passed.
        let r = unsafe { libc::bind(self.raw(), a.as_ptr().cast(), a.len() as libc::socklen_t) };
        check(r as isize).map(drop)
    }

    fn listen(&self, _t: &dyn Caller, backlog: i32) -> Result<(), Errno> {
        // SAFETY: no pointers.
        check(unsafe { libc::listen(self.raw(), backlog) } as isize).map(drop)
    }

    fn accept(&self, t: &dyn Caller, nonblock: bool) -> Result<(Arc<dyn Socket>, Vec<u8>), Errno> {
        let timeout = self.timeouts().rcv;
        loop {
            let mut buf = [0u8; 128];
            let mut len = buf.len() as libc::socklen_t;
            // SAFETY: `buf` and `len` are live and describe each other.
            let r = unsafe {
                libc::accept4(
                    self.raw(),
                    buf.as_mut_ptr().cast(),
                    &mut len,
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            match check(r as isize) {
                Ok(fd) => {
                    // SAFETY: accept4 just made this descriptor.
                    let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
                    let queue = Arc::new(WaitQueue::new());
                    let s = HostSocket::wrap(&self.poller, fd, self.domain, self.kind, queue)?;
                    return Ok((s, buf[..(len as usize).min(buf.len())].to_vec()));
                }
                Err(Errno::EAGAIN) if !nonblock => self.wait_for(t, libc::POLLIN, timeout)?,
                Err(e) => return Err(e),
            }
        }
    }

    fn connect(&self, t: &dyn Caller, addr: &[u8], nonblock: bool) -> Result<(), Errno> {
        let a = self.checked_addr(addr)?;
        // SAFETY: `a` is a live buffer of the length passed.
        let r = unsafe { libc::connect(self.raw(), a.as_ptr().cast(), a.len() as libc::socklen_t) };
        match check(r as isize) {
            Err(Errno::EINPROGRESS) if !nonblock && self.kind == libc::SOCK_STREAM => {}
            r => return r.map(drop),
        }
        let timeout = self.timeouts().snd;
        match self.wait_for(t, libc::POLLOUT, timeout) {
            Err(Errno::EAGAIN) => return Err(Errno::EINPROGRESS),
            r => r?,
        }
        // A second connect gives the result and leaves the socket as
        // Linux leaves a failed blocking connect (unconnected, so a retry
        // tries again); SO_ERROR would leave it "connecting".
        loop {
            // SAFETY: `a` is a live buffer of the length passed.
            let r =
                unsafe { libc::connect(self.raw(), a.as_ptr().cast(), a.len() as libc::socklen_t) };
            match check(r as isize) {
                Err(Errno::EALREADY) => self.wait_for(t, libc::POLLOUT, timeout)?,
                Err(Errno::EISCONN) => return Ok(()),
                r => return r.map(drop),
            }
        }
    }

    fn shutdown(&self, how: i32) -> Result<(), Errno> {
        // SAFETY: no pointers.
        check(unsafe { libc::shutdown(self.raw(), how) } as isize).map(drop)
    }

    fn name(&self) -> Vec<u8> {
        if self.is_unix() {
            // The host's autobind name, if any, is the host's business.
            return super::addr::UnixName::Unnamed.to_sockaddr();
        }
        self.host_name(false)
            .unwrap_or_else(|_| sockaddr::to_bytes(&sockaddr::unspecified(self.v6())))
    }

    fn peer_name(&self) -> Result<Vec<u8>, Errno> {
        self.host_name(true)
    }

    fn send(&self, t: &dyn Caller, msg: &mut SendMsg<'_>, nonblock: bool) -> Result<usize, Errno> {
        io::send(self, t, msg, nonblock)
    }

    fn recv(&self, t: &dyn Caller, msg: &mut RecvMsg<'_>, nonblock: bool) -> Result<usize, Errno> {
        io::recv(self, t, msg, nonblock)
    }

    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
        match (level, name) {
            (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => Ok(socket::timeval_bytes(self.timeouts().rcv)),
            (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => Ok(socket::timeval_bytes(self.timeouts().snd)),
            _ => options::get(self.raw(), level, name),
        }
    }

    fn setsockopt(&self, _t: &dyn Caller, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
        self.setsockopt_local(level, name, val)
    }

    fn readiness(&self, mask: i16) -> i16 {
        self.poll(mask | libc::POLLERR | libc::POLLHUP)
    }

    fn wait_queue(&self) -> &WaitQueue {
        &self.queue
    }

    fn readable_bytes(&self) -> usize {
        self.int_ioctl(libc::FIONREAD)
    }

    fn unread_sent_bytes(&self) -> usize {
        self.int_ioctl(libc::TIOCOUTQ)
    }

    fn ino(&self) -> u64 {
        self.ino
    }
}
