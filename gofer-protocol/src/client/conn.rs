//! One connection to the Gofer: a request sent, its reply read with
//! `recvmsg` (with whatever descriptors came along) and checked against
//! the request before anyone sees it.

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use crate::wire::{self, Rmessage, Tmessage};

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

/// The socket and reusable buffers for one request/reply exchange.
pub(super) struct Conn {
    sock: UnixStream,
    wbuf: Vec<u8>,
    rbuf: Vec<u8>,
    broken: bool,
}

impl Conn {
    pub(super) fn new(sock: UnixStream) -> Conn {
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
    pub(super) fn call<T>(
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
    pub(super) fn call_fd<T>(
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
    pub(super) fn call_fds<T>(
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
