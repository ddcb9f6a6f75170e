//! `--log-packets`: one line per frame.

use smoltcp::wire::{
    EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, Ipv6Packet, TcpPacket, UdpPacket,
};

pub(crate) fn frame(iface: &str, dir: &str, frame: &[u8], ethernet: bool) {
    tracing::info!("{iface} {dir} {}", describe(frame, ethernet));
}

fn describe(frame: &[u8], ethernet: bool) -> String {
    let ip = if ethernet {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return format!("short frame len={}", frame.len());
        };
        match eth.ethertype() {
            EthernetProtocol::Ipv4 | EthernetProtocol::Ipv6 => &frame[14..],
            other => {
                return format!(
                    "{} > {} {} len={}",
                    eth.src_addr(),
                    eth.dst_addr(),
                    other,
                    frame.len()
                )
            }
        }
    } else {
        frame
    };
    let (src, dst, proto, payload): (String, String, IpProtocol, &[u8]) =
        match ip.first().map(|b| b >> 4) {
            Some(4) => match Ipv4Packet::new_checked(ip) {
                Ok(p) => {
                    let hl = usize::from(p.header_len());
                    let end = usize::from(p.total_len()).clamp(hl, ip.len());
                    (
                        p.src_addr().to_string(),
                        p.dst_addr().to_string(),
                        p.next_header(),
                        &ip[hl..end],
                    )
                }
                Err(_) => return format!("bad ipv4 len={}", frame.len()),
            },
            Some(6) => match Ipv6Packet::new_checked(ip) {
                Ok(p) => (
                    p.src_addr().to_string(),
                    p.dst_addr().to_string(),
                    p.next_header(),
                    &ip[40..],
                ),
                Err(_) => return format!("bad ipv6 len={}", frame.len()),
            },
            _ => return format!("unknown len={}", frame.len()),
        };
    match proto {
        IpProtocol::Tcp => match TcpPacket::new_checked(payload) {
            Ok(t) => {
                let mut flags = String::new();
                for (on, c) in [
                    (t.syn(), 'S'),
                    (t.fin(), 'F'),
                    (t.rst(), 'R'),
                    (t.psh(), 'P'),
                    (t.ack(), '.'),
                ] {
                    if on {
                        flags.push(c);
                    }
                }
                format!(
                    "{src}:{} > {dst}:{} tcp [{flags}] seq={} ack={} win={} len={}",
                    t.src_port(),
                    t.dst_port(),
                    t.seq_number(),
                    t.ack_number(),
                    t.window_len(),
                    frame.len()
                )
            }
            Err(_) => format!("{src} > {dst} tcp (short) len={}", frame.len()),
        },
        IpProtocol::Udp => match UdpPacket::new_checked(payload) {
            Ok(u) => format!(
                "{src}:{} > {dst}:{} udp len={}",
                u.src_port(),
                u.dst_port(),
                frame.len()
            ),
            Err(_) => format!("{src} > {dst} udp (short) len={}", frame.len()),
        },
        other => format!("{src} > {dst} {other} len={}", frame.len()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn describes_a_tcp_syn() {
        // 127.0.0.1:1000 > 127.0.0.1:80 SYN, no options.
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[3] = 40;
        p[8] = 64;
        p[9] = 6;
        p[12..16].copy_from_slice(&[127, 0, 0, 1]);
        p[16..20].copy_from_slice(&[127, 0, 0, 1]);
        p[20..22].copy_from_slice(&1000u16.to_be_bytes());
        p[22..24].copy_from_slice(&80u16.to_be_bytes());
        p[32] = 0x50;
        p[33] = 0x02;
        let s = super::describe(&p, false);
        assert!(
            s.starts_with("127.0.0.1:1000 > 127.0.0.1:80 tcp [S]"),
            "{s}"
        );
    }
}
