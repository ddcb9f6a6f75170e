//! SysV semaphores: semget, semop, semtimedop, semctl. The sets are the
//! kernel's IPC namespace's (`kernel/ipc/sem.rs`); a semop that must wait
//! sleeps here, on the set's queue.

use std::time::Instant;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::deadline;
use crate::kernel::ipc::sem::{Field, Outcome, SemBuf, SemInfo, StatBy, SEMOPM};
use crate::kernel::ipc::Who;
use crate::kernel::task::Task;
use crate::usermem::UserPtr;

/// semctl's index forms of IPC_STAT (libc names them with the IPC_64 bit
/// some ABIs add; x86-64 has none).
const SEM_STAT: i32 = 18;
const SEM_STAT_ANY: i32 = 20;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_semget, "semget", Support::Full, sys_semget);
    t.add(libc::SYS_semop, "semop", Support::Full, sys_semop);
    t.add(
        libc::SYS_semtimedop,
        "semtimedop",
        Support::Full,
        sys_semtimedop,
    );
    t.add(
        libc::SYS_semctl,
        "semctl",
        Support::Partial("sleepers are woken in no particular order (Linux wakes them in order)"),
        sys_semctl,
    );
}

fn sys_semget(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id =
        t.ns.ipc
            .sem
            .get(&Who::of(t), a.int(0), a.int(1), a.int(2))?;
    Ok(id as u64)
}

fn sys_semop(t: &mut Task, a: &SyscallArgs) -> SysResult {
    semop(t, a.int(0), a.ptr(1), a.ulong(2), None)
}

fn sys_semtimedop(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let timeout = a.ptr::<libc::timespec>(3);
    let deadline = if timeout.is_null() {
        None
    } else {
        let ts: libc::timespec = t.copy_in(timeout)?;
        Some(deadline::after(deadline::duration_of(&ts)?))
    };
    semop(t, a.int(0), a.ptr(1), a.ulong(2), deadline)
}

fn semop(
    t: &mut Task,
    id: i32,
    sops: UserPtr<SemBuf>,
    nsops: u64,
    deadline: Option<Instant>,
) -> SysResult {
    if nsops == 0 || id < 0 {
        return Err(Errno::EINVAL);
    }
    if nsops > SEMOPM as u64 {
        return Err(Errno::E2BIG);
    }
    let raw = t.read_bytes(sops.addr(), nsops as usize * std::mem::size_of::<SemBuf>())?;
    let ops: Vec<SemBuf> = raw
        .chunks_exact(std::mem::size_of::<SemBuf>())
        .map(|c| SemBuf {
            num: u16::from_ne_bytes([c[0], c[1]]),
            op: i16::from_ne_bytes([c[2], c[3]]),
            flags: i16::from_ne_bytes([c[4], c[5]]),
        })
        .collect();
    let sems = t.ns.ipc.sem.clone();
    let who = Who::of(t);
    let queue = sems.prepare(&who, id, &ops)?;
    let mut result = sems.try_ops(&who, id, &ops);
    if result != Ok(Outcome::Blocked) {
        return result.map(|_| 0);
    }
    sems.waiting(id, &ops, 1);
    let slept = t.block(&[&queue], deadline, &mut || {
        result = sems.try_ops(&who, id, &ops);
        result != Ok(Outcome::Blocked)
    });
    sems.waiting(id, &ops, -1);
    match slept {
        // semop is never restarted after a handler (Linux: EINTR).
        Err(Errno::ERESTARTSYS) => Err(Errno::EINTR),
        Err(Errno::ETIMEDOUT) => Err(Errno::EAGAIN),
        Err(e) => Err(e),
        Ok(()) => result.map(|_| 0),
    }
}

fn sys_semctl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (id, num, cmd) = (a.int(0), a.int(1), a.int(2));
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let sems = t.ns.ipc.sem.clone();
    let who = Who::of(t);
    let field = |f| sems.field(&who, id, num, f).map(|v| v as u64);
    let stat_by = match cmd {
        libc::IPC_STAT => StatBy::Id,
        SEM_STAT => StatBy::Index,
        SEM_STAT_ANY => StatBy::IndexAny,
        libc::IPC_INFO | libc::SEM_INFO => {
            let (r, info) = sems.info(cmd == libc::SEM_INFO);
            t.copy_out(a.ptr::<SemInfo>(3), &info)?;
            return Ok(r as u64);
        }
        libc::IPC_SET => {
            let ds: libc::semid_ds = t.copy_in(a.ptr(3))?;
            return sems.set(&who, id, &ds.sem_perm).map(|_| 0);
        }
        libc::IPC_RMID => return sems.remove(&who, id).map(|_| 0),
        libc::GETVAL => return field(Field::Val),
        libc::GETPID => return field(Field::Pid),
        libc::GETNCNT => return field(Field::NCnt),
        libc::GETZCNT => return field(Field::ZCnt),
        libc::GETALL => {
            let vals = sems.values(&who, id)?;
            let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
            t.write_bytes(a.addr(3), &bytes)?;
            return Ok(0);
        }
        // The union's int is the argument's low half.
        libc::SETVAL => return sems.set_values(&who, id, Some(num), &[a.int(3)]).map(|_| 0),
        libc::SETALL => {
            let n = sems.count(id)?;
            let vals: Vec<i32> = t
                .read_bytes(a.addr(3), n * 2)?
                .chunks_exact(2)
                .map(|c| i32::from(u16::from_ne_bytes([c[0], c[1]])))
                .collect();
            return sems.set_values(&who, id, None, &vals).map(|_| 0);
        }
        _ => return Err(Errno::EINVAL),
    };
    let (r, ds) = sems.stat(&who, id, stat_by)?;
    t.copy_out(a.ptr::<libc::semid_ds>(3), &ds)?;
    Ok(r as u64)
}
