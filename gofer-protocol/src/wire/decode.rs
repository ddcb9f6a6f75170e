//! Decoding: one whole frame at a time, borrowing from it, refusing
//! anything that is not exactly the expected shape (EIO).

use super::*;

/// Reads little-endian fields from a frame body; every read is bounds-checked
/// and running short is `EIO`.
pub(super) struct Dec<'a> {
    pub(super) buf: &'a [u8],
}

impl<'a> Dec<'a> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], i32> {
        if self.buf.len() < n {
            return Err(libc::EIO);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], i32> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    pub(super) fn u8(&mut self) -> Result<u8, i32> {
        Ok(self.array::<1>()?[0])
    }
    /// One byte, 0 or 1; anything else is `EIO`.
    pub(super) fn bool(&mut self) -> Result<bool, i32> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(libc::EIO),
        }
    }
    pub(super) fn u16(&mut self) -> Result<u16, i32> {
        self.array().map(u16::from_le_bytes)
    }
    pub(super) fn u32(&mut self) -> Result<u32, i32> {
        self.array().map(u32::from_le_bytes)
    }
    pub(super) fn u64(&mut self) -> Result<u64, i32> {
        self.array().map(u64::from_le_bytes)
    }
    pub(super) fn str(&mut self) -> Result<&'a [u8], i32> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
    pub(super) fn data(&mut self) -> Result<&'a [u8], i32> {
        let n = usize::try_from(self.u32()?).map_err(|_| libc::EIO)?;
        self.take(n)
    }
    pub(super) fn qid(&mut self) -> Result<Qid, i32> {
        Ok(Qid {
            ty: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }
    /// `count[2]` then that many strings; more than `max` is `EIO`. Each
    /// string takes at least two bytes, so the allocation is bounded by the
    /// frame.
    pub(super) fn names(&mut self, max: usize) -> Result<Vec<&'a [u8]>, i32> {
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
    /// A Twalk's names: at most [`MAXWELEM`].
    pub(super) fn walk_names(&mut self) -> Result<Vec<&'a [u8]>, i32> {
        self.names(MAXWELEM)
    }
    /// A path from the served root: at most [`MAX_OPENFD_NAMES`] names.
    pub(super) fn path(&mut self) -> Result<Vec<&'a [u8]>, i32> {
        self.names(MAX_OPENFD_NAMES)
    }
    /// Topenfds' names: at most [`MAX_OPENFDS`].
    pub(super) fn open_names(&mut self) -> Result<Vec<&'a [u8]>, i32> {
        self.names(MAX_OPENFDS)
    }
    /// Ropenfds' `count[2]` (at most [`MAX_OPENFDS`]) `(errno[4], ino[8])`
    /// pairs.
    pub(super) fn open_results(&mut self) -> Result<Vec<(u32, u64)>, i32> {
        let n = usize::from(self.u16()?);
        if n > MAX_OPENFDS {
            return Err(libc::EIO);
        }
        let mut results = Vec::with_capacity(n);
        for _ in 0..n {
            results.push((self.u32()?, self.u64()?));
        }
        Ok(results)
    }
    /// `nwqid[2]` then that many qids (at most [`MAXWELEM`]).
    pub(super) fn qids(&mut self) -> Result<Vec<Qid>, i32> {
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
    /// Rgetattr's body, boxed (as the replies hold it).
    pub(super) fn getattr(&mut self) -> Result<Box<Rgetattr>, i32> {
        self.rgetattr().map(Box::new)
    }
    /// Rgetattr's body.
    pub(super) fn rgetattr(&mut self) -> Result<Rgetattr, i32> {
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
    pub(super) fn setattr(&mut self) -> Result<SetAttr, i32> {
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
    /// Rstatfs's body.
    pub(super) fn statfs(&mut self) -> Result<StatFs, i32> {
        Ok(StatFs {
            ty: self.u32()?,
            bsize: self.u32()?,
            blocks: self.u64()?,
            bfree: self.u64()?,
            bavail: self.u64()?,
            files: self.u64()?,
            ffree: self.u64()?,
            fsid: self.u64()?,
            namelen: self.u32()?,
        })
    }
    /// The body must be consumed exactly.
    pub(super) fn end(&self) -> Result<(), i32> {
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
    let msg = Tmessage::decode_body(ty, &mut d)?;
    d.end()?;
    Ok((tag, msg))
}

/// Decodes a whole reply frame into its tag and message. Anything malformed
/// or of an unknown type is `EIO`. (Whether the reply matches the request is
/// the caller's check.)
pub fn decode_rmessage(frame: &[u8]) -> Result<(u16, Rmessage<'_>), i32> {
    let (ty, tag, mut d) = split_frame(frame)?;
    let msg = Rmessage::decode_body(ty, &mut d)?;
    d.end()?;
    Ok((tag, msg))
}

/// The smallest Rreaddir entry: qid, offset, type and an empty name.
pub(super) const DIRENT_MIN_LEN: usize = QID_LEN + 8 + 1 + 2;

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
