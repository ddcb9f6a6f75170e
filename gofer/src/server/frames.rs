//! Frames on a connection: each request read whole before anything
//! looks at it, and the replies (with the descriptors some carry) sent
//! back.

use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use gofer_protocol::wire::{self, Rmessage};

/// The largest message `p9` 0.3.2 negotiates (64 KiB of payload plus room
/// for headers); a bigger request frame is a protocol violation.
pub const MAX_MSIZE: u32 = 64 * 1024 + 24;

/// Reads `sock`'s frames one by one and has `handle` answer each until
/// the peer closes it: `Ok(())` at a clean end of stream or when the peer
/// is gone mid-reply, an error for a torn or oversized frame or a failing
/// socket.
pub(super) fn serve_frames(
    sock: UnixStream,
    mut handle: impl FnMut(&[u8], &mut Out<'_>) -> io::Result<()>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(MAX_MSIZE as usize, sock.try_clone()?);
    let mut writer = BufWriter::with_capacity(MAX_MSIZE as usize, sock);
    let mut frame = Vec::with_capacity(MAX_MSIZE as usize);
    let mut buf = Vec::new();
    loop {
        if !read_frame(&mut reader, &mut frame)? {
            return Ok(());
        }
        let mut out = Out {
            writer: &mut writer,
            buf: &mut buf,
            // read_frame guarantees a whole header.
            tag: u16::from_le_bytes([frame[5], frame[6]]),
        };
        match handle(&frame, &mut out) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where the answer to one request goes: the connection, a buffer to
/// encode it in (reused from request to request) and the request's tag.
pub(super) struct Out<'c> {
    writer: &'c mut BufWriter<UnixStream>,
    buf: &'c mut Vec<u8>,
    tag: u16,
}

impl Out<'_> {
    /// Answers with `msg`.
    pub(super) fn reply(&mut self, msg: &Rmessage<'_>) -> io::Result<()> {
        self.reply_with_fds(msg, &[])
    }

    /// Answers with `msg` and `fds` attached (SCM_RIGHTS) to its first
    /// byte. A reply that cannot be encoded is answered with the errno
    /// instead (the descriptors are closed).
    pub(super) fn reply_with_fds(&mut self, msg: &Rmessage<'_>, fds: &[OwnedFd]) -> io::Result<()> {
        match wire::encode_rmessage(self.tag, msg, self.buf) {
            Ok(()) => send_reply(self.writer, self.buf, fds),
            Err(errno) => self.error(errno),
        }
    }

    /// Answers with Rlerror `errno`.
    pub(super) fn error(&mut self, errno: i32) -> io::Result<()> {
        // Our errnos are small positive constants; anything else is EIO.
        let ecode = u32::try_from(errno)
            .ok()
            .filter(|e| (1..4096).contains(e))
            .unwrap_or(libc::EIO as u32);
        wire::encode_rmessage(self.tag, &Rmessage::Lerror { ecode }, self.buf)
            .map_err(io::Error::from_raw_os_error)?;
        self.writer
            .write_all(self.buf)
            .and_then(|()| self.writer.flush())
    }

    /// The connection itself, for `p9` to answer on.
    pub(super) fn writer(&mut self) -> &mut BufWriter<UnixStream> {
        self.writer
    }
}

/// Reads one whole frame into `frame`. `Ok(false)` is a clean end of stream
/// (no byte of a new frame arrived).
fn read_frame(reader: &mut impl Read, frame: &mut Vec<u8>) -> io::Result<bool> {
    let mut size = [0u8; 4];
    let mut got = 0;
    while got < size.len() {
        match reader.read(&mut size[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if got == 0 && e.kind() == ErrorKind::ConnectionReset => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    let len = wire::frame_len(size, MAX_MSIZE).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "9P frame size {} outside 7..={MAX_MSIZE}",
                u32::from_le_bytes(size)
            ),
        )
    })?;
    frame.clear();
    frame.extend_from_slice(&size);
    frame.resize(len, 0);
    reader.read_exact(&mut frame[4..])?;
    Ok(true)
}

/// Sends the encoded `reply` after whatever `writer` holds, with `fds`
/// attached (SCM_RIGHTS) when there are any.
fn send_reply(writer: &mut BufWriter<UnixStream>, reply: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
    if fds.is_empty() {
        return writer.write_all(reply).and_then(|()| writer.flush());
    }
    writer.flush()?;
    send_with_fds(writer.get_ref(), reply, fds)
}

/// Sends `frame` with `fds` attached to its first byte.
fn send_with_fds(sock: &UnixStream, frame: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [io::IoSlice::new(frame)];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&raw)];
    let sent = loop {
        match nix::sys::socket::sendmsg::<()>(
            sock.as_raw_fd(),
            &iov,
            &cmsg,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    };
    // The descriptors went with the first byte; the rest is plain data.
    let rest = frame.get(sent..).unwrap_or_default();
    let mut sock = sock;
    sock.write_all(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_whole() {
        let mut frame = Vec::new();
        assert!(!read_frame(&mut &b""[..], &mut frame).unwrap());
        assert_eq!(
            read_frame(&mut &b"\x0b\x00"[..], &mut frame)
                .unwrap_err()
                .kind(),
            ErrorKind::UnexpectedEof
        );
        assert_eq!(
            read_frame(&mut &b"\x0b\x00\x00\x00\x78\x01\x00"[..], &mut frame)
                .unwrap_err()
                .kind(),
            ErrorKind::UnexpectedEof
        );
        assert_eq!(
            read_frame(&mut &b"\xff\xff\xff\xff"[..], &mut frame)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidData
        );
        let whole = b"\x0b\x00\x00\x00\x78\x01\x00\x05\x00\x00\x00rest";
        let mut r = &whole[..];
        assert!(read_frame(&mut r, &mut frame).unwrap());
        assert_eq!(frame, &whole[..11]);
        assert_eq!(r, b"rest");
    }
}
