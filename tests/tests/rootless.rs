//! Rootless sandboxes: `runsc-rs --rootless do` and `--rootless run` as
//! ordinary users, with no privilege but newuidmap/newgidmap. Two users:
//! `runsc-rs-rootless` (made here if missing, with a subordinate id range
//! in /etc/subuid and /etc/subgid, so its namespace is mapped through
//! newuidmap) and `nobody` (no range: a single-id map). For each: the
//! command runs as root inside on the host's root, prints what it prints
//! natively and exits as it does natively; a write to the host root is
//! refused; the sandbox's processes are as locked down as root's; nothing
//! is left once it is over.
//!
//! The test itself runs as root (to make the user and to look at the
//! sandbox's processes); the runtime it tests never does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tests::bundle::{text, Bundle};
use tests::host_proc::{cap_field, comm, status_field};
use tests::{c_program, host_program, require, sandbox, scratch_dir, unique_name};

/// The test user with subordinate ids.
const USER: &str = "runsc-rs-rootless";
/// Its subordinate range (high, so as not to meet ranges useradd hands
/// out from 100000 on).
const SUB_START: u32 = 2_000_000_000;
const SUB_COUNT: u32 = 65_536;
/// nobody: no subordinate ids.
const NOBODY: u32 = 65_534;
/// The id the Sentry runs as inside the rootless namespace, when mapped.
const SENTRY_ID: u32 = 65_534;

/// Marks this test's sandbox processes (every one inherits it).
const TAG: &str = "RUNSC_RS_ROOTLESS_TEST";

/// CAP_DAC_READ_SEARCH (linux/capability.h).
const DAC_READ_SEARCH: u64 = 1 << 2;

const TIMEOUT_SECS: &str = "300";

/// The prefix of the directory holding the users' files.
const USERS_DIR: &str = "rootless-users";

/// An unprivileged user and what the test gave it.
#[derive(Clone, Debug)]
struct User {
    uid: u32,
    gid: u32,
    /// Its subordinate range's first host id, if it has one.
    sub_start: Option<u32>,
    /// A directory of its own: its $XDG_RUNTIME_DIR.
    home: PathBuf,
    /// The runtime binary, where the user may run it.
    bin: PathBuf,
}

/// Everything the rootless tests need, made once: the users, a copy of
/// the binary every user may run.
fn users() -> Result<(User, User), String> {
    static USERS: OnceLock<Result<(User, User), String>> = OnceLock::new();
    USERS.get_or_init(make_users).clone()
}

fn make_users() -> Result<(User, User), String> {
    let runsc = sandbox()?;
    if !nix::unistd::geteuid().is_root() {
        return Err("the rootless tests run as root (they make a test user)".into());
    }
    host_program("/usr/bin/newuidmap", "uidmap")?;
    host_program("/usr/bin/newgidmap", "uidmap")?;
    host_program("/usr/bin/setpriv", "util-linux")?;
    host_program("/usr/sbin/useradd", "passwd")?;
    if nix::unistd::User::from_name(USER).ok().flatten().is_none() {
        run_root(&[
            "useradd",
            "--system",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            USER,
        ])?;
    }
    let listed = |file: &str| {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .any(|l| l.starts_with(&format!("{USER}:{SUB_START}:")))
    };
    if !listed("/etc/subuid") || !listed("/etc/subgid") {
        let range = format!("{SUB_START}-{}", SUB_START + SUB_COUNT - 1);
        run_root(&[
            "usermod",
            "--add-subuids",
            &range,
            "--add-subgids",
            &range,
            USER,
        ])?;
    }
    let pw = nix::unistd::User::from_name(USER)
        .ok()
        .flatten()
        .ok_or("the test user is missing")?;
    // A directory every user may enter, holding a copy of the binary
    // (the build's may sit under directories only root may enter). Those
    // of earlier runs go first (named by the pid of a test process gone).
    remove_stale_dirs();
    let dir = scratch_dir().join(unique_name(USERS_DIR));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    chmod(&dir, 0o755)?;
    for d in dir.ancestors() {
        let mode = std::fs::metadata(d)
            .map_err(|e| e.to_string())?
            .permissions()
            .mode();
        if mode & 0o001 == 0 {
            return Err(format!("{} is not searchable by other users", d.display()));
        }
    }
    let bin = dir.join("runsc-rs");
    std::fs::copy(&runsc, &bin).map_err(|e| e.to_string())?;
    chmod(&bin, 0o755)?;
    let user = |name: &str, uid: u32, gid: u32, sub_start: Option<u32>| -> Result<User, String> {
        let home = dir.join(name);
        std::fs::create_dir(&home).map_err(|e| e.to_string())?;
        chmod(&home, 0o700)?;
        nix::unistd::chown(&home, Some(uid.into()), Some(gid.into())).map_err(|e| e.to_string())?;
        Ok(User {
            uid,
            gid,
            sub_start,
            home,
            bin: bin.clone(),
        })
    };
    Ok((
        user("subids", pw.uid.as_raw(), pw.gid.as_raw(), Some(SUB_START))?,
        user("nobody", NOBODY, NOBODY, None)?,
    ))
}

/// Removes the `rootless-users-PID-...` directories of test processes that
/// have ended.
fn remove_stale_dirs() {
    for e in std::fs::read_dir(scratch_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(&format!("{USERS_DIR}-"))
            .and_then(|r| r.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

fn chmod(p: &Path, mode: u32) -> Result<(), String> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", p.display()))
}

fn run_root(argv: &[&str]) -> Result<(), String> {
    let o = Command::new(argv[0])
        .args(&argv[1..])
        .output()
        .map_err(|e| format!("{}: {e}", argv[0]))?;
    if !o.status.success() {
        return Err(format!(
            "{argv:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

impl User {
    /// `argv` run as this user (no supplementary groups), in `cwd`, with
    /// a small environment, under a time limit.
    fn command(&self, argv: &[&str], cwd: &Path, tag: &str) -> Command {
        let mut c = Command::new("timeout");
        c.args(["-k", "5", TIMEOUT_SECS, "setpriv"])
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .args(["--clear-groups", "--", "env"])
            // The tag goes to the user's processes only, not to `timeout`.
            .arg(format!("{TAG}={tag}"))
            .args(argv)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("LC_ALL", "C")
            .env("XDG_RUNTIME_DIR", &self.home)
            .stdin(Stdio::null());
        c
    }

    /// `runsc-rs FLAGS --rootless do -- CMD` as this user.
    fn sandboxed(&self, flags: &[&str], cmd: &[&str], tag: &str) -> Output {
        let bin = self.bin.to_string_lossy().into_owned();
        let mut argv: Vec<&str> = vec![&bin];
        argv.extend_from_slice(flags);
        argv.extend(["--rootless", "do", "--"]);
        argv.extend_from_slice(cmd);
        self.command(&argv, Path::new("/"), tag)
            .output()
            .expect("runsc-rs do")
    }

    fn native(&self, cmd: &[&str]) -> Output {
        self.command(cmd, Path::new("/"), "native")
            .output()
            .expect("a native run")
    }

    /// The state directory the runtime picks without --root.
    fn state_dir(&self) -> PathBuf {
        self.home.join("runsc-rs")
    }
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn describe(o: &Output) -> String {
    let (stdout, stderr) = text(o);
    format!(
        "status {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        o.status
    )
}

/// Host pids of processes whose environment carries `tag`.
fn tagged(tag: &str) -> Vec<u32> {
    let want = format!("{TAG}={tag}");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
        })
        .collect()
}

/// Waits until no process carries `tag` (they end as the sandbox does).
fn assert_none_left(tag: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = tagged(tag);
        if left.is_empty() {
            return;
        }
        let names: Vec<String> = left.iter().map(|p| format!("{p} {}", comm(*p))).collect();
        assert!(Instant::now() < deadline, "left running: {names:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ns(pid: &str, kind: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).expect("a namespace link")
}

/// What `do` gives an ordinary user: root inside, the host's files, the
/// program's own output and exit status.
fn do_as(user: &User) {
    let tag = unique_name("do");
    let sandboxed = |flags: &[&str], cmd: &[&str]| user.sandboxed(flags, cmd, &tag);

    let o = sandboxed(&[], &["id", "-u"]);
    assert_eq!(
        (o.status.code(), out(&o).as_str()),
        (Some(0), "0\n"),
        "{}",
        describe(&o)
    );
    let o = sandboxed(&[], &["id", "-g"]);
    assert_eq!(out(&o), "0\n", "{}", describe(&o));

    let o = sandboxed(&[], &["cat", "/etc/os-release"]);
    let host = std::fs::read_to_string("/etc/os-release").expect("/etc/os-release");
    assert_eq!(out(&o), host, "{}", describe(&o));

    // A pipeline and a C program, natively (as the same user) and
    // sandboxed.
    let pipeline = [
        "sh",
        "-c",
        "seq 1 2000 | sort -r | head -5 | tr 9 x; exit 3",
    ];
    let fork_wait = c_program("fork_wait").expect("fork_wait");
    let prog = user.home.join("fork_wait");
    std::fs::copy(&fork_wait, &prog).expect("copy fork_wait");
    chmod(&prog, 0o755).unwrap();
    let prog = prog.to_string_lossy().into_owned();
    for cmd in [&pipeline[..], &[prog.as_str()][..]] {
        let native = user.native(cmd);
        let boxed = sandboxed(&[], cmd);
        assert_eq!(
            (native.status.code(), out(&native)),
            (boxed.status.code(), out(&boxed)),
            "{cmd:?} natively and sandboxed\nnative: {}\nsandboxed: {}",
            describe(&native),
            describe(&boxed)
        );
    }

    // Exit statuses pass through, death by a signal as 128+N.
    let o = sandboxed(&[], &["sh", "-c", "exit 42"]);
    assert_eq!(o.status.code(), Some(42), "{}", describe(&o));
    let o = sandboxed(&[], &["sh", "-c", "kill -9 $$"]);
    assert_eq!(o.status.code(), Some(137), "{}", describe(&o));

    // Root inside is not root on the host: a write to the host's root is
    // refused when writes reach the host, and stays in the sandbox's
    // memory under the default overlay.
    let probe = format!("/rootless-probe-{}", std::process::id());
    let o = sandboxed(
        &["--overlay=none"],
        &["sh", "-c", &format!("echo x > {probe}")],
    );
    assert_ne!(o.status.code(), Some(0), "{}", describe(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Permission denied"),
        "{}",
        describe(&o)
    );
    let o = sandboxed(
        &[],
        &["sh", "-c", &format!("echo x > {probe} && cat {probe}")],
    );
    assert_eq!(out(&o), "x\n", "{}", describe(&o));
    assert!(!Path::new(&probe).exists(), "{probe} reached the host");

    // The sandbox's own stack works without root too.
    let o = sandboxed(&["--network=none"], &["cat", "/proc/net/dev"]);
    assert!(out(&o).contains("lo:"), "{}", describe(&o));

    // Nothing left running (`do` keeps no state).
    assert_none_left(&tag);
}

#[test]
fn rootless_do_with_subordinate_ids() {
    let (user, _) = require!(users());
    do_as(&user);
}

#[test]
fn rootless_do_with_a_single_id_map() {
    let (_, nobody) = require!(users());
    do_as(&nobody);
}

/// Kills a running `do` and waits for it.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The (Gofer, Sentry) of the sandbox tagged `tag`, once both have their
/// seccomp filter on.
fn find_processes(tag: &str) -> (u32, u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut gofer = None;
        let mut sentry = None;
        for pid in tagged(tag) {
            let parent: u32 = status_field(pid, "PPid").parse().unwrap_or(0);
            // Stubs are the Sentry's children, and carry its name.
            if comm(parent) == "runsc-rs-sentry" {
                continue;
            }
            match comm(pid).as_str() {
                "runsc-rs-gofer" => gofer = Some(pid),
                "runsc-rs-sentry" => sentry = Some(pid),
                _ => {}
            }
        }
        if let (Some(g), Some(s)) = (gofer, sentry) {
            if status_field(g, "Seccomp") == "2" && status_field(s, "Seccomp") == "2" {
                return (g, s);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no sandbox processes tagged {tag}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The lockdown of a rootless sandbox, read from the host while `sleep`
/// runs in it: as in root mode, and no process of it is host root.
fn locked_down_as(user: &User) {
    let tag = unique_name("lockdown");
    let bin = user.bin.to_string_lossy().into_owned();
    let child = user
        .command(
            &[&bin, "--rootless", "do", "sleep", "600"],
            Path::new("/"),
            &tag,
        )
        .stdout(Stdio::null())
        .spawn()
        .expect("runsc-rs do");
    let reaped = Reaped(child);
    let (gofer, sentry) = find_processes(&tag);
    for (pid, who) in [(gofer, "the Gofer"), (sentry, "the Sentry")] {
        assert_eq!(status_field(pid, "Seccomp"), "2", "{who}: seccomp");
        assert_eq!(status_field(pid, "NoNewPrivs"), "1", "{who}: no_new_privs");
        for set in ["CapBnd", "CapInh", "CapAmb"] {
            assert_eq!(cap_field(pid, set), 0, "{who}: {set}");
        }
        for kind in ["user", "pid", "ipc", "uts", "mnt"] {
            assert_ne!(
                ns(&pid.to_string(), kind),
                ns("self", kind),
                "{who}: host {kind} namespace"
            );
        }
        let nspid = status_field(pid, "NSpid");
        assert_eq!(nspid.split_whitespace().last(), Some("1"), "{who}: {nspid}");
    }
    assert_eq!(cap_field(sentry, "CapEff"), 0, "the Sentry's CapEff");
    assert_eq!(cap_field(sentry, "CapPrm"), 0, "the Sentry's CapPrm");
    assert_eq!(
        cap_field(gofer, "CapEff"),
        DAC_READ_SEARCH,
        "the Gofer's CapEff"
    );
    // The Sentry runs as a subordinate id that owns nothing on the host,
    // or, with no range, as the caller itself; never as host root.
    let sentry_uid = user.sub_start.map_or(user.uid, |s| s + SENTRY_ID - 1);
    let uids = status_field(sentry, "Uid");
    assert_eq!(
        uids,
        format!("{sentry_uid}\t{sentry_uid}\t{sentry_uid}\t{sentry_uid}"),
        "the Sentry's host uids"
    );
    // Every process of the sandbox: the caller's ids or its range.
    for pid in tagged(&tag) {
        let uid: u32 = status_field(pid, "Uid")
            .split_whitespace()
            .next()
            .and_then(|u| u.parse().ok())
            .unwrap_or(0);
        let allowed = uid == user.uid
            || user
                .sub_start
                .is_some_and(|s| (s..s + SUB_COUNT).contains(&uid));
        assert!(allowed, "{} ({pid}) runs as host uid {uid}", comm(pid));
    }
    // The host's own /proc, /sys and /dev are not served: the host's
    // mounts are locked together in the rootless namespace, so each is
    // hidden under an empty directory.
    for tree in ["proc", "sys", "dev"] {
        let dir = PathBuf::from(format!("/proc/{gofer}/root/{tree}"));
        let entries = std::fs::read_dir(&dir)
            .map(|d| d.count())
            .unwrap_or(usize::MAX);
        assert_eq!(entries, 0, "the Gofer serves {}", dir.display());
    }
    // SIGKILL of the caller's `runsc-rs` ends everything: the inner
    // command by its parent-death signal, the sandbox with it.
    let outer = tagged(&tag)
        .into_iter()
        .find(|p| comm(*p) == "runsc-rs")
        .expect("the caller's runsc-rs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(outer as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill");
    assert_none_left(&tag);
    drop(reaped);
}

#[test]
fn rootless_sandbox_is_locked_down_with_subordinate_ids() {
    let (user, _) = require!(users());
    locked_down_as(&user);
}

#[test]
fn rootless_sandbox_is_locked_down_with_a_single_id_map() {
    let (_, nobody) = require!(users());
    locked_down_as(&nobody);
}

/// `--rootless run` of a busybox bundle the user owns: root inside, exit
/// status passed on, state under $XDG_RUNTIME_DIR, a cgroup skipped when
/// the user may not make it (and refused when the spec sets limits);
/// then `run --detach`, `state`, `kill` and `delete` as the same user.
#[test]
fn rootless_run_of_a_bundle_the_user_owns() {
    let (user, _) = require!(users());
    let script = "id -u; id -g; echo hello > /tmp/f; cat /tmp/f; exit 3";
    let b = require!(Bundle::busybox("rootless", &["sh", "-c", script], |c| {
        c["linux"]["cgroupsPath"] = "/runsc-rs-rootless-test".into();
    }));
    let owner = format!("{}:{}", user.uid, user.gid);
    run_root(&["chown", "-R", &owner, &b.dir.to_string_lossy()]).expect("chown the bundle");
    let tag = unique_name("run");
    let bin = user.bin.to_string_lossy().into_owned();
    let runtime = |args: &[&str]| {
        let mut argv: Vec<&str> = vec![&bin];
        argv.extend_from_slice(args);
        user.command(&argv, &b.dir, &tag)
            .output()
            .expect("runsc-rs")
    };

    let o = runtime(&["--rootless", "run", "c1"]);
    assert_eq!(
        (o.status.code(), out(&o).as_str()),
        (Some(3), "0\n0\nhello\n"),
        "{}",
        describe(&o)
    );
    assert_none_left(&tag);
    let left: Vec<_> = std::fs::read_dir(user.state_dir())
        .expect("the state directory under $XDG_RUNTIME_DIR")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the state directory: {left:?}");

    // Limits it cannot apply are an error, not silently dropped (unless
    // this user may write the cgroup tree).
    let cgroups_writable =
        nix::unistd::access("/sys/fs/cgroup", nix::unistd::AccessFlags::W_OK).is_ok();
    let mut limited: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.dir.join("config.json")).unwrap()).unwrap();
    limited["linux"]["resources"] = serde_json::json!({"memory": {"limit": 268435456}});
    let plain = std::fs::read_to_string(b.dir.join("config.json")).unwrap();
    std::fs::write(b.dir.join("config.json"), limited.to_string()).unwrap();
    let o = runtime(&["--rootless", "run", "c2"]);
    std::fs::write(b.dir.join("config.json"), plain).unwrap();
    if !cgroups_writable {
        assert_eq!(o.status.code(), Some(1), "{}", describe(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("cgroup"),
            "{}",
            describe(&o)
        );
    }
    assert_none_left(&tag);

    // A detached container, looked after by the same user without
    // --rootless (auto: not root).
    let mut sleeping: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.dir.join("config.json")).unwrap()).unwrap();
    sleeping["process"]["args"] = serde_json::json!(["sleep", "600"]);
    std::fs::write(b.dir.join("config.json"), sleeping.to_string()).unwrap();
    let o = user
        .command(&[&bin, "run", "--detach", "c3"], &b.dir, &tag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run --detach");
    assert!(o.success(), "run --detach: {o:?}");
    assert!(
        user.state_dir().join("c3").is_dir(),
        "no state under $XDG_RUNTIME_DIR"
    );
    let o = runtime(&["state", "c3"]);
    assert!(out(&o).contains("\"running\""), "{}", describe(&o));
    let o = runtime(&["kill", "c3", "KILL"]);
    assert!(o.status.success(), "{}", describe(&o));
    let o = runtime(&["delete", "--force", "c3"]);
    assert!(o.status.success(), "{}", describe(&o));
    assert_none_left(&tag);
    assert!(!user.state_dir().join("c3").exists(), "state left behind");
}
