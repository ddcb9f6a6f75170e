//! Extended attributes: Linux's checks (fs/xattr.c `xattr_permission`)
//! over what a filesystem stores ([`Inode::xattr_get`] and friends).
//! tmpfs keeps them in memory, the overlay serves its layers' and the
//! Gofer the host's; other filesystems have none and refuse setting them
//! (EOPNOTSUPP).

use super::perm::{Cred, MAY_READ, MAY_WRITE};
use super::{is_dir, is_reg, Dentry};
use crate::caps::CAP_SYS_ADMIN;
use crate::errno::Errno;

/// Largest value (XATTR_SIZE_MAX) and list (XATTR_LIST_MAX).
pub const SIZE_MAX: usize = 65536;

const USER: &[u8] = b"user.";
const TRUSTED: &[u8] = b"trusted.";
const SECURITY: &[u8] = b"security.";
const SYSTEM: &[u8] = b"system.";

/// XATTR_CREATE / XATTR_REPLACE.
pub const CREATE: i32 = 1;
pub const REPLACE: i32 = 2;

fn permission(cred: &Cred, d: &Dentry, name: &[u8], write: bool) -> Result<(), Errno> {
    if name.starts_with(SECURITY) || name.starts_with(SYSTEM) {
        return Ok(());
    }
    let st = d.inode.stat()?;
    let refuse = if write { Errno::EPERM } else { Errno::ENODATA };
    if name.starts_with(TRUSTED) {
        // CAP_SYS_ADMIN.
        return if cred.capable(CAP_SYS_ADMIN) {
            Ok(())
        } else {
            Err(refuse)
        };
    }
    if name.starts_with(USER) {
        if !is_reg(st.st_mode) && !is_dir(st.st_mode) {
            return Err(refuse);
        }
        if is_dir(st.st_mode) && st.st_mode & libc::S_ISVTX != 0 && write && !cred.owns(&st) {
            return Err(Errno::EPERM);
        }
    }
    cred.may_stat(&st, if write { MAY_WRITE } else { MAY_READ })
}

/// Names without a namespace the kernel knows have no handler.
fn known(name: &[u8]) -> Result<(), Errno> {
    if [USER, TRUSTED, SECURITY, SYSTEM]
        .iter()
        .any(|p| name.starts_with(p) && name.len() > p.len())
    {
        Ok(())
    } else {
        Err(Errno::EOPNOTSUPP)
    }
}

/// getxattr(2): the value.
pub fn get(cred: &Cred, d: &Dentry, name: &[u8]) -> Result<Vec<u8>, Errno> {
    permission(cred, d, name, false)?;
    known(name)?;
    d.inode.xattr_get(name)
}

/// setxattr(2) with XATTR_CREATE / XATTR_REPLACE in `flags`.
pub fn set(cred: &Cred, d: &Dentry, name: &[u8], value: &[u8], flags: i32) -> Result<(), Errno> {
    d.mount.want_write()?;
    permission(cred, d, name, true)?;
    known(name)?;
    d.inode.xattr_set(name, Some(value), flags)?;
    d.mount.notify().file_event(d, libc::IN_ATTRIB);
    Ok(())
}

/// removexattr(2).
pub fn remove(cred: &Cred, d: &Dentry, name: &[u8]) -> Result<(), Errno> {
    d.mount.want_write()?;
    permission(cred, d, name, true)?;
    known(name)?;
    d.inode.xattr_set(name, None, 0)?;
    d.mount.notify().file_event(d, libc::IN_ATTRIB);
    Ok(())
}

/// listxattr(2): the names, each ending in NUL; `trusted.` ones only for
/// a privileged caller.
pub fn list(cred: &Cred, d: &Dentry) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    for n in d.inode.xattr_list()? {
        if n.starts_with(TRUSTED) && !cred.capable(CAP_SYS_ADMIN) {
            continue;
        }
        out.extend_from_slice(&n);
        out.push(0);
    }
    Ok(out)
}
