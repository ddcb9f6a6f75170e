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
mod messages;
mod table;
#[cfg(test)]
mod tests;

pub use decode::*;
pub use encode::*;
pub use messages::*;

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

/// Message types that neither side here encodes: `p9` answers them (or
/// refuses them) itself. Those of the table are in `messages.rs`.
pub const TLERROR: u8 = 6;
pub const TRENAME: u8 = 20;
pub const RRENAME: u8 = 21;
pub const TXATTRWALK: u8 = 30;
pub const TXATTRCREATE: u8 = 32;
pub const TLOCK: u8 = 52;
pub const TGETLOCK: u8 = 54;
pub const TAUTH: u8 = 102;
pub const TREMOVE: u8 = 122;

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
