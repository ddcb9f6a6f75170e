//! Pseudo-terminals inside the sandbox: /dev/ptmx, /dev/pts, the line
//! discipline, controlling terminals and terminal signals.

use std::time::Duration;

use tests::{assert_same, c_program, require, sandbox, Cmd};

const LIMIT: Duration = Duration::from_secs(120);

/// tests/programs/pty.c natively (it must pass there) and sandboxed, with
/// the same output.
#[test]
fn pty_pair_line_discipline_controlling_terminal_and_vintr() {
    let program = require!(c_program("pty"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(LIMIT);
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "pty fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}

/// util-linux `script` runs a command on a new pty and copies its output.
#[test]
fn script_runs_a_command_on_a_pty() {
    require!(sandbox());
    let script = require!(tests::host_program("/usr/bin/script", "bsdutils"));
    let cmd = Cmd::new(&[
        script.to_str().expect("utf-8 path"),
        "-qc",
        "echo hi; tty",
        "/dev/null",
    ])
    .timeout(LIMIT);
    let out = cmd.run_sandboxed();
    assert_eq!(out.status, 0, "{}", out.describe());
    assert!(
        out.stdout.starts_with("hi\r\n/dev/pts/"),
        "{}",
        out.describe()
    );
}

/// Python's pty module: fork a child on a pty and read what it prints.
#[test]
fn python_pty_fork_reads_the_childs_output() {
    require!(sandbox());
    let python = require!(tests::host_program("/usr/bin/python3", "python3"));
    let code = r#"import os, pty
pid, fd = pty.fork()
if pid == 0:
    print('child on', os.ttyname(0).rstrip('0123456789'), os.getsid(0) == os.getpid())
    os._exit(0)
data = b''
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
os.waitpid(pid, 0)
print(repr(data))
"#;
    let cmd = Cmd::new(&[python.to_str().expect("utf-8 path"), "-c", code]).timeout(LIMIT);
    let native = cmd.run_native();
    assert_eq!(native.status, 0, "{}", native.describe());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}
