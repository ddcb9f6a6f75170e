//! Operators' flags: `--debug-log` as a pattern with `%ID%` and
//! `%COMMAND%` (gVisor's variables), so each container's log files are its
//! own; runc's `exec --preserve-fds` and `--cap`, which the sandbox cannot
//! honour, refused by name instead of ignored.

use std::path::Path;

use tests::bundle::{text, Bundle};
use tests::{require, sandbox, scratch_dir, unique_name};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn debug_log_pattern_gives_each_container_its_own_files() {
    require!(sandbox());
    let logs = scratch_dir().join(unique_name("debug-log-pattern"));
    let pattern = format!("--debug-log={}/%ID%/%COMMAND%.log", logs.display());
    let marker = |id: &str| format!("marker-of-{id}");
    let mut bundles = Vec::new();
    for id in ["c1", "c2"] {
        let b = require!(Bundle::busybox("debug-log", &["echo", &marker(id)], |_| {}));
        let o = b.runtime(&[&pattern, "--strace", "run", id]);
        let (out, err) = text(&o);
        assert!(o.status.success(), "run {id}: {out}{err}");
        assert_eq!(out.trim(), marker(id), "{err}");
        bundles.push(b);
    }
    for (id, other) in [("c1", "c2"), ("c2", "c1")] {
        let dir = logs.join(id);
        for command in ["run", "supervise", "boot", "gofer"] {
            assert!(
                dir.join(format!("{command}.log")).is_file(),
                "no {command}.log in {}: {:?}",
                dir.display(),
                std::fs::read_dir(&dir)
                    .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
            );
        }
        let boot = read(&dir.join("boot.log"));
        assert!(
            boot.lines()
                .any(|l| l.contains("write(1, ") && l.contains(&marker(id))),
            "{id}'s boot.log lacks its strace write line:\n{boot}"
        );
        assert!(
            !boot.contains(&marker(other)),
            "{id}'s boot.log has {other}'s lines:\n{boot}"
        );
    }
    assert!(
        !logs.join("boot.log").exists(),
        "a shared boot.log was written"
    );
}

/// exec --preserve-fds=N passes the caller's descriptors 3..3+N on
/// (`oci_exec.rs` compares that with runc): one the caller does not hold
/// is refused by number, before the container is looked up. 0 is runc's
/// default and asks for nothing.
#[test]
fn exec_preserve_fds_refuses_a_descriptor_the_caller_does_not_hold() {
    require!(sandbox());
    let b = require!(Bundle::busybox("exec-refusals", &["true"], |_| {}));
    // The runtime's descriptors past stdio are closed (Command sets
    // close-on-exec on everything else).
    let o = b.runtime(&["exec", "--preserve-fds=2", "nosuch", "true"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(
        err.contains("descriptor 3 is not open"),
        "want the closed descriptor named in\n{err}"
    );
    let o = b.runtime(&["exec", "--preserve-fds=0", "nosuch", "true"]);
    let (_, err) = text(&o);
    assert!(
        !err.contains("is not open") && err.contains("nosuch"),
        "--preserve-fds=0: {err}"
    );
}
