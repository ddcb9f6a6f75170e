//! A socket as a file: [`SocketFile`] is what socket(2), socketpair(2) and
//! accept(2) put in the descriptor table; the [`Socket`] behind it is one
//! family's endpoint. read(2) and write(2) on the file are recv and send
//! without flags.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::control::Control;
use crate::errno::Errno;
use crate::usermem::{BufferMemory, IoSeq};
use crate::vfs::dnotify::SignalOwner;
use crate::vfs::{Caller, File, FileOps};
use crate::waiter::WaitQueue;

/// st_dev of sockets (Linux's sockfs is an anonymous device too).
const SOCKFS_DEV: u64 = 0x08;
/// <asm-generic/sockios.h>; the libc crate lacks it on Linux.
const SIOCATMARK: u64 = 0x8905;

/// What sendmsg(2) hands a socket.
pub struct SendMsg<'a> {
    pub data: IoSeq<'a>,
    /// The destination (`msg_name`), as the application wrote it.
    pub to: Option<Vec<u8>>,
    pub control: Control,
    /// MSG_* flags.
    pub flags: i32,
}

/// What recvmsg(2) asks of a socket, and what the socket answers besides
/// the bytes it copied out.
pub struct RecvMsg<'a> {
    pub data: IoSeq<'a>,
    /// MSG_PEEK, MSG_WAITALL, MSG_TRUNC, MSG_DONTWAIT ... as asked.
    pub flags: i32,
    /// The sender's address (datagrams).
    pub from: Option<Vec<u8>>,
    pub control: Control,
    /// MSG_TRUNC, MSG_EOR ... for `msg_flags`.
    pub out_flags: i32,
    /// The length of the whole record, when it was longer than the
    /// buffers (MSG_TRUNC asks recv to return it).
    pub full_len: usize,
}

impl<'a> RecvMsg<'a> {
    pub fn new(data: IoSeq<'a>, flags: i32) -> RecvMsg<'a> {
        RecvMsg {
            data,
            flags,
            from: None,
            control: Control::default(),
            out_flags: 0,
            full_len: 0,
        }
    }
}

/// One family's endpoint. Calls that may block take the caller (to sleep
/// on) and whether the description or the call asked not to block.
pub trait Socket: Send + Sync {
    /// AF_UNIX, AF_INET ...
    fn domain(&self) -> i32;
    /// SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET ...
    fn kind(&self) -> i32;
    fn bind(&self, t: &dyn Caller, addr: &[u8]) -> Result<(), Errno>;
    fn listen(&self, t: &dyn Caller, backlog: i32) -> Result<(), Errno>;
    /// A connection from the backlog, and its peer's address.
    fn accept(&self, t: &dyn Caller, nonblock: bool) -> Result<(Arc<dyn Socket>, Vec<u8>), Errno>;
    fn connect(&self, t: &dyn Caller, addr: &[u8], nonblock: bool) -> Result<(), Errno>;
    fn shutdown(&self, how: i32) -> Result<(), Errno>;
    /// getsockname(2).
    fn name(&self) -> Vec<u8>;
    /// getpeername(2).
    fn peer_name(&self) -> Result<Vec<u8>, Errno>;
    /// The bytes sent; EPIPE makes the caller raise SIGPIPE unless
    /// MSG_NOSIGNAL (see [`send`]).
    fn send(&self, t: &dyn Caller, msg: &mut SendMsg<'_>, nonblock: bool) -> Result<usize, Errno>;
    /// The bytes copied out (or, with MSG_TRUNC asked, the record's).
    fn recv(&self, t: &dyn Caller, msg: &mut RecvMsg<'_>, nonblock: bool) -> Result<usize, Errno>;
    fn getsockopt(&self, level: i32, name: i32) -> Result<Vec<u8>, Errno>;
    fn setsockopt(&self, t: &dyn Caller, level: i32, name: i32, val: &[u8]) -> Result<(), Errno>;
    /// Current poll(2) events among `mask`.
    fn readiness(&self, mask: i16) -> i16;
    fn wait_queue(&self) -> &WaitQueue;
    /// FIONREAD / SIOCINQ.
    fn readable_bytes(&self) -> usize;
    /// SIOCOUTQ: bytes sent and not yet read.
    fn unread_sent_bytes(&self) -> usize;
    /// The inode number `socket:[N]` and /proc/net show.
    fn ino(&self) -> u64;
    /// SIOCATMARK: the reader is at urgent data (TCP); ENOTTY for a
    /// family without it.
    fn at_mark(&self) -> Result<bool, Errno> {
        Err(Errno::ENOTTY)
    }
    /// F_SETOWN: the process SIGURG goes to (`pid` as F_GETOWN reports
    /// it; `target` None when nothing is signalled). Only sockets with
    /// urgent data keep it.
    fn set_owner(&self, _pid: i32, _target: Option<Weak<dyn SignalOwner>>) {}
    /// F_GETOWN.
    fn owner(&self) -> i32 {
        0
    }
    /// The family's own type, for a family that must recognise its own
    /// sockets among files (AF_UNIX's collector of sockets in flight).
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// A socket in the descriptor table.
pub struct SocketFile {
    pub sock: Arc<dyn Socket>,
    ino: u64,
    /// The stack of the network namespace the socket was made in: the
    /// interfaces its SIOCGIF* ioctls describe.
    net: Arc<netstack::Stack>,
}

impl SocketFile {
    pub fn new(sock: Arc<dyn Socket>, net: Arc<netstack::Stack>) -> Arc<SocketFile> {
        let ino = sock.ino();
        Arc::new(SocketFile { sock, ino, net })
    }

    /// The socket behind a file; ENOTSOCK for any other file.
    pub fn of(f: &File) -> Result<&SocketFile, Errno> {
        f.ops()
            .as_any()
            .and_then(|a| a.downcast_ref::<SocketFile>())
            .ok_or(Errno::ENOTSOCK)
    }

    pub fn ino(&self) -> u64 {
        self.ino
    }
}

/// send with SIGPIPE: a stream whose peer is gone raises it in the sender
/// unless MSG_NOSIGNAL, as Linux does.
pub fn send(
    t: &dyn Caller,
    sock: &dyn Socket,
    msg: &mut SendMsg<'_>,
    nonblock: bool,
) -> Result<usize, Errno> {
    let r = sock.send(t, msg, nonblock);
    if r == Err(Errno::EPIPE) && msg.flags & libc::MSG_NOSIGNAL == 0 {
        t.send_signal_self(libc::SIGPIPE);
    }
    r
}

impl FileOps for SocketFile {
    fn read_to(
        &self,
        t: &dyn Caller,
        f: &File,
        dst: &mut IoSeq<'_>,
        _off: u64,
    ) -> Result<usize, Errno> {
        let data = std::mem::replace(dst, IoSeq::new(dst.memory(), &[]));
        let mut msg = RecvMsg::new(data, 0);
        let r = self.sock.recv(t, &mut msg, f.nonblocking());
        *dst = msg.data;
        r
    }

    fn write_from(
        &self,
        t: &dyn Caller,
        f: &File,
        src: &mut IoSeq<'_>,
        _off: u64,
    ) -> Result<usize, Errno> {
        let data = std::mem::replace(src, IoSeq::new(src.memory(), &[]));
        let mut msg = SendMsg {
            data,
            to: None,
            control: Control::default(),
            flags: 0,
        };
        let r = send(t, &*self.sock, &mut msg, f.nonblocking());
        *src = msg.data;
        r
    }

    /// A read into a Sentry buffer (splice, sendfile): recv through an
    /// [`IoSeq`] over it.
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let mem = BufferMemory::writable(buf);
        let range = mem.range();
        let mut seq = IoSeq::new(&mem, &range);
        self.read_to(t, f, &mut seq, off)
    }

    /// A write from a Sentry buffer (sendfile to a socket, splice).
    fn write(&self, t: &dyn Caller, f: &File, buf: &[u8], off: u64) -> Result<usize, Errno> {
        let mem = BufferMemory::readable(buf);
        let range = mem.range();
        let mut seq = IoSeq::new(&mem, &range);
        self.write_from(t, f, &mut seq, off)
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut s: libc::stat = crate::usermem::zeroed();
        s.st_dev = SOCKFS_DEV;
        s.st_ino = self.ino;
        s.st_mode = libc::S_IFSOCK | 0o777;
        s.st_nlink = 1;
        s.st_blksize = 4096;
        Ok(s)
    }

    fn ioctl(&self, t: &dyn Caller, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        if super::ifreq::handles(cmd) {
            return super::ifreq::ioctl(t, &self.net, self.sock.domain(), cmd, arg);
        }
        let n = match u64::from(cmd) {
            libc::FIONREAD => self.sock.readable_bytes(),
            libc::TIOCOUTQ => self.sock.unread_sent_bytes(),
            SIOCATMARK => usize::from(self.sock.at_mark()?),
            _ => return Err(Errno::ENOTTY),
        };
        t.copy_out(arg, &(n.min(i32::MAX as usize) as i32))?;
        Ok(0)
    }

    fn readable_bytes(&self) -> Option<u64> {
        Some(self.sock.readable_bytes() as u64)
    }

    fn readiness(&self, mask: i16) -> i16 {
        self.sock.readiness(mask)
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(self.sock.wait_queue())
    }

    fn name(&self) -> Vec<u8> {
        format!("socket:[{}]", self.ino).into_bytes()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

/// Sleeps on `queue` until `cond` holds, as a socket call waits: with a
/// timeout (SO_RCVTIMEO, SO_SNDTIMEO) its end is EAGAIN and a signal is
/// EINTR; without, a signal restarts the call when the handler allows
/// (Linux's sock_intr_errno).
pub fn wait(
    t: &dyn Caller,
    queues: &[&WaitQueue],
    timeout: Option<Duration>,
    cond: &mut dyn FnMut() -> bool,
) -> Result<(), Errno> {
    let deadline = timeout.and_then(|d| Instant::now().checked_add(d));
    match t.block(queues, deadline, cond) {
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        Err(Errno::ERESTARTSYS) if timeout.is_some() => Err(Errno::EINTR),
        r => r,
    }
}

/// A `struct timeval` option value (SO_RCVTIMEO): zero means no timeout.
pub fn timeval_option(val: &[u8]) -> Result<Option<Duration>, Errno> {
    if val.len() < std::mem::size_of::<libc::timeval>() {
        return Err(Errno::EINVAL);
    }
    let tv: libc::timeval = crate::usermem::from_bytes(val);
    if tv.tv_usec < 0 || tv.tv_usec >= 1_000_000 {
        return Err(Errno::EDOM);
    }
    if tv.tv_sec < 0 {
        // Linux makes a negative timeout no wait at all.
        return Ok(Some(Duration::ZERO));
    }
    if tv.tv_sec == 0 && tv.tv_usec == 0 {
        return Ok(None);
    }
    Ok(Some(
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64),
    ))
}

/// An option value as a `struct timeval`.
pub fn timeval_bytes(d: Option<Duration>) -> Vec<u8> {
    let d = d.unwrap_or_default();
    let tv = libc::timeval {
        tv_sec: d.as_secs() as i64,
        tv_usec: i64::from(d.subsec_micros()),
    };
    crate::usermem::as_bytes(&tv).to_vec()
}

/// An `int` option value: EINVAL when shorter than an int.
pub fn int_option(val: &[u8]) -> Result<i32, Errno> {
    match val.get(..4) {
        Some(b) => Ok(i32::from_ne_bytes(b.try_into().expect("4 bytes"))),
        None => Err(Errno::EINVAL),
    }
}

pub fn int_bytes(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}
