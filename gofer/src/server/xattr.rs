//! Tgetxattrat, Tlistxattrat, Tsetxattrat, Tremovexattrat: extended
//! attributes of the file at a path, never followed.
//!
//! The parent directory is resolved as every path-based request resolves
//! it ([`parent_of`]) and the call is made on (parent, name) with the
//! `*xattrat` calls (Linux 6.13) and `AT_SYMLINK_NOFOLLOW`, so neither a
//! symlink on the way nor the file itself is followed and nothing is
//! opened (a FIFO or device is not touched). On an older kernel (ENOSYS)
//! a regular file or directory is opened `O_RDONLY | O_NOFOLLOW |
//! O_NONBLOCK` and the `f*xattr` calls used; other files then have no
//! attributes, as symlinks and devices have no `user.` ones anyway.

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

use gofer_protocol::wire;

use super::frames::MAX_MSIZE;
use super::host::{check, fstat, last_errno, parent_of, stat_at, sys};

/// XATTR_SIZE_MAX, also the most a listing may hold (XATTR_LIST_MAX).
const SIZE_MAX: usize = 65536;
/// XATTR_NAME_MAX.
const NAME_MAX: usize = 255;

/// The kernel said ENOSYS to an `*xattrat` call once: use descriptors.
static NO_XATTRAT: AtomicBool = AtomicBool::new(false);

/// getxattrat's and setxattrat's `struct xattr_args`.
#[repr(C)]
struct XattrArgs {
    value: u64,
    size: u32,
    flags: u32,
}

/// Tgetxattrat: the value of attribute `name` of the file at `names`, if
/// it fits `size` bytes (else ERANGE).
pub(super) fn getxattr_at(
    root: &OwnedFd,
    names: &[&[u8]],
    name: &[u8],
    size: u32,
) -> Result<Vec<u8>, i32> {
    let (dir, file) = parent_of(root, names)?;
    get(&dir, &file, &attr_name(name)?, capped(size), at_calls())
}

/// Tlistxattrat: the attribute names of the file at `names`, if they fit
/// `size` bytes (else ERANGE).
pub(super) fn listxattr_at(root: &OwnedFd, names: &[&[u8]], size: u32) -> Result<Vec<u8>, i32> {
    let (dir, file) = parent_of(root, names)?;
    list(&dir, &file, capped(size), at_calls())
}

/// Tsetxattrat: sets attribute `name` of the file at `names` to `value`
/// with setxattr's `flags`.
pub(super) fn setxattr_at(
    root: &OwnedFd,
    names: &[&[u8]],
    name: &[u8],
    value: &[u8],
    flags: u32,
) -> Result<(), i32> {
    let flags = i32::try_from(flags).map_err(|_| libc::EINVAL)?;
    if flags & !(libc::XATTR_CREATE | libc::XATTR_REPLACE) != 0 {
        return Err(libc::EINVAL);
    }
    if value.len() > SIZE_MAX {
        return Err(libc::E2BIG);
    }
    let (dir, file) = parent_of(root, names)?;
    set(
        &dir,
        &file,
        &attr_name(name)?,
        Some(value),
        flags,
        at_calls(),
    )
}

/// Tremovexattrat: removes attribute `name` of the file at `names`.
pub(super) fn removexattr_at(root: &OwnedFd, names: &[&[u8]], name: &[u8]) -> Result<(), i32> {
    let (dir, file) = parent_of(root, names)?;
    set(&dir, &file, &attr_name(name)?, None, 0, at_calls())
}

/// Whether to try the `*xattrat` calls (the kernel has not said ENOSYS).
fn at_calls() -> bool {
    !NO_XATTRAT.load(Ordering::Relaxed)
}

/// The client's bound, within what one reply of ours can carry.
fn capped(size: u32) -> usize {
    let room = MAX_MSIZE as usize - wire::RREAD_HEADER_LEN as usize;
    usize::try_from(size)
        .unwrap_or(usize::MAX)
        .min(SIZE_MAX)
        .min(room)
}

/// An attribute name as the kernel takes it: not empty, no NUL, at most
/// XATTR_NAME_MAX bytes (ERANGE, as the kernel says).
fn attr_name(name: &[u8]) -> Result<CString, i32> {
    if name.is_empty() || name.len() > NAME_MAX {
        return Err(libc::ERANGE);
    }
    CString::new(name).map_err(|_| libc::EINVAL)
}

/// Runs `call` again while it says EINTR; a negative result is the errno.
fn retry(mut call: impl FnMut() -> libc::c_long) -> Result<usize, i32> {
    loop {
        let r = call();
        if r >= 0 {
            return usize::try_from(r).map_err(|_| libc::EIO);
        }
        let e = last_errno();
        if e != libc::EINTR {
            return Err(e);
        }
    }
}

/// `buf` filled by `call(ptr, len)`, which returns the length used; a
/// `size` of 0 asks whether the result is empty (ERANGE if not).
fn fill(size: usize, mut call: impl FnMut(*mut u8, usize) -> libc::c_long) -> Result<Vec<u8>, i32> {
    let mut buf = vec![0u8; size];
    let n = retry(|| call(buf.as_mut_ptr(), buf.len()))?;
    if n > size {
        // Only a size-0 probe reports a length without filling the buffer.
        return Err(libc::ERANGE);
    }
    buf.truncate(n);
    Ok(buf)
}

/// The regular file or directory `name` in `dir`, opened read-only for
/// the `f*xattr` calls; `None` for other types (no attributes here).
fn open_for_xattrs(dir: &OwnedFd, name: &CStr) -> Result<Option<OwnedFd>, i32> {
    let st = stat_at(dir, &name.to_owned())?;
    let ftype = st.st_mode & libc::S_IFMT;
    if ftype != libc::S_IFREG && ftype != libc::S_IFDIR {
        return Ok(None);
    }
    let fd = sys::openat(
        dir.as_raw_fd(),
        name,
        libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY,
        0,
    )?;
    let now = fstat(&fd)?;
    if now.st_ino != st.st_ino || now.st_dev != st.st_dev {
        return Err(libc::ESTALE);
    }
    Ok(Some(fd))
}

/// Whether an `*xattrat` call's error means the kernel lacks it.
fn missing(e: i32) -> bool {
    if e == libc::ENOSYS {
        NO_XATTRAT.store(true, Ordering::Relaxed);
        true
    } else {
        false
    }
}

/// getxattrat or setxattrat (`nr`) of attribute `name` of `file` in `dir`,
/// not followed, with `args`.
///
/// # Safety
///
/// `args.value` and `args.size` must describe memory the call may use:
/// writable for getxattrat, readable for setxattrat.
unsafe fn xattr_args_at(
    nr: syscalls::Sysno,
    dir: &OwnedFd,
    file: &CStr,
    name: &CStr,
    args: &XattrArgs,
) -> libc::c_long {
    // SAFETY: `file` and `name` are NUL-terminated and `args` is a whole
    // struct of the size passed, all outliving the call; the buffer it
    // names is the caller's promise.
    unsafe {
        libc::syscall(
            nr as libc::c_long,
            dir.as_raw_fd(),
            file.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            name.as_ptr(),
            args as *const XattrArgs,
            std::mem::size_of::<XattrArgs>(),
        )
    }
}

fn get(dir: &OwnedFd, file: &CStr, name: &CStr, size: usize, at: bool) -> Result<Vec<u8>, i32> {
    if at {
        let r = fill(size, |ptr, len| {
            let args = XattrArgs {
                value: ptr as u64,
                // `len` is at most SIZE_MAX.
                size: len as u32,
                flags: 0,
            };
            // SAFETY: `ptr` points to `len` writable bytes, which `args`
            // describes.
            unsafe { xattr_args_at(syscalls::Sysno::getxattrat, dir, file, name, &args) }
        });
        match r {
            Err(e) if missing(e) => {}
            r => return r,
        }
    }
    let Some(fd) = open_for_xattrs(dir, file)? else {
        return Err(libc::ENODATA);
    };
    fill(size, |ptr, len| {
        // SAFETY: `name` is NUL-terminated; `ptr` points to `len`
        // writable bytes.
        unsafe { libc::fgetxattr(fd.as_raw_fd(), name.as_ptr(), ptr.cast(), len) as libc::c_long }
    })
}

/// The attribute names of `file` in `dir` for a Treaddirplus entry, as
/// listxattr gives them (none on a filesystem without xattrs); `None` when
/// they cannot be had without opening the file (a kernel without
/// listxattrat) or listing failed: the client then asks if a program does.
pub(super) fn names_for_listing(dir: &OwnedFd, file: &CStr) -> Option<Vec<u8>> {
    if NO_XATTRAT.load(Ordering::Relaxed) {
        return None;
    }
    match list_at(dir, file, SIZE_MAX) {
        Ok(l) => Some(l),
        Err(libc::EOPNOTSUPP) => Some(Vec::new()),
        Err(e) => {
            missing(e);
            None
        }
    }
}

/// listxattrat on (`dir`, `file`), not followed.
fn list_at(dir: &OwnedFd, file: &CStr, size: usize) -> Result<Vec<u8>, i32> {
    fill(size, |ptr, len| {
        // SAFETY: `file` is NUL-terminated; `ptr` points to `len`
        // writable bytes.
        unsafe {
            libc::syscall(
                syscalls::Sysno::listxattrat as libc::c_long,
                dir.as_raw_fd(),
                file.as_ptr(),
                libc::AT_SYMLINK_NOFOLLOW,
                ptr,
                len,
            )
        }
    })
}

fn list(dir: &OwnedFd, file: &CStr, size: usize, at: bool) -> Result<Vec<u8>, i32> {
    if at {
        let r = list_at(dir, file, size);
        match r {
            Err(e) if missing(e) => {}
            r => return r,
        }
    }
    let Some(fd) = open_for_xattrs(dir, file)? else {
        return Ok(Vec::new());
    };
    fill(size, |ptr, len| {
        // SAFETY: `ptr` points to `len` writable bytes.
        unsafe { libc::flistxattr(fd.as_raw_fd(), ptr.cast(), len) as libc::c_long }
    })
}

/// Sets (`Some`) or removes (`None`) attribute `name` of `file`.
fn set(
    dir: &OwnedFd,
    file: &CStr,
    name: &CStr,
    value: Option<&[u8]>,
    flags: i32,
    at: bool,
) -> Result<(), i32> {
    if at {
        let r = retry(|| match value {
            Some(v) => {
                let args = XattrArgs {
                    value: v.as_ptr() as u64,
                    // The caller bounded the value by SIZE_MAX.
                    size: v.len() as u32,
                    flags: flags as u32,
                };
                // SAFETY: `args` describes `v`'s bytes, which the kernel
                // only reads.
                unsafe { xattr_args_at(syscalls::Sysno::setxattrat, dir, file, name, &args) }
            }
            // SAFETY: `file` and `name` are NUL-terminated and outlive the
            // call.
            None => unsafe {
                libc::syscall(
                    syscalls::Sysno::removexattrat as libc::c_long,
                    dir.as_raw_fd(),
                    file.as_ptr(),
                    libc::AT_SYMLINK_NOFOLLOW,
                    name.as_ptr(),
                )
            },
        });
        match r {
            Err(e) if missing(e) => {}
            r => return r.map(|_| ()),
        }
    }
    // Symlinks and special files take no user.* attributes (EPERM, as the
    // kernel says for those).
    let fd = open_for_xattrs(dir, file)?.ok_or(libc::EPERM)?;
    // SAFETY: `name` is NUL-terminated; the value pointer and length
    // describe `v`'s bytes.
    check(unsafe {
        match value {
            Some(v) => libc::fsetxattr(
                fd.as_raw_fd(),
                name.as_ptr(),
                v.as_ptr().cast(),
                v.len(),
                flags,
            ),
            None => libc::fremovexattr(fd.as_raw_fd(), name.as_ptr()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    /// A scratch directory with a file and a symlink to it.
    fn scratch() -> Option<(std::path::PathBuf, OwnedFd)> {
        let base = std::env::temp_dir();
        let dir = base.join(format!(
            "gofer-xattr-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(dir.join("f"), b"x").ok()?;
        std::os::unix::fs::symlink("f", dir.join("sym")).ok()?;
        let fd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
            .open(&dir)
            .ok()?;
        Some((dir, OwnedFd::from(fd)))
    }

    fn both_ways(check: impl Fn(bool)) {
        check(true);
        check(false);
    }

    #[test]
    fn attributes_by_name_with_and_without_the_at_calls() {
        let Some((path, dir)) = scratch() else {
            return;
        };
        let f = c"f";
        let a = c"user.a";
        if set(&dir, f, a, Some(b"1"), 0, true) == Err(libc::EOPNOTSUPP) {
            // No user xattrs on this filesystem: nothing to check.
            let _ = std::fs::remove_dir_all(&path);
            return;
        }
        both_ways(|at| {
            set(&dir, f, a, Some(b"one"), 0, at).unwrap();
            assert_eq!(get(&dir, f, a, 64, at).unwrap(), b"one");
            assert_eq!(get(&dir, f, a, 2, at), Err(libc::ERANGE));
            assert_eq!(get(&dir, f, a, 0, at), Err(libc::ERANGE));
            assert_eq!(get(&dir, f, c"user.none", 64, at), Err(libc::ENODATA));
            assert_eq!(
                set(&dir, f, a, Some(b"2"), libc::XATTR_CREATE, at),
                Err(libc::EEXIST)
            );
            assert_eq!(
                set(&dir, f, c"user.b", Some(b"2"), libc::XATTR_REPLACE, at),
                Err(libc::ENODATA)
            );
            let l = list(&dir, f, 4096, at).unwrap();
            assert!(l.split(|b| *b == 0).any(|n| n == b"user.a"), "{l:?}");
            set(&dir, f, a, None, 0, at).unwrap();
            assert_eq!(set(&dir, f, a, None, 0, at), Err(libc::ENODATA));
            // The link is not followed: its target's attributes stay away.
            set(&dir, f, a, Some(b"1"), 0, at).unwrap();
            assert_eq!(get(&dir, c"sym", a, 64, at), Err(libc::ENODATA));
            let l = list(&dir, c"sym", 4096, at).unwrap();
            assert!(!l.split(|b| *b == 0).any(|n| n == b"user.a"), "{l:?}");
            assert_eq!(get(&dir, c"gone", a, 64, at), Err(libc::ENOENT));
            set(&dir, f, a, None, 0, at).unwrap();
        });
        let _ = std::fs::remove_dir_all(&path);
    }
}
