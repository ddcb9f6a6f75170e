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

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::*;
pub use encode::*;

/// A server's unique id for a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Qid {
    pub ty: u8,
    pub version: u32,
    pub path: u64,
}

/// Rgetattr's fields (all of them are requested: P9_GETATTR_BASIC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Attr {
    pub qid: Qid,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u64,
    pub rdev: u64,
    pub size: u64,
    pub blksize: u64,
    pub blocks: u64,
    pub atime_sec: u64,
    pub atime_nsec: u64,
    pub mtime_sec: u64,
    pub mtime_nsec: u64,
    pub ctime_sec: u64,
    pub ctime_nsec: u64,
}

/// One Rreaddir entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    pub qid: Qid,
    /// The offset to pass to the next `readdir` to continue after this entry.
    pub offset: u64,
    /// DT_* type.
    pub ty: u8,
    pub name: Vec<u8>,
}

/// Rstatfs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    pub ty: u32,
    pub bsize: u32,
    pub blocks: u64,
    pub bfree: u64,
    pub bavail: u64,
    pub files: u64,
    pub ffree: u64,
    pub fsid: u64,
    pub namelen: u32,
}

/// Tsetattr's fields: `valid` holds `P9_SETATTR_*` bits saying which of
/// the others to apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub valid: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub atime_sec: u64,
    pub atime_nsec: u64,
    pub mtime_sec: u64,
    pub mtime_nsec: u64,
}

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
