//! Sending IPv6 fragments: smoltcp fragments IPv4 but not IPv6, so a
//! UDP, ping or raw ICMPv6 message past the link's MTU is cut here, as
//! Linux's ip6_fragment does, into packets that each carry a Fragment
//! header (the next header the whole message's protocol, the offset in
//! 8-byte units, the M flag on all but the last, one identification for
//! them all), and leaves by a raw smoltcp socket of protocol 44 made for
//! the interface, which resolves the neighbour as any send does.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use smoltcp::iface::SocketHandle;
use smoltcp::phy::Medium;
use smoltcp::socket::raw;
use smoltcp::wire::{
    Icmpv6Packet, IpProtocol, IpVersion, Ipv6FragmentHeader, Ipv6FragmentRepr, Ipv6Packet, Ipv6Repr,
};

use crate::errno::Errno;
use crate::iface::Iface;

/// The fixed IPv6 header's and the Fragment header's lengths.
const FIXED_HEADER: usize = 40;
const FRAGMENT_HEADER: usize = 8;
/// Fragment offsets count 8-byte units.
const OFFSET_UNIT: usize = 8;
/// Fragments the interface's raw socket holds while the neighbour is
/// being resolved: a 64 KiB message at IPv6's least MTU (1280) is 54
/// of them, and the buffer below holds four such messages.
const SLOTS: usize = 256;
const BUFFER: usize = 4 * 65536;

/// The fragments of `msg` (a transport message of protocol `proto`,
/// its checksum filled) for a link of `mtu` bytes, identified by
/// `ident`: whole IPv6 packets, in order.
pub(crate) fn split(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop: u8,
    proto: u8,
    msg: &[u8],
    mtu: usize,
    ident: u32,
) -> Vec<Vec<u8>> {
    // Every fragment but the last carries a multiple of 8 bytes.
    let room = (mtu.saturating_sub(FIXED_HEADER + FRAGMENT_HEADER) / OFFSET_UNIT * OFFSET_UNIT)
        .max(OFFSET_UNIT);
    let chunks = msg.chunks(room);
    let count = chunks.len();
    chunks
        .enumerate()
        .map(|(i, chunk)| {
            let mut p = vec![0u8; FIXED_HEADER + FRAGMENT_HEADER + chunk.len()];
            let repr = Ipv6Repr {
                src_addr: src,
                dst_addr: dst,
                next_header: IpProtocol::Ipv6Frag,
                payload_len: FRAGMENT_HEADER + chunk.len(),
                hop_limit: hop,
            };
            repr.emit(&mut Ipv6Packet::new_unchecked(&mut p[..]));
            let frag = &mut p[FIXED_HEADER..];
            frag[0] = proto;
            let fields = Ipv6FragmentRepr {
                frag_offset: (i * room / OFFSET_UNIT) as u16,
                more_frags: i + 1 < count,
                ident,
            };
            // smoltcp's Fragment header view starts past the next
            // header and reserved bytes.
            fields.emit(&mut Ipv6FragmentHeader::new_unchecked(&mut frag[2..]));
            p[FIXED_HEADER + FRAGMENT_HEADER..].copy_from_slice(chunk);
            p
        })
        .collect()
}

/// An identification for a datagram from `src` to `dst`: a keyed hash
/// of the pair plus a counter, so that it differs per destination and
/// from one datagram to the next, as Linux's ipv6_select_ident does.
pub(crate) fn ident(src: Ipv6Addr, dst: Ipv6Addr) -> u32 {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = KEY.get_or_init(RandomState::new).hash_one((src, dst)) as u32;
    base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Queues `msg` in fragments on interface `f` (EAGAIN, sending nothing,
/// when they do not all fit its queue).
pub(crate) fn send(
    f: &mut Iface,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop: u8,
    proto: u8,
    msg: &[u8],
) -> Result<(), Errno> {
    let packets = split(src, dst, hop, proto, msg, f.mtu as usize, ident(src, dst));
    let h = socket(f);
    let s = f.sockets.get_mut::<raw::Socket>(h);
    let bytes: usize = packets.iter().map(Vec::len).sum();
    // One packet more of room: the ring buffer may skip its end.
    let longest = packets.first().map_or(0, Vec::len);
    if s.payload_send_capacity() - s.send_queue() < bytes + longest {
        return Err(Errno::EAGAIN);
    }
    for p in &packets {
        s.send_slice(p).map_err(|_| Errno::EAGAIN)?;
    }
    Ok(())
}

/// An Ethernet header's length.
const ETHERNET_HEADER: usize = 14;
/// ICMPv6's echo request and reply types.
const ECHO_REQUEST: u8 = 128;
const ECHO_REPLY: u8 = 129;
/// The hop limit of the stack's own replies (smoltcp's default).
const REPLY_HOP_LIMIT: u8 = 64;

/// Answers a reassembled IPv6 echo request (`frame`) whose reply is past the link's MTU: smoltcp answers the
/// others, but would drop this one for want of fragments. True when
/// answered (or not to be answered: sent to a group).
pub(crate) fn answer_echo(f: &mut Iface, frame: &[u8]) -> bool {
    let link = if f.dev.medium == Medium::Ethernet {
        ETHERNET_HEADER
    } else {
        0
    };
    let Some(Ok(p)) = frame.get(link..).map(Ipv6Packet::new_checked) else {
        return false;
    };
    let payload = p.payload();
    if p.next_header() != IpProtocol::Icmpv6
        || frame.len() - link <= f.mtu as usize
        || payload.len() < 8
        || payload[0] != ECHO_REQUEST
        || payload[1] != 0
    {
        return false;
    }
    let (src, dst) = (p.src_addr(), p.dst_addr());
    if dst.is_multicast() {
        return true;
    }
    let mut reply = payload.to_vec();
    reply[0] = ECHO_REPLY;
    Icmpv6Packet::new_unchecked(&mut reply[..]).fill_checksum(&dst, &src);
    let _ = send(
        f,
        dst,
        src,
        REPLY_HOP_LIMIT,
        u8::from(IpProtocol::Icmpv6),
        &reply,
    );
    true
}

/// The interface's raw socket for fragments.
fn socket(f: &mut Iface) -> SocketHandle {
    if let Some(h) = f.frag6 {
        return h;
    }
    let h = f.sockets.add(raw::Socket::new(
        IpVersion::Ipv6,
        IpProtocol::Ipv6Frag,
        raw::PacketBuffer::new(Vec::new(), Vec::new()),
        raw::PacketBuffer::new(vec![raw::PacketMetadata::EMPTY; SLOTS], vec![0; BUFFER]),
    ));
    f.frag6 = Some(h);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_cut_at_eight_byte_boundaries_with_one_ident() {
        let (s, d) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        let msg: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let packets = split(s, d, 64, 17, &msg, 1500, 0xabcd_0123);
        assert_eq!(packets.len(), 3);
        let mut whole = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            assert!(p.len() <= 1500);
            let ip = Ipv6Packet::new_checked(&p[..]).unwrap();
            assert_eq!(ip.next_header(), IpProtocol::Ipv6Frag);
            assert_eq!(usize::from(ip.payload_len()), p.len() - FIXED_HEADER);
            assert_eq!((ip.hop_limit(), p[FIXED_HEADER]), (64, 17));
            let h = Ipv6FragmentHeader::new_checked(&p[FIXED_HEADER + 2..]).unwrap();
            let r = Ipv6FragmentRepr::parse(&h).unwrap();
            assert_eq!(usize::from(r.frag_offset) * 8, whole.len());
            assert_eq!((r.more_frags, r.ident), (i < 2, 0xabcd_0123));
            whole.extend_from_slice(&p[FIXED_HEADER + FRAGMENT_HEADER..]);
        }
        assert_eq!(whole, msg);
        // 1500 - 48 = 1452, cut to 1448.
        assert_eq!(packets[0].len(), 48 + 1448);
    }

    #[test]
    fn identifications_differ_per_datagram() {
        let (s, d) = ("fd00::1".parse().unwrap(), "fd00::2".parse().unwrap());
        assert_ne!(ident(s, d), ident(s, d));
    }
}
