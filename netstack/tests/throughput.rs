//! Moves 256 MiB through one TCP connection over loopback and prints the
//! rate. No assertion on speed: machines differ; the bytes must arrive
//! whole and in order.

mod common;

use std::time::Instant;

use common::*;
use netstack::{Stack, StackConfig};

const TOTAL: usize = 256 << 20;
const CHUNK: usize = 64 << 10;

#[test]
fn loopback_throughput_256_mib() {
    // Linux's default buffer sizes, then larger ones as an application
    // that sets SO_SNDBUF/SO_RCVBUF would have.
    run(None);
    run(Some(1 << 20));
}

fn run(bufs: Option<usize>) {
    let s = Stack::new(StackConfig::default()).unwrap();
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    if let Some(n) = bufs {
        for x in [&c, &l] {
            x.ep.set_options(&mut |o| {
                o.send_buf = n;
                o.recv_buf = n;
            })
            .unwrap();
        }
    }
    c.connect(bound).unwrap();
    let (a, _) = l.accept();
    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let start = Instant::now();
    let writer = std::thread::spawn(move || {
        let mut sent = 0;
        while sent < TOTAL {
            c.send_all(&chunk).unwrap();
            sent += CHUNK;
        }
        c
    });
    let mut got = 0usize;
    let mut buf_ok = true;
    // The reader copies out, as recv(2) into an application's buffer.
    let mut user = vec![0u8; 1 << 20];
    while got < TOTAL {
        let mut n = 0;
        let r = a.ep.recv(false, user.len(), &mut |b| {
            user[n..n + b.len()].copy_from_slice(b);
            n += b.len();
            Ok(b.len())
        });
        for (k, &x) in user[..n].iter().enumerate().step_by(4093) {
            buf_ok &= x == ((got + k) % CHUNK % 251) as u8;
        }
        match r {
            Ok(info) if info.len == 0 => break,
            Ok(_) => got += n,
            Err(netstack::Errno::EAGAIN) => {
                a.wait(libc::POLLIN);
            }
            Err(e) => panic!("recv: {e}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let _c = writer.join().unwrap();
    assert_eq!(got, TOTAL);
    assert!(buf_ok, "bytes arrived out of order or changed");
    println!(
        "loopback TCP, {} buffers: {} MiB in {:.3} s = {:.1} MB/s",
        bufs.map_or("default (128 KiB)".to_string(), |n| format!(
            "{} KiB",
            n >> 10
        )),
        TOTAL >> 20,
        secs,
        TOTAL as f64 / secs / 1e6
    );
}
