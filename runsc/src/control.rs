//! The control socket: how `start`, `kill`, `ps` and `exec` reach a running
//! Sentry. One JSON request line, one JSON reply line per connection.
//!
//! The supervisor binds the socket in the container's state directory and
//! hands the listening descriptor to the Sentry, which accepts on it (it
//! can no longer reach any host path itself). The socket file is 0600 and
//! the state directory root's: only root talks to a sandbox.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Run the container's process (once).
    Start,
    /// Send `signal` to the container's init, or to every process.
    Signal { signal: i32, all: bool },
    /// List the sandbox's processes.
    Ps,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<Process>,
}

/// A process of the sandbox, as `ps` shows it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub comm: String,
    pub cmdline: String,
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::default()
    }

    pub fn error(e: impl std::fmt::Display) -> Reply {
        Reply {
            error: Some(e.to_string()),
            ..Reply::default()
        }
    }
}

/// A path to `name` inside `dir` that fits in sun_path whatever the
/// length of `dir` (Docker's state directories pass 108 bytes): the
/// directory is opened and named through /proc/self/fd.
fn short_path(dir: &Path, name: &str) -> Result<(OwnedFd, String)> {
    let d = nix::fcntl::open(
        dir,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("cannot open {}", dir.display()))?;
    let p = format!("/proc/self/fd/{}/{name}", d.as_raw_fd());
    Ok((d, p))
}

/// Binds the control socket of the container whose state is in `dir`.
pub fn bind(dir: &Path) -> Result<UnixListener> {
    let (_d, p) = short_path(dir, crate::state::CONTROL_SOCKET)?;
    let _ = std::fs::remove_file(&p);
    let l = UnixListener::bind(&p).context("cannot bind the control socket")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Sends one request to the Sentry of the container whose state is in
/// `dir` and returns its reply (an error reply becomes an error).
pub fn call(dir: &Path, req: &Request) -> Result<Reply> {
    let (_d, p) = short_path(dir, crate::state::CONTROL_SOCKET)?;
    let mut s = UnixStream::connect(&p).context("cannot reach the sandbox")?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    s.write_all(&line)?;
    let mut reply = String::new();
    BufReader::new(&s).read_line(&mut reply)?;
    if reply.is_empty() {
        bail!("the sandbox closed the control connection");
    }
    let r: Reply = serde_json::from_str(&reply).context("bad reply from the sandbox")?;
    if let Some(e) = r.error {
        return Err(anyhow!(e));
    }
    Ok(r)
}

/// Serves connections on `listener` until it fails, one thread per
/// connection, answering each request with `handle`.
pub fn serve(
    listener: UnixListener,
    handle: impl Fn(Request) -> Reply + Send + Sync + 'static,
) -> Result<()> {
    let handle = std::sync::Arc::new(handle);
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let handle = handle.clone();
                let _ = std::thread::Builder::new()
                    .name("control-conn".into())
                    .spawn(move || serve_one(conn, &*handle));
            }
        })?;
    Ok(())
}

fn serve_one(conn: UnixStream, handle: &dyn Fn(Request) -> Reply) {
    let mut line = String::new();
    // A request is one short line; a peer that sends more is not ours.
    if BufReader::new(std::io::Read::take(&conn, 64 * 1024))
        .read_line(&mut line)
        .is_err()
    {
        return;
    }
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(req) => handle(req),
        Err(e) => Reply::error(format!("bad request: {e}")),
    };
    let mut out = serde_json::to_vec(&reply).unwrap_or_default();
    out.push(b'\n');
    let _ = (&conn).write_all(&out);
}
