//! 9P2000.L message encoding.
//!
//! A message on the wire is `size[4] type[1] tag[2] body`, little-endian, where
//! `size` counts the whole message including itself. Strings are `len[2]`
//! followed by that many bytes (no NUL); a qid is `type[1] version[4] path[8]`.
//!
//! Both directions are here: the client encodes T-messages and decodes
//! R-messages; the tests (and the Gofer's name filter) decode T-messages and
//! encode R-messages. Decoders work on one whole frame, borrow from it, and
//! reject anything that is not exactly the expected shape (short bodies,
//! trailing bytes, a size field that disagrees with the frame) with `EIO`. No
//! decoder allocates more than a small multiple of the frame's own length.
//!
//! Errors are Linux errno values, like everything the client returns.

use crate::client::{Attr, DirEntry, Qid, SetAttr, StatFs};

/// `size[4] type[1] tag[2]`.
pub const HEADER_LEN: usize = 7;
/// Bytes of a qid on the wire.
pub const QID_LEN: usize = 13;
/// The bytes of an Rread or Rreaddir before its data: header and `count[4]`.
pub const RREAD_HEADER_LEN: u32 = 11;
/// The bytes of a Twrite before its data: header, fid, offset and count.
pub const TWRITE_HEADER_LEN: u32 = 23;
/// The tag of Tversion.
pub const NOTAG: u16 = 0xffff;
/// "No fid" (Tattach's afid).
pub const NOFID: u32 = !0;
/// "No numeric user name" (Tattach's n_uname).
pub const NONUNAME: u32 = !0;
/// At most this many names in one Twalk.
pub const MAXWELEM: usize = 16;
/// The protocol version string.
pub const VERSION_9P2000L: &[u8] = b"9P2000.L";
/// Tgetattr's request mask for every field of `struct stat`.
pub const P9_GETATTR_BASIC: u64 = 0x7ff;

/// Tsetattr's `valid` bits.
pub const P9_SETATTR_MODE: u32 = 0x1;
pub const P9_SETATTR_UID: u32 = 0x2;
pub const P9_SETATTR_GID: u32 = 0x4;
pub const P9_SETATTR_SIZE: u32 = 0x8;
pub const P9_SETATTR_ATIME: u32 = 0x10;
pub const P9_SETATTR_MTIME: u32 = 0x20;
pub const P9_SETATTR_CTIME: u32 = 0x40;
pub const P9_SETATTR_ATIME_SET: u32 = 0x80;
pub const P9_SETATTR_MTIME_SET: u32 = 0x100;

/// Qid type bits.
pub const QTDIR: u8 = 0x80;
pub const QTSYMLINK: u8 = 0x02;

/// Message types (each R-message is its T-message plus one).
pub const TLERROR: u8 = 6;
pub const RLERROR: u8 = 7;
pub const TSTATFS: u8 = 8;
pub const RSTATFS: u8 = 9;
pub const TLOPEN: u8 = 12;
pub const RLOPEN: u8 = 13;
pub const TLCREATE: u8 = 14;
pub const RLCREATE: u8 = 15;
pub const TSYMLINK: u8 = 16;
pub const RSYMLINK: u8 = 17;
pub const TMKNOD: u8 = 18;
pub const RMKNOD: u8 = 19;
pub const TRENAME: u8 = 20;
pub const RRENAME: u8 = 21;
pub const TREADLINK: u8 = 22;
pub const RREADLINK: u8 = 23;
pub const TGETATTR: u8 = 24;
pub const RGETATTR: u8 = 25;
pub const TSETATTR: u8 = 26;
pub const RSETATTR: u8 = 27;
pub const TXATTRWALK: u8 = 30;
pub const TXATTRCREATE: u8 = 32;
pub const TREADDIR: u8 = 40;
pub const RREADDIR: u8 = 41;
pub const TFSYNC: u8 = 50;
pub const RFSYNC: u8 = 51;
pub const TLOCK: u8 = 52;
pub const TGETLOCK: u8 = 54;
pub const TLINK: u8 = 70;
pub const RLINK: u8 = 71;
pub const TMKDIR: u8 = 72;
pub const RMKDIR: u8 = 73;
pub const TRENAMEAT: u8 = 74;
pub const RRENAMEAT: u8 = 75;
pub const TUNLINKAT: u8 = 76;
pub const RUNLINKAT: u8 = 77;
pub const TVERSION: u8 = 100;
pub const RVERSION: u8 = 101;
pub const TAUTH: u8 = 102;
pub const TATTACH: u8 = 104;
pub const RATTACH: u8 = 105;
pub const TFLUSH: u8 = 108;
pub const RFLUSH: u8 = 109;
pub const TWALK: u8 = 110;
pub const RWALK: u8 = 111;
pub const TREAD: u8 = 116;
pub const RREAD: u8 = 117;
pub const TWRITE: u8 = 118;
pub const RWRITE: u8 = 119;
pub const TCLUNK: u8 = 120;
pub const RCLUNK: u8 = 121;
pub const TREMOVE: u8 = 122;

// runsc-rs additions, outside 9P2000.L's type range (see the "9P additions"
// section of docs/architecture.md). Only our Gofer answers them.
/// Walk, then getattr of the file reached, in one round trip.
pub const TWALKGETATTR: u8 = 200;
pub const RWALKGETATTR: u8 = 201;
/// Open a file by its path from the served root; the reply carries the
/// opened host descriptor (SCM_RIGHTS).
pub const TOPENFD: u8 = 202;
pub const ROPENFD: u8 = 203;
/// Look a path up below the served root: attributes, a symlink's target,
/// and a regular file's descriptor (SCM_RIGHTS), in one round trip.
pub const TLOOKUPFD: u8 = 204;
pub const RLOOKUPFD: u8 = 205;
/// Create a file of any type at a path (owner given, for a writable
/// server); a new regular file's read-write descriptor comes back.
pub const TCREATEAT: u8 = 206;
pub const RCREATEAT: u8 = 207;
/// Hard link between two paths.
pub const TLINKAT: u8 = 208;
pub const RLINKAT: u8 = 209;
/// Unlink or rmdir a path.
pub const TREMOVEAT: u8 = 210;
pub const RREMOVEAT: u8 = 211;
/// Rename between two paths, with renameat2 flags.
pub const TRENAMEAT2: u8 = 212;
pub const RRENAMEAT2: u8 = 213;
/// Change the attributes of the file at a path; the new ones come back.
pub const TSETATTRAT: u8 = 214;
pub const RSETATTRAT: u8 = 215;
/// List a directory at a path with every entry's attributes (and a
/// symlink's target), from a position, as much as fits one reply.
pub const TREADDIRPLUS: u8 = 216;
pub const RREADDIRPLUS: u8 = 217;
/// Open several regular files of one directory read-only; the reply
/// carries their descriptors (SCM_RIGHTS).
pub const TOPENFDS: u8 = 218;
pub const ROPENFDS: u8 = 219;
/// The extended attribute of a file at a path, at most `size` bytes of it.
pub const TGETXATTRAT: u8 = 220;
pub const RGETXATTRAT: u8 = 221;
/// The names of a file's extended attributes (NUL-terminated each).
pub const TLISTXATTRAT: u8 = 222;
pub const RLISTXATTRAT: u8 = 223;
/// Sets an extended attribute of the file at a path (setxattr's flags).
pub const TSETXATTRAT: u8 = 224;
pub const RSETXATTRAT: u8 = 225;
/// Removes an extended attribute of the file at a path.
pub const TREMOVEXATTRAT: u8 = 226;
pub const RREMOVEXATTRAT: u8 = 227;
/// Most files one Topenfds may name.
pub const MAX_OPENFDS: usize = 32;

/// Twalkgetattr `keep`: the new fid stays whatever the walk reached.
pub const WALK_KEEP_ALWAYS: u32 = 0;
/// Twalkgetattr `keep`: the new fid stays only if it names a directory.
pub const WALK_KEEP_DIR: u32 = 1;
/// Twalkgetattr `keep`: the new fid never stays (attributes only).
pub const WALK_KEEP_NEVER: u32 = 2;
/// Most names a Topenfd path may have (a PATH_MAX path has fewer).
pub const MAX_OPENFD_NAMES: usize = 4096;

/// A request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tmessage<'a> {
    Version {
        msize: u32,
        version: &'a [u8],
    },
    Attach {
        fid: u32,
        afid: u32,
        uname: &'a [u8],
        aname: &'a [u8],
        n_uname: u32,
    },
    Walk {
        fid: u32,
        newfid: u32,
        names: Vec<&'a [u8]>,
    },
    Getattr {
        fid: u32,
        request_mask: u64,
    },
    Setattr {
        fid: u32,
        attr: SetAttr,
    },
    Lopen {
        fid: u32,
        flags: u32,
    },
    Lcreate {
        fid: u32,
        name: &'a [u8],
        flags: u32,
        mode: u32,
        gid: u32,
    },
    Symlink {
        dfid: u32,
        name: &'a [u8],
        target: &'a [u8],
        gid: u32,
    },
    Mknod {
        dfid: u32,
        name: &'a [u8],
        mode: u32,
        major: u32,
        minor: u32,
        gid: u32,
    },
    Mkdir {
        dfid: u32,
        name: &'a [u8],
        mode: u32,
        gid: u32,
    },
    Link {
        dfid: u32,
        fid: u32,
        name: &'a [u8],
    },
    Renameat {
        olddfid: u32,
        oldname: &'a [u8],
        newdfid: u32,
        newname: &'a [u8],
    },
    Unlinkat {
        dfid: u32,
        name: &'a [u8],
        flags: u32,
    },
    Read {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Write {
        fid: u32,
        offset: u64,
        data: &'a [u8],
    },
    Readdir {
        fid: u32,
        offset: u64,
        count: u32,
    },
    Readlink {
        fid: u32,
    },
    Statfs {
        fid: u32,
    },
    Fsync {
        fid: u32,
        datasync: u32,
    },
    Flush {
        oldtag: u16,
    },
    Clunk {
        fid: u32,
    },
    /// Twalk `names` from `fid` into `newfid`, then Tgetattr of `newfid`;
    /// `keep` (`WALK_KEEP_*`) says whether `newfid` outlives the reply.
    Walkgetattr {
        fid: u32,
        newfid: u32,
        keep: u32,
        names: Vec<&'a [u8]>,
    },
    /// Opens the file at `names` below the served root (no fid involved);
    /// `flags` is `O_RDONLY`, or `O_RDONLY | O_DIRECTORY` for a directory.
    Openfd {
        flags: u32,
        names: Vec<&'a [u8]>,
    },
    /// Looks up the file at `names` below the served root (no fid involved).
    Lookupfd {
        names: Vec<&'a [u8]>,
    },
    /// Creates the file at `names` (the last name is the new one) of the
    /// type in `mode` (S_IFREG, S_IFDIR, S_IFLNK with `target`, S_IFIFO,
    /// S_IFSOCK), with the permission bits of `mode`, owned by `uid`/`gid`.
    Createat {
        mode: u32,
        rdev: u64,
        uid: u32,
        gid: u32,
        names: Vec<&'a [u8]>,
        target: &'a [u8],
    },
    /// Makes `new` another name of the file at `old` (not followed).
    Linkat {
        old: Vec<&'a [u8]>,
        new: Vec<&'a [u8]>,
    },
    /// Removes the name at `names`; `flags`: 0 or AT_REMOVEDIR.
    Removeat {
        flags: u32,
        names: Vec<&'a [u8]>,
    },
    /// Renames `old` to `new`; `flags`: renameat2's.
    Renameat2 {
        flags: u32,
        old: Vec<&'a [u8]>,
        new: Vec<&'a [u8]>,
    },
    /// Tsetattr of the file at `names` (not followed).
    Setattrat {
        attr: SetAttr,
        names: Vec<&'a [u8]>,
    },
    /// Lists the directory at `names` from `offset` (0: the start; else a
    /// `next` an earlier reply gave), in a reply of at most `count` bytes of
    /// entries.
    Readdirplus {
        offset: u64,
        count: u32,
        names: Vec<&'a [u8]>,
    },
    /// Opens the regular files `names` (each one plain name, at most
    /// [`MAX_OPENFDS`]) of the directory at `dir`, read-only.
    Openfds {
        dir: Vec<&'a [u8]>,
        names: Vec<&'a [u8]>,
    },
    /// The value of the extended attribute `name` of the file at `names`
    /// (not followed), if it has at most `size` bytes (else ERANGE).
    Getxattrat {
        size: u32,
        names: Vec<&'a [u8]>,
        name: &'a [u8],
    },
    /// The attribute names of the file at `names` (not followed), if they
    /// fit `size` bytes (else ERANGE).
    Listxattrat {
        size: u32,
        names: Vec<&'a [u8]>,
    },
    /// Sets `name` to `value` on the file at `names` (not followed);
    /// `flags`: XATTR_CREATE, XATTR_REPLACE.
    Setxattrat {
        flags: u32,
        names: Vec<&'a [u8]>,
        name: &'a [u8],
        value: &'a [u8],
    },
    /// Removes `name` from the file at `names` (not followed).
    Removexattrat {
        names: Vec<&'a [u8]>,
        name: &'a [u8],
    },
}

/// Rgetattr in full (the client's [`Attr`] plus the fields it does not use).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rgetattr {
    pub valid: u64,
    pub attr: Attr,
    pub btime_sec: u64,
    pub btime_nsec: u64,
    pub gen: u64,
    pub data_version: u64,
}

/// A reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rmessage<'a> {
    Lerror {
        ecode: u32,
    },
    Version {
        msize: u32,
        version: &'a [u8],
    },
    Attach {
        qid: Qid,
    },
    Walk {
        qids: Vec<Qid>,
    },
    Getattr(Box<Rgetattr>),
    Setattr,
    Lopen {
        qid: Qid,
        iounit: u32,
    },
    Lcreate {
        qid: Qid,
        iounit: u32,
    },
    Symlink {
        qid: Qid,
    },
    Mknod {
        qid: Qid,
    },
    Mkdir {
        qid: Qid,
    },
    Link,
    Renameat,
    Unlinkat,
    Read {
        data: &'a [u8],
    },
    Write {
        count: u32,
    },
    /// The raw entries; see [`decode_dirents`].
    Readdir {
        data: &'a [u8],
    },
    Readlink {
        target: &'a [u8],
    },
    Statfs(StatFs),
    Fsync,
    Flush,
    Clunk,
    /// The qids of every name walked, whether the new fid was kept, and the
    /// attributes of the file reached.
    Walkgetattr {
        kept: bool,
        qids: Vec<Qid>,
        attr: Box<Rgetattr>,
    },
    /// The body is empty; the descriptor travels as SCM_RIGHTS with the
    /// frame's first byte.
    Openfd,
    /// The file's attributes; `fd`: a read-only descriptor of it comes with
    /// the frame (regular files the server could open); `target`: a
    /// symlink's target (empty otherwise).
    Lookupfd {
        fd: bool,
        attr: Box<Rgetattr>,
        target: &'a [u8],
    },
    /// The new file's attributes; `fd`: a new regular file's read-write
    /// descriptor comes with the frame.
    Createat {
        fd: bool,
        attr: Box<Rgetattr>,
    },
    /// The linked file's attributes (its new link count).
    Linkat {
        attr: Box<Rgetattr>,
    },
    Removeat,
    Renameat2,
    /// The file's attributes after the change.
    Setattrat {
        attr: Box<Rgetattr>,
    },
    /// Entries (see [`encode_dirplus`]), and where the listing goes on
    /// (0: it ended).
    Readdirplus {
        next: u64,
        data: &'a [u8],
    },
    /// Per name asked for: 0 and the file's inode number (its descriptor
    /// comes with the frame, in order), or an errno and 0.
    Openfds {
        results: Vec<(u32, u64)>,
    },
    Getxattrat {
        value: &'a [u8],
    },
    /// The names, each ending in NUL.
    Listxattrat {
        list: &'a [u8],
    },
    Setxattrat,
    Removexattrat,
}

impl Tmessage<'_> {
    /// The message's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Tmessage::Version { .. } => TVERSION,
            Tmessage::Attach { .. } => TATTACH,
            Tmessage::Walk { .. } => TWALK,
            Tmessage::Getattr { .. } => TGETATTR,
            Tmessage::Setattr { .. } => TSETATTR,
            Tmessage::Lopen { .. } => TLOPEN,
            Tmessage::Lcreate { .. } => TLCREATE,
            Tmessage::Symlink { .. } => TSYMLINK,
            Tmessage::Mknod { .. } => TMKNOD,
            Tmessage::Mkdir { .. } => TMKDIR,
            Tmessage::Link { .. } => TLINK,
            Tmessage::Renameat { .. } => TRENAMEAT,
            Tmessage::Unlinkat { .. } => TUNLINKAT,
            Tmessage::Read { .. } => TREAD,
            Tmessage::Write { .. } => TWRITE,
            Tmessage::Readdir { .. } => TREADDIR,
            Tmessage::Readlink { .. } => TREADLINK,
            Tmessage::Statfs { .. } => TSTATFS,
            Tmessage::Fsync { .. } => TFSYNC,
            Tmessage::Flush { .. } => TFLUSH,
            Tmessage::Clunk { .. } => TCLUNK,
            Tmessage::Walkgetattr { .. } => TWALKGETATTR,
            Tmessage::Openfd { .. } => TOPENFD,
            Tmessage::Lookupfd { .. } => TLOOKUPFD,
            Tmessage::Createat { .. } => TCREATEAT,
            Tmessage::Linkat { .. } => TLINKAT,
            Tmessage::Removeat { .. } => TREMOVEAT,
            Tmessage::Renameat2 { .. } => TRENAMEAT2,
            Tmessage::Setattrat { .. } => TSETATTRAT,
            Tmessage::Readdirplus { .. } => TREADDIRPLUS,
            Tmessage::Openfds { .. } => TOPENFDS,
            Tmessage::Getxattrat { .. } => TGETXATTRAT,
            Tmessage::Listxattrat { .. } => TLISTXATTRAT,
            Tmessage::Setxattrat { .. } => TSETXATTRAT,
            Tmessage::Removexattrat { .. } => TREMOVEXATTRAT,
        }
    }

    /// The file names this request carries (for a server's name checks).
    pub fn names(&self) -> Vec<&[u8]> {
        match self {
            Tmessage::Walk { names, .. }
            | Tmessage::Walkgetattr { names, .. }
            | Tmessage::Openfd { names, .. }
            | Tmessage::Lookupfd { names }
            | Tmessage::Createat { names, .. }
            | Tmessage::Removeat { names, .. }
            | Tmessage::Setattrat { names, .. }
            | Tmessage::Readdirplus { names, .. }
            | Tmessage::Getxattrat { names, .. }
            | Tmessage::Listxattrat { names, .. }
            | Tmessage::Setxattrat { names, .. }
            | Tmessage::Removexattrat { names, .. } => names.clone(),
            Tmessage::Linkat { old, new }
            | Tmessage::Renameat2 { old, new, .. }
            | Tmessage::Openfds {
                dir: old,
                names: new,
            } => old.iter().chain(new.iter()).copied().collect(),
            Tmessage::Lcreate { name, .. }
            | Tmessage::Symlink { name, .. }
            | Tmessage::Mknod { name, .. }
            | Tmessage::Mkdir { name, .. }
            | Tmessage::Link { name, .. }
            | Tmessage::Unlinkat { name, .. } => vec![name],
            Tmessage::Renameat {
                oldname, newname, ..
            } => vec![oldname, newname],
            _ => Vec::new(),
        }
    }
}

impl Rmessage<'_> {
    /// The message's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Rmessage::Lerror { .. } => RLERROR,
            Rmessage::Version { .. } => RVERSION,
            Rmessage::Attach { .. } => RATTACH,
            Rmessage::Walk { .. } => RWALK,
            Rmessage::Getattr(_) => RGETATTR,
            Rmessage::Setattr => RSETATTR,
            Rmessage::Lopen { .. } => RLOPEN,
            Rmessage::Lcreate { .. } => RLCREATE,
            Rmessage::Symlink { .. } => RSYMLINK,
            Rmessage::Mknod { .. } => RMKNOD,
            Rmessage::Mkdir { .. } => RMKDIR,
            Rmessage::Link => RLINK,
            Rmessage::Renameat => RRENAMEAT,
            Rmessage::Unlinkat => RUNLINKAT,
            Rmessage::Read { .. } => RREAD,
            Rmessage::Write { .. } => RWRITE,
            Rmessage::Readdir { .. } => RREADDIR,
            Rmessage::Readlink { .. } => RREADLINK,
            Rmessage::Statfs(_) => RSTATFS,
            Rmessage::Fsync => RFSYNC,
            Rmessage::Flush => RFLUSH,
            Rmessage::Clunk => RCLUNK,
            Rmessage::Walkgetattr { .. } => RWALKGETATTR,
            Rmessage::Openfd => ROPENFD,
            Rmessage::Lookupfd { .. } => RLOOKUPFD,
            Rmessage::Createat { .. } => RCREATEAT,
            Rmessage::Linkat { .. } => RLINKAT,
            Rmessage::Removeat => RREMOVEAT,
            Rmessage::Renameat2 => RRENAMEAT2,
            Rmessage::Setattrat { .. } => RSETATTRAT,
            Rmessage::Readdirplus { .. } => RREADDIRPLUS,
            Rmessage::Openfds { .. } => ROPENFDS,
            Rmessage::Getxattrat { .. } => RGETXATTRAT,
            Rmessage::Listxattrat { .. } => RLISTXATTRAT,
            Rmessage::Setxattrat => RSETXATTRAT,
            Rmessage::Removexattrat => RREMOVEXATTRAT,
        }
    }

    /// How many descriptors (SCM_RIGHTS) travel with this reply.
    pub fn fds(&self) -> usize {
        match self {
            Rmessage::Openfd => 1,
            Rmessage::Lookupfd { fd, .. } | Rmessage::Createat { fd, .. } => usize::from(*fd),
            Rmessage::Openfds { results } => results.iter().filter(|r| r.0 == 0).count(),
            _ => 0,
        }
    }
}

// ---------------------------------------------------------------------------
// Encoding

/// Appends little-endian fields to a frame under construction.
struct Enc<'v> {
    out: &'v mut Vec<u8>,
}

impl Enc<'_> {
    fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// A string: `len[2]` then the bytes. Longer than 65535 bytes is
    /// `ENAMETOOLONG`.
    fn str(&mut self, s: &[u8]) -> Result<(), i32> {
        let len = u16::try_from(s.len()).map_err(|_| libc::ENAMETOOLONG)?;
        self.u16(len);
        self.out.extend_from_slice(s);
        Ok(())
    }
    /// Counted data: `count[4]` then the bytes.
    fn data(&mut self, d: &[u8]) -> Result<(), i32> {
        let len = u32::try_from(d.len()).map_err(|_| libc::EINVAL)?;
        self.u32(len);
        self.out.extend_from_slice(d);
        Ok(())
    }
    fn qid(&mut self, q: &Qid) {
        self.u8(q.ty);
        self.u32(q.version);
        self.u64(q.path);
    }
}

/// Starts a frame in `out` (cleared first): a size placeholder, type and tag.
fn begin(out: &mut Vec<u8>, ty: u8, tag: u16) -> Enc<'_> {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    let mut e = Enc { out };
    e.u8(ty);
    e.u16(tag);
    e
}

/// Writes the frame's size into its first four bytes.
fn finish(out: &mut [u8]) -> Result<(), i32> {
    let size = u32::try_from(out.len()).map_err(|_| libc::EINVAL)?;
    out[..4].copy_from_slice(&size.to_le_bytes());
    Ok(())
}

/// Encodes a request as one frame into `out` (replacing its contents).
///
/// Errors: a string longer than 65535 bytes is `ENAMETOOLONG`; a walk of more
/// than [`MAXWELEM`] names or data over 4 GiB is `EINVAL`. The caller checks
/// the frame against the negotiated msize.
pub fn encode_tmessage(tag: u16, msg: &Tmessage<'_>, out: &mut Vec<u8>) -> Result<(), i32> {
    let mut e = begin(out, msg.type_byte(), tag);
    match msg {
        Tmessage::Version { msize, version } => {
            e.u32(*msize);
            e.str(version)?;
        }
        Tmessage::Attach {
            fid,
            afid,
            uname,
            aname,
            n_uname,
        } => {
            e.u32(*fid);
            e.u32(*afid);
            e.str(uname)?;
            e.str(aname)?;
            e.u32(*n_uname);
        }
        Tmessage::Walk { fid, newfid, names } => {
            if names.len() > MAXWELEM {
                return Err(libc::EINVAL);
            }
            e.u32(*fid);
            e.u32(*newfid);
            // MAXWELEM fits in u16.
            e.u16(names.len() as u16);
            for name in names.iter() {
                e.str(name)?;
            }
        }
        Tmessage::Getattr { fid, request_mask } => {
            e.u32(*fid);
            e.u64(*request_mask);
        }
        Tmessage::Setattr { fid, attr } => {
            e.u32(*fid);
            e.setattr(attr);
        }
        Tmessage::Lopen { fid, flags } => {
            e.u32(*fid);
            e.u32(*flags);
        }
        Tmessage::Lcreate {
            fid,
            name,
            flags,
            mode,
            gid,
        } => {
            e.u32(*fid);
            e.str(name)?;
            e.u32(*flags);
            e.u32(*mode);
            e.u32(*gid);
        }
        Tmessage::Symlink {
            dfid,
            name,
            target,
            gid,
        } => {
            e.u32(*dfid);
            e.str(name)?;
            e.str(target)?;
            e.u32(*gid);
        }
        Tmessage::Mknod {
            dfid,
            name,
            mode,
            major,
            minor,
            gid,
        } => {
            e.u32(*dfid);
            e.str(name)?;
            e.u32(*mode);
            e.u32(*major);
            e.u32(*minor);
            e.u32(*gid);
        }
        Tmessage::Mkdir {
            dfid,
            name,
            mode,
            gid,
        } => {
            e.u32(*dfid);
            e.str(name)?;
            e.u32(*mode);
            e.u32(*gid);
        }
        Tmessage::Link { dfid, fid, name } => {
            e.u32(*dfid);
            e.u32(*fid);
            e.str(name)?;
        }
        Tmessage::Renameat {
            olddfid,
            oldname,
            newdfid,
            newname,
        } => {
            e.u32(*olddfid);
            e.str(oldname)?;
            e.u32(*newdfid);
            e.str(newname)?;
        }
        Tmessage::Unlinkat { dfid, name, flags } => {
            e.u32(*dfid);
            e.str(name)?;
            e.u32(*flags);
        }
        Tmessage::Read { fid, offset, count } | Tmessage::Readdir { fid, offset, count } => {
            e.u32(*fid);
            e.u64(*offset);
            e.u32(*count);
        }
        Tmessage::Write { fid, offset, data } => {
            e.u32(*fid);
            e.u64(*offset);
            e.data(data)?;
        }
        Tmessage::Readlink { fid } | Tmessage::Statfs { fid } | Tmessage::Clunk { fid } => {
            e.u32(*fid);
        }
        Tmessage::Fsync { fid, datasync } => {
            e.u32(*fid);
            e.u32(*datasync);
        }
        Tmessage::Flush { oldtag } => e.u16(*oldtag),
        Tmessage::Walkgetattr {
            fid,
            newfid,
            keep,
            names,
        } => {
            if names.len() > MAXWELEM {
                return Err(libc::EINVAL);
            }
            e.u32(*fid);
            e.u32(*newfid);
            e.u32(*keep);
            // MAXWELEM fits in u16.
            e.u16(names.len() as u16);
            for name in names.iter() {
                e.str(name)?;
            }
        }
        Tmessage::Openfd { flags, names } => {
            e.u32(*flags);
            e.names(names)?;
        }
        Tmessage::Lookupfd { names } => e.names(names)?,
        Tmessage::Createat {
            mode,
            rdev,
            uid,
            gid,
            names,
            target,
        } => {
            e.u32(*mode);
            e.u64(*rdev);
            e.u32(*uid);
            e.u32(*gid);
            e.names(names)?;
            e.str(target)?;
        }
        Tmessage::Linkat { old, new } => {
            e.names(old)?;
            e.names(new)?;
        }
        Tmessage::Removeat { flags, names } => {
            e.u32(*flags);
            e.names(names)?;
        }
        Tmessage::Renameat2 { flags, old, new } => {
            e.u32(*flags);
            e.names(old)?;
            e.names(new)?;
        }
        Tmessage::Setattrat { attr, names } => {
            e.setattr(attr);
            e.names(names)?;
        }
        Tmessage::Readdirplus {
            offset,
            count,
            names,
        } => {
            e.u64(*offset);
            e.u32(*count);
            e.names(names)?;
        }
        Tmessage::Openfds { dir, names } => {
            if names.len() > MAX_OPENFDS {
                return Err(libc::EINVAL);
            }
            e.names(dir)?;
            e.names(names)?;
        }
        Tmessage::Getxattrat { size, names, name } => {
            e.u32(*size);
            e.names(names)?;
            e.str(name)?;
        }
        Tmessage::Listxattrat { size, names } => {
            e.u32(*size);
            e.names(names)?;
        }
        Tmessage::Setxattrat {
            flags,
            names,
            name,
            value,
        } => {
            e.u32(*flags);
            e.names(names)?;
            e.str(name)?;
            e.data(value)?;
        }
        Tmessage::Removexattrat { names, name } => {
            e.names(names)?;
            e.str(name)?;
        }
    }
    finish(out)
}

impl Enc<'_> {
    /// Tsetattr's fields after the fid.
    fn setattr(&mut self, attr: &SetAttr) {
        self.u32(attr.valid);
        self.u32(attr.mode);
        self.u32(attr.uid);
        self.u32(attr.gid);
        self.u64(attr.size);
        self.u64(attr.atime_sec);
        self.u64(attr.atime_nsec);
        self.u64(attr.mtime_sec);
        self.u64(attr.mtime_nsec);
    }

    /// `count[2]` then the strings; more than [`MAX_OPENFD_NAMES`] is
    /// `ENAMETOOLONG`.
    fn names(&mut self, names: &[&[u8]]) -> Result<(), i32> {
        let e = self;
        {
            if names.len() > MAX_OPENFD_NAMES {
                return Err(libc::ENAMETOOLONG);
            }
            // MAX_OPENFD_NAMES fits in u16.
            e.u16(names.len() as u16);
            for name in names.iter() {
                e.str(name)?;
            }
        }
        Ok(())
    }
}

/// Encodes a reply as one frame into `out` (replacing its contents).
pub fn encode_rmessage(tag: u16, msg: &Rmessage<'_>, out: &mut Vec<u8>) -> Result<(), i32> {
    let mut e = begin(out, msg.type_byte(), tag);
    match msg {
        Rmessage::Lerror { ecode } => e.u32(*ecode),
        Rmessage::Version { msize, version } => {
            e.u32(*msize);
            e.str(version)?;
        }
        Rmessage::Attach { qid }
        | Rmessage::Symlink { qid }
        | Rmessage::Mknod { qid }
        | Rmessage::Mkdir { qid } => e.qid(qid),
        Rmessage::Walk { qids } => {
            let n = u16::try_from(qids.len()).map_err(|_| libc::EINVAL)?;
            e.u16(n);
            for q in qids {
                e.qid(q);
            }
        }
        Rmessage::Getattr(r) => e.getattr(r),
        Rmessage::Walkgetattr { kept, qids, attr } => {
            let n = u16::try_from(qids.len()).map_err(|_| libc::EINVAL)?;
            e.u8(u8::from(*kept));
            e.u16(n);
            for q in qids {
                e.qid(q);
            }
            e.getattr(attr);
        }
        Rmessage::Openfd => {}
        Rmessage::Lookupfd { fd, attr, target } => {
            e.u8(u8::from(*fd));
            e.getattr(attr);
            e.str(target)?;
        }
        Rmessage::Createat { fd, attr } => {
            e.u8(u8::from(*fd));
            e.getattr(attr);
        }
        Rmessage::Linkat { attr } | Rmessage::Setattrat { attr } => e.getattr(attr),
        Rmessage::Readdirplus { next, data } => {
            e.u64(*next);
            e.data(data)?;
        }
        Rmessage::Openfds { results } => {
            if results.len() > MAX_OPENFDS {
                return Err(libc::EINVAL);
            }
            // MAX_OPENFDS fits in u16.
            e.u16(results.len() as u16);
            for (errno, ino) in results {
                e.u32(*errno);
                e.u64(*ino);
            }
        }
        Rmessage::Lopen { qid, iounit } | Rmessage::Lcreate { qid, iounit } => {
            e.qid(qid);
            e.u32(*iounit);
        }
        Rmessage::Read { data }
        | Rmessage::Readdir { data }
        | Rmessage::Getxattrat { value: data }
        | Rmessage::Listxattrat { list: data } => e.data(data)?,
        Rmessage::Write { count } => e.u32(*count),
        Rmessage::Readlink { target } => e.str(target)?,
        Rmessage::Statfs(s) => {
            e.u32(s.ty);
            e.u32(s.bsize);
            e.u64(s.blocks);
            e.u64(s.bfree);
            e.u64(s.bavail);
            e.u64(s.files);
            e.u64(s.ffree);
            e.u64(s.fsid);
            e.u32(s.namelen);
        }
        Rmessage::Setattr
        | Rmessage::Link
        | Rmessage::Renameat
        | Rmessage::Unlinkat
        | Rmessage::Fsync
        | Rmessage::Flush
        | Rmessage::Clunk
        | Rmessage::Removeat
        | Rmessage::Renameat2
        | Rmessage::Setxattrat
        | Rmessage::Removexattrat => {}
    }
    finish(out)
}

impl Enc<'_> {
    /// Rgetattr's body.
    fn getattr(&mut self, r: &Rgetattr) {
        let e = self;
        {
            let a = &r.attr;
            e.u64(r.valid);
            e.qid(&a.qid);
            e.u32(a.mode);
            e.u32(a.uid);
            e.u32(a.gid);
            for v in [
                a.nlink,
                a.rdev,
                a.size,
                a.blksize,
                a.blocks,
                a.atime_sec,
                a.atime_nsec,
                a.mtime_sec,
                a.mtime_nsec,
                a.ctime_sec,
                a.ctime_nsec,
                r.btime_sec,
                r.btime_nsec,
                r.gen,
                r.data_version,
            ] {
                e.u64(v);
            }
        }
    }
}

/// Appends one Rreaddir entry (`qid[13] offset[8] type[1] name[s]`) to `out`.
pub fn encode_dirent(entry: &DirEntry, out: &mut Vec<u8>) -> Result<(), i32> {
    let mut e = Enc { out };
    e.qid(&entry.qid);
    e.u64(entry.offset);
    e.u8(entry.ty);
    e.str(&entry.name)
}

/// One entry of an Rreaddirplus listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirplusEntry<'a> {
    pub name: &'a [u8],
    pub attr: Rgetattr,
    /// A symlink's target; empty for every other type.
    pub target: &'a [u8],
    /// The extended attribute names as listxattr gives them, or `None`
    /// if the server could not tell.
    pub xattrs: Option<&'a [u8]>,
}

/// Appends one Rreaddirplus entry (`name[s]` + the body of an Rgetattr +
/// `target[s]` + `known[1]` + `xattrs[4+n]` when `known` is 1) to `out`.
pub fn encode_dirplus(entry: &DirplusEntry<'_>, out: &mut Vec<u8>) -> Result<(), i32> {
    let mut e = Enc { out };
    e.str(entry.name)?;
    e.getattr(&entry.attr);
    e.str(entry.target)?;
    match entry.xattrs {
        Some(x) => {
            e.u8(1);
            e.data(x)
        }
        None => {
            e.u8(0);
            Ok(())
        }
    }
}

/// The entries of an Rreaddirplus's data. Anything malformed (a short
/// entry, a name that is not a plain file name, a target on anything but a
/// symlink) is `EIO`.
pub fn decode_dirplus(data: &[u8]) -> Result<Vec<DirplusEntry<'_>>, i32> {
    let mut d = Dec { buf: data };
    let mut out = Vec::new();
    while !d.buf.is_empty() {
        let name = d.str()?;
        let attr = d.getattr()?;
        let target = d.str()?;
        let xattrs = match d.u8()? {
            0 => None,
            1 => Some(d.data()?),
            _ => return Err(libc::EIO),
        };
        let plain = !name.is_empty()
            && name != b"."
            && name != b".."
            && !name.iter().any(|&b| b == b'/' || b == 0);
        let link = attr.attr.mode & libc::S_IFMT == libc::S_IFLNK;
        if !plain || (!target.is_empty() && !link) {
            return Err(libc::EIO);
        }
        out.push(DirplusEntry {
            name,
            attr,
            target,
            xattrs,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Decoding

/// Reads little-endian fields from a frame body; every read is bounds-checked
/// and running short is `EIO`.
struct Dec<'a> {
    buf: &'a [u8],
}

impl<'a> Dec<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], i32> {
        if self.buf.len() < n {
            return Err(libc::EIO);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], i32> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, i32> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, i32> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, i32> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, i32> {
        self.array().map(u64::from_le_bytes)
    }
    fn str(&mut self) -> Result<&'a [u8], i32> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    fn data(&mut self) -> Result<&'a [u8], i32> {
        let n = usize::try_from(self.u32()?).map_err(|_| libc::EIO)?;
        self.take(n)
    }
    fn qid(&mut self) -> Result<Qid, i32> {
        Ok(Qid {
            ty: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }
    /// `count[2]` then that many strings; more than `max` is `EIO`. Each
    /// string takes at least two bytes, so the allocation is bounded by the
    /// frame.
    fn names(&mut self, max: usize) -> Result<Vec<&'a [u8]>, i32> {
        let n = usize::from(self.u16()?);
        if n > max || n * 2 > self.buf.len() {
            return Err(libc::EIO);
        }
        let mut names = Vec::with_capacity(n);
        for _ in 0..n {
            names.push(self.str()?);
        }
        Ok(names)
    }
    /// `nwqid[2]` then that many qids (at most [`MAXWELEM`]).
    fn qids(&mut self) -> Result<Vec<Qid>, i32> {
        let n = usize::from(self.u16()?);
        // Each qid takes QID_LEN bytes: the count cannot promise more
        // than the frame holds, so the allocation is bounded by it.
        if n > MAXWELEM || n * QID_LEN > self.buf.len() {
            return Err(libc::EIO);
        }
        let mut qids = Vec::with_capacity(n);
        for _ in 0..n {
            qids.push(self.qid()?);
        }
        Ok(qids)
    }
    /// Rgetattr's body.
    fn getattr(&mut self) -> Result<Rgetattr, i32> {
        let d = self;
        let valid = d.u64()?;
        let qid = d.qid()?;
        let mode = d.u32()?;
        let uid = d.u32()?;
        let gid = d.u32()?;
        let mut v = [0u64; 15];
        for slot in v.iter_mut() {
            *slot = d.u64()?;
        }
        let [nlink, rdev, size, blksize, blocks, atime_sec, atime_nsec, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, btime_sec, btime_nsec, gen, data_version] =
            v;
        Ok(Rgetattr {
            valid,
            attr: Attr {
                qid,
                mode,
                uid,
                gid,
                nlink,
                rdev,
                size,
                blksize,
                blocks,
                atime_sec,
                atime_nsec,
                mtime_sec,
                mtime_nsec,
                ctime_sec,
                ctime_nsec,
            },
            btime_sec,
            btime_nsec,
            gen,
            data_version,
        })
    }
    /// Tsetattr's fields after the fid.
    fn setattr(&mut self) -> Result<SetAttr, i32> {
        Ok(SetAttr {
            valid: self.u32()?,
            mode: self.u32()?,
            uid: self.u32()?,
            gid: self.u32()?,
            size: self.u64()?,
            atime_sec: self.u64()?,
            atime_nsec: self.u64()?,
            mtime_sec: self.u64()?,
            mtime_nsec: self.u64()?,
        })
    }
    /// The body must be consumed exactly.
    fn end(&self) -> Result<(), i32> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(libc::EIO)
        }
    }
}

/// Checks a frame's header and returns `(type, tag, body)`. The frame's size
/// field must equal its length.
fn split_frame(frame: &[u8]) -> Result<(u8, u16, Dec<'_>), i32> {
    let mut d = Dec { buf: frame };
    let size = d.u32()?;
    if usize::try_from(size).ok() != Some(frame.len()) || frame.len() < HEADER_LEN {
        return Err(libc::EIO);
    }
    let ty = d.u8()?;
    let tag = d.u16()?;
    Ok((ty, tag, d))
}

/// Validates the size field of a frame about to be read from a stream:
/// returns the frame's total length, which lies in `HEADER_LEN..=msize`, or
/// `EIO`.
pub fn frame_len(size_field: [u8; 4], msize: u32) -> Result<usize, i32> {
    let size = u32::from_le_bytes(size_field);
    if size > msize {
        return Err(libc::EIO);
    }
    let size = usize::try_from(size).map_err(|_| libc::EIO)?;
    if size < HEADER_LEN {
        return Err(libc::EIO);
    }
    Ok(size)
}

/// Decodes a whole request frame into its tag and message. Anything malformed
/// or of a type this module does not know is `EIO`.
pub fn decode_tmessage(frame: &[u8]) -> Result<(u16, Tmessage<'_>), i32> {
    let (ty, tag, mut d) = split_frame(frame)?;
    let msg = match ty {
        TVERSION => Tmessage::Version {
            msize: d.u32()?,
            version: d.str()?,
        },
        TATTACH => Tmessage::Attach {
            fid: d.u32()?,
            afid: d.u32()?,
            uname: d.str()?,
            aname: d.str()?,
            n_uname: d.u32()?,
        },
        TWALK => {
            let fid = d.u32()?;
            let newfid = d.u32()?;
            Tmessage::Walk {
                fid,
                newfid,
                names: d.names(MAXWELEM)?,
            }
        }
        TGETATTR => Tmessage::Getattr {
            fid: d.u32()?,
            request_mask: d.u64()?,
        },
        TSETATTR => Tmessage::Setattr {
            fid: d.u32()?,
            attr: d.setattr()?,
        },
        TLOPEN => Tmessage::Lopen {
            fid: d.u32()?,
            flags: d.u32()?,
        },
        TLCREATE => Tmessage::Lcreate {
            fid: d.u32()?,
            name: d.str()?,
            flags: d.u32()?,
            mode: d.u32()?,
            gid: d.u32()?,
        },
        TSYMLINK => Tmessage::Symlink {
            dfid: d.u32()?,
            name: d.str()?,
            target: d.str()?,
            gid: d.u32()?,
        },
        TMKNOD => Tmessage::Mknod {
            dfid: d.u32()?,
            name: d.str()?,
            mode: d.u32()?,
            major: d.u32()?,
            minor: d.u32()?,
            gid: d.u32()?,
        },
        TMKDIR => Tmessage::Mkdir {
            dfid: d.u32()?,
            name: d.str()?,
            mode: d.u32()?,
            gid: d.u32()?,
        },
        TLINK => Tmessage::Link {
            dfid: d.u32()?,
            fid: d.u32()?,
            name: d.str()?,
        },
        TRENAMEAT => Tmessage::Renameat {
            olddfid: d.u32()?,
            oldname: d.str()?,
            newdfid: d.u32()?,
            newname: d.str()?,
        },
        TUNLINKAT => Tmessage::Unlinkat {
            dfid: d.u32()?,
            name: d.str()?,
            flags: d.u32()?,
        },
        TREAD => Tmessage::Read {
            fid: d.u32()?,
            offset: d.u64()?,
            count: d.u32()?,
        },
        TWRITE => Tmessage::Write {
            fid: d.u32()?,
            offset: d.u64()?,
            data: d.data()?,
        },
        TREADDIR => Tmessage::Readdir {
            fid: d.u32()?,
            offset: d.u64()?,
            count: d.u32()?,
        },
        TREADLINK => Tmessage::Readlink { fid: d.u32()? },
        TSTATFS => Tmessage::Statfs { fid: d.u32()? },
        TFSYNC => Tmessage::Fsync {
            fid: d.u32()?,
            datasync: d.u32()?,
        },
        TFLUSH => Tmessage::Flush { oldtag: d.u16()? },
        TCLUNK => Tmessage::Clunk { fid: d.u32()? },
        TWALKGETATTR => {
            let fid = d.u32()?;
            let newfid = d.u32()?;
            let keep = d.u32()?;
            Tmessage::Walkgetattr {
                fid,
                newfid,
                keep,
                names: d.names(MAXWELEM)?,
            }
        }
        TOPENFD => {
            let flags = d.u32()?;
            Tmessage::Openfd {
                flags,
                names: d.names(MAX_OPENFD_NAMES)?,
            }
        }
        TLOOKUPFD => Tmessage::Lookupfd {
            names: d.names(MAX_OPENFD_NAMES)?,
        },
        TCREATEAT => Tmessage::Createat {
            mode: d.u32()?,
            rdev: d.u64()?,
            uid: d.u32()?,
            gid: d.u32()?,
            names: d.names(MAX_OPENFD_NAMES)?,
            target: d.str()?,
        },
        TLINKAT => Tmessage::Linkat {
            old: d.names(MAX_OPENFD_NAMES)?,
            new: d.names(MAX_OPENFD_NAMES)?,
        },
        TREMOVEAT => Tmessage::Removeat {
            flags: d.u32()?,
            names: d.names(MAX_OPENFD_NAMES)?,
        },
        TRENAMEAT2 => Tmessage::Renameat2 {
            flags: d.u32()?,
            old: d.names(MAX_OPENFD_NAMES)?,
            new: d.names(MAX_OPENFD_NAMES)?,
        },
        TSETATTRAT => Tmessage::Setattrat {
            attr: d.setattr()?,
            names: d.names(MAX_OPENFD_NAMES)?,
        },
        TREADDIRPLUS => Tmessage::Readdirplus {
            offset: d.u64()?,
            count: d.u32()?,
            names: d.names(MAX_OPENFD_NAMES)?,
        },
        TOPENFDS => Tmessage::Openfds {
            dir: d.names(MAX_OPENFD_NAMES)?,
            names: d.names(MAX_OPENFDS)?,
        },
        TGETXATTRAT => Tmessage::Getxattrat {
            size: d.u32()?,
            names: d.names(MAX_OPENFD_NAMES)?,
            name: d.str()?,
        },
        TLISTXATTRAT => Tmessage::Listxattrat {
            size: d.u32()?,
            names: d.names(MAX_OPENFD_NAMES)?,
        },
        TSETXATTRAT => Tmessage::Setxattrat {
            flags: d.u32()?,
            names: d.names(MAX_OPENFD_NAMES)?,
            name: d.str()?,
            value: d.data()?,
        },
        TREMOVEXATTRAT => Tmessage::Removexattrat {
            names: d.names(MAX_OPENFD_NAMES)?,
            name: d.str()?,
        },
        _ => return Err(libc::EIO),
    };
    d.end()?;
    Ok((tag, msg))
}

/// Decodes a whole reply frame into its tag and message. Anything malformed
/// or of an unknown type is `EIO`. (Whether the reply matches the request is
/// the caller's check.)
pub fn decode_rmessage(frame: &[u8]) -> Result<(u16, Rmessage<'_>), i32> {
    let (ty, tag, mut d) = split_frame(frame)?;
    let msg = match ty {
        RLERROR => Rmessage::Lerror { ecode: d.u32()? },
        RVERSION => Rmessage::Version {
            msize: d.u32()?,
            version: d.str()?,
        },
        RATTACH => Rmessage::Attach { qid: d.qid()? },
        RWALK => Rmessage::Walk { qids: d.qids()? },
        RGETATTR => Rmessage::Getattr(Box::new(d.getattr()?)),
        RWALKGETATTR => {
            let kept = match d.u8()? {
                0 => false,
                1 => true,
                _ => return Err(libc::EIO),
            };
            let qids = d.qids()?;
            Rmessage::Walkgetattr {
                kept,
                qids,
                attr: Box::new(d.getattr()?),
            }
        }
        ROPENFD => Rmessage::Openfd,
        RLOOKUPFD => {
            let fd = match d.u8()? {
                0 => false,
                1 => true,
                _ => return Err(libc::EIO),
            };
            Rmessage::Lookupfd {
                fd,
                attr: Box::new(d.getattr()?),
                target: d.str()?,
            }
        }
        RSETATTR => Rmessage::Setattr,
        RCREATEAT => {
            let fd = match d.u8()? {
                0 => false,
                1 => true,
                _ => return Err(libc::EIO),
            };
            Rmessage::Createat {
                fd,
                attr: Box::new(d.getattr()?),
            }
        }
        RLINKAT => Rmessage::Linkat {
            attr: Box::new(d.getattr()?),
        },
        RREMOVEAT => Rmessage::Removeat,
        RRENAMEAT2 => Rmessage::Renameat2,
        RSETATTRAT => Rmessage::Setattrat {
            attr: Box::new(d.getattr()?),
        },
        RREADDIRPLUS => Rmessage::Readdirplus {
            next: d.u64()?,
            data: d.data()?,
        },
        ROPENFDS => {
            let n = usize::from(d.u16()?);
            if n > MAX_OPENFDS {
                return Err(libc::EIO);
            }
            let mut results = Vec::with_capacity(n);
            for _ in 0..n {
                results.push((d.u32()?, d.u64()?));
            }
            Rmessage::Openfds { results }
        }
        RGETXATTRAT => Rmessage::Getxattrat { value: d.data()? },
        RLISTXATTRAT => Rmessage::Listxattrat { list: d.data()? },
        RSETXATTRAT => Rmessage::Setxattrat,
        RREMOVEXATTRAT => Rmessage::Removexattrat,
        RLOPEN => Rmessage::Lopen {
            qid: d.qid()?,
            iounit: d.u32()?,
        },
        RLCREATE => Rmessage::Lcreate {
            qid: d.qid()?,
            iounit: d.u32()?,
        },
        RSYMLINK => Rmessage::Symlink { qid: d.qid()? },
        RMKNOD => Rmessage::Mknod { qid: d.qid()? },
        RMKDIR => Rmessage::Mkdir { qid: d.qid()? },
        RLINK => Rmessage::Link,
        RRENAMEAT => Rmessage::Renameat,
        RUNLINKAT => Rmessage::Unlinkat,
        RREAD => Rmessage::Read { data: d.data()? },
        RWRITE => Rmessage::Write { count: d.u32()? },
        RREADDIR => Rmessage::Readdir { data: d.data()? },
        RREADLINK => Rmessage::Readlink { target: d.str()? },
        RSTATFS => Rmessage::Statfs(StatFs {
            ty: d.u32()?,
            bsize: d.u32()?,
            blocks: d.u64()?,
            bfree: d.u64()?,
            bavail: d.u64()?,
            files: d.u64()?,
            ffree: d.u64()?,
            fsid: d.u64()?,
            namelen: d.u32()?,
        }),
        RFSYNC => Rmessage::Fsync,
        RFLUSH => Rmessage::Flush,
        RCLUNK => Rmessage::Clunk,
        _ => return Err(libc::EIO),
    };
    d.end()?;
    Ok((tag, msg))
}

/// The smallest Rreaddir entry: qid, offset, type and an empty name.
const DIRENT_MIN_LEN: usize = QID_LEN + 8 + 1 + 2;

/// Parses Rreaddir's data into entries. A truncated entry is `EIO`.
pub fn decode_dirents(data: &[u8]) -> Result<Vec<DirEntry>, i32> {
    let mut d = Dec { buf: data };
    let mut entries = Vec::with_capacity(data.len() / DIRENT_MIN_LEN);
    while !d.buf.is_empty() {
        entries.push(DirEntry {
            qid: d.qid()?,
            offset: d.u64()?,
            ty: d.u8()?,
            name: d.str()?.to_vec(),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qid(n: u64) -> Qid {
        Qid {
            ty: (n as u8) | QTDIR,
            version: n as u32 + 7,
            path: n.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    fn all_tmessages() -> Vec<Tmessage<'static>> {
        static NAMES: [&[u8]; 3] = [b"a", b"", b"\xff\xfe not utf-8"];
        vec![
            Tmessage::Version {
                msize: 1 << 20,
                version: VERSION_9P2000L,
            },
            Tmessage::Attach {
                fid: 0,
                afid: NOFID,
                uname: b"root",
                aname: b"",
                n_uname: NONUNAME,
            },
            Tmessage::Walk {
                fid: 1,
                newfid: 2,
                names: NAMES.to_vec(),
            },
            Tmessage::Walk {
                fid: 1,
                newfid: 2,
                names: Vec::new(),
            },
            Tmessage::Getattr {
                fid: 3,
                request_mask: P9_GETATTR_BASIC,
            },
            Tmessage::Setattr {
                fid: 4,
                attr: SetAttr {
                    valid: P9_SETATTR_MODE | P9_SETATTR_SIZE,
                    mode: 0o644,
                    uid: 1,
                    gid: 2,
                    size: 1 << 40,
                    atime_sec: 3,
                    atime_nsec: 4,
                    mtime_sec: 5,
                    mtime_nsec: 6,
                },
            },
            Tmessage::Lopen {
                fid: 5,
                flags: libc::O_RDWR as u32,
            },
            Tmessage::Lcreate {
                fid: 6,
                name: b"new",
                flags: 2,
                mode: 0o600,
                gid: 9,
            },
            Tmessage::Symlink {
                dfid: 7,
                name: b"l",
                target: b"/x/y",
                gid: 1,
            },
            Tmessage::Mknod {
                dfid: 7,
                name: b"n",
                mode: 0o20666,
                major: 1,
                minor: 3,
                gid: 0,
            },
            Tmessage::Mkdir {
                dfid: 8,
                name: b"d",
                mode: 0o755,
                gid: 0,
            },
            Tmessage::Link {
                dfid: 8,
                fid: 9,
                name: b"h",
            },
            Tmessage::Renameat {
                olddfid: 1,
                oldname: b"o",
                newdfid: 2,
                newname: b"n",
            },
            Tmessage::Unlinkat {
                dfid: 1,
                name: b"x",
                flags: libc::AT_REMOVEDIR as u32,
            },
            Tmessage::Read {
                fid: 10,
                offset: u64::MAX,
                count: 4096,
            },
            Tmessage::Write {
                fid: 11,
                offset: 12,
                data: b"hello",
            },
            Tmessage::Readdir {
                fid: 12,
                offset: 99,
                count: 8192,
            },
            Tmessage::Readlink { fid: 13 },
            Tmessage::Statfs { fid: 14 },
            Tmessage::Fsync {
                fid: 15,
                datasync: 1,
            },
            Tmessage::Flush { oldtag: 3 },
            Tmessage::Clunk { fid: 16 },
            Tmessage::Walkgetattr {
                fid: 17,
                newfid: 18,
                keep: WALK_KEEP_DIR,
                names: NAMES.to_vec(),
            },
            Tmessage::Walkgetattr {
                fid: 17,
                newfid: 18,
                keep: WALK_KEEP_NEVER,
                names: Vec::new(),
            },
            Tmessage::Openfd {
                flags: libc::O_DIRECTORY as u32,
                names: NAMES.to_vec(),
            },
            Tmessage::Openfd {
                flags: 0,
                names: Vec::new(),
            },
            Tmessage::Lookupfd {
                names: NAMES.to_vec(),
            },
            Tmessage::Lookupfd { names: Vec::new() },
            Tmessage::Createat {
                mode: libc::S_IFLNK | 0o777,
                rdev: 7,
                uid: 1000,
                gid: 1001,
                names: NAMES.to_vec(),
                target: b"../t",
            },
            Tmessage::Linkat {
                old: NAMES.to_vec(),
                new: vec![b"b"],
            },
            Tmessage::Removeat {
                flags: libc::AT_REMOVEDIR as u32,
                names: NAMES.to_vec(),
            },
            Tmessage::Renameat2 {
                flags: libc::RENAME_NOREPLACE,
                old: Vec::new(),
                new: NAMES.to_vec(),
            },
            Tmessage::Setattrat {
                attr: SetAttr {
                    valid: P9_SETATTR_SIZE,
                    size: 9,
                    ..SetAttr::default()
                },
                names: NAMES.to_vec(),
            },
            Tmessage::Getxattrat {
                size: 65536,
                names: NAMES.to_vec(),
                name: b"user.a",
            },
            Tmessage::Listxattrat {
                size: 0,
                names: Vec::new(),
            },
            Tmessage::Setxattrat {
                flags: 1,
                names: NAMES.to_vec(),
                name: b"user.b",
                value: b"\0binary\xff",
            },
            Tmessage::Removexattrat {
                names: NAMES.to_vec(),
                name: b"user.c",
            },
        ]
    }

    fn all_rmessages() -> Vec<Rmessage<'static>> {
        let attr = Attr {
            qid: qid(1),
            mode: 0o100644,
            uid: 1000,
            gid: 1001,
            nlink: 2,
            rdev: 3,
            size: 4,
            blksize: 4096,
            blocks: 8,
            atime_sec: 9,
            atime_nsec: 10,
            mtime_sec: 11,
            mtime_nsec: 12,
            ctime_sec: 13,
            ctime_nsec: 14,
        };
        vec![
            Rmessage::Lerror {
                ecode: libc::ENOENT as u32,
            },
            Rmessage::Version {
                msize: 65560,
                version: VERSION_9P2000L,
            },
            Rmessage::Attach { qid: qid(2) },
            Rmessage::Walk {
                qids: (0..16).map(qid).collect(),
            },
            Rmessage::Walk { qids: Vec::new() },
            Rmessage::Getattr(Box::new(Rgetattr {
                valid: P9_GETATTR_BASIC,
                attr,
                btime_sec: 15,
                btime_nsec: 16,
                gen: 17,
                data_version: 18,
            })),
            Rmessage::Setattr,
            Rmessage::Lopen {
                qid: qid(3),
                iounit: 0,
            },
            Rmessage::Lcreate {
                qid: qid(4),
                iounit: 8192,
            },
            Rmessage::Symlink { qid: qid(5) },
            Rmessage::Mknod { qid: qid(6) },
            Rmessage::Mkdir { qid: qid(7) },
            Rmessage::Link,
            Rmessage::Renameat,
            Rmessage::Unlinkat,
            Rmessage::Read { data: b"data" },
            Rmessage::Read { data: b"" },
            Rmessage::Write { count: 5 },
            Rmessage::Readdir { data: b"" },
            Rmessage::Readlink { target: b"../t" },
            Rmessage::Statfs(StatFs {
                ty: 0x01021994,
                bsize: 4096,
                blocks: 1,
                bfree: 2,
                bavail: 3,
                files: 4,
                ffree: 5,
                fsid: 6,
                namelen: 255,
            }),
            Rmessage::Fsync,
            Rmessage::Flush,
            Rmessage::Clunk,
            Rmessage::Walkgetattr {
                kept: true,
                qids: vec![qid(8), qid(9)],
                attr: Box::new(Rgetattr {
                    valid: P9_GETATTR_BASIC,
                    attr,
                    ..Rgetattr::default()
                }),
            },
            Rmessage::Walkgetattr {
                kept: false,
                qids: Vec::new(),
                attr: Box::default(),
            },
            Rmessage::Openfd,
            Rmessage::Createat {
                fd: true,
                attr: Box::default(),
            },
            Rmessage::Linkat {
                attr: Box::default(),
            },
            Rmessage::Removeat,
            Rmessage::Renameat2,
            Rmessage::Setattrat {
                attr: Box::default(),
            },
            Rmessage::Lookupfd {
                fd: true,
                attr: Box::new(Rgetattr {
                    attr,
                    ..Rgetattr::default()
                }),
                target: b"",
            },
            Rmessage::Lookupfd {
                fd: false,
                attr: Box::default(),
                target: b"../x",
            },
            Rmessage::Getxattrat { value: b"v\0" },
            Rmessage::Listxattrat {
                list: b"user.a\0user.b\0",
            },
            Rmessage::Setxattrat,
            Rmessage::Removexattrat,
        ]
    }

    #[test]
    fn tmessages_round_trip() {
        let mut buf = Vec::new();
        for (i, m) in all_tmessages().iter().enumerate() {
            let tag = i as u16;
            encode_tmessage(tag, m, &mut buf).unwrap();
            assert_eq!(
                u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize,
                buf.len()
            );
            assert_eq!(buf[4], m.type_byte());
            let (t, back) = decode_tmessage(&buf).unwrap();
            assert_eq!(t, tag);
            assert_eq!(&back, m);
        }
    }

    #[test]
    fn rmessages_round_trip() {
        let mut buf = Vec::new();
        for (i, m) in all_rmessages().iter().enumerate() {
            let tag = 1000 + i as u16;
            encode_rmessage(tag, m, &mut buf).unwrap();
            assert_eq!(
                u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize,
                buf.len()
            );
            let (t, back) = decode_rmessage(&buf).unwrap();
            assert_eq!(t, tag);
            assert_eq!(&back, m);
        }
    }

    #[test]
    fn known_encodings() {
        // Tversion, tag NOTAG, msize 8192, "9P2000.L".
        let mut buf = Vec::new();
        encode_tmessage(
            NOTAG,
            &Tmessage::Version {
                msize: 8192,
                version: VERSION_9P2000L,
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(
            buf,
            b"\x15\x00\x00\x00\x64\xff\xff\x00\x20\x00\x00\x08\x009P2000.L".to_vec()
        );
        // Rlerror ENOENT, tag 1.
        encode_rmessage(1, &Rmessage::Lerror { ecode: 2 }, &mut buf).unwrap();
        assert_eq!(
            buf,
            b"\x0b\x00\x00\x00\x07\x01\x00\x02\x00\x00\x00".to_vec()
        );
        // Rgetattr is 7 + 153 bytes.
        encode_rmessage(1, &Rmessage::Getattr(Box::default()), &mut buf).unwrap();
        assert_eq!(buf.len(), HEADER_LEN + 153);
        // Rstatfs is 7 + 60 bytes.
        encode_rmessage(1, &Rmessage::Statfs(StatFs::default()), &mut buf).unwrap();
        assert_eq!(buf.len(), HEADER_LEN + 60);
        // The header constants agree with the encoder.
        encode_tmessage(
            1,
            &Tmessage::Write {
                fid: 0,
                offset: 0,
                data: b"",
            },
            &mut buf,
        )
        .unwrap();
        assert_eq!(buf.len(), TWRITE_HEADER_LEN as usize);
        encode_rmessage(1, &Rmessage::Read { data: b"" }, &mut buf).unwrap();
        assert_eq!(buf.len(), RREAD_HEADER_LEN as usize);
    }

    #[test]
    fn truncated_or_padded_frames_are_eio() {
        let mut buf = Vec::new();
        for m in all_rmessages() {
            encode_rmessage(5, &m, &mut buf).unwrap();
            for cut in 0..buf.len() {
                let mut short = buf[..cut].to_vec();
                // Truncated with the size field as sent...
                assert_eq!(decode_rmessage(&short), Err(libc::EIO), "{m:?} cut {cut}");
                // ...and with the size field fixed up to the shorter frame.
                if cut >= 4 {
                    short[..4].copy_from_slice(&(cut as u32).to_le_bytes());
                    assert_eq!(decode_rmessage(&short), Err(libc::EIO), "{m:?} cut {cut}");
                }
            }
            let mut long = buf.clone();
            long.push(0);
            let n = long.len() as u32;
            long[..4].copy_from_slice(&n.to_le_bytes());
            assert_eq!(decode_rmessage(&long), Err(libc::EIO), "{m:?} padded");
        }
        for m in all_tmessages() {
            encode_tmessage(5, &m, &mut buf).unwrap();
            for cut in 0..buf.len() {
                assert_eq!(decode_tmessage(&buf[..cut]), Err(libc::EIO));
            }
        }
    }

    #[test]
    fn hostile_counts_are_eio() {
        // An Rwalk promising 65535 qids in a tiny frame.
        let frame = b"\x09\x00\x00\x00\x6f\x01\x00\xff\xff";
        assert_eq!(decode_rmessage(frame), Err(libc::EIO));
        // An Rread promising 4 GiB of data.
        let frame = b"\x0b\x00\x00\x00\x75\x01\x00\xff\xff\xff\xff";
        assert_eq!(decode_rmessage(frame), Err(libc::EIO));
        // An Rreadlink whose string runs past the frame.
        let frame = b"\x0b\x00\x00\x00\x17\x01\x00\x05\x00ab";
        assert_eq!(decode_rmessage(frame), Err(libc::EIO));
        // Unknown message types.
        assert_eq!(
            decode_rmessage(b"\x07\x00\x00\x00\xee\x01\x00"),
            Err(libc::EIO)
        );
        assert_eq!(
            decode_tmessage(b"\x07\x00\x00\x00\x07\x01\x00"),
            Err(libc::EIO)
        );
        // Size fields.
        assert_eq!(frame_len(0u32.to_le_bytes(), 8192), Err(libc::EIO));
        assert_eq!(frame_len(6u32.to_le_bytes(), 8192), Err(libc::EIO));
        assert_eq!(frame_len(7u32.to_le_bytes(), 8192), Ok(7));
        assert_eq!(frame_len(8192u32.to_le_bytes(), 8192), Ok(8192));
        assert_eq!(frame_len(8193u32.to_le_bytes(), 8192), Err(libc::EIO));
        assert_eq!(frame_len(u32::MAX.to_le_bytes(), 8192), Err(libc::EIO));
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift64: deterministic, no dependency.
        let mut s: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut buf = Vec::new();
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            buf.clear();
            buf.extend((0..len).map(|_| next() as u8));
            if len >= 7 {
                // Make the frame well-sized and of a known type half the time.
                buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
                if next() % 2 == 0 {
                    buf[4] =
                        [RWALK, RREAD, RREADDIR, RGETATTR, RLERROR, RVERSION][next() as usize % 6];
                }
            }
            let _ = decode_rmessage(&buf);
            let _ = decode_tmessage(&buf);
            let _ = decode_dirents(&buf);
        }
    }

    #[test]
    fn dirents_round_trip() {
        let entries = vec![
            DirEntry {
                qid: qid(1),
                offset: 1,
                ty: libc::DT_DIR,
                name: b".".to_vec(),
            },
            DirEntry {
                qid: qid(2),
                offset: u64::MAX,
                ty: libc::DT_REG,
                name: b"file \xff".to_vec(),
            },
        ];
        let mut data = Vec::new();
        for e in &entries {
            encode_dirent(e, &mut data).unwrap();
        }
        let back = decode_dirents(&data).unwrap();
        assert_eq!(back.len(), 2);
        for (a, b) in entries.iter().zip(&back) {
            assert_eq!(
                (a.qid, a.offset, a.ty, &a.name),
                (b.qid, b.offset, b.ty, &b.name)
            );
        }
        assert!(decode_dirents(&[]).unwrap().is_empty());
        assert_eq!(
            decode_dirents(&data[..data.len() - 1]).map(|v| v.len()),
            Err(libc::EIO)
        );
    }

    #[test]
    fn encoder_limits() {
        let mut buf = Vec::new();
        let long = vec![b'x'; 65536];
        assert_eq!(
            encode_tmessage(
                1,
                &Tmessage::Mkdir {
                    dfid: 0,
                    name: &long,
                    mode: 0,
                    gid: 0
                },
                &mut buf
            ),
            Err(libc::ENAMETOOLONG)
        );
        let names: Vec<&[u8]> = vec![b"a"; MAXWELEM + 1];
        assert_eq!(
            encode_tmessage(
                1,
                &Tmessage::Walk {
                    fid: 0,
                    newfid: 1,
                    names
                },
                &mut buf
            ),
            Err(libc::EINVAL)
        );
    }
}
