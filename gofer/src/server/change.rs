//! Tcreateat, Tlinkat, Tremoveat, Trenameat2 and Tsetattrat: changes to
//! the tree by path, each made on (directory descriptor, plain name)
//! pairs that never follow a final symlink.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use gofer_protocol::wire::{self, Rgetattr};
use gofer_protocol::SetAttr;

use super::host::{attr_of, fstat, parent_of, stat_at, sys};

/// Tcreateat: makes the file, then gives it the caller's owner and the
/// exact permission bits asked for (this process's umask and ownership
/// play no part). Every call works on (directory descriptor, plain name)
/// and none follows a final symlink: O_CREAT | O_EXCL | O_NOFOLLOW fails
/// on any existing name, symlinks included.
pub(super) fn create_at(
    root: &OwnedFd,
    mode: u32,
    uid: u32,
    gid: u32,
    names: &[&[u8]],
    target: &[u8],
) -> Result<(Rgetattr, Option<OwnedFd>), i32> {
    if names.is_empty() {
        return Err(libc::EEXIST);
    }
    let (dir, name) = parent_of(root, names)?;
    let d = dir.as_raw_fd();
    let perm = mode & 0o7777;
    // A Gofer without CAP_CHOWN keeps its own ids (rootless).
    let chowned = |r: Result<(), i32>| match r {
        Err(libc::EPERM) => Ok(()),
        r => r,
    };
    let nofollow = libc::AT_SYMLINK_NOFOLLOW;
    let fd = match mode & libc::S_IFMT {
        libc::S_IFREG => {
            let flags = libc::O_CREAT
                | libc::O_EXCL
                | libc::O_RDWR
                | libc::O_NOFOLLOW
                | libc::O_NOCTTY
                | libc::O_NONBLOCK;
            let fd = sys::openat(d, &name, flags, 0o600)?;
            chowned(sys::fchownat(
                fd.as_raw_fd(),
                c"",
                uid,
                gid,
                libc::AT_EMPTY_PATH,
            ))?;
            sys::fchmod(&fd, perm)?;
            Some(fd)
        }
        libc::S_IFDIR => {
            sys::mkdirat(d, &name, 0o700)?;
            chowned(sys::fchownat(d, &name, uid, gid, nofollow))?;
            sys::fchmodat(d, &name, perm)?;
            None
        }
        libc::S_IFLNK => {
            let target = CString::new(target).map_err(|_| libc::EINVAL)?;
            if target.is_empty() {
                return Err(libc::ENOENT);
            }
            sys::symlinkat(&target, d, &name)?;
            chowned(sys::fchownat(d, &name, uid, gid, nofollow))?;
            None
        }
        ty @ (libc::S_IFIFO | libc::S_IFSOCK) => {
            sys::mknodat(d, &name, ty | 0o600)?;
            chowned(sys::fchownat(d, &name, uid, gid, nofollow))?;
            sys::fchmodat(d, &name, perm)?;
            None
        }
        // Devices are the Sentry's (devtmpfs); none is made on the host.
        _ => return Err(libc::EPERM),
    };
    let st = match &fd {
        Some(fd) => fstat(fd)?,
        None => stat_at(&dir, &name)?,
    };
    Ok((attr_of(&st), fd))
}

/// Tlinkat: `new` another name of the file at `old`; its attributes
/// after.
pub(super) fn link_at(root: &OwnedFd, old: &[&[u8]], new: &[&[u8]]) -> Result<Rgetattr, i32> {
    if old.is_empty() || new.is_empty() {
        return Err(libc::EPERM);
    }
    let (od, on) = parent_of(root, old)?;
    let (nd, nn) = parent_of(root, new)?;
    sys::linkat(od.as_raw_fd(), &on, nd.as_raw_fd(), &nn)?;
    Ok(attr_of(&stat_at(&nd, &nn)?))
}

/// Tremoveat: unlinks (or with AT_REMOVEDIR, removes the directory) at
/// `names`.
pub(super) fn remove_at(root: &OwnedFd, flags: u32, names: &[&[u8]]) -> Result<(), i32> {
    if names.is_empty() {
        return Err(libc::EBUSY);
    }
    let flags = i32::try_from(flags).map_err(|_| libc::EINVAL)?;
    if flags & !libc::AT_REMOVEDIR != 0 {
        return Err(libc::EINVAL);
    }
    let (d, n) = parent_of(root, names)?;
    sys::unlinkat(d.as_raw_fd(), &n, flags)
}

/// Trenameat2: renames `old` to `new` with renameat2's `flags`
/// (RENAME_NOREPLACE, RENAME_EXCHANGE; any other is EINVAL).
pub(super) fn rename_at(
    root: &OwnedFd,
    flags: u32,
    old: &[&[u8]],
    new: &[&[u8]],
) -> Result<(), i32> {
    if old.is_empty() || new.is_empty() {
        return Err(libc::EBUSY);
    }
    if flags & !(libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE) != 0 {
        return Err(libc::EINVAL);
    }
    let (od, on) = parent_of(root, old)?;
    let (nd, nn) = parent_of(root, new)?;
    sys::renameat2(od.as_raw_fd(), &on, nd.as_raw_fd(), &nn, flags)
}

/// Tsetattrat's changes, in Tsetattr's order (mode, owner, size, times),
/// on the file at `names`, not followed; returns its attributes after.
pub(super) fn set_attr_at(root: &OwnedFd, names: &[&[u8]], a: &SetAttr) -> Result<Rgetattr, i32> {
    let (dir, name) = parent_of(root, names)?;
    let d = dir.as_raw_fd();
    let before = stat_at(&dir, &name)?;
    let is_link = before.st_mode & libc::S_IFMT == libc::S_IFLNK;
    if a.valid & wire::P9_SETATTR_MODE != 0 {
        if is_link {
            return Err(libc::EOPNOTSUPP);
        }
        // fchmodat follows a final symlink; there is none (just checked),
        // and in the Gofer's pivot_root one could not lead out anyway.
        sys::fchmodat(d, &name, a.mode & 0o7777)?;
    }
    if a.valid & (wire::P9_SETATTR_UID | wire::P9_SETATTR_GID) != 0 {
        let pick = |bit: u32, id: u32| if a.valid & bit != 0 { id } else { u32::MAX };
        let uid = pick(wire::P9_SETATTR_UID, a.uid);
        let gid = pick(wire::P9_SETATTR_GID, a.gid);
        sys::fchownat(d, &name, uid, gid, libc::AT_SYMLINK_NOFOLLOW)?;
    }
    if a.valid & wire::P9_SETATTR_SIZE != 0 {
        match before.st_mode & libc::S_IFMT {
            libc::S_IFREG => {}
            libc::S_IFDIR => return Err(libc::EISDIR),
            _ => return Err(libc::EINVAL),
        }
        let size = i64::try_from(a.size).map_err(|_| libc::EFBIG)?;
        let flags = libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
        let fd = sys::openat(d, &name, flags, 0)?;
        let st = fstat(&fd)?;
        if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino) {
            return Err(libc::ESTALE);
        }
        sys::ftruncate(&fd, size)?;
    }
    if a.valid & (wire::P9_SETATTR_ATIME | wire::P9_SETATTR_MTIME) != 0 {
        let time = |set: u32, given: u32, sec: u64, nsec: u64| libc::timespec {
            tv_sec: sec as libc::time_t,
            tv_nsec: if a.valid & set == 0 {
                libc::UTIME_OMIT
            } else if a.valid & given == 0 {
                libc::UTIME_NOW
            } else {
                nsec as libc::c_long
            },
        };
        let times = [
            time(
                wire::P9_SETATTR_ATIME,
                wire::P9_SETATTR_ATIME_SET,
                a.atime_sec,
                a.atime_nsec,
            ),
            time(
                wire::P9_SETATTR_MTIME,
                wire::P9_SETATTR_MTIME_SET,
                a.mtime_sec,
                a.mtime_nsec,
            ),
        ];
        sys::utimensat_nofollow(d, &name, &times)?;
    }
    Ok(attr_of(&stat_at(&dir, &name)?))
}
