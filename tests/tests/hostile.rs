//! Hostile system call arguments get errnos: the Sentry neither panics nor
//! hangs nor dies, and the program runs to its end.

use std::time::Duration;

use tests::{c_program, require, sandbox, Cmd};

#[test]
fn hostile_arguments_to_every_syscall_get_errnos_and_the_sandbox_survives() {
    let program = require!(c_program("hostile_args"));
    require!(sandbox());
    let out = Cmd::new(&[program.to_str().unwrap()])
        .timeout(Duration::from_secs(300))
        .run_sandboxed();
    assert_eq!(
        out.status,
        0,
        "the program did not finish\n{}",
        out.describe()
    );
    assert!(out.stdout.ends_with("survived\n"), "{}", out.describe());
    assert!(!out.stderr.contains("panicked"), "{}", out.describe());
}
