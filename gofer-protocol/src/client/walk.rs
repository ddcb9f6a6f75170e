//! Fids by walking: Twalk (in as many steps as the names need),
//! Tgetattr, and Twalkgetattr's walk and getattr in one round trip.

use super::{Client, Fid, Keep};
use crate::wire::{self, Attr, Qid, Rmessage, Tmessage};

/// `size[4] type[1] tag[2] fid[4] newfid[4] nwname[2]`.
const TWALK_HEADER_LEN: usize = wire::HEADER_LEN + 10;

impl Client {
    /// Walks `names` from `fid` into a new fid. Walking zero names clones `fid`.
    /// A walk that stops early is `ENOENT` (the partial fid is never leaked).
    ///
    /// A walk stopped by a file that is neither a directory nor a symlink is
    /// `ENOTDIR`, as on Linux; stopped anywhere else it is `ENOENT`.
    ///
    /// More than 16 names (9P's MAXWELEM), or names that do not fit one
    /// message, take several Twalks: the first clones `fid` into the new fid,
    /// the rest walk the new fid in place.
    pub fn walk(&self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Vec<Qid>), i32> {
        let newfid = self.alloc_fid()?;
        match self.walk_into(fid, newfid, names) {
            Ok(qids) => Ok((newfid, qids)),
            Err(e) => {
                self.release_fid(newfid);
                Err(e)
            }
        }
    }

    /// How many of `names` (at least one) fit in one Twalk.
    fn walk_chunk_len(&self, names: &[&[u8]]) -> Result<usize, i32> {
        let mut size = TWALK_HEADER_LEN;
        let mut n = 0;
        for name in names.iter().take(wire::MAXWELEM) {
            size += 2 + name.len();
            if size > self.msize as usize {
                break;
            }
            n += 1;
        }
        if n == 0 {
            return Err(libc::ENAMETOOLONG);
        }
        Ok(n)
    }

    /// One Twalk; the reply may name fewer qids than `names`.
    fn twalk(&self, fid: Fid, newfid: Fid, names: &[&[u8]]) -> Result<Vec<Qid>, i32> {
        let msg = Tmessage::Walk {
            fid,
            newfid,
            names: names.to_vec(),
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Walk { qids } if qids.len() <= names.len() => Some(qids),
            _ => None,
        })
    }

    /// Walks into `newfid`; on error `newfid` does not exist on the server.
    fn walk_into(&self, fid: Fid, newfid: Fid, names: &[&[u8]]) -> Result<Vec<Qid>, i32> {
        if names.is_empty() {
            return self.twalk(fid, newfid, names);
        }
        let mut qids = Vec::with_capacity(names.len());
        let mut from = fid;
        let mut rest = names;
        while !rest.is_empty() {
            let (chunk, tail) = match self.walk_chunk_len(rest) {
                Ok(n) => rest.split_at(n),
                Err(e) => {
                    self.forget_walked(from, newfid);
                    return Err(e);
                }
            };
            // A walk that stops early does not create (or, walking in place,
            // move) newfid: 9P's rule, which the p9 server follows.
            match self.twalk(from, newfid, chunk) {
                Ok(got) if got.len() == chunk.len() => qids.extend(got),
                Ok(got) => {
                    self.forget_walked(from, newfid);
                    // The last file reached, where the walk could not go on.
                    let stop = got.last().or(qids.last());
                    return Err(match stop {
                        Some(q) if q.ty & (wire::QTDIR | wire::QTSYMLINK) == 0 => libc::ENOTDIR,
                        _ => libc::ENOENT,
                    });
                }
                Err(e) => {
                    self.forget_walked(from, newfid);
                    return Err(e);
                }
            }
            from = newfid;
            rest = tail;
        }
        Ok(qids)
    }

    /// After a failed walk step from `from`: if earlier steps created `newfid`
    /// on the server, clunk it there.
    fn forget_walked(&self, from: Fid, newfid: Fid) {
        if from == newfid {
            let _ = self.rpc(&Tmessage::Clunk { fid: newfid }, |r| match r {
                Rmessage::Clunk => Some(()),
                _ => None,
            });
        }
    }

    pub fn getattr(&self, fid: Fid) -> Result<Attr, i32> {
        let msg = Tmessage::Getattr {
            fid,
            request_mask: wire::P9_GETATTR_BASIC,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Getattr(g) => Some(g.attr),
            _ => None,
        })
    }

    /// Walk then getattr in one round trip (Twalkgetattr); the new fid is
    /// returned with the attributes of the file it names.
    pub fn walk_getattr(&self, fid: Fid, names: &[&[u8]]) -> Result<(Fid, Attr), i32> {
        match self.lookup(fid, names, Keep::Always) {
            Ok((Some(nfid), a)) => Ok((nfid, a)),
            // lookup checked that the server kept the fid.
            Ok((None, _)) => Err(libc::EIO),
            Err(e) => Err(e),
        }
    }

    /// Walks `names` (at most [`wire::MAXWELEM`], fitting one message)
    /// from `fid` and returns the attributes of the file reached, in one
    /// round trip (Twalkgetattr), and the new fid if `keep` keeps it. A walk
    /// that stops early is `ENOENT` (`ENOTDIR` at a file that is neither a
    /// directory nor a symlink) and creates no fid. More names take a Twalk
    /// and a Tgetattr.
    pub fn lookup(
        &self,
        fid: Fid,
        names: &[&[u8]],
        keep: Keep,
    ) -> Result<(Option<Fid>, Attr), i32> {
        // Twalkgetattr is Twalk with a `keep[4]` field more.
        let size = TWALK_HEADER_LEN + 4 + names.iter().map(|n| 2 + n.len()).sum::<usize>();
        if names.len() > wire::MAXWELEM || size > self.msize as usize {
            let (nfid, _) = self.walk(fid, names)?;
            let a = self.getattr(nfid);
            let kept = match (&a, keep) {
                (Ok(_), Keep::Always) => true,
                (Ok(a), Keep::Dir) => a.mode & libc::S_IFMT == libc::S_IFDIR,
                _ => false,
            };
            if !kept {
                let _ = self.clunk(nfid);
            }
            return a.map(|a| (kept.then_some(nfid), a));
        }
        let newfid = self.alloc_fid()?;
        let msg = Tmessage::Walkgetattr {
            fid,
            newfid,
            keep: match keep {
                Keep::Always => wire::WALK_KEEP_ALWAYS,
                Keep::Dir => wire::WALK_KEEP_DIR,
                Keep::Never => wire::WALK_KEEP_NEVER,
            },
            names: names.to_vec(),
        };
        let r = self.rpc(&msg, |r| match r {
            Rmessage::Walkgetattr { kept, qids, attr } if qids.len() == names.len() => {
                // The server must keep the fid exactly when asked to, or our
                // fid numbers and its table disagree.
                let is_dir = attr.attr.mode & libc::S_IFMT == libc::S_IFDIR;
                let should = match keep {
                    Keep::Always => true,
                    Keep::Dir => is_dir,
                    Keep::Never => false,
                };
                (kept == should).then_some((kept, attr.attr))
            }
            _ => None,
        });
        match r {
            Ok((true, a)) => Ok((Some(newfid), a)),
            Ok((false, a)) => {
                self.release_fid(newfid);
                Ok((None, a))
            }
            Err(e) => {
                self.release_fid(newfid);
                Err(e)
            }
        }
    }
}
