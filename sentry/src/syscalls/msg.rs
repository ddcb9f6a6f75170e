//! SysV message queues: msgget, msgsnd, msgrcv, msgctl. The queues are the
//! kernel's IPC namespace's (`kernel/ipc/msg.rs`); a send into a full
//! queue or a receive with nothing to take sleeps here.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::ipc::msg::{MessageQueues, MsgInfo, Outcome, MSGMAX, MSG_COPY};
use crate::kernel::ipc::shm::StatBy;
use crate::kernel::ipc::Who;
use crate::kernel::task::Task;
use crate::waiter::WaitQueue;

/// msgctl's index forms of IPC_STAT.
const MSG_STAT: i32 = 11;
const MSG_STAT_ANY: i32 = 13;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_msgget, "msgget", Support::Full, sys_msgget);
    t.add(libc::SYS_msgsnd, "msgsnd", Support::Full, sys_msgsnd);
    t.add(
        libc::SYS_msgrcv,
        "msgrcv",
        Support::Partial("sleepers are woken in no particular order (Linux wakes them in order)"),
        sys_msgrcv,
    );
    t.add(libc::SYS_msgctl, "msgctl", Support::Full, sys_msgctl);
}

fn sys_msgget(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = t.ns.ipc.msg.get(&Who::of(t), a.int(0), a.int(1))?;
    Ok(id as u64)
}

/// Tries `attempt` until it is done, sleeping on `queue` between tries:
/// after a handler the call is not restarted (Linux: ERESTARTNOHAND).
fn until_done<T>(
    t: &mut Task,
    queue: &Arc<WaitQueue>,
    mut attempt: impl FnMut() -> Result<Outcome<T>, Errno>,
) -> Result<T, Errno> {
    let mut result = attempt();
    if matches!(result, Ok(Outcome::Blocked)) {
        let slept = t.block(&[queue], None, &mut || {
            result = attempt();
            !matches!(result, Ok(Outcome::Blocked))
        });
        if let Err(e) = slept {
            return Err(if e == Errno::ERESTARTSYS {
                Errno::ERESTARTNOHAND
            } else {
                e
            });
        }
    }
    match result? {
        Outcome::Done(v) => Ok(v),
        Outcome::Blocked => Err(Errno::EAGAIN),
    }
}

fn queues(t: &Task) -> Arc<MessageQueues> {
    t.ns.ipc.msg.clone()
}

fn sys_msgsnd(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (id, msgp, size, flags) = (a.int(0), a.ulong(1), a.ulong(2), a.int(3));
    if id < 0 || size > MSGMAX as u64 {
        return Err(Errno::EINVAL);
    }
    let mtype: i64 = t.copy_in(a.ptr(1))?;
    if mtype < 1 {
        return Err(Errno::EINVAL);
    }
    let text = t.read_bytes(msgp.checked_add(8).ok_or(Errno::EFAULT)?, size as usize)?;
    let q = queues(t);
    let who = Who::of(t);
    let waiters = q.prepare(&who, id, 0o222)?;
    let nowait = flags & libc::IPC_NOWAIT != 0;
    until_done(t, &waiters, || q.send(&who, id, mtype, &text, nowait)).map(|_| 0)
}

fn sys_msgrcv(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (id, msgp, mtype, flags) = (a.int(0), a.ulong(1), a.long(3), a.int(4));
    let size = usize::try_from(a.long(2)).map_err(|_| Errno::EINVAL)?;
    if id < 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MSG_COPY != 0 && (flags & libc::IPC_NOWAIT == 0 || flags & libc::MSG_EXCEPT != 0) {
        return Err(Errno::EINVAL);
    }
    let q = queues(t);
    let who = Who::of(t);
    let waiters = q.prepare(&who, id, 0o444)?;
    let (got_type, text) = until_done(t, &waiters, || q.receive(&who, id, mtype, size, flags))?;
    t.copy_out(a.ptr::<i64>(1), &got_type)?;
    t.write_bytes(msgp.checked_add(8).ok_or(Errno::EFAULT)?, &text)?;
    Ok(text.len() as u64)
}

fn sys_msgctl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (id, cmd) = (a.int(0), a.int(1));
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let q = queues(t);
    let who = Who::of(t);
    let stat_by = match cmd {
        libc::IPC_STAT => StatBy::Id,
        MSG_STAT => StatBy::Index,
        MSG_STAT_ANY => StatBy::IndexAny,
        libc::IPC_INFO | libc::MSG_INFO => {
            let (r, info) = q.info(cmd == libc::MSG_INFO);
            t.copy_out(a.ptr::<MsgInfo>(2), &info)?;
            return Ok(r as u64);
        }
        libc::IPC_SET => {
            let ds: libc::msqid_ds = t.copy_in(a.ptr(2))?;
            return q.set(&who, id, &ds).map(|_| 0);
        }
        libc::IPC_RMID => return q.remove(&who, id).map(|_| 0),
        _ => return Err(Errno::EINVAL),
    };
    let (r, ds) = q.stat(&who, id, stat_by)?;
    t.copy_out(a.ptr::<libc::msqid_ds>(2), &ds)?;
    Ok(r as u64)
}
