//! IPv4 reassembly, before `steer`.
//!
//! Datagrams are delivered by the stack itself (`steer`, `dgram`), which
//! needs the transport header, and only the first fragment has it; so
//! fragments addressed to this stack are put back together here, and the
//! whole packet then goes the way an unfragmented one goes (to an endpoint,
//! or to smoltcp for TCP and ICMP). Sending is smoltcp's: its fragmenter
//! splits IPv4 packets past the MTU.
//!
//! As Linux does: a datagram not complete within 30 seconds is dropped
//! (`ipfrag_time`); at most 4 MiB wait at once (`ipfrag_high_thresh`), the
//! oldest dropped first past it; a fragment that overlaps another one with
//! different bounds drops its whole datagram (overlaps are how fragment
//! attacks work); a packet past 65,535 bytes is dropped. Linux then sends
//! an ICMP "reassembly time exceeded"; this stack does not.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use smoltcp::phy::Medium;
use smoltcp::wire::Ipv4Packet;

use crate::iface::Iface;

/// Linux's `net.ipv4.ipfrag_time`.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Linux's `net.ipv4.ipfrag_high_thresh`.
const MAX_HELD: usize = 4 << 20;
/// The largest IPv4 packet.
const MAX_PACKET: usize = 65535;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    iface: usize,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ident: u16,
}

/// One datagram's fragments so far.
struct Partial {
    started: Instant,
    /// The first fragment's link header and IP header (with options),
    /// once it has come.
    head: Option<(Vec<u8>, Vec<u8>)>,
    /// The payload, by offset.
    data: Vec<u8>,
    /// The payload ranges that have come, sorted, not overlapping.
    have: Vec<(usize, usize)>,
    /// The payload's length, once the last fragment has come.
    total: Option<usize>,
}

impl Partial {
    /// Adds `payload` at `off`; false when it overlaps another fragment
    /// with different bounds (the datagram is then dropped).
    fn add(&mut self, off: usize, payload: &[u8]) -> bool {
        let end = off + payload.len();
        if self.have.contains(&(off, end)) {
            // A duplicate.
            return true;
        }
        if self.have.iter().any(|&(s, e)| s < end && off < e) {
            return false;
        }
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[off..end].copy_from_slice(payload);
        let at = self.have.partition_point(|&(s, _)| s < off);
        self.have.insert(at, (off, end));
        true
    }

    fn complete(&self) -> bool {
        let Some(total) = self.total else {
            return false;
        };
        let mut pos = 0;
        for &(s, e) in &self.have {
            if s != pos {
                return false;
            }
            pos = e;
        }
        pos == total && self.head.is_some()
    }
}

/// The datagrams being put back together.
#[derive(Default)]
pub(crate) struct Reassembly {
    partial: HashMap<Key, Partial>,
    held: usize,
}

impl Reassembly {
    /// Drops datagrams past their time, and the oldest ones while more
    /// than [`MAX_HELD`] bytes wait.
    fn expire(&mut self, now: Instant) {
        let before = self.partial.len();
        self.partial
            .retain(|_, p| now.duration_since(p.started) < TIMEOUT);
        if self.partial.len() != before {
            self.held = self.partial.values().map(|p| p.data.len()).sum();
        }
        while self.held > MAX_HELD {
            let Some(k) = self
                .partial
                .iter()
                .min_by_key(|(_, p)| p.started)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(p) = self.partial.remove(&k) {
                self.held -= p.data.len();
            }
        }
    }
}

/// What became of an arriving frame.
pub(crate) enum Offer {
    /// Not a fragment for this stack: on its way unchanged.
    Whole(Vec<u8>),
    /// A fragment, kept (or dropped); nothing more to do.
    Held,
    /// The fragment that completed its datagram: the whole packet behind
    /// the first fragment's link header.
    Reassembled(Vec<u8>),
}

impl Reassembly {
    /// Takes `frame` if it is an IPv4 fragment addressed to `f`, interface
    /// `n`.
    pub(crate) fn offer(&mut self, n: usize, f: &mut Iface, frame: Vec<u8>) -> Offer {
        let link = if f.dev.medium == Medium::Ethernet {
            // Not IPv4, or our own frame read back (`steer` says Echo).
            if frame.len() < 14 || frame[12..14] != [0x08, 0x00] || frame[6..12] == f.mac {
                return Offer::Whole(frame);
            }
            14
        } else {
            0
        };
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
        let payload = payload.to_vec();
        f.dev.arrived(&frame);
        f.dev.recycle(frame);

        let now = Instant::now();
        let r = self;
        r.expire(now);
        let part = r.partial.entry(key).or_insert_with(|| Partial {
            started: now,
            head: None,
            data: Vec::new(),
            have: Vec::new(),
            total: None,
        });
        let grown_from = part.data.len();
        let fits = part.total.is_none_or(|t| off + payload.len() <= t)
            && !(last && part.total.is_some_and(|t| t != off + payload.len()))
            && (!last || part.have.iter().all(|&(_, e)| e <= off + payload.len()));
        if !fits || !part.add(off, &payload) {
            r.held -= grown_from.min(r.held);
            r.partial.remove(&key);
            return Offer::Held;
        }
        r.held += part.data.len() - grown_from;
        if last {
            part.total = Some(off + payload.len());
        }
        if head.is_some() && part.head.is_none() {
            part.head = head;
        }
        if !part.complete() {
            r.expire(now);
            return Offer::Held;
        }
        let part = r.partial.remove(&key).expect("just seen");
        r.held -= part.data.len().min(r.held);
        let (link_hdr, ip_hdr) = part.head.expect("complete");
        let mut whole = link_hdr;
        let start = whole.len();
        whole.extend_from_slice(&ip_hdr);
        whole.extend_from_slice(&part.data);
        let mut p = Ipv4Packet::new_unchecked(&mut whole[start..]);
        p.set_total_len((ip_hdr.len() + part.data.len()) as u16);
        p.set_more_frags(false);
        p.set_frag_offset(0);
        p.fill_checksum();
        Offer::Reassembled(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::Partial;
    use std::time::Instant;

    fn partial() -> Partial {
        Partial {
            started: Instant::now(),
            head: Some((Vec::new(), Vec::new())),
            data: Vec::new(),
            have: Vec::new(),
            total: None,
        }
    }

    #[test]
    fn fragments_in_any_order_complete_the_datagram() {
        let mut p = partial();
        assert!(p.add(16, &[3; 8]));
        assert!(p.add(0, &[1; 8]));
        assert!(!p.complete());
        p.total = Some(24);
        assert!(!p.complete());
        assert!(p.add(8, &[2; 8]));
        assert!(p.complete());
        assert_eq!(&p.data[..], &[[1u8; 8], [2; 8], [3; 8]].concat()[..]);
    }

    #[test]
    fn a_duplicate_is_ignored_and_an_overlap_refused() {
        let mut p = partial();
        assert!(p.add(0, &[1; 16]));
        assert!(p.add(0, &[1; 16]));
        assert!(!p.add(8, &[9; 16]));
    }
}
