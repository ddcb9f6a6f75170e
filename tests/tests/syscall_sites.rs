//! System call sites as syscall patching on the systrap platform sees
//! them (tests/programs/syscall_sites.c), run natively and in the sandbox
//! on the test platform (scripts/test-systrap runs it on systrap): the
//! patchable `mov $nr,%eax; syscall` pattern called until hot from racing
//! threads, a jump straight to its `syscall` with another number, rcx/r11
//! and the flags after the call, restarts, fork, an application seccomp
//! filter and a tracer's syscall stops. Stdout and status must match.

use std::time::Duration;

use tests::{assert_same, c_program, require, sandbox, Cmd};

#[test]
fn hot_syscall_sites_behave_as_on_linux() {
    let program = require!(c_program("syscall_sites"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(180));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "syscall_sites fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    assert_same(&native, &cmd.run_sandboxed());
}
