//! Seeing a stuck sandbox: the Sentry's task dump names each task's
//! blocking call, what it sleeps on and its signals. A `do` sandbox writes
//! it to stderr on SIGPWR; a container's comes from `runsc-rs debug
//! --stacks ID` (tests/tests/oci.rs has the container lifecycle).

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tests::{require, sandbox};

/// The pid of the process named `comm` whose parent is `parent`.
fn child_named(parent: u32, comm: &str) -> Option<i32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: i32 = e.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
        // pid (comm) state ppid ...
        let after = &stat[stat.rfind(')')? + 2..];
        let ppid: u32 = after.split_whitespace().nth(1)?.parse().ok()?;
        let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (ppid == parent && name.trim() == comm).then_some(pid)
    })
}

/// A shell waiting for `cat`, which waits for input that never comes: the
/// dump shows the shell in wait4 on a child and cat in read of fd 0.
#[test]
fn sigpwr_makes_the_sentry_dump_each_tasks_blocking_call() {
    require!(sandbox());
    let mut child = tests::runsc_command()
        .args(["do", "--", "/bin/sh", "-c", "/bin/cat; echo done"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start runsc-rs");
    let stdin = child.stdin.take();
    let err = Arc::new(Mutex::new(String::new()));
    let reader = {
        let err = err.clone();
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut b = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut b) {
                if n == 0 {
                    break;
                }
                err.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&b[..n]));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let sentry = loop {
        if let Some(p) = child_named(child.id(), "runsc-rs-sentry") {
            break p;
        }
        assert!(Instant::now() < deadline, "no Sentry process found");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Both tasks asleep in their calls, each dump taken until they are.
    let mut dump = String::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: kill only sends a signal to our own sandbox's Sentry.
        unsafe { libc::kill(sentry, libc::SIGPWR) };
        std::thread::sleep(Duration::from_millis(200));
        dump = err.lock().unwrap().clone();
        let last = dump.rsplit("runsc-rs: task dump\n").next().unwrap_or("");
        if last.contains("(sh) in wait4(") && last.contains("(cat) in read(0x0") {
            dump = last.to_string();
            break;
        }
    }
    drop(stdin);
    let status = child.wait().expect("wait for runsc-rs");
    let _ = reader.join();
    assert!(
        status.success(),
        "the sandbox did not end cleanly: {status}"
    );
    let line = |what: &str| {
        dump.lines()
            .find(|l| l.contains(what))
            .unwrap_or_else(|| panic!("no task {what} in the dump:\n{dump}"))
            .to_string()
    };
    let sh = line("(sh) in wait4(");
    assert!(
        sh.contains("asleep") && sh.contains("on a child's state change"),
        "{dump}"
    );
    let cat = line("(cat) in read(0x0");
    assert!(cat.contains("asleep"), "{dump}");
    assert!(dump.starts_with("2 processes\n"), "{dump}");
}
