//! The Sentry's 9P2000.L client.
//!
//! INTERFACE CONTRACT (the Sentry codes against exactly this):
//! * Every method takes `&self` and is safe to call from many threads at once.
//! * Errors are Linux errno values (`i32`, e.g. `libc::ENOENT`): an `Rlerror`
//!   passes its errno through; a broken connection or malformed reply is `EIO`.
//! * Names are raw bytes (Linux file names need not be UTF-8).
//! * Fids are allocated by the client; `clunk` frees them.

use std::os::unix::net::UnixStream;

/// A 9P file identifier.
pub type Fid = u32;

/// A server's unique id for a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Qid {
    pub ty: u8,
    pub version: u32,
    pub path: u64,
}

/// Rgetattr's fields (all of them are requested: P9_GETATTR_BASIC).
#[derive(Clone, Copy, Debug, Default)]
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
#[derive(Clone, Debug)]
pub struct DirEntry {
    pub qid: Qid,
    /// The offset to pass to the next `readdir` to continue after this entry.
    pub offset: u64,
    /// DT_* type.
    pub ty: u8,
    pub name: Vec<u8>,
}

/// Rstatfs.
#[derive(Clone, Copy, Debug, Default)]
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

/// A connection to a Gofer.
pub struct Client {
    _private: (),
}

impl Client {
    /// Negotiates 9P2000.L (Tversion) and attaches to the served root (Tattach).
    pub fn connect(_sock: UnixStream) -> Result<Client, i32> {
        Err(libc::ENOSYS)
    }

    /// The fid of the attached root.
    pub fn root(&self) -> Fid {
        0
    }

    /// Walks `names` from `fid` into a new fid. Walking zero names clones `fid`.
    /// A walk that stops early is `ENOENT` (the partial fid is never leaked).
    pub fn walk(&self, _fid: Fid, _names: &[&[u8]]) -> Result<(Fid, Vec<Qid>), i32> {
        Err(libc::ENOSYS)
    }

    pub fn getattr(&self, _fid: Fid) -> Result<Attr, i32> {
        Err(libc::ENOSYS)
    }

    /// Walk then getattr in one call; the new fid is returned with the
    /// attributes of the file it names.
    pub fn walk_getattr(&self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Attr), i32> {
        let (nfid, _) = self.walk(fid, names)?;
        match self.getattr(nfid) {
            Ok(a) => Ok((nfid, a)),
            Err(e) => {
                let _ = self.clunk(nfid);
                Err(e)
            }
        }
    }

    /// Opens `fid` with Linux open flags (O_RDONLY ...). Returns the qid and iounit.
    pub fn lopen(&self, _fid: Fid, _flags: u32) -> Result<(Qid, u32), i32> {
        Err(libc::ENOSYS)
    }

    /// Reads up to `buf.len()` bytes at `offset`; splits into msize-sized requests
    /// and stops at the first short read. Returns the byte count (0 at EOF).
    pub fn read(&self, _fid: Fid, _offset: u64, _buf: &mut [u8]) -> Result<usize, i32> {
        Err(libc::ENOSYS)
    }

    pub fn write(&self, _fid: Fid, _offset: u64, _data: &[u8]) -> Result<usize, i32> {
        Err(libc::ENOSYS)
    }

    /// One Treaddir of at most `count` bytes starting at `offset` (0 = start).
    /// An empty vector means the end of the directory.
    pub fn readdir(&self, _fid: Fid, _offset: u64, _count: u32) -> Result<Vec<DirEntry>, i32> {
        Err(libc::ENOSYS)
    }

    pub fn readlink(&self, _fid: Fid) -> Result<Vec<u8>, i32> {
        Err(libc::ENOSYS)
    }

    pub fn statfs(&self, _fid: Fid) -> Result<StatFs, i32> {
        Err(libc::ENOSYS)
    }

    pub fn clunk(&self, _fid: Fid) -> Result<(), i32> {
        Err(libc::ENOSYS)
    }
}
