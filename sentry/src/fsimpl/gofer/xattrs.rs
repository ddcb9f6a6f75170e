//! A Gofer file's extended attributes: read through the Gofer, with the
//! names (and the values read so far) kept where only this Sentry changes
//! them.

use std::collections::HashMap;

use super::*;

/// A file's extended attribute names, and the values read so far: a
/// program that asks each file for attributes it lacks (`ls -l` asks for
/// ACLs and security labels) costs one listing per file, and nothing for
/// names the listing lacks.
pub(super) struct Xattrs {
    names: Vec<Vec<u8>>,
    values: HashMap<Vec<u8>, Vec<u8>>,
}

impl GoferInode {
    /// Whether this file's extended attributes may be kept: only the
    /// Sentry changes them (exclusive mode), and through this object (no
    /// other names of a writable file).
    pub(super) fn xattrs_cacheable(&self) -> bool {
        let a = self.lock_attr();
        let linked = self.fs.opts.writable && a.nlink > 1 && !vfs::is_dir(a.mode);
        !self.fs.opts.shared && !linked
    }

    /// Tlistxattrat of this file.
    fn fetch_xattr_names(&self) -> Result<Vec<Vec<u8>>, Errno> {
        let path = self.path()?;
        let client = &self.fs.client;
        client
            .listxattr_at(&refs(&path), client.xattr_room())
            .map_err(too_big)
    }

    /// Keeps the attribute names a listing brought (`ls -l` then asks
    /// each file for ACLs and labels it lacks at no round trip).
    pub(super) fn know_xattrs(&self, names: Option<Vec<Vec<u8>>>) {
        if let (Some(names), true) = (names, self.xattrs_cacheable()) {
            self.lock_cache().xattrs = Some(Xattrs {
                names,
                values: HashMap::new(),
            });
        }
    }

    /// The names, listed once and kept.
    fn cached_xattr_names(&self) -> Result<Vec<Vec<u8>>, Errno> {
        if let Some(x) = &self.lock_cache().xattrs {
            return Ok(x.names.clone());
        }
        let names = self.fetch_xattr_names()?;
        self.lock_cache().xattrs = Some(Xattrs {
            names: names.clone(),
            values: HashMap::new(),
        });
        Ok(names)
    }

    /// [`Inode::xattr_get`].
    pub(super) fn get_xattr(&self, name: &[u8]) -> Result<Vec<u8>, Errno> {
        if self.xattrs_cacheable() {
            self.cached_xattr_names()?;
            let mut cache = self.lock_cache();
            let Some(x) = cache.xattrs.as_mut() else {
                return Err(Errno::EIO);
            };
            if let Some(v) = x.values.get(name) {
                return Ok(v.clone());
            }
            if !x.names.iter().any(|n| n == name) {
                return Err(Errno::ENODATA);
            }
        }
        let path = self.path()?;
        let client = &self.fs.client;
        let v = client
            .getxattr_at(&refs(&path), name, client.xattr_room())
            .map_err(too_big)?;
        if self.xattrs_cacheable() {
            if let Some(x) = self.lock_cache().xattrs.as_mut() {
                x.values.insert(name.to_vec(), v.clone());
            }
        }
        Ok(v)
    }

    /// [`Inode::xattr_list`].
    pub(super) fn list_xattrs(&self) -> Result<Vec<Vec<u8>>, Errno> {
        if self.xattrs_cacheable() {
            return self.cached_xattr_names();
        }
        self.fetch_xattr_names()
    }

    /// [`Inode::xattr_set`].
    pub(super) fn set_xattr(
        &self,
        name: &[u8],
        value: Option<&[u8]>,
        flags: i32,
    ) -> Result<(), Errno> {
        self.writable()?;
        let path = self.path()?;
        let names = refs(&path);
        let r = match value {
            Some(v) => {
                let flags = u32::try_from(flags).map_err(|_| Errno::EINVAL)?;
                self.fs.client.setxattr_at(&names, name, v, flags)
            }
            None => self.fs.client.removexattr_at(&names, name),
        };
        // Whatever the outcome, the host knows better now.
        self.lock_cache().xattrs = None;
        r.map_err(errno)?;
        // The host file's ctime moved.
        self.mark_stale();
        Ok(())
    }
}
