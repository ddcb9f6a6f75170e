//! NETLINK_ROUTE requests answered end to end ([`rtnl::receive`]): what
//! comes back, in which datagrams, for good and hostile requests.

use super::message::{Builder, Header, HDR_LEN};
use super::rtnl::{self, Requester, View};
use crate::net::interface::tests::{eth0, lo};

const REQ: u16 = libc::NLM_F_REQUEST as u16;
const DUMP: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
const ACK: u16 = libc::NLM_F_ACK as u16;

fn who() -> Requester {
    Requester {
        pid: 4242,
        privileged: false,
        cap_ack: false,
        ext_ack: false,
        strict: false,
        dump_size: 3776,
    }
}

/// The answers, with room for all of them.
fn receive(view: &View, who: &Requester, buf: &[u8]) -> Vec<Vec<u8>> {
    let r = rtnl::receive(view, who, buf, usize::MAX);
    assert!(!r.overrun);
    r.grams
}

fn lo_view() -> View {
    View {
        ifaces: vec![lo()],
        routes: Vec::new(),
    }
}

fn request(kind: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = Builder::new(kind, flags, 99, 0);
    b.put(payload);
    b.finish()
}

/// (type, flags) of every message of every datagram.
fn shape(grams: &[Vec<u8>]) -> Vec<Vec<(u16, u16)>> {
    grams
        .iter()
        .map(|g| {
            let mut out = Vec::new();
            let mut at = 0;
            while let Some(h) = Header::parse(&g[at..]) {
                assert_eq!(h.seq, 99);
                assert_eq!(h.pid, 4242);
                out.push((h.kind, h.flags));
                at += (h.len as usize + 3) & !3;
                if at >= g.len() {
                    break;
                }
            }
            out
        })
        .collect()
}

fn error_of(g: &[u8]) -> i32 {
    assert_eq!(Header::parse(g).unwrap().kind, libc::NLMSG_ERROR as u16);
    i32::from_ne_bytes(g[HDR_LEN..HDR_LEN + 4].try_into().unwrap())
}

#[test]
fn dumps_end_with_done_in_a_datagram_of_its_own() {
    let multi = libc::NLM_F_MULTI as u16;
    let got = receive(
        &lo_view(),
        &who(),
        &request(libc::RTM_GETLINK, DUMP, &[0; 16]),
    );
    assert_eq!(shape(&got), [vec![(16, multi)], vec![(3, multi)]]);
    let got = receive(
        &lo_view(),
        &who(),
        &request(libc::RTM_GETADDR, DUMP, &[0; 8]),
    );
    assert_eq!(
        shape(&got),
        [vec![(20, multi), (20, multi)], vec![(3, multi)]]
    );
    let got = receive(
        &lo_view(),
        &who(),
        &request(libc::RTM_GETROUTE, DUMP, &[0; 12]),
    );
    assert_eq!(shape(&got)[0].len(), 4, "three IPv4 local routes and ::1");
    assert_eq!(got.len(), 2);
    // The IPv6 family's link and address dumps end in the same datagram.
    let v6 = [libc::AF_INET6 as u8, 0, 0, 0, 0, 0, 0, 0];
    let got = receive(&lo_view(), &who(), &request(libc::RTM_GETADDR, DUMP, &v6));
    assert_eq!(shape(&got), [vec![(20, multi), (3, multi)]]);
    // Nothing to dump: DONE alone.
    let bridge = [libc::AF_BRIDGE as u8, 0, 0, 0];
    let got = receive(
        &lo_view(),
        &who(),
        &request(libc::RTM_GETLINK, DUMP, &bridge),
    );
    assert_eq!(shape(&got), [vec![(3, multi)]]);
    let v4 = [libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let view = View {
        ifaces: Vec::new(),
        routes: Vec::new(),
    };
    let got = receive(&view, &who(), &request(libc::RTM_GETROUTE, DUMP, &v4));
    assert_eq!(shape(&got), [vec![(3, multi)]]);
}

#[test]
fn dumps_are_split_into_datagrams_of_the_dump_size() {
    let view = View {
        ifaces: std::iter::once(lo())
            .chain(std::iter::repeat_n(eth0(), 9))
            .collect(),
        routes: Vec::new(),
    };
    let got = receive(&view, &who(), &request(libc::RTM_GETLINK, DUMP, &[0; 16]));
    assert!(got.len() >= 3);
    assert!(got.iter().all(|g| g.len() <= 3776));
    let mut big = who();
    big.dump_size = 32448;
    let got = receive(&view, &big, &request(libc::RTM_GETLINK, DUMP, &[0; 16]));
    assert_eq!(got.len(), 2);
}

#[test]
fn families_filter_addresses_and_routes() {
    let view = View {
        ifaces: vec![lo(), eth0()],
        routes: Vec::new(),
    };
    let count = |kind: u16, family: i32, len: usize| {
        let mut p = vec![0u8; len];
        p[0] = family as u8;
        let got = receive(&view, &who(), &request(kind, DUMP, &p));
        shape(&got).concat().iter().filter(|m| m.0 != 3).count()
    };
    assert_eq!(count(libc::RTM_GETADDR, libc::AF_INET, 8), 2);
    assert_eq!(count(libc::RTM_GETADDR, libc::AF_INET6, 8), 3);
    assert_eq!(count(libc::RTM_GETADDR, libc::AF_UNSPEC, 8), 5);
    // glibc's getifaddrs asks with AF_PACKET: every family.
    assert_eq!(count(libc::RTM_GETADDR, libc::AF_PACKET, 8), 5);
    // ::1, the two addresses of eth0 and its multicast route.
    assert_eq!(count(libc::RTM_GETROUTE, libc::AF_INET6, 12), 4);
}

#[test]
fn one_link_by_index_or_name_and_enodev_for_neither() {
    let view = View {
        ifaces: vec![lo(), eth0()],
        routes: Vec::new(),
    };
    let mut by_index = [0u8; 16];
    by_index[4] = 2;
    let got = receive(
        &view,
        &who(),
        &request(libc::RTM_GETLINK, REQ | ACK, &by_index),
    );
    assert_eq!(
        shape(&got),
        [vec![(16, 0)], vec![(2, libc::NLM_F_CAPPED as u16)]]
    );
    assert_eq!(error_of(&got[1]), 0);
    assert_eq!(got[0][HDR_LEN + 4], 2);

    let mut b = Builder::new(libc::RTM_GETLINK, REQ, 99, 0);
    b.put(&[0; 16]).str(libc::IFLA_IFNAME, "eth0");
    let got = receive(&view, &who(), &b.finish());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][HDR_LEN + 4], 2);

    let mut b = Builder::new(libc::RTM_GETLINK, REQ, 99, 0);
    b.put(&[0; 16]).str(libc::IFLA_IFNAME, "nosuch");
    let got = receive(&view, &who(), &b.finish());
    assert_eq!(error_of(&got[0]), -libc::ENODEV);
    let got = receive(&view, &who(), &request(libc::RTM_GETLINK, REQ, &[0; 16]));
    assert_eq!(error_of(&got[0]), -libc::EINVAL);
    let mut b = Builder::new(libc::RTM_GETLINK, REQ, 99, 0);
    b.put(&[0; 16])
        .str(libc::IFLA_IFNAME, "a-name-far-too-long");
    // ifla_policy refuses it as out of range.
    assert_eq!(
        error_of(&receive(&view, &who(), &b.finish())[0]),
        -libc::ERANGE
    );
}

#[test]
fn changes_are_eperm_unprivileged_and_eopnotsupp_privileged() {
    for kind in [
        libc::RTM_NEWADDR,
        libc::RTM_NEWROUTE,
        libc::RTM_NEWLINK,
        libc::RTM_SETLINK,
        libc::RTM_DELADDR,
    ] {
        let req = request(kind, REQ | ACK, &[2, 0, 0, 0, 0, 0, 0, 0]);
        let got = receive(&lo_view(), &who(), &req);
        assert_eq!(error_of(&got[0]), -libc::EPERM, "type {kind}");
        // The request comes back whole after the error.
        assert_eq!(&got[0][HDR_LEN + 4..], &req[..]);
        let mut root = who();
        root.privileged = true;
        root.cap_ack = true;
        let got = receive(&lo_view(), &root, &req);
        assert_eq!(got.len(), 1, "one error, no ack besides");
        assert_eq!(error_of(&got[0]), -libc::EOPNOTSUPP);
        assert_eq!(got[0].len(), HDR_LEN + 20, "NETLINK_CAP_ACK: header only");
    }
    let got = receive(
        &lo_view(),
        &who(),
        &request(libc::RTM_GETNEIGH, DUMP, &[0; 12]),
    );
    assert_eq!(error_of(&got[0]), -libc::EOPNOTSUPP);
    let got = receive(&lo_view(), &who(), &request(200, REQ, &[0; 4]));
    assert_eq!(error_of(&got[0]), -libc::EOPNOTSUPP);
}

#[test]
fn non_requests_and_empty_messages_are_only_acknowledged() {
    assert!(receive(&lo_view(), &who(), &request(libc::RTM_GETLINK, 0, &[0; 16])).is_empty());
    let got = receive(
        &lo_view(),
        &who(),
        &request(libc::RTM_GETLINK, ACK, &[0; 16]),
    );
    assert_eq!(error_of(&got[0]), 0);
    let got = receive(
        &lo_view(),
        &who(),
        &request(libc::NLMSG_NOOP as u16, REQ | ACK, &[]),
    );
    assert_eq!(error_of(&got[0]), 0);
    // No family byte: ignored (a dump flag does not make it one).
    assert!(receive(&lo_view(), &who(), &request(libc::RTM_GETLINK, DUMP, &[])).is_empty());
}

#[test]
fn strict_checking_refuses_bad_dump_headers_in_the_done_message() {
    let mut strict = who();
    strict.strict = true;
    strict.ext_ack = true;
    let mut bad = [0u8; 16];
    bad[8] = 1; // ifi_flags
    let got = receive(&lo_view(), &strict, &request(libc::RTM_GETLINK, DUMP, &bad));
    assert_eq!(got.len(), 1);
    let h = Header::parse(&got[0]).unwrap();
    assert_eq!(h.kind, libc::NLMSG_DONE as u16);
    assert_eq!(h.flags, (libc::NLM_F_MULTI | libc::NLM_F_ACK_TLVS) as u16);
    assert_eq!(
        i32::from_ne_bytes(got[0][16..20].try_into().unwrap()),
        -libc::EINVAL
    );
    let text = String::from_utf8_lossy(&got[0][24..]);
    assert!(text.starts_with("Invalid values in header for link dump request"));
    // A table that does not exist.
    let mut b = Builder::new(libc::RTM_GETROUTE, DUMP, 99, 0);
    b.put(&[libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .u32(libc::RTA_TABLE, 100);
    let got = receive(&lo_view(), &strict, &b.finish());
    assert_eq!(
        i32::from_ne_bytes(got[0][16..20].try_into().unwrap()),
        -libc::ENOENT
    );
    // The main table of loopback alone is empty, and the answer says it
    // was filtered.
    let mut b = Builder::new(libc::RTM_GETROUTE, DUMP, 99, 0);
    b.put(&[libc::AF_INET as u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        .u32(libc::RTA_TABLE, 254);
    let got = receive(&lo_view(), &strict, &b.finish());
    let filtered = (libc::NLM_F_MULTI | libc::NLM_F_DUMP_FILTERED) as u16;
    assert_eq!(shape(&got), [vec![(3, filtered)]]);
    // Without strict checking the same junk is ignored.
    let got = receive(&lo_view(), &who(), &request(libc::RTM_GETLINK, DUMP, &bad));
    assert_eq!(got.len(), 2);
}

#[test]
fn answers_past_the_queue_room_are_dropped_and_say_so() {
    let one = request(libc::RTM_GETLINK, DUMP, &[0; 16]);
    let many: Vec<u8> = std::iter::repeat_n(one, 100_000).flatten().collect();
    let r = rtnl::receive(&lo_view(), &who(), &many, 10_000);
    assert!(r.overrun);
    let bytes: usize = r.grams.iter().map(Vec::len).sum();
    assert!(bytes > 10_000 && bytes < 12_000, "{bytes}");
    let r = rtnl::receive(
        &lo_view(),
        &who(),
        &request(libc::RTM_GETLINK, DUMP, &[0; 16]),
        0,
    );
    assert_eq!(r.grams.len(), 1, "an empty queue takes one datagram");
    assert!(r.overrun);
}

#[test]
fn hostile_bytes_never_panic_and_bad_lengths_end_the_walk() {
    // Short header, a length past the end, a length under a header.
    assert!(receive(&lo_view(), &who(), &[1, 2, 3, 4, 5]).is_empty());
    let mut past = request(libc::RTM_GETLINK, DUMP | ACK, &[0; 16]);
    past[0] = 200;
    assert!(receive(&lo_view(), &who(), &past).is_empty());
    let mut under = past.clone();
    under[0] = 8;
    assert!(receive(&lo_view(), &who(), &under).is_empty());
    // A bad attribute length: the walk stops; an index still finds lo.
    let mut req = request(
        libc::RTM_GETLINK,
        REQ,
        &[0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 0, 3, 0],
    );
    let got = receive(&lo_view(), &who(), &req);
    assert_eq!(Header::parse(&got[0]).unwrap().kind, libc::RTM_NEWLINK);
    req[HDR_LEN + 4] = 0;
    assert_eq!(
        error_of(&receive(&lo_view(), &who(), &req)[0]),
        -libc::EINVAL
    );
    // Pseudo-random messages of every type and flag: answers, never a panic.
    let mut seed: u32 = 1;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    for _ in 0..5000 {
        let len = (next() % 64) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let kind = (next() % 130) as u16;
        let flags = next() as u16 | REQ;
        let mut m = request(kind, flags, &body);
        if next() % 3 == 0 {
            let l = next() % 100;
            m[0..4].copy_from_slice(&l.to_ne_bytes());
        }
        body.clear();
        let mut strict = who();
        strict.strict = next() % 2 == 0;
        strict.privileged = next() % 2 == 0;
        let _ = rtnl::receive(&lo_view(), &strict, &m, 1 << 20);
    }
}
