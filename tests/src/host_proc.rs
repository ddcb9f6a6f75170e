//! A host process's /proc entries, as the tests that check how the
//! sandbox's own processes are locked down read them. A process that has
//! gone reads as empty fields (pid 0 for its parent), so a test polling a
//! sandbox that is ending sees no such process rather than panicking.

/// One line's value of /proc/PID/status, trimmed; empty when absent.
pub fn status_field(pid: u32, key: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// A capability set of /proc/PID/status (CapEff, CapPrm...) as a mask.
pub fn cap_field(pid: u32, key: &str) -> u64 {
    u64::from_str_radix(&status_field(pid, key), 16).expect("a capability mask")
}

/// The process's name (/proc/PID/comm).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The parent's pid.
pub fn parent(pid: u32) -> u32 {
    status_field(pid, "PPid").parse().unwrap_or(0)
}
