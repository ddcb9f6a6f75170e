//! Encoding: T- and R-messages, directory entries and Treaddirplus
//! entries into frames.

use super::*;

/// Appends little-endian fields to a frame under construction: one method
/// per field kind of the message table (`table.rs`), each taking the
/// field by reference.
pub(super) struct Enc<'v> {
    pub(super) out: &'v mut Vec<u8>,
}

type Put = Result<(), i32>;

impl Enc<'_> {
    pub(super) fn u8(&mut self, v: &u8) -> Put {
        self.out.push(*v);
        Ok(())
    }
    pub(super) fn u16(&mut self, v: &u16) -> Put {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub(super) fn u32(&mut self, v: &u32) -> Put {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub(super) fn u64(&mut self, v: &u64) -> Put {
        self.out.extend_from_slice(&v.to_le_bytes());
        Ok(())
    }
    pub(super) fn bool(&mut self, v: &bool) -> Put {
        self.u8(&u8::from(*v))
    }
    /// A string: `len[2]` then the bytes. Longer than 65535 bytes is
    /// `ENAMETOOLONG`.
    pub(super) fn str(&mut self, s: &[u8]) -> Put {
        let len = u16::try_from(s.len()).map_err(|_| libc::ENAMETOOLONG)?;
        self.u16(&len)?;
        self.out.extend_from_slice(s);
        Ok(())
    }
    /// Counted data: `count[4]` then the bytes.
    pub(super) fn data(&mut self, d: &[u8]) -> Put {
        let len = u32::try_from(d.len()).map_err(|_| libc::EINVAL)?;
        self.u32(&len)?;
        self.out.extend_from_slice(d);
        Ok(())
    }
    pub(super) fn qid(&mut self, q: &Qid) -> Put {
        self.u8(&q.ty)?;
        self.u32(&q.version)?;
        self.u64(&q.path)
    }
    /// `nwqid[2]` then the qids.
    pub(super) fn qids(&mut self, qids: &[Qid]) -> Put {
        let n = u16::try_from(qids.len()).map_err(|_| libc::EINVAL)?;
        self.u16(&n)?;
        qids.iter().try_for_each(|q| self.qid(q))
    }
    /// `count[2]` then the strings (the count was checked against
    /// MAXWELEM before: `check_count!`).
    pub(super) fn walk_names(&mut self, names: &[&[u8]]) -> Put {
        self.strs(names)
    }
    /// `count[2]` then the strings; more than [`MAX_OPENFD_NAMES`] is
    /// `ENAMETOOLONG`.
    pub(super) fn path(&mut self, names: &[&[u8]]) -> Put {
        if names.len() > MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        self.strs(names)
    }
    /// Topenfds' names, encoded as a path's.
    pub(super) fn open_names(&mut self, names: &[&[u8]]) -> Put {
        self.path(names)
    }
    /// `count[2]` then `errno[4] ino[8]` per name (the count was checked
    /// against MAX_OPENFDS before).
    pub(super) fn open_results(&mut self, results: &[(u32, u64)]) -> Put {
        self.strs_count(results.len())?;
        results.iter().try_for_each(|(errno, ino)| {
            self.u32(errno)?;
            self.u64(ino)
        })
    }
    /// Tsetattr's fields after the fid.
    pub(super) fn setattr(&mut self, a: &SetAttr) -> Put {
        for v in [a.valid, a.mode, a.uid, a.gid] {
            self.u32(&v)?;
        }
        for v in [a.size, a.atime_sec, a.atime_nsec, a.mtime_sec, a.mtime_nsec] {
            self.u64(&v)?;
        }
        Ok(())
    }
    /// Rgetattr's body.
    pub(super) fn getattr(&mut self, r: &Rgetattr) -> Put {
        let a = &r.attr;
        self.u64(&r.valid)?;
        self.qid(&a.qid)?;
        for v in [a.mode, a.uid, a.gid] {
            self.u32(&v)?;
        }
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
            self.u64(&v)?;
        }
        Ok(())
    }
    /// Rstatfs's body.
    pub(super) fn statfs(&mut self, s: &StatFs) -> Put {
        self.u32(&s.ty)?;
        self.u32(&s.bsize)?;
        for v in [s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.fsid] {
            self.u64(&v)?;
        }
        self.u32(&s.namelen)
    }

    /// `count[2]` then the strings.
    fn strs(&mut self, names: &[&[u8]]) -> Put {
        self.strs_count(names.len())?;
        names.iter().try_for_each(|n| self.str(n))
    }
    /// A `count[2]` that callers have bounded (MAXWELEM, MAX_OPENFDS,
    /// MAX_OPENFD_NAMES all fit).
    fn strs_count(&mut self, n: usize) -> Put {
        self.u16(&u16::try_from(n).map_err(|_| libc::EINVAL)?)
    }
}

/// Starts a frame in `out` (cleared first): a size placeholder, type and tag.
fn begin(out: &mut Vec<u8>, ty: u8, tag: u16) -> Enc<'_> {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    out.push(ty);
    out.extend_from_slice(&tag.to_le_bytes());
    Enc { out }
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
    msg.encode_body(&mut begin(out, msg.type_byte(), tag))?;
    finish(out)
}

/// Encodes a reply as one frame into `out` (replacing its contents).
pub fn encode_rmessage(tag: u16, msg: &Rmessage<'_>, out: &mut Vec<u8>) -> Result<(), i32> {
    msg.encode_body(&mut begin(out, msg.type_byte(), tag))?;
    finish(out)
}

/// Appends one Rreaddir entry (`qid[13] offset[8] type[1] name[s]`) to `out`.
pub fn encode_dirent(entry: &DirEntry, out: &mut Vec<u8>) -> Result<(), i32> {
    let mut e = Enc { out };
    e.qid(&entry.qid)?;
    e.u64(&entry.offset)?;
    e.u8(&entry.ty)?;
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
    e.getattr(&entry.attr)?;
    e.str(entry.target)?;
    match entry.xattrs {
        Some(x) => {
            e.u8(&1)?;
            e.data(x)
        }
        None => e.u8(&0),
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
        let attr = d.rgetattr()?;
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
