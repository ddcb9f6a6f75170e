//! NUMA memory policies (Linux's mm/mempolicy.c) on a machine of one
//! node: the sandbox shows one memory node, node 0, so every policy
//! places memory there, and what is kept is what the application set,
//! for get_mempolicy to report back: a thread's policy (set_mempolicy,
//! in `kernel::SchedAttrs`) and each mapping's (mbind, on the VMA).

use super::{page_round_up, MemoryManager, PAGE_SIZE};
use crate::errno::Errno;

/// `MPOL_*` modes (linux/mempolicy.h).
pub const MPOL_DEFAULT: u16 = 0;
pub const MPOL_PREFERRED: u16 = 1;
pub const MPOL_BIND: u16 = 2;
pub const MPOL_INTERLEAVE: u16 = 3;
pub const MPOL_LOCAL: u16 = 4;
pub const MPOL_PREFERRED_MANY: u16 = 5;
pub const MPOL_WEIGHTED_INTERLEAVE: u16 = 6;
/// One past the last mode.
const MPOL_MAX: u16 = 7;
/// Mode flags, in the mode argument's high bits.
pub const MPOL_F_STATIC_NODES: u16 = 1 << 15;
pub const MPOL_F_RELATIVE_NODES: u16 = 1 << 14;
pub const MPOL_F_NUMA_BALANCING: u16 = 1 << 13;
const MPOL_MODE_FLAGS: u16 = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING;

/// The nodes with memory: node 0 alone.
pub const NODES_ALLOWED: u64 = 1;

/// A policy as the application set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemPolicy {
    /// The mode (`MPOL_DEFAULT` for none) with its flags.
    pub mode: u16,
    /// The nodes it uses (a subset of [`NODES_ALLOWED`]).
    pub nodes: u64,
    /// The node mask as given (its first word: Linux reports no more on
    /// a machine of one node), for a policy with MPOL_F_STATIC_NODES or
    /// MPOL_F_RELATIVE_NODES: Linux reports that one back.
    pub user_nodes: Option<u64>,
}

impl MemPolicy {
    /// The policy set_mempolicy or mbind make of `mode` (flags included)
    /// and the node mask `given` (one bit per node, as read; empty when
    /// the application passed none): Linux's sanitize_mpol_flags,
    /// mpol_new and mpol_set_nodemask. `None` is MPOL_DEFAULT.
    pub fn new(mode: i32, given: &[u64]) -> Result<MemPolicy, Errno> {
        let flags = (mode as u32 & u32::from(MPOL_MODE_FLAGS)) as u16;
        let m = (mode as u32 & !u32::from(MPOL_MODE_FLAGS)) as u16;
        if u32::from(m) != mode as u32 & !u32::from(MPOL_MODE_FLAGS) || m >= MPOL_MAX {
            return Err(Errno::EINVAL);
        }
        if flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MPOL_F_NUMA_BALANCING != 0 && m != MPOL_BIND && m != MPOL_PREFERRED_MANY {
            return Err(Errno::EINVAL);
        }
        let empty = given.iter().all(|w| *w == 0);
        let static_or_relative = flags & (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES) != 0;
        let mode = match m {
            MPOL_DEFAULT if empty => return Ok(MemPolicy::default()),
            MPOL_DEFAULT => return Err(Errno::EINVAL),
            MPOL_PREFERRED if empty && static_or_relative => return Err(Errno::EINVAL),
            // A preference for no node is local allocation.
            MPOL_PREFERRED if empty => MPOL_LOCAL,
            MPOL_LOCAL if !empty || static_or_relative => return Err(Errno::EINVAL),
            MPOL_LOCAL => MPOL_LOCAL,
            _ if empty => return Err(Errno::EINVAL),
            m => m,
        };
        let nodes = if mode == MPOL_LOCAL {
            0
        } else if flags & MPOL_F_RELATIVE_NODES != 0 {
            // Relative node numbers fold onto the allowed nodes: any
            // node of a non-empty mask is the one node there is.
            NODES_ALLOWED
        } else {
            given.first().copied().unwrap_or(0) & NODES_ALLOWED
        };
        if mode != MPOL_LOCAL && nodes == 0 {
            // None of the nodes asked for has memory.
            return Err(Errno::EINVAL);
        }
        Ok(MemPolicy {
            mode: mode | flags,
            nodes,
            user_nodes: static_or_relative.then(|| given.first().copied().unwrap_or(0)),
        })
    }

    /// What get_mempolicy reports as the mode: MPOL_DEFAULT for none,
    /// else the mode with its flags.
    pub fn reported_mode(&self) -> i32 {
        i32::from(self.mode)
    }

    /// What get_mempolicy reports as the node mask (one bit per node):
    /// the mask as given for static or relative nodes, else the nodes
    /// used (none for local allocation and for the default policy).
    pub fn reported_nodes(&self) -> u64 {
        self.user_nodes.unwrap_or(self.nodes)
    }

    /// Whether it interleaves (get_mempolicy's MPOL_F_NODE names the next
    /// node then).
    pub fn interleaves(&self) -> bool {
        matches!(
            self.mode & !MPOL_MODE_FLAGS,
            MPOL_INTERLEAVE | MPOL_WEIGHTED_INTERLEAVE
        )
    }
}

impl MemoryManager {
    /// mbind(2)'s change: `policy` on every page of `[addr, addr+len)`
    /// (`addr` page-aligned). EFAULT if any page of it is unmapped.
    pub fn set_policy(&self, addr: u64, len: u64, policy: &MemPolicy) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(Errno::EINVAL);
        }
        let len = page_round_up(len).ok_or(Errno::EINVAL)?;
        let end = addr.checked_add(len).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Ok(());
        }
        let mut inner = self.inner_mut();
        let mut pos = addr;
        for (_, v) in inner.vmas.range(..end) {
            if v.end <= pos {
                continue;
            }
            if v.start > pos {
                break;
            }
            pos = v.end;
        }
        if pos < end {
            return Err(Errno::EFAULT);
        }
        Self::split_at(&mut inner, addr);
        Self::split_at(&mut inner, end);
        for (_, v) in inner.vmas.range_mut(addr..end) {
            v.policy = *policy;
        }
        Ok(())
    }

    /// The policy of the mapping at `addr` and whether its page there
    /// can be read (get_mempolicy's MPOL_F_ADDR); EFAULT if unmapped.
    pub fn policy_at(&self, addr: u64) -> Result<(MemPolicy, bool), Errno> {
        let inner = self.inner();
        let (_, v) = Self::vma_at(&inner, addr).ok_or(Errno::EFAULT)?;
        Ok((v.policy, v.prot & libc::PROT_READ != 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_on_one_node_answer_as_linux() {
        let p = |mode: u16, mask: u64| MemPolicy::new(i32::from(mode), &[mask]);
        assert_eq!(p(MPOL_DEFAULT, 0), Ok(MemPolicy::default()));
        assert_eq!(p(MPOL_DEFAULT, 1), Err(Errno::EINVAL));
        assert_eq!(
            p(MPOL_BIND, 1).map(|p| (p.mode, p.nodes)),
            Ok((MPOL_BIND, 1))
        );
        // Node 1 has no memory; nodes 0 and 1 are node 0.
        assert_eq!(p(MPOL_BIND, 2), Err(Errno::EINVAL));
        assert_eq!(p(MPOL_BIND, 3).map(|p| p.nodes), Ok(1));
        assert_eq!(p(MPOL_BIND, 0), Err(Errno::EINVAL));
        assert_eq!(p(MPOL_PREFERRED, 0).map(|p| p.mode), Ok(MPOL_LOCAL));
        assert_eq!(p(MPOL_LOCAL, 1), Err(Errno::EINVAL));
        assert_eq!(p(MPOL_MAX, 1), Err(Errno::EINVAL));
        let st = p(MPOL_BIND | MPOL_F_STATIC_NODES, 3).unwrap();
        assert_eq!(st.reported_nodes(), 3);
        assert_eq!(st.reported_mode(), 0x8002);
        assert_eq!(
            p(MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, 1),
            Err(Errno::EINVAL)
        );
    }
}
