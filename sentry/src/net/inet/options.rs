//! getsockopt(2) and setsockopt(2) on inet sockets. Options the stack acts
//! on go to the endpoint's [`netstack::Options`]; the socket keeps its
//! timeouts, the control messages recvmsg adds (`ancillary`), a raw
//! socket's own options (`raw`), and a few options Linux stores and
//! reports without their changing anything here (each listed in [`KEPT`]
//! with why).

use std::time::Duration;

use super::{ancillary, errno, multicast, pmtu, raw, InetSocket};
use crate::errno::Errno;
use crate::net::socket::{int_bytes, int_option, timeval_bytes, timeval_option};

/// The largest buffer setsockopt grants (net.core.rmem_max, wmem_max),
/// before Linux's doubling.
const MAX_BUF: usize = 212_992;
/// The smallest buffers Linux gives (SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF).
const MIN_RCVBUF: usize = 2304;
const MIN_SNDBUF: usize = 4608;

/// Options kept for getsockopt only, with their defaults and why they
/// change nothing in the sandbox.
const KEPT: &[(i32, i32, i32, &str)] = &[
    (
        libc::IPPROTO_IP,
        libc::IP_TOS,
        0,
        "the stack marks no traffic class",
    ),
    (
        libc::IPPROTO_IPV6,
        libc::IPV6_TCLASS,
        0,
        "the stack marks no traffic class",
    ),
    (
        libc::SOL_SOCKET,
        libc::SO_PRIORITY,
        0,
        "no queueing discipline",
    ),
    (
        libc::SOL_SOCKET,
        libc::SO_RCVLOWAT,
        1,
        "recv returns on any byte",
    ),
    (
        libc::IPPROTO_TCP,
        libc::TCP_CORK,
        0,
        "segments go out as they fill; a cork only delays them",
    ),
    (
        libc::IPPROTO_TCP,
        libc::TCP_DEFER_ACCEPT,
        0,
        "accept readiness waits for the handshake only",
    ),
    (
        libc::IPPROTO_TCP,
        libc::TCP_QUICKACK,
        1,
        "acknowledgements are never delayed",
    ),
    (
        libc::IPPROTO_IP,
        libc::IP_RECVOPTS,
        0,
        "the stack reports no IP options",
    ),
    (
        libc::IPPROTO_IP,
        libc::IP_RETOPTS,
        0,
        "the stack reports no IP options",
    ),
];

fn bool_option(val: &[u8]) -> Result<bool, Errno> {
    Ok(int_option(val)? != 0)
}

fn secs_option(val: &[u8]) -> Result<Duration, Errno> {
    match int_option(val)? {
        n @ 1..=32767 => Ok(Duration::from_secs(n as u64)),
        _ => Err(Errno::EINVAL),
    }
}

fn secs_bytes(d: Duration) -> Vec<u8> {
    int_bytes(d.as_secs() as i32)
}

fn kept_default(level: i32, name: i32) -> Option<i32> {
    KEPT.iter()
        .find(|k| k.0 == level && k.1 == name)
        .map(|k| k.2)
}

pub(super) fn get(s: &InetSocket, level: i32, name: i32) -> Result<Vec<u8>, Errno> {
    if let Some(r) = raw::get(s, level, name) {
        return r;
    }
    if let Some(r) = multicast::get(s, level, name) {
        return r;
    }
    if let Some(r) = pmtu::get(s, level, name) {
        return r;
    }
    if let Some(v) = ancillary::get(s.lock().wanted, s.v6, level, name) {
        return Ok(v);
    }
    if let Some(default) = kept_default(level, name) {
        let st = s.lock();
        let v = st
            .kept
            .iter()
            .find(|k| k.0 == (level, name))
            .map_or(default, |k| k.1);
        return Ok(int_bytes(v));
    }
    let o = s.ep.options();
    let v = match (level, name) {
        (libc::SOL_SOCKET, libc::SO_TYPE) => int_bytes(s.kind),
        (libc::SOL_SOCKET, libc::SO_DOMAIN) => int_bytes(super::Socket::domain(s)),
        (libc::SOL_SOCKET, libc::SO_PROTOCOL) => int_bytes(s.protocol),
        (libc::SOL_SOCKET, libc::SO_ERROR) => int_bytes(s.ep.take_error().map_or(0, |e| e.0)),
        (libc::SOL_SOCKET, libc::SO_ACCEPTCONN) => int_bytes(i32::from(s.ep.is_listening())),
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => int_bytes(i32::from(o.reuse_addr)),
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => int_bytes(i32::from(o.reuse_port)),
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => int_bytes(i32::from(o.keep_alive)),
        (libc::SOL_SOCKET, libc::SO_BROADCAST) => int_bytes(i32::from(o.broadcast)),
        (libc::SOL_SOCKET, libc::SO_OOBINLINE) => int_bytes(i32::from(o.oob_inline)),
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => {
            let (rcv, _) = default_bufs(s);
            int_bytes(s.lock().rcvbuf.map_or(rcv, |n| 2 * n) as i32)
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => {
            let (_, snd) = default_bufs(s);
            int_bytes(s.lock().sndbuf.map_or(snd, |n| 2 * n) as i32)
        }
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => timeval_bytes(s.lock().rcvtimeo),
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => timeval_bytes(s.lock().sndtimeo),
        (libc::SOL_SOCKET, libc::SO_LINGER) => {
            let l = libc::linger {
                l_onoff: i32::from(o.linger.is_some()),
                l_linger: o.linger.map_or(0, |d| d.as_secs() as i32),
            };
            crate::usermem::as_bytes(&l).to_vec()
        }
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) if s.is_stream() => int_bytes(i32::from(o.no_delay)),
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) if s.is_stream() => secs_bytes(o.keep_idle),
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) if s.is_stream() => secs_bytes(o.keep_interval),
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) if s.is_stream() => int_bytes(o.keep_count as i32),
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG) if s.is_stream() => int_bytes(536),
        (libc::IPPROTO_TCP, libc::TCP_INFO) if s.is_stream() => tcp_info(s),
        (libc::IPPROTO_TCP, libc::TCP_CONGESTION) if s.is_stream() => b"reno\0".to_vec(),
        (libc::IPPROTO_TCP, libc::TCP_SYNCNT) if s.is_stream() => {
            int_bytes(i32::from(s.ep.syn_retries()))
        }
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) if s.is_stream() => {
            int_bytes(o.user_timeout.map_or(0, |d| d.as_millis() as i32))
        }
        (libc::IPPROTO_IP, libc::IP_RECVERR) => int_bytes(i32::from(o.recv_err)),
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) if s.v6 => int_bytes(i32::from(o.recv_err)),
        (libc::IPPROTO_IP, libc::IP_TTL) if !s.v6 => int_bytes(i32::from(o.ttl)),
        (libc::IPPROTO_IP, libc::IP_TTL) => int_bytes(i32::from(o.v4_ttl)),
        (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) if s.v6 => int_bytes(i32::from(o.ttl)),
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) if s.v6 => int_bytes(i32::from(o.v6_only)),
        // udp_lib_getsockopt answers these on UDP sockets too.
        (libc::IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV) if is_udp(s) => {
            int_bytes(o.udplite_send_coverage.unwrap_or(0).into())
        }
        (libc::IPPROTO_UDPLITE, UDPLITE_RECV_CSCOV) if is_udp(s) => {
            int_bytes(o.udplite_recv_coverage.unwrap_or(0).into())
        }
        (libc::IPPROTO_IP, libc::IP_HDRINCL) if !s.v6 => int_bytes(0),
        // Linux's tcp/udp_getsockopt hand other levels to ip_getsockopt,
        // which says EOPNOTSUPP for a level not its own (ipv6_getsockopt
        // says ENOPROTOOPT).
        (l, _) if !s.v6 && !own_level(s, l) => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::ENOPROTOOPT),
    };
    Ok(v)
}

/// The levels an AF_INET socket's getsockopt knows: the socket's, IP's,
/// and its protocol's (UDP's and UDP-Lite's sockets know both theirs).
fn own_level(s: &InetSocket, level: i32) -> bool {
    let own = match s.kind {
        libc::SOCK_STREAM => level == libc::IPPROTO_TCP,
        libc::SOCK_RAW => level == libc::SOL_RAW,
        _ if is_udp(s) => level == libc::IPPROTO_UDP || level == libc::IPPROTO_UDPLITE,
        _ => false,
    };
    own || level == libc::SOL_SOCKET || level == libc::IPPROTO_IP
}

/// UDP-Lite's checksum coverage options (level SOL_UDPLITE), which the
/// stack acts on (`netstack::Options::udplite_send_coverage`).
const UDPLITE_SEND_CSCOV: i32 = 10;
const UDPLITE_RECV_CSCOV: i32 = 11;

fn is_udplite(s: &InetSocket) -> bool {
    s.protocol == libc::IPPROTO_UDPLITE
}

/// UDP or UDP-Lite, which share Linux's udp_lib_getsockopt.
fn is_udp(s: &InetSocket) -> bool {
    s.kind == libc::SOCK_DGRAM && (s.protocol == libc::IPPROTO_UDP || is_udplite(s))
}

/// What SO_RCVBUF and SO_SNDBUF report before any setsockopt: Linux's
/// tcp_rmem[1] and tcp_wmem[1] for a stream, net.core.*mem_default for a
/// datagram socket.
fn default_bufs(s: &InetSocket) -> (usize, usize) {
    if s.is_stream() {
        (131_072, 16_384)
    } else {
        (212_992, 212_992)
    }
}

/// `struct tcp_info` with what the stack knows: the state. Linux's size
/// for its 6.1 layout.
fn tcp_info(s: &InetSocket) -> Vec<u8> {
    let mut v = vec![0u8; 232];
    v[0] = s.ep.tcp_state();
    v
}

pub(super) fn set(s: &InetSocket, level: i32, name: i32, val: &[u8]) -> Result<(), Errno> {
    if let Some(r) = raw::set(s, level, name, val) {
        return r;
    }
    if let Some(r) = multicast::set(s, level, name, val) {
        return r;
    }
    if let Some(r) = pmtu::set(s, level, name, val) {
        return r;
    }
    let wanted = s.lock().wanted;
    if let Some(w) = ancillary::set(wanted, s.v6, level, name, val) {
        s.lock().wanted = w?;
        return Ok(());
    }
    if kept_default(level, name).is_some() {
        let v = int_option(val)?;
        let mut st = s.lock();
        st.kept.retain(|k| k.0 != (level, name));
        st.kept.push(((level, name), v));
        return Ok(());
    }
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_RCVTIMEO) => s.lock().rcvtimeo = timeval_option(val)?,
        (libc::SOL_SOCKET, libc::SO_SNDTIMEO) => s.lock().sndtimeo = timeval_option(val)?,
        (libc::SOL_SOCKET, libc::SO_RCVBUF) => {
            let n = (int_option(val)?.max(0) as usize).clamp(MIN_RCVBUF / 2, MAX_BUF);
            s.lock().rcvbuf = Some(n);
            return endpoint(s, |o| o.recv_buf = 2 * n);
        }
        (libc::SOL_SOCKET, libc::SO_SNDBUF) => {
            let n = (int_option(val)?.max(0) as usize).clamp(MIN_SNDBUF / 2, MAX_BUF);
            s.lock().sndbuf = Some(n);
            return endpoint(s, |o| o.send_buf = 2 * n);
        }
        (libc::SOL_SOCKET, libc::SO_REUSEADDR) => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.reuse_addr = b);
        }
        (libc::SOL_SOCKET, libc::SO_REUSEPORT) => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.reuse_port = b);
        }
        (libc::SOL_SOCKET, libc::SO_KEEPALIVE) => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.keep_alive = b);
        }
        (libc::SOL_SOCKET, libc::SO_BROADCAST) => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.broadcast = b);
        }
        (libc::SOL_SOCKET, libc::SO_OOBINLINE) => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.oob_inline = b);
        }
        (libc::SOL_SOCKET, libc::SO_LINGER) => {
            if val.len() < std::mem::size_of::<libc::linger>() {
                return Err(Errno::EINVAL);
            }
            let l: libc::linger = crate::usermem::from_bytes(val);
            let linger = (l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger.max(0) as u64));
            return endpoint(s, |o| o.linger = linger);
        }
        (libc::IPPROTO_TCP, libc::TCP_NODELAY) if s.is_stream() => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.no_delay = b);
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPIDLE) if s.is_stream() => {
            let d = secs_option(val)?;
            return endpoint(s, |o| o.keep_idle = d);
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPINTVL) if s.is_stream() => {
            let d = secs_option(val)?;
            return endpoint(s, |o| o.keep_interval = d);
        }
        (libc::IPPROTO_TCP, libc::TCP_KEEPCNT) if s.is_stream() => {
            let n = int_option(val)?;
            if !(1..=127).contains(&n) {
                return Err(Errno::EINVAL);
            }
            return endpoint(s, |o| o.keep_count = n as u32);
        }
        (libc::IPPROTO_TCP, libc::TCP_SYNCNT) if s.is_stream() => {
            let n = int_option(val)?;
            if !(1..=i32::from(netstack::stack::MAX_SYN_RETRIES)).contains(&n) {
                return Err(Errno::EINVAL);
            }
            return endpoint(s, |o| o.syn_retries = Some(n as u8));
        }
        (libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT) if s.is_stream() => {
            let ms = int_option(val)?;
            if ms < 0 {
                return Err(Errno::EINVAL);
            }
            let t = (ms > 0).then(|| Duration::from_millis(ms as u64));
            return endpoint(s, |o| o.user_timeout = t);
        }
        // Errors become the socket's pending error; nothing is queued
        // for MSG_ERRQUEUE (see `netstack::Options::recv_err`).
        (libc::IPPROTO_IP, libc::IP_RECVERR) => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.recv_err = b);
        }
        (libc::IPPROTO_IPV6, libc::IPV6_RECVERR) if s.v6 => {
            let b = bool_option(val)?;
            return endpoint(s, |o| o.recv_err = b);
        }
        (libc::IPPROTO_IP, libc::IP_TTL) if !s.v6 => {
            let ttl = hops(int_option(val)?)?;
            return endpoint(s, |o| o.ttl = ttl);
        }
        // On a v6 socket: its IPv4 datagrams' TTL.
        (libc::IPPROTO_IP, libc::IP_TTL) => {
            let ttl = hops(int_option(val)?)?;
            return endpoint(s, |o| o.v4_ttl = ttl);
        }
        (libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS) if s.v6 => {
            let ttl = hops(int_option(val)?)?;
            return endpoint(s, |o| o.ttl = ttl);
        }
        (libc::IPPROTO_UDPLITE, UDPLITE_SEND_CSCOV | UDPLITE_RECV_CSCOV) if is_udplite(s) => {
            // Linux's bounds: 0 (all), else 8 up to 65535.
            let v = match int_option(val)? {
                0 => 0,
                v => v.clamp(8, 65535) as u16,
            };
            return endpoint(s, |o| {
                if name == UDPLITE_SEND_CSCOV {
                    o.udplite_send_coverage = Some(v);
                } else {
                    o.udplite_recv_coverage = Some(v);
                }
            });
        }
        (libc::IPPROTO_IPV6, libc::IPV6_V6ONLY) if s.v6 => {
            // Linux fixes the choice once the socket is bound.
            if s.ep.local_addr().is_some() {
                return Err(Errno::EINVAL);
            }
            let b = bool_option(val)?;
            return endpoint(s, |o| o.v6_only = b);
        }
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(())
}

/// IP_TTL's value: -1 is the default (64), else 1..=255.
fn hops(v: i32) -> Result<u8, Errno> {
    match v {
        -1 => Ok(64),
        1..=255 => Ok(v as u8),
        _ => Err(Errno::EINVAL),
    }
}

fn endpoint(s: &InetSocket, f: impl FnOnce(&mut netstack::Options)) -> Result<(), Errno> {
    let mut f = Some(f);
    s.ep.set_options(&mut |o| {
        if let Some(f) = f.take() {
            f(o)
        }
    })
    .map_err(errno)
}
