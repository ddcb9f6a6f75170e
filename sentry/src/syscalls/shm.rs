//! SysV shared memory: shmget, shmat, shmdt, shmctl. The segments are the
//! kernel's IPC namespace's (`kernel/ipc/shm.rs`); shmdt is the MM's.

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::ipc::shm::{ShmInfo64, ShmUsage, StatBy, SHM_INFO, SHM_STAT, SHM_STAT_ANY};
use crate::kernel::ipc::Who;
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_shmget,
        "shmget",
        Support::Partial("SHM_HUGETLB fails with ENOMEM, as on Linux with no huge pages reserved"),
        sys_shmget,
    );
    t.add(libc::SYS_shmat, "shmat", Support::Full, sys_shmat);
    t.add(libc::SYS_shmdt, "shmdt", Support::Full, sys_shmdt);
    t.add(
        libc::SYS_shmctl,
        "shmctl",
        Support::Partial(
            "SHM_LOCK only marks the segment (the Sentry never swaps); shm_nattch counts attaches, \
             not the extra VMAs an mprotect or munmap splits one into",
        ),
        sys_shmctl,
    );
}

fn sys_shmget(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.int(2);
    if flags & libc::SHM_HUGETLB != 0 {
        t.kernel.report_unsupported(
            libc::SYS_shmget as usize,
            libc::SHM_HUGETLB as u64,
            "shmget SHM_HUGETLB",
        );
    }
    let id = t.ns.ipc.shm.get(&Who::of(t), a.int(0), a.ulong(1), flags)?;
    Ok(id as u64)
}

fn sys_shmat(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let shm = t.ns.ipc.shm.clone();
    let mm = t.mm.clone();
    let who = Who::of(t);
    shm.attach(&mm, t.ctx(), &who, a.int(0), a.ulong(1), a.int(2))
}

fn sys_shmdt(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mm = t.mm.clone();
    mm.detach(t.ctx(), a.ulong(0)).map(|_| 0)
}

fn sys_shmctl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (id, cmd) = (a.int(0), a.int(1));
    if id < 0 || cmd < 0 {
        return Err(Errno::EINVAL);
    }
    let shm = t.ns.ipc.shm.clone();
    let who = Who::of(t);
    let stat_by = match cmd {
        libc::IPC_STAT => StatBy::Id,
        SHM_STAT => StatBy::Index,
        SHM_STAT_ANY => StatBy::IndexAny,
        libc::IPC_INFO => {
            let (r, info) = shm.info();
            t.copy_out(a.ptr::<ShmInfo64>(2), &info)?;
            return Ok(r as u64);
        }
        SHM_INFO => {
            let (r, usage) = shm.usage();
            t.copy_out(a.ptr::<ShmUsage>(2), &usage)?;
            return Ok(r as u64);
        }
        libc::IPC_SET => {
            let ds: libc::shmid_ds = t.copy_in(a.ptr(2))?;
            return shm.set(&who, id, &ds.shm_perm).map(|_| 0);
        }
        libc::IPC_RMID => return shm.remove(&who, id).map(|_| 0),
        libc::SHM_LOCK | libc::SHM_UNLOCK => {
            let memlock = t.tg.rlimit(libc::RLIMIT_MEMLOCK as usize);
            return shm
                .set_locked(&who, id, cmd == libc::SHM_LOCK, memlock)
                .map(|_| 0);
        }
        _ => return Err(Errno::EINVAL),
    };
    let (r, ds) = shm.stat(&who, id, stat_by)?;
    t.copy_out(a.ptr::<libc::shmid_ds>(2), &ds)?;
    Ok(r as u64)
}
