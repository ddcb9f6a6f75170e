//! Memory barriers across every host thread that runs application code,
//! for the application's membarrier(2).
//!
//! Application threads are host threads the Sentry does not schedule:
//! stub processes under ptrace (each its own host process, so its own
//! mm), vCPU threads of the Sentry under KVM, and the Sentry's own threads
//! when they copy to and from application memory. A barrier the
//! application asks for must reach all of them, and the host's
//! `MEMBARRIER_CMD_PRIVATE_EXPEDITED` reaches only the caller's own mm.
//! So the Sentry registers its process for the host's
//! `MEMBARRIER_CMD_GLOBAL_EXPEDITED` before it makes any stub: Linux keeps
//! the registration in the mm and a forked mm inherits it, so the master
//! stub forked from the Sentry, every stub cloned from the master and
//! every stub forked from the Sentry are registered too (stubs never
//! exec, which is what would drop it). A host `GLOBAL_EXPEDITED` then
//! interrupts every CPU running a thread of any of them and makes it
//! pass a full barrier before the call returns; a thread not running at
//! that moment passes one when it is next switched in. That is what every
//! command of the application promises: its GLOBAL ones name every thread
//! of the system, and every thread of the sandbox is one of these. When
//! the host would not register the Sentry, its `MEMBARRIER_CMD_GLOBAL`
//! (a barrier on every CPU of the host, slower) serves instead.

use std::sync::OnceLock;

/// `MEMBARRIER_CMD_*` (linux/membarrier.h; libc has no names for them).
pub const CMD_QUERY: i32 = 0;
pub const CMD_GLOBAL: i32 = 1 << 0;
pub const CMD_GLOBAL_EXPEDITED: i32 = 1 << 1;
pub const CMD_REGISTER_GLOBAL_EXPEDITED: i32 = 1 << 2;

/// What the host offers the Sentry, found once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostBarriers {
    /// The host has `MEMBARRIER_CMD_GLOBAL`.
    pub global: bool,
    /// The Sentry is registered for `MEMBARRIER_CMD_GLOBAL_EXPEDITED`, so
    /// every stub made after [`prepare`] is too.
    pub expedited: bool,
}

static HOST: OnceLock<HostBarriers> = OnceLock::new();

fn host_membarrier(cmd: i32) -> i64 {
    // SAFETY: membarrier takes no pointers; an unknown command fails
    // with EINVAL.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0, 0) }
}

/// Asks the host what it offers and registers the Sentry for expedited
/// global barriers. Runs before any stub or vCPU exists (`crate::new`)
/// and before the Sentry's seccomp filter (which allows only the barrier
/// calls themselves).
pub fn prepare() -> HostBarriers {
    *HOST.get_or_init(|| {
        let q = host_membarrier(CMD_QUERY);
        if q < 0 {
            return HostBarriers {
                global: false,
                expedited: false,
            };
        }
        let q = q as i32;
        let expedited = q & CMD_GLOBAL_EXPEDITED != 0
            && q & CMD_REGISTER_GLOBAL_EXPEDITED != 0
            && host_membarrier(CMD_REGISTER_GLOBAL_EXPEDITED) == 0;
        HostBarriers {
            global: q & CMD_GLOBAL != 0,
            expedited,
        }
    })
}

/// What [`prepare`] found (nothing before it ran).
pub fn host() -> HostBarriers {
    HOST.get().copied().unwrap_or(HostBarriers {
        global: false,
        expedited: false,
    })
}

/// A barrier on every CPU of the host (`MEMBARRIER_CMD_GLOBAL`): slow
/// (the host waits for a grace period), needs no registration.
pub fn global() -> bool {
    host().global && host_membarrier(CMD_GLOBAL) == 0
}

/// A barrier on every CPU now running a thread of the Sentry or of one of
/// its stubs (see the module's comment).
pub fn expedited() -> bool {
    host().expedited && host_membarrier(CMD_GLOBAL_EXPEDITED) == 0
}
