//! A container's terminal (`process.terminal`, `exec --tty`): a pty of the
//! Sentry's own ([`devpts::new_console`]) whose replica is the process's
//! stdio and controlling terminal, relayed to a host terminal descriptor
//! that the runtime opened outside the sandbox (the replica of a host pty
//! whose master went to `--console-socket`).
//!
//! The host side is kept raw by the runtime, so every byte reaches our line
//! discipline: editing, echo and Ctrl-C (SIGINT to the sandbox's foreground
//! group) are the Sentry's, as on Linux, not the host's. The host cannot
//! tell the Sentry about window changes (SIGWINCH would need the host pty
//! as the Sentry's controlling terminal), so the input relay looks at the
//! host window size whenever it wakes, at least every [`WINSIZE_POLL`].

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::errno::Errno;
use crate::fsimpl::devpts::{self, Master, Replica};
use crate::kernel::Kernel;
use crate::vfs::FileOps;
use crate::waiter::Waiter;

/// How often the input relay looks at the host window size when no input
/// arrives.
const WINSIZE_POLL: Duration = Duration::from_millis(100);
/// How long the input relay waits when the line discipline's input queue is
/// full (the application is not reading).
const INPUT_FULL_WAIT: Duration = Duration::from_millis(10);

/// A new console for `host` (a host terminal): the Sentry pty's replica for
/// the process, and its master, already relayed to `host` by two threads
/// that end when either side is gone. The pty is one of `vfs`'s devpts
/// (the container's).
pub fn relay(
    kernel: &Arc<Kernel>,
    vfs: &crate::vfs::Vfs,
    host: OwnedFd,
) -> Result<(Arc<Master>, Arc<Replica>), Errno> {
    let (master, replica) = devpts::new_console(kernel, vfs)?;
    let host = Arc::new(host);
    if let Some(ws) = host_winsize(&host) {
        master.set_window_size(kernel, ws);
    }
    let weak = Arc::downgrade(kernel);
    let (m, h) = (master.clone(), host.clone());
    std::thread::Builder::new()
        .name("console-in".into())
        .spawn(move || input(weak, &m, &h))
        .map_err(|_| Errno::EAGAIN)?;
    let (m, h) = (master.clone(), host);
    std::thread::Builder::new()
        .name("console-out".into())
        .spawn(move || output(&m, &h))
        .map_err(|_| Errno::EAGAIN)?;
    Ok((master, replica))
}

/// Host keystrokes to the line discipline, and window size changes.
fn input(kernel: std::sync::Weak<Kernel>, master: &Master, host: &OwnedFd) {
    let mut buf = [0u8; 4096];
    let mut winsize = host_winsize(host);
    loop {
        let ready = poll_in(host, WINSIZE_POLL);
        let Some(k) = kernel.upgrade() else { return };
        let ws = host_winsize(host);
        if let Some(w) = ws.filter(|w| Some(winsize_key(w)) != winsize.map(|o| winsize_key(&o))) {
            master.set_window_size(&k, w);
            winsize = ws;
        }
        match ready {
            Ok(false) => continue,
            Ok(true) => {}
            Err(()) => return,
        }
        // SAFETY: `buf` is writable for its length; `host` is open.
        let n = unsafe { libc::read(host.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = std::io::Error::last_os_error().raw_os_error();
            if matches!(e, Some(libc::EINTR | libc::EAGAIN)) {
                continue;
            }
            return;
        }
        if n == 0 {
            return;
        }
        let mut data = &buf[..n as usize];
        while !data.is_empty() {
            let took = master.write_nowait(&k, data);
            data = &data[took..];
            if took == 0 {
                std::thread::sleep(INPUT_FULL_WAIT);
            }
        }
    }
}

/// What the container prints, to the host terminal.
fn output(master: &Master, host: &OwnedFd) {
    let waiter = Waiter::new();
    let Some(queue) = master.wait_queue() else {
        return;
    };
    queue.add(&waiter);
    let mut buf = [0u8; 4096];
    loop {
        match master.read_nowait(&mut buf) {
            Ok(0) => {
                // Notified when the replica side writes or closes; the
                // deadline only bounds a missed wake-up.
                waiter.wait(Some(Instant::now() + Duration::from_secs(1)));
            }
            Ok(n) => {
                if write_all(host, &buf[..n]).is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    queue.remove(&waiter);
}

fn write_all(fd: &OwnedFd, mut data: &[u8]) -> Result<(), ()> {
    while !data.is_empty() {
        // SAFETY: `data` is readable for its length; `fd` is open.
        let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
        if n < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => {
                    let _ = poll_events(fd, libc::POLLOUT, WINSIZE_POLL);
                    continue;
                }
                _ => return Err(()),
            }
        }
        data = &data[n as usize..];
    }
    Ok(())
}

/// Waits up to `timeout` for input: Ok(true) when there is some, Ok(false)
/// on timeout, Err when the host side hung up.
fn poll_in(fd: &OwnedFd, timeout: Duration) -> Result<bool, ()> {
    let revents = poll_events(fd, libc::POLLIN, timeout)?;
    if revents & libc::POLLIN != 0 {
        return Ok(true);
    }
    if revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err(());
    }
    Ok(false)
}

fn poll_events(fd: &OwnedFd, events: i16, timeout: Duration) -> Result<i16, ()> {
    let mut p = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
        revents: 0,
    };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, ms) };
    if r < 0 {
        return match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => Ok(0),
            _ => Err(()),
        };
    }
    Ok(p.revents)
}

fn host_winsize(fd: &OwnedFd) -> Option<libc::winsize> {
    // SAFETY: winsize is plain data.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (r == 0).then_some(ws)
}

fn winsize_key(w: &libc::winsize) -> (u16, u16, u16, u16) {
    (w.ws_row, w.ws_col, w.ws_xpixel, w.ws_ypixel)
}
