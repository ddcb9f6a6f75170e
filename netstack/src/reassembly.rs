//! IP reassembly, before `steer`: the bookkeeping both versions share
//! (which fragments came, how long and how many bytes may wait, when an
//! overlap drops a datagram); `ipv4` and `ipv6` read their own headers
//! and rebuild their own packets.
//!
//! Datagrams are delivered by the stack itself (`steer`, `dgram`), which
//! needs the transport header, and only the first fragment has it; so
//! fragments addressed to this stack are put back together here, and the
//! whole packet then goes the way an unfragmented one goes (to an endpoint,
//! or to smoltcp for TCP and ICMP). Sending IPv4 fragments is smoltcp's
//! fragmenter; sending IPv6 ones is `outbound`'s (smoltcp has none).
//!
//! As Linux does: a datagram not complete in time is dropped
//! (`ipfrag_time`, `ip6frag_time`); at most 4 MiB wait at once per
//! version (`ipfrag_high_thresh`, `ip6frag_high_thresh`), the oldest
//! dropped first past it; a fragment that overlaps another one with
//! different bounds drops its whole datagram (overlaps are how fragment
//! attacks work; RFC 5722 says so for IPv6); a packet past 65,535 bytes
//! is dropped. Linux then sends an ICMP "reassembly time exceeded"; this
//! stack does not.

mod ipv4;
mod ipv6;

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use smoltcp::phy::Medium;

use crate::iface::Iface;

/// Linux's `net.ipv4.ipfrag_high_thresh` and
/// `net.ipv6.ip6frag_high_thresh`.
const MAX_HELD: usize = 4 << 20;

/// One datagram's fragments so far.
struct Partial {
    started: Instant,
    /// The first fragment's link header and IP header (with the options
    /// or extension headers that precede the fragmented part), once it
    /// has come.
    head: Option<(Vec<u8>, Vec<u8>)>,
    /// The payload, by offset.
    data: Vec<u8>,
    /// The payload ranges that have come, sorted, not overlapping.
    have: Vec<(usize, usize)>,
    /// The payload's length, once the last fragment has come.
    total: Option<usize>,
}

impl Partial {
    fn new(started: Instant) -> Partial {
        Partial {
            started,
            head: None,
            data: Vec::new(),
            have: Vec::new(),
            total: None,
        }
    }

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

    /// Whether a fragment ending at `end`, the last one or not, agrees
    /// with the datagram's end as known so far.
    fn fits(&self, end: usize, last: bool) -> bool {
        match self.total {
            Some(t) => end <= t && (!last || t == end),
            None => !last || self.have.iter().all(|&(_, e)| e <= end),
        }
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

/// One fragment, as its version's header says.
struct Fragment<'a> {
    /// Where its payload goes, in bytes.
    off: usize,
    payload: &'a [u8],
    /// No more fragments follow (the M flag clear).
    last: bool,
    /// The first fragment's link and IP headers, to head the whole
    /// packet.
    head: Option<(Vec<u8>, Vec<u8>)>,
}

/// The datagrams of one IP version being put back together, by the key
/// that names a datagram in that version.
struct Table<K> {
    partial: HashMap<K, Partial>,
    held: usize,
    /// `ipfrag_time` or `ip6frag_time`.
    timeout: Duration,
}

impl<K: Copy + Eq + Hash> Table<K> {
    fn new(timeout: Duration) -> Table<K> {
        Table {
            partial: HashMap::new(),
            held: 0,
            timeout,
        }
    }

    /// Drops datagrams past their time, and the oldest ones while more
    /// than [`MAX_HELD`] bytes wait.
    fn expire(&mut self, now: Instant) {
        let before = self.partial.len();
        let timeout = self.timeout;
        self.partial
            .retain(|_, p| now.duration_since(p.started) < timeout);
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

    /// Files fragment `f` of datagram `key`: the datagram's link header,
    /// IP header and payload when `f` completed it, else None (kept, or
    /// the datagram dropped for an overlap or a contradiction).
    fn add(
        &mut self,
        key: K,
        f: Fragment<'_>,
        now: Instant,
    ) -> Option<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        self.expire(now);
        let part = self.partial.entry(key).or_insert_with(|| Partial::new(now));
        let grown_from = part.data.len();
        let end = f.off + f.payload.len();
        if !part.fits(end, f.last) || !part.add(f.off, f.payload) {
            self.held -= grown_from.min(self.held);
            self.partial.remove(&key);
            return None;
        }
        self.held += part.data.len() - grown_from;
        if f.last {
            part.total = Some(end);
        }
        if f.head.is_some() && part.head.is_none() {
            part.head = f.head;
        }
        if !part.complete() {
            self.expire(now);
            return None;
        }
        let part = self.partial.remove(&key).expect("just seen");
        self.held -= part.data.len().min(self.held);
        let (link, ip) = part.head.expect("complete");
        Some((link, ip, part.data))
    }
}

/// After a fragment was filed: counts and recycles the frame that carried
/// it, and joins a datagram it completed (`Table::add`'s link header, IP
/// header and payload) into one packet, with where its IP header starts.
fn settle(
    f: &mut Iface,
    frame: Vec<u8>,
    done: Option<(Vec<u8>, Vec<u8>, Vec<u8>)>,
) -> Option<(Vec<u8>, usize)> {
    f.dev.arrived(&frame);
    f.dev.recycle(frame);
    let (mut whole, ip, data) = done?;
    let at = whole.len();
    whole.extend_from_slice(&ip);
    whole.extend_from_slice(&data);
    Some((whole, at))
}

/// The datagrams being put back together, per version.
pub(crate) struct Reassembly {
    v4: Table<ipv4::Key>,
    v6: Table<ipv6::Key>,
}

impl Default for Reassembly {
    fn default() -> Reassembly {
        Reassembly {
            v4: Table::new(ipv4::TIMEOUT),
            v6: Table::new(ipv6::TIMEOUT),
        }
    }
}

/// What became of an arriving frame.
pub(crate) enum Offer {
    /// Not a fragment for this stack: on its way unchanged.
    Whole(Vec<u8>),
    /// A fragment, kept (or dropped); nothing more to do.
    Held,
    /// The fragment that completed its datagram (or an IPv6 atomic
    /// fragment): the whole packet behind the first fragment's link
    /// header.
    Reassembled(Vec<u8>),
}

/// Ethernet's type for IPv4 and IPv6.
const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];
const ETHERTYPE_IPV6: [u8; 2] = [0x86, 0xdd];
/// An Ethernet header's length.
const ETHERNET_HEADER: usize = 14;

impl Reassembly {
    /// Takes `frame` if it is an IP fragment addressed to `f`, interface
    /// `n`.
    pub(crate) fn offer(&mut self, n: usize, f: &mut Iface, frame: Vec<u8>) -> Offer {
        let (link, v6) = if f.dev.medium == Medium::Ethernet {
            // Our own frame read back (`steer` says Echo) is no one's.
            if frame.len() < ETHERNET_HEADER || frame[6..12] == f.mac {
                return Offer::Whole(frame);
            }
            match [frame[12], frame[13]] {
                ETHERTYPE_IPV4 => (ETHERNET_HEADER, false),
                ETHERTYPE_IPV6 => (ETHERNET_HEADER, true),
                _ => return Offer::Whole(frame),
            }
        } else {
            match frame.first().map(|b| b >> 4) {
                Some(4) => (0, false),
                Some(6) => (0, true),
                _ => return Offer::Whole(frame),
            }
        };
        if v6 {
            ipv6::offer(&mut self.v6, n, f, frame, link)
        } else {
            ipv4::offer(&mut self.v4, n, f, frame, link)
        }
    }
}

#[cfg(test)]
mod tests;
