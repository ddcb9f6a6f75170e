//! What a resolution runs with ([`Ctx`]): the namespace, the caller's
//! root, credentials, umask and descriptors. Its own file, below both the
//! path operations (`ops`) and open files (`file`), which take it.

use std::sync::Arc;

use super::resolve::Resolve;
use super::{Caller, Cred, Dentry, FdTable, Owner, Vfs};

/// What a resolution runs with.
pub struct Ctx<'a> {
    pub vfs: &'a Vfs,
    /// The task's root: `/` and `..` stop here.
    pub root: Arc<Dentry>,
    pub cred: Cred,
    pub umask: u32,
    /// The caller's descriptors, for magic links (/dev/fd/N).
    pub fds: Option<Arc<FdTable>>,
    /// The caller, for what depends on who looks (procfs).
    pub caller: Option<&'a dyn Caller>,
    /// openat2's restrictions on the walk; none for every other call.
    pub resolve: Resolve,
}

impl<'a> Ctx<'a> {
    pub fn new(vfs: &'a Vfs, root: Arc<Dentry>, cred: Cred, umask: u32) -> Ctx<'a> {
        Ctx {
            vfs,
            root,
            cred,
            umask,
            fds: None,
            caller: None,
            resolve: Resolve::default(),
        }
    }

    /// A task's context, with its filesystem (effective) credentials.
    pub fn of(t: &'a dyn Caller) -> Ctx<'a> {
        Ctx {
            vfs: t.vfs(),
            root: t.fs().root(),
            cred: t.fs_cred(),
            umask: t.fs().umask(),
            fds: Some(t.fds().clone()),
            caller: Some(t),
            resolve: Resolve::default(),
        }
    }

    /// Who owns what is made in `dir`.
    pub(super) fn owner_in(&self, dir: &Dentry) -> Owner {
        // A set-group-ID directory gives its group to what is made in it.
        let gid = match dir.inode.stat() {
            Ok(st) if st.st_mode & libc::S_ISGID != 0 => st.st_gid,
            _ => self.cred.gid,
        };
        Owner {
            uid: self.cred.uid,
            gid,
        }
    }
}
