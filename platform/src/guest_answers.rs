//! Calls a platform may answer without leaving the application, from a
//! snapshot of the task's state the Sentry hands it before each switch
//! (docs/architecture.md, "Calls answered in the guest").
//!
//! Only calls whose answer is a pure read of state that cannot change
//! while the task runs without the Sentry either seeing the task first or
//! revoking the snapshot ([`crate::Interrupter::revoke_guest_answers`]).

/// What each served call returns in rax, exactly as the Sentry's own
/// handler would.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GuestAnswers {
    pub getpid: u64,
    pub gettid: u64,
    pub getppid: u64,
    pub getuid: u64,
    pub geteuid: u64,
    pub getgid: u64,
    pub getegid: u64,
}

/// The served calls, as data: number, name, and why its answer cannot go
/// stale while the task runs.
pub const SERVED: &[(i64, &str, &str)] = &[
    (
        libc::SYS_getpid,
        "getpid",
        "a thread group's id never changes",
    ),
    (libc::SYS_gettid, "gettid", "a task's id never changes"),
    (
        libc::SYS_getppid,
        "getppid",
        "changes only when the parent exits, and reparenting revokes the snapshot",
    ),
    (
        libc::SYS_getuid,
        "getuid",
        "credentials change only by the task's own calls (set*id, execve)",
    ),
    (libc::SYS_geteuid, "geteuid", "as getuid"),
    (libc::SYS_getgid, "getgid", "as getuid"),
    (libc::SYS_getegid, "getegid", "as getuid"),
];

impl GuestAnswers {
    /// The answer to call `nr`, if it is one of [`SERVED`].
    pub fn answer(&self, nr: u64) -> Option<u64> {
        Some(match nr as i64 {
            libc::SYS_getpid => self.getpid,
            libc::SYS_gettid => self.gettid,
            libc::SYS_getppid => self.getppid,
            libc::SYS_getuid => self.getuid,
            libc::SYS_geteuid => self.geteuid,
            libc::SYS_getgid => self.getgid,
            libc::SYS_getegid => self.getegid,
            _ => return None,
        })
    }
}
