//! Errors as Linux numbers them: the Sentry returns them to the application
//! unchanged, so the stack speaks errno rather than an enum of its own.

use std::fmt;

#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const EAGAIN: Errno = Errno(libc::EAGAIN);
    pub const EINPROGRESS: Errno = Errno(libc::EINPROGRESS);
    pub const EALREADY: Errno = Errno(libc::EALREADY);
    pub const EADDRINUSE: Errno = Errno(libc::EADDRINUSE);
    pub const EADDRNOTAVAIL: Errno = Errno(libc::EADDRNOTAVAIL);
    pub const EAFNOSUPPORT: Errno = Errno(libc::EAFNOSUPPORT);
    pub const ECONNREFUSED: Errno = Errno(libc::ECONNREFUSED);
    pub const ECONNRESET: Errno = Errno(libc::ECONNRESET);
    pub const ECONNABORTED: Errno = Errno(libc::ECONNABORTED);
    pub const ENOTCONN: Errno = Errno(libc::ENOTCONN);
    pub const EISCONN: Errno = Errno(libc::EISCONN);
    pub const EPIPE: Errno = Errno(libc::EPIPE);
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    pub const ETIMEDOUT: Errno = Errno(libc::ETIMEDOUT);
    pub const ENETUNREACH: Errno = Errno(libc::ENETUNREACH);
    pub const EHOSTUNREACH: Errno = Errno(libc::EHOSTUNREACH);
    pub const EMSGSIZE: Errno = Errno(libc::EMSGSIZE);
    pub const ENOBUFS: Errno = Errno(libc::ENOBUFS);
    pub const EOPNOTSUPP: Errno = Errno(libc::EOPNOTSUPP);
    pub const EDESTADDRREQ: Errno = Errno(libc::EDESTADDRREQ);
    pub const EACCES: Errno = Errno(libc::EACCES);
    pub const EFAULT: Errno = Errno(libc::EFAULT);
    pub const ENODEV: Errno = Errno(libc::ENODEV);
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", std::io::Error::from_raw_os_error(self.0))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}
