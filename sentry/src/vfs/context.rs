//! A task's filesystem context: root, working directory and umask.

use std::sync::{Arc, Mutex, MutexGuard};

use super::Dentry;

struct Inner {
    root: Arc<Dentry>,
    cwd: Arc<Dentry>,
    umask: u32,
}

/// Shared by threads (and by CLONE_FS children), copied by fork.
pub struct FsContext {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for FsContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FsContext(cwd {:?})", self.cwd())
    }
}

impl FsContext {
    pub fn new(root: Arc<Dentry>) -> Arc<FsContext> {
        Arc::new(FsContext {
            inner: Mutex::new(Inner {
                cwd: root.clone(),
                root,
                umask: 0o022,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn fork(&self) -> Arc<FsContext> {
        let i = self.lock();
        Arc::new(FsContext {
            inner: Mutex::new(Inner {
                root: i.root.clone(),
                cwd: i.cwd.clone(),
                umask: i.umask,
            }),
        })
    }

    pub fn root(&self) -> Arc<Dentry> {
        self.lock().root.clone()
    }

    pub fn cwd(&self) -> Arc<Dentry> {
        self.lock().cwd.clone()
    }

    pub fn set_cwd(&self, d: Arc<Dentry>) {
        let old = std::mem::replace(&mut self.lock().cwd, d);
        drop(old);
    }

    pub fn set_root(&self, d: Arc<Dentry>) {
        let old = std::mem::replace(&mut self.lock().root, d);
        drop(old);
    }

    pub fn umask(&self) -> u32 {
        self.lock().umask
    }

    /// Sets the umask and returns the old one.
    pub fn swap_umask(&self, mask: u32) -> u32 {
        std::mem::replace(&mut self.lock().umask, mask & 0o777)
    }
}
