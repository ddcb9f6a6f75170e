//! Signals sent to `runsc-rs do` reach the sandboxed program (as `docker
//! stop` needs): its handler runs and its exit status comes back.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tests::{require, sandbox};

#[test]
fn sigterm_to_runsc_do_reaches_the_programs_handler() {
    require!(sandbox());
    let mut child = tests::runsc_command()
        .args([
            "do",
            "--",
            "/bin/sh",
            "-c",
            "trap 'echo got TERM; exit 3' TERM; echo ready; while :; do /bin/sleep 0.1; done",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start runsc-rs");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "runsc-rs did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got TERM\n");
    assert_eq!(status.code(), Some(3));
}

/// A program asleep where only a kill wakes it (a vfork parent whose child
/// never execs) still dies of a forwarded SIGTERM without a handler, as
/// on Linux, where a signal that will end the process ends every thread
/// at once. The sandbox used to keep it queued forever, and `do` never
/// ended.
#[test]
fn sigterm_to_runsc_do_ends_a_program_asleep_where_only_a_kill_wakes_it() {
    let program = require!(tests::c_program("vfork_wedge"));
    require!(sandbox());
    let mut child = tests::runsc_command()
        .args(["do", "--", program.to_str().expect("utf-8 path")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start runsc-rs");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // Let the parent reach its vfork wait.
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("runsc-rs did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "", "the vfork parent must not run on");
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
}
