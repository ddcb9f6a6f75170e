//! Neighbours that never answer. smoltcp asks again (ARP, or NDP's
//! neighbour solicitation) each time it has a packet for an unresolved
//! neighbour and drops the packet meanwhile, but never says it gave up.
//! Linux gives up after its solicitations (3, a second apart) go
//! unanswered and reports the packets' loss as an ICMP host-unreachable
//! to their senders: a connect fails with EHOSTUNREACH after about 3 s.
//! The stack sees every frame leave and arrive, so it notes each
//! neighbour it asked for and forgets it once it is heard from; one still
//! silent `FAIL_AFTER` after the first asking has failed.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use smoltcp::time::{Duration, Instant};

/// Linux's mcast_solicit (3) times retrans_time (1 s).
const FAIL_AFTER: Duration = Duration::from_secs(3);
/// An asking that stopped this long ago is over: smoltcp asks again only
/// when it has something to send, so a later asking starts afresh.
const FORGET_AFTER: Duration = Duration::from_secs(5);

const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ARP_REQUEST: u16 = 1;
const ICMPV6: u8 = 58;
const NEIGHBOR_SOLICIT: u8 = 135;
const NEIGHBOR_ADVERT: u8 = 136;
/// Ethernet header, then an IPv6 header: where ICMPv6 starts.
const ETH: usize = 14;
const ICMP6_AT: usize = ETH + 40;

/// The neighbours asked for, per interface.
#[derive(Default)]
pub(crate) struct Pending {
    /// (interface, neighbour) → (first asked, last asked).
    asked: HashMap<(usize, IpAddr), (Instant, Instant)>,
}

impl Pending {
    pub(crate) fn asked(&mut self, iface: usize, who: IpAddr, now: Instant) {
        let e = self.asked.entry((iface, who)).or_insert((now, now));
        if now - e.1 > FORGET_AFTER {
            e.0 = now;
        }
        e.1 = now;
    }

    pub(crate) fn heard(&mut self, iface: usize, who: IpAddr) {
        self.asked.remove(&(iface, who));
    }

    /// The neighbours that have now failed, forgotten here.
    pub(crate) fn failed(&mut self, now: Instant) -> Vec<(usize, IpAddr)> {
        let gone: Vec<(usize, IpAddr)> = self
            .asked
            .iter()
            .filter(|(_, &(first, last))| now >= first + FAIL_AFTER && now - last <= FORGET_AFTER)
            .map(|(k, _)| *k)
            .collect();
        self.asked
            .retain(|_, &mut (first, last)| now < first + FAIL_AFTER && now - last <= FORGET_AFTER);
        gone
    }

    /// When the next neighbour would fail.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.asked
            .values()
            .map(|&(first, _)| first + FAIL_AFTER)
            .min()
    }
}

fn ethertype(frame: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?))
}

fn v4(b: &[u8]) -> Option<IpAddr> {
    let o: [u8; 4] = b.try_into().ok()?;
    Some(IpAddr::V4(Ipv4Addr::from(o)))
}

fn v6(b: &[u8]) -> Option<IpAddr> {
    let o: [u8; 16] = b.try_into().ok()?;
    Some(IpAddr::V6(Ipv6Addr::from(o)))
}

/// The ICMPv6 type of an Ethernet frame carrying ICMPv6, with its
/// target address (neighbour solicitations and advertisements both put
/// it 8 bytes in).
fn icmp6_target(frame: &[u8]) -> Option<(u8, IpAddr)> {
    if ethertype(frame)? != ETHERTYPE_IPV6 || *frame.get(ETH + 6)? != ICMPV6 {
        return None;
    }
    let t = *frame.get(ICMP6_AT)?;
    Some((t, v6(frame.get(ICMP6_AT + 8..ICMP6_AT + 24)?)?))
}

/// The neighbour an outgoing frame asks for: an ARP request's target or
/// a neighbour solicitation's.
pub(crate) fn solicited(frame: &[u8]) -> Option<IpAddr> {
    match ethertype(frame)? {
        ETHERTYPE_ARP => {
            let op = u16::from_be_bytes(frame.get(ETH + 6..ETH + 8)?.try_into().ok()?);
            (op == ARP_REQUEST).then(|| v4(frame.get(ETH + 24..ETH + 28)?))?
        }
        _ => match icmp6_target(frame)? {
            (NEIGHBOR_SOLICIT, who) => Some(who),
            _ => None,
        },
    }
}

/// The neighbour an arriving frame shows is there: an ARP message's
/// sender, or a neighbour advertisement's target.
pub(crate) fn heard(frame: &[u8]) -> Option<IpAddr> {
    match ethertype(frame)? {
        ETHERTYPE_ARP => v4(frame.get(ETH + 14..ETH + 18)?),
        _ => match icmp6_target(frame)? {
            (NEIGHBOR_ADVERT, who) => Some(who),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_neighbour_silent_for_three_seconds_fails_once() {
        let mut p = Pending::default();
        let a: IpAddr = "10.0.0.9".parse().unwrap();
        let t = Instant::from_secs(100);
        p.asked(1, a, t);
        p.asked(1, a, t + Duration::from_secs(1));
        assert!(p.failed(t + Duration::from_secs(2)).is_empty());
        assert_eq!(p.failed(t + Duration::from_secs(3)), vec![(1, a)]);
        assert!(p.failed(t + Duration::from_secs(4)).is_empty());
    }

    #[test]
    fn an_answer_or_a_long_pause_starts_afresh() {
        let mut p = Pending::default();
        let a: IpAddr = "10.0.0.9".parse().unwrap();
        let t = Instant::from_secs(100);
        p.asked(1, a, t);
        p.heard(1, a);
        assert!(p.failed(t + Duration::from_secs(3)).is_empty());
        p.asked(1, a, t);
        p.asked(1, a, t + Duration::from_secs(10));
        assert!(p.failed(t + Duration::from_secs(11)).is_empty());
        assert_eq!(p.next_deadline(), Some(t + Duration::from_secs(13)));
    }
}
