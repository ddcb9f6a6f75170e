//! A replica end of a pty (/dev/pts/N, /dev/tty).

use super::*;

/// A replica end (/dev/pts/N, /dev/tty).
pub struct Replica {
    pub(super) pty: Arc<Pty>,
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.pty.replica_dropped();
    }
}

impl FileOps for Replica {
    fn read(&self, c: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        let t = Task::from_caller(c)?;
        if self.pty.lock().master_open {
            self.pty.job_control(t, libc::SIGTTIN)?;
        }
        self.pty.replica_read(t, f, buf)
    }
    fn write(&self, c: &dyn Caller, f: &File, buf: &[u8], _off: u64) -> Result<usize, Errno> {
        let t = Task::from_caller(c)?;
        let tostop = {
            let st = self.pty.lock();
            st.master_open && st.ld.termios.l(libc::TOSTOP)
        };
        if tostop {
            self.pty.job_control(t, libc::SIGTTOU)?;
        }
        self.pty.replica_write(t, f, buf)
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
        Ok(self.pty.stat())
    }
    fn ioctl(&self, c: &dyn Caller, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        let t = Task::from_caller(c)?;
        if !self.pty.lock().master_open {
            // A hung-up terminal answers nothing.
            return Err(Errno::EIO);
        }
        match u64::from(cmd) {
            libc::TIOCGPTN | libc::TIOCSPTLCK | libc::TIOCGPTLCK | libc::TIOCGPTPEER => {
                Err(Errno::ENOTTY)
            }
            c @ (libc::TCSETS
            | libc::TCSETSW
            | libc::TCSETSF
            | libc::TCFLSH
            | libc::TCXONC
            | libc::TIOCSPGRP) => {
                // Changing the terminal from a background job stops it.
                self.pty.job_control(t, libc::SIGTTOU)?;
                self.pty.common_ioctl(t, false, c, arg)
            }
            c => self.pty.common_ioctl(t, false, c, arg),
        }
    }
    fn readable_bytes(&self) -> Option<u64> {
        Some(self.pty.lock().ld.input_len() as u64)
    }
    fn readiness(&self, mask: i16) -> i16 {
        self.pty.readiness(false, mask)
    }
    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.pty.queue)
    }
    fn name(&self) -> Vec<u8> {
        format!("/dev/pts/{}", self.pty.index).into_bytes()
    }
}
