//! Dynamically linked host binaries (ld.so, libc, Python, Perl) under
//! `runsc-rs do`, compared with native runs.

use tests::{compare, host_program, require, sandbox, scratch_executable};

#[test]
fn true_exits_zero_and_false_exits_one() {
    require!(sandbox());
    let (_, sandboxed) = compare(&["/bin/true"]);
    assert_eq!(sandboxed.status, 0);
    assert_eq!(sandboxed.stdout, "");
    let (_, sandboxed) = compare(&["/bin/false"]);
    assert_eq!(sandboxed.status, 1);
}

/// GNU ls reads the host's /etc through the Gofer: st_mode, st_nlink,
/// st_uid/st_gid (named from the same /etc/passwd and /etc/group), st_size,
/// st_blocks (the "total" line) and st_mtime all come from the host inode,
/// so the listing is identical.
#[test]
fn ls_la_etc_lists_the_host_etc_exactly() {
    require!(sandbox());
    let (native, _) = compare(&["/bin/ls", "-la", "/etc"]);
    native.assert_success();
    assert!(native.stdout.starts_with("total "), "{}", native.describe());
}

#[test]
fn cat_os_release_prints_the_host_file() {
    require!(sandbox());
    let (_, sandboxed) = compare(&["/bin/cat", "/etc/os-release"]);
    sandboxed.assert_success();
    assert!(sandboxed.stdout.contains("ID="), "{}", sandboxed.describe());
}

/// dash arithmetic, a fork+exec pipeline and a listing of the root: the
/// sandbox's / has the same entries as the host's.
#[test]
fn sh_arithmetic_and_pipeline_count_root_entries() {
    require!(sandbox());
    let (_, sandboxed) = compare(&["/bin/sh", "-c", "echo $((6*7)); ls / | wc -l"]);
    assert!(
        sandboxed.stdout.starts_with("42\n"),
        "{}",
        sandboxed.describe()
    );
}

#[test]
fn python3_lists_the_root_directory_as_json() {
    require!(sandbox());
    require!(host_program("/usr/bin/python3", "python3"));
    let (_, sandboxed) = compare(&[
        "/usr/bin/python3",
        "-c",
        "import os, json, threading; print(json.dumps(sorted(os.listdir(\"/\"))))",
    ]);
    sandboxed.assert_success();
    assert!(
        sandboxed.stdout.starts_with('[') && sandboxed.stdout.contains("\"etc\""),
        "{}",
        sandboxed.describe()
    );
}

#[test]
fn perl_prints_ok() {
    require!(sandbox());
    require!(host_program("/usr/bin/perl", "perl"));
    let (_, sandboxed) = compare(&["/usr/bin/perl", "-e", "print \"ok\\n\""]);
    assert_eq!(sandboxed.stdout, "ok\n");
}

/// execve of a `#!` script runs its interpreter with the optional
/// interpreter argument, the script path and the arguments.
#[test]
fn shebang_script_runs_under_its_interpreter() {
    require!(sandbox());
    let script = scratch_executable(
        "shebang.sh",
        "#!/bin/sh -e\necho \"args: $# [$1] [$2]\"\ncase $- in *e*) echo errexit;; esac\n",
    );
    let script = script.to_str().expect("utf-8 path");
    let (_, sandboxed) = compare(&[script, "one", "two words"]);
    assert_eq!(sandboxed.stdout, "args: 2 [one] [two words]\nerrexit\n");
}
