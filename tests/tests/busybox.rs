//! Debian's busybox-static under `runsc-rs do`: a static binary that forks
//! its applets (NOFORK/NOEXEC, no execve) and walks the host root through the
//! Gofer. Outputs are compared with the same command run natively.

use tests::{compare, require, run_sandboxed, sandbox, static_host_program};

const BUSYBOX: &str = "/bin/busybox";

fn busybox() -> Result<(), String> {
    static_host_program(BUSYBOX, "busybox-static").map(|_| ())
}

#[test]
fn busybox_echo_prints_hello() {
    require!(sandbox());
    require!(busybox());
    let out = run_sandboxed(&[BUSYBOX, "echo", "hello"]);
    out.assert_success();
    assert_eq!(out.stdout, "hello\n", "{}", out.describe());
}

/// /etc of the host root, read-only through the Gofer: names, modes, link
/// counts, owners, sizes and times are the host's, so the listing matches.
#[test]
fn busybox_ls_la_etc_lists_the_host_etc_exactly() {
    require!(sandbox());
    require!(busybox());
    let (native, _) = compare(&[BUSYBOX, "ls", "-la", "/etc"]);
    native.assert_success();
    assert!(native.stdout.contains(" passwd\n"), "{}", native.describe());
}

#[test]
fn busybox_sh_pipeline_sorts_numbers() {
    require!(sandbox());
    require!(busybox());
    let (_, sandboxed) = compare(&[BUSYBOX, "sh", "-c", "seq 1 1000 | sort -rn | head -3"]);
    assert_eq!(sandboxed.stdout, "1000\n999\n998\n");
}

#[test]
fn busybox_find_counts_the_same_copyright_files() {
    require!(sandbox());
    require!(busybox());
    let (native, _) = compare(&[
        BUSYBOX,
        "sh",
        "-c",
        "find /usr/share/doc -name copyright | wc -l",
    ]);
    let count: u64 = native.stdout.trim().parse().unwrap_or(0);
    assert!(
        count > 0,
        "no copyright files natively?\n{}",
        native.describe()
    );
}

#[test]
fn busybox_grep_recursive_finds_root_in_passwd() {
    require!(sandbox());
    require!(busybox());
    let (_, sandboxed) = compare(&[BUSYBOX, "grep", "-r", "root", "/etc/passwd"]);
    assert!(
        sandboxed.stdout.starts_with("root:"),
        "{}",
        sandboxed.describe()
    );
}
