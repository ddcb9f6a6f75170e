//! The socket options passed through to host sockets: an allow-list, each
//! with the size of its value, so the host sees only options whose effect
//! stays on the application's own socket. Others are ENOPROTOOPT.

use crate::errno::Errno;

/// (level, name, value size in bytes). From gVisor's hostinet list, less
/// what needs ancillary data the Sentry does not forward.
const ALLOWED: &[(i32, i32, usize)] = &[
    (libc::SOL_SOCKET, libc::SO_ACCEPTCONN, 4),
    (libc::SOL_SOCKET, libc::SO_BROADCAST, 4),
    (libc::SOL_SOCKET, libc::SO_DOMAIN, 4),
    (libc::SOL_SOCKET, libc::SO_ERROR, 4),
    (libc::SOL_SOCKET, libc::SO_KEEPALIVE, 4),
    (
        libc::SOL_SOCKET,
        libc::SO_LINGER,
        std::mem::size_of::<libc::linger>(),
    ),
    (libc::SOL_SOCKET, libc::SO_OOBINLINE, 4),
    (libc::SOL_SOCKET, libc::SO_PROTOCOL, 4),
    (libc::SOL_SOCKET, libc::SO_RCVBUF, 4),
    (libc::SOL_SOCKET, libc::SO_RCVLOWAT, 4),
    (libc::SOL_SOCKET, libc::SO_REUSEADDR, 4),
    (libc::SOL_SOCKET, libc::SO_REUSEPORT, 4),
    (libc::SOL_SOCKET, libc::SO_SNDBUF, 4),
    (libc::SOL_SOCKET, libc::SO_TYPE, 4),
    (libc::IPPROTO_TCP, libc::TCP_CONGESTION, 16),
    (libc::IPPROTO_TCP, libc::TCP_CORK, 4),
    (libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, 4),
    (
        libc::IPPROTO_TCP,
        libc::TCP_INFO,
        std::mem::size_of::<libc::tcp_info>(),
    ),
    (libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 4),
    (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 4),
    (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 4),
    (libc::IPPROTO_TCP, libc::TCP_LINGER2, 4),
    (libc::IPPROTO_TCP, libc::TCP_MAXSEG, 4),
    (libc::IPPROTO_TCP, libc::TCP_NODELAY, 4),
    (libc::IPPROTO_TCP, libc::TCP_QUICKACK, 4),
    (libc::IPPROTO_TCP, libc::TCP_SYNCNT, 4),
    (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, 4),
    (libc::IPPROTO_TCP, libc::TCP_WINDOW_CLAMP, 4),
    (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER, 4),
    (libc::IPPROTO_IP, libc::IP_TOS, 4),
    (libc::IPPROTO_IP, libc::IP_TTL, 4),
    (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, 4),
    (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 4),
    (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 4),
];

/// The (level, name) pairs passed through: the Sentry's seccomp filter
/// allows getsockopt/setsockopt with exactly these.
pub fn passed() -> impl Iterator<Item = (i32, i32)> {
    ALLOWED.iter().map(|&(level, name, _)| (level, name))
}

fn size_of(level: i32, name: i32) -> Result<usize, Errno> {
    ALLOWED
        .iter()
        .find(|a| a.0 == level && a.1 == name)
        .map(|a| a.2)
        .ok_or(Errno::ENOPROTOOPT)
}

pub(super) fn get(fd: i32, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; size_of(level, name)?];
    let mut len = buf.len() as libc::socklen_t;
    // SAFETY: `buf` and `len` are live and describe each other.
    let r = unsafe { libc::getsockopt(fd, level, name, buf.as_mut_ptr().cast(), &mut len) };
    super::check(r as isize)?;
    buf.truncate(len as usize);
    Ok(buf)
}

pub(super) fn set(fd: i32, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
    let size = size_of(level, name)?;
    // The host reads at most the option's size: longer values are cut,
    // shorter ones go as they are (the host answers EINVAL).
    let val = &val[..val.len().min(size)];
    // SAFETY: `val` is a live buffer of the length passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            val.as_ptr().cast(),
            val.len() as libc::socklen_t,
        )
    };
    super::check(r as isize).map(drop)
}
