//! Waiting for a sandbox: it ends when either of its processes does.

use anyhow::{bail, Result};

use super::launch::Launched;

/// Waits for whichever of the two ends first and returns the sandbox's
/// exit code; if the Gofer dies first, the Sentry is killed and that is an
/// error.
pub fn wait_sandbox(l: Launched) -> Result<u8> {
    // Our ends of the user namespace sockets stay open until we return.
    let Launched {
        mut gofer,
        mut boot,
        userns: _userns,
    } = l;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to status.
        let pid = unsafe { libc::waitpid(-1, &mut status, 0) };
        if pid < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            let _ = boot.kill();
            let _ = gofer.kill();
            bail!("waiting for the sandbox: {e}");
        }
        if pid == boot.id() as i32 {
            let _ = gofer.kill();
            let _ = gofer.wait();
            return Ok(code_of(status));
        }
        if pid == gofer.id() as i32 {
            // A Gofer that ends cleanly saw the Sentry close its connection:
            // the Sentry is exiting, so its status is the sandbox's. Its
            // exit still reaps every stub and ends every socket, which took
            // over 5 s on a loaded 2-CPU machine (inet_sockets.c's thousand
            // connections); past the bound it counts as wedged.
            if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
                while std::time::Instant::now() < deadline {
                    if let Some(st) = boot.try_wait()? {
                        return Ok(st.code().map(|c| c as u8).unwrap_or_else(|| {
                            use std::os::unix::process::ExitStatusExt;
                            128u8.wrapping_add(st.signal().unwrap_or(0) as u8)
                        }));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
            let _ = boot.kill();
            let _ = boot.wait();
            bail!(
                "the Gofer died ({}); the sandbox was stopped",
                describe_status(status)
            );
        }
    }
}

/// A shell-style exit code: the exit status, or 128+N for death by signal N.
pub fn code_of(status: i32) -> u8 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status) as u8
    } else if libc::WIFSIGNALED(status) {
        128u8.wrapping_add(libc::WTERMSIG(status) as u8)
    } else {
        125
    }
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit status {}", libc::WEXITSTATUS(status))
    } else {
        format!("killed by signal {}", libc::WTERMSIG(status))
    }
}
