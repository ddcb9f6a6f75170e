//! The task dump for a stuck sandbox, which `runsc-rs debug --stacks` (or
//! the signal [`DUMP_SIGNAL`] sent to the Sentry) produces: every process
//! and task, with what each records in its
//! [`Activity`](crate::kernel::activity::Activity).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::kernel::activity::WaitOn;
use crate::kernel::signal::signal_name;
use crate::kernel::{Kernel, TaskHandle};

/// The host signal that makes the Sentry write the task dump to its log:
/// one no runtime forwards to the application, and no platform uses.
pub const DUMP_SIGNAL: i32 = libc::SIGPWR;

/// Names of a signal set's members, e.g. `SIGINT|SIGCHLD`, or `-`.
fn signal_set(set: u64) -> String {
    if set == 0 {
        return "-".into();
    }
    let names: Vec<String> = (1..=64)
        .filter(|s| set & (1u64 << (s - 1)) != 0)
        .map(signal_name)
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
        WaitOn::Frozen => "its container's resume (paused)".into(),
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
    fn signal_sets_are_named() {
        assert_eq!(signal_set(0), "-");
        assert_eq!(
            signal_set((1 << (libc::SIGINT - 1)) | (1 << (libc::SIGCHLD - 1))),
            "SIGINT|SIGCHLD"
        );
    }
}
