//! ptrace(2) between sandboxed processes: tests/programs/ptrace_basics.c
//! run natively and in the sandbox must print the same facts, and the real
//! tools must work inside the sandbox as they do natively: `strace -f` of
//! a shell pipeline sees the same calls and the pipeline prints the same,
//! `gdb -batch -ex run -ex bt` names the functions of a crashed program.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use tests::{assert_same, c_program, require, sandbox, scratch_dir, unique_name, Cmd, Output};

const LIMIT: Duration = Duration::from_secs(180);

/// TRACEME and exec, PEEK/POKE, registers and regsets, PTRACE_SYSCALL
/// (a call skipped, a result replaced), fork/clone/exec/exit events,
/// single steps, an int3 in read-only text, SEIZE + INTERRUPT + LISTEN,
/// EXITKILL and the errnos: line for line as on Linux.
#[test]
fn ptrace_requests_stops_and_errors_match_linux() {
    let program = require!(c_program("ptrace_basics"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(LIMIT);
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "ptrace_basics fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}

/// The names of the calls in strace(1)'s output (`[pid N]` prefixes and
/// `<... resumed>` lines aside).
fn call_names(stderr: &str) -> BTreeSet<String> {
    stderr
        .lines()
        .map(|l| match l.strip_prefix("[pid ") {
            Some(rest) => rest.split_once("] ").map(|(_, r)| r).unwrap_or(""),
            None => l,
        })
        .filter_map(|l| {
            let name = &l[..l.find('(')?];
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                .then(|| name.to_string())
        })
        .collect()
}

/// A directory with three files for `ls | wc -l` to count.
fn three_files() -> PathBuf {
    let dir = scratch_dir().join(unique_name("ptrace-ls"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    for f in ["a", "b", "c"] {
        std::fs::write(dir.join(f), f).expect("scratch file");
    }
    dir
}

/// `strace -f sh -c 'ls | wc -l'` inside the sandbox follows the shell
/// and both children: the same set of call names as strace(1) natively,
/// and the pipeline's output unchanged.
#[test]
fn strace_f_follows_a_pipeline_as_natively() {
    let strace = require!(tests::host_program("/usr/bin/strace", "strace"));
    let dir = three_files();
    let cmd = Cmd::new(&[
        strace.to_str().expect("utf-8 path"),
        "-f",
        "-qq",
        "/bin/sh",
        "-c",
        "ls | wc -l",
    ])
    .cwd(&dir)
    .timeout(LIMIT);
    let native = cmd.run_native();
    if native.status != 0 && native.stderr.contains("PTRACE") {
        require!(Err::<(), String>(format!(
            "strace(1) cannot trace here\n{}",
            native.describe()
        )));
    }
    assert_eq!(native.stdout, "3\n", "{}", native.describe());
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
    let (want, got) = (call_names(&native.stderr), call_names(&sandboxed.stderr));
    assert!(
        want.len() > 20 && want.contains("execve") && want.contains("wait4"),
        "too few calls from strace(1)\n{}",
        native.describe()
    );
    assert_eq!(
        want,
        got,
        "strace -f saw other calls in the sandbox\nonly native: {:?}\nonly sandboxed: {:?}\n{}",
        want.difference(&got).collect::<Vec<_>>(),
        got.difference(&want).collect::<Vec<_>>(),
        sandboxed.describe()
    );
}

/// The frames of a gdb backtrace: the function of each `#N` line.
fn frames(out: &Output) -> Vec<String> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            let after = l.split_once(" in ").map(|(_, r)| r).unwrap_or(l);
            let name = after
                .split_whitespace()
                .nth(if l.contains(" in ") { 0 } else { 1 })?;
            Some(name.to_string())
        })
        .collect()
}

/// gdb runs a program that dies of SIGSEGV in a named function (fork,
/// PTRACE_TRACEME, two execs, breakpoints in the dynamic loader, register
/// reads): it reports the signal and its backtrace names the same
/// functions as natively.
#[test]
fn gdb_backtrace_of_a_crash_names_the_functions_as_natively() {
    let gdb = require!(tests::host_program("/usr/bin/gdb", "gdb"));
    let program = require!(c_program("ptrace_crash"));
    let cmd = Cmd::new(&[
        gdb.to_str().expect("utf-8 path"),
        "-nx",
        "-batch",
        "-ex",
        "run",
        "-ex",
        "bt",
        program.to_str().expect("utf-8 path"),
    ])
    .timeout(LIMIT);
    let native = cmd.run_native();
    let want = frames(&native);
    assert_eq!(
        want,
        ["crash_here", "middle", "main"],
        "gdb natively\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert!(
        sandboxed.stdout.contains("Program received signal SIGSEGV"),
        "{}",
        sandboxed.describe()
    );
    assert_eq!(frames(&sandboxed), want, "{}", sandboxed.describe());
}

/// ltrace(1)'s lines with addresses (which differ between runs) as ADDR.
fn ltrace_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| {
            l.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| w.starts_with("0x"))
                .fold(l.to_string(), |acc, w| acc.replace(w, "ADDR"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// ltrace puts breakpoints on a program's PLT entries, steps over them
/// and reads /proc/PID/status for the tracee's state: the same calls and
/// results as natively.
#[test]
fn ltrace_shows_the_library_calls_as_natively() {
    let ltrace = require!(tests::host_program("/usr/bin/ltrace", "ltrace"));
    let program = require!(c_program("ptrace_lib_calls"));
    let cmd = Cmd::new(&[
        ltrace.to_str().expect("utf-8 path"),
        program.to_str().expect("utf-8 path"),
    ])
    .timeout(LIMIT);
    let native = cmd.run_native();
    let want = ltrace_lines(&native.stderr);
    assert!(
        native.status == 0 && want.iter().any(|l| l.starts_with("malloc(16)")),
        "ltrace natively\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
    assert_eq!(
        ltrace_lines(&sandboxed.stderr),
        want,
        "{}",
        sandboxed.describe()
    );
}
