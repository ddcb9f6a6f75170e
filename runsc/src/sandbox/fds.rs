//! Descriptors a sandbox process inherits from its parent, taken over
//! once each.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

use anyhow::{bail, Result};

/// Takes ownership of an inherited descriptor.
pub fn inherited_stream(fd: RawFd) -> Result<UnixStream> {
    // SAFETY: fstat only inspects the descriptor.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes one struct stat.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        bail!("descriptor {fd} is not a socket");
    }
    // SAFETY: the parent handed this descriptor to us and nothing else owns it.
    let s = unsafe { UnixStream::from_raw_fd(fd) };
    // SAFETY: fcntl on our own descriptor.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(s)
}

/// Takes ownership of an inherited listening socket.
pub fn inherited_listener(fd: RawFd) -> Result<UnixListener> {
    let s = inherited_stream(fd)?;
    let fd: OwnedFd = s.into();
    Ok(UnixListener::from(fd))
}

/// Takes ownership of an inherited descriptor of any kind (a pipe, a
/// terminal).
pub fn inherited(fd: RawFd) -> OwnedFd {
    // SAFETY: the parent handed this descriptor to us and nothing else owns
    // it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}
