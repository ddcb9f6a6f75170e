//! The Gofer's channels (`server::Channel`, `Client::with_channels`): extra
//! connections that carry only the path-based requests, one per CPU.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use gofer_protocol::wire::{self, Rmessage, Tmessage};
use gofer_protocol::Client;

/// Sends raw frames and reads raw replies.
fn call(sock: &mut UnixStream, frame: &[u8]) -> Vec<u8> {
    sock.write_all(frame).unwrap();
    let mut size = [0u8; 4];
    sock.read_exact(&mut size).unwrap();
    let mut reply = size.to_vec();
    reply.resize(u32::from_le_bytes(size) as usize, 0);
    sock.read_exact(&mut reply[4..]).unwrap();
    reply
}

fn errno(reply: &[u8]) -> i32 {
    match wire::decode_rmessage(reply).unwrap().1 {
        Rmessage::Lerror { ecode } => ecode as i32,
        other => panic!("expected an Rlerror, got {other:?}"),
    }
}

#[test]
fn a_channel_answers_path_requests_and_refuses_fid_ones() {
    let tree = common::Tree::new("channel-raw");
    let mut server = gofer::server::Server::new(&tree.path).unwrap();
    server.set_read_only(true);
    let channel = server.channel().unwrap();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let served = std::thread::spawn(move || channel.serve(theirs));
    let mut frame = Vec::new();

    // A lookup by path, with no handshake on this connection.
    let m = Tmessage::Lookupfd {
        names: vec![b"sub", b"inner.txt"],
    };
    wire::encode_tmessage(3, &m, &mut frame).unwrap();
    let reply = call(&mut ours, &frame);
    match wire::decode_rmessage(&reply).unwrap() {
        (3, Rmessage::Lookupfd { attr, .. }) => assert_eq!(attr.attr.size, 5),
        other => panic!("{other:?}"),
    }

    // 9P's own requests need the first connection's fids.
    let version = Tmessage::Version {
        msize: 65536,
        version: wire::VERSION_9P2000L,
    };
    wire::encode_tmessage(wire::NOTAG, &version, &mut frame).unwrap();
    assert_eq!(errno(&call(&mut ours, &frame)), libc::EOPNOTSUPP);
    let walk = Tmessage::Walkgetattr {
        fid: 0,
        newfid: 1,
        keep: 0,
        names: vec![b"sub"],
    };
    wire::encode_tmessage(4, &walk, &mut frame).unwrap();
    assert_eq!(errno(&call(&mut ours, &frame)), libc::EOPNOTSUPP);

    // The server's rules hold on its channels: read-only, and the name filter.
    let m = Tmessage::Removeat {
        flags: 0,
        names: vec![b"hello.txt"],
    };
    wire::encode_tmessage(5, &m, &mut frame).unwrap();
    assert_eq!(errno(&call(&mut ours, &frame)), libc::EROFS);
    assert!(tree.path.join("hello.txt").exists());
    let m = Tmessage::Lookupfd {
        names: vec![b"sub", b".."],
    };
    wire::encode_tmessage(6, &m, &mut frame).unwrap();
    assert_eq!(errno(&call(&mut ours, &frame)), libc::EINVAL);

    // A torn frame ends the channel with an error; a clean close with Ok.
    ours.write_all(&[9, 0, 0, 0, wire::TLOOKUPFD]).unwrap();
    drop(ours);
    assert!(served.join().unwrap().is_err());
    let channel = server.channel().unwrap();
    let (ours, theirs) = UnixStream::pair().unwrap();
    drop(ours);
    assert!(channel.serve(theirs).is_ok());
}

/// A stand-in for the first connection: answers the handshake, then
/// counts every further request (answering each with EIO).
fn handshake_only(sock: UnixStream, later: Arc<AtomicUsize>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut sock = sock;
        let mut reply = Vec::new();
        loop {
            let mut size = [0u8; 4];
            if sock.read_exact(&mut size).is_err() {
                return;
            }
            let mut frame = size.to_vec();
            frame.resize(u32::from_le_bytes(size) as usize, 0);
            sock.read_exact(&mut frame[4..]).unwrap();
            let (tag, msg) = wire::decode_tmessage(&frame).unwrap();
            let r = match msg {
                Tmessage::Version { msize, .. } => Rmessage::Version {
                    msize,
                    version: wire::VERSION_9P2000L,
                },
                Tmessage::Attach { .. } => Rmessage::Attach {
                    qid: gofer_protocol::Qid {
                        ty: 0x80,
                        version: 0,
                        path: 1,
                    },
                },
                _ => {
                    later.fetch_add(1, Ordering::SeqCst);
                    Rmessage::Lerror {
                        ecode: libc::EIO as u32,
                    }
                }
            };
            wire::encode_rmessage(tag, &r, &mut reply).unwrap();
            sock.write_all(&reply).unwrap();
        }
    })
}

#[test]
fn the_client_sends_path_requests_over_its_cpus_channel() {
    let tree = common::Tree::new("channel-client");
    let server = gofer::server::Server::new(&tree.path).unwrap();
    let (first, first_theirs) = UnixStream::pair().unwrap();
    let later = Arc::new(AtomicUsize::new(0));
    let stand_in = handshake_only(first_theirs, later.clone());
    // One channel for every CPU: whichever this thread runs on has one.
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut channels = Vec::new();
    let mut serving = Vec::new();
    for cpu in 0..ncpu.max(64) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let channel = server.channel().unwrap();
        serving.push(std::thread::spawn(move || channel.serve(theirs)));
        channels.push((cpu, ours));
    }
    let client = Client::connect(first).unwrap().with_channels(channels);

    let l = client.lookup_fd(&[b"hello.txt"]).unwrap();
    assert_eq!(l.attr.size, common::HELLO.len() as u64);
    let mut buf = vec![0u8; 64];
    let fd = l.fd.expect("a regular file's descriptor");
    // SAFETY: buf is writable for its length.
    let n = unsafe {
        libc::pread(
            std::os::fd::AsRawFd::as_raw_fd(&fd),
            buf.as_mut_ptr().cast(),
            buf.len(),
            0,
        )
    };
    assert_eq!(&buf[..n as usize], common::HELLO);
    let (fd, _) = client.open_fd(&[b"sub", b"inner.txt"], false).unwrap();
    drop(fd);
    let listed = client.readdir_plus(&[b"sub"], 100).unwrap();
    assert!(listed.iter().any(|e| e.name == b"inner.txt"));
    assert_eq!(client.lookup_fd(&[b"missing"]).err(), Some(libc::ENOENT));
    // None of them reached the first connection; a fid request does.
    assert_eq!(later.load(Ordering::SeqCst), 0);
    assert_eq!(client.getattr(client.root()).err(), Some(libc::EIO));
    assert_eq!(later.load(Ordering::SeqCst), 1);

    drop(client);
    stand_in.join().unwrap();
    for s in serving {
        s.join().unwrap().unwrap();
    }
}
