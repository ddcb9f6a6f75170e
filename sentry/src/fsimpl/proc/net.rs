//! /proc/PID/net (and /proc/net, a link to /proc/self/net): the sandbox's
//! network namespace as procfs shows it. Only AF_UNIX sockets exist yet.

use std::sync::Arc;

use super::target::Target;
use super::{entry, owned_attrs, path_ino};
use crate::errno::Errno;
use crate::vfs::{DirEntry, FileOps, Inode, InodeRef};

const ENTRIES: [&str; 1] = ["unix"];

/// /proc/PID/net.
pub(super) struct NetDir {
    pub(super) ino: u64,
    pub(super) t: Target,
}

impl Inode for NetDir {
    fn ino(&self) -> u64 {
        self.ino
    }
    fn mode(&self) -> u32 {
        libc::S_IFDIR | 0o555
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        Ok(owned_attrs(self.ino, self.mode(), 2, self.t.ids()))
    }
    fn lookup(&self, name: &[u8]) -> Result<InodeRef, Errno> {
        let t = self.t.clone();
        match name {
            b"unix" => Ok(Arc::new(self.t.file(
                "net/unix",
                0o444,
                Arc::new(move || Ok(t.kernel()?.unix_names.proc_net_unix())),
            ))),
            _ => Err(Errno::ENOENT),
        }
    }
    fn readdir(&self) -> Result<Vec<DirEntry>, Errno> {
        Ok(ENTRIES
            .iter()
            .map(|n| {
                let key = format!("{}/net/{n}", self.t.key());
                entry(path_ino(&key), libc::DT_REG, n.as_bytes())
            })
            .collect())
    }
    fn open(self: Arc<Self>, _flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
        Ok(Arc::new(crate::fsimpl::DirFile))
    }
}
