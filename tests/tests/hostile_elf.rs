//! Hostile executables: malformed ELF headers, program headers and
//! PT_INTERPs, bad `#!` lines and `#!` chains (tests/programs/hostile_elf.c
//! makes them). Each execve ends as on Linux (the same errno, exit status
//! or killing signal), and the sandbox lives on to run the next one.

use std::time::Duration;

use tests::{assert_same, c_program, require, sandbox, Cmd};

#[test]
fn hostile_elf_files_and_scripts_fail_as_on_linux_and_the_sandbox_lives_on() {
    let program = require!(c_program("hostile_elf"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(120));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "hostile_elf fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}
