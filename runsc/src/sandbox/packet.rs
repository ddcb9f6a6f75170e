//! The descriptor the network stack drives an Ethernet interface through:
//! an AF_PACKET raw socket bound to the interface, every frame in and out
//! (ETH_P_ALL). Opened by the Sentry at boot, while it may: a packet socket
//! needs CAP_NET_RAW over the network namespace, and the forced buffer
//! sizes CAP_NET_ADMIN.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Each way, as gVisor's runsc sizes them (`createSocket` in
/// runsc/sandbox/network.go): net.core.{r,w}mem_max caps an unforced size
/// at ~208 KiB, which drops frames at high throughput.
const BUF_SIZE: libc::c_int = 4 << 20;

/// A non-blocking, close-on-exec AF_PACKET socket bound to interface
/// `index`, and whether its frames carry a virtio-net header.
pub fn bound_socket(index: u32) -> io::Result<(OwnedFd, bool)> {
    let all = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: socket(2) takes no pointers; the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            libc::c_int::from(all),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = all;
    sll.sll_ifindex =
        i32::try_from(index).map_err(|_| io::Error::from_raw_os_error(libc::ENODEV))?;
    // SAFETY: `sll` is a live sockaddr_ll and the length given is its size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    set_int(&fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, BUF_SIZE)?;
    set_int(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, BUF_SIZE)?;
    // A NIC does not receive what its own host sends: without this the
    // stack would see the host kernel's frames out of the interface (its
    // own are never looped back to the socket that sent them). Linux 4.20
    // has it; before, the stack only sees a few more frames to ignore.
    match set_int(&fd, libc::SOL_PACKET, libc::PACKET_IGNORE_OUTGOING, 1) {
        Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => {}
        r => r?,
    }
    // A virtio-net header before each frame lets the stack hand the host
    // one 64 KiB frame for a run of TCP segments, cut at the MSS by the
    // host (GSO) or passed whole to a veth's peer, rather than a frame per
    // MSS (bench/veth: iperf3 -R). Without it (a kernel that refuses),
    // every frame goes as it is.
    let vnet = set_int(&fd, libc::SOL_PACKET, libc::PACKET_VNET_HDR, 1).is_ok();
    Ok((fd, vnet))
}

fn set_int(fd: &OwnedFd, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: the value is a live c_int and the length given is its size.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root only (CAP_NET_RAW): elsewhere socket(2) says EPERM, which is
    /// the answer the Sentry would report too.
    #[test]
    fn a_socket_on_loopback_is_non_blocking_and_close_on_exec() {
        let fd = match bound_socket(1) {
            Ok((fd, vnet)) => {
                assert!(vnet, "PACKET_VNET_HDR refused");
                fd
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return,
            Err(e) => panic!("{e}"),
        };
        // SAFETY: fcntl on a descriptor we own; no pointers.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        // SAFETY: as above.
        let fdfl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        assert!(fl & libc::O_NONBLOCK != 0 && fdfl & libc::FD_CLOEXEC != 0);
        let mut buf = [0u8; 64];
        // SAFETY: `buf` is a live buffer of its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let e = io::Error::last_os_error().raw_os_error();
        assert!(n >= 0 || e == Some(libc::EAGAIN), "{n} {e:?}");
        assert_eq!(
            bound_socket(u32::MAX).unwrap_err().raw_os_error(),
            Some(libc::ENODEV)
        );
    }
}
