//! The VFS calls and their errnos against Linux: tests/programs/
//! vfs_errnos.c prints one line per check (call, result or errno name),
//! natively in a private mount namespace on a tmpfs of its own and in the
//! sandbox, and the outputs must match line for line. inotify_events.c
//! does the same for the inotify events of a scripted session.

use std::path::Path;
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

/// fanotify compared with Linux on a tmpfs of the program's own:
/// fanotify_init's and fanotify_mark's errnos; inode marks on files and
/// directories (FAN_EVENT_ON_CHILD, FAN_ONDIR, FAN_MARK_ONLYDIR), mount
/// and filesystem marks, FLUSH; events merged per file and process (not
/// across processes); ignore masks, ended by a write unless they survive
/// it, and a directory's ignoring its children; the event descriptor
/// (event_f_flags, its path, no events of its own); FAN_REPORT_FID,
/// DIR_FID, DFID_NAME and DFID_NAME|FID records for entry, attribute,
/// open/close and *_SELF events; FAN_Q_OVERFLOW after 16384 events; and
/// FAN_OPEN_PERM / FAN_ACCESS_PERM denied (EPERM) and allowed, the bad
/// responses, an opener killed while it waits, and a group closed with a
/// question open.
#[test]
fn fanotify_marks_events_and_permission_answers_match_linux() {
    if !is_root() {
        skip("fanotify.c needs root natively (CAP_SYS_ADMIN, a tmpfs of its own)");
        return;
    }
    let program = require!(c_program("fanotify"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(180));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "fanotify fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}

/// The events of a scripted session in a fresh directory (opens, reads,
/// writes, closes, links, renames over and exchanges, removals of open
/// and watched files), with watches on the directory, on files and on a
/// subdirectory: the same events, in the same order, with the same names
/// and paired cookies as on Linux. Once in /tmp (as root also IN_UNMOUNT
/// of a tmpfs mounted there), once in /var/tmp (both the sandbox's overlay
/// root over the host's).
#[test]
fn inotify_reports_the_events_linux_reports_in_its_order() {
    let program = require!(c_program("inotify_events"));
    for parent in ["/tmp", "/var/tmp"] {
        if !Path::new(parent).is_dir() {
            continue;
        }
        let mut argv = vec![program.to_str().expect("utf-8 path"), parent];
        if parent == "/tmp" && is_root() {
            // Natively it mounts a tmpfs, in a private mount namespace.
            argv.push("unmount");
        }
        let cmd = Cmd::new(&argv).timeout(Duration::from_secs(60));
        let native = cmd.run_native();
        assert!(
            native.status == 0 && native.stdout.ends_with("PASS\n"),
            "inotify_events fails natively in {parent}: the test program is wrong, \
             not the sandbox\n{}",
            native.describe()
        );
        require!(sandbox());
        let sandboxed = cmd.run_sandboxed();
        assert_same(&native, &sandboxed);
    }
}

/// GNU tar copies /usr/share/doc into the sandbox's /tmp (the overlay) through a
/// pipe, diff -r finds the copy identical (contents, symlinks, types),
/// and rm -rf removes it all.
#[test]
fn tar_copies_a_tree_into_tmp_identically_and_rm_removes_it() {
    require!(sandbox());
    require!(host_program("/usr/bin/tar", "tar"));
    require!(host_program("/usr/bin/diff", "diffutils"));
    let x = format!("/tmp/{}", unique_name("runsc-rs-tar"));
    let script = format!(
        "mkdir {x} && tar -c /usr/share/doc 2>/dev/null | tar -x -C {x} \
         && diff -r --no-dereference /usr/share/doc {x}/usr/share/doc \
         && rm -rf {x} && test ! -e {x} && echo ok"
    );
    let s = Cmd::new(&["/bin/sh", "-c", &script])
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
    // On a tmpfs in both runs: coreutils' tail trusts inotify only on a
    // file system it knows to be local, and treats overlayfs (the
    // sandbox's /tmp) as remote, polling instead.
    let f = format!("/dev/shm/{}", unique_name("runsc-rs-tail"));
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

/// A host directory for the exchange test: a = "lower a", b = "lower b",
/// sym -> a.
fn exchange_fixture(dir: &Path) {
    std::fs::create_dir(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    std::fs::write(dir.join("a"), "lower a\n").expect("write a");
    std::fs::write(dir.join("b"), "lower b\n").expect("write b");
    std::os::unix::fs::symlink("a", dir.join("sym")).expect("symlink");
}

/// Names, types, modes and contents (or targets) of a directory's entries.
fn snapshot(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return "unreadable".into();
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let what = if m.file_type().is_symlink() {
            format!("-> {:?}", std::fs::read_link(&p).ok())
        } else if m.is_file() {
            format!("{:?}", std::fs::read(&p).ok())
        } else {
            "other".to_string()
        };
        let name = e.file_name();
        out.push(format!("{name:?} {:o} {what}", m.permissions().mode()));
    }
    out.sort();
    out.join("\n")
}

/// renameat2(RENAME_EXCHANGE) in a directory of the host root, which the
/// sandbox sees through its overlay root: files from the host, new files,
/// symlinks and new directories swap as on Linux (copied up first), with
/// RENAME_NOREPLACE and rename unchanged; the host directory is the same
/// afterwards.
#[test]
fn rename_exchange_on_the_overlay_root_matches_linux_and_leaves_the_host_alone() {
    let program = require!(c_program("rename_exchange"));
    if !Path::new("/var/tmp").is_dir() {
        skip("no /var/tmp on the host");
        return;
    }
    let native_dir = Path::new("/var/tmp").join(unique_name("runsc-rs-exchange-native"));
    let host_dir = Path::new("/var/tmp").join(unique_name("runsc-rs-exchange"));
    exchange_fixture(&native_dir);
    let prog = program.to_str().expect("utf-8 path");
    let native = Cmd::new(&[prog, native_dir.to_str().expect("utf-8 path")])
        .timeout(Duration::from_secs(60))
        .run_native();
    let _ = std::fs::remove_dir_all(&native_dir);
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "rename_exchange fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    exchange_fixture(&host_dir);
    let before = snapshot(&host_dir);
    let sandboxed = Cmd::new(&[prog, host_dir.to_str().expect("utf-8 path")])
        .timeout(Duration::from_secs(60))
        .run_sandboxed();
    let after = snapshot(&host_dir);
    let _ = std::fs::remove_dir_all(&host_dir);
    assert_eq!(
        before,
        after,
        "the sandbox changed the host directory\n{}",
        sandboxed.describe()
    );
    assert_same(&native, &sandboxed);
}

/// Entries (as [`snapshot`]) and each entry's user.* attributes, for
/// checking that the sandbox left the host alone.
fn xattr_snapshot(dir: &Path) -> String {
    let mut out = snapshot(dir);
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.sort();
    for p in names {
        out.push_str(&format!("\n{}: {:?}", p.display(), tests::host_xattrs(&p)));
    }
    out
}

/// getxattr/listxattr of files on the host root (the overlay's lower
/// layer, through the Gofer), then setting, replacing and removing
/// attributes (copy-up), their flags' errnos, ERANGE, and renames: the
/// same lines as Linux on a copy of the directory, and the host's
/// directory unchanged.
#[test]
fn xattrs_on_the_overlay_root_match_linux_and_leave_the_host_alone() {
    let program = require!(c_program("xattrs"));
    let base = tests::scratch_dir();
    let native_dir = base.join(unique_name("xattrs-native"));
    let host_dir = base.join(unique_name("xattrs"));
    tests::xattr_fixture(&native_dir);
    let prog = program.to_str().expect("utf-8 path");
    let native = Cmd::new(&tests::xattrs_argv(prog, &native_dir))
        .timeout(Duration::from_secs(60))
        .run_native();
    let _ = std::fs::remove_dir_all(&native_dir);
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "xattrs fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    tests::xattr_fixture(&host_dir);
    let before = xattr_snapshot(&host_dir);
    let sandboxed = Cmd::new(&tests::xattrs_argv(prog, &host_dir))
        .timeout(Duration::from_secs(60))
        .run_sandboxed();
    let after = xattr_snapshot(&host_dir);
    let _ = std::fs::remove_dir_all(&host_dir);
    assert_eq!(
        before,
        after,
        "the sandbox changed the host directory\n{}",
        sandboxed.describe()
    );
    assert_same(&native, &sandboxed);
}
