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

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, PoisonError};

// The protocol's value types are the wire's; the client hands them out.
use crate::wire::{self, Rmessage, Tmessage};
pub use crate::wire::{Attr, DirEntry, Qid, SetAttr, StatFs};

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

/// XATTR_SIZE_MAX: the longest value (and listing) Linux has.
pub const XATTR_SIZE_MAX: usize = 65536;

/// A listxattr listing as names: every one non-empty and NUL-terminated,
/// at most XATTR_NAME_MAX bytes, none twice (else `None`: a broken reply).
fn split_names(list: &[u8]) -> Option<Vec<Vec<u8>>> {
    if list.is_empty() {
        return Some(Vec::new());
    }
    let body = list.strip_suffix(&[0])?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for n in body.split(|b| *b == 0) {
        if n.is_empty() || n.len() > 255 || !seen.insert(n) {
            return None;
        }
        out.push(n.to_vec());
    }
    Some(out)
}

/// The msize the client asks for; the server may lower it.
pub const REQUESTED_MSIZE: u32 = 1 << 20;
/// The smallest msize the client accepts (as Linux's v9fs does).
pub const MIN_MSIZE: u32 = 4096;
/// One request is in flight at a time, so one tag serves them all.
const TAG: u16 = 1;
/// The fid of the attached root.
const ROOT_FID: Fid = 0;
/// `size[4] type[1] tag[2] fid[4] newfid[4] nwname[2]`.
const TWALK_HEADER_LEN: usize = wire::HEADER_LEN + 10;

/// Requests sent by every client of this process, by message type.
static SENT: [std::sync::atomic::AtomicU64; 256] =
    [const { std::sync::atomic::AtomicU64::new(0) }; 256];

/// How many requests of each type this process's clients have sent (the
/// types with none left out): a workload's round trips, for the debug log.
pub fn requests_sent() -> Vec<(u8, u64)> {
    (0..=255u8)
        .map(|t| {
            (
                t,
                SENT[usize::from(t)].load(std::sync::atomic::Ordering::Relaxed),
            )
        })
        .filter(|(_, n)| *n > 0)
        .collect()
}

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

/// The socket and reusable buffers for one request/reply exchange.
struct Conn {
    sock: UnixStream,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    broken: bool,
}

impl Conn {
    fn new(sock: UnixStream) -> Conn {
        Conn {
            sock,
            wbuf: Vec::new(),
            rbuf: Vec::new(),
            broken: false,
        }
    }

    /// Sends `msg` and waits for its reply, which `accept` checks and turns
    /// into the result. An Rlerror is its errno; `accept` returning `None`
    /// (the reply does not answer the request) breaks the connection.
    fn call<T>(
        &mut self,
        tag: u16,
        msg: &Tmessage<'_>,
        msize: u32,
        accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
    ) -> Result<T, i32> {
        match self.call_fd(tag, msg, msize, accept) {
            Ok((t, None)) => Ok(t),
            // Only replies to Topenfd/Tlookupfd carry one.
            Ok((_, Some(_))) => Err(libc::EIO),
            Err(e) => Err(e),
        }
    }

    /// [`Conn::call`] for a request whose reply may carry a descriptor
    /// (Ropenfd always, Rlookupfd when it says so): it must carry exactly
    /// as many as its type and fields announce.
    fn call_fd<T>(
        &mut self,
        tag: u16,
        msg: &Tmessage<'_>,
        msize: u32,
        accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
    ) -> Result<(T, Option<OwnedFd>), i32> {
        let (t, mut fds) = self.call_fds(tag, msg, msize, accept)?;
        // The reply type allows at most one here (exchange checked the
        // count against the reply's own announcement).
        if fds.len() > 1 {
            return Err(libc::EIO);
        }
        Ok((t, fds.pop()))
    }

    /// [`Conn::call_fd`] for replies with any number of descriptors.
    fn call_fds<T>(
        &mut self,
        tag: u16,
        msg: &Tmessage<'_>,
        msize: u32,
        accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
    ) -> Result<(T, Vec<OwnedFd>), i32> {
        if self.broken {
            return Err(libc::EIO);
        }
        // Errors here are the caller's (a name too long ...); nothing was sent.
        wire::encode_tmessage(tag, msg, &mut self.wbuf)?;
        if self.wbuf.len() > msize as usize {
            return Err(libc::ENAMETOOLONG);
        }
        SENT[usize::from(msg.type_byte())].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rtype = msg.type_byte() + 1;
        match self.exchange(tag, rtype, msize, accept) {
            Ok(result) => result,
            Err(why) => {
                tracing::warn!(
                    request = msg.type_byte(),
                    "9P connection to the gofer is broken: {why}"
                );
                self.broken = true;
                let _ = self.sock.shutdown(Shutdown::Both);
                Err(libc::EIO)
            }
        }
    }

    /// The exchange itself. The outer error is a broken connection; the
    /// inner result is the server's answer. Descriptors that arrive and are
    /// not handed out are closed when `fds` drops.
    fn exchange<T>(
        &mut self,
        tag: u16,
        rtype: u8,
        msize: u32,
        accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
    ) -> Result<Result<(T, Vec<OwnedFd>), i32>, String> {
        self.sock
            .write_all(&self.wbuf)
            .map_err(|e| format!("sending a request: {e}"))?;
        let mut fds = Vec::new();
        let mut truncated = false;
        let mut size = [0u8; 4];
        recv_exact(&self.sock, &mut size, &mut fds, &mut truncated)
            .map_err(|e| format!("reading a reply: {e}"))?;
        let len = wire::frame_len(size, msize).map_err(|_| {
            format!(
                "reply size {} outside 7..={msize}",
                u32::from_le_bytes(size)
            )
        })?;
        if self.rbuf.len() < len {
            self.rbuf.resize(len, 0);
        }
        self.rbuf[..4].copy_from_slice(&size);
        recv_exact(&self.sock, &mut self.rbuf[4..len], &mut fds, &mut truncated)
            .map_err(|e| format!("reading a reply: {e}"))?;
        let (rtag, reply) =
            wire::decode_rmessage(&self.rbuf[..len]).map_err(|_| "malformed reply".to_string())?;
        if rtag != tag {
            return Err(format!("reply tag {rtag}, expected {tag}"));
        }
        if let Rmessage::Lerror { ecode } = reply {
            if !fds.is_empty() || truncated {
                return Err("descriptor passed with an Rlerror".into());
            }
            // Linux errnos are 1..=4095; anything else would be mistaken for
            // success or a kernel-internal code.
            return match i32::try_from(ecode) {
                Ok(e) if (1..4096).contains(&e) => Ok(Err(e)),
                _ => Err(format!("Rlerror with errno {ecode}")),
            };
        }
        if reply.type_byte() != rtype {
            return Err(format!(
                "reply type {}, expected {rtype}",
                reply.type_byte()
            ));
        }
        // The reply's type was checked against the request's, so a reply
        // can carry descriptors only where the request asked for them.
        let expected = reply.fds();
        if truncated {
            if expected == 0 || (expected == 1 && !fds.is_empty()) {
                return Err(format!(
                    "more descriptors than reply type {rtype} may carry"
                ));
            }
            // A descriptor could not be installed: this process is out of
            // descriptors (the kernel then drops the rest and sets
            // MSG_CTRUNC). Those that arrived close here; the stream is
            // still in step.
            return Ok(Err(libc::EMFILE));
        }
        if fds.len() != expected {
            return Err(format!(
                "{} descriptors with reply type {rtype}, expected {expected}",
                fds.len()
            ));
        }
        let t = accept(reply)
            .ok_or_else(|| format!("reply of type {rtype} does not answer its request"))?;
        Ok(Ok((t, fds)))
    }
}

/// Most descriptors one `recvmsg` makes room for; more is MSG_CTRUNC (the
/// kernel closes those that do not fit).
const MAX_FDS_PER_RECV: usize = wire::MAX_OPENFDS + 4;

/// Reads exactly `buf.len()` bytes from `sock` with `recvmsg`, appending the
/// descriptors that arrive to `fds` and noting MSG_CTRUNC in `truncated`.
fn recv_exact(
    sock: &UnixStream,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
    truncated: &mut bool,
) -> io::Result<()> {
    // u64s keep the buffer aligned for cmsghdr.
    const SPACE: usize =
        // SAFETY: CMSG_SPACE is arithmetic.
        unsafe { libc::CMSG_SPACE((MAX_FDS_PER_RECV * size_of::<RawFd>()) as u32) } as usize;
    let mut got = 0;
    while got < buf.len() {
        let mut cbuf = [0u64; SPACE.div_ceil(8)];
        let mut iov = libc::iovec {
            iov_base: buf[got..].as_mut_ptr().cast(),
            iov_len: buf.len() - got,
        };
        // SAFETY: msghdr is plain data; all-zero is a valid value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = SPACE;
        // SAFETY: `msg` points at `iov` (into `buf`) and `cbuf`, both live
        // and of the lengths given, for the duration of the call.
        let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            *truncated = true;
        }
        // SAFETY: the kernel filled `msg`'s control area, which is
        // `msg_controllen` bytes of `cbuf`; the CMSG_* macros stay inside it.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c);
                    let bytes = ((*c).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                    for i in 0..bytes / size_of::<RawFd>() {
                        let fd: RawFd =
                            std::ptr::read_unaligned(data.add(i * size_of::<RawFd>()).cast());
                        // The kernel installed it in our table just now:
                        // it is ours to close.
                        fds.push(OwnedFd::from_raw_fd(fd));
                    }
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        // n > 0 and at most the iovec's length.
        got += n as usize;
    }
    Ok(())
}

/// What [`Client::lookup_fd`] found.
/// A descriptor [`Client::open_fds`] opened, and its file's inode number.
pub type OpenedFd = (OwnedFd, u64);

/// One entry of [`Client::readdir_plus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirPlus {
    pub name: Vec<u8>,
    pub attr: Attr,
    /// A symlink's target; empty for other files.
    pub target: Vec<u8>,
    /// Its extended attribute names, if the Gofer could list them.
    pub xattrs: Option<Vec<Vec<u8>>>,
}

#[derive(Debug)]
pub struct LookupFd {
    pub attr: Attr,
    /// A symlink's target; empty for other files.
    pub target: Vec<u8>,
    /// A regular file's or directory's read-only host descriptor, if the
    /// server could open it.
    pub fd: Option<OwnedFd>,
}

/// `fstat`s a donated descriptor, which must be of file type `want`
/// (`S_IFREG`, `S_IFDIR`); anything else is `EIO` (the descriptor is
/// closed by the caller dropping it).
fn check_fd(fd: &OwnedFd, want: u32) -> Result<libc::stat, i32> {
    // SAFETY: stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is a valid out-parameter.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(libc::EIO);
    }
    if st.st_mode & libc::S_IFMT != want {
        tracing::warn!(
            mode = st.st_mode,
            "the gofer passed a descriptor of the wrong type"
        );
        return Err(libc::EIO);
    }
    Ok(st)
}

fn raise_nofile_limit() {
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

/// Runs `op(done, want)` over `len` bytes in pieces of at most `max`,
/// stopping at the first short piece. An error after some progress returns
/// the progress, as a short read or write does on Linux.
fn chunked(
    len: usize,
    max: usize,
    mut op: impl FnMut(usize, usize) -> Result<usize, i32>,
) -> Result<usize, i32> {
    let mut done = 0;
    while done < len {
        let want = (len - done).min(max);
        match op(done, want) {
            Ok(n) => {
                done += n;
                if n < want {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

impl Client {
    /// Negotiates 9P2000.L (Tversion) and attaches to the served root (Tattach).
    ///
    /// Also raises this process's soft RLIMIT_NOFILE to its hard limit:
    /// every file opened through [`Client::open_fd`] holds a descriptor.
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

    /// Walks `names` from `fid` into a new fid. Walking zero names clones `fid`.
    /// A walk that stops early is `ENOENT` (the partial fid is never leaked).
    ///
    /// A walk stopped by a file that is neither a directory nor a symlink is
    /// `ENOTDIR`, as on Linux; stopped anywhere else it is `ENOENT`.
    ///
    /// More than 16 names (9P's MAXWELEM), or names that do not fit one
    /// message, take several Twalks: the first clones `fid` into the new fid,
    /// the rest walk the new fid in place.
    pub fn walk(&self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Vec<Qid>), i32> {
        let newfid = self.alloc_fid()?;
        match self.walk_into(fid, newfid, names) {
            Ok(qids) => Ok((newfid, qids)),
            Err(e) => {
                self.release_fid(newfid);
                Err(e)
            }
        }
    }

    /// How many of `names` (at least one) fit in one Twalk.
    fn walk_chunk_len(&self, names: &[&[u8]]) -> Result<usize, i32> {
        let mut size = TWALK_HEADER_LEN;
        let mut n = 0;
        for name in names.iter().take(wire::MAXWELEM) {
            size += 2 + name.len();
            if size > self.msize as usize {
                break;
            }
            n += 1;
        }
        if n == 0 {
            return Err(libc::ENAMETOOLONG);
        }
        Ok(n)
    }

    /// One Twalk; the reply may name fewer qids than `names`.
    fn twalk(&self, fid: Fid, newfid: Fid, names: &[&[u8]]) -> Result<Vec<Qid>, i32> {
        let msg = Tmessage::Walk {
            fid,
            newfid,
            names: names.to_vec(),
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Walk { qids } if qids.len() <= names.len() => Some(qids),
            _ => None,
        })
    }

    /// Walks into `newfid`; on error `newfid` does not exist on the server.
    fn walk_into(&self, fid: Fid, newfid: Fid, names: &[&[u8]]) -> Result<Vec<Qid>, i32> {
        if names.is_empty() {
            return self.twalk(fid, newfid, names);
        }
        let mut qids = Vec::with_capacity(names.len());
        let mut from = fid;
        let mut rest = names;
        while !rest.is_empty() {
            let (chunk, tail) = match self.walk_chunk_len(rest) {
                Ok(n) => rest.split_at(n),
                Err(e) => {
                    self.forget_walked(from, newfid);
                    return Err(e);
                }
            };
            // A walk that stops early does not create (or, walking in place,
            // move) newfid: 9P's rule, which the p9 server follows.
            match self.twalk(from, newfid, chunk) {
                Ok(got) if got.len() == chunk.len() => qids.extend(got),
                Ok(got) => {
                    self.forget_walked(from, newfid);
                    // The last file reached, where the walk could not go on.
                    let stop = got.last().or(qids.last());
                    return Err(match stop {
                        Some(q) if q.ty & (wire::QTDIR | wire::QTSYMLINK) == 0 => libc::ENOTDIR,
                        _ => libc::ENOENT,
                    });
                }
                Err(e) => {
                    self.forget_walked(from, newfid);
                    return Err(e);
                }
            }
            from = newfid;
            rest = tail;
        }
        Ok(qids)
    }

    /// After a failed walk step from `from`: if earlier steps created `newfid`
    /// on the server, clunk it there.
    fn forget_walked(&self, from: Fid, newfid: Fid) {
        if from == newfid {
            let _ = self.rpc(&Tmessage::Clunk { fid: newfid }, |r| match r {
                Rmessage::Clunk => Some(()),
                _ => None,
            });
        }
    }

    pub fn getattr(&self, fid: Fid) -> Result<Attr, i32> {
        let msg = Tmessage::Getattr {
            fid,
            request_mask: wire::P9_GETATTR_BASIC,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Getattr(g) => Some(g.attr),
            _ => None,
        })
    }

    /// Walk then getattr in one round trip (Twalkgetattr); the new fid is
    /// returned with the attributes of the file it names.
    pub fn walk_getattr(&self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Attr), i32> {
        match self.lookup(fid, names, Keep::Always) {
            Ok((Some(nfid), a)) => Ok((nfid, a)),
            // lookup checked that the server kept the fid.
            Ok((None, _)) => Err(libc::EIO),
            Err(e) => Err(e),
        }
    }

    /// Walks `names` (at most [`wire::MAXWELEM`], fitting one message)
    /// from `fid` and returns the attributes of the file reached, in one
    /// round trip (Twalkgetattr), and the new fid if `keep` keeps it. A walk
    /// that stops early is `ENOENT` (`ENOTDIR` at a file that is neither a
    /// directory nor a symlink) and creates no fid. More names take a Twalk
    /// and a Tgetattr.
    pub fn lookup(
        &self,
        fid: Fid,
        names: &[&[u8]],
        keep: Keep,
    ) -> Result<(Option<Fid>, Attr), i32> {
        // Twalkgetattr is Twalk with a `keep[4]` field more.
        let size = TWALK_HEADER_LEN + 4 + names.iter().map(|n| 2 + n.len()).sum::<usize>();
        if names.len() > wire::MAXWELEM || size > self.msize as usize {
            let (nfid, _) = self.walk(fid, names)?;
            let a = self.getattr(nfid);
            let kept = match (&a, keep) {
                (Ok(_), Keep::Always) => true,
                (Ok(a), Keep::Dir) => a.mode & libc::S_IFMT == libc::S_IFDIR,
                _ => false,
            };
            if !kept {
                let _ = self.clunk(nfid);
            }
            return a.map(|a| (kept.then_some(nfid), a));
        }
        let newfid = self.alloc_fid()?;
        let msg = Tmessage::Walkgetattr {
            fid,
            newfid,
            keep: match keep {
                Keep::Always => wire::WALK_KEEP_ALWAYS,
                Keep::Dir => wire::WALK_KEEP_DIR,
                Keep::Never => wire::WALK_KEEP_NEVER,
            },
            names: names.to_vec(),
        };
        let r = self.rpc(&msg, |r| match r {
            Rmessage::Walkgetattr { kept, qids, attr } if qids.len() == names.len() => {
                // The server must keep the fid exactly when asked to, or our
                // fid numbers and its table disagree.
                let is_dir = attr.attr.mode & libc::S_IFMT == libc::S_IFDIR;
                let should = match keep {
                    Keep::Always => true,
                    Keep::Dir => is_dir,
                    Keep::Never => false,
                };
                (kept == should).then_some((kept, attr.attr))
            }
            _ => None,
        });
        match r {
            Ok((true, a)) => Ok((Some(newfid), a)),
            Ok((false, a)) => {
                self.release_fid(newfid);
                Ok((None, a))
            }
            Err(e) => {
                self.release_fid(newfid);
                Err(e)
            }
        }
    }

    /// Opens the file at `names` below the served root, read-only, and
    /// returns the host descriptor the server passes back (Topenfd), with
    /// its `fstat`. `dir` asks for a directory, otherwise a regular file;
    /// any other file is refused. No fid is involved: closing the
    /// descriptor is all the clean-up there is.
    ///
    /// A descriptor of another type than asked for is `EIO`; `EMFILE` means
    /// this process could not take one more descriptor.
    pub fn open_fd(&self, names: &[&[u8]], dir: bool) -> Result<(OwnedFd, libc::stat), i32> {
        self.open_fd_flags(names, if dir { libc::O_DIRECTORY } else { 0 })
    }

    /// [`Client::open_fd`] with open flags: `O_DIRECTORY` for a directory,
    /// or for a regular file an access mode (a writable server grants
    /// `O_WRONLY`/`O_RDWR`, a read-only one answers `EROFS`) with
    /// `O_APPEND`/`O_TRUNC`.
    pub fn open_fd_flags(&self, names: &[&[u8]], flags: i32) -> Result<(OwnedFd, libc::stat), i32> {
        if names.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        let dir = flags & libc::O_DIRECTORY != 0;
        let msg = Tmessage::Openfd {
            flags: flags as u32,
            names: names.to_vec(),
        };
        let (_, fd) = {
            let mut conn = self.path_conn();
            conn.call_fd(TAG, &msg, self.msize, |r| match r {
                Rmessage::Openfd => Some(()),
                _ => None,
            })?
        };
        // call_fd hands out exactly the one descriptor Ropenfd carries.
        let fd = fd.ok_or(libc::EIO)?;
        let st = check_fd(&fd, if dir { libc::S_IFDIR } else { libc::S_IFREG })?;
        Ok((fd, st))
    }

    /// Lists the directory at `names` below the served root with every
    /// entry's attributes and a symlink's target (Treaddirplus, one round
    /// trip per reply's worth of entries). No fid is involved. A listing
    /// that repeats a name or never ends (more than `max` entries) is
    /// `EIO`, so a hostile server cannot make it grow without bound.
    pub fn readdir_plus(&self, names: &[&[u8]], max: usize) -> Result<Vec<DirPlus>, i32> {
        if names.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut offset = 0;
        loop {
            let msg = Tmessage::Readdirplus {
                offset,
                count: self.msize,
                names: names.to_vec(),
            };
            let next = {
                let mut conn = self.path_conn();
                conn.call(TAG, &msg, self.msize, |r| match r {
                    Rmessage::Readdirplus { next, data } => {
                        let entries = wire::decode_dirplus(data).ok()?;
                        for e in entries {
                            let xattrs = match e.xattrs {
                                Some(x) => Some(split_names(x)?),
                                None => None,
                            };
                            out.push(DirPlus {
                                name: e.name.to_vec(),
                                attr: e.attr.attr,
                                target: e.target.to_vec(),
                                xattrs,
                            });
                        }
                        Some(next)
                    }
                    _ => None,
                })?
            };
            if out.len() > max {
                return Err(libc::EIO);
            }
            if next == 0 {
                break;
            }
            if next == offset {
                // No progress: the listing would never end.
                return Err(libc::EIO);
            }
            offset = next;
        }
        for e in &out {
            if !seen.insert(e.name.as_slice()) {
                return Err(libc::EIO);
            }
        }
        Ok(out)
    }

    /// Opens the regular files `names` (plain names, at most
    /// [`wire::MAX_OPENFDS`]) of the directory at `dir` below the served
    /// root, read-only, in one round trip (Topenfds): per name, its host
    /// descriptor and inode number, or the errno opening it gave.
    pub fn open_fds(
        &self,
        dir: &[&[u8]],
        names: &[&[u8]],
    ) -> Result<Vec<Result<OpenedFd, i32>>, i32> {
        if names.len() > wire::MAX_OPENFDS || dir.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::EINVAL);
        }
        let msg = Tmessage::Openfds {
            dir: dir.to_vec(),
            names: names.to_vec(),
        };
        let (results, fds) = {
            let mut conn = self.path_conn();
            conn.call_fds(TAG, &msg, self.msize, |r| match r {
                Rmessage::Openfds { results } if results.len() == names.len() => Some(results),
                _ => None,
            })?
        };
        let mut fds = fds.into_iter();
        let mut out = Vec::with_capacity(results.len());
        for (e, ino) in results {
            if e != 0 {
                let e = i32::try_from(e).ok().filter(|e| (1..4096).contains(e));
                out.push(Err(e.ok_or(libc::EIO)?));
                continue;
            }
            // exchange checked one descriptor per success.
            let fd = fds.next().ok_or(libc::EIO)?;
            let st = check_fd(&fd, libc::S_IFREG)?;
            if st.st_ino != ino {
                return Err(libc::EIO);
            }
            out.push(Ok((fd, ino)));
        }
        Ok(out)
    }

    /// Looks up the file at `names` below the served root in one round trip
    /// (Tlookupfd): its attributes, a symlink's target, and for a regular
    /// file or directory the server could open, its read-only host
    /// descriptor (as [`Client::open_fd`] gives). No fid is involved.
    pub fn lookup_fd(&self, names: &[&[u8]]) -> Result<LookupFd, i32> {
        if names.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        let msg = Tmessage::Lookupfd {
            names: names.to_vec(),
        };
        let ((attr, target), fd) = {
            let mut conn = self.path_conn();
            conn.call_fd(TAG, &msg, self.msize, |r| match r {
                Rmessage::Lookupfd { fd, attr, target } => {
                    let mode = attr.attr.mode & libc::S_IFMT;
                    // A descriptor only for a regular file or directory; a
                    // target only for a symlink.
                    let ok = (!fd || mode == libc::S_IFREG || mode == libc::S_IFDIR)
                        && (target.is_empty() || mode == libc::S_IFLNK);
                    ok.then(|| (attr.attr, target.to_vec()))
                }
                _ => None,
            })?
        };
        let fd = match fd {
            Some(fd) => {
                let st = check_fd(&fd, attr.mode & libc::S_IFMT)?;
                if st.st_ino != attr.qid.path {
                    return Err(libc::EIO);
                }
                Some(fd)
            }
            None => None,
        };
        Ok(LookupFd { attr, target, fd })
    }

    /// Creates the file at `names` (the last name is the new one) of the
    /// type in `mode` (`S_IFREG`, `S_IFDIR`, `S_IFLNK` holding `target`,
    /// `S_IFIFO`, `S_IFSOCK`) with `mode`'s permission bits exactly (no
    /// umask), owned by `uid`/`gid` (Tcreateat). A new regular file comes
    /// with its read-write host descriptor.
    pub fn create_at(
        &self,
        names: &[&[u8]],
        mode: u32,
        uid: u32,
        gid: u32,
        target: &[u8],
    ) -> Result<(Attr, Option<OwnedFd>), i32> {
        let msg = Tmessage::Createat {
            mode,
            rdev: 0,
            uid,
            gid,
            names: names.to_vec(),
            target,
        };
        let (attr, fd) = {
            let mut conn = self.path_conn();
            conn.call_fd(TAG, &msg, self.msize, |r| match r {
                Rmessage::Createat { fd, attr } => {
                    let reg = attr.attr.mode & libc::S_IFMT == libc::S_IFREG;
                    (!fd || reg).then_some(attr.attr)
                }
                _ => None,
            })?
        };
        if let Some(fd) = &fd {
            let st = check_fd(fd, libc::S_IFREG)?;
            if st.st_ino != attr.qid.path {
                return Err(libc::EIO);
            }
        }
        Ok((attr, fd))
    }

    /// Makes `new` another name of the file at `old` (Tlinkat); returns the
    /// file's attributes.
    pub fn link_at(&self, old: &[&[u8]], new: &[&[u8]]) -> Result<Attr, i32> {
        let msg = Tmessage::Linkat {
            old: old.to_vec(),
            new: new.to_vec(),
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Linkat { attr } => Some(attr.attr),
            _ => None,
        })
    }

    /// Removes the name at `names` (Tremoveat); `flags` 0 or `AT_REMOVEDIR`.
    pub fn remove_at(&self, names: &[&[u8]], flags: u32) -> Result<(), i32> {
        let msg = Tmessage::Removeat {
            flags,
            names: names.to_vec(),
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Removeat).then_some(()))
    }

    /// Renames `old` to `new` with renameat2 `flags` (Trenameat2).
    pub fn rename_at2(&self, old: &[&[u8]], new: &[&[u8]], flags: u32) -> Result<(), i32> {
        let msg = Tmessage::Renameat2 {
            flags,
            old: old.to_vec(),
            new: new.to_vec(),
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Renameat2).then_some(()))
    }

    /// Changes the attributes of the file at `names`, not followed
    /// (Tsetattrat); returns the attributes after the change.
    pub fn setattr_at(&self, names: &[&[u8]], attr: &SetAttr) -> Result<Attr, i32> {
        let msg = Tmessage::Setattrat {
            attr: *attr,
            names: names.to_vec(),
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Setattrat { attr } => Some(attr.attr),
            _ => None,
        })
    }

    /// The most bytes of an attribute value or listing one reply carries
    /// (and the most the kernel has: XATTR_SIZE_MAX).
    pub fn xattr_room(&self) -> usize {
        ((self.msize - wire::RREAD_HEADER_LEN) as usize).min(XATTR_SIZE_MAX)
    }

    /// The value of the extended attribute `name` of the file at `names`,
    /// not followed (Tgetxattrat); ERANGE if longer than `size` bytes
    /// (at most [`Client::xattr_room`]).
    pub fn getxattr_at(&self, names: &[&[u8]], name: &[u8], size: usize) -> Result<Vec<u8>, i32> {
        let size = size.min(self.xattr_room());
        let msg = Tmessage::Getxattrat {
            // xattr_room fits in u32.
            size: size as u32,
            names: names.to_vec(),
            name,
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Getxattrat { value } if value.len() <= size => Some(value.to_vec()),
            _ => None,
        })
    }

    /// The extended attribute names of the file at `names`, not followed
    /// (Tlistxattrat): each one plain, NUL-terminated name; ERANGE if
    /// longer than `size` bytes (at most [`Client::xattr_room`]).
    pub fn listxattr_at(&self, names: &[&[u8]], size: usize) -> Result<Vec<Vec<u8>>, i32> {
        let size = size.min(self.xattr_room());
        let msg = Tmessage::Listxattrat {
            // xattr_room fits in u32.
            size: size as u32,
            names: names.to_vec(),
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Listxattrat { list } if list.len() <= size => split_names(list),
            _ => None,
        })
    }

    /// Sets the extended attribute `name` of the file at `names` to
    /// `value` (Tsetxattrat), with setxattr's `flags`.
    pub fn setxattr_at(
        &self,
        names: &[&[u8]],
        name: &[u8],
        value: &[u8],
        flags: u32,
    ) -> Result<(), i32> {
        let msg = Tmessage::Setxattrat {
            flags,
            names: names.to_vec(),
            name,
            value,
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Setxattrat).then_some(()))
    }

    /// Removes the extended attribute `name` of the file at `names`
    /// (Tremovexattrat).
    pub fn removexattr_at(&self, names: &[&[u8]], name: &[u8]) -> Result<(), i32> {
        let msg = Tmessage::Removexattrat {
            names: names.to_vec(),
            name,
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Removexattrat).then_some(()))
    }

    /// Opens `fid` with Linux open flags (O_RDONLY ...). Returns the qid and iounit.
    pub fn lopen(&self, fid: Fid, flags: u32) -> Result<(Qid, u32), i32> {
        self.rpc(&Tmessage::Lopen { fid, flags }, |r| match r {
            Rmessage::Lopen { qid, iounit } => Some((qid, iounit)),
            _ => None,
        })
    }

    /// Reads up to `buf.len()` bytes at `offset`; splits into msize-sized requests
    /// and stops at the first short read. Returns the byte count (0 at EOF).
    pub fn read(&self, fid: Fid, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
        let max = (self.msize - wire::RREAD_HEADER_LEN) as usize;
        chunked(buf.len(), max, |done, want| {
            let offset = offset.checked_add(done as u64).ok_or(libc::EINVAL)?;
            let dst = &mut buf[done..done + want];
            let msg = Tmessage::Read {
                fid,
                offset,
                // want <= msize, a u32.
                count: want as u32,
            };
            self.rpc(&msg, |r| match r {
                Rmessage::Read { data } if data.len() <= dst.len() => {
                    dst[..data.len()].copy_from_slice(data);
                    Some(data.len())
                }
                _ => None,
            })
        })
    }

    /// Writes `data` at `offset`, split into msize-sized requests; stops at
    /// the first short write. Returns the byte count.
    pub fn write(&self, fid: Fid, offset: u64, data: &[u8]) -> Result<usize, i32> {
        let max = (self.msize - wire::TWRITE_HEADER_LEN) as usize;
        chunked(data.len(), max, |done, want| {
            let offset = offset.checked_add(done as u64).ok_or(libc::EINVAL)?;
            let src = &data[done..done + want];
            let msg = Tmessage::Write {
                fid,
                offset,
                data: src,
            };
            self.rpc(&msg, |r| match r {
                Rmessage::Write { count } if count as usize <= src.len() => Some(count as usize),
                _ => None,
            })
        })
    }

    /// One Treaddir of at most `count` bytes starting at `offset` (0 = start).
    /// An empty vector means the end of the directory.
    ///
    /// `fid` must be open (`lopen`). `count` is capped to what fits in one
    /// message; it must leave room for at least one entry (24 bytes plus
    /// the name), or the server may answer with no entries.
    pub fn readdir(&self, fid: Fid, offset: u64, count: u32) -> Result<Vec<DirEntry>, i32> {
        let count = count.min(self.msize - wire::RREAD_HEADER_LEN);
        let msg = Tmessage::Readdir { fid, offset, count };
        self.rpc(&msg, |r| match r {
            Rmessage::Readdir { data } if data.len() <= count as usize => {
                wire::decode_dirents(data).ok()
            }
            _ => None,
        })
    }

    pub fn readlink(&self, fid: Fid) -> Result<Vec<u8>, i32> {
        self.rpc(&Tmessage::Readlink { fid }, |r| match r {
            Rmessage::Readlink { target } => Some(target.to_vec()),
            _ => None,
        })
    }

    pub fn statfs(&self, fid: Fid) -> Result<StatFs, i32> {
        self.rpc(&Tmessage::Statfs { fid }, |r| match r {
            Rmessage::Statfs(s) => Some(s),
            _ => None,
        })
    }

    /// Releases `fid`. Per 9P the fid is gone even when the server answers
    /// with an error, so its number is reused either way.
    pub fn clunk(&self, fid: Fid) -> Result<(), i32> {
        let result = self.rpc(&Tmessage::Clunk { fid }, |r| match r {
            Rmessage::Clunk => Some(()),
            _ => None,
        });
        self.release_fid(fid);
        result
    }

    /// Creates and opens the regular file `name` in the directory `dfid`.
    /// As 9P has it, `dfid` itself then names the new, open file: walk a
    /// clone of the directory first (`walk(dfid, &[])`) to keep it.
    pub fn lcreate(
        &self,
        dfid: Fid,
        name: &[u8],
        flags: u32,
        mode: u32,
        gid: u32,
    ) -> Result<(Qid, u32), i32> {
        let msg = Tmessage::Lcreate {
            fid: dfid,
            name,
            flags,
            mode,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Lcreate { qid, iounit } => Some((qid, iounit)),
            _ => None,
        })
    }

    /// Creates the directory `name` in `dfid`.
    pub fn mkdir(&self, dfid: Fid, name: &[u8], mode: u32, gid: u32) -> Result<Qid, i32> {
        let msg = Tmessage::Mkdir {
            dfid,
            name,
            mode,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Mkdir { qid } => Some(qid),
            _ => None,
        })
    }

    /// Creates the symlink `name` -> `target` in `dfid`. (The p9 server
    /// refuses this with EACCES.)
    pub fn symlink(&self, dfid: Fid, name: &[u8], target: &[u8], gid: u32) -> Result<Qid, i32> {
        let msg = Tmessage::Symlink {
            dfid,
            name,
            target,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Symlink { qid } => Some(qid),
            _ => None,
        })
    }

    /// Creates the device, FIFO or socket node `name` in `dfid`. (The p9
    /// server refuses this with EACCES.)
    pub fn mknod(
        &self,
        dfid: Fid,
        name: &[u8],
        mode: u32,
        major: u32,
        minor: u32,
        gid: u32,
    ) -> Result<Qid, i32> {
        let msg = Tmessage::Mknod {
            dfid,
            name,
            mode,
            major,
            minor,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Mknod { qid } => Some(qid),
            _ => None,
        })
    }

    /// Makes `name` in `dfid` a hard link to the file `fid`.
    pub fn link(&self, dfid: Fid, fid: Fid, name: &[u8]) -> Result<(), i32> {
        self.rpc(&Tmessage::Link { dfid, fid, name }, |r| match r {
            Rmessage::Link => Some(()),
            _ => None,
        })
    }

    /// Renames `oldname` in `olddfid` to `newname` in `newdfid`.
    pub fn renameat(
        &self,
        olddfid: Fid,
        oldname: &[u8],
        newdfid: Fid,
        newname: &[u8],
    ) -> Result<(), i32> {
        let msg = Tmessage::Renameat {
            olddfid,
            oldname,
            newdfid,
            newname,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Renameat => Some(()),
            _ => None,
        })
    }

    /// Removes `name` from `dfid`; `flags` is 0 or `AT_REMOVEDIR`.
    pub fn unlinkat(&self, dfid: Fid, name: &[u8], flags: u32) -> Result<(), i32> {
        self.rpc(&Tmessage::Unlinkat { dfid, name, flags }, |r| match r {
            Rmessage::Unlinkat => Some(()),
            _ => None,
        })
    }

    /// Changes the attributes `attr.valid` selects.
    pub fn setattr(&self, fid: Fid, attr: &SetAttr) -> Result<(), i32> {
        self.rpc(&Tmessage::Setattr { fid, attr: *attr }, |r| match r {
            Rmessage::Setattr => Some(()),
            _ => None,
        })
    }

    /// Flushes an open file to storage (`fdatasync` when `datasync`).
    pub fn fsync(&self, fid: Fid, datasync: bool) -> Result<(), i32> {
        let msg = Tmessage::Fsync {
            fid,
            datasync: u32::from(datasync),
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Fsync => Some(()),
            _ => None,
        })
    }
}
