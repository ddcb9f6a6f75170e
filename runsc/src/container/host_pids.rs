//! A container's host processes, found from /proc.

use crate::state::Container;

/// Whether host process `pid` exists and is not a zombie.
pub fn running_pid(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z'))
    })
}

/// Host processes of the sandbox: the supervisor and everything below it
/// (Gofer, Sentry, the application's stub processes).
pub fn host_pids(c: &Container) -> Vec<i32> {
    let mut out = vec![c.pid];
    let mut i = 0;
    while i < out.len() {
        let pid = out[i];
        for t in std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let kids = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                kids.split_whitespace()
                    .filter_map(|k| k.parse::<i32>().ok()),
            );
        }
        i += 1;
    }
    out.sort_unstable();
    out.dedup();
    out
}
