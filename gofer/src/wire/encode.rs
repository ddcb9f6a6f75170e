//! Encoding: T- and R-messages, directory entries and Treaddirplus
//! entries into frames.

use super::*;

/// Appends little-endian fields to a frame under construction.
pub(super) struct Enc<'v> {
    pub(super) out: &'v mut Vec<u8>,
}

impl Enc<'_> {
    pub(super) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }
    pub(super) fn u16(&mut self, v: u16) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    pub(super) fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }
    /// A string: `len[2]` then the bytes. Longer than 65535 bytes is
    /// `ENAMETOOLONG`.
    pub(super) fn str(&mut self, s: &[u8]) -> Result<(), i32> {
        let len = u16::try_from(s.len()).map_err(|_| libc::ENAMETOOLONG)?;
        self.u16(len);
        self.out.extend_from_slice(s);
        Ok(())
    }
    /// Counted data: `count[4]` then the bytes.
    pub(super) fn data(&mut self, d: &[u8]) -> Result<(), i32> {
        let len = u32::try_from(d.len()).map_err(|_| libc::EINVAL)?;
        self.u32(len);
        self.out.extend_from_slice(d);
        Ok(())
    }
    pub(super) fn qid(&mut self, q: &Qid) {
        self.u8(q.ty);
        self.u32(q.version);
        self.u64(q.path);
    }
}

/// Starts a frame in `out` (cleared first): a size placeholder, type and tag.
pub(super) fn begin(out: &mut Vec<u8>, ty: u8, tag: u16) -> Enc<'_> {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    let mut e = Enc { out };
    e.u8(ty);
    e.u16(tag);
    e
}

/// Writes the frame's size into its first four bytes.
pub(super) fn finish(out: &mut [u8]) -> Result<(), i32> {
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
    pub(super) fn setattr(&mut self, attr: &SetAttr) {
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
    pub(super) fn names(&mut self, names: &[&[u8]]) -> Result<(), i32> {
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
    pub(super) fn getattr(&mut self, r: &Rgetattr) {
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
