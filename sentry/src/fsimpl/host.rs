//! Host descriptors as files: the caller's stdin, stdout and stderr.
//!
//! Reads and writes go straight to the host descriptor, at its own offset
//! (shared with whoever else holds it, as a shell's redirection wants);
//! lseek is forwarded. Terminal ioctls are forwarded too, so `isatty`,
//! window sizes and raw mode work on the caller's terminal.
//!
//! Blocking: a read first polls the host descriptor; while it has nothing,
//! the task sleeps in short slices (`POLL_SLICE`) between polls, so a
//! signal interrupts the wait as it should. Writes block on the host.
//! (A poller thread that notifies a wait queue would remove the slices;
//! it is the obvious next step when epoll wants host descriptors.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::errno::Errno;
use crate::usermem::{UserAddr, UserPtr};
use crate::vfs::Caller;
use crate::vfs::{File, FileOps};

/// How long a task waiting on a host descriptor sleeps between polls.
const POLL_SLICE: Duration = Duration::from_millis(20);
/// Size of the kernel's `struct termios` (TCGETS), which is not glibc's:
/// 4 flag words, c_line and NCCS = 19 control characters.
const KERNEL_TERMIOS_LEN: usize = 36;
/// Linux's major number of pseudo-terminal slaves (/dev/pts/N).
const UNIX98_PTY_SLAVE_MAJOR: u32 = 136;

/// A host descriptor as a file: the Sentry's own stdio (held for the
/// sandbox's lifetime, never closed here), or a descriptor the runtime
/// handed over for one process (`exec`), closed with its last reference.
pub struct HostFile {
    fd: i32,
    /// The host file is a regular file: lseek makes sense.
    regular: bool,
    owned: bool,
}

impl Drop for HostFile {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: `from_owned` took ownership of this descriptor; no
            // other object closes it.
            unsafe { libc::close(self.fd) };
        }
    }
}

impl HostFile {
    /// An open file description for the host descriptor `fd`, with the
    /// host's access mode.
    #[allow(clippy::new_ret_no_self)] // the kernel's set-up wants the File
    pub fn new(fd: i32) -> Arc<File> {
        Self::file(fd, false)
    }

    /// Like [`HostFile::new`], owning `fd`: closed when the last file
    /// description referring to it goes.
    pub fn from_owned(fd: std::os::fd::OwnedFd) -> Arc<File> {
        use std::os::fd::IntoRawFd;
        Self::file(fd.into_raw_fd(), true)
    }

    fn file(fd: i32, owned: bool) -> Arc<File> {
        let st = host_fstat(fd).ok();
        let regular = st.is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFREG);
        // The host's access mode and what F_GETFL shows of it; blocking is
        // ours to emulate, whatever the host descriptor's O_NONBLOCK.
        let shown = libc::O_ACCMODE | libc::O_APPEND | crate::vfs::O_LARGEFILE;
        let acc = host_getfl(fd).map(|f| f & shown).unwrap_or(libc::O_RDWR);
        File::new(Arc::new(HostFile { fd, regular, owned }), None, acc)
    }

    fn poll(&self, events: i16) -> i16 {
        host_poll(self.fd, events)
    }
}

impl FileOps for HostFile {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            if self.regular || self.poll(libc::POLLIN) != 0 {
                match host_read(self.fd, buf) {
                    Err(Errno::EAGAIN) => {}
                    r => return r,
                }
            }
            if f.nonblocking() {
                return Err(Errno::EAGAIN);
            }
            let deadline = Some(Instant::now() + POLL_SLICE);
            match t.block(&[], deadline, &mut || self.poll(libc::POLLIN) != 0) {
                Ok(()) | Err(Errno::ETIMEDOUT) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn write(&self, t: &dyn Caller, f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let mut done = 0;
        while done < buf.len() {
            match host_write(self.fd, &buf[done..]) {
                Ok(n) => done += n,
                Err(Errno::EAGAIN) => {
                    if f.nonblocking() {
                        break;
                    }
                    let deadline = Some(Instant::now() + POLL_SLICE);
                    match t.block(&[], deadline, &mut || self.poll(libc::POLLOUT) != 0) {
                        Ok(()) | Err(Errno::ETIMEDOUT) => {}
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => break,
                    }
                }
                Err(Errno::EPIPE) => {
                    t.send_signal_self(libc::SIGPIPE);
                    if done == 0 {
                        return Err(Errno::EPIPE);
                    }
                    break;
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if done == 0 && !buf.is_empty() {
            return Err(Errno::EAGAIN);
        }
        Ok(done)
    }

    fn read_at(&self, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        host_read(self.fd, buf)
    }

    fn write_at(&self, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        host_write(self.fd, buf)
    }

    fn seekable(&self) -> bool {
        // The host descriptor keeps the offset: the description's is unused.
        false
    }

    fn seek(&self, off: i64, whence: i32) -> Option<Result<u64, Errno>> {
        if !self.regular {
            return Some(Err(Errno::ESPIPE));
        }
        match whence {
            libc::SEEK_SET
            | libc::SEEK_CUR
            | libc::SEEK_END
            | libc::SEEK_DATA
            | libc::SEEK_HOLE => {}
            _ => return Some(Err(Errno::EINVAL)),
        }
        Some(host_lseek(self.fd, off, whence))
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        host_fstat(self.fd)
    }

    fn ioctl(&self, t: &dyn Caller, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        match u64::from(cmd) {
            libc::TCGETS => {
                let mut tio = [0u8; KERNEL_TERMIOS_LEN];
                host_ioctl_ptr(self.fd, libc::TCGETS, tio.as_mut_ptr())?;
                t.write_bytes(UserAddr(arg), &tio)?;
                Ok(0)
            }
            c @ (libc::TCSETS | libc::TCSETSW | libc::TCSETSF) => {
                let mut tio = [0u8; KERNEL_TERMIOS_LEN];
                t.memory().read(arg, &mut tio)?;
                host_ioctl_ptr(self.fd, c, tio.as_mut_ptr())?;
                Ok(0)
            }
            libc::TIOCGWINSZ => {
                let mut ws: libc::winsize = crate::usermem::zeroed();
                host_ioctl_ptr(
                    self.fd,
                    libc::TIOCGWINSZ,
                    (&mut ws as *mut libc::winsize).cast(),
                )?;
                t.copy_out(UserPtr::<libc::winsize>::new(arg), &ws)?;
                Ok(0)
            }
            libc::TIOCSWINSZ => {
                let mut ws = t.copy_in(UserPtr::<libc::winsize>::new(arg))?;
                host_ioctl_ptr(
                    self.fd,
                    libc::TIOCSWINSZ,
                    (&mut ws as *mut libc::winsize).cast(),
                )?;
                Ok(0)
            }
            c @ (libc::TCFLSH | libc::TCXONC | libc::TCSBRK) => {
                // These take an integer argument, not a pointer.
                host_ioctl_int(self.fd, c, arg)?;
                Ok(0)
            }
            libc::FIONREAD | libc::TIOCOUTQ => {
                let mut n: libc::c_int = 0;
                host_ioctl_ptr(self.fd, u64::from(cmd), (&mut n as *mut libc::c_int).cast())?;
                t.copy_out(UserPtr::<libc::c_int>::new(arg), &n)?;
                Ok(0)
            }
            // Host process groups mean nothing in the sandbox's PID
            // namespace, and a shell that saw one would fight for the
            // terminal forever: report no job control instead.
            _ => Err(Errno::ENOTTY),
        }
    }

    fn readiness(&self, mask: i16) -> i16 {
        self.poll(mask)
    }

    fn fsync(&self) -> Result<(), Errno> {
        // Terminals and pipes have nothing to sync: Linux says EINVAL. The
        // Sentry does not sync host files (it holds no data of theirs).
        if self.regular {
            Ok(())
        } else {
            Err(Errno::EINVAL)
        }
    }

    fn name(&self) -> Vec<u8> {
        // What Linux's /proc/self/fd shows for the usual kinds of stdio.
        let Ok(st) = host_fstat(self.fd) else {
            return format!("host:[{}]", self.fd).into_bytes();
        };
        let name = match st.st_mode & libc::S_IFMT {
            libc::S_IFIFO => format!("pipe:[{}]", st.st_ino),
            libc::S_IFSOCK => format!("socket:[{}]", st.st_ino),
            libc::S_IFCHR if libc::major(st.st_rdev) == UNIX98_PTY_SLAVE_MAJOR => {
                format!("/dev/pts/{}", libc::minor(st.st_rdev))
            }
            libc::S_IFCHR if st.st_rdev == libc::makedev(1, 3) => "/dev/null".to_string(),
            _ => format!("host:[{}]", self.fd),
        };
        name.into_bytes()
    }
}

fn last_errno() -> Errno {
    Errno::from_io(&std::io::Error::last_os_error())
}

fn host_read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        // SAFETY: the pointer and length describe `buf`, live and writable.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = last_errno();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

fn host_write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    loop {
        // SAFETY: the pointer and length describe `buf`, live and readable.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = last_errno();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

fn host_lseek(fd: i32, off: i64, whence: i32) -> Result<u64, Errno> {
    // SAFETY: lseek touches no memory of ours.
    let r = unsafe { libc::lseek(fd, off, whence) };
    if r < 0 {
        return Err(last_errno());
    }
    Ok(r as u64)
}

fn host_fstat(fd: i32) -> Result<libc::stat, Errno> {
    let mut st: libc::stat = crate::usermem::zeroed();
    // SAFETY: `st` is a live, correctly sized struct stat for the kernel
    // to fill.
    let r = unsafe { libc::fstat(fd, &mut st) };
    if r < 0 {
        return Err(last_errno());
    }
    Ok(st)
}

fn host_getfl(fd: i32) -> Result<i32, Errno> {
    // SAFETY: F_GETFL takes no pointer.
    let r = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if r < 0 {
        return Err(last_errno());
    }
    Ok(r)
}

/// The host descriptor's ready events among `events`, without waiting.
fn host_poll(fd: i32, events: i16) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one live pollfd, and a zero timeout.
    let r = unsafe { libc::poll(&mut p, 1, 0) };
    if r <= 0 {
        return 0;
    }
    p.revents
}

/// An ioctl whose argument points at a buffer the request reads or
/// writes; the caller passes one of the request's size.
fn host_ioctl_ptr(fd: i32, req: u64, arg: *mut u8) -> Result<(), Errno> {
    // SAFETY: `arg` points at a live buffer of the size `req` uses (the
    // callers above pair each request with its structure).
    let r = unsafe { libc::ioctl(fd, req, arg) };
    if r < 0 {
        return Err(last_errno());
    }
    Ok(())
}

fn host_ioctl_int(fd: i32, req: u64, arg: u64) -> Result<(), Errno> {
    // SAFETY: these requests take an integer, not a pointer.
    let r = unsafe { libc::ioctl(fd, req, arg as libc::c_ulong) };
    if r < 0 {
        return Err(last_errno());
    }
    Ok(())
}
