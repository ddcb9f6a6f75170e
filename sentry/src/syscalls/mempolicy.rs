//! NUMA calls: set_mempolicy, get_mempolicy, mbind, migrate_pages,
//! move_pages, answered as Linux answers on a machine of one node (node
//! 0; `mm/policy.rs` keeps what was set).

use super::{Support, SyscallArgs, Table};
use crate::caps::CAP_SYS_NICE;
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::mm::policy::NODES_ALLOWED;
use crate::mm::MemPolicy;
use crate::usermem::UserAddr;

pub fn register(t: &mut Table) {
    let one_node = "one memory node (node 0): policies are kept and reported, memory is \
                    where it is";
    t.add(
        libc::SYS_set_mempolicy,
        "set_mempolicy",
        Support::Partial(one_node),
        sys_set_mempolicy,
    );
    t.add(
        libc::SYS_get_mempolicy,
        "get_mempolicy",
        Support::Partial(one_node),
        sys_get_mempolicy,
    );
    t.add(
        libc::SYS_mbind,
        "mbind",
        Support::Partial(one_node),
        sys_mbind,
    );
    t.add(
        libc::SYS_migrate_pages,
        "migrate_pages",
        Support::Partial("one memory node: nothing to move"),
        sys_migrate_pages,
    );
    t.add(
        libc::SYS_move_pages,
        "move_pages",
        Support::Partial(
            "one memory node: every mapped page is on node 0 (Linux answers ENOENT for a page \
             never touched)",
        ),
        sys_move_pages,
    );
}

/// Node numbers Linux's nodemask holds (CONFIG_NODES_SHIFT 10, the
/// distributions' x86-64 setting): a mask may name no node above.
const MAX_NUMNODES: u64 = 1024;
/// The most bits a node mask argument may have (Linux: a page of them).
const MAX_MASK_BITS: u64 = 4096 * 8;
const MPOL_F_NODE: u64 = 1 << 0;
const MPOL_F_ADDR: u64 = 1 << 1;
const MPOL_F_MEMS_ALLOWED: u64 = 1 << 2;
const MPOL_MF_STRICT: u64 = 1 << 0;
const MPOL_MF_MOVE: u64 = 1 << 1;
const MPOL_MF_MOVE_ALL: u64 = 1 << 2;

/// A node mask argument of `maxnode` bits, as Linux's get_nodes reads it
/// (one bit fewer than `maxnode` says: an old off-by-one kept for the
/// ABI); the words of the first MAX_NUMNODES bits.
fn read_nodes(t: &Task, mask: UserAddr, maxnode: u64) -> Result<Vec<u64>, Errno> {
    let bits = maxnode.wrapping_sub(1);
    if bits == 0 || mask.is_null() {
        return Ok(Vec::new());
    }
    if bits > MAX_MASK_BITS {
        return Err(Errno::EINVAL);
    }
    let bytes = t.read_bytes(mask.get(), bits.div_ceil(64) as usize * 8)?;
    let mut words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default()))
        .collect();
    if !bits.is_multiple_of(64) {
        if let Some(last) = words.last_mut() {
            *last &= (1u64 << (bits % 64)) - 1;
        }
    }
    // Nodes beyond what the kernel can hold must not be asked for.
    let kept = (MAX_NUMNODES / 64) as usize;
    if words.iter().skip(kept).any(|w| *w != 0) {
        return Err(Errno::EINVAL);
    }
    words.truncate(kept);
    Ok(words)
}

/// Writes node mask `nodes` to a `maxnode`-bit argument as Linux's
/// copy_nodes_to_user does: one word of nodes there are, zeros after.
fn write_nodes(t: &Task, mask: UserAddr, maxnode: u64, nodes: u64) -> Result<(), Errno> {
    let copy = maxnode.saturating_sub(1).div_ceil(64) * 8;
    if copy > 8 {
        if copy > MAX_MASK_BITS / 8 {
            return Err(Errno::EINVAL);
        }
        t.write_bytes(mask.get() + 8, &vec![0u8; copy as usize - 8])?;
    }
    if copy > 0 {
        t.write_bytes(mask.get(), &nodes.to_ne_bytes()[..copy.min(8) as usize])?;
    }
    Ok(())
}

fn sys_set_mempolicy(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let nodes = read_nodes(t, a.addr(1), a.ulong(2))?;
    let policy = MemPolicy::new(a.int(0), &nodes)?;
    t.handle.sched.lock().unwrap().mempolicy = policy;
    Ok(0)
}

fn sys_get_mempolicy(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (mode_ptr, mask, maxnode, addr, flags) = (
        a.ptr::<i32>(0),
        a.addr(1),
        a.ulong(2),
        a.ulong(3),
        a.ulong(4),
    );
    // One node: a mask of at least one bit holds it.
    if !mask.is_null() && maxnode < 1 {
        return Err(Errno::EINVAL);
    }
    if flags & !(MPOL_F_NODE | MPOL_F_ADDR | MPOL_F_MEMS_ALLOWED) != 0 {
        return Err(Errno::EINVAL);
    }
    let (mode, nodes) = if flags & MPOL_F_MEMS_ALLOWED != 0 {
        if flags & (MPOL_F_NODE | MPOL_F_ADDR) != 0 {
            return Err(Errno::EINVAL);
        }
        (0, NODES_ALLOWED)
    } else {
        let policy = if flags & MPOL_F_ADDR != 0 {
            let (policy, readable) = t.mm.policy_at(addr)?;
            // MPOL_F_NODE with an address faults the page in to find its
            // node: a page that cannot be read has none.
            if flags & MPOL_F_NODE != 0 && !readable {
                return Err(Errno::EFAULT);
            }
            policy
        } else if addr != 0 {
            return Err(Errno::EINVAL);
        } else {
            t.handle.sched.lock().unwrap().mempolicy
        };
        let mode = if flags & MPOL_F_NODE == 0 {
            policy.reported_mode()
        } else if flags & MPOL_F_ADDR != 0 || policy.interleaves() {
            // The page's node, or the next node interleaving uses:
            // node 0 either way.
            0
        } else {
            return Err(Errno::EINVAL);
        };
        (mode, policy.reported_nodes())
    };
    if !mode_ptr.is_null() {
        t.copy_out(mode_ptr, &mode)?;
    }
    if !mask.is_null() {
        write_nodes(t, mask, maxnode, nodes)?;
    }
    Ok(0)
}

fn sys_mbind(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (addr, len, mode, flags) = (a.ulong(0), a.ulong(1), a.int(2), a.uint(5) as u64);
    // Mode and node mask first, as Linux's kernel_mbind.
    let nodes = read_nodes(t, a.addr(3), a.ulong(4))?;
    let policy = MemPolicy::new(mode, &nodes);
    if flags & !(MPOL_MF_STRICT | MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && !t.creds().capable(CAP_SYS_NICE) {
        return Err(Errno::EPERM);
    }
    if !addr.is_multiple_of(crate::mm::PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    t.mm.set_policy(addr, len, &policy?).map(|_| 0)
}

/// The process `pid` names (0: the caller), ESRCH if none.
fn check_pid(t: &Task, pid: i32) -> Result<(), Errno> {
    if pid != 0 && t.task_by_vpid(pid).is_none() {
        return Err(Errno::ESRCH);
    }
    Ok(())
}

fn sys_migrate_pages(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let maxnode = a.ulong(1);
    read_nodes(t, a.addr(2), maxnode)?;
    let new = read_nodes(t, a.addr(3), maxnode)?;
    check_pid(t, a.int(0))?;
    let beyond = new.iter().enumerate().any(|(i, w)| {
        let allowed = if i == 0 { NODES_ALLOWED } else { 0 };
        w & !allowed != 0
    });
    if beyond && !t.creds().capable(CAP_SYS_NICE) {
        return Err(Errno::EPERM);
    }
    if new.first().copied().unwrap_or(0) & NODES_ALLOWED == 0 {
        return Err(Errno::EINVAL);
    }
    // Every page is on the one node already: none left unmoved.
    Ok(0)
}

fn sys_move_pages(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (count, pages, nodes, status, flags) = (
        a.ulong(1),
        a.ptr::<u64>(2),
        a.ptr::<i32>(3),
        a.ptr::<i32>(4),
        a.int(5) as u64,
    );
    if flags & !(MPOL_MF_MOVE | MPOL_MF_MOVE_ALL) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MPOL_MF_MOVE_ALL != 0 && !t.creds().capable(CAP_SYS_NICE) {
        return Err(Errno::EPERM);
    }
    check_pid(t, a.int(0))?;
    // Page by page, as Linux walks the arrays.
    for i in 0..count {
        let page = t.copy_in(pages.index(i).ok_or(Errno::EFAULT)?)?;
        if !nodes.is_null() {
            let node = t.copy_in(nodes.index(i).ok_or(Errno::EFAULT)?)?;
            if node != 0 {
                // No such node, or one without memory.
                return Err(Errno::ENODEV);
            }
        }
        let mapped = t.mm.is_mapped(crate::mm::page_round_down(page), 1);
        let st: i32 = if mapped { 0 } else { -libc::EFAULT };
        t.copy_out(status.index(i).ok_or(Errno::EFAULT)?, &st)?;
    }
    Ok(0)
}
