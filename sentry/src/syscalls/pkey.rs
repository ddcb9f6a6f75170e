//! Memory protection keys: pkey_alloc, pkey_free, pkey_mprotect, as Linux
//! answers on a CPU without them. A key lives in the PKRU register of the
//! host thread that runs the application (a stub thread, a vCPU), which
//! the Sentry neither sets nor saves, so no key can be given; the default
//! key -1 leaves pkey_mprotect an mprotect.

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_pkey_alloc,
        "pkey_alloc",
        Support::Partial(
            "no keys, as on a CPU without them: ENOSPC (Linux there answers a process's first \
             call EINVAL, the later ones ENOSPC)",
        ),
        sys_pkey_alloc,
    );
    t.add(
        libc::SYS_pkey_free,
        "pkey_free",
        Support::Partial("no key is ever allocated: EINVAL"),
        |_, _| Err(Errno::EINVAL),
    );
    t.add(
        libc::SYS_pkey_mprotect,
        "pkey_mprotect",
        Support::Partial("key -1 only (an mprotect); any other is not allocated: EINVAL"),
        sys_pkey_mprotect,
    );
}

/// `PKEY_DISABLE_ACCESS | PKEY_DISABLE_WRITE`: the rights a key may
/// start with.
const PKEY_ACCESS_MASK: u64 = 0x3;

fn sys_pkey_alloc(_t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.ulong(0) != 0 || a.ulong(1) & !PKEY_ACCESS_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    Err(Errno::ENOSPC)
}

fn sys_pkey_mprotect(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.int(3) == -1 {
        return super::mmap::sys_mprotect(t, a);
    }
    // Linux's do_mprotect_pkey checks the range before the key.
    let (start, len) = (a.ulong(0), a.ulong(1));
    if !start.is_multiple_of(crate::mm::PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    let len = crate::mm::page_round_up(len).ok_or(Errno::ENOMEM)?;
    if start.checked_add(len).is_none() {
        return Err(Errno::ENOMEM);
    }
    Err(Errno::EINVAL)
}
