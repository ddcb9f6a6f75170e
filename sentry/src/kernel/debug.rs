//! What each task is doing, for a stuck sandbox: the task dump that
//! `runsc-rs debug --stacks` (or the signal [`DUMP_SIGNAL`] sent to the
//! Sentry) produces.
//!
//! Each task records the syscall it is serving and, while it sleeps, what
//! it waits for. The recording is a few relaxed stores per syscall (no lock,
//! no clock read): the dump is for people looking at a hang, so a value read
//! while it changes is acceptable, and the hot path stays as fast as before.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::kernel::task::TaskHandle;
use crate::kernel::Kernel;

/// The host signal that makes the Sentry write the task dump to its log:
/// one no runtime forwards to the application, and no platform uses.
pub const DUMP_SIGNAL: i32 = libc::SIGPWR;

/// No syscall in progress.
const NONE: u64 = u64::MAX;

/// What a task sleeps on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitOn {
    /// FUTEX_WAIT on an address, keyed by its memory-file offset.
    Futex { addr: u64, key: u64, bitset: u32 },
    /// wait4/waitid: a child's state change (pid as the call gave it).
    Children { pid: i64 },
    /// A vfork child's exec or exit.
    Vfork,
    /// Its thread group is stopped (SIGSTOP and friends).
    GroupStop,
    /// Any other wait queue (a pipe, a poll set, a lock ...), or a plain
    /// timed sleep.
    Other,
}

/// One task's current syscall and sleep, written by the task itself.
pub struct Activity {
    nr: AtomicU64,
    args: [AtomicU64; 6],
    sleep: Mutex<Option<(WaitOn, Instant)>>,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity {
            nr: AtomicU64::new(NONE),
            args: Default::default(),
            sleep: Mutex::new(None),
        }
    }
}

impl Activity {
    pub fn enter_syscall(&self, nr: u64, args: &[u64; 6]) {
        for (slot, a) in self.args.iter().zip(args) {
            slot.store(*a, Ordering::Relaxed);
        }
        self.nr.store(nr, Ordering::Relaxed);
    }

    pub fn leave_syscall(&self) {
        self.nr.store(NONE, Ordering::Relaxed);
    }

    /// The syscall being served, if any.
    pub fn syscall(&self) -> Option<(u64, [u64; 6])> {
        let nr = self.nr.load(Ordering::Relaxed);
        (nr != NONE).then(|| (nr, self.args.each_ref().map(|a| a.load(Ordering::Relaxed))))
    }

    /// Records what the task is about to sleep on; a later [`Self::sleeping`]
    /// call of the same sleep keeps it.
    pub fn sleeping_on(&self, on: WaitOn) {
        *self.sleep.lock().unwrap() = Some((on, Instant::now()));
    }

    /// Marks the start of a sleep whose cause the caller did not name.
    pub fn sleeping(&self) {
        let mut s = self.sleep.lock().unwrap();
        if s.is_none() {
            *s = Some((WaitOn::Other, Instant::now()));
        }
    }

    pub fn awake(&self) {
        *self.sleep.lock().unwrap() = None;
    }

    pub fn sleep(&self) -> Option<(WaitOn, Instant)> {
        self.sleep.lock().unwrap().clone()
    }
}

/// Names of a signal set's members, e.g. `SIGINT|SIGCHLD`, or `-`.
fn signal_set(set: u64) -> String {
    if set == 0 {
        return "-".into();
    }
    let names: Vec<String> = (1..=64)
        .filter(|s| set & (1u64 << (s - 1)) != 0)
        .map(crate::kernel::signal::signal_name)
        .collect();
    names.join("|")
}

fn describe_wait(on: &WaitOn) -> String {
    match on {
        WaitOn::Futex { addr, key, bitset } => {
            format!("futex {addr:#x} (key {key:#x}, bitset {bitset:#x})")
        }
        WaitOn::Children { pid } => format!("a child's state change (pid {pid})"),
        WaitOn::Vfork => "its vfork child's exec or exit".into(),
        WaitOn::GroupStop => "SIGCONT (group stopped)".into(),
        WaitOn::Other => "a wait queue or timeout".into(),
    }
}

/// One line per task: state, syscall with arguments, what it sleeps on and
/// for how long, pending and blocked signals.
fn describe_task(out: &mut String, t: &TaskHandle, group_pending: u64, now: Instant) {
    let comm = String::from_utf8_lossy(&t.comm.lock().unwrap()).into_owned();
    let (mask, pending) = {
        let s = t.sig.lock().unwrap();
        (s.mask, s.pending.set)
    };
    let killed = t.killed.load(Ordering::Relaxed);
    let _ = write!(out, "  task {} ({comm})", t.tid);
    match t.activity.syscall() {
        Some((nr, a)) => {
            // From the `syscalls` crate: the kernel does not reach up into
            // the syscall handlers' module for a name.
            let name = usize::try_from(nr)
                .ok()
                .and_then(::syscalls::Sysno::new)
                .map_or("unknown", |s| s.name());
            let _ = write!(
                out,
                " in {name}({:#x}, {:#x}, {:#x}, {:#x}, {:#x}, {:#x})",
                a[0], a[1], a[2], a[3], a[4], a[5]
            );
        }
        None => out.push_str(" running application code"),
    }
    if let Some((on, since)) = t.activity.sleep() {
        let _ = write!(
            out,
            ", asleep {:.3}s on {}",
            now.saturating_duration_since(since).as_secs_f64(),
            describe_wait(&on)
        );
    }
    let _ = writeln!(
        out,
        "; pending {} (group {}), blocked {}{}",
        signal_set(pending),
        signal_set(group_pending),
        signal_set(mask),
        if killed { "; exiting" } else { "" }
    );
}

impl Kernel {
    /// Every thread group and task of the sandbox, with what each does.
    pub fn dump_tasks(&self) -> String {
        let now = Instant::now();
        let mut groups = self.all_groups();
        groups.sort_by_key(|g| g.tgid);
        let n = groups.len();
        let mut out = format!("{n} process{}\n", if n == 1 { "" } else { "es" });
        for g in groups {
            let (tasks, pending, parent, stopped, exit) = {
                let i = g.inner.lock().unwrap();
                (
                    i.tasks.clone(),
                    i.pending.set,
                    i.parent.as_ref().and_then(|p| p.upgrade()).map(|p| p.tgid),
                    i.stopped,
                    i.exit,
                )
            };
            let _ = write!(out, "process {} (parent {})", g.tgid, parent.unwrap_or(0));
            if let Some(s) = stopped {
                let _ = write!(out, ", stopped by {}", signal_set(1 << (s - 1)));
            }
            if let Some(st) = exit {
                let _ = write!(out, ", zombie (wait status {st:#x})");
            }
            out.push('\n');
            for t in &tasks {
                describe_task(&mut out, t, pending, now);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_reports_the_syscall_until_it_returns() {
        let a = Activity::default();
        assert_eq!(a.syscall(), None);
        a.enter_syscall(202, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(a.syscall(), Some((202, [1, 2, 3, 4, 5, 6])));
        a.leave_syscall();
        assert_eq!(a.syscall(), None);
    }

    #[test]
    fn a_named_sleep_is_not_replaced_by_the_generic_one() {
        let a = Activity::default();
        a.sleeping_on(WaitOn::Children { pid: -1 });
        a.sleeping();
        assert_eq!(a.sleep().unwrap().0, WaitOn::Children { pid: -1 });
        a.awake();
        a.sleeping();
        assert_eq!(a.sleep().unwrap().0, WaitOn::Other);
    }

    #[test]
    fn signal_sets_are_named() {
        assert_eq!(signal_set(0), "-");
        assert_eq!(
            signal_set((1 << (libc::SIGINT - 1)) | (1 << (libc::SIGCHLD - 1))),
            "SIGINT|SIGCHLD"
        );
    }
}
