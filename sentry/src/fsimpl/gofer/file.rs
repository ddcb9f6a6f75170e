//! An open Gofer file: reads and writes through the host descriptor the
//! Gofer donated, or through an opened fid.

use std::os::fd::RawFd;

use super::*;
use crate::vfs::{Caller, File, IoSeq};

/// An open Gofer file: the host descriptor the Gofer donated, or an opened
/// fid (clunked when the last reference to the description goes).
pub struct GoferFile {
    pub(super) client: Arc<Client>,
    pub(super) backing: Backing,
    /// What the host descriptor may serve as the inode's spare when this
    /// file closes: `Some(read_write)`, or `None` (write-only, or a fid).
    pub(super) spare_as: Option<bool>,
    pub(super) inode: Arc<GoferInode>,
}

pub(super) enum Backing {
    /// Read with `pread`, written with `pwrite`; kept as the file's spare
    /// or closed on drop.
    Host(OwnedFd),
    /// Read and written over 9P.
    Fid(Fid),
    /// Only while dropping.
    Closed,
}

impl Drop for GoferFile {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.backing, Backing::Closed) {
            Backing::Fid(fid) => {
                let _ = self.client.clunk(fid);
            }
            Backing::Host(fd) => self.keep_for_reopen(fd),
            Backing::Closed => {}
        }
    }
}

impl GoferFile {
    /// At the last close: keeps the host descriptor as the file's spare,
    /// so opening the same file again (a shell sourcing a script, a build
    /// re-reading a header) costs no Topenfd. Only in the exclusive mode,
    /// where the file behind a name never changes but through us, and
    /// not a write-only descriptor, which no read could use. (Host
    /// descriptors never carry `O_APPEND`: the VFS appends.)
    pub(super) fn keep_for_reopen(&self, fd: OwnedFd) {
        if let (Some(read_write), false) = (self.spare_as, self.inode.fs.opts.shared) {
            if self.inode.has_no_spare() {
                self.inode.fs.keep_spare(&self.inode, fd, read_write);
            }
        }
    }

    /// How far reads may go: the cached size when nothing but a read-only
    /// Sentry sees the file, else wherever the host file ends.
    pub(super) fn read_limit(&self) -> u64 {
        let o = self.inode.fs.opts;
        if o.writable || o.shared {
            i64::MAX as u64
        } else {
            self.inode.cached_attr().size
        }
    }

    /// After a write: the size and times the host now has.
    pub(super) fn written(&self) {
        if let Backing::Host(fd) = &self.backing {
            let mut st: libc::stat = crate::usermem::zeroed();
            // SAFETY: `fd` is open and `st` a valid out-parameter.
            if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0 {
                let mut a = self.inode.lock_attr();
                a.size = u64::try_from(st.st_size).unwrap_or(0);
                a.blocks = u64::try_from(st.st_blocks).unwrap_or(0);
                a.mtime_sec = st.st_mtime as u64;
                a.mtime_nsec = st.st_mtime_nsec as u64;
                a.ctime_sec = st.st_ctime as u64;
                a.ctime_nsec = st.st_ctime_nsec as u64;
                a.mode = st.st_mode;
                return;
            }
        }
        self.inode.mark_stale();
    }
}

/// pread until `buf` is full or the file ends; a failure after some
/// progress is that progress.
pub(super) fn pread_full(fd: &OwnedFd, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
    // SAFETY: `buf` is writable for its length.
    unsafe { pread_raw(fd.as_raw_fd(), buf.as_mut_ptr(), buf.len(), off) }
}

/// Repeats a positioned transfer until `len` bytes moved or the file
/// ends; a failure after some progress is that progress. `call(done, at)`
/// moves bytes `done..len` at file offset `at` and returns what the
/// syscall returned; `too_far` is the errno for an offset past i64.
fn transfer_full(
    len: usize,
    off: u64,
    too_far: Errno,
    mut call: impl FnMut(usize, i64) -> isize,
) -> Result<usize, Errno> {
    let mut done = 0;
    while done < len {
        let at = off
            .checked_add(done as u64)
            .and_then(|o| i64::try_from(o).ok())
            .ok_or(too_far)?;
        let n = call(done, at);
        if n < 0 {
            let e = nix::errno::Errno::last_raw();
            if e == libc::EINTR {
                continue;
            }
            if done > 0 {
                break;
            }
            return Err(errno(e));
        }
        if n == 0 {
            break;
        }
        // 0 < n <= len - done.
        done += (n as usize).min(len - done);
    }
    Ok(done)
}

/// [`pread_full`] into raw memory: the application's pages.
///
/// # Safety
/// `p..p+len` must be writable memory for the duration of the call.
pub(super) unsafe fn pread_raw(
    fd: RawFd,
    p: *mut u8,
    len: usize,
    off: u64,
) -> Result<usize, Errno> {
    transfer_full(len, off, Errno::EINVAL, |done, at| {
        // SAFETY: the caller guarantees p..p+len is writable; done < len.
        unsafe { libc::pread64(fd, p.add(done).cast(), len - done, at) }
    })
}

/// [`pwrite_full`] from raw memory: a page-cache chunk.
///
/// # Safety
/// `p..p+len` must be readable memory for the duration of the call.
pub(super) unsafe fn pwrite_raw(
    fd: RawFd,
    p: *const u8,
    len: usize,
    off: u64,
) -> Result<usize, Errno> {
    transfer_full(len, off, Errno::EFBIG, |done, at| {
        // SAFETY: the caller guarantees p..p+len is readable; done < len.
        unsafe { libc::pwrite64(fd, p.add(done).cast(), len - done, at) }
    })
}

impl FileOps for GoferFile {
    fn read_at(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        if let Some(r) = self.inode.read_cached(buf, off) {
            return r;
        }
        let limit = self.read_limit();
        if off >= limit {
            return Ok(0);
        }
        let n = usize::try_from(limit - off)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        match &self.backing {
            Backing::Host(fd) => pread_full(fd, &mut buf[..n], off),
            Backing::Fid(fid) => self.client.read(*fid, off, &mut buf[..n]).map_err(errno),
            Backing::Closed => Err(Errno::EBADF),
        }
    }

    /// A donated host descriptor is read straight into the application's
    /// pages (one copy, as natively); a fid, or buffers that are not plain
    /// memory, go through a Sentry buffer.
    fn read_to(
        &self,
        t: &dyn Caller,
        f: &File,
        dst: &mut IoSeq<'_>,
        off: u64,
    ) -> Result<usize, Errno> {
        if let (Backing::Host(fd), false) = (&self.backing, self.inode.is_mapped_shared()) {
            let limit = self.read_limit();
            if off >= limit {
                return Ok(0);
            }
            let want = usize::try_from(limit - off)
                .unwrap_or(usize::MAX)
                .min(dst.len());
            let fd = fd.as_raw_fd();
            let direct = dst.with_ranges(want, true, &mut |pieces| {
                let mut done = 0usize;
                for &(p, n) in pieces {
                    let at = off.checked_add(done as u64).ok_or(Errno::EINVAL);
                    // SAFETY: with_ranges hands out application pages
                    // mapped in the Sentry, writable and kept mapped while
                    // this closure runs.
                    let r = at.and_then(|at| unsafe { pread_raw(fd, p, n, at) });
                    match r {
                        Ok(got) => {
                            done += got;
                            if got < n {
                                break;
                            }
                        }
                        Err(e) if done == 0 => return Err(e),
                        Err(_) => break,
                    }
                }
                Ok(done)
            });
            if let Ok(r) = direct {
                return r;
            }
        }
        crate::vfs::io::read_buffered(self, t, f, dst, off)
    }

    fn write_at(&self, buf: &[u8], off: u64) -> Result<usize, Errno> {
        let r = self.inode.write_cached(buf, off, || match &self.backing {
            Backing::Host(fd) => pwrite_full(fd, buf, off),
            Backing::Fid(fid) => self.client.write(*fid, off, buf).map_err(errno),
            Backing::Closed => Err(Errno::EBADF),
        });
        if matches!(r, Ok(n) if n > 0) {
            self.written();
        }
        r
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        self.inode.stat()
    }

    fn fsync(&self) -> Result<(), Errno> {
        self.inode.write_back_cached()?;
        match &self.backing {
            Backing::Host(fd) => {
                // SAFETY: `fd` is an open descriptor.
                if unsafe { libc::fsync(fd.as_raw_fd()) } < 0 {
                    let e = nix::errno::Errno::last_raw();
                    // A read-only descriptor of some filesystems.
                    if e != libc::EBADF && e != libc::EINVAL {
                        return Err(errno(e));
                    }
                }
                Ok(())
            }
            Backing::Fid(fid) => match self.client.fsync(*fid, false) {
                Ok(()) | Err(libc::EBADF) => Ok(()),
                Err(e) => Err(errno(e)),
            },
            Backing::Closed => Err(Errno::EBADF),
        }
    }
}

/// `pwrite` all of `buf` at `off` (a short count only after an error).
pub(super) fn pwrite_full(fd: &OwnedFd, buf: &[u8], off: u64) -> Result<usize, Errno> {
    // SAFETY: `buf` is readable for its length.
    unsafe { pwrite_raw(fd.as_raw_fd(), buf.as_ptr(), buf.len(), off) }
}
