//! Which tasks a task may inspect or change beyond signals: Linux's
//! ptrace access check, as kcmp, pidfd_getfd and process_vm_readv/writev
//! ask it (with the caller's real credentials).

use crate::kernel::task::Task;
use crate::kernel::TaskHandle;

impl Task {
    /// A thread of its own process always; another process's if the
    /// credentials allow it ([`crate::kernel::Credentials::may_ptrace`]).
    pub fn may_access(&self, target: &TaskHandle) -> bool {
        if target.tg.tgid == self.tgid() {
            return true;
        }
        let theirs = target.creds.lock().unwrap().clone();
        self.creds().may_ptrace(&theirs)
    }
}
