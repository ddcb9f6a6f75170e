//! unshare(2) and setns(2). The rules are the kernel's
//! (`kernel/namespaces/unshare.rs`).

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::namespaces::nsfs::NsFile;
use crate::kernel::namespaces::unshare::NS_FLAGS;
use crate::kernel::namespaces::NsRef;
use crate::kernel::pidfd::PidFd;
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_unshare,
        "unshare",
        Support::Partial(
            "UTS, IPC, mount, user, network and PID namespaces, served by the Sentry; \
             CLONE_NEWCGROUP and CLONE_NEWTIME are EINVAL",
        ),
        sys_unshare,
    );
    t.add(
        libc::SYS_setns,
        "setns",
        Support::Partial(
            "namespace files of /proc/PID/ns and pidfds; a pidfd's namespaces are \
             joined one after another, not at once",
        ),
        sys_setns,
    );
}

fn sys_unshare(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.unshare(a.ulong(0)).map(|_| 0)
}

/// The order a pidfd's namespaces are joined in: the user namespace first,
/// so that its capabilities count for the rest (as Linux does).
const PIDFD_ORDER: [&[u8]; 6] = [b"user", b"mnt", b"uts", b"ipc", b"net", b"pid"];

fn sys_setns(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let file = t.fds.get(a.int(0))?;
    let nstype = a.int(1);
    if let Some(f) = NsFile::of(&file) {
        if nstype != 0 && nstype != f.ns.flag() {
            return Err(Errno::EINVAL);
        }
        return t.setns_one(f.ns.clone()).map(|_| 0);
    }
    let Ok(pidfd) = PidFd::of(&file) else {
        return Err(Errno::EINVAL);
    };
    // A pidfd takes a mask of the kinds to join: at least one, only
    // kinds Linux knows.
    let all = NS_FLAGS | (libc::CLONE_NEWPID | libc::CLONE_NEWCGROUP | libc::CLONE_NEWTIME) as u64;
    let mask = nstype as u32 as u64;
    if mask == 0 || mask & !all != 0 {
        return Err(Errno::EINVAL);
    }
    if mask & !NS_FLAGS != 0 {
        // Kinds the Sentry does not give: none can be joined.
        return Err(Errno::EINVAL);
    }
    let leader = pidfd
        .group()
        .inner
        .lock()
        .unwrap()
        .tasks
        .first()
        .cloned()
        .ok_or(Errno::ESRCH)?;
    let ns = leader.ns.lock().unwrap().clone();
    let user = leader.creds.lock().unwrap().user_ns.0.clone();
    for name in PIDFD_ORDER {
        let Some(target) = ns.get(name, &user, &pidfd.group().pidns) else {
            continue;
        };
        if mask & target.flag() as u64 == 0 {
            continue;
        }
        // Joining one's own user namespace is EINVAL for a namespace
        // file, and skipped for a pidfd.
        if let NsRef::User(u) = &target {
            if std::sync::Arc::ptr_eq(u, &t.creds().user_ns.0) {
                continue;
            }
        }
        t.setns_one(target)?;
    }
    Ok(0)
}
