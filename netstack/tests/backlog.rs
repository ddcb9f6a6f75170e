//! A listener's backlog: many concurrent handshakes all complete and wait
//! in order; past the backlog, SYNs are dropped and clients retransmit.

mod common;

use std::sync::Arc;

use common::*;
use netstack::{Errno, Stack, StackConfig};

#[test]
fn thousand_concurrent_connects_are_all_accepted_in_order_and_echoed() {
    let s = Stack::new(StackConfig::default()).unwrap();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1024);
    let mut clients = Vec::new();
    for _ in 0..1000 {
        let c = tcp(&s, false);
        match c.ep.connect(bound) {
            Err(Errno::EINPROGRESS) => {}
            r => panic!("connect: {r:?}"),
        }
        clients.push(c);
    }
    for c in &clients {
        c.wait(libc::POLLOUT);
        assert_eq!(c.ep.connect(bound), Ok(()));
    }
    let mut accepted = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        let (a, peer) = l.accept();
        assert_eq!(
            Some(peer),
            c.ep.local_addr(),
            "connection {i} accepted out of order"
        );
        accepted.push(a);
    }
    assert_eq!(l.ep.accept(Arc::new(|| {}), 0).err(), Some(Errno::EAGAIN));
    for (i, (c, a)) in clients.iter().zip(&accepted).enumerate() {
        let msg = format!("ping {i}");
        c.send_all(msg.as_bytes()).unwrap();
        let got = a.recv_exact(msg.len()).unwrap();
        a.send_all(&got).unwrap();
        assert_eq!(c.recv_exact(msg.len()).unwrap(), msg.as_bytes());
    }
}

#[test]
fn small_backlog_drops_syns_and_clients_retry_until_accepted() {
    let s = Stack::new(StackConfig::default()).unwrap();
    let (l, bound) = listener(&s, "127.0.0.1:0", 2);
    let mut clients = Vec::new();
    for _ in 0..12 {
        let c = tcp(&s, false);
        assert_eq!(c.ep.connect(bound), Err(Errno::EINPROGRESS));
        clients.push(c);
    }
    // backlog + 1 handshakes complete; the others wait in SYN_SENT.
    let done = clients
        .iter()
        .filter(|c| c.ep.readiness() & libc::POLLOUT != 0)
        .count();
    assert_eq!(done, 3);
    let acceptor = {
        let l = l;
        std::thread::spawn(move || {
            let mut peers = Vec::new();
            for _ in 0..12 {
                let (a, peer) = l.accept();
                peers.push((a, peer));
            }
            peers
        })
    };
    for c in &clients {
        c.wait(libc::POLLOUT | libc::POLLERR);
        assert_eq!(c.ep.connect(bound), Ok(()));
    }
    let peers = acceptor.join().unwrap();
    let mut want: Vec<_> = clients.iter().map(|c| c.ep.local_addr().unwrap()).collect();
    let mut got: Vec<_> = peers.iter().map(|(_, p)| *p).collect();
    want.sort();
    got.sort();
    assert_eq!(want, got);
}
