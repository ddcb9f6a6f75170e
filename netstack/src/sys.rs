//! The few host calls the stack makes: an eventfd to kick its thread,
//! poll(2) to sleep on it and the interfaces' frame descriptors, and
//! non-blocking datagram reads and writes of whole frames. Each `unsafe`
//! block is one call on memory this module owns.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// A counter the stack's thread sleeps on; any thread may bump it.
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes no pointers; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by eventfd and nothing else owns it.
        Ok(EventFd(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub(crate) fn kick(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live local; a full counter (EAGAIN)
        // already means "wake up", so the result does not matter.
        unsafe {
            libc::write(
                self.0.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    pub(crate) fn drain(&self) {
        let mut v: u64 = 0;
        // SAFETY: reads 8 bytes into a live local; EAGAIN (nothing to
        // drain) is fine.
        unsafe {
            libc::read(
                self.0.as_raw_fd(),
                (&mut v as *mut u64).cast(),
                std::mem::size_of::<u64>(),
            )
        };
    }

    pub(crate) fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Sleeps until one of `fds` is readable or `timeout` passes (None:
/// forever). Returns which fds are readable.
pub(crate) fn poll_readable(fds: &[RawFd], timeout: Option<Duration>) -> Vec<bool> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = match timeout {
        None => -1,
        // Round up: waking a millisecond early would spin until the deadline.
        Some(d) => d
            .as_micros()
            .div_ceil(1000)
            .min(i32::MAX as u128)
            .try_into()
            .unwrap_or(i32::MAX),
    };
    // SAFETY: `pfds` is a live array of `pfds.len()` pollfd structs.
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if n <= 0 {
        return vec![false; fds.len()];
    }
    pfds.iter().map(|p| p.revents != 0).collect()
}

pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor the caller owns; no pointers.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Frames one recvmmsg(2) may read, and sendmmsg(2) write.
pub(crate) const MMSG: usize = 32;

/// Reads up to `bufs.len()` (at most MMSG) waiting frames in one call,
/// each into an empty buffer's spare capacity of `cap` bytes; with
/// `hdr`, each frame's first `hdr` bytes (its virtio-net header) go
/// elsewhere and are dropped. Sets each filled buffer's length; returns
/// how many were filled (0 when none waits, or on error: the caller polls
/// again later either way). A frame cut short (MSG_TRUNC) comes back
/// empty.
pub(crate) fn recv_frames(fd: RawFd, bufs: &mut [Vec<u8>], cap: usize, hdr: usize) -> usize {
    let n = bufs.len().min(MMSG);
    let mut hdrs = [[0u8; 16]; MMSG];
    let hdr = hdr.min(16);
    let mut iov: Vec<libc::iovec> = Vec::with_capacity(2 * n);
    for (b, h) in bufs.iter_mut().zip(hdrs.iter_mut()).take(n) {
        b.clear();
        b.reserve(cap);
        if hdr > 0 {
            iov.push(libc::iovec {
                iov_base: h.as_mut_ptr().cast(),
                iov_len: hdr,
            });
        }
        iov.push(libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: cap,
        });
    }
    let per = if hdr > 0 { 2 } else { 1 };
    // SAFETY: mmsghdr is plain data; all-zero is a valid value.
    let mut msgs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (i, m) in msgs.iter_mut().enumerate() {
        m.msg_hdr.msg_iov = iov[i * per..].as_mut_ptr();
        m.msg_hdr.msg_iovlen = per;
    }
    // SAFETY: `msgs` is a live array of `n` mmsghdr, each naming iovecs
    // into `iov`, which point at `hdrs` and at `cap` bytes of each buffer's
    // reserved capacity, all alive until the call returns.
    let got = unsafe {
        libc::recvmmsg(
            fd,
            msgs.as_mut_ptr(),
            n as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    let got = usize::try_from(got).unwrap_or(0);
    for (b, m) in bufs.iter_mut().zip(&msgs).take(got) {
        let len = (m.msg_len as usize).saturating_sub(hdr).min(cap);
        let len = if m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            0
        } else {
            len
        };
        // SAFETY: the kernel wrote `len` bytes (at most `cap`, within the
        // reserved capacity) at the start of the buffer.
        unsafe { b.set_len(len) };
    }
    got
}

/// Writes `frames`, each after its header (empty when the descriptor
/// takes none), MMSG at a time; a full queue drops the rest, as a
/// congested link would (TCP retransmits).
pub(crate) fn send_frames(fd: RawFd, frames: &[(&[u8], &[u8])]) {
    for chunk in frames.chunks(MMSG) {
        let mut iov: Vec<libc::iovec> = Vec::with_capacity(2 * chunk.len());
        let mut per = Vec::with_capacity(chunk.len());
        for (h, f) in chunk {
            let mut k = 0;
            for part in [h, f] {
                if !part.is_empty() {
                    iov.push(libc::iovec {
                        iov_base: part.as_ptr() as *mut libc::c_void,
                        iov_len: part.len(),
                    });
                    k += 1;
                }
            }
            per.push(k);
        }
        // SAFETY: mmsghdr is plain data; all-zero is a valid value.
        let mut msgs: Vec<libc::mmsghdr> = (0..chunk.len())
            .map(|_| unsafe { std::mem::zeroed() })
            .collect();
        let mut at = 0;
        for (m, &k) in msgs.iter_mut().zip(&per) {
            m.msg_hdr.msg_iov = iov[at..].as_mut_ptr();
            m.msg_hdr.msg_iovlen = k;
            at += k;
        }
        let mut done = 0;
        while done < msgs.len() {
            // SAFETY: `msgs[done..]` is a live array of mmsghdr naming
            // iovecs over the caller's live slices, only read by the call.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    msgs[done..].as_mut_ptr(),
                    (msgs.len() - done) as libc::c_uint,
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                )
            };
            match usize::try_from(n) {
                Ok(n) if n > 0 => done += n,
                // The first frame was refused (a full queue, or a frame
                // the device will not take): drop it and go on.
                _ => done += 1,
            }
        }
    }
}
