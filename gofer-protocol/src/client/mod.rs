//! The Sentry's 9P2000.L client.
//!
//! INTERFACE CONTRACT (the Sentry codes against exactly this):
//! * Every method takes `&self` and is safe to call from many threads at once.
//! * Errors are Linux errno values (`i32`, e.g. `libc::ENOENT`): an `Rlerror`
//!   passes its errno through; a broken connection or malformed reply is `EIO`.
//! * Names are raw bytes (Linux file names need not be UTF-8).
//! * Fids are allocated by the client; `clunk` frees them.
//! * Every reply is read with `recvmsg`, so a descriptor the server passes
//!   (SCM_RIGHTS) is never lost: a reply that may carry one (`Ropenfd`)
//!   must carry exactly one, and any other reply carrying one breaks the
//!   connection (the descriptors are closed).

//!
//! The requests are split by family: `walk` (fids by walking), `files`
//! (opening, reading, writing, listing and clunking a fid), `changes`
//! (changes through fids), `by_path` (our additions that name files by
//! their path and pass descriptors), `xattr`; `conn` is one connection's
//! request/reply exchange.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, PoisonError};

// The protocol's value types are the wire's; the client hands them out.
use crate::wire::{self, Rmessage, Tmessage};
pub use crate::wire::{Attr, DirEntry, Qid, SetAttr, StatFs};

use conn::Conn;

mod by_path;
mod changes;
mod conn;
mod connect;
mod files;
mod walk;
mod xattr;

pub use by_path::{DirPlus, LookupFd, OpenedFd};
pub use conn::requests_sent;
pub use xattr::XATTR_SIZE_MAX;

/// A 9P file identifier.
pub type Fid = u32;

/// Whether [`Client::lookup`] keeps the fid it walks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    Always,
    /// Only if the file reached is a directory.
    Dir,
    /// Never: the attributes are all the caller wants.
    Never,
}

/// The msize the client asks for; the server may lower it.
pub const REQUESTED_MSIZE: u32 = 1 << 20;

/// The smallest msize the client accepts (as Linux's v9fs does).
pub const MIN_MSIZE: u32 = 4096;

/// One request is in flight at a time, so one tag serves them all.
const TAG: u16 = 1;

/// The fid of the attached root.
const ROOT_FID: Fid = 0;

/// A connection to a Gofer.
///
/// Requests are synchronous: a call holds the connection's lock from sending
/// its request until its reply is read, so callers on other threads wait
/// their turn. A long `read` or `write` takes the lock once per chunk, so
/// other threads' requests interleave between chunks.
///
/// Once the connection breaks (an I/O error or a reply that does not follow
/// the protocol) every later call fails with `EIO`: after a malformed reply
/// nothing from that server can be trusted to be in step.
pub struct Client {
    conn: Mutex<Conn>,
    /// Extra connections to the Gofer's channels (`server::Channel`), each
    /// with the CPU whose path-based requests it carries.
    channels: Vec<(usize, Mutex<Conn>)>,
    fids: Mutex<FidPool>,
    msize: u32,
    root_qid: Qid,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("msize", &self.msize)
            .field("root_qid", &self.root_qid)
            .finish_non_exhaustive()
    }
}

/// Once per process: the limit is the process's, and a later connection
/// (a Sentry running a pod takes one per container) may come after the
/// Sentry's seccomp filter refuses getrlimit and setrlimit.
fn raise_nofile_limit() {
    static RAISED: std::sync::Once = std::sync::Once::new();
    RAISED.call_once(raise_nofile_limit_now);
}

fn raise_nofile_limit_now() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-parameter, then a valid in-parameter.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Fid numbers: the lowest free one is handed out first.
struct FidPool {
    next: Fid,
    free: BTreeSet<Fid>,
}

impl FidPool {
    fn alloc(&mut self) -> Result<Fid, i32> {
        if let Some(fid) = self.free.pop_first() {
            return Ok(fid);
        }
        if self.next == wire::NOFID {
            return Err(libc::ENFILE);
        }
        let fid = self.next;
        self.next += 1;
        Ok(fid)
    }

    fn release(&mut self, fid: Fid) {
        if fid < self.next {
            self.free.insert(fid);
        }
    }
}

impl Client {
    /// Negotiates 9P2000.L (Tversion) and attaches to the served root (Tattach).
    ///
    /// The first connection of a process also raises its soft
    /// RLIMIT_NOFILE to its hard limit: every file opened through
    /// [`Client::open_fd`] holds a descriptor.
    pub fn connect(sock: UnixStream) -> Result<Client, i32> {
        raise_nofile_limit();
        let mut conn = Conn::new(sock);
        let version = Tmessage::Version {
            msize: REQUESTED_MSIZE,
            version: wire::VERSION_9P2000L,
        };
        let (msize, is_l) = conn.call(wire::NOTAG, &version, REQUESTED_MSIZE, |r| match r {
            Rmessage::Version { msize, version } => Some((msize, version == wire::VERSION_9P2000L)),
            _ => None,
        })?;
        if !is_l || !(MIN_MSIZE..=REQUESTED_MSIZE).contains(&msize) {
            tracing::warn!(msize, is_l, "gofer negotiated an unusable 9P version");
            return Err(libc::EIO);
        }
        let attach = Tmessage::Attach {
            fid: ROOT_FID,
            afid: wire::NOFID,
            uname: b"",
            aname: b"",
            n_uname: wire::NONUNAME,
        };
        let root_qid = conn.call(TAG, &attach, msize, |r| match r {
            Rmessage::Attach { qid } => Some(qid),
            _ => None,
        })?;
        Ok(Client {
            conn: Mutex::new(conn),
            channels: Vec::new(),
            fids: Mutex::new(FidPool {
                next: ROOT_FID + 1,
                free: BTreeSet::new(),
            }),
            msize,
            root_qid,
        })
    }

    /// Adds connections to the Gofer's channels (one per CPU, see
    /// `server::Channel`): from then on a path-based request made on CPU
    /// `cpu` goes over that CPU's channel, answered by a Gofer thread on
    /// the same CPU, so the reply is no cross-CPU wake-up; fid requests
    /// (and requests from a CPU without a channel) keep the first
    /// connection. A channel needs no handshake: it shares the first
    /// connection's msize.
    pub fn with_channels(mut self, channels: Vec<(usize, UnixStream)>) -> Client {
        self.channels = channels
            .into_iter()
            .map(|(cpu, sock)| (cpu, Mutex::new(Conn::new(sock))))
            .collect();
        self
    }

    /// The connection for a path-based request: the calling CPU's channel,
    /// else the first connection.
    fn path_conn(&self) -> std::sync::MutexGuard<'_, Conn> {
        if !self.channels.is_empty() {
            // SAFETY: sched_getcpu has no preconditions (glibc reads it
            // from rseq or the vDSO).
            let cpu = unsafe { libc::sched_getcpu() };
            if let Some((_, c)) = self
                .channels
                .iter()
                .find(|(c, _)| usize::try_from(cpu) == Ok(*c))
            {
                return c.lock().unwrap_or_else(PoisonError::into_inner);
            }
        }
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`Client::rpc`] for a path-based request (see [`Client::path_conn`]).
    fn path_rpc<T>(
        &self,
        msg: &Tmessage<'_>,
        accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
    ) -> Result<T, i32> {
        self.path_conn().call(TAG, msg, self.msize, accept)
    }

    /// The fid of the attached root.
    pub fn root(&self) -> Fid {
        ROOT_FID
    }

    /// The qid of the attached root.
    pub fn root_qid(&self) -> Qid {
        self.root_qid
    }

    /// The negotiated maximum message size.
    pub fn msize(&self) -> u32 {
        self.msize
    }

    fn rpc<T>(
        &self,
        msg: &Tmessage<'_>,
        accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
    ) -> Result<T, i32> {
        let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.call(TAG, msg, self.msize, accept)
    }

    fn alloc_fid(&self) -> Result<Fid, i32> {
        self.fids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .alloc()
    }

    fn release_fid(&self, fid: Fid) {
        self.fids
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .release(fid);
    }
}
