//! Bind mounts of host paths into the tree the Gofer serves (an OCI
//! container's volumes, Docker's /etc/hosts ...), made in the Gofer's own
//! mount namespace before it confines itself.
//!
//! A destination is a path *inside the container's root*, whose image may
//! hold hostile symlinks (`/data -> /etc`): every step is resolved with
//! openat2(RESOLVE_IN_ROOT), so a link is followed as if the root were `/`
//! and never leads out; the mount is made on the resolved descriptor
//! (through /proc/self/fd), not on a path that could be swapped meanwhile.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{mount, MsFlags};

/// One bind mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bind {
    /// Host path (a directory or a file).
    pub source: PathBuf,
    /// Absolute path inside the served root.
    pub destination: PathBuf,
    pub readonly: bool,
}

/// Mounts every bind under `root` (a host path, not yet the process root).
pub fn apply(root: &Path, binds: &[Bind]) -> io::Result<()> {
    for b in binds {
        apply_one(root, b).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot bind {} on {}: {e}",
                    b.source.display(),
                    b.destination.display()
                ),
            )
        })?;
    }
    Ok(())
}

fn apply_one(root: &Path, b: &Bind) -> io::Result<()> {
    let source_is_dir = std::fs::metadata(&b.source)?.is_dir();
    let root_fd = File::open(root)?;
    let target = make_target(&root_fd, &b.destination, source_is_dir)?;
    let none: Option<&str> = None;
    mount(
        Some(&b.source),
        proc_path(&target).as_path(),
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )?;
    if b.readonly {
        // The descriptor still names the covered directory: reopen the
        // path to reach the new mount's root.
        let top = resolve(&root_fd, &b.destination, libc::O_PATH)?;
        mount(
            none,
            proc_path(&top).as_path(),
            none,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC,
            none,
        )?;
    }
    Ok(())
}

fn proc_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Opens `path` beneath `root` as if `root` were `/`.
fn resolve(root: &File, path: &Path, flags: i32) -> io::Result<OwnedFd> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let rel = if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    };
    let c = CString::new(rel.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: open_how is plain data; all-zero is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads `how` (of the size given) and the C string,
    // both valid for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: openat2 returned a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Finds or makes the mount point: missing directories on the way are
/// created (0755), and a missing last component becomes a directory or an
/// empty file to match the source, as runc makes them.
fn make_target(root: &File, dest: &Path, dir: bool) -> io::Result<OwnedFd> {
    if dest.components().any(|c| c == Component::ParentDir) || !dest.is_absolute() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut sofar = PathBuf::from("/");
    let names: Vec<_> = dest
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            _ => None,
        })
        .collect();
    for (i, name) in names.iter().enumerate() {
        let last = i + 1 == names.len();
        let parent = resolve(root, &sofar, libc::O_PATH | libc::O_DIRECTORY)?;
        sofar.push(name);
        match resolve(root, &sofar, libc::O_PATH) {
            Ok(fd) => {
                if last {
                    return Ok(fd);
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let c = CString::new(name.as_bytes())
                    .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
                // SAFETY: plain *at calls on a descriptor we own with a
                // valid C string.
                let r = unsafe {
                    if last && !dir {
                        libc::mknodat(parent.as_raw_fd(), c.as_ptr(), libc::S_IFREG | 0o644, 0)
                    } else {
                        libc::mkdirat(parent.as_raw_fd(), c.as_ptr(), 0o755)
                    }
                };
                if r != 0 {
                    let e = io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EEXIST) {
                        return Err(e);
                    }
                }
                if last {
                    return resolve(root, &sofar, libc::O_PATH);
                }
            }
            Err(e) => return Err(e),
        }
    }
    // The destination is the root itself.
    resolve(root, Path::new("/"), libc::O_PATH)
}
