//! The snapshot of a task's state a platform may answer calls from
//! without leaving the application (`platform::SERVED`: getpid, gettid,
//! getppid, getuid, geteuid, getgid, getegid; under KVM, the vCPU's
//! answers page). docs/architecture.md, "Calls answered in the guest",
//! states the invariant; in short:
//!
//! * the snapshot is taken before every switch, so what the task changes
//!   itself (set*id, execve) is in it before the task runs again;
//! * there is none while the Sentry must see each call: an application
//!   seccomp filter, a ptrace tracer, `--strace`;
//! * whoever changes that state for another task (seccomp's TSYNC, a
//!   reparent) revokes the other task's snapshot before going on
//!   ([`TaskHandle::revoke_guest_answers`]).

use std::sync::Arc;

use platform::GuestAnswers;

use crate::kernel::thread_group::ThreadGroup;
use crate::kernel::{Kernel, TaskHandle};

/// What the task's served calls return now, as their handlers would, or
/// None when every call must reach the Sentry.
pub fn snapshot(
    kernel: &Kernel,
    handle: &TaskHandle,
    tg: &Arc<ThreadGroup>,
    tid: i32,
) -> Option<GuestAnswers> {
    if kernel.config.strace || handle.seccomp.active() || handle.ptrace.is_traced() {
        return None;
    }
    let c = handle.creds.lock().unwrap();
    // Ids are answered as seen from the task's user namespace, as the
    // handlers answer them; only once that view is fixed, since another
    // task writing a map would not revoke this snapshot.
    let ns = &c.user_ns.0;
    if !ns.maps_fixed() {
        return None;
    }
    Some(GuestAnswers {
        getpid: tg.pidns.nr(tg.tgid) as u64,
        gettid: tg.pidns.nr(tid) as u64,
        getppid: tg.parent().map_or(0, |p| tg.pidns.nr(p.tgid)) as u64,
        getuid: ns.uid_from_k(c.uid) as u64,
        geteuid: ns.uid_from_k(c.euid) as u64,
        getgid: ns.gid_from_k(c.gid) as u64,
        getegid: ns.gid_from_k(c.egid) as u64,
    })
}

impl TaskHandle {
    /// After changing state another task's snapshot holds: that task's
    /// next served call reaches the Sentry (and its next switch takes a
    /// new snapshot).
    pub fn revoke_guest_answers(&self) {
        if let Some(i) = self.interrupter.lock().unwrap().as_ref() {
            i.revoke_guest_answers();
        }
    }
}
