//! The collector of AF_UNIX sockets that only messages in flight keep
//! alive (Linux's net/unix/garbage.c): a socket sent over itself, or two
//! sockets each queued in the other, and then closed by the application,
//! would otherwise keep each other, their queues and every file those
//! carry for the sandbox's lifetime.
//!
//! Under the in-flight lock (`inflight.rs`), so that no descriptor moves
//! meanwhile:
//!
//! 1. Candidates: sockets in flight whose every file reference is a queued
//!    message's (`Arc::strong_count` equals the queued count). Any other
//!    holder (a descriptor table, a call under way) makes a socket a
//!    root, and nothing can make a candidate's file reachable again but a
//!    receive, which waits for the lock.
//! 2. The candidates' queues (a listener's: its unaccepted connections'
//!    queues) give the edges between candidates.
//! 3. A candidate held by more queued references than the candidates'
//!    queues hold is held from a queue outside them: it is reachable, and
//!    so is everything its queue holds, transitively.
//! 4. The rest are garbage: their queues are emptied and the descriptors
//!    uncounted; once the lock is released the messages are dropped,
//!    which drops the garbage sockets' last references, and each socket
//!    ends as if closed (its peer reads end of file).
//!
//! It runs when a socket is released while sockets are in flight, as
//! Linux's `unix_release_sock` runs it, and before a send with
//! descriptors when very many sockets are in flight.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use super::inflight::{self, InFlight, Locked};
use super::queue::{Message, Queue};
use super::UnixSocket;
use crate::vfs::File;

/// What a pass found, dropped once the lock is released.
#[derive(Default)]
struct Garbage {
    files: Vec<Arc<File>>,
    /// Sockets the pass held on to while it looked.
    held: Vec<Arc<UnixSocket>>,
}

impl Drop for Garbage {
    fn drop(&mut self) {
        inflight::release(std::mem::take(&mut self.files));
    }
}

impl InFlight {
    /// Collects unreachable sockets in flight. A call while one runs
    /// makes that one go round again, so no request is lost.
    pub fn collect(&self) {
        self.wanted.store(true, Ordering::SeqCst);
        loop {
            if self.running.swap(true, Ordering::SeqCst) {
                return;
            }
            while self.wanted.swap(false, Ordering::SeqCst) {
                let garbage = self.pass(&mut self.lock());
                drop(garbage);
            }
            self.running.store(false, Ordering::SeqCst);
            // Asked for between the last pass and the store above.
            if !self.wanted.load(Ordering::SeqCst) {
                return;
            }
        }
    }

    fn pass(&self, g: &mut Locked<'_>) -> Garbage {
        let mut out = Garbage::default();
        let candidates: Vec<(usize, usize, Weak<UnixSocket>)> = g
            .graph
            .sockets
            .iter()
            .filter(|(_, v)| v.file.strong_count() == v.refs)
            .map(|(&k, v)| (k, v.refs, v.sock.clone()))
            .collect();
        if candidates.is_empty() {
            return out;
        }
        let index: HashMap<usize, usize> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| (c.0, i))
            .collect();
        let n = candidates.len();
        let mut socks = Vec::with_capacity(n);
        let mut edges = vec![Vec::new(); n];
        let mut inner = vec![0usize; n];
        for (i, (_, _, sock)) in candidates.iter().enumerate() {
            let sock = sock.upgrade();
            if let Some(s) = &sock {
                for key in s.queued_files(&mut out.held) {
                    if let Some(&j) = index.get(&key) {
                        edges[i].push(j);
                        inner[j] += 1;
                    }
                }
            }
            socks.push(sock);
        }
        // A candidate whose socket is gone cannot be walked: keep what
        // it holds.
        let mut live: Vec<bool> = (0..n)
            .map(|i| socks[i].is_none() || candidates[i].1 > inner[i])
            .collect();
        let mut stack: Vec<usize> = (0..n).filter(|&i| live[i]).collect();
        while let Some(i) = stack.pop() {
            for &j in &edges[i] {
                if !live[j] {
                    live[j] = true;
                    stack.push(j);
                }
            }
        }
        for (i, sock) in socks.iter().enumerate() {
            let Some(s) = sock.as_ref().filter(|_| !live[i]) else {
                continue;
            };
            for q in s.take_queues(&mut out.held) {
                for m in q.msgs {
                    let Message {
                        rights, charged_to, ..
                    } = m;
                    if !rights.is_empty() {
                        g.uncharge(charged_to, &rights);
                        out.files.extend(rights);
                    }
                }
            }
        }
        out.held.extend(socks.into_iter().flatten());
        out
    }
}

impl UnixSocket {
    /// The graph keys of the files this socket's queue holds, and a
    /// listener's unaccepted connections' queues (which `held` keeps).
    fn queued_files(&self, held: &mut Vec<Arc<UnixSocket>>) -> Vec<usize> {
        let mut keys = Vec::new();
        let embryos = {
            let st = self.lock();
            for m in &st.recv.msgs {
                keys.extend(m.rights.iter().map(inflight::key));
            }
            st.listener
                .as_ref()
                .map(|l| l.backlog.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        };
        for e in &embryos {
            for m in &e.lock().recv.msgs {
                keys.extend(m.rights.iter().map(inflight::key));
            }
        }
        held.extend(embryos);
        keys
    }

    /// Empties the queues [`UnixSocket::queued_files`] read.
    fn take_queues(&self, held: &mut Vec<Arc<UnixSocket>>) -> Vec<Queue> {
        let (mine, embryos) = {
            let mut st = self.lock();
            let embryos = st
                .listener
                .as_ref()
                .map(|l| l.backlog.iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            (std::mem::take(&mut st.recv), embryos)
        };
        let mut queues = vec![mine];
        for e in &embryos {
            queues.push(std::mem::take(&mut e.lock().recv));
        }
        held.extend(embryos);
        queues
    }
}
