//! The control socket: how `start`, `kill`, `ps` and `exec` reach a running
//! Sentry. One JSON request line, one JSON reply line per connection; an
//! `exec` request carries the new process's stdio (three descriptors, or
//! one host terminal) and then the descriptors `--preserve-fds` passes on
//! as SCM_RIGHTS on the request, and its connection
//! stays open for a second reply line: the process's wait status.
//!
//! The supervisor binds the socket in the container's state directory and
//! hands the listening descriptor to the Sentry, which accepts on it (it
//! can no longer reach any host path itself). The socket file is 0600 and
//! the state directory root's: only root talks to a sandbox.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};

/// The control socket's name in a container's state directory.
pub const CONTROL_SOCKET: &str = "sandbox.sock";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    /// Run the container's process (once).
    Start,
    /// Send `signal` to the container's init, or to every process; the
    /// sandbox's own container, or the pod's container `container`.
    Signal {
        signal: i32,
        all: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// List the processes of the sandbox's own container, or of the pod's
    /// container `container`.
    Ps {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// Start a process in the running sandbox (stdio attached), in its own
    /// container or the pod's container `container`.
    Exec {
        process: Box<ProcessSpec>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        container: Option<String>,
    },
    /// Create a further container of the pod, `id`, up to its first
    /// instruction. `plan` is its `crate::spec::BootPlan` (as JSON: this
    /// protocol sits below the spec module). The request carries the
    /// Sentry's end of the connection to the container's own Gofer, then
    /// its stdio (three descriptors, or one host terminal). Its connection
    /// stays open for a second reply: the wait status of the container's
    /// init; closing it kills the container.
    CreateContainer { id: String, plan: serde_json::Value },
    /// Run the pod container `id`'s process (once).
    StartContainer { id: String },
    /// Pause (`paused`) or resume the pod container `id`: its processes
    /// stop running in the Sentry, the pod's others run on.
    PauseContainer { id: String, paused: bool },
    /// Send `signal` to one process of the sandbox (an `exec`ed one whose
    /// waiter on the host was signalled).
    SignalProcess { pid: i32, signal: i32 },
    /// The task dump: every task's syscall, sleep and signals.
    Stacks,
}

/// A process to run: what `exec` sends, and the first process of a
/// [`crate::spec::BootPlan`].
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The one descriptor sent is a host terminal (else: stdin, stdout,
    /// stderr).
    pub terminal: bool,
    /// `process.capabilities`; None: Linux's default for the uid (root
    /// holds every capability, others none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilitySets>,
    /// `process.noNewPrivileges`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `process.rlimits`: (RLIMIT_* resource, soft, hard).
    #[serde(default)]
    pub rlimits: Vec<(u32, u64, u64)>,
    /// `exec --preserve-fds`: how many descriptors follow the stdio ones
    /// on the request; they become the process's 3, 4 ...
    #[serde(default)]
    pub preserve_fds: u32,
}

/// The five capability sets of an OCI process, as `CAP_*` names.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CapabilitySets {
    pub bounding: Vec<String>,
    pub effective: Vec<String>,
    pub inheritable: Vec<String>,
    pub permitted: Vec<String>,
    pub ambient: Vec<String>,
}

impl CapabilitySets {
    /// An OCI spec's sets (an absent set is empty, as runc takes it).
    pub fn of(c: &oci_spec::runtime::LinuxCapabilities) -> CapabilitySets {
        let names = |s: &Option<oci_spec::runtime::Capabilities>| -> Vec<String> {
            let mut v: Vec<String> = s
                .iter()
                .flatten()
                .filter_map(|c| serde_json::to_value(c).ok())
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            v.sort();
            v
        };
        CapabilitySets {
            bounding: names(c.bounding()),
            effective: names(c.effective()),
            inheritable: names(c.inheritable()),
            permitted: names(c.permitted()),
            ambient: names(c.ambient()),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reply {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<Process>,
    /// The sandbox pid of a process `exec` started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i32>,
    /// Its wait status, in the second reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    /// The task dump (`Stacks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacks: Option<String>,
}

/// A reply that follows the first on the same connection (exec's status).
/// It gets the connection, to notice the peer going away meanwhile.
pub type FollowUp = Box<dyn FnOnce(&UnixStream) -> Reply + Send>;

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
    let (_d, p) = short_path(dir, CONTROL_SOCKET)?;
    let _ = std::fs::remove_file(&p);
    let l = UnixListener::bind(&p).context("cannot bind the control socket")?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Sends one request to the Sentry of the container whose state is in
/// `dir` and returns its reply (an error reply becomes an error).
pub fn call(dir: &Path, req: &Request) -> Result<Reply> {
    call_with_fds(dir, req, &[]).map(|(r, _)| r)
}

/// [`call`] with descriptors sent along (SCM_RIGHTS); also returns the
/// connection, for a follow-up reply ([`read_reply`]).
pub fn call_with_fds(dir: &Path, req: &Request, fds: &[RawFd]) -> Result<(Reply, UnixStream)> {
    let (_d, p) = short_path(dir, CONTROL_SOCKET)?;
    let s = UnixStream::connect(&p).context("cannot reach the sandbox")?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    if fds.is_empty() {
        (&s).write_all(&line)?;
    } else {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let iov = [std::io::IoSlice::new(&line)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let n = sendmsg::<()>(s.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None)
            .context("cannot send to the sandbox")?;
        (&s).write_all(&line[n..])?;
    }
    let r = read_reply(&s)?;
    Ok((r, s))
}

/// Reads one reply line; an error reply becomes an error.
pub fn read_reply(s: &UnixStream) -> Result<Reply> {
    let mut reply = Vec::new();
    // Byte by byte: a follow-up line must stay in the socket, not in a
    // buffer dropped with this call.
    let mut b = [0u8; 1];
    loop {
        match std::io::Read::read(&mut &*s, &mut b) {
            Ok(0) => break,
            Ok(_) if b[0] == b'\n' => break,
            Ok(_) => reply.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        if reply.len() > 1 << 20 {
            bail!("the sandbox sent an oversized reply");
        }
    }
    if reply.is_empty() {
        bail!("the sandbox closed the control connection");
    }
    let r: Reply = serde_json::from_slice(&reply).context("bad reply from the sandbox")?;
    if let Some(e) = r.error {
        return Err(anyhow!(e));
    }
    Ok(r)
}

/// The most descriptors one SCM_RIGHTS message carries (Linux's
/// SCM_MAX_FD, which libc does not export).
const SCM_MAX_FD: usize = 253;

/// The most descriptors a request may carry: exec's stdin, stdout and
/// stderr, and what `--preserve-fds` passes on.
pub const MAX_FDS: usize = SCM_MAX_FD;

/// Serves connections on `listener` until it fails, one thread per
/// connection, answering each request (and the descriptors it carried)
/// with `handle`, and a follow-up reply if it gives one.
pub fn serve(
    listener: UnixListener,
    handle: impl Fn(Request, Vec<OwnedFd>) -> (Reply, Option<FollowUp>) + Send + Sync + 'static,
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

type Handler = dyn Fn(Request, Vec<OwnedFd>) -> (Reply, Option<FollowUp>);

fn serve_one(conn: UnixStream, handle: &Handler) {
    let Some((line, fds)) = read_request(&conn) else {
        return;
    };
    let (reply, follow) = match serde_json::from_slice::<Request>(&line) {
        Ok(req) => handle(req, fds),
        Err(e) => (Reply::error(format!("bad request: {e}")), None),
    };
    if send_reply(&conn, &reply).is_err() {
        return;
    }
    if let Some(f) = follow {
        let _ = send_reply(&conn, &f(&conn));
    }
}

fn send_reply(conn: &UnixStream, r: &Reply) -> std::io::Result<()> {
    let mut out = serde_json::to_vec(r).unwrap_or_default();
    out.push(b'\n');
    (&*conn).write_all(&out)
}

/// One request line and the descriptors sent with it. A request is one
/// short line; a peer that sends more, or more descriptors, is not ours.
pub(crate) fn read_request(conn: &UnixStream) -> Option<(Vec<u8>, Vec<OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut line = Vec::new();
    let mut fds = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = match recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => m,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        };
        let n = msg.bytes;
        let truncated = msg.flags.contains(MsgFlags::MSG_CTRUNC);
        for c in msg.cmsgs().ok()? {
            if let ControlMessageOwned::ScmRights(r) = c {
                for fd in r {
                    // SAFETY: the kernel just installed this descriptor
                    // for us; nothing else owns it.
                    fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                }
            }
        }
        if truncated || fds.len() > MAX_FDS {
            return None;
        }
        if n == 0 {
            return None;
        }
        line.extend_from_slice(&buf[..n]);
        if let Some(end) = line.iter().position(|b| *b == b'\n') {
            line.truncate(end);
            return Some((line, fds));
        }
        if line.len() > 64 * 1024 {
            return None;
        }
    }
}
