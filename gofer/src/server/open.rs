//! Topenfd, Topenfds and Tlookupfd: files opened by their path below the
//! served root, their descriptors donated to the client (SCM_RIGHTS).

use std::ffi::CString;
use std::os::fd::OwnedFd;

use gofer_protocol::wire::Rgetattr;

use super::host::{attr_of, beneath_path, fstat, openat2, readlink_fd, stat_at, sys};
use super::request::is_plain_name;

/// Topenfd: opens the file the request's names reach below `root`, only if
/// it is a regular file (a directory with `O_DIRECTORY`, read-only); a
/// regular file with the request's access mode, `O_APPEND` and `O_TRUNC`
/// (a read-only server refused writing ones before).
///
/// The path is resolved by the kernel with `RESOLVE_BENEATH` (no `..`, no
/// absolute paths or symlinks out of `root`) and `RESOLVE_NO_SYMLINKS` (no
/// symlink is followed at all, as 9P walks do not follow them). The file is
/// first opened `O_PATH` and its type checked, so a FIFO or device is never
/// opened for real; the real open (non-blocking, no controlling tty) must
/// then reach the same inode.
pub(super) fn open_fd(root: &OwnedFd, flags: u32, names: &[&[u8]]) -> Result<OwnedFd, i32> {
    let flags = i32::try_from(flags).map_err(|_| libc::EINVAL)?;
    let want_dir = flags & libc::O_DIRECTORY != 0;
    let file_flags = libc::O_ACCMODE | libc::O_APPEND | libc::O_TRUNC;
    let ok = if want_dir {
        flags == libc::O_DIRECTORY
    } else {
        flags & !file_flags == 0 && flags & libc::O_ACCMODE != libc::O_ACCMODE
    };
    if !ok {
        return Err(libc::EINVAL);
    }
    let path = beneath_path(names)?;
    let probe = openat2(root, &path, libc::O_PATH | libc::O_NOFOLLOW)?;
    let first = fstat(&probe)?;
    check_type(first.st_mode, want_dir)?;
    reopen_with(root, &path, &first, flags & !libc::O_DIRECTORY, want_dir)
}

/// Opens `path` (which `first` describes) for real, read-only, and checks
/// that the same inode was reached.
fn reopen(root: &OwnedFd, path: &CString, first: &libc::stat, dir: bool) -> Result<OwnedFd, i32> {
    reopen_with(root, path, first, libc::O_RDONLY, dir)
}

/// [`reopen`] with `flags` (an access mode, `O_APPEND`, `O_TRUNC`).
fn reopen_with(
    root: &OwnedFd,
    path: &CString,
    first: &libc::stat,
    flags: i32,
    dir: bool,
) -> Result<OwnedFd, i32> {
    // Truncated only once known to be the file probed.
    let mut real = (flags & !libc::O_TRUNC) | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK;
    if dir {
        real |= libc::O_DIRECTORY;
    }
    let fd = openat2(root, path, real)?;
    let st = fstat(&fd)?;
    check_type(st.st_mode, dir)?;
    if (st.st_dev, st.st_ino) != (first.st_dev, first.st_ino) {
        // Replaced on the host between the two opens.
        return Err(libc::ESTALE);
    }
    if flags & libc::O_TRUNC != 0 {
        sys::ftruncate(&fd, 0)?;
    }
    Ok(fd)
}

/// Per name: 0 and its inode number, or an errno and 0.
pub(super) type OpenResults = Vec<(u32, u64)>;

/// Topenfds: each named regular file of the directory at the request's
/// path, opened read-only as Topenfd opens one (probed with `fstatat`
/// first, so nothing but a regular file is opened for real). A name that fails has
/// its errno in the reply and no descriptor; the request fails as a whole
/// only when it is malformed.
pub(super) fn open_fds(
    root: &OwnedFd,
    dir: &[&[u8]],
    names: &[&[u8]],
) -> Result<(OpenResults, Vec<OwnedFd>), i32> {
    if !names.iter().all(|n| is_plain_name(n)) {
        return Err(libc::EINVAL);
    }
    let mut results = Vec::with_capacity(names.len());
    let mut fds = Vec::new();
    // The directory is resolved once; each name is then one component
    // below it (a plain name, opened without following, beneath it), and
    // probed with fstatat so nothing but a regular file is opened.
    let dir = beneath_path(dir).and_then(|p| openat2(root, &p, libc::O_PATH | libc::O_DIRECTORY));
    for &name in names {
        let opened = dir.as_ref().map_err(|e| *e).and_then(|dir| {
            let name = CString::new(name).map_err(|_| libc::EINVAL)?;
            let first = stat_at(dir, &name)?;
            check_type(first.st_mode, false)?;
            reopen(dir, &name, &first, false).map(|fd| (fd, first.st_ino))
        });
        match opened {
            Ok((fd, ino)) => {
                results.push((0, ino));
                fds.push(fd);
            }
            Err(e) => results.push((u32::try_from(e).unwrap_or(libc::EIO as u32), 0)),
        }
    }
    Ok((results, fds))
}

/// Tlookupfd: the attributes of the file at the request's names below
/// `root` (resolved as Topenfd resolves them, the last component not
/// followed), a symlink's target, and a regular file's or directory's
/// read-only descriptor when it can be opened (an unreadable file just has
/// none).
pub(super) fn lookup_fd(
    root: &OwnedFd,
    names: &[&[u8]],
) -> Result<(Rgetattr, Vec<u8>, Option<OwnedFd>), i32> {
    let path = beneath_path(names)?;
    let probe = openat2(root, &path, libc::O_PATH | libc::O_NOFOLLOW)?;
    let st = fstat(&probe)?;
    let mut target = Vec::new();
    let mut fd = None;
    match st.st_mode & libc::S_IFMT {
        libc::S_IFLNK => target = readlink_fd(&probe)?,
        libc::S_IFREG => fd = reopen(root, &path, &st, false).ok(),
        libc::S_IFDIR => fd = reopen(root, &path, &st, true).ok(),
        _ => {}
    }
    Ok((attr_of(&st), target, fd))
}

/// Topenfd donates regular files, and directories when asked for one.
fn check_type(mode: u32, want_dir: bool) -> Result<(), i32> {
    match (mode & libc::S_IFMT, want_dir) {
        (libc::S_IFREG, false) | (libc::S_IFDIR, true) => Ok(()),
        (libc::S_IFDIR, false) => Err(libc::EISDIR),
        (_, true) => Err(libc::ENOTDIR),
        (libc::S_IFLNK, false) => Err(libc::ELOOP),
        _ => Err(libc::ENXIO),
    }
}
