//! Blocking helpers over the stack's non-blocking endpoints, the way the
//! Sentry uses them: try, and on EAGAIN sleep until the endpoint's Notify
//! hook fires and its readiness shows the event.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use netstack::{Endpoint, Errno, Notify, Proto, Stack};

/// Long enough for SYN retransmissions (smoltcp backs off to seconds),
/// short enough that a hang fails the test rather than the CI run.
pub const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Waiter {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Waiter {
    pub fn hook(self: &Arc<Self>) -> Notify {
        let w = self.clone();
        Arc::new(move || {
            *w.generation.lock().unwrap() += 1;
            w.cv.notify_all();
        })
    }
}

pub struct Sock {
    pub ep: Endpoint,
    pub w: Arc<Waiter>,
}

pub fn sock(stack: &Arc<Stack>, v6: bool, proto: Proto) -> Sock {
    let w = Arc::new(Waiter::default());
    let ep = stack.endpoint(v6, proto, w.hook(), 0).unwrap();
    Sock { ep, w }
}

pub fn tcp(stack: &Arc<Stack>, v6: bool) -> Sock {
    sock(stack, v6, Proto::Tcp)
}

pub fn udp(stack: &Arc<Stack>, v6: bool) -> Sock {
    sock(stack, v6, Proto::Udp)
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl Sock {
    /// Sleeps until readiness has one of `events`; returns it.
    pub fn wait(&self, events: i16) -> i16 {
        let deadline = Instant::now() + PATIENCE;
        let mut g = self.w.generation.lock().unwrap();
        loop {
            let seen = *g;
            drop(g);
            let r = self.ep.readiness();
            if r & events != 0 {
                return r;
            }
            g = self.w.generation.lock().unwrap();
            while *g == seen {
                let left = deadline
                    .checked_duration_since(Instant::now())
                    .unwrap_or_else(|| panic!("no {events:#x} within {PATIENCE:?}: {r:#x}"));
                g = self.w.cv.wait_timeout(g, left).unwrap().0;
            }
        }
    }

    /// A blocking connect, as the Sentry does it.
    pub fn connect(&self, to: SocketAddr) -> Result<(), Errno> {
        match self.ep.connect(to) {
            Err(Errno::EINPROGRESS) => {
                self.wait(libc::POLLOUT | libc::POLLERR | libc::POLLHUP);
                self.ep.connect(to)
            }
            r => r,
        }
    }

    pub fn accept(&self) -> (Sock, SocketAddr) {
        loop {
            let w = Arc::new(Waiter::default());
            match self.ep.accept(w.hook(), 0) {
                Ok((ep, peer)) => return (Sock { ep, w }, peer),
                Err(Errno::EAGAIN) => {
                    self.wait(libc::POLLIN);
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    pub fn send_all(&self, mut data: &[u8]) -> Result<(), Errno> {
        while !data.is_empty() {
            match self.send(data) {
                Ok(n) => data = &data[n..],
                Err(Errno::EAGAIN) => {
                    self.wait(libc::POLLOUT | libc::POLLERR);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One non-blocking send of `data`.
    pub fn send(&self, data: &[u8]) -> Result<usize, Errno> {
        let mut off = 0;
        self.ep.send(None, data.len(), &mut |buf| {
            let n = buf.len().min(data.len() - off);
            buf[..n].copy_from_slice(&data[off..off + n]);
            off += n;
            Ok(n)
        })
    }

    pub fn send_to(&self, to: SocketAddr, data: &[u8]) -> Result<usize, Errno> {
        self.ep.send(Some(to), data.len(), &mut |buf| {
            buf.copy_from_slice(&data[..buf.len()]);
            Ok(buf.len())
        })
    }

    /// One non-blocking recv of at most `max` bytes.
    pub fn try_recv(&self, max: usize, peek: bool) -> Result<(Vec<u8>, netstack::RecvInfo), Errno> {
        let mut out = Vec::new();
        let info = self.ep.recv(peek, max, &mut |b| {
            out.extend_from_slice(b);
            Ok(b.len())
        })?;
        Ok((out, info))
    }

    /// A blocking recv: some bytes, or empty at end of stream.
    pub fn recv(&self, max: usize) -> Result<Vec<u8>, Errno> {
        self.recv_from(max).map(|(v, _)| v)
    }

    pub fn recv_from(&self, max: usize) -> Result<(Vec<u8>, Option<SocketAddr>), Errno> {
        loop {
            match self.try_recv(max, false) {
                Ok((v, info)) => return Ok((v, info.from)),
                Err(Errno::EAGAIN) => {
                    self.wait(libc::POLLIN | libc::POLLERR | libc::POLLHUP);
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub fn recv_exact(&self, n: usize) -> Result<Vec<u8>, Errno> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let v = self.recv(n - out.len())?;
            if v.is_empty() {
                break;
            }
            out.extend_from_slice(&v);
        }
        Ok(out)
    }
}

/// A listener on `at` (port 0: ephemeral) and its address.
pub fn listener(stack: &Arc<Stack>, at: &str, backlog: u32) -> (Sock, SocketAddr) {
    let a = addr(at);
    let l = tcp(stack, a.is_ipv6());
    l.ep.bind(a).unwrap();
    l.ep.listen(backlog).unwrap();
    let bound = l.ep.local_addr().unwrap();
    (l, bound)
}

/// Threads named `netstack` in this process.
pub fn netstack_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|c| c.trim() == "netstack")
        .count()
}
