//! The host-side lockdown of a running sandbox's two processes, read from
//! the host's /proc: seccomp, no_new_privs, the capability sets, the user
//! and PID namespaces and their id maps, no core dumps, the Sentry's empty
//! root, and a `do` Gofer that serves no host /proc, /sys
//! or /dev. For `do` and for an OCI container (`run`).

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use tests::bundle::{text, Bundle};
use tests::host_proc::{cap_field, comm, parent, status_field};
use tests::{require, sandbox, unique_name};

/// Capability bits (linux/capability.h).
const CHOWN: u64 = 1 << 0;
const DAC_OVERRIDE: u64 = 1 << 1;
const DAC_READ_SEARCH: u64 = 1 << 2;
const FOWNER: u64 = 1 << 3;
const FSETID: u64 = 1 << 4;

/// The environment variable that marks this test's sandbox processes.
const TAG: &str = "RUNSC_RS_LOCKDOWN_TEST";

fn tagged(pid: u32, tag: &str) -> bool {
    let want = format!("{TAG}={tag}");
    std::fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == want.as_bytes()))
}

/// The (Gofer, Sentry) host pids of the sandbox whose processes carry
/// `tag`: the processes so named whose parent is not a Sentry (stubs
/// are forks of the Sentry, with its name).
fn find_processes(tag: &str) -> (u32, u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut gofer = None;
        let mut sentry = None;
        for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let name = comm(pid);
            if !tagged(pid, tag) || comm(parent(pid)) == "runsc-rs-sentry" {
                continue;
            }
            match name.as_str() {
                "runsc-rs-gofer" => gofer = Some(pid),
                "runsc-rs-sentry" => sentry = Some(pid),
                _ => {}
            }
        }
        // Seccomp on both: each has finished its lockdown.
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

fn ns(pid: &str, kind: &str) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).expect("a namespace link")
}

fn id_map(pid: u32, which: &str) -> Vec<Vec<u64>> {
    std::fs::read_to_string(format!("/proc/{pid}/{which}"))
        .expect("an id map")
        .lines()
        .map(|l| l.split_whitespace().map(|n| n.parse().unwrap()).collect())
        .collect()
}

fn core_limit(pid: u32) -> String {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .expect("a core limit line");
    line.split_whitespace()
        .skip(4)
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// What every sandbox process has, whatever it serves.
fn assert_locked(pid: u32, who: &str) {
    assert_eq!(status_field(pid, "Seccomp"), "2", "{who}: seccomp");
    assert_eq!(status_field(pid, "NoNewPrivs"), "1", "{who}: no_new_privs");
    for set in ["CapBnd", "CapInh", "CapAmb"] {
        assert_eq!(cap_field(pid, set), 0, "{who}: {set}");
    }
    assert_eq!(core_limit(pid), "0 0", "{who}: RLIMIT_CORE");
    for kind in ["user", "pid", "ipc", "uts", "mnt"] {
        assert_ne!(
            ns(&pid.to_string(), kind),
            ns("self", kind),
            "{who}: the host's {kind} namespace"
        );
    }
    // The first process of its PID namespace.
    let nspid = status_field(pid, "NSpid");
    assert_eq!(nspid.split_whitespace().last(), Some("1"), "{who}: {nspid}");
}

fn assert_gofer(pid: u32, caps: u64) {
    assert_locked(pid, "the Gofer");
    assert_eq!(cap_field(pid, "CapEff"), caps, "the Gofer's CapEff");
    assert_eq!(cap_field(pid, "CapPrm"), caps, "the Gofer's CapPrm");
    // Every host id served as itself, so owners show as on the host.
    let all = vec![vec![0, 0, u64::from(u32::MAX)]];
    assert_eq!(id_map(pid, "uid_map"), all);
    assert_eq!(id_map(pid, "gid_map"), all);
    assert_ne!(
        ns(&pid.to_string(), "net"),
        ns("self", "net"),
        "the Gofer's network"
    );
}

fn assert_sentry(pid: u32) {
    assert_locked(pid, "the Sentry");
    assert_eq!(cap_field(pid, "CapEff"), 0, "the Sentry's CapEff");
    assert_eq!(cap_field(pid, "CapPrm"), 0, "the Sentry's CapPrm");
    // Its root is nobody on the host; no host root is mapped.
    assert_eq!(id_map(pid, "uid_map"), vec![vec![0, 65534, 1]]);
    assert_eq!(id_map(pid, "gid_map"), vec![vec![0, 65534, 1]]);
    assert_eq!(status_field(pid, "Uid"), "65534\t65534\t65534\t65534");
    // Not the supplementary groups of whoever started it (the `do` test
    // starts it with host groups 0 and 4).
    assert_eq!(status_field(pid, "Groups"), "", "the Sentry's groups");
    let root: Vec<_> = std::fs::read_dir(format!("/proc/{pid}/root"))
        .expect("the Sentry's root")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(root.is_empty(), "the Sentry's root holds {root:?}");
}

/// Kills a `do` and waits for it; its sandbox dies with it.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn do_processes_are_locked_down() {
    require!(sandbox());
    let tag = unique_name("do");
    let mut cmd = tests::runsc_command();
    // SAFETY: setgroups only changes the forked child's credentials before
    // it execs; it allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            let groups = [0, 4];
            if libc::geteuid() == 0 && libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .args(["do", "sleep", "600"])
        .env(TAG, &tag)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("runsc-rs do");
    let _reaped = Reaped(child);
    let (gofer, sentry) = find_processes(&tag);
    // `do` serves the root read-only under its overlay: reading any file
    // is all the Gofer does.
    assert_gofer(gofer, DAC_READ_SEARCH);
    assert_sentry(sentry);
    // The host root it serves, without the host's kernel interfaces.
    let served = PathBuf::from(format!("/proc/{gofer}/root"));
    assert!(served.join("etc").is_dir(), "the Gofer does not serve /");
    // What is left at each is the root filesystem's own directory (and
    // whatever it holds beneath the host's mount): nothing of another
    // filesystem, down to the second level (/dev/pts, /sys/fs/cgroup).
    let root_dev = std::fs::metadata(&served).expect("the served root").dev();
    for tree in ["proc", "sys", "dev"] {
        let top = served.join(tree);
        let mut paths = vec![top.clone()];
        for e in std::fs::read_dir(&top).into_iter().flatten().flatten() {
            paths.push(e.path());
            for e in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                paths.push(e.path());
            }
        }
        for p in paths {
            let dev = std::fs::symlink_metadata(&p).expect("an entry").dev();
            assert_eq!(
                dev,
                root_dev,
                "the Gofer serves a host mount at {}",
                p.display()
            );
        }
    }
}

#[test]
fn container_processes_are_locked_down() {
    require!(sandbox());
    let b = require!(Bundle::busybox("lockdown", &["sleep", "600"], |_| {}));
    let tag = unique_name("run");
    for (overlay, caps) in [
        ("memory", DAC_READ_SEARCH),
        // Writes reach the host: the Gofer changes files of any owner.
        ("none", CHOWN | DAC_OVERRIDE | FOWNER | FSETID),
    ] {
        let id = format!("c-{overlay}");
        let mut cmd = b.runtime_cmd(&[&format!("--overlay={overlay}"), "run", "--detach", &id]);
        let o = cmd
            .env(TAG, &tag)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("runsc-rs run");
        assert!(o.success(), "run --detach {id}");
        let (gofer, sentry) = find_processes(&tag);
        assert_gofer(gofer, caps);
        assert_sentry(sentry);
        let o = b.runtime(&["delete", "--force", &id]);
        assert!(o.status.success(), "delete: {:?}", text(&o));
        let deadline = Instant::now() + Duration::from_secs(20);
        for pid in [sentry, gofer] {
            while std::fs::metadata(format!("/proc/{pid}")).is_ok() {
                assert!(Instant::now() < deadline, "{pid} outlived delete");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
