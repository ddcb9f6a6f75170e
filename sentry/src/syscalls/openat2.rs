//! openat2(2): openat with a `struct open_how` whose flags and mode are
//! checked strictly, and RESOLVE_* restrictions that the VFS walk applies
//! step by step (`vfs::resolve`).

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::memfile::PAGE_SIZE;
use crate::vfs::ops::{self, Ctx};
use crate::vfs::resolve::Resolve;
use crate::vfs::O_LARGEFILE;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_openat2,
        "openat2",
        Support::Partial(
            "RESOLVE_CACHED is EAGAIN for O_CREAT, O_TRUNC and O_TMPFILE as on Linux; other cached lookups walk as usual and may ask the Gofer",
        ),
        sys_openat2,
    );
}

/// `struct open_how` (libc's cannot be built: it is non-exhaustive).
#[derive(Clone, Copy, Debug)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// The first published size of `struct open_how`: its three u64s.
const OPEN_HOW_SIZE_VER0: u64 = std::mem::size_of::<[u64; 3]>() as u64;

/// `__O_TMPFILE`: O_TMPFILE without its O_DIRECTORY.
const O_TMPFILE_BIT: i32 = libc::O_TMPFILE & !libc::O_DIRECTORY;

/// Linux's VALID_OPEN_FLAGS: any other bit is EINVAL for openat2 (openat
/// ignores them).
const VALID_OPEN_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_ASYNC
    | libc::O_DIRECT
    | O_LARGEFILE
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NOATIME
    | libc::O_CLOEXEC
    | libc::O_PATH
    | libc::O_TMPFILE;

/// What O_PATH may come with.
const O_PATH_FLAGS: i32 = libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_PATH | libc::O_CLOEXEC;

/// Copies `struct open_how` in as Linux's copy_struct_from_user does: a
/// larger struct than ours is accepted when the bytes we do not know are
/// zero (E2BIG otherwise).
fn copy_open_how(t: &Task, a: &SyscallArgs) -> Result<OpenHow, Errno> {
    let size = a.ulong(3);
    if size < OPEN_HOW_SIZE_VER0 {
        return Err(Errno::EINVAL);
    }
    if size > PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    if size > OPEN_HOW_SIZE_VER0 {
        let rest = t.read_bytes(
            a.addr(2).get().wrapping_add(OPEN_HOW_SIZE_VER0),
            (size - OPEN_HOW_SIZE_VER0) as usize,
        )?;
        if rest.iter().any(|&b| b != 0) {
            return Err(Errno::E2BIG);
        }
    }
    let [flags, mode, resolve]: [u64; 3] = t.copy_in(a.ptr(2))?;
    Ok(OpenHow {
        flags,
        mode,
        resolve,
    })
}

/// Linux's build_open_flags for openat2: the open flags, checked in its
/// order, and the walk's restrictions.
fn check_how(how: &OpenHow) -> Result<(i32, u32, Resolve), Errno> {
    let flags = how.flags & !(libc::O_CLOEXEC as u64);
    if flags & !(VALID_OPEN_FLAGS as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    let resolve = Resolve::new(how.resolve)?;
    // Fits: no valid flag is above bit 31.
    let flags = how.flags as i32;
    let mode = if flags & (libc::O_CREAT | O_TMPFILE_BIT) != 0 {
        if how.mode & !0o7777 != 0 {
            return Err(Errno::EINVAL);
        }
        how.mode as u32
    } else if how.mode != 0 {
        return Err(Errno::EINVAL);
    } else {
        0
    };
    if flags & (libc::O_DIRECTORY | libc::O_CREAT) == libc::O_DIRECTORY | libc::O_CREAT {
        return Err(Errno::EINVAL);
    }
    if flags & O_TMPFILE_BIT != 0
        && (flags & libc::O_DIRECTORY == 0 || flags & libc::O_ACCMODE == libc::O_RDONLY)
    {
        return Err(Errno::EINVAL);
    }
    if flags & libc::O_PATH != 0 && flags & !O_PATH_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    // A cached-only lookup would have to fail later: Linux says so now.
    if resolve.cached() && flags & (libc::O_TRUNC | libc::O_CREAT | O_TMPFILE_BIT) != 0 {
        return Err(Errno::EAGAIN);
    }
    Ok((flags, mode, resolve))
}

fn sys_openat2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let how = copy_open_how(t, a)?;
    let (flags, mode, resolve) = check_how(&how)?;
    let path = t.read_path(a.addr(1))?;
    let dirfd = a.int(0);
    let mut ctx = Ctx::of(t);
    ctx.resolve = resolve;
    let start = if resolve.scoped() {
        // The scope is the directory `dirfd` names even for an absolute
        // path: "." asks start_dir for exactly that.
        let dir = ops::start_dir(t, dirfd, b".")?;
        ctx.root = dir.clone();
        dir
    } else {
        ops::start_dir(t, dirfd, &path)?
    };
    let f = ops::open_at(&ctx, start, &path, flags, mode)?;
    let fd = t.fds.install(f, flags & libc::O_CLOEXEC != 0)?;
    Ok(fd as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn how(flags: i32, mode: u64, resolve: u64) -> OpenHow {
        OpenHow {
            flags: flags as u64,
            mode,
            resolve,
        }
    }

    #[test]
    fn a_mode_without_o_creat_is_einval() {
        assert_eq!(check_how(&how(0, 0o644, 0)).err(), Some(Errno::EINVAL));
        assert!(check_how(&how(libc::O_CREAT, 0o644, 0)).is_ok());
        let big = how(libc::O_CREAT, 0o10000, 0);
        assert_eq!(check_how(&big).err(), Some(Errno::EINVAL));
    }

    #[test]
    fn unknown_open_flags_are_einval_and_cached_creation_is_eagain() {
        let h = how(0, 0, 0);
        let mut unknown = h;
        unknown.flags |= 1 << 40;
        assert_eq!(check_how(&unknown).err(), Some(Errno::EINVAL));
        let cached = how(libc::O_CREAT, 0, libc::RESOLVE_CACHED);
        assert_eq!(check_how(&cached).err(), Some(Errno::EAGAIN));
        assert!(check_how(&how(0, 0, libc::RESOLVE_CACHED)).is_ok());
        let path = how(libc::O_PATH | libc::O_RDWR, 0, 0);
        assert_eq!(check_how(&path).err(), Some(Errno::EINVAL));
    }
}
