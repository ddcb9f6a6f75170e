//! memfd_create.

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::memfd::Sealing;
use crate::kernel::task::Task;
use crate::vfs::Owner;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_memfd_create,
        "memfd_create",
        Support::Partial("MFD_HUGETLB is not supported"),
        sys_memfd_create,
    );
}

/// Linux: the name is at most 249 bytes ("memfd:" + name fits NAME_MAX).
const MAX_NAME: usize = 249;
const MFD_EXEC: u32 = 0x10;
const MFD_NOEXEC_SEAL: u32 = 0x8;

fn sys_memfd_create(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.uint(1);
    let known = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL | MFD_EXEC;
    if flags & !known != 0 {
        if flags & libc::MFD_HUGETLB != 0 {
            t.kernel.report_unsupported(
                libc::SYS_memfd_create as usize,
                flags as u64,
                "memfd_create MFD_HUGETLB",
            );
        }
        return Err(Errno::EINVAL);
    }
    let name = t.read_cstring(a.addr(0), MAX_NAME).map_err(|e| {
        if e == Errno::ENAMETOOLONG {
            Errno::EINVAL
        } else {
            e
        }
    })?;
    if flags & MFD_EXEC != 0 && flags & MFD_NOEXEC_SEAL != 0 {
        return Err(Errno::EINVAL);
    }
    let sealing = if flags & MFD_NOEXEC_SEAL != 0 {
        Sealing::NoExec
    } else if flags & libc::MFD_ALLOW_SEALING != 0 {
        Sealing::Allowed
    } else {
        Sealing::None
    };
    let c = t.creds();
    let f = crate::fsimpl::memfd::create(
        &t.kernel.vfs,
        &t.kernel.memfile,
        &name,
        Owner {
            uid: c.euid,
            gid: c.egid,
        },
        0,
        sealing,
    )?;
    Ok(t.fds.install(f, flags & libc::MFD_CLOEXEC != 0)? as u64)
}
