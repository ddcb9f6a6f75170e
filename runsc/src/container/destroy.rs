//! The end of a container: its host processes killed and waited for, its
//! cgroups, poststop hooks and state removed.

use std::time::{Duration, Instant};

use super::hooks::run_hooks;
use super::host_pids::{host_pids, running_pid};
use crate::state::{Container, Root};

/// SIGKILLs the supervisor (the Gofer and the Sentry die with it: their
/// parent-death signal) if it is still this container's.
pub fn kill_supervisor(c: &Container) {
    if c.alive() {
        // SAFETY: kill on a pid we verified by start time.
        unsafe { libc::kill(c.pid, libc::SIGKILL) };
    }
}

/// Kills what is left of a container and removes every trace of it; a
/// pod's sandbox container takes the pod's other containers with it.
pub fn destroy(root: &Root, c: &Container) {
    if c.sandbox.is_none() {
        for id in root.ids() {
            match root.load(&id) {
                Ok(m) if m.sandbox.as_deref() == Some(c.id.as_str()) => destroy(root, &m),
                _ => {}
            }
        }
    }
    // The Gofer, the Sentry and its stubs die with the supervisor (parent
    // death signals, PTRACE_O_EXITKILL), each a moment later: wait for all.
    let pids = if c.alive() { host_pids(c) } else { Vec::new() };
    kill_supervisor(c);
    let deadline = Instant::now() + Duration::from_secs(10);
    while (c.alive() || pids.iter().any(|p| running_pid(*p))) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    crate::cgroup::remove(&c.cgroups);
    if let Err(e) = run_hooks("poststop", &c.poststop, c) {
        tracing::warn!("{e:#}");
    }
    let _ = root.remove(&c.id);
}
