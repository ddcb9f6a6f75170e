//! IPv4 fragments: which datagram a fragment belongs to, and the whole
//! packet once all have come.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use smoltcp::wire::Ipv4Packet;

use super::{settle, Fragment, Offer, Table};
use crate::iface::Iface;

/// Linux's `net.ipv4.ipfrag_time`.
pub(super) const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest IPv4 packet.
const MAX_PACKET: usize = 65535;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct Key {
    iface: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
}

/// Takes `frame` (its IPv4 header at `link`) if it is a fragment
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
    let Ok(p) = Ipv4Packet::new_checked(ip) else {
        return Offer::Whole(frame);
    };
    if !p.more_frags() && p.frag_offset() == 0 {
        return Offer::Whole(frame);
    }
    let dst = std::net::IpAddr::V4(p.dst_addr());
    if !f.has_addr(dst) && !dst.is_multicast() && !p.dst_addr().is_broadcast() {
        // Not ours to put together (smoltcp drops it).
        return Offer::Whole(frame);
    }
    let hl = usize::from(p.header_len());
    let end = usize::from(p.total_len()).min(ip.len());
    let off = usize::from(p.frag_offset());
    let Some(payload) = ip.get(hl..end) else {
        return Offer::Held;
    };
    let key = Key {
        iface: n,
        src: p.src_addr(),
        dst: p.dst_addr(),
        proto: u8::from(p.next_header()),
        ident: p.ident(),
    };
    let last = !p.more_frags();
    // Every fragment but the last carries a multiple of 8 bytes.
    if hl + off + payload.len() > MAX_PACKET || (!last && payload.len() % 8 != 0) {
        f.dev.arrived(&frame);
        return Offer::Held;
    }
    let head = (off == 0).then(|| (frame[..link].to_vec(), ip[..hl].to_vec()));
    let fragment = Fragment {
        off,
        payload,
        last,
        head,
    };
    let done = table.add(key, fragment, Instant::now());
    let Some((mut whole, start)) = settle(f, frame, done) else {
        return Offer::Held;
    };
    let len = (whole.len() - start) as u16;
    let mut p = Ipv4Packet::new_unchecked(&mut whole[start..]);
    p.set_total_len(len);
    p.set_more_frags(false);
    p.set_frag_offset(0);
    p.fill_checksum();
    Offer::Reassembled(whole)
}
