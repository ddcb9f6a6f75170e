//! Host files the Gofer serves, looked up many to a directory: after a few
//! lookups one by one, the Sentry lists the directory with every entry's
//! attributes in a few round trips (Treaddirplus) and serves the rest from
//! that listing. What programs see must not change: stat, ls -l, find and
//! reads print what they print natively, misses are still ENOENT, and a
//! file made by the sandbox itself (in its overlay) appears beside the
//! listed ones.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tests::{assert_same, require, sandbox, scratch_dir, Cmd};

/// 300 files of sizes 0..299 and three modes, 20 directories (some with
/// files), symlinks (one dangling, one to a directory), a FIFO, two hard
/// links of one file.
fn make_tree(name: &str) -> PathBuf {
    let dir = scratch_dir().join(format!("host-listing-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for i in 0..300 {
        let f = dir.join(format!("f{i:03}"));
        fs::write(&f, "x".repeat(i)).unwrap();
        let mode = [0o644, 0o600, 0o755][i % 3];
        fs::set_permissions(&f, fs::Permissions::from_mode(mode)).unwrap();
    }
    for i in 0..20 {
        let d = dir.join(format!("d{i:02}"));
        fs::create_dir(&d).unwrap();
        if i % 4 == 0 {
            fs::write(d.join("inner"), format!("inner {i}\n")).unwrap();
        }
    }
    // Long names: a listing of this directory takes several replies.
    let long = dir.join("long");
    fs::create_dir(&long).unwrap();
    for i in 0..400 {
        fs::write(long.join(format!("{i:0>200}")), i.to_string()).unwrap();
    }
    symlink("f007", dir.join("link")).unwrap();
    symlink("does/not/exist", dir.join("dangling")).unwrap();
    symlink("d04", dir.join("dirlink")).unwrap();
    fs::hard_link(dir.join("f010"), dir.join("hard")).unwrap();
    let fifo = std::ffi::CString::new(dir.join("pipe").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o640) }, 0);
    dir
}

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn script(dir: &Path) -> String {
    let names: Vec<String> = (0..300)
        .map(|i| format!("f{i:03}"))
        .chain((0..20).map(|i| format!("d{i:02}")))
        .chain(
            [
                "link", "dangling", "dirlink", "hard", "pipe", "nope", "f300",
            ]
            .iter()
            .map(|s| s.to_string()),
        )
        .collect();
    format!(
        "cd {dir} || exit 9
         # By name, no listing first: the misses must stay misses.
         stat -c '%n %i %s %h %f %u %g %Y %N' {names} 2>&1 | sed 's/^stat: //'
         cat f150 d04/inner link | wc -c
         (cd long && for i in $(seq 100 130); do cat $(printf '%0200d' $i); echo; done; ls | wc -l)
         test -e nope || echo 'nope: absent'
         ls -ln --time-style=+%s . d08
         find . -printf '%p %i %s %y %l %n %m\\n' | sort
         # Whole-directory reads, in name order and in listing order.
         cat f* | cksum
         grep -rc --devices=skip x . | sort | cksum
         tar -cf - --sort=none . 2>/dev/null | tar -tvf - | sort | cksum",
        dir = dir.display(),
        names = names.join(" "),
    )
}

/// Runs the shell `script` natively and sandboxed with a debug log, checks
/// both print the same, and returns the sandbox's log directory and its
/// `boot.log`.
fn same_as_natively(script: &str) -> (tests::Output, String) {
    let cmd = Cmd::new(&["/bin/sh", "-c", script]).timeout(Duration::from_secs(120));
    let native = cmd.run_native();
    native.assert_success();
    let sandboxed = cmd.clone().debug_log().run_sandboxed();
    assert_same(&native, &sandboxed);
    let dir = sandboxed.log_dir.as_ref().expect("debug log requested");
    let boot = fs::read_to_string(dir.join("boot.log")).unwrap_or_default();
    (sandboxed, boot)
}

#[test]
fn many_lookups_in_one_directory_see_what_linux_shows() {
    require!(sandbox());
    let tree = Tree(make_tree("lookups"));
    let (sandboxed, boot) = same_as_natively(&script(&tree.0));
    // The batched listing was used (else this test shows nothing new).
    let dir = sandboxed.log_dir.as_ref().expect("debug log requested");
    assert!(
        boot.contains("listed a directory with attributes (Treaddirplus)"),
        "no Treaddirplus listing in {}\n{}",
        dir.display(),
        sandboxed.describe()
    );
    assert!(
        boot.contains("a directory's files are opened ahead (Topenfds)"),
        "no Topenfds in {}\n{}",
        dir.display(),
        sandboxed.describe()
    );
}

#[test]
fn files_the_sandbox_makes_join_a_batched_listing() {
    require!(sandbox());
    let tree = Tree(make_tree("changes"));
    // In the overlay (the default) the new names live in the Sentry's
    // memory; the listed host names stay beside them, removed ones go.
    let script = format!(
        "cd {dir} || exit 9
         for i in 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19; do test -f f00$i || test -f f0$i; done
         echo new > zz-new && rm f299 && mv f298 zz-moved && mkdir zz-dir
         ls | tail -4; ls | wc -l; cat zz-new; test -e f299 || echo 'f299: gone'",
        dir = tree.0.display()
    );
    let s = Cmd::new(&["/bin/sh", "-c", &script]).run_sandboxed();
    s.assert_success();
    assert_eq!(
        s.stdout,
        "pipe\nzz-dir\nzz-moved\nzz-new\n327\nnew\nf299: gone\n",
        "{}",
        s.describe()
    );
    // The host is unchanged (overlay mode).
    assert!(tree.0.join("f299").exists() && tree.0.join("f298").exists());
    assert!(!tree.0.join("zz-new").exists());
}

/// The requests of type `ty` the debug log's "gofer requests sent" line
/// counts (0 if none were sent).
fn requests_sent(boot_log: &str, ty: u8) -> u64 {
    let line = boot_log
        .lines()
        .rfind(|l| l.contains("gofer requests sent:"))
        .unwrap_or_else(|| panic!("no request counts in the log:\n{boot_log}"));
    let key = format!("T{ty}=");
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&key))
        .map_or(0, |n| n.parse().unwrap())
}

#[test]
fn a_file_opened_again_costs_no_second_round_trip() {
    require!(sandbox());
    let tree = Tree(make_tree("reopen"));
    // Each round execs cat (its binary, the loader's cache, libc) and
    // opens f007 twice, once through a symlink.
    let script = format!(
        "cd {dir} || exit 9
         for i in $(seq 100); do cat f007 link; done | cksum",
        dir = tree.0.display()
    );
    let (sandboxed, boot) = same_as_natively(&script);
    let dir = sandboxed.log_dir.as_ref().expect("debug log requested");
    // Topenfd and Topenfds: the first opens only (each file's descriptor
    // is kept at its last close), where 100 rounds of 5 opens would
    // otherwise cost hundreds.
    let opens = requests_sent(&boot, 202) + requests_sent(&boot, 218);
    assert!(
        opens < 30,
        "{opens} open requests for 100 rounds of the same files ({})",
        dir.display()
    );
}
