//! A system call the sandbox does not have fails with ENOSYS, as Linux
//! does for an unknown number, and the debug log names it once.

use tests::{c_program, compare, read_logs, require, sandbox, Cmd};

#[test]
fn unknown_syscall_numbers_fail_with_enosys() {
    require!(sandbox());
    let program = require!(c_program("enosys"));
    let (_, sandboxed) = compare(&[program.to_str().unwrap()]);
    sandboxed.assert_success();
    assert_eq!(
        sandboxed.stdout,
        "syscall 1000: -1 ENOSYS\nsyscall -1: -1 ENOSYS\ngetpid works after ENOSYS: yes\n"
    );
}

/// kexec_file_load, called twice, returns ENOSYS both times; the debug log
/// has exactly one "unsupported syscall" line naming it.
#[test]
fn unimplemented_syscall_returns_enosys_and_is_named_once_in_the_debug_log() {
    require!(sandbox());
    let program = require!(c_program("enosys"));
    let out = Cmd::new(&[program.to_str().unwrap(), "unsupported"])
        .debug_log()
        .run_sandboxed();
    out.assert_success();
    assert_eq!(
        out.stdout,
        "kexec_file_load: -1 ENOSYS\nkexec_file_load: -1 ENOSYS\n",
        "{}",
        out.describe()
    );
    let dir = out.log_dir.as_ref().expect("debug log requested");
    let logs = read_logs(dir);
    let lines: Vec<String> = logs
        .iter()
        .flat_map(|(file, text)| text.lines().map(move |l| format!("{file}: {l}")))
        .filter(|l| {
            l.to_ascii_lowercase().contains("unsupported syscall") && l.contains("kexec_file_load")
        })
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "want one \"unsupported syscall ... kexec_file_load\" line in the logs of {}, got {lines:#?}\n{}",
        dir.display(),
        out.describe()
    );
}

/// `--debug-log=DIR` writes one log per process: boot.log (the Sentry) and
/// gofer.log.
#[test]
fn debug_log_dir_gets_boot_and_gofer_logs() {
    require!(sandbox());
    let out = Cmd::new(&["/bin/true"]).debug_log().run_sandboxed();
    out.assert_success();
    let dir = out.log_dir.as_ref().expect("debug log requested");
    let names: Vec<String> = read_logs(dir).into_iter().map(|(name, _)| name).collect();
    for want in ["boot.log", "gofer.log"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {}: {names:?}",
            dir.display()
        );
    }
}
