//! The host side of a container's terminal (`--console-socket`).
//!
//! runc gives the console socket the master of the pty the container uses.
//! Our container's terminal is a pty of the Sentry's own; the host needs
//! one too, as the transport between the caller (containerd's shim,
//! `docker run -it`) and the Sentry: we open a host pty here, send its
//! master to the console socket as runc does, and hand its replica, made
//! raw so every byte passes unchanged, to the Sentry, which relays it to
//! its own pty (see the Sentry's `fsimpl/console.rs`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context, Result};

/// Opens a host pty, sends its master to the Unix socket at `socket` and
/// returns its replica (raw, no controlling terminal taken).
pub fn open(socket: &Path) -> Result<OwnedFd> {
    use nix::fcntl::OFlag;
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .context("cannot open a host pty")?;
    nix::pty::grantpt(&master).context("grantpt")?;
    nix::pty::unlockpt(&master).context("unlockpt")?;
    let name = nix::pty::ptsname_r(&master).context("ptsname")?;
    let replica = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("cannot open {name}"))?;
    let mut tio = nix::sys::termios::tcgetattr(&replica).context("tcgetattr")?;
    nix::sys::termios::cfmakeraw(&mut tio);
    nix::sys::termios::tcsetattr(&replica, nix::sys::termios::SetArg::TCSANOW, &tio)
        .context("tcsetattr")?;
    let sock = UnixStream::connect(socket)
        .with_context(|| format!("cannot connect to the console socket {}", socket.display()))?;
    // runc sends the terminal's name as the message and the master as its
    // one descriptor; containerd's console reader takes both.
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .with_context(|| format!("cannot send the terminal to {}", socket.display()))?;
    Ok(replica)
}
