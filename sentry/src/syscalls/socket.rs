//! socket, socketpair, bind, listen, accept, accept4, connect,
//! getsockname, getpeername, shutdown, getsockopt, setsockopt.
//!
//! The handlers check descriptors and copy arguments; the socket
//! (`net::`) does the rest.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::net::addr::MAX_ADDR_LEN;
use crate::net::hostinet::HostSocket;
use crate::net::inet::InetSocket;
use crate::net::netlink::NetlinkSocket;
use crate::net::socket::{Socket, SocketFile};
use crate::net::unix::UnixSocket;
use crate::usermem::{UserAddr, UserPtr};
use crate::vfs::File;
use netstack::NetworkMode;

const INET: &str =
    "AF_UNIX, AF_NETLINK (NETLINK_ROUTE), and AF_INET/AF_INET6 TCP, UDP, UDP-Lite, ping and raw ICMP sockets (raw: root only, no IP_HDRINCL); other raw protocols are EPROTONOSUPPORT";
const CONNECT: &str = "AF_UNIX, AF_NETLINK (NETLINK_ROUTE), and AF_INET/AF_INET6 TCP, UDP, UDP-Lite, ping and raw ICMP sockets; \
    a host AF_UNIX socket file through the Gofer only with --host-uds=open or when the spec binds it in";

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_socket,
        "socket",
        Support::Partial(INET),
        sys_socket,
    );
    t.add(
        libc::SYS_socketpair,
        "socketpair",
        Support::Full,
        sys_socketpair,
    );
    t.add(libc::SYS_bind, "bind", Support::Partial(INET), sys_bind);
    t.add(libc::SYS_listen, "listen", Support::Full, sys_listen);
    t.add(libc::SYS_accept, "accept", Support::Full, sys_accept);
    t.add(libc::SYS_accept4, "accept4", Support::Full, sys_accept4);
    t.add(
        libc::SYS_connect,
        "connect",
        Support::Partial(CONNECT),
        sys_connect,
    );
    t.add(
        libc::SYS_getsockname,
        "getsockname",
        Support::Full,
        sys_getsockname,
    );
    t.add(
        libc::SYS_getpeername,
        "getpeername",
        Support::Full,
        sys_getpeername,
    );
    t.add(libc::SYS_shutdown, "shutdown", Support::Full, sys_shutdown);
    let opts = "SOL_SOCKET options of AF_UNIX sockets; SOL_SOCKET and SOL_NETLINK options of AF_NETLINK sockets (no socket filters); inet sockets: the options net/inet/options.rs, ancillary.rs, multicast.rs, pmtu.rs and raw.rs list";
    t.add(
        libc::SYS_getsockopt,
        "getsockopt",
        Support::Partial(opts),
        sys_getsockopt,
    );
    t.add(
        libc::SYS_setsockopt,
        "setsockopt",
        Support::Partial(opts),
        sys_setsockopt,
    );
}

/// The socket behind descriptor `fd`: EBADF, or ENOTSOCK for another file.
pub(super) fn socket_file(t: &Task, fd: i32) -> Result<(Arc<File>, Arc<dyn Socket>), Errno> {
    let f = t.fds.get(fd)?;
    let sock = SocketFile::of(&f)?.sock.clone();
    Ok((f, sock))
}

/// A socket(2) type argument: the kind, and O_NONBLOCK / close-on-exec.
fn type_flags(arg: i32) -> Result<(i32, i32, bool), Errno> {
    let kind = arg & 0xf;
    let flags = arg & !0xf;
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let status = if flags & libc::SOCK_NONBLOCK != 0 {
        libc::O_RDWR | libc::O_NONBLOCK
    } else {
        libc::O_RDWR
    };
    Ok((kind, status, flags & libc::SOCK_CLOEXEC != 0))
}

/// AF_UNIX's kinds: SOCK_RAW is a datagram socket, as on Linux.
fn unix_kind(kind: i32, protocol: i32) -> Result<i32, Errno> {
    if protocol != 0 && protocol != libc::PF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match kind {
        libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET => Ok(kind),
        libc::SOCK_RAW => Ok(libc::SOCK_DGRAM),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

fn socket_file_of(t: &Task, sock: Arc<dyn Socket>, status: i32) -> Arc<File> {
    File::new(SocketFile::new(sock, t.ns.net.stack.clone()), None, status)
}

fn netlink_socket(t: &Task, kind: i32, protocol: i32) -> Result<Arc<NetlinkSocket>, Errno> {
    NetlinkSocket::new(
        kind,
        protocol,
        t.ns.net.stack.clone(),
        t.ns.net.netlink_ports.clone(),
    )
}

fn sys_socket(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (kind, status, cloexec) = type_flags(a.int(1))?;
    let sock: Arc<dyn Socket> = match a.int(0) {
        libc::AF_UNIX => UnixSocket::new(unix_kind(kind, a.int(2))?, t.ns.net.unix_names.clone())?,
        libc::AF_INET | libc::AF_INET6 => {
            inet_socket(t, a.int(0) == libc::AF_INET6, kind, a.int(2))?
        }
        libc::AF_NETLINK => netlink_socket(t, kind, a.int(2))?,
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    let fd = t.fds.install(socket_file_of(t, sock, status), cloexec)?;
    Ok(fd as u64)
}

/// An inet socket where `--network` puts it: the Sentry's stack, or the
/// host's.
fn inet_socket(t: &Task, v6: bool, kind: i32, protocol: i32) -> Result<Arc<dyn Socket>, Errno> {
    // A network namespace the application made has the Sentry's stack
    // whatever `--network` says.
    let mode = if t.ns.net.host {
        NetworkMode::Host
    } else {
        NetworkMode::Sandbox
    };
    Ok(match mode {
        NetworkMode::Host => HostSocket::new(&t.kernel.host_poller, v6, kind, protocol)?,
        NetworkMode::Sandbox | NetworkMode::None => {
            let net_raw = t.creds().capable(crate::caps::CAP_NET_RAW);
            InetSocket::new(&t.ns.net.stack, v6, kind, protocol, net_raw)?
        }
    })
}

fn sys_socketpair(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (kind, status, cloexec) = type_flags(a.int(1))?;
    let (x, y) = match a.int(0) {
        libc::AF_UNIX => {
            let kind = unix_kind(kind, a.int(2))?;
            UnixSocket::pair(&*t, kind, t.ns.net.unix_names.clone())?
        }
        libc::AF_NETLINK => {
            // Linux makes both sockets, then has no pair for them.
            netlink_socket(t, kind, a.int(2))?;
            return Err(Errno::EOPNOTSUPP);
        }
        libc::AF_INET | libc::AF_INET6 => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    let (fa, fb) = t.fds.install_pair(
        socket_file_of(t, x, status),
        socket_file_of(t, y, status),
        cloexec,
    )?;
    let sv: UserPtr<[i32; 2]> = a.ptr(3);
    if let Err(e) = t.copy_out(sv, &[fa, fb]) {
        let _ = t.fds.remove(fa);
        let _ = t.fds.remove(fb);
        return Err(e);
    }
    Ok(0)
}

/// A socket address argument of `len` bytes (EINVAL past
/// `sockaddr_storage`).
pub(super) fn read_addr(t: &Task, addr: UserAddr, len: i32) -> Result<Vec<u8>, Errno> {
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    if len > MAX_ADDR_LEN {
        return Err(Errno::EINVAL);
    }
    t.read_bytes(addr.get(), len)
}

/// Writes an address out as getsockname(2) does: as much as `*len_ptr`
/// allows, and the full length into `*len_ptr`.
pub(super) fn write_addr(
    t: &Task,
    addr: UserAddr,
    len_ptr: UserPtr<i32>,
    value: &[u8],
) -> Result<(), Errno> {
    let room = t.copy_in(len_ptr)?;
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let n = room.min(value.len());
    if n > 0 {
        t.write_bytes(addr.get(), &value[..n])?;
    }
    t.copy_out(len_ptr, &(value.len() as i32))
}

fn sys_bind(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (_, sock) = socket_file(t, a.int(0))?;
    let addr = read_addr(t, a.addr(1), a.int(2))?;
    sock.bind(&*t, &addr)?;
    Ok(0)
}

fn sys_listen(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (_, sock) = socket_file(t, a.int(0))?;
    sock.listen(&*t, a.int(1))?;
    Ok(0)
}

fn do_accept(t: &Task, a: &SyscallArgs, flags: i32) -> SysResult {
    if flags & !(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (f, sock) = socket_file(t, a.int(0))?;
    let len_ptr: UserPtr<i32> = a.ptr(2);
    if !a.addr(1).is_null() && t.copy_in(len_ptr)? < 0 {
        return Err(Errno::EINVAL);
    }
    let (conn, peer) = sock.accept(t, f.nonblocking())?;
    let status = if flags & libc::SOCK_NONBLOCK != 0 {
        libc::O_RDWR | libc::O_NONBLOCK
    } else {
        libc::O_RDWR
    };
    let file = socket_file_of(t, conn, status);
    if !a.addr(1).is_null() {
        // Linux writes the address before installing the descriptor, so
        // a bad buffer loses the connection and no descriptor leaks.
        write_addr(t, a.addr(1), len_ptr, &peer)?;
    }
    let fd = t.fds.install(file, flags & libc::SOCK_CLOEXEC != 0)?;
    Ok(fd as u64)
}

fn sys_accept(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_accept(t, a, 0)
}

fn sys_accept4(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_accept(t, a, a.int(3))
}

fn sys_connect(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (f, sock) = socket_file(t, a.int(0))?;
    let addr = read_addr(t, a.addr(1), a.int(2))?;
    sock.connect(&*t, &addr, f.nonblocking())?;
    Ok(0)
}

fn sys_getsockname(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (_, sock) = socket_file(t, a.int(0))?;
    write_addr(t, a.addr(1), a.ptr(2), &sock.name())?;
    Ok(0)
}

fn sys_getpeername(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (_, sock) = socket_file(t, a.int(0))?;
    let peer = sock.peer_name()?;
    write_addr(t, a.addr(1), a.ptr(2), &peer)?;
    Ok(0)
}

fn sys_shutdown(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (_, sock) = socket_file(t, a.int(0))?;
    sock.shutdown(a.int(1))?;
    Ok(0)
}

/// The most option bytes setsockopt(2) copies in.
const MAX_OPTION: usize = 4096;

fn sys_setsockopt(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (_, sock) = socket_file(t, a.int(0))?;
    let len = usize::try_from(a.int(4)).map_err(|_| Errno::EINVAL)?;
    let val = t.read_bytes(a.addr(3).get(), len.min(MAX_OPTION))?;
    sock.setsockopt(&*t, a.int(1), a.int(2), &val)?;
    Ok(0)
}

fn sys_getsockopt(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (_, sock) = socket_file(t, a.int(0))?;
    let len_ptr: UserPtr<i32> = a.ptr(4);
    let room = usize::try_from(t.copy_in(len_ptr)?).map_err(|_| Errno::EINVAL)?;
    let val = sock.getsockopt(a.int(1), a.int(2))?;
    let n = room.min(val.len());
    t.write_bytes(a.addr(3).get(), &val[..n])?;
    t.copy_out(len_ptr, &(n as i32))?;
    Ok(0)
}
