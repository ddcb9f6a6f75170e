//! The interface ioctls of every socket (struct ifreq, SIOCGIF*): what
//! net/core/dev_ioctl.c answers for any family, and what devinet_ioctl
//! adds on an AF_INET socket (an interface's IPv4 address, netmask,
//! broadcast and destination).
//!
//! Nothing can change an interface: the SIOCS* requests are EPERM, as
//! Linux answers a process without CAP_NET_ADMIN.

use netstack::{InterfaceInfo, Stack};

use crate::errno::Errno;
use crate::net::interface;
use crate::vfs::Caller;

/// `sizeof(struct ifreq)`, and where its union starts (after the name).
const IFREQ_LEN: usize = 40;
const IFNAMSIZ: usize = 16;
/// `sizeof(struct ifconf)`: the length, padding, then the buffer pointer.
const IFCONF_LEN: usize = 16;

/// The requests answered here: a handful of the 0x89 (SOCK_IOC_TYPE)
/// range; the rest of it stays with the socket.
pub fn handles(cmd: u32) -> bool {
    matches!(
        u64::from(cmd),
        libc::SIOCGIFCONF
            | libc::SIOCGIFNAME
            | libc::SIOCGIFFLAGS
            | libc::SIOCGIFMTU
            | libc::SIOCGIFINDEX
            | libc::SIOCGIFTXQLEN
            | libc::SIOCGIFMETRIC
            | libc::SIOCGIFMAP
            | libc::SIOCGIFHWADDR
            | libc::SIOCETHTOOL
    ) || is_inet(cmd)
        || is_change(cmd)
}

/// The IPv4 address requests devinet_ioctl serves.
fn is_inet(cmd: u32) -> bool {
    matches!(
        u64::from(cmd),
        libc::SIOCGIFADDR
            | libc::SIOCGIFBRDADDR
            | libc::SIOCGIFNETMASK
            | libc::SIOCGIFDSTADDR
            | libc::SIOCSIFADDR
            | libc::SIOCSIFBRDADDR
            | libc::SIOCSIFNETMASK
            | libc::SIOCSIFDSTADDR
    )
}

/// Requests that change a device (dev_ioctl's CAP_NET_ADMIN ones).
fn is_change(cmd: u32) -> bool {
    matches!(
        u64::from(cmd),
        libc::SIOCSIFFLAGS
            | libc::SIOCSIFMTU
            | libc::SIOCSIFHWADDR
            | libc::SIOCSIFTXQLEN
            | libc::SIOCSIFNAME
            | libc::SIOCSIFMETRIC
            | libc::SIOCSIFMAP
            | libc::SIOCADDMULTI
            | libc::SIOCDELMULTI
            | libc::SIOCSIFHWBROADCAST
    )
}

/// An ioctl on a socket of `domain` made in `net`'s namespace.
pub fn ioctl(t: &dyn Caller, net: &Stack, domain: i32, cmd: u32, arg: u64) -> Result<u64, Errno> {
    if is_change(cmd) {
        return Err(Errno::EPERM);
    }
    if is_inet(cmd) && domain != libc::AF_INET {
        // Only inet_ioctl knows addresses; dev_ioctl has no such request.
        return Err(Errno::ENOTTY);
    }
    let ifaces = net.interfaces();
    if u64::from(cmd) == libc::SIOCGIFCONF {
        return ifconf(t, &ifaces, arg);
    }
    let mut ifr: [u8; IFREQ_LEN] = t.copy_in(arg)?;
    answer(&ifaces, cmd, &mut ifr)?;
    t.copy_out(arg, &ifr)?;
    Ok(0)
}

/// An interface name into `ifr_name`, NUL-terminated (a name is at most
/// IFNAMSIZ - 1 bytes on Linux; a longer one is cut rather than trusted).
fn put_name(ifr: &mut [u8; IFREQ_LEN], name: &str) {
    let n = name.len().min(IFNAMSIZ - 1);
    ifr[..IFNAMSIZ].fill(0);
    ifr[..n].copy_from_slice(&name.as_bytes()[..n]);
}

/// Fills `ifr` for `cmd` (SIOCGIFCONF aside), as Linux fills the copy it
/// writes back whole.
fn answer(ifaces: &[InterfaceInfo], cmd: u32, ifr: &mut [u8; IFREQ_LEN]) -> Result<(), Errno> {
    ifr[IFNAMSIZ - 1] = 0;
    if u64::from(cmd) == libc::SIOCGIFNAME {
        let index = i32::from_ne_bytes(ifr[16..20].try_into().expect("4 bytes"));
        let i = u32::try_from(index)
            .ok()
            .and_then(|n| interface::by_index(ifaces, n))
            .ok_or(Errno::ENODEV)?;
        put_name(ifr, &i.name);
        return Ok(());
    }
    let name = &ifr[..ifr.iter().position(|&b| b == 0).unwrap_or(IFNAMSIZ)];
    // "eth0:1" is an alias label of eth0.
    let dev = &name[..name.iter().position(|&b| b == b':').unwrap_or(name.len())];
    let i = interface::by_name(ifaces, dev).ok_or(Errno::ENODEV)?;
    let put_int = |ifr: &mut [u8; IFREQ_LEN], v: i32| ifr[16..20].copy_from_slice(&v.to_ne_bytes());
    match u64::from(cmd) {
        // ifr_flags is a short: IFF_LOWER_UP and above are cut off.
        libc::SIOCGIFFLAGS => {
            let flags = interface::flags(i) as u16;
            ifr[16..18].copy_from_slice(&flags.to_ne_bytes());
        }
        libc::SIOCGIFMTU => put_int(ifr, i.mtu as i32),
        libc::SIOCGIFINDEX => put_int(ifr, i.index as i32),
        libc::SIOCGIFTXQLEN => put_int(ifr, interface::TXQLEN as i32),
        libc::SIOCGIFMETRIC => put_int(ifr, 0),
        // No memory window, IRQ or DMA channel.
        libc::SIOCGIFMAP => ifr[16..].fill(0),
        libc::SIOCGIFHWADDR => {
            ifr[16..18].copy_from_slice(&interface::arp_type(i).to_ne_bytes());
            ifr[18..24].copy_from_slice(&i.mac);
        }
        // No driver behind the stack's devices answers ethtool.
        libc::SIOCETHTOOL => return Err(Errno::EOPNOTSUPP),
        _ => return inet(i, cmd, ifr, name.to_vec()),
    }
    Ok(())
}

/// devinet_ioctl's requests: the address whose label the name is (and,
/// BSD style, whose address the caller passed in, when it passed one).
fn inet(
    i: &InterfaceInfo,
    cmd: u32,
    ifr: &mut [u8; IFREQ_LEN],
    label: Vec<u8>,
) -> Result<(), Errno> {
    if !matches!(
        u64::from(cmd),
        libc::SIOCGIFADDR | libc::SIOCGIFBRDADDR | libc::SIOCGIFNETMASK | libc::SIOCGIFDSTADDR
    ) {
        // Setting an address: the caller may not.
        return Err(Errno::EPERM);
    }
    let asked = (u16::from_ne_bytes([ifr[16], ifr[17]]) == libc::AF_INET as u16)
        .then(|| <[u8; 4]>::try_from(&ifr[20..24]).expect("4 bytes"));
    // The stack's addresses carry no alias labels: each is the device's.
    let addrs = if label == i.name.as_bytes() {
        interface::ipv4(i)
    } else {
        Vec::new()
    };
    let a = asked
        .and_then(|want| addrs.iter().find(|a| a.local.octets() == want))
        .or_else(|| addrs.first())
        .ok_or(Errno::EADDRNOTAVAIL)?;
    let value = match u64::from(cmd) {
        libc::SIOCGIFADDR | libc::SIOCGIFDSTADDR => a.local,
        libc::SIOCGIFBRDADDR => a.broadcast.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        _ => a.mask(),
    };
    ifr[16..32].fill(0);
    ifr[16..18].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    ifr[20..24].copy_from_slice(&value.octets());
    Ok(())
}

/// SIOCGIFCONF: an ifreq per IPv4 address (name and sockaddr_in), as many
/// as fit; with no buffer, the length all of them need (inet_gifconf).
fn ifconf(t: &dyn Caller, ifaces: &[InterfaceInfo], arg: u64) -> Result<u64, Errno> {
    let ifc: [u8; IFCONF_LEN] = t.copy_in(arg)?;
    // The application's length may be anything an int holds.
    let len = i64::from(i32::from_ne_bytes(ifc[0..4].try_into().expect("4 bytes")));
    let buf = u64::from_ne_bytes(ifc[8..16].try_into().expect("8 bytes"));
    let mut total: i32 = 0;
    for i in ifaces {
        for a in interface::ipv4(i) {
            if buf != 0 {
                if len - i64::from(total) < IFREQ_LEN as i64 {
                    break;
                }
                let mut ifr = [0u8; IFREQ_LEN];
                put_name(&mut ifr, &i.name);
                ifr[16..18].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
                ifr[20..24].copy_from_slice(&a.local.octets());
                let at = buf.checked_add(total as u64).ok_or(Errno::EFAULT)?;
                t.write_bytes(at, &ifr)?;
            }
            total += IFREQ_LEN as i32;
        }
    }
    t.copy_out(arg, &total)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::interface::tests::{eth0, lo};

    fn ifreq(name: &str) -> [u8; IFREQ_LEN] {
        let mut r = [0u8; IFREQ_LEN];
        r[..name.len()].copy_from_slice(name.as_bytes());
        r
    }

    fn int_at(r: &[u8; IFREQ_LEN]) -> i32 {
        i32::from_ne_bytes(r[16..20].try_into().unwrap())
    }

    #[test]
    fn device_requests_answer_from_the_stack_and_unknown_names_are_enodev() {
        let ifaces = [lo(), eth0()];
        let mut r = ifreq("lo");
        answer(&ifaces, libc::SIOCGIFFLAGS as u32, &mut r).unwrap();
        assert_eq!(u16::from_ne_bytes([r[16], r[17]]), 0x49);
        let mut r = ifreq("eth0:1");
        answer(&ifaces, libc::SIOCGIFINDEX as u32, &mut r).unwrap();
        assert_eq!(int_at(&r), 2);
        assert_eq!(&r[..6], b"eth0:1", "the name comes back as given");
        let mut r = ifreq("eth0");
        answer(&ifaces, libc::SIOCGIFHWADDR as u32, &mut r).unwrap();
        assert_eq!(&r[16..24], &[1, 0, 0x02, 0x42, 0xac, 0x11, 0, 2]);
        let mut r = ifreq("lo");
        answer(&ifaces, libc::SIOCGIFMTU as u32, &mut r).unwrap();
        assert_eq!(int_at(&r), 65536);
        answer(&ifaces, libc::SIOCGIFTXQLEN as u32, &mut r).unwrap();
        assert_eq!(int_at(&r), 1000);
        let mut r = [0u8; IFREQ_LEN];
        r[16] = 2;
        answer(&ifaces, libc::SIOCGIFNAME as u32, &mut r).unwrap();
        assert_eq!(&r[..5], b"eth0\0");
        r[16] = 9;
        assert_eq!(
            answer(&ifaces, libc::SIOCGIFNAME as u32, &mut r),
            Err(Errno::ENODEV)
        );
        let mut r = ifreq("nosuch0");
        assert_eq!(
            answer(&ifaces, libc::SIOCGIFFLAGS as u32, &mut r),
            Err(Errno::ENODEV)
        );
        let mut long = [b'x'; IFREQ_LEN];
        assert_eq!(
            answer(&ifaces, libc::SIOCGIFMTU as u32, &mut long),
            Err(Errno::ENODEV)
        );
    }

    #[test]
    fn address_requests_give_the_address_mask_and_broadcast() {
        let ifaces = [lo(), eth0()];
        let get = |name: &str, cmd: u64| {
            let mut r = ifreq(name);
            answer(&ifaces, cmd as u32, &mut r).map(|_| r[16..24].to_vec())
        };
        assert_eq!(
            get("lo", libc::SIOCGIFADDR).unwrap(),
            [2, 0, 0, 0, 127, 0, 0, 1]
        );
        assert_eq!(
            get("lo", libc::SIOCGIFNETMASK).unwrap(),
            [2, 0, 0, 0, 255, 0, 0, 0]
        );
        assert_eq!(
            get("lo", libc::SIOCGIFBRDADDR).unwrap(),
            [2, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            get("eth0", libc::SIOCGIFBRDADDR).unwrap(),
            [2, 0, 0, 0, 172, 17, 255, 255]
        );
        assert_eq!(get("eth0:9", libc::SIOCGIFADDR), Err(Errno::EADDRNOTAVAIL));
        assert_eq!(get("eth0", libc::SIOCSIFADDR), Err(Errno::EPERM));
    }
}
