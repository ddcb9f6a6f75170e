//! POSIX message queues: mq_open, mq_unlink, mq_timedsend,
//! mq_timedreceive, mq_notify, mq_getsetattr. The queues are files of the
//! IPC namespace's mqueue filesystem (`fsimpl/mqueue.rs`); one queue's
//! state is `kernel/ipc/mqueue.rs`; a send into a full queue or a receive
//! from an empty one sleeps here, until the absolute CLOCK_REALTIME
//! deadline the caller gave.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use super::{Support, SyscallArgs, Table};
use crate::caps::{CAP_FOWNER, CAP_SYS_RESOURCE};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::mqueue::{queues_of, MqDir, MqFile};
use crate::kernel::deadline;
use crate::kernel::ipc::mqueue::{
    Limits, MessageQueue, Notify, PRIO_MAX, SIGEV_NONE, SIGEV_SIGNAL,
};
use crate::kernel::ipc::msg::Outcome;
use crate::kernel::signal::SigInfo;
use crate::kernel::task::Task;
use crate::usermem::{Pod, UserPtr};
use crate::vfs::{Caller, Dentry, File, Owner, MAY_READ, MAY_WRITE, NAME_MAX, PATH_MAX};

pub fn register(t: &mut Table) {
    t.add(libc::SYS_mq_open, "mq_open", Support::Full, sys_mq_open);
    t.add(
        libc::SYS_mq_unlink,
        "mq_unlink",
        Support::Full,
        sys_mq_unlink,
    );
    t.add(
        libc::SYS_mq_timedsend,
        "mq_timedsend",
        Support::Partial("RLIMIT_MSGQUEUE is not counted"),
        sys_mq_timedsend,
    );
    t.add(
        libc::SYS_mq_timedreceive,
        "mq_timedreceive",
        Support::Full,
        sys_mq_timedreceive,
    );
    t.add(
        libc::SYS_mq_notify,
        "mq_notify",
        Support::Partial(
            "SIGEV_SIGNAL and SIGEV_NONE; SIGEV_THREAD (glibc's, over a netlink socket) is ENOSYS",
        ),
        sys_mq_notify,
    );
    t.add(
        libc::SYS_mq_getsetattr,
        "mq_getsetattr",
        Support::Full,
        sys_mq_getsetattr,
    );
}

/// `struct mq_attr` (libc has it, without Pod).
#[derive(Clone, Copy, Default)]
#[repr(C)]
struct MqAttr {
    flags: i64,
    maxmsg: i64,
    msgsize: i64,
    curmsgs: i64,
    reserved: [i64; 4],
}
// SAFETY: integers only, any bit pattern is valid.
unsafe impl Pod for MqAttr {}

/// The part of `struct sigevent` mq_notify reads: value, signal, how
/// (and, for SIGEV_THREAD_ID, a thread; the rest is padding to 64 bytes).
#[derive(Clone, Copy)]
#[repr(C)]
struct SigEvent {
    value: u64,
    signo: i32,
    notify: i32,
    rest: [u8; 48],
}
// SAFETY: integers only, any bit pattern is valid.
unsafe impl Pod for SigEvent {}

/// `si_code` of a message-queue notification.
const SI_MESGQ: i32 = -3;

/// The queue directory of the caller's IPC namespace.
fn queues(t: &Task) -> Result<(Arc<MqDir>, Arc<Dentry>), Errno> {
    queues_of(&t.kernel.vfs, &t.ns.ipc).ok_or(Errno::ENOSYS)
}

/// A queue name as the kernel takes it (glibc has dropped the leading
/// `/`): one path component.
fn read_name(t: &Task, a: &SyscallArgs) -> Result<Vec<u8>, Errno> {
    let name = t.read_cstring(a.addr(0), PATH_MAX)?;
    if name.is_empty() || name.contains(&b'/') || name == b"." || name == b".." {
        return Err(Errno::EACCES);
    }
    if name.len() > NAME_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(name)
}

fn sys_mq_open(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (oflag, mode) = (a.int(1), a.uint(2));
    let attr = if oflag & libc::O_CREAT != 0 && !a.addr(3).is_null() {
        Some(t.copy_in(a.ptr::<MqAttr>(3))?)
    } else {
        None
    };
    let name = read_name(t, a)?;
    let (dir, dentry) = queues(t)?;
    let creds = t.creds();
    let inode = match dir.find(&name) {
        Some(q) => {
            if oflag & (libc::O_CREAT | libc::O_EXCL) == libc::O_CREAT | libc::O_EXCL {
                return Err(Errno::EEXIST);
            }
            let want = match oflag & libc::O_ACCMODE {
                libc::O_RDONLY => MAY_READ,
                libc::O_WRONLY => MAY_WRITE,
                libc::O_RDWR => MAY_READ | MAY_WRITE,
                _ => return Err(Errno::EINVAL),
            };
            t.fs_cred().may_stat(&crate::vfs::Inode::stat(&*q)?, want)?;
            q
        }
        None if oflag & libc::O_CREAT == 0 => return Err(Errno::ENOENT),
        None => {
            let privileged = creds.capable(CAP_SYS_RESOURCE);
            let asked = attr.map(|a| Limits {
                maxmsg: a.maxmsg,
                msgsize: a.msgsize,
            });
            let limits = Limits::new(asked, privileged)?;
            let owner = Owner {
                uid: creds.euid,
                gid: creds.egid,
            };
            let mode = mode & 0o7777 & !t.fs.umask();
            dir.create_queue(&name, mode, owner, limits, privileged)?
        }
    };
    let ops = crate::vfs::Inode::open(inode.clone(), oflag)?;
    let child = dentry.child(dentry.mount.clone(), inode, &name);
    let flags = oflag & (libc::O_ACCMODE | libc::O_NONBLOCK);
    let f = File::new(ops, Some(child), flags);
    Ok(t.fds.install(f, oflag & libc::O_CLOEXEC != 0)? as u64)
}

fn sys_mq_unlink(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let name = read_name(t, a)?;
    let (dir, _) = queues(t)?;
    let q = dir.find(&name).ok_or(Errno::ENOENT)?;
    // The directory is sticky (1777): the owner of the queue or of the
    // directory, or CAP_FOWNER, may remove it.
    let c = t.creds();
    let st = crate::vfs::Inode::stat(&*q)?;
    let dir_owner = crate::vfs::Inode::stat(&*dir)?.st_uid;
    if c.euid != st.st_uid && c.euid != dir_owner && !c.capable(CAP_FOWNER) {
        return Err(Errno::EACCES);
    }
    crate::vfs::Inode::unlink(&*dir, &name).map(|_| 0)
}

/// The deadline of an absolute CLOCK_REALTIME timeout (None: no timeout),
/// checked before anything else, as Linux's prepare_timeout.
fn timeout(t: &Task, p: UserPtr<libc::timespec>) -> Result<Option<Instant>, Errno> {
    if p.is_null() {
        return Ok(None);
    }
    let ts = t.copy_in(p)?;
    let target = deadline::duration_of(&ts)?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Some(deadline::at(target, now)))
}

/// The queue and file behind descriptor `fd`: EBADF unless it is a queue
/// opened for `write` (or reading).
fn queue_of(t: &Task, fd: i32, write: bool) -> Result<(Arc<MessageQueue>, Arc<File>), Errno> {
    let f = t.fds.get(fd)?;
    let q = MqFile::of(&f)?;
    if (write && !f.writable()) || (!write && !f.readable()) {
        return Err(Errno::EBADF);
    }
    Ok((q, f))
}

/// Tries `attempt` until it is done, sleeping on the queue between tries,
/// until `deadline` (ETIMEDOUT).
fn until_done<T>(
    t: &mut Task,
    q: &MessageQueue,
    deadline: Option<Instant>,
    mut attempt: impl FnMut() -> Result<Outcome<T>, Errno>,
) -> Result<T, Errno> {
    let mut result = attempt();
    if matches!(result, Ok(Outcome::Blocked)) {
        let slept = t.block(&[&q.waiters], deadline, &mut || {
            result = attempt();
            !matches!(result, Ok(Outcome::Blocked))
        });
        slept?;
    }
    match result? {
        Outcome::Done(v) => Ok(v),
        Outcome::Blocked => Err(Errno::ETIMEDOUT),
    }
}

fn sys_mq_timedsend(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (fd, msg, len, prio) = (a.int(0), a.addr(1), a.usize(2), a.uint(3));
    let deadline = timeout(t, a.ptr(4))?;
    if prio >= PRIO_MAX {
        return Err(Errno::EINVAL);
    }
    let (q, f) = queue_of(t, fd, true)?;
    if len as u64 > q.limits.msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let text = t.read_bytes(msg, len)?;
    let nonblock = f.nonblocking();
    let notified = until_done(t, &q, deadline, || q.send(&text, prio, nonblock))?;
    if let Some(n) = notified {
        notify(t, &n);
    }
    Ok(0)
}

/// Tells the registered process of the first message into the empty
/// queue: the signal it asked for, from the sender.
fn notify(t: &Task, n: &Notify) {
    if n.how != SIGEV_SIGNAL || n.signo == 0 {
        return;
    }
    let Some(target) = t.kernel.task(n.tgid) else {
        return;
    };
    // The sender as the receiver's PID namespace numbers it.
    let sender = target.tg.pidns.nr(t.tgid());
    let mut info = SigInfo::user(n.signo, SI_MESGQ, sender, t.creds().uid);
    // si_value follows si_pid and si_uid.
    info.fields[1] = n.value;
    crate::kernel::signal_send::send_group(&target.tg, info);
}

fn sys_mq_timedreceive(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (fd, msg, len, prio_ptr) = (a.int(0), a.addr(1), a.usize(2), a.ptr::<u32>(3));
    let deadline = timeout(t, a.ptr(4))?;
    let (q, f) = queue_of(t, fd, false)?;
    if (len as u64) < q.limits.msgsize as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let nonblock = f.nonblocking();
    q.receiver_waits(true);
    let got = until_done(t, &q, deadline, || q.receive(nonblock));
    q.receiver_waits(false);
    let (text, prio) = got?;
    t.write_bytes(msg, &text)?;
    if !prio_ptr.is_null() {
        t.copy_out(prio_ptr, &prio)?;
    }
    Ok(text.len() as u64)
}

fn sys_mq_notify(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let ev = if a.addr(1).is_null() {
        None
    } else {
        Some(t.copy_in(a.ptr::<SigEvent>(1))?)
    };
    let f = t.fds.get(a.int(0))?;
    let q = MqFile::of(&f)?;
    let tgid = t.tgid();
    let Some(ev) = ev else {
        return q.set_notify(tgid, None).map(|_| 0);
    };
    match ev.notify {
        SIGEV_NONE => {}
        SIGEV_SIGNAL => {
            // Signal 0 is valid: the registration then sends nothing.
            if !(0..=64).contains(&ev.signo) {
                return Err(Errno::EINVAL);
            }
        }
        libc::SIGEV_THREAD => {
            t.kernel.report_unsupported(
                libc::SYS_mq_notify as usize,
                libc::SIGEV_THREAD as u64,
                "mq_notify SIGEV_THREAD (a netlink notification)",
            );
            return Err(Errno::ENOSYS);
        }
        _ => return Err(Errno::EINVAL),
    }
    let n = Notify {
        tgid,
        how: ev.notify,
        signo: ev.signo,
        value: ev.value,
    };
    q.set_notify(tgid, Some(n)).map(|_| 0)
}

fn sys_mq_getsetattr(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let new = if a.addr(1).is_null() {
        None
    } else {
        let n = t.copy_in(a.ptr::<MqAttr>(1))?;
        if n.flags & !(libc::O_NONBLOCK as i64) != 0 {
            return Err(Errno::EINVAL);
        }
        Some(n)
    };
    let f = t.fds.get(a.int(0))?;
    let q = MqFile::of(&f)?;
    let old = MqAttr {
        flags: (f.flags() & libc::O_NONBLOCK) as i64,
        maxmsg: q.limits.maxmsg,
        msgsize: q.limits.msgsize,
        curmsgs: q.count(),
        reserved: [0; 4],
    };
    if let Some(n) = new {
        let keep = f.flags() & !libc::O_NONBLOCK;
        f.set_status_flags(keep | n.flags as i32);
    }
    if !a.addr(2).is_null() {
        t.copy_out(a.ptr::<MqAttr>(2), &old)?;
    }
    Ok(0)
}
