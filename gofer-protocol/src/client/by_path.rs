//! Our additions that name files by their path below the served root
//! (no fid involved): opens and lookups that pass host descriptors back,
//! listings with attributes, and changes by path. Each goes over the
//! calling CPU's channel when there is one (`Client::path_conn`).

use std::os::fd::{AsRawFd, OwnedFd};

use super::xattr::split_names;
use super::{Client, TAG};
use crate::wire::{self, Attr, Rmessage, SetAttr, Tmessage};

/// A descriptor [`Client::open_fds`] opened, and its file's inode number.
pub type OpenedFd = (OwnedFd, u64);

/// One entry of [`Client::readdir_plus`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirPlus {
    pub name: Vec<u8>,
    pub attr: Attr,
    /// A symlink's target; empty for other files.
    pub target: Vec<u8>,
    /// Its extended attribute names, if the Gofer could list them.
    pub xattrs: Option<Vec<Vec<u8>>>,
}

/// What [`Client::lookup_fd`] found.
#[derive(Debug)]
pub struct LookupFd {
    pub attr: Attr,
    /// A symlink's target; empty for other files.
    pub target: Vec<u8>,
    /// A regular file's or directory's read-only host descriptor, if the
    /// server could open it.
    pub fd: Option<OwnedFd>,
}

/// `fstat`s a donated descriptor, which must be of file type `want`
/// (`S_IFREG`, `S_IFDIR`); anything else is `EIO` (the descriptor is
/// closed by the caller dropping it).
pub(super) fn check_fd(fd: &OwnedFd, want: u32) -> Result<libc::stat, i32> {
    // SAFETY: stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is a valid out-parameter.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(libc::EIO);
    }
    if st.st_mode & libc::S_IFMT != want {
        tracing::warn!(
            mode = st.st_mode,
            "the gofer passed a descriptor of the wrong type"
        );
        return Err(libc::EIO);
    }
    Ok(st)
}

impl Client {
    /// Opens the file at `names` below the served root, read-only, and
    /// returns the host descriptor the server passes back (Topenfd), with
    /// its `fstat`. `dir` asks for a directory, otherwise a regular file;
    /// any other file is refused. No fid is involved: closing the
    /// descriptor is all the clean-up there is.
    ///
    /// A descriptor of another type than asked for is `EIO`; `EMFILE` means
    /// this process could not take one more descriptor.
    pub fn open_fd(&self, names: &[&[u8]], dir: bool) -> Result<(OwnedFd, libc::stat), i32> {
        self.open_fd_flags(names, if dir { libc::O_DIRECTORY } else { 0 })
    }

    /// [`Client::open_fd`] with open flags: `O_DIRECTORY` for a directory,
    /// or for a regular file an access mode (a writable server grants
    /// `O_WRONLY`/`O_RDWR`, a read-only one answers `EROFS`) with
    /// `O_APPEND`/`O_TRUNC`.
    pub fn open_fd_flags(&self, names: &[&[u8]], flags: i32) -> Result<(OwnedFd, libc::stat), i32> {
        if names.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        let dir = flags & libc::O_DIRECTORY != 0;
        let msg = Tmessage::Openfd {
            flags: flags as u32,
            names: names.to_vec(),
        };
        let (_, fd) = {
            let mut conn = self.path_conn();
            conn.call_fd(TAG, &msg, self.msize, |r| match r {
                Rmessage::Openfd => Some(()),
                _ => None,
            })?
        };
        // call_fd hands out exactly the one descriptor Ropenfd carries.
        let fd = fd.ok_or(libc::EIO)?;
        let st = check_fd(&fd, if dir { libc::S_IFDIR } else { libc::S_IFREG })?;
        Ok((fd, st))
    }

    /// Lists the directory at `names` below the served root with every
    /// entry's attributes and a symlink's target (Treaddirplus, one round
    /// trip per reply's worth of entries). No fid is involved. A listing
    /// that repeats a name or never ends (more than `max` entries) is
    /// `EIO`, so a hostile server cannot make it grow without bound.
    pub fn readdir_plus(&self, names: &[&[u8]], max: usize) -> Result<Vec<DirPlus>, i32> {
        if names.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut offset = 0;
        loop {
            let msg = Tmessage::Readdirplus {
                offset,
                count: self.msize,
                names: names.to_vec(),
            };
            let next = {
                let mut conn = self.path_conn();
                conn.call(TAG, &msg, self.msize, |r| match r {
                    Rmessage::Readdirplus { next, data } => {
                        let entries = wire::decode_dirplus(data).ok()?;
                        for e in entries {
                            let xattrs = match e.xattrs {
                                Some(x) => Some(split_names(x)?),
                                None => None,
                            };
                            out.push(DirPlus {
                                name: e.name.to_vec(),
                                attr: e.attr.attr,
                                target: e.target.to_vec(),
                                xattrs,
                            });
                        }
                        Some(next)
                    }
                    _ => None,
                })?
            };
            if out.len() > max {
                return Err(libc::EIO);
            }
            if next == 0 {
                break;
            }
            if next == offset {
                // No progress: the listing would never end.
                return Err(libc::EIO);
            }
            offset = next;
        }
        for e in &out {
            if !seen.insert(e.name.as_slice()) {
                return Err(libc::EIO);
            }
        }
        Ok(out)
    }

    /// Opens the regular files `names` (plain names, at most
    /// [`wire::MAX_OPENFDS`]) of the directory at `dir` below the served
    /// root, read-only, in one round trip (Topenfds): per name, its host
    /// descriptor and inode number, or the errno opening it gave.
    pub fn open_fds(
        &self,
        dir: &[&[u8]],
        names: &[&[u8]],
    ) -> Result<Vec<Result<OpenedFd, i32>>, i32> {
        if names.len() > wire::MAX_OPENFDS || dir.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::EINVAL);
        }
        let msg = Tmessage::Openfds {
            dir: dir.to_vec(),
            names: names.to_vec(),
        };
        let (results, fds) = {
            let mut conn = self.path_conn();
            conn.call_fds(TAG, &msg, self.msize, |r| match r {
                Rmessage::Openfds { results } if results.len() == names.len() => Some(results),
                _ => None,
            })?
        };
        let mut fds = fds.into_iter();
        let mut out = Vec::with_capacity(results.len());
        for (e, ino) in results {
            if e != 0 {
                let e = i32::try_from(e).ok().filter(|e| (1..4096).contains(e));
                out.push(Err(e.ok_or(libc::EIO)?));
                continue;
            }
            // exchange checked one descriptor per success.
            let fd = fds.next().ok_or(libc::EIO)?;
            let st = check_fd(&fd, libc::S_IFREG)?;
            if st.st_ino != ino {
                return Err(libc::EIO);
            }
            out.push(Ok((fd, ino)));
        }
        Ok(out)
    }

    /// Looks up the file at `names` below the served root in one round trip
    /// (Tlookupfd): its attributes, a symlink's target, and for a regular
    /// file or directory the server could open, its read-only host
    /// descriptor (as [`Client::open_fd`] gives). No fid is involved.
    pub fn lookup_fd(&self, names: &[&[u8]]) -> Result<LookupFd, i32> {
        if names.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        let msg = Tmessage::Lookupfd {
            names: names.to_vec(),
        };
        let ((attr, target), fd) = {
            let mut conn = self.path_conn();
            conn.call_fd(TAG, &msg, self.msize, |r| match r {
                Rmessage::Lookupfd { fd, attr, target } => {
                    let mode = attr.attr.mode & libc::S_IFMT;
                    // A descriptor only for a regular file or directory; a
                    // target only for a symlink.
                    let ok = (!fd || mode == libc::S_IFREG || mode == libc::S_IFDIR)
                        && (target.is_empty() || mode == libc::S_IFLNK);
                    ok.then(|| (attr.attr, target.to_vec()))
                }
                _ => None,
            })?
        };
        let fd = match fd {
            Some(fd) => {
                let st = check_fd(&fd, attr.mode & libc::S_IFMT)?;
                if st.st_ino != attr.qid.path {
                    return Err(libc::EIO);
                }
                Some(fd)
            }
            None => None,
        };
        Ok(LookupFd { attr, target, fd })
    }

    /// Creates the file at `names` (the last name is the new one) of the
    /// type in `mode` (`S_IFREG`, `S_IFDIR`, `S_IFLNK` holding `target`,
    /// `S_IFIFO`, `S_IFSOCK`) with `mode`'s permission bits exactly (no
    /// umask), owned by `uid`/`gid` (Tcreateat). A new regular file comes
    /// with its read-write host descriptor.
    pub fn create_at(
        &self,
        names: &[&[u8]],
        mode: u32,
        uid: u32,
        gid: u32,
        target: &[u8],
    ) -> Result<(Attr, Option<OwnedFd>), i32> {
        let msg = Tmessage::Createat {
            mode,
            rdev: 0,
            uid,
            gid,
            names: names.to_vec(),
            target,
        };
        let (attr, fd) = {
            let mut conn = self.path_conn();
            conn.call_fd(TAG, &msg, self.msize, |r| match r {
                Rmessage::Createat { fd, attr } => {
                    let reg = attr.attr.mode & libc::S_IFMT == libc::S_IFREG;
                    (!fd || reg).then_some(attr.attr)
                }
                _ => None,
            })?
        };
        if let Some(fd) = &fd {
            let st = check_fd(fd, libc::S_IFREG)?;
            if st.st_ino != attr.qid.path {
                return Err(libc::EIO);
            }
        }
        Ok((attr, fd))
    }

    /// Makes `new` another name of the file at `old` (Tlinkat); returns the
    /// file's attributes.
    pub fn link_at(&self, old: &[&[u8]], new: &[&[u8]]) -> Result<Attr, i32> {
        let msg = Tmessage::Linkat {
            old: old.to_vec(),
            new: new.to_vec(),
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Linkat { attr } => Some(attr.attr),
            _ => None,
        })
    }

    /// Removes the name at `names` (Tremoveat); `flags` 0 or `AT_REMOVEDIR`.
    pub fn remove_at(&self, names: &[&[u8]], flags: u32) -> Result<(), i32> {
        let msg = Tmessage::Removeat {
            flags,
            names: names.to_vec(),
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Removeat).then_some(()))
    }

    /// Renames `old` to `new` with renameat2 `flags` (Trenameat2).
    pub fn rename_at2(&self, old: &[&[u8]], new: &[&[u8]], flags: u32) -> Result<(), i32> {
        let msg = Tmessage::Renameat2 {
            flags,
            old: old.to_vec(),
            new: new.to_vec(),
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Renameat2).then_some(()))
    }

    /// Changes the attributes of the file at `names`, not followed
    /// (Tsetattrat); returns the attributes after the change.
    pub fn setattr_at(&self, names: &[&[u8]], attr: &SetAttr) -> Result<Attr, i32> {
        let msg = Tmessage::Setattrat {
            attr: *attr,
            names: names.to_vec(),
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Setattrat { attr } => Some(attr.attr),
            _ => None,
        })
    }
}
