//! A copy of a mount table for a new mount namespace (unshare(2) and
//! clone(2) with CLONE_NEWNS), and the dentries of a task moved into it.
//!
//! The copy keeps each mount's id: a mount point is found by the id of the
//! mount it lies on (`Vfs::mounted_on`), so a dentry reached in the old
//! table walks on in the new one, and ids stay unique because both tables
//! draw from one counter. Each copied mount gets its own flags and state,
//! so a remount on one side is not seen on the other. Propagation is not
//! copied: every mount of the new table is private (Linux copies shared
//! peer groups; `unshare(1)` makes them private anyway by default).

use std::sync::{Arc, RwLock};

use super::mount::MountState;
use super::{Dentry, Mount, Vfs};

impl Vfs {
    /// A new namespace whose mounts are copies of this one's.
    pub fn copy_namespace(&self) -> Arc<Vfs> {
        let copies: Vec<Arc<Mount>> = self
            .mounts()
            .iter()
            .map(|m| {
                Arc::new(Mount {
                    id: m.id,
                    dev: m.dev,
                    fstype: m.fstype,
                    root: m.root.clone(),
                    path: m.path.clone(),
                    mountpoint: m.mountpoint.clone(),
                    sb: m.sb.clone(),
                    fs_root: m.fs_root.clone(),
                    state: Arc::new(MountState::new(m.flags())),
                    notify: m.notify.clone(),
                })
            })
            .collect();
        let root_mount = copies
            .iter()
            .find(|m| m.id == self.root.mount.id)
            .cloned()
            .unwrap_or_else(|| self.root.mount.clone());
        let copied_below = self.next_mount.load(std::sync::atomic::Ordering::Relaxed);
        Arc::new_cyclic(|me| Vfs {
            copied_below,
            root: Arc::new(Dentry {
                mount: root_mount,
                inode: self.root.inode.clone(),
                parent: None,
                name: b"/".to_vec(),
            }),
            mounts: RwLock::new(copies),
            next_mount: self.next_mount.clone(),
            me: me.clone(),
            filesystems: self.filesystems.clone(),
            notify: self.notify.clone(),
            internal: self.internal.clone(),
        })
    }

    /// Whether `m` was copied from the parent namespace when this one was
    /// made (not mounted in it since).
    pub fn is_copied(&self, m: &Mount) -> bool {
        m.id < self.copied_below
    }

    /// `d` with each mount on its path replaced by this table's mount of
    /// the same id (a task's root and working directory moving into a new
    /// namespace, as Linux's copy_mnt_ns moves them). A mount this table
    /// lacks is kept.
    pub fn rebase(&self, d: &Arc<Dentry>) -> Arc<Dentry> {
        let mounts = self.mounts();
        // Root first, without recursion: a working directory may lie
        // thousands of levels deep.
        let mut chain = vec![d.clone()];
        while let Some(p) = chain.last().and_then(|c| c.parent.clone()) {
            chain.push(p);
        }
        let mut parent: Option<Arc<Dentry>> = None;
        for old in chain.into_iter().rev() {
            let mount = mounts
                .iter()
                .find(|m| m.id == old.mount.id)
                .cloned()
                .unwrap_or_else(|| old.mount.clone());
            parent = Some(Arc::new(Dentry {
                mount,
                inode: old.inode.clone(),
                parent,
                name: old.name.clone(),
            }));
        }
        parent.unwrap_or_else(|| d.clone())
    }
}
