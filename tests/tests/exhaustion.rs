//! Running out of resources, inside the sandbox: descriptors end in
//! EMFILE at RLIMIT_NOFILE, processes in EAGAIN at RLIMIT_NPROC or at the
//! container's pids limit (and the sandbox stays responsive, then goes
//! away whole), a sized tmpfs fills with ENOSPC, and a memory hog under a
//! memory limit dies as the application (137), not as the Sentry.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tests::bundle::{text, Bundle};
use tests::{assert_same, c_program, host_program, require, sandbox, Cmd};

/// 10,000 descriptors then EMFILE; a bounded fork loop as an unprivileged
/// user stops at RLIMIT_NPROC with EAGAIN (tests/programs/exhaustion.c).
#[test]
fn descriptors_and_processes_run_out_at_their_rlimits_as_on_linux() {
    let program = require!(c_program("exhaustion"));
    // A uid nothing else runs as, so the host's count of its processes
    // (RLIMIT_NPROC counts per user) starts at zero.
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path"), "65533"])
        .timeout(Duration::from_secs(120));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "exhaustion fails natively\n{}",
        native.describe()
    );
    require!(sandbox());
    assert_same(&native, &cmd.run_sandboxed());
}

/// A tmpfs of 1 MiB takes 1 MiB of a bigger file, then ENOSPC, in the
/// sandbox as on Linux (there in a mount namespace of its own).
#[test]
fn a_sized_tmpfs_fills_up_with_enospc() {
    let unshare = require!(host_program("/usr/bin/unshare", "util-linux"));
    let dir = tests::scratch_dir().join(tests::unique_name("tmpfs"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let script = format!(
        "mount -t tmpfs -o size=1m tmpfs {d} && \
         dd if=/dev/zero of={d}/f bs=4096 count=1000 2>&1 | grep -o 'No space left on device'; \
         wc -c < {d}/f",
        d = dir.display()
    );
    let native = Cmd::new(&[
        unshare.to_str().expect("path"),
        "-m",
        "/bin/sh",
        "-c",
        &script,
    ])
    .run_native();
    assert_eq!(
        native.stdout,
        "No space left on device\n1048576\n",
        "natively:\n{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = Cmd::new(&["/bin/sh", "-c", &script]).run_sandboxed();
    assert_same(&native, &sandboxed);
    let _ = std::fs::remove_dir(&dir);
}

/// Whether this machine lets the runtime make cgroups with limits.
fn cgroups_writable() -> Result<(), String> {
    let root = Path::new("/sys/fs/cgroup");
    let v2 = root.join("cgroup.controllers").exists();
    let v1 = root.join("memory").is_dir() && root.join("pids").is_dir();
    if nix_is_root() && (v2 || v1) {
        Ok(())
    } else {
        Err(
            "needs root and cgroups (v2, or v1 with memory and pids) to set container limits"
                .into(),
        )
    }
}

fn nix_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A program touching ever more memory (tests/programs/memory_hog.c)
/// under a 64 MiB memory limit: the container ends as runc's does (137:
/// the application was OOM-killed), the Sentry does not panic, and
/// nothing is left behind.
#[test]
fn a_memory_hog_under_a_memory_limit_is_killed_as_the_application() {
    require!(sandbox());
    require!(cgroups_writable());
    let prog = require!(tests::static_c_program("memory_hog"));
    let progs = prog
        .parent()
        .expect("dir")
        .to_str()
        .expect("path")
        .to_string();
    let name = tests::unique_name("oom");
    let b = require!(Bundle::busybox(
        "exhaust-oom",
        &["/progs/memory_hog"],
        |c| {
            c["linux"]["resources"] = json!({"memory": {"limit": 64 << 20, "swap": 64 << 20}});
            c["linux"]["cgroupsPath"] = json!(format!("/runsc-rs-tests/{name}"));
            let m = c["mounts"].as_array_mut().expect("mounts");
            m.push(json!({"destination": "/progs", "type": "bind", "source": progs, "options": ["rbind", "ro"]}));
        }
    ));
    let out = b.runtime(&["run", &name]);
    let (stdout, stderr) = text(&out);
    let _ = b.runtime(&["delete", "--force", &name]);
    assert!(
        !stderr.contains("panicked"),
        "the sandbox panicked:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        out.status.code(),
        Some(137),
        "expected the application's OOM kill (137)\n{stdout}\n{stderr}"
    );
    assert!(
        b.leftover_processes().is_empty(),
        "{:?}",
        b.leftover_processes()
    );
}

/// A fork bomb (bounded: 300 background sleeps) under a pids limit of 32:
/// forks fail inside (EAGAIN, as under runc: the bomb's shell then gives
/// up with "can't fork", so it runs in a subshell while the container's
/// shell sleeps on), and with the limit used up `ps`, `state`, `kill` and
/// `delete` still work and nothing is left.
#[test]
fn a_fork_bomb_is_stopped_by_the_pids_limit_and_the_sandbox_stays_killable() {
    require!(sandbox());
    require!(cgroups_writable());
    let name = tests::unique_name("bomb");
    let b = require!(Bundle::busybox(
        "exhaust-bomb",
        &[
            "sh",
            "-c",
            "(i=0; while [ $i -lt 300 ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null & sleep 1000",
        ],
        |c| {
            c["linux"]["resources"] = json!({"pids": {"limit": 32}});
            c["linux"]["cgroupsPath"] = json!(format!("/runsc-rs-tests/{name}"));
        }
    ));
    let started = b.runtime_detached(&["run", "--detach", &name]);
    assert!(
        started.status.success(),
        "run --detach: {:?}",
        text(&started)
    );
    // The bomb uses the limit up (its subshell gives up at the first
    // failed fork, leaving 31 of the 32 tasks), never more, and the
    // container's shell lives on.
    let processes = || {
        text(&b.runtime(&["ps", &name]))
            .0
            .lines()
            .count()
            .saturating_sub(1)
    };
    let reached = tests::docker::wait_for(Duration::from_secs(60), || processes() >= 30);
    let seen = processes();
    assert!(
        reached,
        "the bomb never reached the limit: {seen} processes"
    );
    assert!(seen <= 32, "{seen} processes under a pids limit of 32");
    let state = b.runtime(&["state", &name]);
    assert!(text(&state).0.contains("running"), "{:?}", text(&state));
    let killed = b.runtime(&["kill", &name, "KILL"]);
    assert!(killed.status.success(), "kill: {:?}", text(&killed));
    let gone = tests::docker::wait_for(Duration::from_secs(30), || {
        text(&b.runtime(&["state", &name])).0.contains("stopped")
    });
    assert!(gone, "the container did not stop after SIGKILL");
    let deleted = b.runtime(&["delete", &name]);
    assert!(deleted.status.success(), "delete: {:?}", text(&deleted));
    assert!(
        b.leftover_processes().is_empty(),
        "{:?}",
        b.leftover_processes()
    );
}
