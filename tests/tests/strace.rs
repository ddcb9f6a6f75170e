//! `runsc-rs --strace` prints one line per system call to stderr, with the
//! name, decoded arguments and result; stdout stays the program's.

use tests::{require, sandbox, Cmd};

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
