//! Requests on a fid: opening it, reading, writing and listing what it
//! names (in msize-sized pieces), its symlink target, its filesystem,
//! fsync, and clunking it.

use super::{Client, Fid};
use crate::wire::{self, DirEntry, Qid, Rmessage, StatFs, Tmessage};

/// Runs `op(done, want)` over `len` bytes in pieces of at most `max`,
/// stopping at the first short piece. An error after some progress returns
/// the progress, as a short read or write does on Linux.
fn chunked(
    len: usize,
    max: usize,
    mut op: impl FnMut(usize, usize) -> Result<usize, i32>,
) -> Result<usize, i32> {
    let mut done = 0;
    while done < len {
        let want = (len - done).min(max);
        match op(done, want) {
            Ok(n) => {
                done += n;
                if n < want {
                    break;
                }
            }
            Err(e) if done == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(done)
}

impl Client {
    /// Opens `fid` with Linux open flags (O_RDONLY ...). Returns the qid and iounit.
    pub fn lopen(&self, fid: Fid, flags: u32) -> Result<(Qid, u32), i32> {
        self.rpc(&Tmessage::Lopen { fid, flags }, |r| match r {
            Rmessage::Lopen { qid, iounit } => Some((qid, iounit)),
            _ => None,
        })
    }

    /// Reads up to `buf.len()` bytes at `offset`; splits into msize-sized requests
    /// and stops at the first short read. Returns the byte count (0 at EOF).
    pub fn read(&self, fid: Fid, offset: u64, buf: &mut [u8]) -> Result<usize, i32> {
        let max = (self.msize - wire::RREAD_HEADER_LEN) as usize;
        chunked(buf.len(), max, |done, want| {
            let offset = offset.checked_add(done as u64).ok_or(libc::EINVAL)?;
            let dst = &mut buf[done..done + want];
            let msg = Tmessage::Read {
                fid,
                offset,
                // want <= msize, a u32.
                count: want as u32,
            };
            self.rpc(&msg, |r| match r {
                Rmessage::Read { data } if data.len() <= dst.len() => {
                    dst[..data.len()].copy_from_slice(data);
                    Some(data.len())
                }
                _ => None,
            })
        })
    }

    /// Writes `data` at `offset`, split into msize-sized requests; stops at
    /// the first short write. Returns the byte count.
    pub fn write(&self, fid: Fid, offset: u64, data: &[u8]) -> Result<usize, i32> {
        let max = (self.msize - wire::TWRITE_HEADER_LEN) as usize;
        chunked(data.len(), max, |done, want| {
            let offset = offset.checked_add(done as u64).ok_or(libc::EINVAL)?;
            let src = &data[done..done + want];
            let msg = Tmessage::Write {
                fid,
                offset,
                data: src,
            };
            self.rpc(&msg, |r| match r {
                Rmessage::Write { count } if count as usize <= src.len() => Some(count as usize),
                _ => None,
            })
        })
    }

    /// One Treaddir of at most `count` bytes starting at `offset` (0 = start).
    /// An empty vector means the end of the directory.
    ///
    /// `fid` must be open (`lopen`). `count` is capped to what fits in one
    /// message; it must leave room for at least one entry (24 bytes plus
    /// the name), or the server may answer with no entries.
    pub fn readdir(&self, fid: Fid, offset: u64, count: u32) -> Result<Vec<DirEntry>, i32> {
        let count = count.min(self.msize - wire::RREAD_HEADER_LEN);
        let msg = Tmessage::Readdir { fid, offset, count };
        self.rpc(&msg, |r| match r {
            Rmessage::Readdir { data } if data.len() <= count as usize => {
                wire::decode_dirents(data).ok()
            }
            _ => None,
        })
    }

    pub fn readlink(&self, fid: Fid) -> Result<Vec<u8>, i32> {
        self.rpc(&Tmessage::Readlink { fid }, |r| match r {
            Rmessage::Readlink { target } => Some(target.to_vec()),
            _ => None,
        })
    }

    pub fn statfs(&self, fid: Fid) -> Result<StatFs, i32> {
        self.rpc(&Tmessage::Statfs { fid }, |r| match r {
            Rmessage::Statfs(s) => Some(s),
            _ => None,
        })
    }

    /// Releases `fid`. Per 9P the fid is gone even when the server answers
    /// with an error, so its number is reused either way.
    pub fn clunk(&self, fid: Fid) -> Result<(), i32> {
        let result = self.rpc(&Tmessage::Clunk { fid }, |r| match r {
            Rmessage::Clunk => Some(()),
            _ => None,
        });
        self.release_fid(fid);
        result
    }

    /// Flushes an open file to storage (`fdatasync` when `datasync`).
    pub fn fsync(&self, fid: Fid, datasync: bool) -> Result<(), i32> {
        let msg = Tmessage::Fsync {
            fid,
            datasync: u32::from(datasync),
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Fsync => Some(()),
            _ => None,
        })
    }
}
