//! The supervisor's conversation with `create`, on a socketpair at a
//! descriptor number both sides know. It has two steps, because the
//! container's network namespace is filled in between:
//!
//! 1. The supervisor enters the container's network namespace and cgroup
//!    and reports ([`Ready`], one JSON line).
//! 2. `create` runs the prestart and createRuntime hooks, which is when
//!    Docker's `libnetwork-setkey` moves the container's veth into that
//!    namespace and gives it its addresses, then says [`GO`].
//! 3. The supervisor starts the Gofer and the Sentry, which takes the
//!    interfaces as it boots, and reports again ([`Ready`]) once the
//!    container is created.
//!
//! runc runs these hooks at the same point: after the namespaces exist,
//! before the container's process is set up.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::RawFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Where the supervisor finds its end of the conversation with `create`.
pub const SUPERVISOR_READY_FD: RawFd = 3;
/// Where the supervisor finds the host terminal for the container's
/// console (process.terminal).
pub const SUPERVISOR_CONSOLE_FD: RawFd = 4;

/// `create`'s word that the hooks have run and the sandbox may start.
pub const GO: &str = "go";

/// What the supervisor reports to `create`, one JSON line per step.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Ready {
    pub error: Option<String>,
    pub cgroups: Vec<PathBuf>,
}

pub fn pipe() -> Result<(std::fs::File, std::fs::File)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
    Ok((std::fs::File::from(r), std::fs::File::from(w)))
}

/// The two ends of the conversation (close-on-exec; the supervisor's is
/// moved to [`SUPERVISOR_READY_FD`]).
pub fn channel() -> Result<(UnixStream, UnixStream)> {
    UnixStream::pair().context("cannot create the supervisor's socketpair")
}

/// Sends one line; the other side may be gone, which it will notice.
pub fn send_line(s: &UnixStream, line: &str) {
    let mut s = s;
    let _ = s.write_all(format!("{line}\n").as_bytes());
}

/// Sends one report.
pub fn send_ready(s: &UnixStream, r: &Ready) {
    send_line(s, &serde_json::to_string(r).unwrap_or_default());
}

/// One line, without its newline; empty when the other side closed.
pub fn read_line(s: &UnixStream) -> String {
    // One byte at a time: a buffered reader could swallow the next line,
    // which the next call must see.
    let mut line = Vec::new();
    let mut r = BufReader::with_capacity(1, s);
    let _ = r.read_until(b'\n', &mut line);
    String::from_utf8_lossy(&line).trim_end().to_string()
}

/// One report; a closed or garbled channel is an error report.
pub fn read_ready(s: &UnixStream) -> Ready {
    let line = read_line(s);
    if line.is_empty() {
        return Ready {
            error: Some("the sandbox supervisor exited during start-up".into()),
            ..Ready::default()
        };
    }
    serde_json::from_str(&line).unwrap_or(Ready {
        error: Some(format!("bad report from the sandbox supervisor: {line}")),
        ..Ready::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_and_go_travel_as_lines_in_order() {
        let (a, b) = channel().unwrap();
        send_ready(
            &a,
            &Ready {
                error: None,
                cgroups: vec!["/sys/fs/cgroup/x".into()],
            },
        );
        send_line(&a, GO);
        send_ready(
            &a,
            &Ready {
                error: Some("no".into()),
                cgroups: Vec::new(),
            },
        );
        let r = read_ready(&b);
        assert_eq!((r.error, r.cgroups.len()), (None, 1));
        assert_eq!(read_line(&b), GO);
        assert_eq!(read_ready(&b).error.as_deref(), Some("no"));
        drop(a);
        assert!(read_ready(&b).error.unwrap().contains("exited"));
    }
}
