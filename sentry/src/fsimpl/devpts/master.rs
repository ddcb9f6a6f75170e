//! The master end of a pty (/dev/ptmx).

use super::*;
use crate::usermem::UserPtr;

/// The master end (/dev/ptmx).
pub struct Master {
    pub(super) pty: Arc<Pty>,
}

impl Drop for Master {
    fn drop(&mut self) {
        self.pty.master_closed();
    }
}

/// Opens /dev/ptmx: a new pty's master, listed in `ptys`.
pub fn open_master(ptys: &Arc<Ptys>, c: Option<&dyn Caller>) -> Result<Arc<dyn FileOps>, Errno> {
    let kernel = c
        .and_then(Task::of)
        .map_or_else(Weak::new, |t| Arc::downgrade(&t.kernel));
    let pty = Pty::new(ptys, kernel)?;
    Ok(Arc::new(Master { pty }))
}

/// Opens /dev/tty: the caller's controlling terminal (ENXIO without one).
pub fn open_controlling(c: Option<&dyn Caller>, flags: i32) -> Result<Arc<dyn FileOps>, Errno> {
    let t = c.and_then(Task::of).ok_or(Errno::ENXIO)?;
    let pty = controlling_pty(t).ok_or(Errno::ENXIO)?;
    Ok(pty.open_replica(Some(t), flags | libc::O_NOCTTY)?)
}

impl FileOps for Master {
    fn read(&self, c: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        let t = Task::from_caller(c)?;
        self.pty.master_read(t, f, buf)
    }
    fn write(&self, c: &dyn Caller, f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let t = Task::from_caller(c)?;
        self.pty.master_write(t, f, buf)
    }
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::ESPIPE)
    }
    fn seekable(&self) -> bool {
        false
    }
    fn stat(&self) -> Result<libc::stat, Errno> {
        let mut s = self.pty.stat();
        s.st_mode = libc::S_IFCHR | 0o666;
        s.st_rdev = libc::makedev(5, 2);
        Ok(s)
    }
    fn ioctl(&self, c: &dyn Caller, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        let t = Task::from_caller(c)?;
        match u64::from(cmd) {
            libc::TIOCGPTN => {
                t.copy_out(UserPtr::<u32>::new(arg), &self.pty.index)?;
                Ok(0)
            }
            libc::TIOCSPTLCK => {
                let lock = t.copy_in(UserPtr::<i32>::new(arg))?;
                self.pty.lock().locked = lock != 0;
                Ok(0)
            }
            libc::TIOCGPTLCK => {
                let locked = i32::from(self.pty.lock().locked);
                t.copy_out(UserPtr::<i32>::new(arg), &locked)?;
                Ok(0)
            }
            libc::TIOCGPTPEER => self.open_peer(t, arg),
            c => self.pty.common_ioctl(t, true, c, arg),
        }
    }
    fn readable_bytes(&self) -> Option<u64> {
        Some(self.pty.lock().ld.output_len() as u64)
    }
    fn readiness(&self, mask: i16) -> i16 {
        self.pty.readiness(true, mask)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }
    fn name(&self) -> Vec<u8> {
        b"/dev/ptmx".to_vec()
    }
}

/// A pty for a runtime's console (`--console-socket`, issue 4): the master
/// for the host side, an unlocked replica for the container's stdio. Make
/// it the init's terminal with [`Master::set_controlling`]; move bytes with
/// [`Master::read_nowait`] and [`Master::write_nowait`], waiting on
/// `FileOps::wait_queue` between them.
/// The pty is listed in the devpts of `vfs`, the VFS of the container
/// whose console it is (ENXIO if it has none): where that container's
/// `tty` looks for it.
pub fn new_console(
    kernel: &Arc<Kernel>,
    vfs: &crate::vfs::Vfs,
) -> Result<(Arc<Master>, Arc<Replica>), Errno> {
    let ptys = ptys_of(vfs).ok_or(Errno::ENXIO)?;
    let pty = Pty::new(&ptys, Arc::downgrade(kernel))?;
    pty.lock().locked = false;
    let replica = pty.open_replica(None, libc::O_RDWR | libc::O_NOCTTY)?;
    Ok((Arc::new(Master { pty }), replica))
}

impl Master {
    /// The pty's number: its replica is /dev/pts/N.
    pub fn index(&self) -> u32 {
        self.pty.index
    }

    /// Makes the terminal the controlling terminal of session `sid` with
    /// `pgid` in the foreground (a console given to init before it runs).
    pub fn set_controlling(&self, kernel: &Arc<Kernel>, sid: i32, pgid: i32) {
        let mut st = self.pty.lock();
        st.session = Some(sid);
        st.pgrp = Some(pgid);
        st.kernel = Arc::downgrade(kernel);
    }

    /// What the replica side printed, without blocking: `Ok(0)` when there
    /// is nothing yet, EIO once every replica is closed and all is read.
    pub fn read_nowait(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let n = {
            let mut st = self.pty.lock();
            let n = st.ld.read_output(buf);
            if n == 0 && st.replica_closed && !buf.is_empty() {
                return Err(Errno::EIO);
            }
            n
        };
        if n > 0 {
            self.pty.queue.notify_all();
        }
        Ok(n)
    }

    /// Typed input, without blocking: how much was taken (maybe 0 when
    /// the input queue is full). Terminal signals go to the foreground
    /// group through `kernel`.
    pub fn write_nowait(&self, kernel: &Kernel, data: &[u8]) -> usize {
        let (n, sigs) = self.pty.lock().ld.receive(data);
        if n > 0 {
            self.pty.queue.notify_all();
        }
        for sig in sigs {
            self.pty.signal_foreground(kernel, sig);
        }
        n
    }

    /// Resizes the terminal (the host's window changed): SIGWINCH to the
    /// foreground group if it did change.
    pub fn set_window_size(&self, kernel: &Kernel, ws: libc::winsize) {
        let changed = {
            let mut st = self.pty.lock();
            let changed = winsize_bytes(&st.winsize) != winsize_bytes(&ws);
            st.winsize = ws;
            changed
        };
        if changed {
            self.pty.signal_foreground(kernel, libc::SIGWINCH);
        }
    }

    /// TIOCGPTPEER: the replica opened from the master, with `arg` as
    /// open flags, without a path lookup's races.
    pub(super) fn open_peer(&self, c: &dyn Caller, arg: u64) -> Result<u64, Errno> {
        let t = Task::from_caller(c)?;
        let allowed = libc::O_ACCMODE | libc::O_NOCTTY | libc::O_NONBLOCK | libc::O_CLOEXEC;
        let flags = i32::try_from(arg).map_err(|_| Errno::EINVAL)?;
        if flags & !allowed != 0 {
            return Err(Errno::EINVAL);
        }
        let ops = self.pty.open_replica(Some(t), flags)?;
        // The dentry of /dev/pts/N if the caller's namespace shows it
        // (for ttyname); a description without one otherwise.
        let path = format!("/dev/pts/{}", self.pty.index);
        let ctx = Ctx::of(t);
        let dentry = crate::vfs::ops::walk(&ctx, t.fs.root(), path.as_bytes(), true)
            .ok()
            .filter(|d| {
                d.inode
                    .stat()
                    .is_ok_and(|s| s.st_rdev == self.pty.stat().st_rdev)
            });
        let file = File::new(
            ops,
            dentry,
            (flags & !(libc::O_CLOEXEC | libc::O_NOCTTY)) | crate::vfs::O_LARGEFILE,
        );
        let fd = t.fds.install(file, flags & libc::O_CLOEXEC != 0)?;
        Ok(fd as u64)
    }
}
