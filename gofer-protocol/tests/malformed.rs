//! The client against a fake, hostile server: every bad reply is EIO, never a
//! panic, a hang or a huge allocation, and a broken connection stays broken.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use gofer_protocol::wire::{self, Rgetattr, Rmessage, Tmessage};
use gofer_protocol::{Client, Qid};

const MSIZE: u32 = 65536;

/// The server end of a fake connection.
struct Peer {
    sock: UnixStream,
    frame: Vec<u8>,
}

impl Peer {
    /// Reads one request; returns its tag and type, or None at EOF.
    fn recv(&mut self) -> Option<(u16, u8)> {
        let mut size = [0u8; 4];
        self.sock.read_exact(&mut size).ok()?;
        let len = wire::frame_len(size, 1 << 20).unwrap();
        self.frame.clear();
        self.frame.extend_from_slice(&size);
        self.frame.resize(len, 0);
        self.sock.read_exact(&mut self.frame[4..]).unwrap();
        let (tag, msg) = wire::decode_tmessage(&self.frame).unwrap();
        Some((tag, msg.type_byte()))
    }

    fn request(&self) -> Tmessage<'_> {
        wire::decode_tmessage(&self.frame).unwrap().1
    }

    fn send(&mut self, tag: u16, msg: &Rmessage<'_>) {
        let mut out = Vec::new();
        wire::encode_rmessage(tag, msg, &mut out).unwrap();
        self.send_raw(&out);
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        // The client may have hung up already: fine.
        let _ = self.sock.write_all(bytes);
    }

    /// Answers Tversion and Tattach properly.
    fn handshake(&mut self) {
        let (tag, ty) = self.recv().unwrap();
        assert_eq!((tag, ty), (wire::NOTAG, wire::TVERSION));
        self.send(
            tag,
            &Rmessage::Version {
                msize: MSIZE,
                version: wire::VERSION_9P2000L,
            },
        );
        let (tag, ty) = self.recv().unwrap();
        assert_eq!(ty, wire::TATTACH);
        self.send(
            tag,
            &Rmessage::Attach {
                qid: Qid {
                    ty: wire::QTDIR,
                    version: 0,
                    path: 2,
                },
            },
        );
    }
}

/// Runs `script` as the server of a fresh connection.
fn fake(script: impl FnOnce(&mut Peer) + Send + 'static) -> (UnixStream, JoinHandle<()>) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    let handle = std::thread::spawn(move || {
        let mut peer = Peer {
            sock: theirs,
            frame: Vec::new(),
        };
        script(&mut peer);
    });
    (ours, handle)
}

/// Connects through a proper handshake, then lets `reply` answer the first
/// request; the connection then closes.
fn after_handshake(
    reply: impl FnOnce(&mut Peer, u16) + Send + 'static,
) -> (Client, JoinHandle<()>) {
    let (sock, handle) = fake(move |p| {
        p.handshake();
        if let Some((tag, _)) = p.recv() {
            reply(p, tag);
        }
        // Keep the socket open until the client is done with it, so that
        // the client's EIO comes from the reply, not from a hang-up.
        while p.recv().is_some() {}
    });
    (Client::connect(sock).unwrap(), handle)
}

/// The client gets EIO for its first request, and for everything after.
fn assert_broken(c: Client, handle: JoinHandle<()>, first: Result<(), i32>) {
    assert_eq!(first, Err(libc::EIO));
    assert_eq!(c.getattr(c.root()).unwrap_err(), libc::EIO);
    assert_eq!(c.walk(c.root(), &[b"x"]).unwrap_err(), libc::EIO);
    assert_eq!(c.read(1, 0, &mut [0u8; 10]).unwrap_err(), libc::EIO);
    drop(c);
    handle.join().unwrap();
}

fn getattr_reply(reply: impl FnOnce(&mut Peer, u16) + Send + 'static) {
    let (c, h) = after_handshake(reply);
    let first = c.getattr(c.root()).map(drop);
    assert_broken(c, h, first);
}

#[test]
fn garbage_instead_of_rversion_is_eio() {
    let (sock, h) = fake(|p| {
        p.recv();
        p.send_raw(b"this is not 9P at all, not even close");
    });
    assert_eq!(Client::connect(sock).unwrap_err(), libc::EIO);
    h.join().unwrap();
}

#[test]
fn bad_version_negotiations_are_eio() {
    for (msize, version) in [
        (MSIZE, &b"9P2000"[..]),
        (MSIZE, b"unknown"),
        (100, wire::VERSION_9P2000L),
        (0, wire::VERSION_9P2000L),
        (2 << 20, wire::VERSION_9P2000L),
    ] {
        let (sock, h) = fake(move |p| {
            let (tag, _) = p.recv().unwrap();
            p.send(tag, &Rmessage::Version { msize, version });
        });
        assert_eq!(Client::connect(sock).unwrap_err(), libc::EIO, "{msize}");
        h.join().unwrap();
    }
}

#[test]
fn a_server_that_hangs_up_is_eio() {
    let (sock, h) = fake(|p| {
        p.recv();
    });
    assert_eq!(Client::connect(sock).unwrap_err(), libc::EIO);
    h.join().unwrap();

    // Mid-reply: half a header.
    getattr_reply(|p, _| {
        p.send_raw(&[200, 0]);
        let _ = p.sock.shutdown(std::net::Shutdown::Both);
    });
}

#[test]
fn rlerror_on_attach_passes_its_errno() {
    let (sock, h) = fake(|p| {
        let (tag, _) = p.recv().unwrap();
        p.send(
            tag,
            &Rmessage::Version {
                msize: MSIZE,
                version: wire::VERSION_9P2000L,
            },
        );
        let (tag, _) = p.recv().unwrap();
        p.send(tag, &Rmessage::Lerror { ecode: 13 });
    });
    assert_eq!(Client::connect(sock).unwrap_err(), libc::EACCES);
    h.join().unwrap();
}

#[test]
fn size_fields_beyond_msize_are_eio_without_allocating() {
    for size in [u32::MAX, MSIZE + 1, 0x7fff_ffff] {
        getattr_reply(move |p, _| p.send_raw(&size.to_le_bytes()));
    }
    for size in [0u32, 3, 6] {
        getattr_reply(move |p, _| p.send_raw(&size.to_le_bytes()));
    }
}

#[test]
fn truncated_and_padded_replies_are_eio() {
    // An Rgetattr cut short, with a size field that matches the cut.
    getattr_reply(|p, tag| {
        let mut out = Vec::new();
        wire::encode_rmessage(tag, &Rmessage::Getattr(Box::default()), &mut out).unwrap();
        out.truncate(50);
        out[..4].copy_from_slice(&50u32.to_le_bytes());
        p.send_raw(&out);
    });
    // One with a byte too many.
    getattr_reply(|p, tag| {
        let mut out = Vec::new();
        wire::encode_rmessage(tag, &Rmessage::Getattr(Box::default()), &mut out).unwrap();
        out.push(0);
        let n = out.len() as u32;
        out[..4].copy_from_slice(&n.to_le_bytes());
        p.send_raw(&out);
    });
}

#[test]
fn replies_that_do_not_answer_the_request_are_eio() {
    // Wrong tag.
    getattr_reply(|p, tag| {
        p.send(tag.wrapping_add(1), &Rmessage::Getattr(Box::default()));
    });
    // Wrong type.
    getattr_reply(|p, tag| p.send(tag, &Rmessage::Read { data: b"x" }));
    // An unknown type.
    getattr_reply(|p, tag| {
        let t = tag.to_le_bytes();
        p.send_raw(&[7, 0, 0, 0, 250, t[0], t[1]]);
    });
    // Errnos that are no errnos.
    for ecode in [0u32, 4096, u32::MAX, 0x8000_0000] {
        getattr_reply(move |p, tag| p.send(tag, &Rmessage::Lerror { ecode }));
    }
}

#[test]
fn an_honest_rlerror_keeps_the_connection() {
    let (sock, h) = fake(|p| {
        p.handshake();
        let (tag, _) = p.recv().unwrap();
        p.send(tag, &Rmessage::Lerror { ecode: 2 });
        let (tag, _) = p.recv().unwrap();
        let g = Rgetattr {
            valid: wire::P9_GETATTR_BASIC,
            ..Rgetattr::default()
        };
        let mut g = Box::new(g);
        g.attr.size = 42;
        p.send(tag, &Rmessage::Getattr(g));
    });
    let c = Client::connect(sock).unwrap();
    assert_eq!(c.getattr(c.root()).unwrap_err(), libc::ENOENT);
    assert_eq!(c.getattr(c.root()).unwrap().size, 42);
    drop(c);
    h.join().unwrap();
}

#[test]
fn rwalk_with_more_qids_than_names_is_eio() {
    let (c, h) = after_handshake(|p, tag| {
        p.send(
            tag,
            &Rmessage::Walk {
                qids: vec![Qid::default(); 2],
            },
        );
    });
    let first = c.walk(c.root(), &[b"one"]).map(drop);
    assert_broken(c, h, first);
    // A clone (no names) answered with a qid.
    let (c, h) = after_handshake(|p, tag| {
        p.send(
            tag,
            &Rmessage::Walk {
                qids: vec![Qid::default()],
            },
        );
    });
    let first = c.walk(c.root(), &[]).map(drop);
    assert_broken(c, h, first);
}

#[test]
fn rwalk_with_no_qids_is_enoent() {
    let (sock, h) = fake(|p| {
        p.handshake();
        let (tag, _) = p.recv().unwrap();
        p.send(tag, &Rmessage::Walk { qids: Vec::new() });
        // The client must not clunk a fid the server never created.
        let (tag, ty) = p.recv().unwrap();
        assert_eq!(ty, wire::TGETATTR, "unexpected request after a failed walk");
        p.send(tag, &Rmessage::Lerror { ecode: 9 });
    });
    let c = Client::connect(sock).unwrap();
    assert_eq!(c.walk(c.root(), &[b"a", b"b"]).unwrap_err(), libc::ENOENT);
    assert_eq!(c.getattr(c.root()).unwrap_err(), libc::EBADF);
    drop(c);
    h.join().unwrap();
}

#[test]
fn rread_with_more_data_than_asked_is_eio() {
    let (c, h) = after_handshake(|p, tag| {
        p.send(tag, &Rmessage::Read { data: &[7u8; 20] });
    });
    let mut buf = [0u8; 10];
    let first = c.read(1, 0, &mut buf).map(drop);
    assert_eq!(buf, [0u8; 10], "nothing is copied from a bad reply");
    assert_broken(c, h, first);
}

#[test]
fn rwrite_claiming_more_than_sent_is_eio() {
    let (c, h) = after_handshake(|p, tag| {
        p.send(tag, &Rmessage::Write { count: 11 });
    });
    let first = c.write(1, 0, &[1u8; 10]).map(drop);
    assert_broken(c, h, first);
}

#[test]
fn read_stops_at_a_short_reply_and_splits_by_msize() {
    // A file of 100_000 bytes of 0xAB; the fake checks each Tread's count.
    const FILE: usize = 100_000;
    let (sock, h) = fake(|p| {
        p.handshake();
        let chunk = (MSIZE - wire::RREAD_HEADER_LEN) as usize;
        let mut treads = 0;
        while let Some((tag, _)) = p.recv() {
            let Tmessage::Read { offset, count, .. } = p.request() else {
                panic!("not a Tread");
            };
            treads += 1;
            assert!(count as usize <= chunk);
            let end = (offset as usize + count as usize).min(FILE);
            let data = vec![0xABu8; end.saturating_sub(offset as usize)];
            p.send(tag, &Rmessage::Read { data: &data });
        }
        // 100_000 bytes in chunks of 65525: two Treads, the second short.
        assert_eq!(treads, 2);
    });
    let c = Client::connect(sock).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    assert_eq!(c.read(1, 0, &mut buf).unwrap(), FILE);
    assert!(buf[..FILE].iter().all(|&b| b == 0xAB));
    assert!(buf[FILE..].iter().all(|&b| b == 0));
    drop(c);
    h.join().unwrap();
}

#[test]
fn malformed_rreaddir_is_eio() {
    let (c, h) = after_handshake(|p, tag| {
        let mut data = Vec::new();
        let e = gofer_protocol::DirEntry {
            qid: Qid::default(),
            offset: 1,
            ty: libc::DT_REG,
            name: b"file".to_vec(),
        };
        wire::encode_dirent(&e, &mut data).unwrap();
        data.pop();
        p.send(tag, &Rmessage::Readdir { data: &data });
    });
    let first = c.readdir(1, 0, 4096).map(drop);
    assert_broken(c, h, first);
    // More data than the count asked for.
    let (c, h) = after_handshake(|p, tag| {
        p.send(tag, &Rmessage::Readdir { data: &[0u8; 100] });
    });
    let first = c.readdir(1, 0, 50).map(drop);
    assert_broken(c, h, first);
}

#[test]
fn random_replies_never_panic() {
    let mut s: u64 = 0x1234_5678_9abc_def1;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    for _ in 0..200 {
        let len = 7 + (next() % 200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        bytes[..4].copy_from_slice(&(len as u32).to_le_bytes());
        bytes[4] = [wire::RGETATTR, wire::RLERROR, wire::RWALK, 0][next() as usize % 4];
        let (c, h) = after_handshake(move |p, tag| {
            bytes[5..7].copy_from_slice(&tag.to_le_bytes());
            p.send_raw(&bytes);
        });
        // Whatever it is, it answers (EIO or a decoded errno/value).
        let _ = c.getattr(c.root());
        drop(c);
        h.join().unwrap();
    }
}

// ---------------------------------------------------------------------------
// Descriptor passing (Topenfd) and Twalkgetattr from a hostile server.

mod donation {
    use super::*;
    use std::fs::File;
    use std::io::ErrorKind;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};

    use gofer_protocol::Keep;
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe().unwrap()
    }

    /// Sends `msg` with `fds` attached to its first byte.
    fn send_with_fds(p: &mut Peer, tag: u16, msg: &Rmessage<'_>, fds: &[RawFd]) {
        let mut out = Vec::new();
        wire::encode_rmessage(tag, msg, &mut out).unwrap();
        let iov = [std::io::IoSlice::new(&out)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let n = sendmsg::<()>(p.sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).unwrap();
        assert_eq!(n, out.len());
    }

    /// The read end `r` was received and closed by the client: once the
    /// server thread has been joined (it holds its own copy until then),
    /// writing to `w` finds no reader.
    fn assert_closed(w: OwnedFd) {
        let e = nix::unistd::write(&w, b"x").unwrap_err();
        assert_eq!(std::io::Error::from(e).kind(), ErrorKind::BrokenPipe);
    }

    /// Runs `reply` with pipe read ends to pass; returns the client and the
    /// write ends.
    fn with_pipes(
        n: usize,
        reply: impl FnOnce(&mut Peer, u16, Vec<OwnedFd>) + Send + 'static,
    ) -> (Client, JoinHandle<()>, Vec<OwnedFd>) {
        let (rs, ws): (Vec<_>, Vec<_>) = (0..n).map(|_| pipe()).unzip();
        let (c, h) = after_handshake(move |p, tag| reply(p, tag, rs));
        (c, h, ws)
    }

    fn raw(fds: &[OwnedFd]) -> Vec<RawFd> {
        fds.iter().map(|f| f.as_raw_fd()).collect()
    }

    #[test]
    fn ropenfd_without_a_descriptor_is_eio() {
        let (c, h) = after_handshake(|p, tag| p.send(tag, &Rmessage::Openfd));
        let first = c.open_fd(&[b"f"], false).map(drop);
        assert_broken(c, h, first);
    }

    #[test]
    fn a_descriptor_on_a_reply_that_carries_none_is_eio_and_closed() {
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            send_with_fds(p, tag, &Rmessage::Getattr(Box::default()), &raw(&rs));
        });
        let first = c.getattr(c.root()).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn a_descriptor_on_an_rlerror_is_eio_and_closed() {
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            send_with_fds(p, tag, &Rmessage::Lerror { ecode: 2 }, &raw(&rs));
        });
        let first = c.open_fd(&[b"f"], false).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn a_descriptor_with_the_wrong_reply_type_is_eio_and_closed() {
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            send_with_fds(p, tag, &Rmessage::Clunk, &raw(&rs));
        });
        let first = c.open_fd(&[b"f"], false).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn two_descriptors_are_eio_and_both_closed() {
        let (c, h, ws) = with_pipes(2, |p, tag, rs| {
            send_with_fds(p, tag, &Rmessage::Openfd, &raw(&rs));
        });
        let first = c.open_fd(&[b"f"], false).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn more_descriptors_than_fit_are_eio_and_all_closed() {
        let (c, h, ws) = with_pipes(12, |p, tag, rs| {
            send_with_fds(p, tag, &Rmessage::Openfd, &raw(&rs));
        });
        let first = c.open_fd(&[b"f"], false).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn a_descriptor_of_the_wrong_type_is_eio_and_closed() {
        // A pipe instead of a regular file: refused and closed; the
        // connection itself is still in step.
        let (sock, h) = fake(|p| {
            p.handshake();
            let (r, w) = pipe();
            let (tag, _) = p.recv().unwrap();
            send_with_fds(p, tag, &Rmessage::Openfd, &[r.as_raw_fd()]);
            drop(r);
            // The client answers with a getattr once it has dropped the
            // pipe: by then nobody holds the read end.
            let (tag, ty) = p.recv().unwrap();
            assert_eq!(ty, wire::TGETATTR);
            assert_closed(w);
            p.send(tag, &Rmessage::Lerror { ecode: 13 });
            while p.recv().is_some() {}
        });
        let c = Client::connect(sock).unwrap();
        assert_eq!(c.open_fd(&[b"f"], false).unwrap_err(), libc::EIO);
        assert_eq!(c.getattr(c.root()).unwrap_err(), libc::EACCES);
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn a_descriptor_split_from_its_frame_is_eio_and_closed() {
        // The frame's header first, then the rest with the descriptor.
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            let mut out = Vec::new();
            wire::encode_rmessage(tag, &Rmessage::Getattr(Box::default()), &mut out).unwrap();
            p.send_raw(&out[..4]);
            let iov = [std::io::IoSlice::new(&out[4..])];
            let cmsg = [ControlMessage::ScmRights(&[rs[0].as_raw_fd()])];
            sendmsg::<()>(p.sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).unwrap();
        });
        let first = c.getattr(c.root()).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn walkgetattr_replies_that_disagree_with_the_request_are_eio() {
        let attr = |mode| {
            Box::new(wire::Rgetattr {
                attr: gofer_protocol::Attr {
                    mode,
                    ..Default::default()
                },
                ..Default::default()
            })
        };
        let q = Qid::default();
        // (keep, kept, qids, mode)
        let cases = [
            (Keep::Never, true, 1, libc::S_IFDIR),
            (Keep::Dir, true, 1, libc::S_IFREG),
            (Keep::Dir, false, 1, libc::S_IFDIR),
            (Keep::Always, false, 1, libc::S_IFREG),
            (Keep::Always, true, 0, libc::S_IFREG),
            (Keep::Always, true, 2, libc::S_IFREG),
        ];
        for (keep, kept, n, mode) in cases {
            let (c, h) = after_handshake(move |p, tag| {
                let msg = Rmessage::Walkgetattr {
                    kept,
                    qids: vec![q; n],
                    attr: attr(mode),
                };
                p.send(tag, &msg);
            });
            let first = c.lookup(c.root(), &[b"x"], keep).map(drop);
            assert_broken(c, h, first);
        }
        // An Rwalkgetattr whose `kept` byte is neither 0 nor 1.
        let (c, h) = after_handshake(|p, tag| {
            let mut out = Vec::new();
            let msg = Rmessage::Walkgetattr {
                kept: false,
                qids: vec![Qid::default()],
                attr: Box::default(),
            };
            wire::encode_rmessage(tag, &msg, &mut out).unwrap();
            out[wire::HEADER_LEN] = 2;
            p.send_raw(&out);
        });
        let first = c.lookup(c.root(), &[b"x"], Keep::Never).map(drop);
        assert_broken(c, h, first);
    }

    fn lookup_reply(fd: bool, mode: u32, target: &'static [u8]) -> Rmessage<'static> {
        Rmessage::Lookupfd {
            fd,
            attr: Box::new(wire::Rgetattr {
                attr: gofer_protocol::Attr {
                    mode,
                    ..Default::default()
                },
                ..Default::default()
            }),
            target,
        }
    }

    #[test]
    fn rlookupfd_announcing_a_descriptor_it_lacks_is_eio() {
        let (c, h) = after_handshake(|p, tag| p.send(tag, &lookup_reply(true, libc::S_IFREG, b"")));
        let first = c.lookup_fd(&[b"f"]).map(drop);
        assert_broken(c, h, first);
    }

    #[test]
    fn rlookupfd_with_an_unannounced_descriptor_is_eio_and_closed() {
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            send_with_fds(p, tag, &lookup_reply(false, libc::S_IFREG, b""), &raw(&rs));
        });
        let first = c.lookup_fd(&[b"f"]).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn rlookupfd_with_a_descriptor_for_a_symlink_is_eio_and_closed() {
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            send_with_fds(p, tag, &lookup_reply(true, libc::S_IFLNK, b"x"), &raw(&rs));
        });
        let first = c.lookup_fd(&[b"f"]).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn rlookupfd_with_a_target_for_a_regular_file_is_eio() {
        let (c, h) =
            after_handshake(|p, tag| p.send(tag, &lookup_reply(false, libc::S_IFREG, b"x")));
        let first = c.lookup_fd(&[b"f"]).map(drop);
        assert_broken(c, h, first);
    }

    #[test]
    fn rlookupfd_with_a_file_for_a_directory_is_eio_and_closed() {
        // A regular file where the attributes say directory: refused by
        // its fstat, closed; the stream is still in step.
        let (c, h) = after_handshake(|p, tag| {
            let f = File::open("/proc/self/exe").unwrap();
            send_with_fds(
                p,
                tag,
                &lookup_reply(true, libc::S_IFDIR, b""),
                &[f.as_raw_fd()],
            );
        });
        assert_eq!(c.lookup_fd(&[b"f"]).unwrap_err(), libc::EIO);
        drop(c);
        h.join().unwrap();
    }

    #[test]
    fn rlookupfd_with_a_pipe_for_a_file_is_eio_and_closed() {
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            send_with_fds(p, tag, &lookup_reply(true, libc::S_IFREG, b""), &raw(&rs));
        });
        assert_eq!(c.lookup_fd(&[b"f"]).unwrap_err(), libc::EIO);
        drop(c);
        h.join().unwrap();
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn ropenfds_with_too_few_descriptors_is_eio_and_closed() {
        // Two successes announced, one descriptor sent.
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            let msg = Rmessage::Openfds {
                results: vec![(0, 1), (0, 2)],
            };
            send_with_fds(p, tag, &msg, &raw(&rs));
        });
        let first = c.open_fds(&[], &[b"a", b"b"]).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn ropenfds_answering_other_names_is_eio_and_closed() {
        // One result for two names asked.
        let (c, h, ws) = with_pipes(1, |p, tag, rs| {
            let msg = Rmessage::Openfds {
                results: vec![(0, 1)],
            };
            send_with_fds(p, tag, &msg, &raw(&rs));
        });
        let first = c.open_fds(&[], &[b"a", b"b"]).map(drop);
        assert_broken(c, h, first);
        ws.into_iter().for_each(assert_closed);
    }

    #[test]
    fn ropenfds_with_a_pipe_or_too_many_descriptors_fails_and_closes_all() {
        // A pipe where a regular file was promised; then more descriptors
        // than the client makes room for. Nothing stays open either way.
        for n in [1, 40] {
            let (c, h, ws) = with_pipes(n, move |p, tag, rs| {
                let msg = Rmessage::Openfds {
                    results: vec![(0, 1)],
                };
                send_with_fds(p, tag, &msg, &raw(&rs));
            });
            let r = c.open_fds(&[], &[b"a"]).map(drop);
            assert!(
                matches!(r, Err(libc::EIO | libc::EMFILE)),
                "{n} descriptors: {r:?}"
            );
            drop(c);
            h.join().unwrap();
            ws.into_iter().for_each(assert_closed);
        }
    }
}

/// An Rreaddirplus entry for `name` of type `mode` with `target`.
fn dirplus(name: &[u8], mode: u32, target: &[u8]) -> Vec<u8> {
    let mut attr = Rgetattr::default();
    attr.attr.mode = mode;
    let e = wire::DirplusEntry {
        name,
        attr,
        target,
        xattrs: None,
    };
    let mut data = Vec::new();
    wire::encode_dirplus(&e, &mut data).unwrap();
    data
}

/// An Rreaddirplus entry of a regular file whose xattr listing is `list`.
fn dirplus_xattrs(list: &[u8]) -> Vec<u8> {
    let mut attr = Rgetattr::default();
    attr.attr.mode = libc::S_IFREG | 0o644;
    let e = wire::DirplusEntry {
        name: b"file",
        attr,
        target: b"",
        xattrs: Some(list),
    };
    let mut data = Vec::new();
    wire::encode_dirplus(&e, &mut data).unwrap();
    data
}

#[test]
fn malformed_rreaddirplus_is_eio() {
    let file = libc::S_IFREG | 0o644;
    let bad: Vec<Vec<u8>> = vec![
        // Cut short.
        dirplus(b"file", file, b"")[..20].to_vec(),
        // Names that are not one plain name.
        dirplus(b"..", file, b""),
        dirplus(b"a/b", file, b""),
        dirplus(b"", file, b""),
        // A target on a regular file.
        dirplus(b"file", file, b"elsewhere"),
        // An xattr listing without its final NUL, and one naming a name
        // twice.
        dirplus_xattrs(b"user.a"),
        dirplus_xattrs(b"user.a\0user.a\0"),
    ];
    for data in bad {
        let (c, h) = after_handshake(move |p, tag| {
            p.send(
                tag,
                &Rmessage::Readdirplus {
                    next: 0,
                    data: &data,
                },
            );
        });
        let first = c.readdir_plus(&[b"d"], 100).map(drop);
        assert_broken(c, h, first);
    }
}

#[test]
fn rreaddirplus_that_never_ends_or_repeats_is_eio() {
    // `next` alternates, so the listing would go on for ever; then the
    // same `next` again (no progress); then one name twice.
    for script in 0..3 {
        let (sock, handle) = fake(move |p| {
            p.handshake();
            let mut n = 0u64;
            while let Some((tag, _)) = p.recv() {
                n += 1;
                let name = format!("f{n}");
                let data = dirplus(
                    if script == 2 {
                        b"same"
                    } else {
                        name.as_bytes()
                    },
                    libc::S_IFREG,
                    b"",
                );
                let next = match script {
                    0 => 5 + n % 2,
                    1 => 5,
                    _ if n < 3 => n,
                    _ => 0,
                };
                p.send(tag, &Rmessage::Readdirplus { next, data: &data });
            }
        });
        let c = Client::connect(sock).unwrap();
        assert_eq!(c.readdir_plus(&[b"d"], 50).unwrap_err(), libc::EIO);
        drop(c);
        handle.join().unwrap();
    }
}

#[test]
fn rgetxattrat_longer_than_asked_or_of_another_type_is_eio() {
    for script in 0..2 {
        let (c, h) = after_handshake(move |p, tag| {
            if script == 0 {
                p.send(tag, &Rmessage::Getxattrat { value: b"12345" });
            } else {
                p.send(tag, &Rmessage::Listxattrat { list: b"user.a\0" });
            }
        });
        let first = c.getxattr_at(&[b"f"], b"user.a", 4).map(drop);
        assert_broken(c, h, first);
    }
}

#[test]
fn malformed_rlistxattrat_is_eio() {
    let bad: Vec<&'static [u8]> = vec![
        // Not NUL-terminated.
        b"user.a",
        // An empty name.
        b"user.a\0\0",
        b"\0",
        // A name twice.
        b"user.a\0user.a\0",
        // Longer than asked.
        b"user.abcdefgh\0",
    ];
    for list in bad {
        let (c, h) = after_handshake(move |p, tag| {
            p.send(tag, &Rmessage::Listxattrat { list });
        });
        let first = c.listxattr_at(&[b"f"], 12).map(drop);
        assert_broken(c, h, first);
    }
    // A name longer than XATTR_NAME_MAX.
    let long: &'static [u8] = Box::leak([vec![b'u'; 300], vec![0]].concat().into_boxed_slice());
    let (c, h) = after_handshake(move |p, tag| {
        p.send(tag, &Rmessage::Listxattrat { list: long });
    });
    let first = c.listxattr_at(&[b"f"], 4096).map(drop);
    assert_broken(c, h, first);
}

#[test]
fn xattr_requests_are_bounded_by_msize_and_keep_errnos() {
    let (sock, handle) = fake(|p| {
        p.handshake();
        while let Some((tag, _)) = p.recv() {
            match p.request() {
                Tmessage::Getxattrat { size, .. } | Tmessage::Listxattrat { size, .. } => {
                    // What one reply can hold at the negotiated msize.
                    assert!(size as usize <= (MSIZE - wire::RREAD_HEADER_LEN) as usize);
                    p.send(
                        tag,
                        &Rmessage::Lerror {
                            ecode: libc::ENODATA as u32,
                        },
                    );
                }
                _ => p.send(tag, &Rmessage::Setxattrat),
            }
        }
    });
    let c = Client::connect(sock).unwrap();
    assert_eq!(
        c.getxattr_at(&[b"f"], b"user.a", 1 << 20),
        Err(libc::ENODATA)
    );
    assert_eq!(c.listxattr_at(&[], usize::MAX), Err(libc::ENODATA));
    // A wrong reply type for a set is EIO.
    assert_eq!(c.removexattr_at(&[b"f"], b"user.a"), Err(libc::EIO));
    drop(c);
    handle.join().unwrap();
}
