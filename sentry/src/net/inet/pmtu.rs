//! Path MTU options: IP_MTU_DISCOVER and IPV6_MTU_DISCOVER (kept as
//! Linux keeps them, one per family; the stack sets no DF bit and
//! probes nothing, see docs/architecture.md), IP_MTU and IPV6_MTU (the
//! MTU of the route to the connected peer, ENOTCONN without one), and
//! IPV6_MTU's own setting (the fragment size Linux would use: checked
//! and dropped: the stack fragments IPv6 to the link's MTU, and getsockopt
//! reports the route's MTU, as Linux's does).

use super::InetSocket;
use crate::errno::Errno;
use crate::net::socket::{int_bytes, int_option};

/// IP_PMTUDISC_WANT / IPV6_PMTUDISC_WANT: Linux's default
/// (net.ipv4.ip_no_pmtu_disc is 0).
pub(super) const DEFAULT: i32 = libc::IP_PMTUDISC_WANT;
/// The largest IP_PMTUDISC_* / IPV6_PMTUDISC_* value (…_OMIT).
const MAX_MODE: i32 = libc::IP_PMTUDISC_OMIT;
/// IPV6_MIN_MTU: IPV6_MTU takes 0 (the route's) or at least this.
const IPV6_MIN_MTU: i32 = 1280;

/// The discovery modes of one socket.
#[derive(Clone, Copy, Debug)]
pub(super) struct Modes {
    pub v4: i32,
    pub v6: i32,
}

impl Default for Modes {
    fn default() -> Modes {
        Modes {
            v4: DEFAULT,
            v6: DEFAULT,
        }
    }
}

pub(super) fn get(s: &InetSocket, level: i32, name: i32) -> Option<Result<Vec<u8>, Errno>> {
    let m = s.lock().pmtu;
    let v = match (level, name) {
        (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER) => Ok(int_bytes(m.v4)),
        (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER) if s.v6 => Ok(int_bytes(m.v6)),
        (libc::IPPROTO_IP, libc::IP_MTU) => mtu(s),
        (libc::IPPROTO_IPV6, libc::IPV6_MTU) if s.v6 => mtu(s),
        _ => return None,
    };
    Some(v)
}

fn mtu(s: &InetSocket) -> Result<Vec<u8>, Errno> {
    let m = s.ep.path_mtu().ok_or(Errno::ENOTCONN)?;
    Ok(int_bytes(m.min(i32::MAX as u32) as i32))
}

pub(super) fn set(s: &InetSocket, level: i32, name: i32, val: &[u8]) -> Option<Result<(), Errno>> {
    let r = match (level, name) {
        (libc::IPPROTO_IP, libc::IP_MTU_DISCOVER) => {
            // ip_setsockopt reads a lone byte as the value too.
            let v = match val {
                [b] => Ok(i32::from(*b)),
                _ => int_option(val),
            };
            v.and_then(mode).map(|v| s.lock().pmtu.v4 = v)
        }
        (libc::IPPROTO_IPV6, libc::IPV6_MTU_DISCOVER) if s.v6 => {
            int_option(val).and_then(mode).map(|v| s.lock().pmtu.v6 = v)
        }
        // Read-only: ip_setsockopt knows no IP_MTU.
        (libc::IPPROTO_IP, libc::IP_MTU) => Err(Errno::ENOPROTOOPT),
        (libc::IPPROTO_IPV6, libc::IPV6_MTU) if s.v6 => match int_option(val) {
            Ok(v) if v != 0 && v < IPV6_MIN_MTU => Err(Errno::EINVAL),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
        _ => return None,
    };
    Some(r)
}

/// An IP_PMTUDISC_* value: DONT up to OMIT, else EINVAL.
fn mode(v: i32) -> Result<i32, Errno> {
    if (libc::IP_PMTUDISC_DONT..=MAX_MODE).contains(&v) {
        Ok(v)
    } else {
        Err(Errno::EINVAL)
    }
}
