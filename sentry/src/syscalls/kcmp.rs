//! kcmp(2): whether two tasks share a kernel object (a file, the address
//! space, the descriptor table, the filesystem context, the signal
//! handlers, the I/O context, the SysV undo list, or a file in an epoll
//! set), as 0, or an order (1: less, 2: greater) between them.

use std::hash::BuildHasher;
use std::sync::{Arc, OnceLock};

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::access::PtraceMode;
use crate::kernel::task::Task;
use crate::kernel::TaskHandle;
use crate::usermem::Pod;

// linux/kcmp.h; not in the libc crate.
const KCMP_FILE: i32 = 0;
const KCMP_VM: i32 = 1;
const KCMP_FILES: i32 = 2;
const KCMP_FS: i32 = 3;
const KCMP_SIGHAND: i32 = 4;
const KCMP_IO: i32 = 5;
const KCMP_SYSVSEM: i32 = 6;
const KCMP_EPOLL_TFD: i32 = 7;
const KCMP_TYPES: usize = 8;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_kcmp,
        "kcmp",
        Support::Partial(
            "KCMP_IO finds every pair equal (no task has an I/O context, as on Linux before \
             block I/O)",
        ),
        sys_kcmp,
    );
}

/// `struct kcmp_epoll_slot`: which target of which epoll set.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct EpollSlot {
    efd: u32,
    tfd: u32,
    toff: u32,
}
// SAFETY: integers only, any bit pattern is valid.
unsafe impl Pod for EpollSlot {}

/// The order kcmp reports between two objects: their addresses, scrambled
/// per type with random keys (an XOR, then a multiplication by an odd
/// number: a bijection, so equal stays equal and the order is total and
/// stable) so that no Sentry address leaks, as Linux's kptr_obfuscate.
fn order(a: usize, b: usize, kind: i32) -> u64 {
    static KEYS: OnceLock<[(u64, u64); KCMP_TYPES]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        // std's hasher keys are random per process: enough to scramble.
        let seed = std::collections::hash_map::RandomState::new();
        std::array::from_fn(|i| {
            let x = seed.hash_one((i, 0u8));
            let m = seed.hash_one((i, 1u8));
            (x, m | 1 | (1 << 63))
        })
    });
    let (x, m) = keys[kind as usize];
    let scramble = |v: usize| (v as u64 ^ x).wrapping_mul(m);
    let (a, b) = (scramble(a), scramble(b));
    u64::from(a < b) | (u64::from(a > b) << 1)
}

fn addr<T: ?Sized>(p: Option<*const T>) -> usize {
    p.map_or(0, |p| p as *const () as usize)
}

fn file_of(h: &TaskHandle, fd: u64) -> Result<Arc<crate::vfs::File>, Errno> {
    let fds = h.view.lock().unwrap().fds.upgrade().ok_or(Errno::EBADF)?;
    fds.get(i32::try_from(fd).map_err(|_| Errno::EBADF)?)
}

fn sys_kcmp(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (h1, h2) = match (t.task_by_vpid(a.int(0)), t.task_by_vpid(a.int(1))) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(Errno::ESRCH),
    };
    if !t.may_access(&h1, PtraceMode::ReadRealCreds)
        || !t.may_access(&h2, PtraceMode::ReadRealCreds)
    {
        return Err(Errno::EPERM);
    }
    let kind = a.int(2);
    let (idx1, idx2) = (a.ulong(3), a.ulong(4));
    let view = |h: &TaskHandle| {
        let v = h.view.lock().unwrap();
        (
            v.mm.upgrade().map(|m| Arc::as_ptr(&m)),
            v.fds.upgrade().map(|f| Arc::as_ptr(&f)),
            v.fs.upgrade().map(|f| Arc::as_ptr(&f)),
        )
    };
    let (pair, as_kind) = match kind {
        KCMP_FILE => {
            let (f1, f2) = (file_of(&h1, idx1)?, file_of(&h2, idx2)?);
            (
                (addr(Some(Arc::as_ptr(&f1))), addr(Some(Arc::as_ptr(&f2)))),
                kind,
            )
        }
        KCMP_VM => ((addr(view(&h1).0), addr(view(&h2).0)), kind),
        KCMP_FILES => ((addr(view(&h1).1), addr(view(&h2).1)), kind),
        KCMP_FS => ((addr(view(&h1).2), addr(view(&h2).2)), kind),
        KCMP_SIGHAND => {
            let p = |h: &TaskHandle| addr(Some(Arc::as_ptr(&h.tg.actions)));
            ((p(&h1), p(&h2)), kind)
        }
        KCMP_IO => ((0, 0), kind),
        KCMP_SYSVSEM => {
            // The undo list is the process's, made by its first SEM_UNDO.
            let list = |h: &TaskHandle| {
                let tgid = h.tg.tgid;
                if h.ns.lock().unwrap().ipc.sem.has_undo(tgid) {
                    tgid as usize
                } else {
                    0
                }
            };
            ((list(&h1), list(&h2)), kind)
        }
        KCMP_EPOLL_TFD => {
            let f1 = file_of(&h1, idx1)?;
            let slot: EpollSlot = t.copy_in(a.ptr(4))?;
            let ep_file = file_of(&h2, u64::from(slot.efd))?;
            let ep = super::epoll::epoll_of(&ep_file)?;
            let target = ep
                .target(slot.tfd as i32, slot.toff as usize)
                .ok_or(Errno::ENOENT)?;
            let p = |f: &Arc<crate::vfs::File>| addr(Some(Arc::as_ptr(f)));
            ((p(&f1), p(&target)), KCMP_FILE)
        }
        _ => return Err(Errno::EINVAL),
    };
    Ok(order(pair.0, pair.1, as_kind))
}
