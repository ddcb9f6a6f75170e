//! What the sandbox says its kernel is (uname, /proc/version,
//! /proc/sys/kernel/osrelease).

/// The kernel version the sandbox reports (what gVisor reports too).
pub const RELEASE: &str = "4.4.0";
pub const VERSION: &str = "#1 SMP Sun Jan 10 15:06:54 PST 2016";
