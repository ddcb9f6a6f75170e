//! /proc/net/{tcp,tcp6,udp,udp6}: the stack's inet sockets in the text
//! Linux prints (tcp4_seq_show, tcp6_seq_show, udp4_seq_show,
//! udp6_seq_show). What the stack does not track prints as Linux prints
//! an idle socket: no timer, no retransmits, uid 0, one reference, a
//! hidden kernel pointer (%pK to an unprivileged reader).

use std::fmt::Write;
use std::net::{Ipv6Addr, SocketAddr};

use netstack::ConnInfo;

use super::interfaces::pad;

/// TCP_LISTEN.
const TCP_LISTEN: u8 = 10;
/// The IPv4 files' lines are padded to these widths (seq_setwidth).
const TCP_WIDTH: usize = 149;
const UDP_WIDTH: usize = 127;
/// %pK as a reader without CAP_SYSLOG sees it.
const HIDDEN_POINTER: &str = "0000000000000000";

/// An IPv4 endpoint as `%08X:%04X` prints it: the address's bytes read
/// as a little-endian number, the port in host order.
fn v4(a: Option<&SocketAddr>) -> String {
    let (ip, port) = match a {
        Some(SocketAddr::V4(s)) => (s.ip().octets(), s.port()),
        Some(SocketAddr::V6(s)) => (
            s.ip().to_ipv4_mapped().map_or([0; 4], |v| v.octets()),
            s.port(),
        ),
        None => ([0; 4], 0),
    };
    format!("{:08X}:{port:04X}", u32::from_le_bytes(ip))
}

/// An IPv6 endpoint: four `%08X` of the address's 32-bit words, an IPv4
/// one as its mapped form.
fn v6(a: Option<&SocketAddr>) -> String {
    let (ip, port): (Ipv6Addr, u16) = match a {
        Some(SocketAddr::V6(s)) => (*s.ip(), s.port()),
        Some(SocketAddr::V4(s)) => (s.ip().to_ipv6_mapped(), s.port()),
        None => (Ipv6Addr::UNSPECIFIED, 0),
    };
    let words: String = ip
        .octets()
        .chunks_exact(4)
        .map(|w| format!("{:08X}", u32::from_le_bytes(w.try_into().expect("4 bytes"))))
        .collect();
    format!("{words}:{port:04X}")
}

fn endpoints(c: &ConnInfo, v6_file: bool) -> (String, String) {
    if v6_file {
        (v6(c.local.as_ref()), v6(c.remote.as_ref()))
    } else {
        (v4(c.local.as_ref()), v4(c.remote.as_ref()))
    }
}

/// /proc/net/tcp (`v6` false) or tcp6: the sockets made for that family.
pub fn tcp(conns: &[ConnInfo], v6_file: bool) -> String {
    let mut out = String::new();
    if v6_file {
        out.push_str(
            "  sl  local_address                         remote_address                        \
             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
        );
    } else {
        pad(
            &mut out,
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  \
             timeout inode",
            TCP_WIDTH,
        );
    }
    for (sl, c) in conns.iter().filter(|c| c.v6 == v6_file).enumerate() {
        let (local, remote) = endpoints(c, v6_file);
        // rto, ato, quick/pingpong, cwnd, and ssthresh (a listener's
        // fastopen queue instead) in clock ticks and segments.
        let tail = if c.state == TCP_LISTEN {
            "100 0 0 10 0"
        } else {
            "20 4 0 10 -1"
        };
        let line = format!(
            "{sl:4}: {local} {remote} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} 1 {HIDDEN_POINTER} {tail}",
            c.state, c.send_queue as u32, c.recv_queue as u32, 0, 0, c.tag
        );
        if v6_file {
            let _ = writeln!(out, "{line}");
        } else {
            pad(&mut out, &line, TCP_WIDTH);
        }
    }
    out
}

/// /proc/net/udp or udp6.
pub fn udp(conns: &[ConnInfo], v6_file: bool) -> String {
    let mut out = String::new();
    if v6_file {
        out.push_str(
            "  sl  local_address                         remote_address                        \
             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n",
        );
    } else {
        pad(
            &mut out,
            "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  \
             timeout inode ref pointer drops",
            UDP_WIDTH,
        );
    }
    for (sl, c) in conns.iter().filter(|c| c.v6 == v6_file).enumerate() {
        let (local, remote) = endpoints(c, v6_file);
        let line = format!(
            "{sl:5}: {local} {remote} {:02X} {:08X}:{:08X} 00:00000000 00000000 {:5} {:8} {} 1 {HIDDEN_POINTER} 0",
            c.state, c.send_queue as u32, c.recv_queue as u32, 0, 0, c.tag
        );
        if v6_file {
            let _ = writeln!(out, "{line}");
        } else {
            pad(&mut out, &line, UDP_WIDTH);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(v6: bool, local: &str, remote: Option<&str>, state: u8, tag: u64) -> ConnInfo {
        ConnInfo {
            v6,
            local: Some(local.parse().unwrap()),
            remote: remote.map(|r| r.parse().unwrap()),
            state,
            send_queue: 0,
            recv_queue: 0,
            tag,
        }
    }

    #[test]
    fn tcp_lines_are_laid_out_as_linux_lays_them_out() {
        let conns = [
            conn(false, "0.0.0.0:2024", None, TCP_LISTEN, 1133),
            conn(false, "127.0.0.1:40000", Some("127.0.0.1:2024"), 1, 1200),
            conn(true, "[::1]:8080", None, TCP_LISTEN, 77),
        ];
        let text = tcp(&conns, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| l.len() == TCP_WIDTH));
        assert_eq!(
            lines[1].trim_end(),
            "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1133 1 0000000000000000 100 0 0 10 0"
        );
        assert!(lines[2].starts_with("   1: 0100007F:9C40 0100007F:07E8 01 "));
        let text6 = tcp(&conns, true);
        let lines: Vec<&str> = text6.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with(
            "   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A "
        ));
    }

    #[test]
    fn udp_lines_are_laid_out_as_linux_lays_them_out() {
        let mut c = conn(false, "127.0.0.53:53", None, 7, 555);
        c.recv_queue = 0x300;
        let text = udp(&[c], false);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.iter().all(|l| l.len() == UDP_WIDTH));
        assert_eq!(
            lines[1].trim_end(),
            "    0: 3500007F:0035 00000000:0000 07 00000000:00000300 00:00000000 00000000     0        0 555 1 0000000000000000 0"
        );
        let mapped = conn(true, "127.0.0.1:53", None, 7, 9);
        assert!(udp(&[mapped], true)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("    0: 0000000000000000FFFF00000100007F:0035 "));
    }
}
