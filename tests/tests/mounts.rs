//! The mount table: mount(2)/umount2(2) against Linux (tests/programs/
//! mounts.c, run natively in a private mount namespace and in the
//! sandbox), and the tools that read the table (`mount`, `df`, `stat -f`)
//! giving output of the same shape as on the host: same headers and
//! columns, well-formed lines, the sandbox's own mounts.

use std::time::Duration;

use tests::{
    assert_same, c_program, host_program, require, run_native, run_sandboxed, sandbox, skip,
    static_host_program, Cmd,
};

const BUSYBOX: &str = "/bin/busybox";

fn busybox() -> Result<(), String> {
    static_host_program(BUSYBOX, "busybox-static").map(|_| ())
}

fn coreutils() -> Result<(), String> {
    host_program("/usr/bin/df", "coreutils")?;
    host_program("/usr/bin/stat", "coreutils").map(|_| ())
}

/// Natively the program needs root for its own mount namespace.
fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn mount_and_umount_behave_as_on_linux_with_their_errnos() {
    if !is_root() {
        skip("mounts.c needs root natively (a private mount namespace)");
        return;
    }
    let program = require!(c_program("mounts"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(120));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "mounts fails natively: the test program is wrong, not the sandbox\n{}",
        native.describe()
    );
    require!(sandbox());
    assert_same(&native, &cmd.run_sandboxed());
}

/// `SRC on DIR type TYPE (OPTIONS)` lines: (dir, type, options).
fn mount_lines(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .map(|l| {
            let (src_dir, rest) = l
                .split_once(" type ")
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            let (_, dir) = src_dir
                .split_once(" on ")
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            let (ty, opts) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            assert!(
                opts.starts_with('(') && opts.ends_with(')'),
                "bad line {l:?}"
            );
            (
                dir.to_string(),
                ty.to_string(),
                opts[1..opts.len() - 1].to_string(),
            )
        })
        .collect()
}

#[test]
fn busybox_mount_lists_the_sandbox_mounts_with_their_options() {
    require!(sandbox());
    require!(busybox());
    let native = run_native(&[BUSYBOX, "mount"]);
    native.assert_success();
    mount_lines(&native.stdout);
    let out = run_sandboxed(&[BUSYBOX, "mount"]);
    out.assert_success();
    let lines = mount_lines(&out.stdout);
    let find = |dir: &str| {
        lines
            .iter()
            .find(|l| l.0 == dir)
            .unwrap_or_else(|| panic!("{dir} not listed\n{}", out.describe()))
    };
    assert_eq!(find("/").1, "overlay");
    // /tmp is the root's (the host's /tmp under the overlay), not a mount.
    assert!(lines.iter().all(|l| l.0 != "/tmp"), "{}", out.describe());
    assert_eq!(find("/proc").1, "proc");
    assert_eq!(find("/sys").1, "sysfs");
    assert_eq!(find("/dev/pts").1, "devpts");
    assert!(find("/sys").2.starts_with("ro,"), "{}", out.describe());
    assert!(find("/proc").2.contains("noexec"), "{}", out.describe());
}

/// A mount made in the sandbox shows up in `mount` with its options and
/// in `df` with its size, and leaves with umount.
#[test]
fn a_new_tmpfs_appears_in_mount_and_df_with_its_size() {
    require!(sandbox());
    require!(busybox());
    let script = "mkdir -p /mnt/x && mount -t tmpfs -o size=2m,mode=700 scratch /mnt/x \
                  && mount | grep /mnt/x && df -k /mnt/x | tail -1 \
                  && umount /mnt/x && mount | grep -c /mnt/x";
    let out = run_sandboxed(&[BUSYBOX, "sh", "-c", script]);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", out.describe());
    assert_eq!(
        lines[0],
        "scratch on /mnt/x type tmpfs (rw,relatime,size=2048k,mode=700)"
    );
    let f: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(f[0], "scratch", "{}", out.describe());
    assert_eq!(f[1], "2048", "{}", out.describe());
    assert_eq!(lines[2], "0", "{}", out.describe());
}

/// df's rows: header, then rows of as many columns, numbers where numbers
/// go, Use% a percentage. Returns (filesystem, mounted-on) per row.
fn df_rows(out: &str, human: bool) -> (String, Vec<(String, String)>) {
    let mut lines = out.lines();
    // Column widths follow the widest value: compare the names.
    let header = lines
        .next()
        .expect("a header")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let cols = header.split_whitespace().count() - 1; // "Mounted on"
                                                      // busybox puts a long filesystem name on a line of its own.
    let mut joined: Vec<String> = Vec::new();
    let mut pending = String::new();
    for l in lines {
        if l.split_whitespace().count() == 1 {
            pending = l.to_string();
            continue;
        }
        joined.push(format!("{pending} {l}"));
        pending.clear();
    }
    let rows = joined
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), cols, "bad row {l:?} under {header:?}");
            for n in &f[1..4] {
                let digits = if human {
                    n.trim_end_matches(|c: char| "KMGTP".contains(c))
                } else {
                    n
                };
                assert!(digits.parse::<f64>().is_ok(), "bad number {n:?} in {l:?}");
            }
            assert!(f[4] == "-" || f[4].ends_with('%'), "bad Use% in {l:?}");
            (f[0].to_string(), f[5].to_string())
        })
        .collect();
    (header, rows)
}

fn check_df(argv: &[&str], human: bool) {
    let native = run_native(argv);
    native.assert_success();
    let (native_header, _) = df_rows(&native.stdout, human);
    let out = run_sandboxed(argv);
    out.assert_success();
    let (header, rows) = df_rows(&out.stdout, human);
    assert_eq!(header, native_header, "{}", out.describe());
    assert!(
        rows.contains(&("overlay".to_string(), "/".to_string())),
        "{}",
        out.describe()
    );
    // /tmp is part of the root, not a file system of its own.
    assert!(!rows.iter().any(|r| r.1 == "/tmp"), "{}", out.describe());
}

#[test]
fn coreutils_df_has_linux_columns_and_the_sandbox_mounts() {
    require!(sandbox());
    require!(coreutils());
    check_df(&["df"], false);
    check_df(&["df", "-h"], true);
}

#[test]
fn busybox_df_has_linux_columns_and_the_sandbox_mounts() {
    require!(sandbox());
    require!(busybox());
    check_df(&[BUSYBOX, "df"], false);
    check_df(&[BUSYBOX, "df", "-h"], true);
}

/// The labels of `stat -f` output, values left out.
fn stat_f_labels(out: &str) -> Vec<String> {
    out.split_whitespace()
        .filter(|w| w.ends_with(':'))
        .map(str::to_string)
        .collect()
}

#[test]
fn stat_f_reports_the_overlay_root_and_its_tmp_in_linux_format() {
    require!(sandbox());
    require!(coreutils());
    let native = run_native(&["stat", "-f", "/"]);
    native.assert_success();
    let out = run_sandboxed(&["stat", "-f", "/"]);
    out.assert_success();
    assert_eq!(
        stat_f_labels(&out.stdout),
        stat_f_labels(&native.stdout),
        "{}",
        out.describe()
    );
    assert!(out.stdout.contains("Type: overlayfs"), "{}", out.describe());
    let types = run_sandboxed(&["stat", "-f", "-c", "%T %l", "/", "/tmp", "/proc"]);
    assert_eq!(
        types.stdout,
        "overlayfs 255\noverlayfs 255\nproc 255\n",
        "{}",
        types.describe()
    );
}

/// `runsc-rs do ./prog` from a directory under the host's /tmp (a clone of
/// this repository there, say): the directory and the program are found,
/// and what the program writes there stays in the sandbox.
#[test]
fn do_runs_a_program_from_a_directory_under_tmp_and_keeps_its_writes() {
    require!(sandbox());
    let dir = std::path::Path::new("/tmp").join(tests::unique_name("runsc-rs-cwd"));
    std::fs::create_dir_all(&dir).unwrap();
    let script =
        "#!/bin/sh\necho \"in $(pwd)\"\necho made > made\ncat made\nls /tmp | grep -c -x \"$1\"\n";
    let prog = dir.join("prog");
    std::fs::write(&prog, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).unwrap();
    let name = dir.file_name().unwrap().to_str().unwrap().to_string();
    let out = tests::Cmd::new(&["./prog", &name])
        .cwd(&dir)
        .run_sandboxed();
    let leaked = dir.join("made").exists();
    let _ = std::fs::remove_dir_all(&dir);
    out.assert_success();
    assert_eq!(
        out.stdout,
        format!("in {}\nmade\n1\n", dir.display()),
        "{}",
        out.describe()
    );
    assert!(!leaked, "the sandbox's write reached the host's /tmp");
}
