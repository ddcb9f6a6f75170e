//! TCP over the loopback interface, as an application sees it.

mod common;

use std::sync::Arc;

use common::*;
use netstack::{Errno, Shutdown, Stack, StackConfig};

fn stack() -> Arc<Stack> {
    Stack::new(StackConfig::default()).unwrap()
}

fn echo_once(at: &str, client_v6: bool, to: &str) -> std::net::SocketAddr {
    let s = stack();
    let (l, bound) = listener(&s, at, 8);
    let c = tcp(&s, client_v6);
    let mut to = addr(to);
    to.set_port(bound.port());
    c.connect(to).unwrap();
    let (a, peer) = l.accept();
    assert_eq!(Some(peer), a.ep.peer_addr());
    assert_eq!(c.ep.local_addr().map(|x| x.port()), Some(peer.port()));
    c.send_all(b"hello, stack").unwrap();
    let got = a.recv_exact(12).unwrap();
    a.send_all(&got).unwrap();
    assert_eq!(c.recv_exact(12).unwrap(), b"hello, stack");
    assert_eq!(c.ep.tcp_state(), 1);
    peer
}

#[test]
fn echo_over_ipv4_loopback() {
    let peer = echo_once("127.0.0.1:0", false, "127.0.0.1:0");
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
}

#[test]
fn echo_over_ipv6_loopback() {
    let peer = echo_once("[::1]:0", true, "[::1]:0");
    assert_eq!(peer.ip().to_string(), "::1");
}

#[test]
fn v4_client_reaches_dual_stack_listener_as_mapped_address() {
    let peer = echo_once("[::]:0", false, "127.0.0.1:0");
    assert_eq!(peer.ip().to_string(), "::ffff:127.0.0.1");
}

#[test]
fn v6_only_listener_refuses_v4() {
    let s = stack();
    let l = tcp(&s, true);
    l.ep.set_options(&mut |o| o.v6_only = true).unwrap();
    l.ep.bind(addr("[::]:0")).unwrap();
    l.ep.listen(4).unwrap();
    let port = l.ep.local_addr().unwrap().port();
    let c = tcp(&s, false);
    assert_eq!(
        c.connect(addr(&format!("127.0.0.1:{port}"))),
        Err(Errno::ECONNREFUSED)
    );
}

#[test]
fn connect_to_closed_port_is_refused_then_may_retry() {
    let s = stack();
    let c = tcp(&s, false);
    assert_eq!(c.connect(addr("127.0.0.1:9")), Err(Errno::ECONNREFUSED));
    // The failure is reported once; the socket is back to unconnected.
    assert_eq!(c.ep.take_error(), None);
    assert_eq!(c.ep.tcp_state(), 7);
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    c.connect(bound).unwrap();
    l.accept();
}

#[test]
fn fresh_socket_polls_out_and_hup() {
    let s = stack();
    let c = tcp(&s, false);
    assert_eq!(c.ep.readiness(), libc::POLLOUT | libc::POLLHUP);
    assert_eq!(
        c.ep.recv(false, 10, &mut |_| Ok(0)).err(),
        Some(Errno::ENOTCONN)
    );
    assert_eq!(
        c.ep.send(None, 1, &mut |_| Ok(1)).err(),
        Some(Errno::ENOTCONN)
    );
}

#[test]
fn connect_states_follow_inet_stream_connect() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    assert_eq!(c.ep.connect(bound), Err(Errno::EINPROGRESS));
    c.wait(libc::POLLOUT);
    assert_eq!(c.ep.connect(bound), Ok(()));
    assert_eq!(c.ep.connect(bound), Err(Errno::EISCONN));
    assert!(l.ep.is_listening());
    assert_eq!(l.ep.tcp_state(), 10);
}

#[test]
fn peer_reset_is_econnreset_once_then_eof() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    c.connect(bound).unwrap();
    let (a, _) = l.accept();
    a.ep.set_options(&mut |o| o.linger = Some(std::time::Duration::ZERO))
        .unwrap();
    drop(a);
    let r = c.wait(libc::POLLERR);
    assert_eq!(r & libc::POLLHUP, libc::POLLHUP, "{r:#x}");
    assert_eq!(c.try_recv(100, false).err(), Some(Errno::ECONNRESET));
    assert_eq!(c.try_recv(100, false).unwrap().0, b"");
    assert_eq!(c.send(b"x"), Err(Errno::EPIPE));
    assert_eq!(c.ep.peer_addr(), None);
}

#[test]
fn close_with_unread_data_resets() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    c.connect(bound).unwrap();
    let (a, _) = l.accept();
    c.send_all(b"unread").unwrap();
    a.wait(libc::POLLIN);
    drop(a);
    c.wait(libc::POLLERR);
    assert_eq!(c.try_recv(10, false).err(), Some(Errno::ECONNRESET));
}

#[test]
fn shutdown_write_gives_peer_eof_and_keeps_reading() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    c.connect(bound).unwrap();
    let (a, _) = l.accept();
    c.send_all(b"last words").unwrap();
    c.ep.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.send(b"more"), Err(Errno::EPIPE));
    assert_eq!(a.recv_exact(10).unwrap(), b"last words");
    assert_eq!(a.recv(10).unwrap(), b"", "EOF after the FIN");
    let r = a.ep.readiness();
    assert_eq!(r & libc::POLLRDHUP, libc::POLLRDHUP, "{r:#x}");
    // The half-closed side still writes; the other still reads.
    a.send_all(b"reply").unwrap();
    assert_eq!(c.recv_exact(5).unwrap(), b"reply");
    a.ep.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.recv(10).unwrap(), b"");
    let r = c.wait(libc::POLLHUP);
    assert_eq!(r & libc::POLLERR, 0, "an orderly close is no error: {r:#x}");
    assert_eq!(c.ep.take_error(), None);
}

#[test]
fn shutdown_read_makes_recv_return_eof() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    c.connect(bound).unwrap();
    let (_a, _) = l.accept();
    c.ep.shutdown(Shutdown::Read).unwrap();
    assert_eq!(c.try_recv(10, false).unwrap().0, b"");
    assert_ne!(c.ep.readiness() & libc::POLLIN, 0);
}

#[test]
fn peek_leaves_bytes_queued() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    c.connect(bound).unwrap();
    let (a, _) = l.accept();
    c.send_all(b"abcdef").unwrap();
    a.wait(libc::POLLIN);
    assert_eq!(a.ep.recv_queue(), 6);
    assert_eq!(a.try_recv(4, true).unwrap().0, b"abcd");
    assert_eq!(a.ep.recv_queue(), 6);
    assert_eq!(a.try_recv(10, false).unwrap().0, b"abcdef");
    assert_eq!(a.ep.recv_queue(), 0);
}

#[test]
fn bind_conflicts_follow_linux() {
    let s = stack();
    let a = tcp(&s, false);
    a.ep.bind(addr("127.0.0.1:0")).unwrap();
    let port = a.ep.local_addr().unwrap().port();
    let b = tcp(&s, false);
    assert_eq!(
        b.ep.bind(addr(&format!("0.0.0.0:{port}"))),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(b.ep.bind(addr("10.9.9.9:0")), Err(Errno::EADDRNOTAVAIL));
    assert_eq!(b.ep.bind(addr("[::1]:0")), Err(Errno::EAFNOSUPPORT));
    a.ep.bind(addr("127.0.0.1:0")).expect_err("bound twice");

    // SO_REUSEADDR on both: shared while neither listens.
    let c = tcp(&s, false);
    let d = tcp(&s, false);
    for x in [&c, &d] {
        x.ep.set_options(&mut |o| o.reuse_addr = true).unwrap();
    }
    c.ep.bind(addr("127.0.0.1:0")).unwrap();
    let p2 = c.ep.local_addr().unwrap().port();
    d.ep.bind(addr(&format!("127.0.0.1:{p2}"))).unwrap();
    c.ep.listen(1).unwrap();
    assert_eq!(d.ep.listen(1), Err(Errno::EADDRINUSE));
}

#[test]
fn reuse_addr_rebinds_over_closed_connections() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 4);
    l.ep.set_options(&mut |o| o.reuse_addr = true).unwrap();
    let c = tcp(&s, false);
    c.connect(bound).unwrap();
    let (a, _) = l.accept();
    // The server closes first: its side lingers in FIN_WAIT/TIME_WAIT.
    drop(a);
    drop(l);
    assert_eq!(c.recv(10).unwrap(), b"");
    let again = tcp(&s, false);
    again.ep.set_options(&mut |o| o.reuse_addr = true).unwrap();
    again.ep.bind(bound).unwrap();
    again.ep.listen(4).unwrap();
    let c2 = tcp(&s, false);
    c2.connect(bound).unwrap();
    again.accept();
}

#[test]
fn ephemeral_ports_are_distinct() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 128);
    let mut ports = std::collections::HashSet::new();
    let mut keep = Vec::new();
    for _ in 0..100 {
        let c = tcp(&s, false);
        c.connect(bound).unwrap();
        let p = c.ep.local_addr().unwrap().port();
        assert!((32768..=60999).contains(&p), "{p}");
        assert!(ports.insert(p), "port {p} twice");
        keep.push(c);
        keep.push(l.accept().0);
    }
}

#[test]
fn connections_lists_sockets_with_linux_states() {
    let s = stack();
    let (l, bound) = listener(&s, "127.0.0.1:0", 4);
    let c = s
        .endpoint(false, netstack::Proto::Tcp, Arc::new(|| {}), 77)
        .unwrap();
    assert_eq!(c.connect(bound), Err(Errno::EINPROGRESS));
    let (_a, _) = l.accept();
    let list = s.connections(netstack::Proto::Tcp);
    assert!(list.iter().any(|x| x.state == 10 && x.local == Some(bound)));
    let mine = list.iter().find(|x| x.tag == 77).expect("client listed");
    assert_eq!(mine.state, 1);
    assert_eq!(mine.remote, Some(bound));
    let lo = &s.interfaces()[0];
    assert_eq!(lo.name, "lo");
    assert!(lo.tx_packets >= 3 && lo.rx_packets >= 3, "{lo:?}");
}

/// Collects what `tracing` writes on this thread.
#[derive(Clone, Default)]
struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn log_packets_writes_a_line_per_frame() {
    let lines = Lines::default();
    let out = lines.clone();
    let sub = tracing_subscriber::fmt()
        .with_writer(move || out.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(sub, || {
        let s = Stack::new(StackConfig {
            log_packets: true,
            ..Default::default()
        })
        .unwrap();
        let c = tcp(&s, false);
        assert_eq!(c.connect(addr("127.0.0.1:9")), Err(Errno::ECONNREFUSED));
    });
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    let port = text
        .lines()
        .find(|l| l.contains("lo tx") && l.contains("> 127.0.0.1:9 tcp [S]"))
        .unwrap_or_else(|| panic!("no SYN logged:\n{text}"));
    assert!(port.contains("len=52"), "{port}");
    assert!(
        text.lines()
            .any(|l| l.contains("lo rx") && l.contains("tcp [R.]")),
        "no RST logged:\n{text}"
    );
}
