//! fanotify_init and fanotify_mark (the group and its marks are in
//! `vfs::fanotify`).

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::caps::CAP_SYS_ADMIN;
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::vfs::fanotify::{
    Group, HeldObject, Object, EVENT_FLAGS, FID_BITS, IGNORE_FLAGS, INODE_EVENTS, PATH_EVENTS,
    PERM_EVENTS, SURV_MODIFY,
};
use crate::vfs::{ops, Caller, File, MAY_READ};

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_fanotify_init,
        "fanotify_init",
        Support::Partial(
            "FAN_REPORT_PIDFD, FAN_REPORT_TARGET_FID, FAN_REPORT_FD_ERROR, FAN_REPORT_MNT and \
             FAN_ENABLE_AUDIT are EINVAL; a permission wait ends at any signal, not only a \
             fatal one",
        ),
        sys_fanotify_init,
    );
    t.add(
        libc::SYS_fanotify_mark,
        "fanotify_mark",
        Support::Partial(
            "FAN_ACCESS_PERM only for read(2) and its kin; an exec asks FAN_OPEN_PERM and \
             FAN_OPEN_EXEC_PERM as two questions (Linux: one); FAN_DELETE_SELF, FAN_MOVE_SELF \
             and link-count FAN_ATTRIB reach inode marks, not filesystem marks; no FAN_RENAME, \
             FAN_FS_ERROR, FAN_PRE_ACCESS or mount-namespace marks; changes the host makes to \
             Gofer files are not seen",
        ),
        sys_fanotify_mark,
    );
}

/// The event_f_flags an event's descriptor may be opened with (Linux's
/// FANOTIFY_INIT_ALL_EVENT_F_BITS).
const EVENT_F_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_SYNC
    | libc::O_DSYNC
    | libc::O_CLOEXEC
    | crate::vfs::O_LARGEFILE
    | libc::O_NOATIME;

/// fanotify_init flags we implement.
const INIT_FLAGS: u32 = libc::FAN_CLOEXEC
    | libc::FAN_NONBLOCK
    | CLASS_BITS
    | libc::FAN_UNLIMITED_QUEUE
    | libc::FAN_UNLIMITED_MARKS
    | libc::FAN_REPORT_TID
    | FID_BITS;
const CLASS_BITS: u32 = libc::FAN_CLASS_CONTENT | libc::FAN_CLASS_PRE_CONTENT;
/// What only CAP_SYS_ADMIN may ask for (Linux's FANOTIFY_ADMIN_INIT_FLAGS).
const ADMIN_INIT_FLAGS: u32 =
    CLASS_BITS | libc::FAN_REPORT_TID | libc::FAN_UNLIMITED_QUEUE | libc::FAN_UNLIMITED_MARKS;

fn sys_fanotify_init(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.uint(0);
    let event_flags = a.int(1);
    let admin = t.creds().capable(CAP_SYS_ADMIN);
    // Since Linux 5.13 a user without CAP_SYS_ADMIN may watch by file ids
    // alone, with limited queues and marks.
    if !admin && (flags & ADMIN_INIT_FLAGS != 0 || flags & FID_BITS == 0) {
        return Err(Errno::EPERM);
    }
    if flags & !INIT_FLAGS != 0 || flags & CLASS_BITS == CLASS_BITS {
        return Err(Errno::EINVAL);
    }
    let fid = flags & FID_BITS;
    if fid != 0 && flags & CLASS_BITS != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::FAN_REPORT_NAME != 0 && flags & libc::FAN_REPORT_DIR_FID == 0 {
        return Err(Errno::EINVAL);
    }
    if event_flags & !EVENT_F_FLAGS != 0 || event_flags & libc::O_ACCMODE == libc::O_ACCMODE {
        return Err(Errno::EINVAL);
    }
    let g = Group::new(t.kernel.vfs.notify().fanotify(), flags, event_flags, !admin);
    let status = if flags & libc::FAN_NONBLOCK != 0 {
        libc::O_NONBLOCK
    } else {
        0
    };
    let f = File::new(Arc::new(g), None, libc::O_RDWR | status);
    Ok(t.fds.install(f, flags & libc::FAN_CLOEXEC != 0)? as u64)
}

/// fanotify_mark flags we know (Linux's FANOTIFY_MARK_FLAGS without
/// mount-namespace marks).
const MARK_FLAGS: u32 = libc::FAN_MARK_ADD
    | libc::FAN_MARK_REMOVE
    | libc::FAN_MARK_DONT_FOLLOW
    | libc::FAN_MARK_ONLYDIR
    | libc::FAN_MARK_MOUNT
    | libc::FAN_MARK_IGNORED_MASK
    | libc::FAN_MARK_IGNORED_SURV_MODIFY
    | libc::FAN_MARK_FLUSH
    | libc::FAN_MARK_FILESYSTEM
    | libc::FAN_MARK_EVICTABLE
    | libc::FAN_MARK_IGNORE;
const TYPE_BITS: u32 = libc::FAN_MARK_MOUNT | libc::FAN_MARK_FILESYSTEM;
const CMD_BITS: u32 = libc::FAN_MARK_ADD | libc::FAN_MARK_REMOVE | libc::FAN_MARK_FLUSH;

/// The group behind `fd` (EBADF, or EINVAL for another file).
fn with_group<R>(f: &File, op: impl FnOnce(&Group) -> Result<R, Errno>) -> Result<R, Errno> {
    let any: &dyn std::any::Any = &**f.ops();
    op(any.downcast_ref::<Group>().ok_or(Errno::EINVAL)?)
}

/// Checked in Linux's order (do_fanotify_mark).
fn sys_fanotify_mark(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let fd = a.int(0);
    let flags = a.uint(1);
    let mut mask = a.ulong(2);
    let dirfd = a.int(3);
    let path_addr = a.addr(4);
    let kind = flags & TYPE_BITS;
    let cmd = flags & CMD_BITS;
    let ignore = flags & (libc::FAN_MARK_IGNORE | libc::FAN_MARK_IGNORED_MASK);
    if mask >> 32 != 0 || flags & !MARK_FLAGS != 0 || kind == TYPE_BITS {
        return Err(Errno::EINVAL);
    }
    match cmd {
        libc::FAN_MARK_ADD | libc::FAN_MARK_REMOVE if mask == 0 => return Err(Errno::EINVAL),
        libc::FAN_MARK_ADD | libc::FAN_MARK_REMOVE => {}
        libc::FAN_MARK_FLUSH if flags & !(TYPE_BITS | libc::FAN_MARK_FLUSH) != 0 => {
            return Err(Errno::EINVAL)
        }
        libc::FAN_MARK_FLUSH => {}
        _ => return Err(Errno::EINVAL),
    }
    if mask & !(PATH_EVENTS | INODE_EVENTS | EVENT_FLAGS | PERM_EVENTS) != 0 {
        return Err(Errno::EINVAL);
    }
    if ignore == libc::FAN_MARK_IGNORE | libc::FAN_MARK_IGNORED_MASK {
        return Err(Errno::EINVAL);
    }
    // The old ignore mask has no use for the event flags.
    if ignore == libc::FAN_MARK_IGNORED_MASK {
        mask &= !EVENT_FLAGS;
    }
    let f = t.fds.get(fd)?;
    let group_flags = with_group(&f, |g| Ok(g.flags()))?;
    let admin = t.creds().capable(CAP_SYS_ADMIN);
    if kind != 0 && !admin {
        return Err(Errno::EPERM);
    }
    if mask & PERM_EVENTS != 0 && group_flags & CLASS_BITS == 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::FAN_MARK_EVICTABLE != 0 && kind != 0 {
        return Err(Errno::EINVAL);
    }
    let fid = group_flags & FID_BITS != 0;
    if mask & INODE_EVENTS != 0 && !fid {
        return Err(Errno::EINVAL);
    }
    if mask & INODE_EVENTS != 0 && kind == libc::FAN_MARK_MOUNT {
        return Err(Errno::EINVAL);
    }
    if cmd == libc::FAN_MARK_FLUSH {
        with_group(&f, |g| {
            g.flush(match kind {
                libc::FAN_MARK_MOUNT => |o: &Object| matches!(o, Object::Mount(_)),
                libc::FAN_MARK_FILESYSTEM => |o: &Object| matches!(o, Object::Filesystem(_)),
                _ => |o: &Object| matches!(o, Object::Inode(_)),
            });
            Ok(())
        })?;
        return Ok(0);
    }
    // The object: the path, or with none the file `dirfd` is.
    let d = if path_addr.get() == 0 {
        t.fds.get(dirfd)?.dentry().cloned().ok_or(Errno::EBADF)?
    } else {
        let path = t.read_path(path_addr)?;
        ops::dentry_at(
            t,
            dirfd,
            &path,
            flags & libc::FAN_MARK_DONT_FOLLOW == 0,
            false,
        )?
    };
    if flags & libc::FAN_MARK_ONLYDIR != 0 && !d.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    t.fs_cred().may_stat(&d.inode.stat()?, MAY_READ)?;
    let on_dir_inode = kind == 0 && d.is_dir();
    if cmd == libc::FAN_MARK_ADD
        && ignore == libc::FAN_MARK_IGNORE
        && (kind != 0 || d.is_dir())
        && flags & libc::FAN_MARK_IGNORED_SURV_MODIFY == 0
    {
        return Err(Errno::EISDIR);
    }
    // Only a directory's inode mark hears of its children.
    if !on_dir_inode {
        mask &= !libc::FAN_EVENT_ON_CHILD;
    }
    let (obj, held) = match kind {
        libc::FAN_MARK_MOUNT => (Object::mount(&d.mount), HeldObject::Mount(d.mount.clone())),
        libc::FAN_MARK_FILESYSTEM => (
            Object::filesystem(&d.mount.sb),
            HeldObject::Filesystem(d.mount.sb.clone()),
        ),
        _ => (Object::inode(&d.inode), HeldObject::Inode(d.inode.clone())),
    };
    let mut mark_flags = 0;
    if flags & libc::FAN_MARK_IGNORED_SURV_MODIFY != 0 {
        mark_flags |= SURV_MODIFY;
    }
    if ignore == libc::FAN_MARK_IGNORE {
        mark_flags |= IGNORE_FLAGS;
    }
    with_group(&f, |g| {
        if cmd == libc::FAN_MARK_ADD {
            g.add_mark(obj, held, mask, ignore != 0, mark_flags)
        } else {
            g.remove_mark(obj, mask, ignore != 0)
        }
    })?;
    Ok(0)
}
