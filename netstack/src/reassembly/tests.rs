//! The shared bookkeeping, and IPv6's header walk and limits.

use std::time::{Duration, Instant};

use super::{ipv6, Fragment, Partial, Table, MAX_HELD};

fn frag(off: usize, payload: &[u8], last: bool) -> Fragment<'_> {
    Fragment {
        off,
        payload,
        last,
        head: (off == 0).then(|| (vec![0xee; 14], vec![0x60; 40])),
    }
}

#[test]
fn fragments_in_any_order_complete_the_datagram() {
    let mut p = Partial::new(Instant::now());
    p.head = Some((Vec::new(), Vec::new()));
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
fn a_table_puts_out_of_order_fragments_together_once() {
    let mut t = Table::new(Duration::from_secs(60));
    let now = Instant::now();
    assert!(t.add(1u32, frag(16, &[3; 4], true), now).is_none());
    assert!(t.add(1, frag(8, &[2; 8], false), now).is_none());
    // Another datagram's fragment does not complete this one.
    assert!(t.add(2, frag(0, &[9; 8], false), now).is_none());
    let (link, ip, data) = t.add(1, frag(0, &[1; 8], false), now).expect("complete");
    assert_eq!((link.len(), ip.len()), (14, 40));
    assert_eq!(
        data,
        [[1u8; 8], [2; 8]]
            .concat()
            .into_iter()
            .chain([3; 4])
            .collect::<Vec<_>>()
    );
    assert_eq!(t.partial.len(), 1);
    assert_eq!(t.held, 8);
}

#[test]
fn a_duplicate_is_ignored() {
    let mut t = Table::new(Duration::from_secs(60));
    let now = Instant::now();
    assert!(t.add(1u32, frag(0, &[1; 16], false), now).is_none());
    assert!(t.add(1, frag(0, &[1; 16], false), now).is_none());
    let (_, _, data) = t.add(1, frag(16, &[2; 3], true), now).expect("complete");
    assert_eq!(data.len(), 19);
}

#[test]
fn an_overlap_drops_the_whole_datagram() {
    let mut t = Table::new(Duration::from_secs(60));
    let now = Instant::now();
    assert!(t.add(1u32, frag(0, &[1; 16], false), now).is_none());
    assert!(t.add(1, frag(8, &[9; 16], false), now).is_none());
    assert!(t.partial.is_empty());
    assert_eq!(t.held, 0);
    // What comes after belongs to a datagram begun anew, never complete.
    assert!(t.add(1, frag(16, &[2; 8], true), now).is_none());
    assert!(t.add(1, frag(0, &[1; 8], false), now).is_none());
}

#[test]
fn a_last_fragment_that_contradicts_the_end_drops_the_datagram() {
    let mut t = Table::new(Duration::from_secs(60));
    let now = Instant::now();
    assert!(t.add(1u32, frag(16, &[2; 8], false), now).is_none());
    // Ends before bytes already held.
    assert!(t.add(1, frag(0, &[1; 8], true), now).is_none());
    assert!(t.partial.is_empty());
}

#[test]
fn a_datagram_not_complete_in_time_is_dropped() {
    let timeout = Duration::from_secs(60);
    let mut t = Table::new(timeout);
    let then = Instant::now();
    assert!(t.add(1u32, frag(0, &[1; 8], false), then).is_none());
    let later = then + timeout;
    assert!(t.add(1, frag(8, &[2; 8], true), later).is_none());
    assert_eq!(
        t.partial.len(),
        1,
        "the late fragment begins a datagram of its own"
    );
    assert_eq!(t.partial[&1].have, [(8, 16)]);
}

#[test]
fn past_the_threshold_the_oldest_datagram_goes_first() {
    let mut t = Table::new(Duration::from_secs(60));
    let then = Instant::now();
    let big = vec![0u8; MAX_HELD / 2];
    assert!(t.add(1u32, frag(0, &big, false), then).is_none());
    let soon = then + Duration::from_secs(1);
    assert!(t.add(2, frag(0, &big, false), soon).is_none());
    assert!(t.add(3, frag(0, &[0; 8], false), soon).is_none());
    assert!(!t.partial.contains_key(&1));
    assert!(t.partial.contains_key(&2) && t.partial.contains_key(&3));
}

/// An IPv6 packet: fixed header naming `next`, then `rest`.
fn ipv6_packet(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&[0; 32]);
    p.extend_from_slice(rest);
    p
}

#[test]
fn the_fragment_header_is_found_past_other_extension_headers() {
    // Hop-by-hop (8 bytes, naming Fragment), then Fragment (naming UDP,
    // offset 2 units, M set, ident 0x01020304).
    let mut rest = vec![44, 0, 1, 4, 0, 0, 0, 0];
    rest.extend_from_slice(&[17, 0, 0, 0x11, 1, 2, 3, 4]);
    rest.extend_from_slice(&[0; 16]);
    let p = ipv6_packet(0, &rest);
    let loc = ipv6::locate(&p, p.len()).expect("a fragment");
    assert_eq!((loc.at, loc.names_it, loc.proto), (48, 40, 17));
    assert_eq!(
        (loc.repr.frag_offset, loc.repr.more_frags, loc.repr.ident),
        (2, true, 0x0102_0304)
    );
    // No Fragment header: not a fragment.
    let udp = ipv6_packet(17, &[0; 16]);
    assert!(ipv6::locate(&udp, udp.len()).is_none());
}

#[test]
fn too_big_or_ragged_fragments_are_refused() {
    assert!(ipv6::acceptable(40, 65528, 7, true));
    assert!(!ipv6::acceptable(40, 65528, 8, true));
    // Headers before the Fragment header count towards the limit.
    assert!(!ipv6::acceptable(48, 65528, 7, true));
    assert!(!ipv6::acceptable(40, 0, 1001, false));
    assert!(ipv6::acceptable(40, 0, 1001, true));
}
