//! The 9P frames both ways: the Gofer's request decoder and the real
//! server behind it (fed whole sessions of frames), and the Sentry's reply
//! decoders. `RUNSC_FUZZ_WRITE_CORPUS=1` rewrites the seed corpus from
//! [`session`] (run once after the protocol changes).

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gofer::server::Server;
use gofer_protocol::wire::{self, Tmessage};

/// The Gofer's decoder: a frame that decodes encodes back to itself.
#[test]
fn fuzz_gofer_tmessage() {
    fuzz::run("gofer_tmessage", |frame| {
        if let Ok((tag, msg)) = wire::decode_tmessage(frame) {
            let mut out = Vec::new();
            wire::encode_tmessage(tag, &msg, &mut out).expect("a decoded request encodes");
            assert_eq!(
                out, frame,
                "{msg:?} does not encode to the frame it came from"
            );
        }
    });
}

/// The Sentry's decoders of the Gofer's replies (a compromised Gofer is
/// hostile too): frames, directory entries, readdirplus entries.
#[test]
fn fuzz_gofer_rmessage() {
    fuzz::run("gofer_rmessage", |frame| {
        if let Ok((tag, msg)) = wire::decode_rmessage(frame) {
            let mut out = Vec::new();
            wire::encode_rmessage(tag, &msg, &mut out).expect("a decoded reply encodes");
            assert_eq!(
                out, frame,
                "{msg:?} does not encode to the frame it came from"
            );
            let _ = msg.fds();
        }
        let body = frame.get(wire::HEADER_LEN..).unwrap_or_default();
        let _ = wire::decode_dirents(body);
        let _ = wire::decode_dirplus(body);
        let _ = gofer_protocol::dirents::records(body).count();
    });
}

/// The Gofer's server, read-only over a small tree: a byte stream of
/// request frames in, replies out, and no panic, whatever the stream.
#[test]
fn fuzz_gofer_server() {
    let root = tree();
    fuzz::run("gofer_server", |stream| {
        serve_stream(root, stream);
    });
}

/// Serves `stream` with a fresh read-only server until it ends; returns
/// the replies.
fn serve_stream(root: &Path, stream: &[u8]) -> Vec<u8> {
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    let mut server = Server::new(root).expect("server");
    server.set_read_only(true);
    let serving = std::thread::spawn(move || server.serve(theirs));
    let input = stream.to_vec();
    let mut writer = ours.try_clone().expect("dup");
    let writing = std::thread::spawn(move || {
        // The server may stop reading (a torn frame): the rest is refused.
        let _ = writer.write_all(&input);
        let _ = writer.shutdown(std::net::Shutdown::Write);
    });
    let mut replies = Vec::new();
    let _ = (&ours).read_to_end(&mut replies);
    drop(ours);
    writing.join().expect("writer");
    if let Err(panic) = serving.join() {
        std::panic::resume_unwind(panic);
    }
    replies
}

/// A tree for the server: a file, a directory with entries, symlinks in
/// and out, a FIFO.
fn tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-gofer-tree");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dir/sub")).expect("mkdir");
        std::fs::write(dir.join("file"), b"hello, fuzz\n").expect("write");
        std::fs::write(dir.join("dir/a"), vec![b'a'; 5000]).expect("write");
        std::os::unix::fs::symlink("file", dir.join("link")).expect("symlink");
        std::os::unix::fs::symlink("/etc/passwd", dir.join("out")).expect("symlink");
        let fifo = std::ffi::CString::new(dir.join("fifo").into_os_string().into_encoded_bytes())
            .expect("path");
        // SAFETY: a NUL-terminated path we own.
        unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) };
        dir
    })
}

/// A client's session: every request the Sentry sends, in a plausible
/// order.
fn session() -> Vec<Vec<u8>> {
    let walk = |fid, newfid, names: Vec<&'static [u8]>| Tmessage::Walk { fid, newfid, names };
    let msgs: Vec<Tmessage<'static>> = vec![
        Tmessage::Version {
            msize: 65560,
            version: wire::VERSION_9P2000L,
        },
        Tmessage::Attach {
            fid: 0,
            afid: wire::NOFID,
            uname: b"",
            aname: b"",
            n_uname: wire::NONUNAME,
        },
        walk(0, 1, vec![b"dir"]),
        Tmessage::Getattr {
            fid: 1,
            request_mask: wire::P9_GETATTR_BASIC,
        },
        Tmessage::Lopen {
            fid: 1,
            flags: libc::O_RDONLY as u32,
        },
        Tmessage::Readdir {
            fid: 1,
            offset: 0,
            count: 4096,
        },
        walk(0, 2, vec![b"file"]),
        Tmessage::Lopen { fid: 2, flags: 0 },
        Tmessage::Read {
            fid: 2,
            offset: 0,
            count: 100,
        },
        Tmessage::Clunk { fid: 2 },
        walk(0, 3, vec![b"link"]),
        Tmessage::Readlink { fid: 3 },
        Tmessage::Statfs { fid: 0 },
        Tmessage::Walkgetattr {
            fid: 0,
            newfid: 4,
            keep: wire::WALK_KEEP_DIR,
            names: vec![b"dir", b"sub"],
        },
        Tmessage::Lookupfd {
            names: vec![b"dir", b"a"],
        },
        Tmessage::Openfd {
            flags: libc::O_RDONLY as u32,
            names: vec![b"file"],
        },
        Tmessage::Openfds {
            dir: vec![b"dir"],
            names: vec![b"a", b"missing"],
        },
        Tmessage::Readdirplus {
            offset: 0,
            count: 8192,
            names: vec![],
        },
        Tmessage::Getxattrat {
            size: 256,
            names: vec![b"file"],
            name: b"user.x",
        },
        Tmessage::Listxattrat {
            size: 256,
            names: vec![b"file"],
        },
        Tmessage::Createat {
            mode: libc::S_IFREG | 0o644,
            rdev: 0,
            uid: 0,
            gid: 0,
            names: vec![b"new"],
            target: b"",
        },
        Tmessage::Write {
            fid: 2,
            offset: 0,
            data: b"x",
        },
        Tmessage::Connectat {
            kind: libc::SOCK_STREAM as u32,
            names: vec![b"fifo"],
        },
        Tmessage::Flush { oldtag: 3 },
        Tmessage::Clunk { fid: 1 },
    ];
    msgs.iter()
        .enumerate()
        .map(|(i, m)| {
            let tag = if i == 0 { wire::NOTAG } else { i as u16 };
            let mut out = Vec::new();
            wire::encode_tmessage(tag, m, &mut out).expect("encode");
            out
        })
        .collect()
}

/// Splits a stream of frames at their size fields.
fn frames(mut stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while stream.len() >= 4 {
        let len = u32::from_le_bytes([stream[0], stream[1], stream[2], stream[3]]) as usize;
        if len < 4 || len > stream.len() {
            break;
        }
        out.push(stream[..len].to_vec());
        stream = &stream[len..];
    }
    out
}

/// Writes the seed corpus: each request of a session, the whole session,
/// and the real server's replies to it.
#[test]
fn write_corpus_when_asked() {
    if std::env::var_os("RUNSC_FUZZ_WRITE_CORPUS").is_none() {
        return;
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let write = |target: &str, name: String, bytes: &[u8]| {
        let dir = corpus.join(target);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(name), bytes).expect("write");
    };
    let session = session();
    for (i, f) in session.iter().enumerate() {
        write("gofer_tmessage", format!("t{i:02}-{}", f[4]), f);
    }
    let stream = session.concat();
    write("gofer_server", "session".into(), &stream);
    write("gofer_server", "version-only".into(), &session[0]);
    let replies = serve_stream(tree(), &stream);
    for (i, f) in frames(&replies).iter().enumerate() {
        write("gofer_rmessage", format!("r{i:02}-{}", f[4]), f);
    }
}
