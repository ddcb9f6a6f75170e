//! Changes to the tree through fids (9P's own requests): creating,
//! linking, renaming and removing names in a directory fid, and changing
//! a fid's attributes.

use super::{Client, Fid};
use crate::wire::{Qid, Rmessage, SetAttr, Tmessage};

impl Client {
    /// Creates and opens the regular file `name` in the directory `dfid`.
    /// As 9P has it, `dfid` itself then names the new, open file: walk a
    /// clone of the directory first (`walk(dfid, &[])`) to keep it.
    pub fn lcreate(
        &self,
        dfid: Fid,
        name: &[u8],
        flags: u32,
        mode: u32,
        gid: u32,
    ) -> Result<(Qid, u32), i32> {
        let msg = Tmessage::Lcreate {
            fid: dfid,
            name,
            flags,
            mode,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Lcreate { qid, iounit } => Some((qid, iounit)),
            _ => None,
        })
    }

    /// Creates the directory `name` in `dfid`.
    pub fn mkdir(&self, dfid: Fid, name: &[u8], mode: u32, gid: u32) -> Result<Qid, i32> {
        let msg = Tmessage::Mkdir {
            dfid,
            name,
            mode,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Mkdir { qid } => Some(qid),
            _ => None,
        })
    }

    /// Creates the symlink `name` -> `target` in `dfid`. (The p9 server
    /// refuses this with EACCES.)
    pub fn symlink(&self, dfid: Fid, name: &[u8], target: &[u8], gid: u32) -> Result<Qid, i32> {
        let msg = Tmessage::Symlink {
            dfid,
            name,
            target,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Symlink { qid } => Some(qid),
            _ => None,
        })
    }

    /// Creates the device, FIFO or socket node `name` in `dfid`. (The p9
    /// server refuses this with EACCES.)
    pub fn mknod(
        &self,
        dfid: Fid,
        name: &[u8],
        mode: u32,
        major: u32,
        minor: u32,
        gid: u32,
    ) -> Result<Qid, i32> {
        let msg = Tmessage::Mknod {
            dfid,
            name,
            mode,
            major,
            minor,
            gid,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Mknod { qid } => Some(qid),
            _ => None,
        })
    }

    /// Makes `name` in `dfid` a hard link to the file `fid`.
    pub fn link(&self, dfid: Fid, fid: Fid, name: &[u8]) -> Result<(), i32> {
        self.rpc(&Tmessage::Link { dfid, fid, name }, |r| match r {
            Rmessage::Link => Some(()),
            _ => None,
        })
    }

    /// Renames `oldname` in `olddfid` to `newname` in `newdfid`.
    pub fn renameat(
        &self,
        olddfid: Fid,
        oldname: &[u8],
        newdfid: Fid,
        newname: &[u8],
    ) -> Result<(), i32> {
        let msg = Tmessage::Renameat {
            olddfid,
            oldname,
            newdfid,
            newname,
        };
        self.rpc(&msg, |r| match r {
            Rmessage::Renameat => Some(()),
            _ => None,
        })
    }

    /// Removes `name` from `dfid`; `flags` is 0 or `AT_REMOVEDIR`.
    pub fn unlinkat(&self, dfid: Fid, name: &[u8], flags: u32) -> Result<(), i32> {
        self.rpc(&Tmessage::Unlinkat { dfid, name, flags }, |r| match r {
            Rmessage::Unlinkat => Some(()),
            _ => None,
        })
    }

    /// Changes the attributes `attr.valid` selects.
    pub fn setattr(&self, fid: Fid, attr: &SetAttr) -> Result<(), i32> {
        self.rpc(&Tmessage::Setattr { fid, attr: *attr }, |r| match r {
            Rmessage::Setattr => Some(()),
            _ => None,
        })
    }
}
