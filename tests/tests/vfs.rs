//! The VFS calls and their errnos against Linux: tests/programs/
//! vfs_errnos.c prints one line per check (call, result or errno name),
//! natively in a private mount namespace on a tmpfs of its own and in the
//! sandbox, and the outputs must match line for line. inotify_events.c
//! does the same for the inotify events of a scripted session.

use std::time::Duration;

use tests::{assert_same, c_program, host_program, require, sandbox, skip, unique_name, Cmd};

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

/// The events of a scripted session in a fresh /tmp directory (opens,
/// reads, writes, closes, links, renames over and exchanges, removals of
/// open and watched files), with watches on the directory, on files and
/// on a subdirectory: the same events, in the same order, with the same
/// names and paired cookies as on Linux.
#[test]
fn inotify_reports_the_events_linux_reports_in_its_order() {
    let program = require!(c_program("inotify_events"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(60));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "inotify_events fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}

/// GNU tar copies /usr/share/doc into the sandbox's /tmp (tmpfs) through a
/// pipe, diff -r finds the copy identical (contents, symlinks, types),
/// and rm -rf removes it all.
#[test]
fn tar_copies_a_tree_into_tmpfs_identically_and_rm_removes_it() {
    require!(sandbox());
    require!(host_program("/usr/bin/tar", "tar"));
    require!(host_program("/usr/bin/diff", "diffutils"));
    let script = "mkdir /tmp/x && tar -c /usr/share/doc 2>/dev/null | tar -x -C /tmp/x \
                  && diff -r --no-dereference /usr/share/doc /tmp/x/usr/share/doc \
                  && rm -rf /tmp/x && test ! -e /tmp/x && echo ok";
    let s = Cmd::new(&["/bin/sh", "-c", script])
        .timeout(Duration::from_secs(600))
        .run_sandboxed();
    s.assert_success();
    assert_eq!(s.stdout, "ok\n", "{}", s.describe());
}

/// `tail -f` follows a file another process appends to, and `tail -F`
/// notices the file replaced by a rename, removed and made again: the
/// same lines (and the same notes on stderr) as natively. `-s 100` makes
/// tail's polling fallback sleep 100 s, so only inotify can pass in time.
#[test]
fn tail_follows_appends_and_replacements_through_inotify() {
    require!(sandbox());
    require!(host_program("/usr/bin/tail", "coreutils"));
    require!(host_program("/usr/bin/timeout", "coreutils"));
    let f = format!("/tmp/{}", unique_name("runsc-rs-tail"));
    let follow = format!(
        "echo one > {f}; \
         (sleep 1; echo two >> {f}; sleep 1; echo three >> {f}) & \
         timeout 4 tail -s 100 -f {f}; echo status $?; wait; rm -f {f}"
    );
    let by_name = format!(
        "echo one > {f}; \
         (sleep 1; echo new > {f}.new; mv {f}.new {f}; sleep 1; echo more >> {f}; \
          sleep 1; rm {f}; sleep 1; echo back > {f}) & \
         timeout 6 tail -s 100 -F {f} 2>&1 | sed 's|{f}|FILE|'; wait; rm -f {f}"
    );
    for (script, want) in [
        (follow, "one\ntwo\nthree\nstatus 124\n"),
        (
            by_name,
            "one\ntail: 'FILE' has been replaced;  following new file\nnew\nmore\n\
             tail: 'FILE' has become inaccessible: No such file or directory\n\
             tail: 'FILE' has appeared;  following new file\nback\n",
        ),
    ] {
        let cmd = Cmd::new(&["/bin/sh", "-c", &script]).timeout(Duration::from_secs(60));
        let native = cmd.run_native();
        assert_eq!(native.stdout, want, "natively\n{}", native.describe());
        let sandboxed = cmd.run_sandboxed();
        assert_same(&native, &sandboxed);
    }
}
