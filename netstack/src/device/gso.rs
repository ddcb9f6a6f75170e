//! Large segments out of an Ethernet interface: the TCP segments one
//! poll queued for the same connection, back to back in sequence, leave
//! as one frame of up to 64 KiB with a virtio-net header asking the host
//! to cut it at the segment size (GSO; a packet socket with
//! PACKET_VNET_HDR). smoltcp itself keeps the honest MTU and MSS; only
//! the number of frames the host handles changes, from one per MSS to one
//! per run. A veth hands the large frame to its peer whole, as GRO would
//! have made it; any other device cuts it in software.

use std::net::IpAddr;

/// struct virtio_net_hdr (include/uapi/linux/virtio_net.h): flags,
/// gso_type, hdr_len, gso_size, csum_start, csum_offset.
pub(crate) const HDR_LEN: usize = 10;
pub(crate) type Hdr = [u8; HDR_LEN];
const F_NEEDS_CSUM: u8 = 1;
const GSO_TCPV4: u8 = 1;
const GSO_TCPV6: u8 = 4;

const ETH_LEN: usize = 14;
const ETHERTYPE_V4: u16 = 0x0800;
const ETHERTYPE_V6: u16 = 0x86dd;
const IPV6_LEN: usize = 40;
const TCP_CHECK: usize = 16;
const TCP_FLAGS: usize = 13;
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const URG: u8 = 0x20;
/// IPv4's total length and IPv6's payload length are 16 bits.
const MAX_IP: usize = 65535;
/// The IPv4 flags and fragment offset: only DF may be set.
const V4_MF_OFFSET: u16 = 0x3fff;

/// A TCP segment's layout in its Ethernet frame.
#[derive(Clone, Copy)]
struct Seg {
    v6: bool,
    ip_hl: usize,
    /// Where the payload starts (after the TCP header).
    data: usize,
    len: usize,
    seq: u32,
    flags: u8,
}

impl Seg {
    fn tcp(&self) -> usize {
        ETH_LEN + self.ip_hl
    }

    /// Payload and nothing that must travel alone.
    fn mergeable(&self) -> bool {
        self.len > 0 && self.flags & (SYN | FIN | RST | URG) == 0
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn parse(f: &[u8]) -> Option<Seg> {
    if f.len() < ETH_LEN {
        return None;
    }
    let (v6, ip_hl, ip_len) = match be16(f, 12) {
        ETHERTYPE_V4 => {
            let ip = f.get(ETH_LEN..ETH_LEN + 20)?;
            // No options and no fragment: the common case is enough.
            if ip[0] != 0x45 || ip[9] != libc::IPPROTO_TCP as u8 || be16(ip, 6) & V4_MF_OFFSET != 0
            {
                return None;
            }
            (false, 20, usize::from(be16(ip, 2)))
        }
        ETHERTYPE_V6 => {
            let ip = f.get(ETH_LEN..ETH_LEN + IPV6_LEN)?;
            if ip[0] >> 4 != 6 || ip[6] != libc::IPPROTO_TCP as u8 {
                return None;
            }
            (true, IPV6_LEN, IPV6_LEN + usize::from(be16(ip, 4)))
        }
        _ => return None,
    };
    let t = ETH_LEN + ip_hl;
    let tcp = f.get(t..t + 20)?;
    let tcp_hl = usize::from(tcp[12] >> 4) * 4;
    if tcp_hl < 20 || ip_len < ip_hl + tcp_hl || ETH_LEN + ip_len > f.len() {
        return None;
    }
    Some(Seg {
        v6,
        ip_hl,
        data: t + tcp_hl,
        len: ip_len - ip_hl - tcp_hl,
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        flags: tcp[TCP_FLAGS],
    })
}

/// Same link, addresses and ports.
fn same_flow(a: &[u8], sa: &Seg, b: &[u8], sb: &Seg) -> bool {
    if sa.v6 != sb.v6 || a[..ETH_LEN] != b[..ETH_LEN] {
        return false;
    }
    let addrs = if sa.v6 { 8..40 } else { 12..20 };
    let (ta, tb) = (sa.tcp(), sb.tcp());
    a[ETH_LEN + addrs.start..ETH_LEN + addrs.end] == b[ETH_LEN + addrs.start..ETH_LEN + addrs.end]
        && a[ta..ta + 4] == b[tb..tb + 4]
}

/// Every header byte equal but the lengths, IPv4's id and checksums,
/// the sequence number and PSH: the host's segmentation rewrites those.
fn same_headers(a: &[u8], sa: &Seg, b: &[u8], sb: &Seg) -> bool {
    if sa.data != sb.data || !same_flow(a, sa, b, sb) {
        return false;
    }
    let ip = ETH_LEN;
    let ip_same = if sa.v6 {
        a[ip..ip + 4] == b[ip..ip + 4] && a[ip + 6..ip + 8] == b[ip + 6..ip + 8]
    } else {
        a[ip..ip + 2] == b[ip..ip + 2] && a[ip + 6..ip + 10] == b[ip + 6..ip + 10]
    };
    let t = sa.tcp();
    ip_same
        && a[t + 8..t + TCP_FLAGS] == b[t + 8..t + TCP_FLAGS]
        && a[t + TCP_FLAGS] & !PSH == b[t + TCP_FLAGS] & !PSH
        && a[t + 14..t + TCP_CHECK] == b[t + 14..t + TCP_CHECK]
        && a[t + 18..sa.data] == b[t + 18..sb.data]
}

/// Segments of one connection, each following the last in sequence, all
/// but the last exactly `size` long.
struct Run {
    frames: Vec<Vec<u8>>,
    first: Seg,
    next_seq: u32,
    bytes: usize,
    short: bool,
    open: bool,
}

enum Item {
    One(Vec<u8>),
    Run(Run),
}

/// Frames ready to send, each with its virtio-net header.
pub(crate) struct Out {
    pub hdr: Hdr,
    pub frame: Vec<u8>,
}

/// Merges `frames` (in the order smoltcp sent them) into as few as
/// possible. Frames of different connections may pass one another; the
/// frames of one connection keep their order. `take` gives buffers,
/// `give` takes back the ones merged away.
pub(crate) fn coalesce(
    frames: Vec<Vec<u8>>,
    take: &mut dyn FnMut(usize) -> Vec<u8>,
    give: &mut dyn FnMut(Vec<u8>),
) -> Vec<Out> {
    let mut items: Vec<Item> = Vec::with_capacity(frames.len());
    for f in frames {
        let Some(s) = parse(&f) else {
            // ARP and the like: nothing of a run can be its business,
            // but keep everything before it before it.
            close_all(&mut items);
            items.push(Item::One(f));
            continue;
        };
        // The latest run of this connection, if still open.
        let latest = items.iter_mut().rev().find_map(|it| match it {
            Item::Run(r) if same_flow(&r.frames[0], &r.first, &f, &s) => Some(r),
            _ => None,
        });
        if let Some(r) = latest.filter(|r| r.open) {
            if s.mergeable()
                && !r.short
                && s.seq == r.next_seq
                && s.len <= r.first.len
                && r.first.data - ETH_LEN + r.bytes + s.len <= MAX_IP
                && same_headers(&r.frames[0], &r.first, &f, &s)
            {
                r.next_seq = s.seq.wrapping_add(s.len as u32);
                r.bytes += s.len;
                r.short = s.len < r.first.len;
                r.frames.push(f);
                continue;
            }
            r.open = false;
        }
        if s.mergeable() {
            items.push(Item::Run(Run {
                next_seq: s.seq.wrapping_add(s.len as u32),
                bytes: s.len,
                short: false,
                first: s,
                frames: vec![f],
                open: true,
            }));
        } else {
            items.push(Item::One(f));
        }
    }
    items
        .into_iter()
        .map(|it| match it {
            Item::One(frame) => Out {
                hdr: [0; HDR_LEN],
                frame,
            },
            Item::Run(r) if r.frames.len() == 1 => Out {
                hdr: [0; HDR_LEN],
                frame: r.frames.into_iter().next().unwrap_or_default(),
            },
            Item::Run(r) => merge(r, take, give),
        })
        .collect()
}

fn close_all(items: &mut [Item]) {
    for it in items {
        if let Item::Run(r) = it {
            r.open = false;
        }
    }
}

/// One frame of a run's headers (from its first segment) and every
/// payload, with the lengths and checksums a GSO frame carries: the IPv4
/// header's own sum, and in the TCP checksum field the pseudo-header's
/// sum only (the host adds the payload's per segment).
fn merge(r: Run, take: &mut dyn FnMut(usize) -> Vec<u8>, give: &mut dyn FnMut(Vec<u8>)) -> Out {
    let s = r.first;
    let mut out = take(s.data + r.bytes);
    out.clear();
    out.extend_from_slice(&r.frames[0][..s.data]);
    let mut psh = 0;
    for f in r.frames {
        // Each frame parsed as a segment of this run's layout, and its
        // payload is exactly its IP length's worth.
        let Some(fs) = parse(&f) else { continue };
        out.extend_from_slice(&f[fs.data..fs.data + fs.len]);
        psh |= f[s.tcp() + TCP_FLAGS] & PSH;
        give(f);
    }
    let t = s.tcp();
    out[t + TCP_FLAGS] |= psh;
    let tcp_len = out.len() - t;
    let ip = ETH_LEN;
    let (src, dst) = if s.v6 {
        let len = u16::try_from(tcp_len).unwrap_or(u16::MAX);
        out[ip + 4..ip + 6].copy_from_slice(&len.to_be_bytes());
        (addr(&out[ip + 8..ip + 24]), addr(&out[ip + 24..ip + 40]))
    } else {
        let len = u16::try_from(out.len() - ip).unwrap_or(u16::MAX);
        out[ip + 2..ip + 4].copy_from_slice(&len.to_be_bytes());
        out[ip + 10..ip + 12].fill(0);
        let sum = !fold(sum(&out[ip..ip + s.ip_hl]));
        out[ip + 10..ip + 12].copy_from_slice(&sum.to_be_bytes());
        (addr(&out[ip + 12..ip + 16]), addr(&out[ip + 16..ip + 20]))
    };
    let pseudo = fold(pseudo_sum(src, dst, tcp_len));
    out[t + TCP_CHECK..t + TCP_CHECK + 2].copy_from_slice(&pseudo.to_be_bytes());
    let mut hdr = [0u8; HDR_LEN];
    hdr[0] = F_NEEDS_CSUM;
    hdr[1] = if s.v6 { GSO_TCPV6 } else { GSO_TCPV4 };
    let le = |v: usize| u16::try_from(v).unwrap_or(u16::MAX).to_le_bytes();
    hdr[2..4].copy_from_slice(&le(s.data));
    hdr[4..6].copy_from_slice(&le(s.len));
    hdr[6..8].copy_from_slice(&le(t));
    hdr[8..10].copy_from_slice(&le(TCP_CHECK));
    Out { hdr, frame: out }
}

fn addr(b: &[u8]) -> IpAddr {
    match b.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(b).unwrap_or_default()),
        _ => IpAddr::from(<[u8; 16]>::try_from(b).unwrap_or_default()),
    }
}

/// The one's complement sum of big-endian 16-bit words, unfolded.
fn sum(b: &[u8]) -> u32 {
    let mut s: u32 = 0;
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        s += u32::from(*last) << 8;
    }
    s
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

fn pseudo_sum(src: IpAddr, dst: IpAddr, len: usize) -> u32 {
    let proto = libc::IPPROTO_TCP as u32;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => sum(&s.octets()) + sum(&d.octets()) + proto + len as u32,
        (s, d) => {
            let o = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            let len = len as u32;
            sum(&o(s)) + sum(&o(d)) + (len >> 16) + (len & 0xffff) + proto
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet frame of a TCP/IPv4 segment 10.0.0.1:1000 >
    /// 10.0.0.2:80 with `seq`, `flags` and `len` payload bytes of `fill`.
    fn seg(seq: u32, flags: u8, len: usize, fill: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20 + len];
        f[0..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&ETHERTYPE_V4.to_be_bytes());
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((40 + len) as u16).to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let t = &mut f[34..54];
        t[0..2].copy_from_slice(&1000u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&seq.to_be_bytes());
        t[8..12].copy_from_slice(&7u32.to_be_bytes());
        t[12] = 0x50;
        t[13] = flags;
        t[14..16].copy_from_slice(&512u16.to_be_bytes());
        f[54..].fill(fill);
        f
    }

    fn run(frames: Vec<Vec<u8>>) -> Vec<Out> {
        coalesce(frames, &mut |n| Vec::with_capacity(n), &mut |_| {})
    }

    const ACK: u8 = 0x10;

    #[test]
    fn a_run_in_sequence_becomes_one_gso_frame() {
        let out = run(vec![
            seg(100, ACK, 1000, 1),
            seg(1100, ACK, 1000, 2),
            seg(2100, ACK | PSH, 500, 3),
        ]);
        assert_eq!(out.len(), 1);
        let (h, f) = (&out[0].hdr, &out[0].frame);
        assert_eq!(h[0], F_NEEDS_CSUM);
        assert_eq!(h[1], GSO_TCPV4);
        assert_eq!(u16::from_le_bytes([h[2], h[3]]), 54); // headers
        assert_eq!(u16::from_le_bytes([h[4], h[5]]), 1000); // segment size
        assert_eq!(u16::from_le_bytes([h[6], h[7]]), 34); // TCP header
        assert_eq!(u16::from_le_bytes([h[8], h[9]]), 16); // its checksum
        assert_eq!(f.len(), 54 + 2500);
        assert_eq!(be16(f, 16), 40 + 2500);
        // The IPv4 header sums to all ones.
        assert_eq!(fold(sum(&f[14..34])), 0xffff);
        assert_eq!(f[34 + 13], ACK | PSH);
        assert_eq!(
            be16(f, 34 + 16),
            fold(pseudo_sum(addr(&[10, 0, 0, 1]), addr(&[10, 0, 0, 2]), 2520))
        );
        assert!(f[54..1054].iter().all(|&b| b == 1));
        assert!(f[2054..].iter().all(|&b| b == 3));
    }

    #[test]
    fn gaps_short_segments_and_control_flags_end_a_run() {
        // A gap in sequence, a segment after a short one, and a FIN.
        let out = run(vec![
            seg(100, ACK, 1000, 0),
            seg(1100, ACK, 1000, 0),
            seg(5000, ACK, 1000, 0),
            seg(6000, ACK, 10, 0),
            seg(6010, ACK, 10, 0),
            seg(6020, ACK | FIN, 10, 0),
        ]);
        let lens: Vec<usize> = out.iter().map(|o| o.frame.len() - 54).collect();
        assert_eq!(lens, vec![2000, 1010, 10, 10]);
        assert_eq!(out[2].hdr, [0; HDR_LEN]);
        assert_eq!(out[3].frame[34 + 13], ACK | FIN);
    }

    #[test]
    fn other_connections_interleave_and_pure_acks_pass_alone() {
        let mut other = seg(0, ACK, 1000, 9);
        other[34..36].copy_from_slice(&1001u16.to_be_bytes());
        let mut other2 = seg(1000, ACK, 1000, 9);
        other2[34..36].copy_from_slice(&1001u16.to_be_bytes());
        let out = run(vec![
            seg(100, ACK, 1000, 0),
            other,
            seg(1100, ACK, 1000, 0),
            other2,
            seg(2100, ACK, 0, 0),
        ]);
        let lens: Vec<usize> = out.iter().map(|o| o.frame.len() - 54).collect();
        assert_eq!(lens, vec![2000, 2000, 0]);
    }
}
