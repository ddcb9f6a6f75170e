//! The host calls every path-based request makes: resolving a path of
//! plain names beneath the served root (`openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)`), stat, readlink and the calls that change the
//! tree on (directory descriptor, name), each a safe wrapper returning
//! the errno.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use gofer_protocol::wire::{self, Rgetattr};
use gofer_protocol::{Attr, Qid};

use super::request::is_plain_name;

/// The path below the root that `names` spell (`.` for none), each name
/// checked by the name filter.
pub(super) fn beneath_path(names: &[&[u8]]) -> Result<CString, i32> {
    if !names.iter().all(|n| is_plain_name(n)) {
        return Err(libc::EINVAL);
    }
    let mut path = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            path.push(b'/');
        }
        path.extend_from_slice(n);
    }
    if path.is_empty() {
        path.push(b'.');
    }
    if path.len() >= libc::PATH_MAX as usize {
        return Err(libc::ENAMETOOLONG);
    }
    // is_plain_name refused NULs.
    CString::new(path).map_err(|_| libc::EINVAL)
}

/// `openat2(root, path, flags | O_CLOEXEC, RESOLVE_BENEATH |
/// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`.
pub(super) fn openat2(root: &OwnedFd, path: &CStr, flags: i32) -> Result<OwnedFd, i32> {
    // SAFETY: open_how is plain data; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    loop {
        // SAFETY: `path` is a NUL-terminated string and `how` a valid
        // open_how of the size passed; both outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if r >= 0 {
            let fd = RawFd::try_from(r).map_err(|_| libc::EIO)?;
            // SAFETY: the kernel just returned this new descriptor; we own it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
        }
        let e = last_errno();
        if e != libc::EINTR {
            // A symlink met on the way is ELOOP (RESOLVE_NO_SYMLINKS), as
            // 9P would refuse to walk through it.
            return Err(e);
        }
    }
}

/// A path's parent directory, opened `O_PATH` beneath `root` as Topenfd
/// resolves paths, and its last name (checked by the name filter). The
/// empty path is the root itself, as `(root, ".")`.
pub(super) fn parent_of(root: &OwnedFd, names: &[&[u8]]) -> Result<(OwnedFd, CString), i32> {
    let Some((last, dir)) = names.split_last() else {
        let dup = openat2(root, c".", libc::O_PATH | libc::O_DIRECTORY)?;
        return Ok((dup, c".".to_owned()));
    };
    let path = beneath_path(dir)?;
    let dirfd = openat2(
        root,
        &path,
        libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW,
    )?;
    if !is_plain_name(last) {
        return Err(libc::EINVAL);
    }
    let name = CString::new(*last).map_err(|_| libc::EINVAL)?;
    Ok((dirfd, name))
}

/// The attributes of `name` in `dir`, not followed.
pub(super) fn stat_at(dir: &OwnedFd, name: &CString) -> Result<libc::stat, i32> {
    // SAFETY: stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is NUL-terminated and `st` a valid out-parameter.
    check(unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })?;
    Ok(st)
}

pub(super) fn fstat(fd: &OwnedFd) -> Result<libc::stat, i32> {
    // SAFETY: stat is plain data; all-zero is a valid value.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open and `st` is a valid out-parameter.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(last_errno());
    }
    Ok(st)
}

/// The target of the symlink `name` in `dir`.
pub(super) fn readlink_at(dir: &OwnedFd, name: &CStr) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: `buf` is writable for its length; `name` is a C string.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return Err(last_errno());
    }
    buf.truncate(usize::try_from(n).map_err(|_| libc::EIO)?);
    Ok(buf)
}

/// The target of the symlink `fd` (opened O_PATH | O_NOFOLLOW) names.
pub(super) fn readlink_fd(fd: &OwnedFd) -> Result<Vec<u8>, i32> {
    // The empty name makes the descriptor itself the link.
    readlink_at(fd, c"")
}

/// Rgetattr's fields from a stat, as `p9` fills them.
pub(super) fn attr_of(st: &libc::stat) -> Rgetattr {
    let ty = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => wire::QTDIR,
        libc::S_IFLNK => wire::QTSYMLINK,
        _ => 0,
    };
    // Times before 1970 are negative on the host; 9P carries them as u64.
    let t = |v: i64| v as u64;
    Rgetattr {
        valid: wire::P9_GETATTR_BASIC,
        attr: Attr {
            qid: Qid {
                ty,
                version: st.st_mtime as u32,
                path: st.st_ino,
            },
            mode: st.st_mode,
            uid: st.st_uid,
            gid: st.st_gid,
            nlink: st.st_nlink,
            rdev: st.st_rdev,
            size: t(st.st_size),
            blksize: t(st.st_blksize),
            blocks: t(st.st_blocks),
            atime_sec: t(st.st_atime),
            atime_nsec: t(st.st_atime_nsec),
            mtime_sec: t(st.st_mtime),
            mtime_nsec: t(st.st_mtime_nsec),
            ctime_sec: t(st.st_ctime),
            ctime_nsec: t(st.st_ctime_nsec),
        },
        ..Rgetattr::default()
    }
}

pub(super) fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `-1` is the errno.
pub(super) fn check(r: libc::c_int) -> Result<(), i32> {
    if r < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

/// The host calls that change the tree, on (directory descriptor, name):
/// each a safe wrapper returning the errno.
pub(super) mod sys {
    use std::ffi::CStr;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

    use super::check;

    pub fn openat(d: RawFd, name: &CStr, flags: i32, mode: u32) -> Result<OwnedFd, i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        let raw = unsafe { libc::openat(d, name.as_ptr(), flags | libc::O_CLOEXEC, mode) };
        check(raw)?;
        // SAFETY: openat just returned this new descriptor; we own it.
        Ok(unsafe { OwnedFd::from_raw_fd(raw) })
    }

    pub fn mkdirat(d: RawFd, name: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::mkdirat(d, name.as_ptr(), mode) })
    }

    pub fn mknodat(d: RawFd, name: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::mknodat(d, name.as_ptr(), mode, 0) })
    }

    pub fn symlinkat(target: &CStr, d: RawFd, name: &CStr) -> Result<(), i32> {
        // SAFETY: both strings are NUL-terminated and outlive the call.
        check(unsafe { libc::symlinkat(target.as_ptr(), d, name.as_ptr()) })
    }

    pub fn linkat(od: RawFd, old: &CStr, nd: RawFd, new: &CStr) -> Result<(), i32> {
        // SAFETY: both strings are NUL-terminated and outlive the call;
        // flags 0: a final symlink is linked, not followed.
        check(unsafe { libc::linkat(od, old.as_ptr(), nd, new.as_ptr(), 0) })
    }

    pub fn unlinkat(d: RawFd, name: &CStr, flags: i32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::unlinkat(d, name.as_ptr(), flags) })
    }

    pub fn renameat2(od: RawFd, old: &CStr, nd: RawFd, new: &CStr, flags: u32) -> Result<(), i32> {
        // SAFETY: both strings are NUL-terminated and outlive the call.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat2,
                od,
                old.as_ptr(),
                nd,
                new.as_ptr(),
                flags,
            )
        };
        check(if r < 0 { -1 } else { 0 })
    }

    pub fn fchownat(d: RawFd, name: &CStr, uid: u32, gid: u32, flags: i32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::fchownat(d, name.as_ptr(), uid, gid, flags) })
    }

    pub fn fchmodat(d: RawFd, name: &CStr, mode: u32) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and outlives the call.
        check(unsafe { libc::fchmodat(d, name.as_ptr(), mode, 0) })
    }

    pub fn fchmod(fd: &OwnedFd, mode: u32) -> Result<(), i32> {
        // SAFETY: plain integer arguments on an open descriptor.
        check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) })
    }

    pub fn ftruncate(fd: &OwnedFd, size: i64) -> Result<(), i32> {
        // SAFETY: plain integer arguments on an open descriptor.
        check(unsafe { libc::ftruncate(fd.as_raw_fd(), size) })
    }

    pub fn utimensat_nofollow(
        d: RawFd,
        name: &CStr,
        times: &[libc::timespec; 2],
    ) -> Result<(), i32> {
        // SAFETY: `name` is NUL-terminated and `times` two timespecs; both
        // outlive the call.
        check(unsafe {
            libc::utimensat(d, name.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW)
        })
    }
}
