//! name_to_handle_at and open_by_handle_at: handles of files that a
//! filesystem can find again (`vfs::handle`).

use super::file::path_arg;
use super::{Support, SyscallArgs, Table};
use crate::caps::CAP_DAC_READ_SEARCH;
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::vfs::handle::{self, FileHandle};
use crate::vfs::ops::{self, Ctx};
use crate::vfs::Caller;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_name_to_handle_at,
        "name_to_handle_at",
        Support::Partial(
            "real handles for tmpfs files; the overlay root, Gofer (host) files, procfs, sysfs and devpts are EOPNOTSUPP (AT_HANDLE_FID gives an inode-number id); AT_HANDLE_CONNECTABLE is EINVAL",
        ),
        sys_name_to_handle_at,
    );
    t.add(
        libc::SYS_open_by_handle_at,
        "open_by_handle_at",
        Support::Partial(
            "tmpfs handles; the file opened has no name of its own (/proc/self/fd shows /#INO under the mount)",
        ),
        sys_open_by_handle_at,
    );
}

/// Linux's FILEID_INVALID: the type written back with EOVERFLOW.
const FILEID_INVALID: i32 = 255;
/// The bits of handle_type that are flags for open_by_handle_at.
const FILEID_USER_FLAGS_MASK: u32 = 0xffff_0000;
/// The flags among them Linux accepts (FILEID_IS_CONNECTABLE, FILEID_IS_DIR).
const FILEID_VALID_USER_FLAGS: u32 = 0x3_0000;
/// `struct file_handle`'s header: handle_bytes and handle_type.
const HEADER: u64 = 8;

fn sys_name_to_handle_at(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.int(4);
    let known = libc::AT_SYMLINK_FOLLOW
        | libc::AT_EMPTY_PATH
        | libc::AT_HANDLE_FID
        | libc::AT_HANDLE_MNT_ID_UNIQUE;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let empty_ok = flags & libc::AT_EMPTY_PATH != 0;
    let path = path_arg(t, a.addr(1), empty_ok)?;
    let follow = flags & libc::AT_SYMLINK_FOLLOW != 0;
    let target = ops::resolve_at(t, a.int(0), &path, follow, empty_ok)?;
    // A pipe or socket: no filesystem of ours to find it in.
    let d = target.dentry().ok_or(Errno::EOPNOTSUPP)?.clone();
    let h = handle::encode(&d, flags & libc::AT_HANDLE_FID != 0)?;
    let [room, _]: [u32; 2] = t.copy_in(a.ptr(2))?;
    if room > libc::MAX_HANDLE_SZ as u32 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::AT_HANDLE_MNT_ID_UNIQUE != 0 {
        t.copy_out(a.ptr::<u64>(3), &d.mount.id)?;
    } else {
        t.copy_out(a.ptr::<i32>(3), &(d.mount.id as i32))?;
    }
    let len = h.bytes.len() as u32;
    if len > room {
        // The size needed, and nothing of the handle.
        t.copy_out(a.ptr::<[i32; 2]>(2), &[len as i32, FILEID_INVALID])?;
        return Err(Errno::EOVERFLOW);
    }
    t.copy_out(a.ptr::<[i32; 2]>(2), &[len as i32, h.ty])?;
    t.write_bytes(a.addr(2).get().wrapping_add(HEADER), &h.bytes)?;
    Ok(0)
}

/// Linux's order: the anchor, the capability, then the handle.
fn sys_open_by_handle_at(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mount_fd = a.int(0);
    let anchor = if mount_fd == libc::AT_FDCWD {
        t.fs().cwd()
    } else {
        t.fds.get(mount_fd)?.dentry().ok_or(Errno::ESTALE)?.clone()
    };
    if !t.fs_cred().capable(CAP_DAC_READ_SEARCH) {
        return Err(Errno::EPERM);
    }
    let [len, ty]: [i32; 2] = t.copy_in(a.ptr(1))?;
    if len <= 0 || len > libc::MAX_HANDLE_SZ {
        return Err(Errno::EINVAL);
    }
    if ty < 0 || (ty as u32) & FILEID_USER_FLAGS_MASK & !FILEID_VALID_USER_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    let bytes = t.read_bytes(a.addr(1).get().wrapping_add(HEADER), len as usize)?;
    let h = FileHandle {
        ty: ((ty as u32) & !FILEID_USER_FLAGS_MASK) as i32,
        bytes,
    };
    let d = handle::decode(&anchor, &h)?;
    let flags = a.int(2);
    let ctx = Ctx::of(t);
    let f = ops::open_resolved(&ctx, d, flags, false)?;
    let fd = t.fds.install(f, flags & libc::O_CLOEXEC != 0)?;
    Ok(fd as u64)
}
