//! seccomp(2) and prctl's PR_SET_SECCOMP / PR_GET_SECCOMP: the
//! application's own filters, which the Sentry runs before each call
//! (`kernel/seccomp/`).

use super::{Support, SyscallArgs, Table};
use crate::caps::CAP_SYS_ADMIN;
use crate::errno::{Errno, SysResult};
use crate::kernel::seccomp::{self, bpf, FilterFlags};
use crate::kernel::task::Task;
use crate::usermem::{Pod, UserAddr};

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_seccomp,
        "seccomp",
        Support::Partial(
            "enforced by the Sentry; no user notification (NEW_LISTENER is EINVAL, \
             GET_ACTION_AVAIL reports USER_NOTIF unavailable and a filter returning it gets \
             ENOSYS); RET_TRACE gives ENOSYS (no tracer can ask for it)",
        ),
        sys_seccomp,
    );
}

/// `struct sock_fprog` as the application passes it: a length, then
/// (after padding) a pointer to the instructions.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Fprog {
    len: u16,
    _pad: [u16; 3],
    filter: u64,
}
// SAFETY: integers only, any bit pattern is valid.
unsafe impl Pod for Fprog {}

/// `struct seccomp_notif_sizes`: what SECCOMP_GET_NOTIF_SIZES reports.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct NotifSizes {
    notif: u16,
    resp: u16,
    data: u16,
}
// SAFETY: integers only, any bit pattern is valid.
unsafe impl Pod for NotifSizes {}

const KNOWN_FLAGS: u64 = libc::SECCOMP_FILTER_FLAG_TSYNC
    | libc::SECCOMP_FILTER_FLAG_LOG
    | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
    | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
    | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
    | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;

fn sys_seccomp(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (flags, uargs) = (a.uint(1) as u64, a.addr(2));
    match a.uint(0) {
        libc::SECCOMP_SET_MODE_STRICT => {
            if flags != 0 || !uargs.is_null() {
                return Err(Errno::EINVAL);
            }
            seccomp::set_strict(t).map(|_| 0)
        }
        libc::SECCOMP_SET_MODE_FILTER => set_filter(t, flags, uargs),
        libc::SECCOMP_GET_ACTION_AVAIL => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            let action: u32 = t.copy_in(uargs)?;
            if seccomp::action_available(action) {
                Ok(0)
            } else {
                Err(Errno::EOPNOTSUPP)
            }
        }
        libc::SECCOMP_GET_NOTIF_SIZES => {
            if flags != 0 {
                return Err(Errno::EINVAL);
            }
            let sizes = NotifSizes {
                notif: std::mem::size_of::<libc::seccomp_notif>() as u16,
                resp: std::mem::size_of::<libc::seccomp_notif_resp>() as u16,
                data: std::mem::size_of::<libc::seccomp_data>() as u16,
            };
            t.copy_out(uargs, &sizes).map(|_| 0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// SECCOMP_SET_MODE_FILTER, its checks in Linux's order: flags, the
/// program's header (EFAULT, then EINVAL for its length), the privilege
/// (no_new_privs or CAP_SYS_ADMIN, else EACCES), the instructions
/// (EFAULT, then EINVAL from the check).
fn set_filter(t: &mut Task, flags: u64, uargs: UserAddr) -> SysResult {
    if flags & !KNOWN_FLAGS != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
        // No listener can be served: refuse it as a kernel without it does.
        t.kernel.report_unsupported(
            libc::SYS_seccomp as usize,
            libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
            "seccomp user notification",
        );
        return Err(Errno::EINVAL);
    }
    if flags & libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV != 0 {
        return Err(Errno::EINVAL);
    }
    let fprog: Fprog = t.copy_in(uargs)?;
    let len = usize::from(fprog.len);
    if len == 0 || len > bpf::MAX_INSNS {
        return Err(Errno::EINVAL);
    }
    {
        let c = t.creds();
        if !c.no_new_privs && !c.capable(CAP_SYS_ADMIN) {
            return Err(Errno::EACCES);
        }
    }
    let size = std::mem::size_of::<bpf::Insn>();
    let raw = t.read_bytes(fprog.filter, len * size)?;
    let prog: Vec<bpf::Insn> = raw
        .chunks_exact(size)
        .map(|c| bpf::Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    bpf::check(&prog)?;
    let ff = FilterFlags {
        tsync: flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0,
        tsync_esrch: flags & libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH != 0,
        log: flags & libc::SECCOMP_FILTER_FLAG_LOG != 0,
    };
    // SPEC_ALLOW: the Sentry sets no speculation mitigation per thread, so
    // there is nothing to leave off.
    seccomp::attach(t, prog, ff)
}

/// prctl(PR_SET_SECCOMP, mode, filter) and prctl(PR_GET_SECCOMP).
pub(super) fn prctl_seccomp(t: &mut Task, a: &SyscallArgs) -> SysResult {
    match a.int(0) {
        libc::PR_GET_SECCOMP => Ok(u64::from(t.handle.seccomp.mode().number())),
        _ => match a.ulong(1) {
            m if m == u64::from(libc::SECCOMP_MODE_STRICT) => seccomp::set_strict(t).map(|_| 0),
            m if m == u64::from(libc::SECCOMP_MODE_FILTER) => set_filter(t, 0, a.addr(2)),
            _ => Err(Errno::EINVAL),
        },
    }
}
