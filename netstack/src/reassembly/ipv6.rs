//! IPv6 fragments (the Fragment extension header): which datagram a
//! fragment belongs to, and the whole packet once all have come. The
//! headers before the Fragment header (hop-by-hop, routing, destination
//! options) are the unfragmentable part, taken from the first fragment
//! as RFC 8200 says; an atomic fragment (offset 0, no more to come) is
//! a whole packet at once (RFC 6946).

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use smoltcp::wire::{IpProtocol, Ipv6ExtHeader, Ipv6FragmentHeader, Ipv6FragmentRepr, Ipv6Packet};

use super::{settle, Fragment, Offer, Table};
use crate::iface::Iface;

/// Linux's `net.ipv6.ip6frag_time`.
pub(super) const TIMEOUT: Duration = Duration::from_secs(60);
/// The largest IPv6 payload (the payload length field's reach).
const MAX_PAYLOAD: usize = 65535;
/// The fixed IPv6 header's length, and where its next header byte is.
const FIXED_HEADER: usize = 40;
const FIXED_NEXT_HEADER: usize = 6;
/// A Fragment header's length.
const FRAGMENT_HEADER: usize = 8;
/// Fragment offsets count 8-byte units.
const OFFSET_UNIT: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct Key {
    iface: usize,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ident: u32,
}

/// Where a packet's Fragment header is: its offset, the offset of the
/// next header byte that names it, and the header itself.
pub(super) struct Located {
    pub(super) at: usize,
    pub(super) names_it: usize,
    pub(super) proto: u8,
    pub(super) repr: Ipv6FragmentRepr,
}

/// Finds the Fragment header of the IPv6 packet `ip`, past the
/// extension headers that may come before it.
pub(super) fn locate(ip: &[u8], end: usize) -> Option<Located> {
    let p = Ipv6Packet::new_checked(ip).ok()?;
    let mut next = p.next_header();
    let mut at = FIXED_HEADER;
    let mut names_it = FIXED_NEXT_HEADER;
    loop {
        let ext = Ipv6ExtHeader::new_checked(ip.get(at..end)?).ok()?;
        match next {
            IpProtocol::Ipv6Frag => {
                let h = Ipv6FragmentHeader::new_checked(ext.payload()).ok()?;
                return Some(Located {
                    at,
                    names_it,
                    proto: u8::from(ext.next_header()),
                    repr: Ipv6FragmentRepr::parse(&h).ok()?,
                });
            }
            IpProtocol::HopByHop | IpProtocol::Ipv6Route | IpProtocol::Ipv6Opts => {
                names_it = at;
                next = ext.next_header();
                at += (usize::from(ext.header_len()) + 1) * 8;
            }
            _ => return None,
        }
    }
}

/// Takes `frame` (its IPv6 header at `link`) if it is a fragment
/// addressed to `f`, interface `n`.
pub(super) fn offer(
    table: &mut Table<Key>,
    n: usize,
    f: &mut Iface,
    frame: Vec<u8>,
    link: usize,
) -> Offer {
    let Some(ip) = frame.get(link..) else {
        return Offer::Whole(frame);
    };
    let Ok(p) = Ipv6Packet::new_checked(ip) else {
        return Offer::Whole(frame);
    };
    let (src, dst) = (p.src_addr(), p.dst_addr());
    if !f.has_addr(IpAddr::V6(dst)) && !dst.is_multicast() {
        // Not ours to put together (smoltcp drops it).
        return Offer::Whole(frame);
    }
    let end = (FIXED_HEADER + usize::from(p.payload_len())).min(ip.len());
    let Some(loc) = locate(ip, end) else {
        return Offer::Whole(frame);
    };
    let start = loc.at + FRAGMENT_HEADER;
    let Some(payload) = ip.get(start..end) else {
        f.dev.arrived(&frame);
        return Offer::Held;
    };
    let off = usize::from(loc.repr.frag_offset) * OFFSET_UNIT;
    let last = !loc.repr.more_frags;
    // The first fragment's headers without the Fragment header, naming
    // the upper-layer protocol instead.
    let unfragmentable = |ip: &[u8]| {
        let mut h = ip[..loc.at].to_vec();
        h[loc.names_it] = loc.proto;
        h
    };
    if off == 0 && last {
        // An atomic fragment: no datagram to wait for.
        let mut whole = frame[..link].to_vec();
        whole.extend_from_slice(&unfragmentable(ip));
        whole.extend_from_slice(payload);
        set_payload_len(&mut whole[link..]);
        f.dev.arrived(&frame);
        f.dev.recycle(frame);
        return Offer::Reassembled(whole);
    }
    if !acceptable(loc.at, off, payload.len(), last) {
        f.dev.arrived(&frame);
        return Offer::Held;
    }
    let key = Key {
        iface: n,
        src,
        dst,
        ident: loc.repr.ident,
    };
    let head = (off == 0).then(|| (frame[..link].to_vec(), unfragmentable(ip)));
    let fragment = Fragment {
        off,
        payload,
        last,
        head,
    };
    let done = table.add(key, fragment, Instant::now());
    let Some((mut whole, at)) = settle(f, frame, done) else {
        return Offer::Held;
    };
    set_payload_len(&mut whole[at..]);
    Offer::Reassembled(whole)
}

/// Every fragment but the last carries a multiple of 8 bytes, and the
/// whole payload (after the fixed header's `at` bytes of headers) fits
/// the payload length field.
pub(super) fn acceptable(at: usize, off: usize, len: usize, last: bool) -> bool {
    at - FIXED_HEADER + off + len <= MAX_PAYLOAD && (last || len.is_multiple_of(OFFSET_UNIT))
}

/// Sets the payload length of the IPv6 packet `ip` to what follows its
/// fixed header.
fn set_payload_len(ip: &mut [u8]) {
    let len = (ip.len() - FIXED_HEADER) as u16;
    Ipv6Packet::new_unchecked(ip).set_payload_len(len);
}
