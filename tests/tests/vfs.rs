//! The VFS calls and their errnos against Linux: tests/programs/
//! vfs_errnos.c prints one line per check (call, result or errno name),
//! natively in a private mount namespace on a tmpfs of its own and in the
//! sandbox, and the outputs must match line for line.

use std::time::Duration;

use tests::{assert_same, c_program, require, sandbox, skip, Cmd};

/// Natively the program needs root: it mounts its scratch tmpfs in a
/// private mount namespace and drops to uid 65534 in children.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn vfs_calls_give_linux_errnos_for_each_case() {
    if !is_root() {
        skip("vfs_errnos.c needs root natively (mounts, setuid)");
        return;
    }
    let program = require!(c_program("vfs_errnos"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(120));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "vfs_errnos fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}
