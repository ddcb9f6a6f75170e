//! Go programs that start child processes, and one serving a Unix socket: Go's runtime mixes threads
//! parked on futexes, a netpoller asleep in epoll_wait, SIGCHLD and
//! SIGURG, clone(CLONE_VFORK) and wait4, the mix in which a lost wake-up
//! hung `go build` under runsc-rs (issue 17). Each program runs natively
//! once and then many times in the sandbox, every run with a timeout:
//! one hang fails the test.

use std::time::Duration;

use tests::{assert_same, go_program, require, sandbox, scratch_dir, Cmd};

/// The program: `go build` in a child, then the program built.
/// 50 runs in a row.
#[test]
fn go_program_running_go_build_in_a_child_never_hangs_in_50_runs() {
    let prog = require!(go_program("spawn_build"));
    let cache = scratch_dir().join("go-cache");
    let cmd = Cmd::new(&[prog.to_str().expect("utf-8 path")])
        .env("HOME", "/tmp")
        .env("GOCACHE", &cache.to_string_lossy())
        .timeout(Duration::from_secs(60));
    let native = cmd.run_native();
    assert_eq!(
        native.stdout,
        "build: \"\" <nil>\nrun: \"hi\\n\" <nil>\n",
        "the program fails natively\n{}",
        native.describe()
    );
    require!(sandbox());
    for run in 1..=50 {
        let sandboxed = cmd.run_sandboxed();
        if sandboxed.status != native.status || sandboxed.stdout != native.stdout {
            eprintln!("run {run} of 50 differs");
            assert_same(&native, &sandboxed);
        }
    }
}

/// A program that runs its own executable again as a child, 100 times.
#[test]
fn go_program_re_executing_itself_100_times_reaps_every_child() {
    let prog = require!(go_program("self_exec"));
    let cmd =
        Cmd::new(&[prog.to_str().expect("utf-8 path"), "100"]).timeout(Duration::from_secs(300));
    let native = cmd.run_native();
    assert_eq!(
        native.stdout,
        "100 of 100 children ran and were reaped\n",
        "{}",
        native.describe()
    );
    require!(sandbox());
    let sandboxed = cmd.run_sandboxed();
    assert_same(&native, &sandboxed);
}

/// Go's net package on Unix sockets (non-blocking sockets in the
/// netpoller, accept4, deadlines): 20 goroutines x 50 echoed lines, a
/// read deadline, a datagram pair and SCM_RIGHTS; 10 runs, each against
/// the native output.
#[test]
fn go_unix_socket_echo_server_matches_linux_in_10_runs() {
    let prog = require!(go_program("unix_echo"));
    let cmd = Cmd::new(&[prog.to_str().expect("utf-8 path")])
        .env("TMPDIR", "/tmp")
        .timeout(Duration::from_secs(60));
    let native = cmd.run_native();
    assert!(
        native.status == 0 && native.stdout.contains("20 of 20 clients"),
        "the program fails natively\n{}",
        native.describe()
    );
    require!(sandbox());
    for run in 1..=10 {
        let sandboxed = cmd.run_sandboxed();
        if sandboxed.status != native.status || sandboxed.stdout != native.stdout {
            eprintln!("run {run} of 10 differs");
            assert_same(&native, &sandboxed);
        }
    }
}

/// syscall.Exec from a goroutine on a thread other than the main one,
/// with goroutines asleep on a pipe, timers and channels: the new image
/// runs under the same pid (issue 22: this hung the sandbox). 10 runs.
#[test]
fn go_program_executing_from_a_goroutine_keeps_its_pid_in_10_runs() {
    let prog = require!(go_program("goroutine_exec"));
    let cmd = Cmd::new(&[prog.to_str().expect("utf-8 path")]).timeout(Duration::from_secs(60));
    let native = cmd.run_native();
    assert_eq!(
        native.stdout,
        "new image: same pid true, exec came from another thread true\nthreads listed: true\n",
        "the program fails natively\n{}",
        native.describe()
    );
    require!(sandbox());
    for run in 1..=10 {
        let sandboxed = cmd.run_sandboxed();
        if sandboxed.status != native.status || sandboxed.stdout != native.stdout {
            eprintln!("run {run} of 10 differs");
            assert_same(&native, &sandboxed);
        }
    }
}
