//! mount(2) and umount2(2): decode the arguments in Linux's order, then
//! let the VFS's mount table do the work (`vfs::mount`).

use super::{Support, SyscallArgs, Table};
use std::sync::Arc;

use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::usermem::UserAddr;
use crate::vfs::ops;
use crate::vfs::MountSpec;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_mount,
        "mount",
        Support::Partial(
            "tmpfs, proc, sysfs, devpts (one shared terminal table), mqueue (the POSIX \
             message queues), devtmpfs; bind mounts, remounts, propagation types (recorded, \
             nothing propagates), MS_MOVE; remount keeps a tmpfs's size",
        ),
        sys_mount,
    );
    t.add(libc::SYS_umount2, "umount2", Support::Full, sys_umount2);
}

/// Linux's limit on the type and device strings (a page).
const MOUNT_STRING_MAX: usize = 4096;

/// A type or device string: NULL is none; EFAULT for a bad pointer.
fn mount_string(t: &Task, addr: UserAddr) -> Result<Option<Vec<u8>>, Errno> {
    if addr.is_null() {
        return Ok(None);
    }
    match t.read_cstring(addr, MOUNT_STRING_MAX) {
        Ok(s) => Ok(Some(s)),
        Err(Errno::ENAMETOOLONG) => Err(Errno::EINVAL),
        Err(e) => Err(e),
    }
}

/// The data page: up to a page, cut at the first NUL (every filesystem
/// we have takes text options). EFAULT only if none of it is readable,
/// as Linux's copy_mount_options.
fn mount_data(t: &Task, addr: UserAddr) -> Result<Vec<u8>, Errno> {
    if addr.is_null() {
        return Ok(Vec::new());
    }
    match t.read_cstring(addr, MOUNT_STRING_MAX) {
        Ok(s) => Ok(s),
        Err(Errno::ENAMETOOLONG) => Ok(t.read_bytes(addr, MOUNT_STRING_MAX - 1)?),
        Err(Errno::EFAULT) => {
            // Readable up to a fault: what was readable, up to a NUL.
            let mut out = Vec::new();
            for i in 0..MOUNT_STRING_MAX as u64 {
                match t.read_bytes(addr.get().wrapping_add(i), 1) {
                    Ok(b) if b[0] != 0 => out.push(b[0]),
                    Ok(_) => break,
                    Err(_) if i == 0 => return Err(Errno::EFAULT),
                    Err(_) => break,
                }
            }
            Ok(out)
        }
        Err(e) => Err(e),
    }
}

/// mount, umount and pivot_root need CAP_SYS_ADMIN in the user namespace
/// owning the caller's mount namespace.
fn may_mount(t: &Task) -> Result<(), Errno> {
    if t.creds()
        .capable_in(&t.ns.mnt.owner, crate::caps::CAP_SYS_ADMIN)
    {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// In a mount namespace an application's user namespace owns, the mounts
/// copied from its parent are locked as Linux locks them: not unmounted
/// (that would show what they cover) and not remounted without the
/// read-only, nosuid, nodev and noexec flags they had.
fn check_locked(
    t: &Task,
    at: &crate::vfs::Dentry,
    remount_flags: Option<u64>,
) -> Result<(), Errno> {
    if t.ns.mnt.owner.is_init() || !t.ns.mnt.is_copied(&at.mount) {
        return Ok(());
    }
    let Some(new) = remount_flags else {
        return Err(Errno::EPERM);
    };
    let locked =
        at.mount.flags() & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
    if new & locked != locked {
        return Err(Errno::EPERM);
    }
    Ok(())
}

fn sys_mount(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (source, target, fstype, data) = (a.addr(0), a.addr(1), a.addr(2), a.addr(4));
    let flags = a.ulong(3);
    let fstype = mount_string(t, fstype)?;
    let source = mount_string(t, source)?;
    let data = mount_data(t, data)?;
    let path = t.read_path(target)?;
    let at = ops::dentry_at(t, libc::AT_FDCWD, &path, true, false)?;
    may_mount(t)?;
    let spec = MountSpec {
        source: source.unwrap_or_default(),
        dest: path,
        fstype: String::from_utf8_lossy(&fstype.unwrap_or_default()).into_owned(),
        flags,
        data,
    };
    if flags & libc::MS_REMOUNT != 0 {
        check_locked(t, &at, Some(flags))?;
    } else if flags & libc::MS_MOVE != 0 {
        check_locked(t, &at, None)?;
    }
    let ctx = ops::Ctx::of(t);
    let vfs: Arc<crate::vfs::Vfs> = (*t.ns.mnt).clone();
    vfs.do_mount(&ctx, t.fs.cwd(), &at, &spec)?;
    Ok(0)
}

fn sys_umount2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.int(1);
    let known = libc::MNT_FORCE | libc::MNT_DETACH | libc::MNT_EXPIRE | libc::UMOUNT_NOFOLLOW;
    // An int: the upper half of the register is not looked at.
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    let path = t.read_path(a.addr(0))?;
    let follow = flags & libc::UMOUNT_NOFOLLOW == 0;
    let d = ops::dentry_at(t, libc::AT_FDCWD, &path, follow, false)?;
    may_mount(t)?;
    if flags & libc::MNT_EXPIRE != 0 && t.fs.root().same(&d) {
        return Err(Errno::EINVAL);
    }
    if t.fs.root().same(&d) || t.ns.mnt.is_mount_root(&d) {
        check_locked(t, &d, None)?;
    }
    let vfs: Arc<crate::vfs::Vfs> = (*t.ns.mnt).clone();
    vfs.umount(&d, flags)?;
    Ok(0)
}
