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
//! * our protocol additions (see `docs/architecture.md`, "9P additions"):
//!   `Twalkgetattr` is served by feeding `p9` a Twalk and a Tgetattr in
//!   this process and answering both at once; `Topenfd` opens a file by its
//!   path below the served root with `openat2(RESOLVE_BENEATH |
//!   RESOLVE_NO_SYMLINKS)` and passes the descriptor back with SCM_RIGHTS;
//!   `Tlookupfd` resolves a path the same way and answers with its
//!   attributes (and a regular file's or directory's descriptor); the
//!   xattr requests (`xattr`) work on (parent, name) without following.
//!
//! `p9` opens `/proc` when its server is created and reopens files through
//! `/proc/self/fd` for the rest of its life, so create the [`Server`] while
//! `/proc` is reachable: before [`confine`] (as [`Server::new_confined`]
//! does), or with procfs mounted inside the new root.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, fchdir, pivot_root};

use gofer_protocol::wire::{self, Rgetattr, Rmessage, Tmessage};

mod xattr;

/// The largest message `p9` 0.3.2 negotiates (64 KiB of payload plus room
/// for headers); a bigger request frame is a protocol violation.
pub const MAX_MSIZE: u32 = 64 * 1024 + 24;

/// A 9P2000.L file server for one directory tree (and one connection).
pub struct Server {
    p9: p9::Server,
    /// The served tree's path, opened (for Topenfd) when serving starts,
    /// as `p9` opens it when the client attaches.
    root: PathBuf,
    /// Which changes are allowed (see [`Server::set_read_only`]).
    writable: Writable,
}

/// Where a server allows changes.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Writable {
    All,
    Nowhere,
    /// Only below these paths (names from the served root).
    Below(Vec<Vec<Vec<u8>>>),
}

impl Writable {
    /// The errno refusing `frame` as a change this server does not allow.
    fn refuse_change(&self, frame: &[u8]) -> Option<i32> {
        let prefixes = match self {
            Writable::All => return None,
            _ if !changes_tree(frame) => return None,
            Writable::Nowhere => return Some(libc::EROFS),
            Writable::Below(p) => p,
        };
        // `strict`: the path names an entry inside the directory.
        let below = |names: &[&[u8]], strict: bool| {
            prefixes.iter().any(|p| {
                names.len() >= p.len() + usize::from(strict)
                    && names.iter().zip(p).all(|(n, q)| *n == q.as_slice())
            })
        };
        let ok = match wire::decode_tmessage(frame) {
            Ok((_, Tmessage::Createat { names, .. }))
            | Ok((_, Tmessage::Removeat { names, .. })) => below(&names, true),
            Ok((_, Tmessage::Linkat { old, new }))
            | Ok((_, Tmessage::Renameat2 { old, new, .. })) => {
                below(&old, true) && below(&new, true)
            }
            Ok((_, Tmessage::Setattrat { names, .. }))
            | Ok((_, Tmessage::Setxattrat { names, .. }))
            | Ok((_, Tmessage::Removexattrat { names, .. }))
            | Ok((_, Tmessage::Openfd { names, .. })) => below(&names, false),
            // 9P's own requests name files by fid: no path to check.
            _ => false,
        };
        (!ok).then_some(libc::EROFS)
    }
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
        Ok(Server {
            p9,
            root: root.to_path_buf(),
            writable: Writable::All,
        })
    }

    /// Makes the server refuse, with `EROFS`, every request that would
    /// change the tree (creating, removing, renaming, linking, changing
    /// attributes, opening for writing), whatever the host mount allows:
    /// submounts of a served tree keep their own (writable) flags.
    pub fn set_read_only(&mut self, read_only: bool) {
        self.writable = if read_only {
            Writable::Nowhere
        } else {
            Writable::All
        };
    }

    /// Makes the server read-only (as [`Server::set_read_only`]) except
    /// below the directories at `paths` (names from the served root): the
    /// bind volumes of a sandbox whose root is an overlay. Only our
    /// path-based requests may change them, and only if every path they
    /// name (both of a link or rename) lies below one of `paths` (the
    /// directory itself may be opened for writing or have its attributes
    /// changed); paths are plain names resolved without symlinks, so a
    /// prefix of names is a prefix of the file reached.
    pub fn set_writable_below(&mut self, paths: Vec<Vec<Vec<u8>>>) {
        self.writable = Writable::Below(paths);
    }

    /// Opens the server first (so it holds `/proc`), then [`confine_with`]s
    /// this thread to `root`; the server serves `/` of the new root. The
    /// caller has already unshared its mount namespace (CLONE_NEWNS).
    pub fn new_confined(root: &Path, read_only: bool) -> io::Result<Server> {
        Server::new_confined_with_binds(root, read_only, &[])
    }

    /// [`Server::new_confined`] with host paths bound into the tree.
    pub fn new_confined_with_binds(
        root: &Path,
        read_only: bool,
        binds: &[crate::binds::Bind],
    ) -> io::Result<Server> {
        let mut server = Server::new(Path::new("/"))?;
        server.set_read_only(read_only);
        if read_only {
            // Read-write volumes stay writable under a read-only root.
            server.set_writable_below(
                binds
                    .iter()
                    .filter(|b| !b.readonly)
                    .map(|b| {
                        use std::os::unix::ffi::OsStrExt;
                        b.destination
                            .iter()
                            .filter(|c| *c != "/")
                            .map(|c| c.as_bytes().to_vec())
                            .collect()
                    })
                    .collect(),
            );
        }
        confine_with_binds(root, read_only, binds)?;
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
        // An O_PATH descriptor of the root: the path-based requests
        // resolve beneath it.
        let root = open_root(&self.root)?;
        serve_frames(sock, |frame, tag, writer, reply| {
            if let Some(errno) = self.writable.refuse_change(frame) {
                return send_error(writer, reply, tag, errno);
            }
            if serve_by_path(&root, frame, tag, writer, reply)? {
                return Ok(());
            }
            if frame[4] == wire::TWALKGETATTR {
                return match self.walk_getattr(frame, reply) {
                    Ok(()) => writer.write_all(reply).and_then(|()| writer.flush()),
                    Err(e) => send_error(writer, reply, tag, e),
                };
            }
            self.p9.handle_message(&mut &frame[..], writer)
        })
    }

    /// A server for one more connection, answering only the path-based
    /// requests (which need no fid, so no state shared with this one):
    /// one per CPU lets each CPU's requests be answered on that CPU
    /// (docs/architecture.md, "Gofer channels"). Everything else is
    /// refused with `EOPNOTSUPP`.
    pub fn channel(&self) -> io::Result<Channel> {
        Ok(Channel {
            root: open_root(&self.root)?,
            writable: self.writable.clone(),
        })
    }
}

/// The server of one extra connection (see [`Server::channel`]).
#[derive(Debug)]
pub struct Channel {
    root: OwnedFd,
    writable: Writable,
}

impl Channel {
    /// Serves requests from `sock` until the peer closes it, as
    /// [`Server::serve`] does.
    pub fn serve(self, sock: UnixStream) -> io::Result<()> {
        serve_frames(sock, |frame, tag, writer, reply| {
            if let Some(errno) = self.writable.refuse_change(frame) {
                return send_error(writer, reply, tag, errno);
            }
            if serve_by_path(&self.root, frame, tag, writer, reply)? {
                return Ok(());
            }
            send_error(writer, reply, tag, libc::EOPNOTSUPP)
        })
    }
}

/// An O_PATH descriptor of the served root.
fn open_root(root: &Path) -> io::Result<OwnedFd> {
    let root = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(root)?;
    Ok(OwnedFd::from(root))
}

/// Reads `sock`'s frames one by one and has `handle` answer each one not
/// refused outright (a bad name, a frame too short for its type) until
/// the peer closes it: `Ok(())` at a clean end of stream or when the peer
/// is gone mid-reply, an error for a torn or oversized frame or a failing
/// socket.
fn serve_frames(
    sock: UnixStream,
    mut handle: impl FnMut(&[u8], u16, &mut BufWriter<UnixStream>, &mut Vec<u8>) -> io::Result<()>,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(MAX_MSIZE as usize, sock.try_clone()?);
    let mut writer = BufWriter::with_capacity(MAX_MSIZE as usize, sock);
    let mut frame = Vec::with_capacity(MAX_MSIZE as usize);
    let mut reply = Vec::new();
    loop {
        if !read_frame(&mut reader, &mut frame)? {
            return Ok(());
        }
        // read_frame guarantees a whole header.
        let tag = u16::from_le_bytes([frame[5], frame[6]]);
        let result = match refusal(&frame) {
            Some((tag, errno)) => send_error(&mut writer, &mut reply, tag, errno),
            None => handle(&frame, tag, &mut writer, &mut reply),
        };
        match result {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
}

/// Answers `frame` if it is one of the path-based requests, which name
/// files by their path below `root` and need no fid: `false` for any
/// other.
fn serve_by_path(
    root: &OwnedFd,
    frame: &[u8],
    tag: u16,
    writer: &mut BufWriter<UnixStream>,
    reply: &mut Vec<u8>,
) -> io::Result<bool> {
    let answered = match frame[4] {
        wire::TCREATEAT => match create_at(root, frame) {
            Ok((attr, fd)) => {
                let msg = Rmessage::Createat {
                    fd: fd.is_some(),
                    attr: Box::new(attr),
                };
                wire::encode_rmessage(tag, &msg, reply).map_err(io::Error::from_raw_os_error)?;
                send_reply(writer, reply, fd.as_slice())
            }
            Err(e) => send_error(writer, reply, tag, e),
        },
        wire::TLINKAT | wire::TREMOVEAT | wire::TRENAMEAT2 | wire::TSETATTRAT => {
            match change_at(root, frame, reply) {
                Ok(()) => writer.write_all(reply).and_then(|()| writer.flush()),
                Err(e) => send_error(writer, reply, tag, e),
            }
        }
        wire::TGETXATTRAT | wire::TLISTXATTRAT | wire::TSETXATTRAT | wire::TREMOVEXATTRAT => {
            match xattr::serve(root, frame, reply) {
                Ok(()) => writer.write_all(reply).and_then(|()| writer.flush()),
                Err(e) => send_error(writer, reply, tag, e),
            }
        }
        wire::TOPENFD => match open_fd(root, frame) {
            Ok(fd) => {
                wire::encode_rmessage(tag, &Rmessage::Openfd, reply)
                    .map_err(io::Error::from_raw_os_error)?;
                send_reply(writer, reply, std::slice::from_ref(&fd))
            }
            Err(e) => send_error(writer, reply, tag, e),
        },
        wire::TREADDIRPLUS => match readdir_plus(root, frame) {
            Ok((next, data)) => {
                let msg = Rmessage::Readdirplus { next, data: &data };
                wire::encode_rmessage(tag, &msg, reply).map_err(io::Error::from_raw_os_error)?;
                writer.write_all(reply).and_then(|()| writer.flush())
            }
            Err(e) => send_error(writer, reply, tag, e),
        },
        wire::TOPENFDS => match open_fds(root, frame) {
            Ok((results, fds)) => {
                let msg = Rmessage::Openfds { results };
                wire::encode_rmessage(tag, &msg, reply).map_err(io::Error::from_raw_os_error)?;
                send_reply(writer, reply, &fds)
            }
            Err(e) => send_error(writer, reply, tag, e),
        },
        wire::TLOOKUPFD => match lookup_fd(root, frame) {
            Ok((attr, target, fd)) => {
                let msg = Rmessage::Lookupfd {
                    fd: fd.is_some(),
                    attr: Box::new(attr),
                    target: &target,
                };
                wire::encode_rmessage(tag, &msg, reply).map_err(io::Error::from_raw_os_error)?;
                send_reply(writer, reply, fd.as_slice())
            }
            Err(e) => send_error(writer, reply, tag, e),
        },
        _ => return Ok(false),
    };
    answered.map(|()| true)
}

impl Server {
    /// Feeds one request we built to `p9` and decodes its answer into
    /// `out`'s message (an Rlerror is its errno).
    fn p9_call<T>(
        &mut self,
        msg: &Tmessage<'_>,
        accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
    ) -> Result<T, i32> {
        let mut req = Vec::new();
        wire::encode_tmessage(0, msg, &mut req)?;
        let mut resp = Vec::new();
        self.p9
            .handle_message(&mut req.as_slice(), &mut resp)
            .map_err(|_| libc::EIO)?;
        match wire::decode_rmessage(&resp) {
            Ok((_, Rmessage::Lerror { ecode })) => Err(i32::try_from(ecode).unwrap_or(libc::EIO)),
            Ok((_, r)) => accept(r).ok_or(libc::EIO),
            Err(_) => Err(libc::EIO),
        }
    }

    /// Twalkgetattr: Twalk then Tgetattr through `p9`, answered at once
    /// (the reply is encoded into `reply`). A partial walk creates no fid
    /// and is ENOENT (ENOTDIR if it stopped at a file that is neither a
    /// directory nor a symlink); a failing getattr clunks the new fid.
    fn walk_getattr(&mut self, frame: &[u8], reply: &mut Vec<u8>) -> Result<(), i32> {
        let (tag, fid, newfid, keep, names) = match wire::decode_tmessage(frame) {
            Ok((
                tag,
                Tmessage::Walkgetattr {
                    fid,
                    newfid,
                    keep,
                    names,
                },
            )) => (tag, fid, newfid, keep, names),
            _ => return Err(libc::EINVAL),
        };
        // Walking in place would let a "not kept" answer clunk the start.
        if fid == newfid || keep > wire::WALK_KEEP_NEVER || !names.iter().all(|n| is_plain_name(n))
        {
            return Err(libc::EINVAL);
        }
        let want = names.len();
        let walk = Tmessage::Walk { fid, newfid, names };
        let qids = self.p9_call(&walk, |r| match r {
            Rmessage::Walk { qids } => Some(qids),
            _ => None,
        })?;
        if qids.len() != want {
            // p9 created no fid for a partial walk.
            return Err(match qids.last() {
                Some(q) if q.ty & (wire::QTDIR | wire::QTSYMLINK) == 0 => libc::ENOTDIR,
                _ => libc::ENOENT,
            });
        }
        let getattr = Tmessage::Getattr {
            fid: newfid,
            request_mask: wire::P9_GETATTR_BASIC,
        };
        let attr = self.p9_call(&getattr, |r| match r {
            Rmessage::Getattr(g) => Some(g),
            _ => None,
        });
        let kept = match &attr {
            Ok(a) => match keep {
                wire::WALK_KEEP_ALWAYS => true,
                wire::WALK_KEEP_DIR => a.attr.mode & libc::S_IFMT == libc::S_IFDIR,
                _ => false,
            },
            Err(_) => false,
        };
        if !kept {
            let _ = self.p9_call(&Tmessage::Clunk { fid: newfid }, |r| match r {
                Rmessage::Clunk => Some(()),
                _ => None,
            });
        }
        let msg = Rmessage::Walkgetattr {
            kept,
            qids,
            attr: attr?,
        };
        wire::encode_rmessage(tag, &msg, reply)
    }
}

/// Answers `tag` with Rlerror `errno`.
fn send_error(
    writer: &mut BufWriter<UnixStream>,
    reply: &mut Vec<u8>,
    tag: u16,
    errno: i32,
) -> io::Result<()> {
    // Our errnos are small positive constants; anything else is EIO.
    let ecode = u32::try_from(errno)
        .ok()
        .filter(|e| (1..4096).contains(e))
        .unwrap_or(libc::EIO as u32);
    wire::encode_rmessage(tag, &Rmessage::Lerror { ecode }, reply)
        .map_err(io::Error::from_raw_os_error)?;
    writer.write_all(reply).and_then(|()| writer.flush())
}

/// Sends `frame` with `fd` attached (SCM_RIGHTS) to its first byte.
/// Sends the encoded `reply` after whatever `writer` holds, with `fds`
/// attached (SCM_RIGHTS) when there are any.
fn send_reply(writer: &mut BufWriter<UnixStream>, reply: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
    if fds.is_empty() {
        return writer.write_all(reply).and_then(|()| writer.flush());
    }
    writer.flush()?;
    send_with_fds(writer.get_ref(), reply, fds)
}

/// Sends `frame` with `fds` attached to its first byte.
fn send_with_fds(sock: &UnixStream, frame: &[u8], fds: &[OwnedFd]) -> io::Result<()> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [io::IoSlice::new(frame)];
    let cmsg = [nix::sys::socket::ControlMessage::ScmRights(&raw)];
    let sent = loop {
        match nix::sys::socket::sendmsg::<()>(
            sock.as_raw_fd(),
            &iov,
            &cmsg,
            nix::sys::socket::MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    };
    // The descriptors went with the first byte; the rest is plain data.
    let rest = frame.get(sent..).unwrap_or_default();
    let mut sock = sock;
    sock.write_all(rest)
}

/// Topenfd: opens the file the request's names reach below `root`, only if
/// it is a regular file (a directory with `O_DIRECTORY`, read-only); a
/// regular file with the request's access mode, `O_APPEND` and `O_TRUNC`
/// (a read-only server refused writing ones before).
///
/// The path is resolved by the kernel with `RESOLVE_BENEATH` (no `..`, no
/// absolute paths or symlinks out of `root`) and `RESOLVE_NO_SYMLINKS` (no
/// symlink is followed at all, as 9P walks do not follow them). The file is
/// first opened `O_PATH` and its type checked, so a FIFO or device is never
/// opened for real; the real open (non-blocking, no controlling tty) must
/// then reach the same inode.
fn open_fd(root: &OwnedFd, frame: &[u8]) -> Result<OwnedFd, i32> {
    let (flags, names) = match wire::decode_tmessage(frame) {
        Ok((_, Tmessage::Openfd { flags, names })) => (flags, names),
        _ => return Err(libc::EINVAL),
    };
    let flags = i32::try_from(flags).map_err(|_| libc::EINVAL)?;
    let want_dir = flags & libc::O_DIRECTORY != 0;
    let file_flags = libc::O_ACCMODE | libc::O_APPEND | libc::O_TRUNC;
    let ok = if want_dir {
        flags == libc::O_DIRECTORY
    } else {
        flags & !file_flags == 0 && flags & libc::O_ACCMODE != libc::O_ACCMODE
    };
    if !ok {
        return Err(libc::EINVAL);
    }
    let path = beneath_path(&names)?;
    let probe = openat2(root, &path, libc::O_PATH | libc::O_NOFOLLOW)?;
    let first = fstat(&probe)?;
    check_type(first.st_mode, want_dir)?;
    reopen_with(root, &path, &first, flags & !libc::O_DIRECTORY, want_dir)
}

/// Opens `path` (which `first` describes) for real, read-only, and checks
/// that the same inode was reached.
fn reopen(root: &OwnedFd, path: &CString, first: &libc::stat, dir: bool) -> Result<OwnedFd, i32> {
    reopen_with(root, path, first, libc::O_RDONLY, dir)
}

/// [`reopen`] with `flags` (an access mode, `O_APPEND`, `O_TRUNC`).
fn reopen_with(
    root: &OwnedFd,
    path: &CString,
    first: &libc::stat,
    flags: i32,
    dir: bool,
) -> Result<OwnedFd, i32> {
    // Truncated only once known to be the file probed.
    let mut real = (flags & !libc::O_TRUNC) | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
    if dir {
        real |= libc::O_DIRECTORY;
    }
    let fd = openat2(root, path, real)?;
    let st = fstat(&fd)?;
    check_type(st.st_mode, dir)?;
    if (st.st_dev, st.st_ino) != (first.st_dev, first.st_ino) {
        // Replaced on the host between the two opens.
        return Err(libc::ESTALE);
    }
    if flags & libc::O_TRUNC != 0 {
        sys::ftruncate(&fd, 0)?;
    }
    Ok(fd)
}

/// Per name: 0 and its inode number, or an errno and 0.
type OpenResults = Vec<(u32, u64)>;

/// Topenfds: each named regular file of the directory at the request's
/// path, opened read-only as Topenfd opens one (probed with `fstatat`
/// first, so nothing but a regular file is opened for real). A name that fails has
/// its errno in the reply and no descriptor; the request fails as a whole
/// only when it is malformed.
fn open_fds(root: &OwnedFd, frame: &[u8]) -> Result<(OpenResults, Vec<OwnedFd>), i32> {
    let (dir, names) = match wire::decode_tmessage(frame) {
        Ok((_, Tmessage::Openfds { dir, names })) => (dir, names),
        _ => return Err(libc::EINVAL),
    };
    if !names.iter().all(|n| is_plain_name(n)) {
        return Err(libc::EINVAL);
    }
    let mut results = Vec::with_capacity(names.len());
    let mut fds = Vec::new();
    // The directory is resolved once; each name is then one component
    // below it (a plain name, opened without following, beneath it), and
    // probed with fstatat so nothing but a regular file is opened.
    let dir = beneath_path(&dir).and_then(|p| openat2(root, &p, libc::O_PATH | libc::O_DIRECTORY));
    for name in names {
        let opened = dir.as_ref().map_err(|e| *e).and_then(|dir| {
            let name = CString::new(name).map_err(|_| libc::EINVAL)?;
            let first = stat_at(dir, &name)?;
            check_type(first.st_mode, false)?;
            reopen(dir, &name, &first, false).map(|fd| (fd, first.st_ino))
        });
        match opened {
            Ok((fd, ino)) => {
                results.push((0, ino));
                fds.push(fd);
            }
            Err(e) => results.push((u32::try_from(e).unwrap_or(libc::EIO as u32), 0)),
        }
    }
    Ok((results, fds))
}

/// Tlookupfd: the attributes of the file at the request's names below
/// `root` (resolved as Topenfd resolves them, the last component not
/// followed), a symlink's target, and a regular file's or directory's
/// read-only descriptor when it can be opened (an unreadable file just has
/// none).
fn lookup_fd(root: &OwnedFd, frame: &[u8]) -> Result<(Rgetattr, Vec<u8>, Option<OwnedFd>), i32> {
    let names = match wire::decode_tmessage(frame) {
        Ok((_, Tmessage::Lookupfd { names })) => names,
        _ => return Err(libc::EINVAL),
    };
    let path = beneath_path(&names)?;
    let probe = openat2(root, &path, libc::O_PATH | libc::O_NOFOLLOW)?;
    let st = fstat(&probe)?;
    let mut target = Vec::new();
    let mut fd = None;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFLNK => target = readlink_fd(&probe)?,
        libc::S_IFREG => fd = reopen(root, &path, &st, false).ok(),
        libc::S_IFDIR => fd = reopen(root, &path, &st, true).ok(),
        _ => {}
    }
    Ok((attr_of(&st), target, fd))
}

/// Treaddirplus: the entries of the directory at the request's names
/// (resolved as Topenfd resolves them) from the request's offset, each
/// with its attributes (`fstatat`, not followed) and a symlink's target,
/// as many as fit the request's count (bounded by our own msize); and the
/// offset the listing goes on from, 0 once it ended. An entry removed
/// between listing and stat is left out; any other failure fails the
/// whole request (the client then lists the old way).
fn readdir_plus(root: &OwnedFd, frame: &[u8]) -> Result<(u64, Vec<u8>), i32> {
    let (offset, count, names) = match wire::decode_tmessage(frame) {
        Ok((
            _,
            Tmessage::Readdirplus {
                offset,
                count,
                names,
            },
        )) => (offset, count, names),
        _ => return Err(libc::EINVAL),
    };
    // Room for the reply's header, `next[8]` and `count[4]`.
    let budget = (count.min(MAX_MSIZE) as usize).saturating_sub(wire::HEADER_LEN + 12);
    let path = beneath_path(&names)?;
    let dir = openat2(
        root,
        &path,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
    )?;
    if offset != 0 {
        let at = i64::try_from(offset).map_err(|_| libc::EINVAL)?;
        // SAFETY: lseek on a descriptor we own; no memory is involved.
        if unsafe { libc::lseek(dir.as_raw_fd(), at, libc::SEEK_SET) } < 0 {
            return Err(last_errno());
        }
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut data = Vec::new();
    let mut entry = Vec::new();
    // The directory position before the record at hand: the `d_off` of
    // the record before it.
    let mut next_at = offset;
    loop {
        let n = gofer_protocol::dirents::getdents64(&dir, &mut buf)?;
        if n == 0 {
            return Ok((0, data));
        }
        for rec in gofer_protocol::dirents::records(&buf[..n]) {
            let rec = rec?;
            let before = next_at;
            next_at = rec.off;
            let name = rec.name;
            if name == b"." || name == b".." {
                continue;
            }
            let cname = CString::new(name).map_err(|_| libc::EIO)?;
            let st = match stat_at(&dir, &cname) {
                Ok(st) => st,
                Err(libc::ENOENT) => continue,
                Err(e) => return Err(e),
            };
            let target = if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                readlink_at(&dir, &cname)?
            } else {
                Vec::new()
            };
            let xattrs = xattr::names_for_listing(&dir, &cname);
            entry.clear();
            let e = wire::DirplusEntry {
                name,
                attr: attr_of(&st),
                target: &target,
                xattrs: xattrs.as_deref(),
            };
            wire::encode_dirplus(&e, &mut entry)?;
            if data.len() + entry.len() > budget {
                // The next call starts at this entry; a position of 0 would
                // read as "ended", and an entry that fits no reply at all
                // cannot be listed this way.
                return if data.is_empty() || before == 0 {
                    Err(libc::EINVAL)
                } else {
                    Ok((before, data))
                };
            }
            data.extend_from_slice(&entry);
        }
    }
}

/// The target of the symlink `name` in `dir`.
fn readlink_at(dir: &OwnedFd, name: &std::ffi::CStr) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is writable for its length; `name` is a C string.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(last_errno());
    }
    buf.truncate(usize::try_from(n).map_err(|_| libc::EIO)?);
    Ok(buf)
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// The target of the symlink `fd` (opened O_PATH | O_NOFOLLOW) names.
fn readlink_fd(fd: &OwnedFd) -> Result<Vec<u8>, i32> {
    // The empty name makes the descriptor itself the link.
    readlink_at(fd, c"")
}

/// Rgetattr's fields from a stat, as `p9` fills them.
fn attr_of(st: &libc::stat) -> Rgetattr {
    let ty = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => wire::QTDIR,
        libc::S_IFLNK => wire::QTSYMLINK,
        _ => 0,
    };
    // Times before 1970 are negative on the host; 9P carries them as u64.
    let t = |v: i64| v as u64;
    Rgetattr {
        valid: wire::P9_GETATTR_BASIC,
        attr: gofer_protocol::Attr {
            qid: gofer_protocol::Qid {
                ty,
                version: st.st_mtime as u32,
                path: st.st_ino,
            },
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            nlink: st.st_nlink,
            rdev: st.st_rdev,
            size: t(st.st_size),
            blksize: t(st.st_blksize),
            blocks: t(st.st_blocks),
            atime_sec: t(st.st_atime),
            atime_nsec: t(st.st_atime_nsec),
            mtime_sec: t(st.st_mtime),
            mtime_nsec: t(st.st_mtime_nsec),
            ctime_sec: t(st.st_ctime),
            ctime_nsec: t(st.st_ctime_nsec),
        },
        ..Rgetattr::default()
    }
}

/// The path below the root that `names` spell (`.` for none), each name
/// checked by the name filter.
fn beneath_path(names: &[&[u8]]) -> Result<CString, i32> {
    if !names.iter().all(|n| is_plain_name(n)) {
        return Err(libc::EINVAL);
    }
    let mut path = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            path.push(b'/');
        }
        path.extend_from_slice(n);
    }
    if path.is_empty() {
        path.push(b'.');
    }
    if path.len() >= libc::PATH_MAX as usize {
        return Err(libc::ENAMETOOLONG);
    }
    // is_plain_name refused NULs.
    CString::new(path).map_err(|_| libc::EINVAL)
}

/// Topenfd donates regular files, and directories when asked for one.
fn check_type(mode: u32, want_dir: bool) -> Result<(), i32> {
    match (mode & libc::S_IFMT, want_dir) {
        (libc::S_IFREG, false) | (libc::S_IFDIR, true) => Ok(()),
        (libc::S_IFDIR, false) => Err(libc::EISDIR),
        (_, true) => Err(libc::ENOTDIR),
        (libc::S_IFLNK, false) => Err(libc::ELOOP),
        _ => Err(libc::ENXIO),
    }
}

/// `openat2(root, path, flags | O_CLOEXEC, RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`.
fn openat2(root: &OwnedFd, path: &std::ffi::CStr, flags: i32) -> Result<OwnedFd, i32> {
    // SAFETY: open_how is plain data; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        // SAFETY: `path` is a NUL-terminated string and `how` a valid
        // open_how of the size passed; both outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if r >= 0 {
            let fd = RawFd::try_from(r).map_err(|_| libc::EIO)?;
            // SAFETY: the kernel just returned this new descriptor; we own it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = last_errno();
        if e != libc::EINTR {
            // A symlink met on the way is ELOOP (RESOLVE_NO_SYMLINKS), as
            // 9P would refuse to walk through it.
            return Err(e);
        }
    }
}

/// Whether a request would change the served tree (refused with EROFS by
/// a read-only server). Requests this module cannot decode are left to
/// the name filter and to `p9`.
fn changes_tree(frame: &[u8]) -> bool {
    let write_access =
        |flags: u32| flags & (libc::O_ACCMODE | libc::O_TRUNC | libc::O_APPEND) as u32 != 0;
    match frame[4] {
        wire::TLCREATE
        | wire::TSYMLINK
        | wire::TMKNOD
        | wire::TMKDIR
        | wire::TLINK
        | wire::TRENAME
        | wire::TRENAMEAT
        | wire::TUNLINKAT
        | wire::TSETATTR
        | wire::TWRITE
        | wire::TXATTRCREATE
        | wire::TCREATEAT
        | wire::TLINKAT
        | wire::TREMOVEAT
        | wire::TRENAMEAT2
        | wire::TSETATTRAT
        | wire::TSETXATTRAT
        | wire::TREMOVEXATTRAT => true,
        wire::TLOPEN | wire::TOPENFD => match wire::decode_tmessage(frame) {
            Ok((_, Tmessage::Lopen { flags, .. })) | Ok((_, Tmessage::Openfd { flags, .. })) => {
                write_access(flags)
            }
            // Malformed: refused by its handler anyway.
            _ => true,
        },
        _ => false,
    }
}

/// A path's parent directory, opened `O_PATH` beneath `root` as Topenfd
/// resolves paths, and its last name (checked by the name filter). The
/// empty path is the root itself, as `(root, ".")`.
fn parent_of(root: &OwnedFd, names: &[&[u8]]) -> Result<(OwnedFd, CString), i32> {
    let Some((last, dir)) = names.split_last() else {
        let dup = openat2(root, c".", libc::O_PATH | libc::O_DIRECTORY)?;
        return Ok((dup, c".".to_owned()));
    };
    let path = beneath_path(dir)?;
    let dirfd = openat2(
        root,
        &path,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )?;
    if !is_plain_name(last) {
        return Err(libc::EINVAL);
    }
    let name = CString::new(*last).map_err(|_| libc::EINVAL)?;
    Ok((dirfd, name))
}

/// `-1` is the errno.
fn check(r: libc::c_int) -> Result<(), i32> {
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

/// The attributes of `name` in `dir`, not followed.
fn stat_at(dir: &OwnedFd, name: &CString) -> Result<libc::stat, i32> {
    // SAFETY: stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and `st` a valid out-parameter.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

/// Tcreateat: makes the file, then gives it the caller's owner and the
/// exact permission bits asked for (this process's umask and ownership
/// play no part). Every call works on (directory descriptor, plain name)
/// and none follows a final symlink: O_CREAT | O_EXCL | O_NOFOLLOW fails
/// on any existing name, symlinks included.
fn create_at(root: &OwnedFd, frame: &[u8]) -> Result<(Rgetattr, Option<OwnedFd>), i32> {
    let (mode, uid, gid, names, target) = match wire::decode_tmessage(frame) {
        Ok((
            _,
            Tmessage::Createat {
                mode,
                uid,
                gid,
                names,
                target,
                ..
            },
        )) => (mode, uid, gid, names, target),
        _ => return Err(libc::EINVAL),
    };
    if names.is_empty() {
        return Err(libc::EEXIST);
    }
    let (dir, name) = parent_of(root, &names)?;
    let d = dir.as_raw_fd();
    let perm = mode & 0o7777;
    // A Gofer without CAP_CHOWN keeps its own ids (rootless).
    let chowned = |r: Result<(), i32>| match r {
        Err(libc::EPERM) => Ok(()),
        r => r,
    };
    let nofollow = libc::AT_SYMLINK_NOFOLLOW;
    let fd = match mode & libc::S_IFMT {
        libc::S_IFREG => {
            let flags = libc::O_CREAT
                | libc::O_EXCL
                | libc::O_RDWR
                | libc::O_NOFOLLOW
                | libc::O_NOCTTY
                | libc::O_NONBLOCK;
            let fd = sys::openat(d, &name, flags, 0o600)?;
            chowned(sys::fchownat(
                fd.as_raw_fd(),
                c"",
                uid,
                gid,
                libc::AT_EMPTY_PATH,
            ))?;
            sys::fchmod(&fd, perm)?;
            Some(fd)
        }
        libc::S_IFDIR => {
            sys::mkdirat(d, &name, 0o700)?;
            chowned(sys::fchownat(d, &name, uid, gid, nofollow))?;
            sys::fchmodat(d, &name, perm)?;
            None
        }
        libc::S_IFLNK => {
            let target = CString::new(target).map_err(|_| libc::EINVAL)?;
            if target.is_empty() {
                return Err(libc::ENOENT);
            }
            sys::symlinkat(&target, d, &name)?;
            chowned(sys::fchownat(d, &name, uid, gid, nofollow))?;
            None
        }
        ty @ (libc::S_IFIFO | libc::S_IFSOCK) => {
            sys::mknodat(d, &name, ty | 0o600)?;
            chowned(sys::fchownat(d, &name, uid, gid, nofollow))?;
            sys::fchmodat(d, &name, perm)?;
            None
        }
        // Devices are the Sentry's (devtmpfs); none is made on the host.
        _ => return Err(libc::EPERM),
    };
    let st = match &fd {
        Some(fd) => fstat(fd)?,
        None => stat_at(&dir, &name)?,
    };
    Ok((attr_of(&st), fd))
}

/// Tlinkat, Tremoveat, Trenameat2, Tsetattrat: the change, made on
/// (directory descriptor, plain name) pairs that never follow a final
/// symlink, and the reply encoded into `reply`.
fn change_at(root: &OwnedFd, frame: &[u8], reply: &mut Vec<u8>) -> Result<(), i32> {
    let (tag, msg) = wire::decode_tmessage(frame).map_err(|_| libc::EINVAL)?;
    let out = match msg {
        Tmessage::Linkat { old, new } => {
            if old.is_empty() || new.is_empty() {
                return Err(libc::EPERM);
            }
            let (od, on) = parent_of(root, &old)?;
            let (nd, nn) = parent_of(root, &new)?;
            sys::linkat(od.as_raw_fd(), &on, nd.as_raw_fd(), &nn)?;
            Rmessage::Linkat {
                attr: Box::new(attr_of(&stat_at(&nd, &nn)?)),
            }
        }
        Tmessage::Removeat { flags, names } => {
            if names.is_empty() {
                return Err(libc::EBUSY);
            }
            let flags = i32::try_from(flags).map_err(|_| libc::EINVAL)?;
            if flags & !libc::AT_REMOVEDIR != 0 {
                return Err(libc::EINVAL);
            }
            let (d, n) = parent_of(root, &names)?;
            sys::unlinkat(d.as_raw_fd(), &n, flags)?;
            Rmessage::Removeat
        }
        Tmessage::Renameat2 { flags, old, new } => {
            if old.is_empty() || new.is_empty() {
                return Err(libc::EBUSY);
            }
            if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
                return Err(libc::EINVAL);
            }
            let (od, on) = parent_of(root, &old)?;
            let (nd, nn) = parent_of(root, &new)?;
            sys::renameat2(od.as_raw_fd(), &on, nd.as_raw_fd(), &nn, flags)?;
            Rmessage::Renameat2
        }
        Tmessage::Setattrat { attr, names } => Rmessage::Setattrat {
            attr: Box::new(attr_of(&set_attr_at(root, &names, &attr)?)),
        },
        _ => return Err(libc::EINVAL),
    };
    wire::encode_rmessage(tag, &out, reply)
}

/// Tsetattrat's changes, in Tsetattr's order (mode, owner, size, times),
/// on the file at `names`, not followed; returns its attributes after.
fn set_attr_at(
    root: &OwnedFd,
    names: &[&[u8]],
    a: &gofer_protocol::SetAttr,
) -> Result<libc::stat, i32> {
    let (dir, name) = parent_of(root, names)?;
    let d = dir.as_raw_fd();
    let before = stat_at(&dir, &name)?;
    let is_link = before.st_mode & libc::S_IFMT == libc::S_IFLNK;
    if a.valid & wire::P9_SETATTR_MODE != 0 {
        if is_link {
            return Err(libc::EOPNOTSUPP);
        }
        // fchmodat follows a final symlink; there is none (just checked),
        // and in the Gofer's pivot_root one could not lead out anyway.
        sys::fchmodat(d, &name, a.mode & 0o7777)?;
    }
    if a.valid & (wire::P9_SETATTR_UID | wire::P9_SETATTR_GID) != 0 {
        let pick = |bit: u32, id: u32| if a.valid & bit != 0 { id } else { u32::MAX };
        let uid = pick(wire::P9_SETATTR_UID, a.uid);
        let gid = pick(wire::P9_SETATTR_GID, a.gid);
        sys::fchownat(d, &name, uid, gid, libc::AT_SYMLINK_NOFOLLOW)?;
    }
    if a.valid & wire::P9_SETATTR_SIZE != 0 {
        match before.st_mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFDIR => return Err(libc::EISDIR),
            _ => return Err(libc::EINVAL),
        }
        let size = i64::try_from(a.size).map_err(|_| libc::EFBIG)?;
        let flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
        let fd = sys::openat(d, &name, flags, 0)?;
        let st = fstat(&fd)?;
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) {
            return Err(libc::ESTALE);
        }
        sys::ftruncate(&fd, size)?;
    }
    if a.valid & (wire::P9_SETATTR_ATIME | wire::P9_SETATTR_MTIME) != 0 {
        let time = |set: u32, given: u32, sec: u64, nsec: u64| libc::timespec {
            tv_sec: sec as libc::time_t,
            tv_nsec: if a.valid & set == 0 {
                libc::UTIME_OMIT
            } else if a.valid & given == 0 {
                libc::UTIME_NOW
            } else {
                nsec as libc::c_long
            },
        };
        let times = [
            time(
                wire::P9_SETATTR_ATIME,
                wire::P9_SETATTR_ATIME_SET,
                a.atime_sec,
                a.atime_nsec,
            ),
            time(
                wire::P9_SETATTR_MTIME,
                wire::P9_SETATTR_MTIME_SET,
                a.mtime_sec,
                a.mtime_nsec,
            ),
        ];
        sys::utimensat_nofollow(d, &name, &times)?;
    }
    stat_at(&dir, &name)
}

/// The host calls that change the tree, on (directory descriptor, name):
/// each a safe wrapper returning the errno.
mod sys {
    use std::ffi::CStr;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    use super::check;

    pub fn openat(d: RawFd, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        let raw = unsafe { libc::openat(d, name.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        check(raw)?;
        // SAFETY: openat just returned this new descriptor; we own it.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }

    pub fn mkdirat(d: RawFd, name: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::mkdirat(d, name.as_ptr(), mode) })
    }

    pub fn mknodat(d: RawFd, name: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::mknodat(d, name.as_ptr(), mode, 0) })
    }

    pub fn symlinkat(target: &CStr, d: RawFd, name: &CStr) -> Result<(), i32> {
        // SAFETY: both strings are NUL-terminated and outlive the call.
        check(unsafe { libc::symlinkat(target.as_ptr(), d, name.as_ptr()) })
    }

    pub fn linkat(od: RawFd, old: &CStr, nd: RawFd, new: &CStr) -> Result<(), i32> {
        // SAFETY: both strings are NUL-terminated and outlive the call;
        // flags 0: a final symlink is linked, not followed.
        check(unsafe { libc::linkat(od, old.as_ptr(), nd, new.as_ptr(), 0) })
    }

    pub fn unlinkat(d: RawFd, name: &CStr, flags: i32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::unlinkat(d, name.as_ptr(), flags) })
    }

    pub fn renameat2(od: RawFd, old: &CStr, nd: RawFd, new: &CStr, flags: u32) -> Result<(), i32> {
        // SAFETY: both strings are NUL-terminated and outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                od,
                old.as_ptr(),
                nd,
                new.as_ptr(),
                flags,
            )
        };
        check(if r < 0 { -1 } else { 0 })
    }

    pub fn fchownat(d: RawFd, name: &CStr, uid: u32, gid: u32, flags: i32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::fchownat(d, name.as_ptr(), uid, gid, flags) })
    }

    pub fn fchmodat(d: RawFd, name: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::fchmodat(d, name.as_ptr(), mode, 0) })
    }

    pub fn fchmod(fd: &OwnedFd, mode: u32) -> Result<(), i32> {
        // SAFETY: plain integer arguments on an open descriptor.
        check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
    }

    pub fn ftruncate(fd: &OwnedFd, size: i64) -> Result<(), i32> {
        // SAFETY: plain integer arguments on an open descriptor.
        check(unsafe { libc::ftruncate(fd.as_raw_fd(), size) })
    }

    pub fn utimensat_nofollow(
        d: RawFd,
        name: &CStr,
        times: &[libc::timespec; 2],
    ) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and `times` two timespecs; both
        // outlive the call.
        check(unsafe {
            libc::utimensat(d, name.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
        })
    }
}

fn fstat(fd: &OwnedFd) -> Result<libc::stat, i32> {
    // SAFETY: stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is a valid out-parameter.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(last_errno());
    }
    Ok(st)
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
    confine_with_binds(root, read_only, &[])
}

/// [`confine_with`], with `binds` mounted into the tree first (they keep
/// their own read-only or read-write flag; the root's remount covers only
/// the root).
pub fn confine_with_binds(
    root: &Path,
    read_only: bool,
    binds: &[crate::binds::Bind],
) -> io::Result<PathBuf> {
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
    crate::binds::apply(root, binds)?;
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
    use gofer_protocol::wire::Tmessage;

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
