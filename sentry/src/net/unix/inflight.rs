//! Descriptors in flight: what SCM_RIGHTS messages sitting in AF_UNIX
//! receive queues hold. Two counts live here, under one lock:
//!
//! * per user, every descriptor queued (Linux's `user->unix_inflight`): a
//!   sender whose user already has more in flight than its RLIMIT_NOFILE
//!   soft limit gets ETOOMANYREFS, unless it has CAP_SYS_RESOURCE or
//!   CAP_SYS_ADMIN (Linux's `too_many_unix_fds`);
//! * per AF_UNIX socket file in a queue, how many queued references hold
//!   it: the graph the collector (`gc.rs`) walks.
//!
//! One [`InFlight`] per kernel, shared by the names tables of all its
//! network namespaces, since a socket may be passed to one made in
//! another namespace. Its lock is held by every send that queues
//! descriptors, every receive from a queue holding some, a closing socket
//! dropping the descriptors it held, and the collector: a descriptor is
//! in a queue and counted, or neither, whenever the collector looks.
//! Order: this lock, then one socket's state lock, never the reverse.
//!
//! No file is dropped under the lock (dropping a socket's last file drops
//! the socket, which takes the lock): files leave through [`release`],
//! which also turns a chain of sockets each holding the next into a loop
//! instead of a recursion as deep as the chain.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::UnixSocket;
use crate::caps::{CAP_SYS_ADMIN, CAP_SYS_RESOURCE};
use crate::errno::Errno;
use crate::net::socket::SocketFile;
use crate::vfs::{Caller, File};

/// A send with descriptors first collects when more sockets than this are
/// in flight (Linux's UNIX_INFLIGHT_TRIGGER_GC).
const CROWDED: usize = 16_000;

/// One kernel's descriptors in flight, and the collector's state.
#[derive(Default)]
pub struct InFlight {
    graph: Mutex<Graph>,
    /// `graph.sockets.len()`, read without the lock so that closing a
    /// socket while nothing is in flight costs no lock.
    sockets: AtomicUsize,
    /// A collection is running; one asked for meanwhile sets `wanted`,
    /// and the running one goes round again.
    pub(super) running: AtomicBool,
    pub(super) wanted: AtomicBool,
}

#[derive(Default)]
pub(super) struct Graph {
    /// The AF_UNIX socket files in queues, by the address of their
    /// `File` (kept allocated by the `Weak`, so never reused meanwhile).
    pub(super) sockets: HashMap<usize, Vertex>,
    /// Descriptors in flight, by the real uid of their sender.
    users: HashMap<u32, usize>,
}

/// An AF_UNIX socket file in flight.
pub(super) struct Vertex {
    pub(super) file: Weak<File>,
    pub(super) sock: Weak<UnixSocket>,
    /// References to the file that queued messages hold.
    pub(super) refs: usize,
}

/// Who queues descriptors, as the limit sees them.
pub(super) struct Sender {
    pub(super) uid: u32,
    /// RLIMIT_NOFILE's soft limit.
    pub(super) limit: u64,
    /// CAP_SYS_RESOURCE or CAP_SYS_ADMIN: no limit.
    pub(super) exempt: bool,
}

impl Sender {
    pub(super) fn of(t: &dyn Caller) -> Sender {
        let eff = t.fs_cred();
        Sender {
            uid: t.real_cred().uid,
            limit: t.open_files_limit(),
            exempt: eff.capable(CAP_SYS_RESOURCE) || eff.capable(CAP_SYS_ADMIN),
        }
    }
}

thread_local! {
    /// This thread holds some kernel's lock (taking it again would hang).
    static HELD: Cell<bool> = const { Cell::new(false) };
    static RELEASING: RefCell<Releasing> = RefCell::new(Releasing::default());
}

#[derive(Default)]
struct Releasing {
    files: Vec<Arc<File>>,
    /// A [`release`] further up this thread's stack is dropping `files`.
    active: bool,
    /// A socket closed during the release asked for a collection.
    collect: Option<Arc<InFlight>>,
}

/// The address a file is known by in the graph.
pub(super) fn key(f: &Arc<File>) -> usize {
    Arc::as_ptr(f) as usize
}

/// The sandbox AF_UNIX socket behind a file, if it is one.
fn unix_socket(f: &File) -> Option<&UnixSocket> {
    SocketFile::of(f)
        .ok()?
        .sock
        .as_any()?
        .downcast_ref::<UnixSocket>()
}

impl InFlight {
    pub fn new() -> Arc<InFlight> {
        Arc::default()
    }

    pub(super) fn lock(&self) -> Locked<'_> {
        debug_assert!(!HELD.get(), "the in-flight lock taken twice");
        let graph = self.graph.lock().unwrap_or_else(|e| e.into_inner());
        HELD.set(true);
        Locked { graph, owner: self }
    }

    /// AF_UNIX socket files in flight now.
    pub fn sockets(&self) -> usize {
        self.sockets.load(Ordering::Relaxed)
    }

    /// Descriptors `uid`'s sends have in flight now.
    #[cfg(test)]
    pub(super) fn user_count(&self, uid: u32) -> usize {
        self.lock().graph.users.get(&uid).copied().unwrap_or(0)
    }

    /// ETOOMANYREFS when `who` may queue no more descriptors. Linux
    /// checks before queueing, not atomically with it: so do we.
    pub(super) fn check(&self, who: &Sender) -> Result<(), Errno> {
        let queued = self.lock().graph.users.get(&who.uid).copied().unwrap_or(0);
        if queued as u64 > who.limit && !who.exempt {
            return Err(Errno::ETOOMANYREFS);
        }
        Ok(())
    }

    /// Before a send with descriptors: a collection when too many sockets
    /// are in flight, as Linux's `wait_for_unix_gc`.
    pub(super) fn before_send(&self) {
        if self.sockets() > CROWDED {
            self.collect();
        }
    }

    /// A socket was released (Linux runs its collector from
    /// `unix_release_sock` whenever anything is in flight): collect now,
    /// or, inside a [`release`], once that is done.
    pub(super) fn socket_released(self: &Arc<Self>) {
        if self.sockets() == 0 {
            return;
        }
        let later = RELEASING.try_with(|r| {
            let mut r = r.borrow_mut();
            if r.active {
                r.collect = Some(self.clone());
            }
            r.active
        });
        if later != Ok(true) {
            self.collect();
        }
    }
}

/// The lock held: the counts may change.
pub(super) struct Locked<'a> {
    pub(super) graph: MutexGuard<'a, Graph>,
    owner: &'a InFlight,
}

impl Locked<'_> {
    /// `files` queued by `who`: counted for its user and, the sockets
    /// among them, in the graph.
    pub(super) fn charge(&mut self, who: &Sender, files: &[Arc<File>]) {
        *self.graph.users.entry(who.uid).or_default() += files.len();
        for f in files {
            if let Some(u) = unix_socket(f) {
                let v = self.graph.sockets.entry(key(f)).or_insert_with(|| Vertex {
                    file: Arc::downgrade(f),
                    sock: u.me.clone(),
                    refs: 0,
                });
                v.refs += 1;
            }
        }
    }

    /// `files`, charged to `uid`, left their queue (received, or dropped
    /// with it).
    pub(super) fn uncharge(&mut self, uid: u32, files: &[Arc<File>]) {
        if let Some(n) = self.graph.users.get_mut(&uid) {
            *n = n.saturating_sub(files.len());
            if *n == 0 {
                self.graph.users.remove(&uid);
            }
        }
        for f in files {
            let k = key(f);
            if let Some(v) = self.graph.sockets.get_mut(&k) {
                v.refs -= 1;
                if v.refs == 0 {
                    self.graph.sockets.remove(&k);
                }
            }
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.owner
            .sockets
            .store(self.graph.sockets.len(), Ordering::Relaxed);
        HELD.set(false);
    }
}

/// Drops `files` once no lock is held: at once, or, when this thread is
/// already releasing files (a closing socket's queue held more), after
/// those, by the outermost call. A collection a closing socket asked for
/// meanwhile runs at the end.
pub(super) fn release(files: Vec<Arc<File>>) {
    if files.is_empty() {
        return;
    }
    debug_assert!(!HELD.get(), "files released under the in-flight lock");
    let first = RELEASING.try_with(|r| {
        let mut r = r.borrow_mut();
        r.files.extend(files);
        !std::mem::replace(&mut r.active, true)
    });
    // Ok(false): an outer call drops them. Err: the thread is ending and
    // its list is gone; `files` went with the closure.
    if first != Ok(true) {
        return;
    }
    struct Done;
    impl Drop for Done {
        fn drop(&mut self) {
            let _ = RELEASING.try_with(|r| r.borrow_mut().active = false);
        }
    }
    let done = Done;
    while let Some(f) = RELEASING.with(|r| r.borrow_mut().files.pop()) {
        drop(f);
    }
    drop(done);
    if let Some(gc) = RELEASING.with(|r| r.borrow_mut().collect.take()) {
        gc.collect();
    }
}
