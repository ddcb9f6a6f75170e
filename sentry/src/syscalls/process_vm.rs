//! process_vm_readv and process_vm_writev: copies between the caller's
//! memory and another process's, for a caller that may inspect it.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::access::PtraceMode;
use crate::kernel::task::Task;
use crate::mm::MemoryManager;

const PAGE: u64 = 4096;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_process_vm_readv,
        "process_vm_readv",
        Support::Full,
        sys_process_vm_readv,
    );
    t.add(
        libc::SYS_process_vm_writev,
        "process_vm_writev",
        Support::Full,
        sys_process_vm_writev,
    );
}

fn sys_process_vm_readv(t: &mut Task, a: &SyscallArgs) -> SysResult {
    process_vm(t, a, false)
}

fn sys_process_vm_writev(t: &mut Task, a: &SyscallArgs) -> SysResult {
    process_vm(t, a, true)
}

/// Linux's order: flags; the local vector (EINVAL, EFAULT), and nothing
/// more if it asks for no bytes; the remote vector; the process (ESRCH)
/// and the right to it (EPERM); then the copy.
fn process_vm(t: &mut Task, a: &SyscallArgs, write: bool) -> SysResult {
    if a.ulong(5) != 0 {
        return Err(Errno::EINVAL);
    }
    let local = t.read_iovecs(a.ptr(1), a.ulong(2))?;
    if local.iter().all(|(_, len)| *len == 0) {
        return Ok(0);
    }
    let remote = t.read_iovecs(a.ptr(3), a.ulong(4))?;
    let target = t.task_by_vpid(a.int(0)).ok_or(Errno::ESRCH)?;
    if !t.may_access(&target, PtraceMode::AttachRealCreds) {
        return Err(Errno::EPERM);
    }
    let other = target.view.lock().unwrap().mm.upgrade();
    let other = other.ok_or(Errno::ESRCH)?;
    let (from, to) = if write {
        ((&t.mm, local), (&other, remote))
    } else {
        ((&other, remote), (&t.mm, local))
    };
    let done = copy(from, to);
    if done == 0 {
        return Err(Errno::EFAULT);
    }
    Ok(done as u64)
}

/// Copies from one vector of ranges to the other, a page (of the source
/// or of the destination, whichever boundary comes first) at a time, and
/// stops at the first byte either side cannot reach: what was copied
/// before it counts, as Linux's page-by-page transfer does.
fn copy(
    (src_mm, src): (&Arc<MemoryManager>, Vec<(u64, usize)>),
    (dst_mm, dst): (&Arc<MemoryManager>, Vec<(u64, usize)>),
) -> usize {
    let mut buf = vec![0u8; PAGE as usize];
    let mut dst = dst.into_iter().filter(|(_, len)| *len > 0);
    let mut cur = dst.next();
    let mut done = 0usize;
    for (mut s, mut left) in src {
        while left > 0 {
            let Some((d, dleft)) = cur.as_mut() else {
                return done;
            };
            let to_page = |at: u64| (PAGE - at % PAGE) as usize;
            let n = left.min(*dleft).min(to_page(s)).min(to_page(*d));
            if src_mm.read(s, &mut buf[..n]).is_err() || dst_mm.write(*d, &buf[..n]).is_err() {
                return done;
            }
            done += n;
            s += n as u64;
            left -= n;
            *d += n as u64;
            *dleft -= n;
            if *dleft == 0 {
                cur = dst.next();
            }
        }
    }
    done
}
