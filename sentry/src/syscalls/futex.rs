//! futex(2).

use std::time::{Instant, SystemTime};

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::usermem::UserPtr;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_futex,
        "futex",
        Support::Partial(
            "PI futexes keep Linux's owner-word protocol (FUTEX_WAITERS, FUTEX_OWNER_DIED, \
             hand-over on unlock and owner exit) but lend no priority; waiters are served \
             in arrival order",
        ),
        sys_futex,
    );
}

/// Converts a futex timeout into a deadline: relative for FUTEX_WAIT,
/// absolute (CLOCK_MONOTONIC, or CLOCK_REALTIME with the flag) for the
/// bitset variant.
fn deadline(
    t: &Task,
    ts_addr: UserPtr<libc::timespec>,
    absolute: bool,
    realtime: bool,
) -> Result<Option<Instant>, Errno> {
    if ts_addr.is_null() {
        return Ok(None);
    }
    let ts: libc::timespec = t.copy_in(ts_addr)?;
    let d = crate::kernel::deadline::duration_of(&ts)?;
    if !absolute {
        return Ok(Some(crate::kernel::deadline::after(d)));
    }
    let now = if realtime {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
    } else {
        crate::syscalls::time::monotonic_now()
    };
    Ok(Some(crate::kernel::deadline::at(d, now)))
}

fn sys_futex(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let addr = a.addr(0).get();
    let op = a.int(1);
    let val = a.uint(2);
    let private = op & libc::FUTEX_PRIVATE_FLAG != 0;
    let realtime = op & libc::FUTEX_CLOCK_REALTIME != 0;
    let cmd = op & !(libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME);
    let k = t.kernel.clone();
    let clock_rt_allowed = matches!(
        cmd,
        libc::FUTEX_WAIT
            | libc::FUTEX_WAIT_BITSET
            | libc::FUTEX_WAIT_REQUEUE_PI
            | libc::FUTEX_LOCK_PI2
    );
    if realtime && !clock_rt_allowed {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        libc::FUTEX_WAIT => {
            let d = deadline(t, a.ptr(3), false, false)?;
            k.futexes.wait(t, addr, val, d, u32::MAX)
        }
        libc::FUTEX_WAIT_BITSET => {
            let d = deadline(t, a.ptr(3), true, realtime)?;
            k.futexes.wait(t, addr, val, d, a.uint(5))
        }
        libc::FUTEX_WAKE => k.futexes.wake(t, addr, val, u32::MAX, private),
        libc::FUTEX_WAKE_BITSET => k.futexes.wake(t, addr, val, a.uint(5), private),
        libc::FUTEX_REQUEUE => k
            .futexes
            .requeue(t, addr, a.addr(4).get(), val, a.uint(3), None),
        libc::FUTEX_CMP_REQUEUE => {
            k.futexes
                .requeue(t, addr, a.addr(4).get(), val, a.uint(3), Some(a.uint(5)))
        }
        libc::FUTEX_WAKE_OP => {
            k.futexes
                .wake_op(t, addr, a.addr(4).get(), val, a.uint(3), a.uint(5))
        }
        // LOCK_PI's timeout is absolute on CLOCK_REALTIME; LOCK_PI2's on
        // CLOCK_MONOTONIC unless FUTEX_CLOCK_REALTIME says otherwise.
        libc::FUTEX_LOCK_PI => {
            let d = deadline(t, a.ptr(3), true, true)?;
            k.futexes.lock_pi(t, addr, d, false)
        }
        libc::FUTEX_LOCK_PI2 => {
            let d = deadline(t, a.ptr(3), true, realtime)?;
            k.futexes.lock_pi(t, addr, d, false)
        }
        libc::FUTEX_TRYLOCK_PI => k.futexes.lock_pi(t, addr, None, true),
        libc::FUTEX_UNLOCK_PI => k.futexes.unlock_pi(t, addr),
        libc::FUTEX_WAIT_REQUEUE_PI => {
            let d = deadline(t, a.ptr(3), true, realtime)?;
            k.futexes.wait_requeue_pi(t, addr, val, d, a.addr(4).get())
        }
        libc::FUTEX_CMP_REQUEUE_PI => {
            k.futexes
                .cmp_requeue_pi(t, addr, a.addr(4).get(), val, a.uint(3), a.uint(5))
        }
        other => {
            k.report_unsupported(libc::SYS_futex as usize, other as u64, "futex op");
            Err(Errno::ENOSYS)
        }
    }
}
