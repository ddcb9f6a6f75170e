//! `runsc-rs --strace` prints one line per system call to stderr, with the
//! name, decoded arguments and result, as strace(1) prints them; stdout
//! stays the program's. tests/programs/strace_calls.c runs under the real
//! `strace -f` and under `runsc-rs --strace`, and the lines must match.

use std::collections::HashSet;
use std::path::PathBuf;

use tests::{c_program, require, sandbox, scratch_dir, unique_name, Cmd, Output};

/// The calls strace_calls.c makes that both tracers decode.
const TRACED: &str = "openat,write,lseek,read,pread64,newfstatat,close,access,mkdir,unlink,\
                      mmap,mprotect,madvise,munmap,pipe2,fcntl,poll,ioctl,dup3,socket,connect,\
                      shutdown,rt_sigaction,rt_sigprocmask,prlimit64,clock_nanosleep,clone,wait4";

/// `--strace-log-size`'s default (gVisor's).
const DEFAULT_LOG_SIZE: usize = 1024;

fn strace_bin() -> Result<PathBuf, String> {
    tests::host_program("/usr/bin/strace", "strace")
}

/// strace_calls.c's scratch directory, the same path for both runs (the
/// program leaves it empty).
fn scratch() -> PathBuf {
    let dir = scratch_dir().join(unique_name("strace"));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// A hex number of 8 digits or more: an address, which differs between
/// runs and between Linux and the sandbox.
fn is_address(word: &str) -> bool {
    word.strip_prefix("0x")
        .is_some_and(|h| h.len() >= 8 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A trace line with what differs between runs taken out: the `[pid N]`
/// prefix, strace's padding before ` = `, `-T`'s time, addresses; None
/// for what is not a call's line.
fn normalise(line: &str) -> Option<String> {
    let mut l = line.trim_end();
    if let Some(rest) = l.strip_prefix("[pid ") {
        l = rest.split_once("] ")?.1;
    }
    if let Some((call, time)) = l.rsplit_once(" <") {
        if time.ends_with('>') && time[..time.len() - 1].parse::<f64>().is_ok() {
            l = call;
        }
    }
    let name_end = l.find('(')?;
    if name_end == 0
        || !l[..name_end]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return None;
    }
    let mut out = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if is_address(word) {
            out.push_str("ADDR");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in l.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    while out.contains("  = ") {
        out = out.replace("  = ", " = ");
    }
    Some(out)
}

/// The program's own calls (from its first open of the scratch file on,
/// leaving out the dynamic loader's), normalised, with the children's
/// pids (clone's results) as PID.
fn program_calls(stderr: &str, dir: &str) -> Vec<String> {
    let lines: Vec<String> = stderr.lines().filter_map(normalise).collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("openat(") && l.contains(dir))
        .unwrap_or(lines.len());
    let lines = &lines[start..];
    let pids: HashSet<String> = lines
        .iter()
        .filter(|l| l.starts_with("clone("))
        .filter_map(|l| l.rsplit_once(" = ").map(|(_, r)| r.to_string()))
        .collect();
    lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            for pid in &pids {
                l = l.replace(&format!("({pid},"), "(PID,");
                l = l.replace(&format!(" = {pid}"), " = PID");
            }
            l
        })
        .collect()
}

/// Runs strace_calls natively under strace(1) and in the sandbox under
/// `--strace` with the same filter and string size, and compares.
fn compare_with_strace(log_size: Option<usize>) {
    let strace = require!(strace_bin());
    let program = require!(c_program("strace_calls"));
    let program = program.to_str().expect("utf-8 path");
    let dir = scratch();
    let dir = dir.to_str().expect("utf-8 path");
    let size = log_size.unwrap_or(DEFAULT_LOG_SIZE).to_string();
    let native = Cmd::new(&[
        strace.to_str().expect("utf-8 path"),
        "-f",
        "-qq",
        "-e",
        "signal=none",
        "-e",
        &format!("trace={TRACED}"),
        "-s",
        &size,
        program,
        dir,
    ])
    .run_native();
    if native.status != 0 && native.stderr.contains("PTRACE_TRACEME") {
        require!(Err::<(), String>(format!(
            "strace(1) cannot trace here\n{}",
            native.describe()
        )));
    }
    assert!(
        native.status == 0 && native.stdout == "PASS\n",
        "strace_calls fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let mut flags = vec![
        "--strace".to_string(),
        format!("--strace-syscalls={TRACED}"),
    ];
    if let Some(n) = log_size {
        flags.push(format!("--strace-log-size={n}"));
    }
    let sandboxed = Cmd::new(&[program, dir]).flags(&flags).run_sandboxed();
    sandboxed.assert_success();
    assert_eq!(sandboxed.stdout, "PASS\n", "{}", sandboxed.describe());

    let want = program_calls(&native.stderr, dir);
    let got = program_calls(&sandboxed.stderr, dir);
    assert!(
        want.len() > 40,
        "too few calls from strace(1)\n{}",
        native.describe()
    );
    eprintln!("compared {} lines", want.len());
    let diff: Vec<String> = want
        .iter()
        .zip(&got)
        .filter(|(w, g)| w != g)
        .map(|(w, g)| format!("strace(1): {w}\nrunsc-rs:  {g}"))
        .collect();
    assert!(
        diff.is_empty() && want.len() == got.len(),
        "--strace differs from strace(1) ({} lines against {}):\n{}\n\
         --- strace(1) ---\n{}\n--- runsc-rs ---\n{}",
        want.len(),
        got.len(),
        diff.join("\n"),
        want.join("\n"),
        got.join("\n"),
    );
}

/// Flags and enums by name, structs at exit, errors with strerror's text,
/// clone with its named arguments: line for line as strace(1) with -s as
/// `--strace-log-size`'s default.
#[test]
fn strace_lines_match_strace_1_for_a_fixed_program() {
    compare_with_strace(None);
}

/// `--strace-log-size` cuts buffers as strace's -s does: strace's own
/// default, and a size shorter than the program's strings.
#[test]
fn strace_log_size_cuts_buffers_as_strace_s() {
    compare_with_strace(Some(32));
    compare_with_strace(Some(4));
}

fn traced_names(out: &Output) -> Vec<String> {
    out.stderr
        .lines()
        .filter_map(normalise)
        .filter_map(|l| l.split_once('(').map(|(n, _)| n.to_string()))
        .collect()
}

/// `--strace-syscalls` logs only the named calls.
#[test]
fn strace_syscalls_logs_only_the_named_calls() {
    require!(sandbox());
    let out = Cmd::new(&["/bin/cat", "/etc/hostname", "/nonexistent"])
        .flags(&["--strace", "--strace-syscalls=openat,close"])
        .run_sandboxed();
    let names = traced_names(&out);
    assert!(
        names.iter().any(|n| n == "openat") && names.iter().any(|n| n == "close"),
        "want openat and close lines\n{}",
        out.describe()
    );
    assert!(
        names
            .iter()
            .all(|n| n == "openat" || n == "close" || n == "execve"),
        "a call outside --strace-syscalls was logged: {names:?}\n{}",
        out.describe()
    );
    assert!(
        out.stderr.contains(
            "openat(AT_FDCWD, \"/nonexistent\", O_RDONLY) = -1 ENOENT (No such file or directory)"
        ),
        "{}",
        out.describe()
    );
}

/// A name that is no system call's stops runsc-rs before it starts, naming
/// the name.
#[test]
fn strace_syscalls_refuses_an_unknown_name() {
    require!(sandbox());
    let out = Cmd::new(&["/bin/true"])
        .flags(&["--strace", "--strace-syscalls=read,opne"])
        .run_sandboxed();
    assert_ne!(out.status, 0, "{}", out.describe());
    assert!(
        out.stderr.contains("opne") && out.stderr.contains("strace-syscalls"),
        "{}",
        out.describe()
    );
}

#[test]
fn normalise_takes_out_what_differs_between_runs() {
    assert_eq!(
        normalise("[pid 26124] mmap(0x7f881afd5000, 1400832, PROT_READ, MAP_PRIVATE, 3, 0x26000) = 0x7f881afd5000 <0.000012>"),
        Some("mmap(ADDR, 1400832, PROT_READ, MAP_PRIVATE, 3, 0x26000) = ADDR".into())
    );
    assert_eq!(
        normalise("close(3)                                = 0"),
        Some("close(3) = 0".into())
    );
    assert_eq!(normalise("--- SIGCHLD {si_signo=SIGCHLD} ---"), None);
    assert_eq!(normalise("PASS"), None);
}

/// Does `line` contain `word` delimited by non-identifier characters?
fn mentions(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

/// Index of the first line naming `syscall` and containing every one of `args`.
fn find_call(lines: &[&str], syscall: &str, args: &[&str]) -> Option<usize> {
    lines
        .iter()
        .position(|l| mentions(l, syscall) && args.iter().all(|a| l.contains(a)))
}

#[test]
fn strace_names_execve_write_and_exit_group_with_their_arguments() {
    require!(sandbox());
    let out = Cmd::new(&["/bin/echo", "hi"])
        .flags(&["--strace"])
        .run_sandboxed();
    out.assert_success();
    assert_eq!(
        out.stdout,
        "hi\n",
        "strace output must not go to stdout\n{}",
        out.describe()
    );
    let lines: Vec<&str> = out.stderr.lines().collect();

    let execve = find_call(&lines, "execve", &["/bin/echo"]);
    let write = find_call(&lines, "write", &["hi"]);
    let exit_group = find_call(&lines, "exit_group", &["0"]);
    assert!(
        execve.is_some() && write.is_some() && exit_group.is_some(),
        "want lines naming execve (\"/bin/echo\"), write (\"hi\") and exit_group (0): \
         found execve {execve:?}, write {write:?}, exit_group {exit_group:?}\n{}",
        out.describe()
    );
    assert!(
        execve < write && write < exit_group,
        "calls out of order: execve {execve:?}, write {write:?}, exit_group {exit_group:?}\n{}",
        out.describe()
    );
}

#[test]
fn mentions_matches_whole_names_only() {
    assert!(mentions("[1] write(1, \"hi\\n\", 3) = 3", "write"));
    assert!(!mentions("[1] pwrite64(3, ...)", "write"));
    assert!(!mentions("[1] writev(1, ...)", "write"));
    assert!(mentions("exit_group(0)", "exit_group"));
    assert!(!mentions("exit_group(0)", "exit"));
}

/// Calls a platform could answer without leaving the application (getpid,
/// gettid, getuid under KVM) are not answered in place under `--strace`:
/// every one of them is in the trace, as strace(1) shows them natively.
#[test]
fn strace_shows_every_call_a_platform_could_answer_in_place() {
    let strace = require!(strace_bin());
    let program = require!(c_program("guest_answers"));
    let program = program.to_str().expect("utf-8 path");
    let names = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter_map(normalise)
            .filter_map(|l| l.split_once('(').map(|(name, _)| name.to_string()))
            .filter(|n| ["getpid", "gettid", "getuid"].contains(&n.as_str()))
            .collect()
    };
    let native = Cmd::new(&[
        strace.to_str().expect("utf-8 path"),
        "-f",
        "-qq",
        "-e",
        "trace=getpid,gettid,getuid",
        program,
        "calls",
    ])
    .run_native();
    if native.status != 0 && native.stderr.contains("PTRACE_TRACEME") {
        require!(Err::<(), String>(format!(
            "strace(1) cannot trace here\n{}",
            native.describe()
        )));
    }
    require!(sandbox());
    let sandboxed = Cmd::new(&[program, "calls"])
        .flags(&["--strace"])
        .run_sandboxed();
    assert_eq!(sandboxed.status, 0, "{}", sandboxed.describe());
    let want = names(&native.stderr);
    assert_eq!(want.len(), 9, "{}", native.describe());
    assert_eq!(names(&sandboxed.stderr), want, "{}", sandboxed.describe());
}
