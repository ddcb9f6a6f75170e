//! Load no application may turn into a Sentry crash or hang: stress-ng's
//! stressors with `--verify`, and trinity's random system calls, each as
//! an unprivileged user (nobody, through runuser) inside `runsc-rs do`.
//! After each, a command in the same sandbox still runs, and the debug
//! logs hold no panic.
//!
//! Environment: `RUNSC_STRESS_SECONDS` per stressor (default 3),
//! `RUNSC_TRINITY_SECONDS` for trinity (default 60); docs/security.md
//! ("Robustness") has the long recipe.

use std::path::Path;
use std::time::Duration;

use tests::{c_program, host_program, require, sandbox, Cmd, Output};

/// Stressors of the calls the Sentry serves: processes, memory, signals,
/// IPC, files, pipes, sockets, epoll, timers and clocks.
const STRESSORS: &[&str] = &[
    "cpu", "fork", "clone", "zombie", "vm", "mmap", "mremap", "madvise", "brk", "malloc", "memfd",
    "pipe", "tee", "splice", "switch", "futex", "sem", "shm", "msg", "signal", "sigq", "sigsegv",
    "sigpipe", "kill", "eventfd", "timerfd", "timer", "itimer", "clock", "epoll", "poll", "sock",
    "dir", "dentry", "open", "rename", "link", "symlink", "chmod", "chdir", "hdd", "seek", "fcntl",
    "lockf", "flock", "xattr", "inotify", "procfs", "sysinfo", "get", "yield",
];

fn seconds(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A panic of any sandbox process, from its debug log.
fn panic_in_logs(out: &Output) -> Option<String> {
    let dir = out.log_dir.as_ref()?;
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let text = std::fs::read_to_string(e.path()).ok()?;
        text.lines()
            .find(|l| l.contains("panicked"))
            .map(|l| format!("{}: {l}", e.path().display()))
    })
}

/// Runs `script` under `sh -c` in the sandbox, in /tmp, with debug logs.
fn sandboxed(script: &str, flags: &[&str], limit: Duration) -> Output {
    Cmd::new(&["/bin/sh", "-c", script])
        .cwd(Path::new("/tmp"))
        .flags(flags)
        .timeout(limit)
        .debug_log()
        .run_sandboxed()
}

#[test]
fn stress_ng_stressors_pass_verify_as_nobody_and_the_sentry_lives_on() {
    require!(sandbox());
    require!(host_program("/usr/bin/stress-ng", "stress-ng"));
    let secs = seconds("RUNSC_STRESS_SECONDS", 3);
    let mut failures = Vec::new();
    for s in STRESSORS {
        let script = format!(
            "runuser -u nobody -- stress-ng --{s} 2 --timeout {secs}s --verify --temp-path /tmp; \
             echo stress-ng-exit=$?; echo alive"
        );
        let out = sandboxed(&script, &[], Duration::from_secs(secs * 10 + 60));
        let ok = out.status == 0
            && out.stdout.contains("stress-ng-exit=0\n")
            && out.stdout.ends_with("alive\n");
        if let Some(p) = panic_in_logs(&out) {
            failures.push(format!("{s}: the Sentry panicked: {p}\n{}", out.describe()));
        } else if !ok {
            failures.push(format!("{s}:\n{}", out.describe()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} stressors failed:\n{}",
        failures.len(),
        STRESSORS.len(),
        failures.join("\n")
    );
}

/// trinity as nobody, without network (`--network=none`: its socket calls
/// stay in the sandbox) and without its socket cache (trinity's own
/// set-up crashes when most address families are refused). However
/// trinity ends (by itself, killed at the time limit, or of a fault of its
/// own: its main process has died of SIGSEGV here), the sandbox's shell
/// runs on and the Sentry did not panic.
#[test]
fn trinity_as_nobody_cannot_crash_or_hang_the_sentry() {
    require!(sandbox());
    require!(host_program("/usr/bin/trinity", "trinity"));
    let secs = seconds("RUNSC_TRINITY_SECONDS", 60);
    let script = format!(
        "timeout -s KILL {secs} runuser -u nobody -- trinity -q -l off -C 2 -N 1000000 \
         --disable-fds=sockets >/dev/null 2>&1; echo trinity-exit=$?; echo alive"
    );
    let out = sandboxed(
        &script,
        &["--network=none"],
        Duration::from_secs(secs + 120),
    );
    if let Some(p) = panic_in_logs(&out) {
        panic!("the Sentry panicked under trinity: {p}\n{}", out.describe());
    }
    assert!(
        out.status == 0 && out.stdout.contains("trinity-exit=") && out.stdout.ends_with("alive\n"),
        "the sandbox did not live on after trinity\n{}",
        out.describe()
    );
}

/// Found by trinity: a blocked signal that is ignored by default
/// (SIGCHLD) must stay queued while sigtimedwait waits for it.
#[test]
fn sigtimedwait_takes_blocked_default_ignored_signals_as_on_linux() {
    let program = require!(c_program("sigwait_ignored"));
    let cmd = Cmd::new(&[program.to_str().expect("utf-8 path")]);
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.ends_with("PASS\n"),
        "sigwait_ignored fails natively\n{}",
        native.describe()
    );
    require!(sandbox());
    tests::assert_same(&native, &cmd.run_sandboxed());
}
