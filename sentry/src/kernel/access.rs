//! Which tasks a task may inspect or change beyond signals: Linux's
//! ptrace access check (`__ptrace_may_access` with the capability
//! module's `cap_ptrace_access_check`), the one rule every caller asks:
//! ptrace's attach, process_vm_readv/writev, kcmp, pidfd_getfd and the
//! /proc files that show or change another process (mem, the cwd, root,
//! exe and fd links).
//!
//! The sandbox has no Yama or other security module, so a read and an
//! attach are judged alike; the mode still names which credentials count
//! (the filesystem ids for a /proc file, the real ones for a call), as
//! the caller's Linux counterpart asks.

use crate::caps::CAP_SYS_PTRACE;
use crate::kernel::credentials::Credentials;
use crate::kernel::task::Task;
use crate::kernel::TaskHandle;

/// Linux's PTRACE_MODE_{READ,ATTACH}_{FSCREDS,REALCREDS}.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PtraceMode {
    /// /proc links and fd directories.
    ReadFsCreds,
    /// kcmp.
    ReadRealCreds,
    /// /proc/PID/mem.
    AttachFsCreds,
    /// ptrace attach, process_vm_readv/writev, pidfd_getfd.
    AttachRealCreds,
}

impl PtraceMode {
    fn fscreds(self) -> bool {
        matches!(self, PtraceMode::ReadFsCreds | PtraceMode::AttachFsCreds)
    }
}

/// Whether a task of another process holding `caller` may reach one
/// holding `target`: its uid and gid (filesystem or real, by `mode`)
/// are all of the target's real, effective and saved ids, and the
/// target's permitted capabilities are within the caller's (effective
/// for FSCREDS, permitted otherwise) in the same user namespace; or the
/// caller holds CAP_SYS_PTRACE over the target's user namespace.
pub fn ptrace_allowed(caller: &Credentials, target: &Credentials, mode: PtraceMode) -> bool {
    let (uid, gid) = if mode.fscreds() {
        (caller.fsuid, caller.fsgid)
    } else {
        (caller.uid, caller.gid)
    };
    let same_user = [target.uid, target.euid, target.suid]
        .iter()
        .all(|u| *u == uid)
        && [target.gid, target.egid, target.sgid]
            .iter()
            .all(|g| *g == gid);
    let privileged = caller.capable_in(&target.user_ns.0, CAP_SYS_PTRACE);
    if !same_user && !privileged {
        return false;
    }
    let mine = if mode.fscreds() {
        caller.effective
    } else {
        caller.permitted
    };
    privileged || (caller.user_ns == target.user_ns && target.permitted.is_subset_of(mine))
}

impl Task {
    /// A thread of its own process always; another process's by
    /// [`ptrace_allowed`].
    pub fn may_access(&self, target: &TaskHandle, mode: PtraceMode) -> bool {
        if target.tg.tgid == self.tgid() {
            return true;
        }
        let theirs = target.creds.lock().unwrap().clone();
        ptrace_allowed(&self.creds(), &theirs, mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::{CapSet, CAP_SYS_ADMIN};

    #[test]
    fn only_the_same_user_or_cap_sys_ptrace_may_inspect_a_process() {
        let user = Credentials::of(1000, 1000, vec![]);
        let mut setuid = user.clone();
        setuid.euid = 0;
        let m = PtraceMode::AttachRealCreds;
        assert!(ptrace_allowed(&user, &user.clone(), m));
        assert!(
            !ptrace_allowed(&user, &setuid, m),
            "a set-uid target is another user's"
        );
        assert!(!ptrace_allowed(&user, &Credentials::root(), m));
        assert!(ptrace_allowed(&Credentials::root(), &user, m));
    }

    #[test]
    fn a_target_with_capabilities_the_caller_lacks_needs_cap_sys_ptrace() {
        let full = Credentials::root();
        let mut less = Credentials::root();
        let fewer = CapSet::FULL.without(CAP_SYS_PTRACE).without(CAP_SYS_ADMIN);
        less.effective = fewer;
        less.permitted = fewer;
        assert!(!ptrace_allowed(&less, &full, PtraceMode::AttachFsCreds));
        assert!(ptrace_allowed(&full, &less, PtraceMode::AttachFsCreds));
    }

    #[test]
    fn fscreds_judge_by_the_filesystem_ids() {
        let user = Credentials::of(1000, 1000, vec![]);
        let mut other = Credentials::of(1001, 1000, vec![]);
        other.fsuid = 1000;
        assert!(ptrace_allowed(&other, &user, PtraceMode::ReadFsCreds));
        assert!(!ptrace_allowed(&other, &user, PtraceMode::ReadRealCreds));
    }
}
