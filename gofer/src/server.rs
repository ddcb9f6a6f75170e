//! The Gofer process: serves a directory tree over 9P2000.L.
//!
//! The protocol work is the `p9` crate's. Around it this module adds:
//! * framing of its own: each request is read whole (at most [`MAX_MSIZE`]
//!   bytes) before `p9` sees it, so a bad frame cannot leave the stream out
//!   of step, and a clean end of stream is told apart from a torn message;
//! * a name filter: requests naming `""`, `"."`, `".."` or anything with `/`
//!   or NUL in it are refused with `EINVAL` before `p9` sees them (`p9` 0.3.2
//!   resolves names with `openat` and would otherwise walk out of its root);
//! * [`confine`]: pivot_root into the served tree, so that even a name the
//!   filter missed, or a symlink the host kernel follows, stays inside it.
//!
//! `p9` opens `/proc` when its server is created and reopens files through
//! `/proc/self/fd` for the rest of its life, so create the [`Server`] while
//! `/proc` is reachable: before [`confine`] (as [`Server::new_confined`]
//! does), or with procfs mounted inside the new root.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Write};
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root};

use crate::wire::{self, Rmessage};

/// The largest message `p9` 0.3.2 negotiates (64 KiB of payload plus room
/// for headers); a bigger request frame is a protocol violation.
pub const MAX_MSIZE: u32 = 64 * 1024 + 24;

/// A 9P2000.L file server for one directory tree (and one connection).
pub struct Server {
    p9: p9::Server,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// A server for the tree at `root`, with uids and gids passed through
    /// unchanged. `root` is opened when a client attaches; `/proc` is opened
    /// now (see the module documentation).
    pub fn new(root: &Path) -> io::Result<Server> {
        // Empty maps: p9 maps an id it does not find to itself.
        let uid_map = p9::ServerUidMap::new();
        let gid_map = p9::ServerGidMap::new();
        let p9 = p9::Server::new(root, uid_map, gid_map)?;
        Ok(Server { p9 })
    }

    /// Opens the server first (so it holds `/proc`), then [`confine_with`]s
    /// this thread to `root`; the server serves `/` of the new root. The
    /// caller has already unshared its mount namespace (CLONE_NEWNS).
    pub fn new_confined(root: &Path, read_only: bool) -> io::Result<Server> {
        let server = Server::new(Path::new("/"))?;
        confine_with(root, read_only)?;
        Ok(server)
    }

    /// The descriptors the server holds open (its `/proc`), to keep when
    /// closing the rest and to allow in a seccomp filter.
    pub fn keep_fds(&self) -> Vec<RawFd> {
        self.p9.keep_fds()
    }

    /// Serves requests from `sock` until the peer closes it: `Ok(())` at a
    /// clean end of stream (or when the peer is gone mid-reply), an error
    /// for a torn or oversized frame or a failing socket.
    pub fn serve(mut self, sock: UnixStream) -> io::Result<()> {
        let mut reader = BufReader::with_capacity(MAX_MSIZE as usize, sock.try_clone()?);
        let mut writer = BufWriter::with_capacity(MAX_MSIZE as usize, sock);
        let mut frame = Vec::with_capacity(MAX_MSIZE as usize);
        let mut reply = Vec::new();
        loop {
            if !read_frame(&mut reader, &mut frame)? {
                return Ok(());
            }
            let result = match refusal(&frame) {
                Some((tag, errno)) => {
                    // errno is a small positive constant.
                    let msg = Rmessage::Lerror {
                        ecode: errno as u32,
                    };
                    wire::encode_rmessage(tag, &msg, &mut reply)
                        .map_err(io::Error::from_raw_os_error)?;
                    writer.write_all(&reply).and_then(|()| writer.flush())
                }
                None => self.p9.handle_message(&mut frame.as_slice(), &mut writer),
            };
            match result {
                Ok(()) => {}
                Err(e)
                    if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Serves the tree at `root` over `sock` until the peer closes it (then
/// `Ok(())`). Needs `/proc` (see the module documentation).
pub fn serve(root: &Path, sock: UnixStream) -> io::Result<()> {
    Server::new(root)?.serve(sock)
}

/// Reads one whole frame into `frame`. `Ok(false)` is a clean end of stream
/// (no byte of a new frame arrived).
fn read_frame(reader: &mut impl Read, frame: &mut Vec<u8>) -> io::Result<bool> {
    let mut size = [0u8; 4];
    let mut got = 0;
    while got < size.len() {
        match reader.read(&mut size[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if got == 0 && e.kind() == ErrorKind::ConnectionReset => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    let len = wire::frame_len(size, MAX_MSIZE).map_err(|_| {
        io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "9P frame size {} outside 7..={MAX_MSIZE}",
                u32::from_le_bytes(size)
            ),
        )
    })?;
    frame.clear();
    frame.extend_from_slice(&size);
    frame.resize(len, 0);
    reader.read_exact(&mut frame[4..])?;
    Ok(true)
}

/// Message types whose bodies carry file names.
const NAMED: [u8; 11] = [
    wire::TWALK,
    wire::TLCREATE,
    wire::TSYMLINK,
    wire::TMKNOD,
    wire::TMKDIR,
    wire::TLINK,
    wire::TRENAMEAT,
    wire::TUNLINKAT,
    wire::TRENAME,
    wire::TXATTRWALK,
    wire::TXATTRCREATE,
];

/// If the request must not reach `p9`: its tag and the errno to answer.
fn refusal(frame: &[u8]) -> Option<(u16, i32)> {
    // read_frame guarantees a whole header.
    let ty = frame[4];
    let tag = u16::from_le_bytes([frame[5], frame[6]]);
    if !NAMED.contains(&ty) {
        return None;
    }
    match wire::decode_tmessage(frame) {
        Ok((_, msg)) if msg.names().into_iter().all(is_plain_name) => None,
        Ok(_) => Some((tag, libc::EINVAL)),
        // Types p9 refuses anyway (Trename, the xattr calls) are not decoded
        // here; they pass.
        Err(_) if matches!(ty, wire::TRENAME | wire::TXATTRWALK | wire::TXATTRCREATE) => None,
        // A named request we cannot parse might parse differently in p9.
        Err(_) => Some((tag, libc::EINVAL)),
    }
}

/// A single path component that stays in its directory.
fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.iter().any(|&b| b == b'/' || b == 0)
}

/// [`confine_with`] a read-only root.
pub fn confine(root: &Path) -> io::Result<PathBuf> {
    confine_with(root, true)
}

/// Makes `root` the root directory of this thread's mount namespace, which
/// the caller has already unshared (CLONE_NEWNS): makes every mount private
/// (nothing propagates back to the host), bind-mounts `root` onto itself
/// (with its submounts), remounts that bind read-only if `read_only` (only
/// its top mount: submounts keep their own flags), pivot_roots into it and
/// detaches the old root. Returns the path to serve: `/`.
///
/// Afterwards no host path is reachable by name, `/proc` included: a `p9`
/// server must have been created before (see [`Server::new_confined`]).
pub fn confine_with(root: &Path, read_only: bool) -> io::Result<PathBuf> {
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)?;
    // Serving the host's own root: a bind of "/" onto "/" would not be
    // reachable (a lookup of "/" starts at the process root, below the
    // bind), so the tree is bound onto an existing directory instead. The
    // copy shows that directory's own contents, not the bind.
    let target: &Path = if root == Path::new("/") {
        ["/tmp", "/mnt", "/media"]
            .iter()
            .map(Path::new)
            .find(|p| p.is_dir())
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, "no directory to stage the root on")
            })?
    } else {
        root
    };
    let source = root;
    let root = target;
    mount(
        Some(source),
        root,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )?;
    if read_only {
        // A remount must repeat the flags the mount is locked with (nosuid,
        // nodev, noexec ... inherited from a less privileged namespace), or
        // it fails with EPERM.
        let kept = statvfs(root)?.flags();
        let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        for (st, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if kept.contains(st) {
                flags |= ms;
            }
        }
        mount(none, root, none, flags, none)?;
    }
    // pivot_root(".", ".") stacks the old root on top of the new one, so no
    // directory for it is needed in the (read-only) new root; stepping into
    // the old root and detaching it leaves the new root alone.
    let old_root = File::open("/")?;
    let new_root = File::open(root)?;
    fchdir(&new_root)?;
    pivot_root(".", ".")?;
    fchdir(&old_root)?;
    umount2(".", MntFlags::MNT_DETACH)?;
    chdir("/")?;
    Ok(PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Tmessage;

    #[test]
    fn plain_names() {
        for good in [&b"a"[..], b"...", b"a.b", b"\xff", b".hidden"] {
            assert!(is_plain_name(good), "{good:?}");
        }
        for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"../x", b"a\0b"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn walks_out_of_the_root_are_refused() {
        let mut frame = Vec::new();
        let names: [&[u8]; 2] = [b"sub", b".."];
        let walk = Tmessage::Walk {
            fid: 0,
            newfid: 1,
            names: names.to_vec(),
        };
        wire::encode_tmessage(9, &walk, &mut frame).unwrap();
        assert_eq!(refusal(&frame), Some((9, libc::EINVAL)));
        let names: [&[u8]; 2] = [b"sub", b"file"];
        let walk = Tmessage::Walk {
            fid: 0,
            newfid: 1,
            names: names.to_vec(),
        };
        wire::encode_tmessage(9, &walk, &mut frame).unwrap();
        assert_eq!(refusal(&frame), None);
        // Trailing bytes on a named request: refused, not passed on.
        frame.push(0);
        let n = frame.len() as u32;
        frame[..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(refusal(&frame), Some((9, libc::EINVAL)));
        let mk = Tmessage::Mkdir {
            dfid: 0,
            name: b"a/b",
            mode: 0o755,
            gid: 0,
        };
        wire::encode_tmessage(3, &mk, &mut frame).unwrap();
        assert_eq!(refusal(&frame), Some((3, libc::EINVAL)));
        wire::encode_tmessage(3, &Tmessage::Clunk { fid: 1 }, &mut frame).unwrap();
        assert_eq!(refusal(&frame), None);
    }

    #[test]
    fn frames_are_read_whole() {
        let mut frame = Vec::new();
        assert!(!read_frame(&mut &b""[..], &mut frame).unwrap());
        assert_eq!(
            read_frame(&mut &b"\x0b\x00"[..], &mut frame)
                .unwrap_err()
                .kind(),
            ErrorKind::UnexpectedEof
        );
        assert_eq!(
            read_frame(&mut &b"\x0b\x00\x00\x00\x78\x01\x00"[..], &mut frame)
                .unwrap_err()
                .kind(),
            ErrorKind::UnexpectedEof
        );
        assert_eq!(
            read_frame(&mut &b"\xff\xff\xff\xff"[..], &mut frame)
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidData
        );
        let whole = b"\x0b\x00\x00\x00\x78\x01\x00\x05\x00\x00\x00rest";
        let mut r = &whole[..];
        assert!(read_frame(&mut r, &mut frame).unwrap());
        assert_eq!(frame, &whole[..11]);
        assert_eq!(r, b"rest");
    }
}
