//! membarrier(2): the commands glibc, liburcu, the JVM and .NET use.
//!
//! Registrations are the address space's (`mm::Inner::membarrier`:
//! inherited by fork, dropped by exec, as Linux keeps them in the mm);
//! the barriers themselves are the host's, over every host thread that
//! runs application code (`platform::membarrier` has the argument). The
//! RSEQ commands answer as a kernel without CONFIG_RSEQ does (EINVAL),
//! since rseq(2) is ENOSYS here.

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use platform::membarrier as host;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_membarrier,
        "membarrier",
        Support::Partial(
            "every command but the RSEQ ones (EINVAL, as Linux without rseq); each barrier is \
             the host's MEMBARRIER_CMD_GLOBAL_EXPEDITED over the Sentry and its stubs",
        ),
        sys_membarrier,
    );
}

/// `MEMBARRIER_CMD_*` (linux/membarrier.h), beyond the platform's.
const CMD_PRIVATE_EXPEDITED: i32 = 1 << 3;
const CMD_REGISTER_PRIVATE_EXPEDITED: i32 = 1 << 4;
const CMD_PRIVATE_EXPEDITED_SYNC_CORE: i32 = 1 << 5;
const CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE: i32 = 1 << 6;
const CMD_PRIVATE_EXPEDITED_RSEQ: i32 = 1 << 7;
const CMD_GET_REGISTRATIONS: i32 = 1 << 9;
/// `MEMBARRIER_CMD_FLAG_CPU`: only PRIVATE_EXPEDITED_RSEQ takes it.
const CMD_FLAG_CPU: u32 = 1;

/// What QUERY answers: Linux's MEMBARRIER_CMD_BITMASK without the RSEQ
/// commands (a kernel built without CONFIG_RSEQ).
const SUPPORTED: i32 = host::CMD_GLOBAL
    | host::CMD_GLOBAL_EXPEDITED
    | host::CMD_REGISTER_GLOBAL_EXPEDITED
    | CMD_PRIVATE_EXPEDITED
    | CMD_REGISTER_PRIVATE_EXPEDITED
    | CMD_PRIVATE_EXPEDITED_SYNC_CORE
    | CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE
    | CMD_GET_REGISTRATIONS;

fn sys_membarrier(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (cmd, flags) = (a.int(0), a.uint(1));
    let h = host::host();
    if !h.global && !h.expedited {
        // No barrier reaches the stubs: as a kernel without membarrier.
        t.kernel.report_unsupported(
            libc::SYS_membarrier as usize,
            0,
            "membarrier: the host offers no global barrier",
        );
        return Err(Errno::ENOSYS);
    }
    let valid_flags = if cmd == CMD_PRIVATE_EXPEDITED_RSEQ {
        CMD_FLAG_CPU
    } else {
        0
    };
    if flags & !valid_flags != 0 {
        return Err(Errno::EINVAL);
    }
    let registered = |t: &Task| t.mm.inner().membarrier;
    let register = |t: &Task, cmd: i32| {
        t.mm.inner_mut().membarrier |= cmd;
        Ok(0)
    };
    match cmd {
        host::CMD_QUERY => Ok(SUPPORTED as u64),
        host::CMD_GLOBAL | host::CMD_GLOBAL_EXPEDITED => barrier(),
        host::CMD_REGISTER_GLOBAL_EXPEDITED
        | CMD_REGISTER_PRIVATE_EXPEDITED
        | CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE => register(t, cmd),
        // Only a registered address space may ask (Linux: EPERM), so
        // a library learns at registration whether it may rely on it.
        CMD_PRIVATE_EXPEDITED | CMD_PRIVATE_EXPEDITED_SYNC_CORE => {
            let need = cmd << 1;
            if registered(t) & need == 0 {
                return Err(Errno::EPERM);
            }
            barrier()
        }
        CMD_GET_REGISTRATIONS => {
            let mut r = registered(t);
            // Linux's SYNC_CORE registration marks the address space
            // PRIVATE_EXPEDITED too, and reports both.
            if r & CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE != 0 {
                r |= CMD_REGISTER_PRIVATE_EXPEDITED;
            }
            Ok(r as u64)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The host barrier over every CPU that runs a thread of the Sentry or a
/// stub. That covers GLOBAL too: every thread of the sandbox is one of
/// them. The host's GLOBAL (every CPU of the host, slower, as sound)
/// serves when the Sentry could not register for the expedited one.
fn barrier() -> SysResult {
    if host::expedited() || host::global() {
        Ok(0)
    } else {
        // The host refused a barrier it had offered at boot.
        tracing::warn!("membarrier: the host's barrier failed");
        Err(Errno::ENOMEM)
    }
}
