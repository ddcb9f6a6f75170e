//! userfaultfd(2).

use super::{Support, SyscallArgs, Table};
use crate::caps::CAP_SYS_PTRACE;
use crate::errno::{Errno, SysResult};
use crate::fsimpl::userfaultfd::{
    check_flags, new_file, UFFD_USER_MODE_ONLY, UNPRIVILEGED_USERFAULTFD,
};
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_userfaultfd,
        "userfaultfd",
        Support::Partial(
            "missing-page faults of private anonymous memory (UFFDIO_REGISTER_MODE_MISSING), \
             with UFFD_FEATURE_THREAD_ID, EXACT_ADDRESS and SIGBUS; no EVENT_* features, \
             write-protect, minor faults, UFFDIO_MOVE/CONTINUE/POISON, shmem or hugetlbfs; \
             the WRITE flag is reported for the Sentry's own accesses only; mremap of a \
             registered range drops its registration; poll gives no EPOLLERR for a \
             descriptor without O_NONBLOCK",
        ),
        sys_userfaultfd,
    );
}

fn sys_userfaultfd(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.int(0);
    // Linux checks the permission before the flags.
    let allowed = flags & UFFD_USER_MODE_ONLY != 0
        || UNPRIVILEGED_USERFAULTFD
        || t.creds().capable(CAP_SYS_PTRACE);
    if !allowed {
        return Err(Errno::EPERM);
    }
    check_flags(flags)?;
    let f = new_file(&t.mm, flags);
    Ok(t.fds.install(f, flags & libc::O_CLOEXEC != 0)? as u64)
}
