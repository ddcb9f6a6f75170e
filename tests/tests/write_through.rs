//! `--overlay=none`: the sandbox writes through the Gofer to the host, and
//! `--file-access=shared`: it sees what the host changes meanwhile. Every
//! test works in a fresh host directory under the target directory.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tests::{require, sandbox, scratch_dir, static_host_program, unique_name, Cmd};

const BUSYBOX: &str = "/bin/busybox";

/// mkdir, write, append, rename, chmod, symlink, hard link, truncate and
/// remove inside `$1`.
const SCRIPT: &str = r#"
set -e
cd "$1"
mkdir -p a/b/c d
echo hello > a/f
echo more >> a/f
printf 'x%.0s' $(seq 1 5000) > a/big
cp a/big a/b/copy
mv a/f a/b/moved
mv d a/b/c/d2
chmod 640 a/b/moved
chmod 711 a/b
ln -s b/moved a/sym
ln -s /nowhere a/dangling
ln a/b/moved a/hard
truncate -s 3 a/hard
echo new > a/hard2
ln a/hard2 a/hard3
rm a/hard2
: > a/empty
mkdir gone && touch gone/x && rm -r gone
mv a/big a/b/c/big
rm a/b/copy
echo done
"#;

/// A fresh directory on the host, removed on drop.
struct HostDir(PathBuf);

impl HostDir {
    fn new(what: &str) -> HostDir {
        let p = scratch_dir().join(unique_name(what));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        HostDir(p)
    }

    fn arg(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file below `root`: its mode, owner, link count, size and, for
/// regular files and symlinks, contents and target.
fn tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mut what = format!(
                "mode={:o} uid={} gid={} nlink={}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.nlink()
            );
            if m.is_file() {
                what += &format!(" size={} data={:?}", m.len(), std::fs::read(&p).unwrap());
            } else if m.is_symlink() {
                what += &format!(" -> {:?}", std::fs::read_link(&p).unwrap());
            } else if m.is_dir() {
                todo.push(p.clone());
            }
            out.insert(rel, what);
        }
    }
    out
}

fn script(dir: &HostDir) -> Cmd {
    Cmd::new(&[BUSYBOX, "sh", "-c", SCRIPT, "sh", &dir.arg()])
}

#[test]
fn write_through_leaves_the_same_tree_as_native() {
    require!(sandbox());
    require!(static_host_program(BUSYBOX, "busybox-static"));
    let native = HostDir::new("wt-native");
    let sandboxed = HostDir::new("wt-sandboxed");
    let n = script(&native).run_native();
    n.assert_success();
    let s = script(&sandboxed)
        .flags(&["--overlay=none"])
        .run_sandboxed();
    s.assert_success();
    assert_eq!(s.stdout, "done\n", "{}", s.describe());
    let (a, b) = (tree(&native.0), tree(&sandboxed.0));
    assert!(a.len() > 10, "{a:#?}");
    assert_eq!(a, b);
}

/// Every entry of `root` (one level) with its user.* attributes.
fn xattr_tree(root: &Path) -> BTreeMap<String, Vec<(String, Vec<u8>)>> {
    std::fs::read_dir(root)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, tests::host_xattrs(&p))
        })
        .collect()
}

/// xattrs.c with `--overlay=none`: the same lines as natively, and the
/// host directory left with the same attributes as the native run left
/// on its copy (Tsetxattrat and Tremovexattrat reach the host).
#[test]
fn xattr_changes_reach_the_host_as_natively() {
    require!(sandbox());
    let program = require!(tests::c_program("xattrs"));
    let prog = program.to_str().unwrap();
    let base = HostDir::new("wt-xattrs");
    let (native, sandboxed) = (base.0.join("native"), base.0.join("sandboxed"));
    tests::xattr_fixture(&native);
    tests::xattr_fixture(&sandboxed);
    let n = Cmd::new(&tests::xattrs_argv(prog, &native)).run_native();
    assert!(n.stdout.ends_with("PASS\n"), "{}", n.describe());
    let s = Cmd::new(&tests::xattrs_argv(prog, &sandboxed))
        .flags(&["--overlay=none"])
        .run_sandboxed();
    tests::assert_same(&n, &s);
    let t = xattr_tree(&native);
    assert!(t.values().any(|a| !a.is_empty()), "{t:#?}");
    assert_eq!(t, xattr_tree(&sandboxed));
}

#[test]
fn the_default_overlay_leaves_the_host_unchanged() {
    require!(sandbox());
    require!(static_host_program(BUSYBOX, "busybox-static"));
    let dir = HostDir::new("wt-overlay");
    std::fs::write(dir.0.join("keep"), b"keep").unwrap();
    let before = tree(&dir.0);
    let s = script(&dir).run_sandboxed();
    s.assert_success();
    assert_eq!(s.stdout, "done\n", "{}", s.describe());
    assert_eq!(tree(&dir.0), before);
}

#[test]
fn tar_extracts_to_the_host_and_rm_removes_it() {
    require!(sandbox());
    require!(static_host_program(BUSYBOX, "busybox-static"));
    let dir = HostDir::new("wt-tar");
    let x = format!("{}/x", dir.arg());
    let extract = format!("mkdir {x} && tar -c -C /usr/share doc | tar -x -C {x} && echo ok");
    let s = Cmd::new(&[BUSYBOX, "sh", "-c", &extract])
        .flags(&["--overlay=none"])
        .timeout(Duration::from_secs(300))
        .run_sandboxed();
    s.assert_success();
    assert_eq!(s.stdout, "ok\n", "{}", s.describe());
    let diff = std::process::Command::new("diff")
        .args(["-r", "--no-dereference", "/usr/share/doc"])
        .arg(dir.0.join("x/doc"))
        .output()
        .unwrap();
    assert!(
        diff.status.success() && diff.stdout.is_empty(),
        "diff -r:\n{}{}",
        String::from_utf8_lossy(&diff.stdout),
        String::from_utf8_lossy(&diff.stderr)
    );
    let s = Cmd::new(&[BUSYBOX, "rm", "-rf", &x])
        .flags(&["--overlay=none"])
        .run_sandboxed();
    s.assert_success();
    assert!(!dir.0.join("x").exists());
}

/// The sandbox reads a file and lists its directory, waits for the host to
/// change both, and looks again.
fn sees_host_changes(flags: &[&str]) {
    let dir = HostDir::new("wt-shared");
    let d = dir.arg();
    std::fs::write(dir.0.join("f"), b"before\n").unwrap();
    let watch = format!(
        "cd {d} && cat f && ls && stat -c %s f && touch ready && \
         while [ ! -e flag ]; do sleep 0.1; done && \
         cat f && ls && stat -c %s f && cat copied && [ ! -e gone ] && echo end"
    );
    std::fs::write(dir.0.join("gone"), b"").unwrap();
    let mut flags = flags.to_vec();
    flags.push("--file-access=shared");
    let cmd = Cmd::new(&[BUSYBOX, "sh", "-c", &watch]).flags(&flags);
    let run = std::thread::spawn(move || cmd.run_sandboxed());
    let start = Instant::now();
    while !dir.0.join("ready").exists() {
        assert!(start.elapsed() < Duration::from_secs(60), "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::write(dir.0.join("f"), b"after, longer\n").unwrap();
    std::fs::write(dir.0.join("copied"), b"docker cp\n").unwrap();
    std::fs::remove_file(dir.0.join("gone")).unwrap();
    std::fs::write(dir.0.join("flag"), b"").unwrap();
    let s = run.join().unwrap();
    s.assert_success();
    assert_eq!(
        s.stdout,
        "before\nf\ngone\n7\nafter, longer\ncopied\nf\nflag\nready\n14\ndocker cp\nend\n",
        "{}",
        s.describe()
    );
}

#[test]
fn shared_file_access_sees_host_changes() {
    require!(sandbox());
    require!(static_host_program(BUSYBOX, "busybox-static"));
    sees_host_changes(&["--overlay=none"]);
}

/// shared_file_map.c in a host directory with `--overlay=none`: MAP_SHARED
/// mappings of a host file, read and write, a child's own mapping and a
/// forked one all see the same bytes as natively, and the files left on
/// the host are the native run's byte for byte (stores written back at
/// msync and at the last munmap).
#[test]
fn shared_file_mappings_reach_the_host_as_natively() {
    require!(sandbox());
    let program = require!(tests::c_program("shared_file_map"));
    let prog = program.to_str().unwrap();
    let native = HostDir::new("wt-map-native");
    let sandboxed = HostDir::new("wt-map-sandboxed");
    let n = Cmd::new(&[prog, &native.arg()]).run_native();
    n.assert_success();
    let s = Cmd::new(&[prog, &sandboxed.arg()])
        .flags(&["--overlay=none"])
        .run_sandboxed();
    s.assert_success();
    tests::assert_same(&n, &s);
    assert!(
        n.stdout.contains("b after a store: 'hello56789'"),
        "{}",
        n.describe()
    );
    for name in ["mapped", "kept"] {
        let a = std::fs::read(native.0.join(name)).unwrap();
        let b = std::fs::read(sandboxed.0.join(name)).unwrap();
        assert!(
            a == b,
            "{name} differs: native {} bytes, sandboxed {}",
            a.len(),
            b.len()
        );
    }
}
