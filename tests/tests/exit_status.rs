//! `runsc-rs do` exits as its command did: the exit code, or 128 + N when
//! the command was killed by signal N.

use tests::{c_program, compare, require, sandbox};

#[test]
fn exit_code_of_the_command_is_runsc_exit_code() {
    require!(sandbox());
    let program = require!(c_program("enosys"));
    let program = program.to_str().unwrap();
    for code in ["0", "1", "42", "255"] {
        let (_, sandboxed) = compare(&[program, "exit", code]);
        assert_eq!(
            sandboxed.status.to_string(),
            code,
            "{}",
            sandboxed.describe()
        );
    }
}

#[test]
fn shell_exit_code_is_runsc_exit_code() {
    require!(sandbox());
    let (_, sandboxed) = compare(&["/bin/sh", "-c", "exit 42"]);
    assert_eq!(sandboxed.status, 42);
}

/// SIGKILL -> 137, SIGTERM -> 143, SIGUSR1 -> 138, SIGINT -> 130 (no
/// core-dumping signals: natively those would write core files).
#[test]
fn command_killed_by_a_signal_exits_128_plus_the_signal() {
    require!(sandbox());
    let program = require!(c_program("enosys"));
    let program = program.to_str().unwrap();
    for sig in [libc::SIGKILL, libc::SIGTERM, libc::SIGUSR1, libc::SIGINT] {
        let (_, sandboxed) = compare(&[program, "signal", &sig.to_string()]);
        assert_eq!(sandboxed.status, 128 + sig, "{}", sandboxed.describe());
    }
}

#[test]
fn shell_that_kills_itself_with_sigkill_exits_137() {
    require!(sandbox());
    let (_, sandboxed) = compare(&["/bin/sh", "-c", "kill -KILL $$"]);
    assert_eq!(sandboxed.status, 137);
}
