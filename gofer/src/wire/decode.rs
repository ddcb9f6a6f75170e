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
    /// Rgetattr's body.
    pub(super) fn getattr(&mut self) -> Result<Rgetattr, i32> {
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
pub(super) fn split_frame(frame: &[u8]) -> Result<(u8, u16, Dec<'_>), i32> {
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
