//! Open file descriptions.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{is_reg, Dentry, DirEntry, FileOps, IoSeq, MemSegment};
use crate::errno::Errno;
use crate::vfs::Caller;

/// Status flags F_SETFL may change (Linux's SETFL_MASK).
pub const SETFL_MASK: i32 =
    libc::O_APPEND | libc::O_NONBLOCK | libc::O_ASYNC | libc::O_DIRECT | libc::O_NOATIME;

/// The kernel's O_LARGEFILE, which x86-64 open(2) always adds and F_GETFL
/// shows (glibc's `O_LARGEFILE` is 0 on 64-bit targets, so libc has 0).
pub const O_LARGEFILE: i32 = 0o100000;

/// Flags an open file description remembers (F_GETFL shows them).
const KEPT_FLAGS: i32 = libc::O_ACCMODE
    | libc::O_APPEND
    | libc::O_NONBLOCK
    | libc::O_ASYNC
    | libc::O_DIRECT
    | libc::O_NOATIME
    | O_LARGEFILE
    | libc::O_DSYNC
    | libc::O_SYNC
    | libc::O_PATH
    | libc::O_NOFOLLOW
    | libc::O_DIRECTORY;

/// An open file description: what open(2) returns and dup(2) shares.
pub struct File {
    ops: Arc<dyn FileOps>,
    dentry: Option<Arc<Dentry>>,
    flags: AtomicI32,
    /// The file offset; held across a read or write so that concurrent
    /// calls on one description do not interleave their offsets.
    pos: Mutex<u64>,
    /// The entries getdents is walking through, taken at the first call
    /// (and again after a seek to 0); the offset indexes them.
    dir: Mutex<Option<Arc<Vec<DirEntry>>>>,
    /// Counted among its mount's writers (a regular file or directory
    /// opened for writing), which a read-only remount waits on.
    writer: bool,
    /// Counted among its inode's open descriptions (`Notify::opened`):
    /// it has a dentry and is not O_PATH.
    counted: bool,
    /// F_SETSIG: the signal its notifications send (0: SIGIO, without
    /// the descriptor).
    signal: AtomicI32,
    /// Reports no events (a fanotify event's descriptor, Linux's
    /// FMODE_NONOTIFY), so a listener reading its events makes none.
    unwatched: bool,
}

impl Drop for File {
    fn drop(&mut self) {
        if let (true, Some(d)) = (self.writer, &self.dentry) {
            d.mount.drop_writer();
        }
        let flags = self.flags();
        if let (0, false, Some(d)) = (flags & libc::O_PATH, self.unwatched, &self.dentry) {
            let mask = if matches!(flags & libc::O_ACCMODE, libc::O_WRONLY | libc::O_RDWR) {
                libc::IN_CLOSE_WRITE
            } else {
                libc::IN_CLOSE_NOWRITE
            };
            d.mount.notify().path_event(d, mask);
        }
        if let (true, Some(d)) = (self.counted, &self.dentry) {
            d.mount.notify().closed(self, &d.inode);
        }
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "File({})", String::from_utf8_lossy(&self.path()))
    }
}

impl File {
    /// A description over `ops`; `flags` are the open(2) flags (only the
    /// access mode and status flags are kept).
    pub fn new(ops: Arc<dyn FileOps>, dentry: Option<Arc<Dentry>>, flags: i32) -> Arc<File> {
        Self::make(ops, dentry, flags, false)
    }

    /// [`File::new`] for a description that reports no events (the
    /// descriptor of a fanotify event).
    pub fn new_unwatched(
        ops: Arc<dyn FileOps>,
        dentry: Option<Arc<Dentry>>,
        flags: i32,
    ) -> Arc<File> {
        Self::make(ops, dentry, flags, true)
    }

    fn make(
        ops: Arc<dyn FileOps>,
        dentry: Option<Arc<Dentry>>,
        flags: i32,
        unwatched: bool,
    ) -> Arc<File> {
        // Linux's FMODE_WRITER: devices, FIFOs and sockets write
        // elsewhere, not through the mount.
        let writes = flags & libc::O_PATH == 0
            && matches!(flags & libc::O_ACCMODE, libc::O_WRONLY | libc::O_RDWR);
        let writer = writes
            && dentry
                .as_ref()
                .is_some_and(|d| matches!(d.mode() & libc::S_IFMT, libc::S_IFREG | libc::S_IFDIR));
        if let (true, Some(d)) = (writer, &dentry) {
            d.mount.add_writer();
        }
        let counted = flags & libc::O_PATH == 0 && dentry.is_some();
        if let (true, Some(d)) = (counted, &dentry) {
            d.mount.notify().opened(&d.inode);
        }
        Arc::new(File {
            writer,
            counted,
            ops,
            dentry,
            flags: AtomicI32::new(flags & KEPT_FLAGS),
            pos: Mutex::new(0),
            dir: Mutex::new(None),
            signal: AtomicI32::new(0),
            unwatched,
        })
    }

    /// The signal set with F_SETSIG (0 if none).
    pub fn notify_signal(&self) -> i32 {
        self.signal.load(Ordering::Relaxed)
    }

    /// F_SETSIG.
    pub fn set_notify_signal(&self, sig: i32) {
        self.signal.store(sig, Ordering::Relaxed);
    }

    pub fn ops(&self) -> &Arc<dyn FileOps> {
        &self.ops
    }

    pub fn dentry(&self) -> Option<&Arc<Dentry>> {
        self.dentry.as_ref()
    }

    /// The open flags: access mode and status flags (F_GETFL).
    pub fn flags(&self) -> i32 {
        self.flags.load(Ordering::Relaxed)
    }

    /// F_SETFL: changes the status flags in SETFL_MASK only.
    pub fn set_status_flags(&self, new: i32) {
        let _ = self
            .flags
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some((old & !SETFL_MASK) | (new & SETFL_MASK))
            });
    }

    pub fn nonblocking(&self) -> bool {
        self.flags() & libc::O_NONBLOCK != 0
    }

    pub fn is_path_only(&self) -> bool {
        self.flags() & libc::O_PATH != 0
    }

    pub fn readable(&self) -> bool {
        let f = self.flags();
        f & libc::O_PATH == 0 && matches!(f & libc::O_ACCMODE, libc::O_RDONLY | libc::O_RDWR)
    }

    pub fn writable(&self) -> bool {
        let f = self.flags();
        f & libc::O_PATH == 0 && matches!(f & libc::O_ACCMODE, libc::O_WRONLY | libc::O_RDWR)
    }

    pub fn is_dir(&self) -> bool {
        self.dentry.as_ref().is_some_and(|d| d.is_dir())
    }

    /// fstat(2).
    pub fn stat(&self) -> Result<libc::stat, Errno> {
        match &self.dentry {
            Some(d) => d.stat(),
            None => self.ops.stat(),
        }
    }

    /// The absolute path in the sandbox (or `pipe:[N]` and the like).
    pub fn path(&self) -> Vec<u8> {
        match &self.dentry {
            Some(d) => d.path(),
            None => self.ops.name(),
        }
    }

    /// The memory-file pages behind bytes `[off, off+len)` of the file
    /// (see [`super::Inode::shared_memory`]); `None` when its filesystem
    /// keeps them elsewhere.
    pub fn shared_memory(&self, off: u64, len: u64) -> Option<Result<Vec<MemSegment>, Errno>> {
        self.dentry.as_ref()?.inode.shared_memory(off, len)
    }

    /// The pages for a MAP_SHARED mapping (see [`super::Inode::map_shared`]).
    pub fn map_shared(
        &self,
        memfile: &Arc<crate::memfile::MemoryFile>,
        off: u64,
        len: u64,
        writable: bool,
    ) -> Option<Result<super::SharedPages, Errno>> {
        self.dentry
            .as_ref()?
            .inode
            .map_shared(memfile, off, len, writable)
    }

    fn lock_pos(&self) -> MutexGuard<'_, u64> {
        self.pos.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current offset.
    pub fn offset(&self) -> u64 {
        *self.lock_pos()
    }

    /// read(2) at the file offset, advancing it. The caller has checked
    /// that the description is readable.
    pub fn read(&self, t: &dyn Caller, buf: &mut [u8]) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return self.ops.read(t, self, buf, 0);
        }
        let mut pos = self.lock_pos();
        let n = self.ops.read(t, self, buf, *pos)?;
        *pos = pos.saturating_add(n as u64);
        Ok(n)
    }

    /// read(2), readv(2): into the application's buffers at the file
    /// offset, advancing it past what reached them (a fault leaves the
    /// rest of the file where it was).
    pub fn read_seq(&self, t: &dyn Caller, dst: &mut IoSeq<'_>) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return self.ops.read_to(t, self, dst, 0);
        }
        let mut pos = self.lock_pos();
        let n = self.ops.read_to(t, self, dst, *pos)?;
        *pos = pos.saturating_add(n as u64);
        Ok(n)
    }

    /// pread(2), preadv(2): at `off`, offset unchanged; ESPIPE for streams.
    pub fn pread_seq(&self, t: &dyn Caller, dst: &mut IoSeq<'_>, off: u64) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        if i64::try_from(off).is_err() {
            return Err(Errno::EINVAL);
        }
        self.ops.read_to(t, self, dst, off)
    }

    /// How much of a `len`-byte write at `pos` the file size limit lets
    /// through (Linux's generic_write_check_limits): a write to a regular
    /// file stops at RLIMIT_FSIZE, and one that starts there is EFBIG,
    /// with SIGXFSZ.
    fn size_limited(&self, t: &dyn Caller, pos: u64, len: usize) -> Result<usize, Errno> {
        let limit = t.file_size_limit();
        if limit == libc::RLIM_INFINITY
            || len == 0
            || !self.dentry.as_ref().is_some_and(|d| is_reg(d.mode()))
        {
            return Ok(len);
        }
        if pos >= limit {
            t.send_signal_self(libc::SIGXFSZ);
            return Err(Errno::EFBIG);
        }
        Ok(len.min(usize::try_from(limit - pos).unwrap_or(usize::MAX)))
    }

    /// write(2), writev(2): from the application's buffers at the file
    /// offset (at the end with O_APPEND), advancing it.
    pub fn write_seq(&self, t: &dyn Caller, src: &mut IoSeq<'_>) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return self.ops.write_from(t, self, src, 0);
        }
        let mut pos = self.lock_pos();
        if self.flags() & libc::O_APPEND != 0 {
            *pos = self.size()?;
        }
        let allowed = self.size_limited(t, *pos, src.len())?;
        src.truncate(allowed);
        let n = self.ops.write_from(t, self, src, *pos)?;
        *pos = pos.saturating_add(n as u64);
        Ok(n)
    }

    /// pwrite(2), pwritev(2). As on Linux, O_APPEND makes it append anyway.
    pub fn pwrite_seq(
        &self,
        t: &dyn Caller,
        src: &mut IoSeq<'_>,
        off: u64,
    ) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        if i64::try_from(off).is_err() {
            return Err(Errno::EINVAL);
        }
        if self.flags() & libc::O_APPEND != 0 {
            let _pos = self.lock_pos();
            let end = self.size()?;
            let allowed = self.size_limited(t, end, src.len())?;
            src.truncate(allowed);
            return self.ops.write_from(t, self, src, end);
        }
        let allowed = self.size_limited(t, off, src.len())?;
        src.truncate(allowed);
        self.ops.write_from(t, self, src, off)
    }

    /// pread(2): at `off`, offset unchanged; ESPIPE for streams.
    pub fn pread(&self, t: &dyn Caller, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        if i64::try_from(off).is_err() {
            return Err(Errno::EINVAL);
        }
        self.ops.read(t, self, buf, off)
    }

    /// Reads a regular file at `off` with no task behind it: a private
    /// file mapping filling a page on first touch, which may happen in a
    /// fault or under any task's access to the memory (regular files read
    /// the same for every caller).
    pub fn read_for_mapping(&self, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        if i64::try_from(off).is_err() {
            return Err(Errno::EINVAL);
        }
        self.ops.read_at(buf, off)
    }

    /// [`File::pread`] until `buf` is full or EOF: what the loader, the file
    /// cache and file mappings read.
    pub fn pread_full(&self, t: &dyn Caller, buf: &mut [u8], off: u64) -> Result<usize, Errno> {
        let mut done = 0;
        while done < buf.len() {
            let at = off.checked_add(done as u64).ok_or(Errno::EINVAL)?;
            let n = self.pread(t, &mut buf[done..], at)?;
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// write(2) at the file offset (at the end with O_APPEND), advancing it.
    pub fn write(&self, t: &dyn Caller, buf: &[u8]) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return self.ops.write(t, self, buf, 0);
        }
        let mut pos = self.lock_pos();
        if self.flags() & libc::O_APPEND != 0 {
            *pos = self.size()?;
        }
        let allowed = self.size_limited(t, *pos, buf.len())?;
        let n = self.ops.write(t, self, &buf[..allowed], *pos)?;
        *pos = pos.saturating_add(n as u64);
        Ok(n)
    }

    /// pwrite(2). As on Linux, O_APPEND makes it append anyway.
    pub fn pwrite(&self, t: &dyn Caller, buf: &[u8], off: u64) -> Result<usize, Errno> {
        if !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        if i64::try_from(off).is_err() {
            return Err(Errno::EINVAL);
        }
        let n = if self.flags() & libc::O_APPEND != 0 {
            let _pos = self.lock_pos();
            let end = self.size()?;
            let allowed = self.size_limited(t, end, buf.len())?;
            self.ops.write(t, self, &buf[..allowed], end)?
        } else {
            let allowed = self.size_limited(t, off, buf.len())?;
            self.ops.write(t, self, &buf[..allowed], off)?
        };
        Ok(n)
    }

    /// Reports a read of `n` bytes to inotify watches (Linux reports none
    /// for a read that got nothing). The read and write methods leave
    /// this and [`File::modified`] to the system call, which reports once
    /// however many steps it took, as Linux does.
    pub fn accessed(&self, n: usize) {
        if let (true, false, Some(d)) = (n > 0, self.unwatched, &self.dentry) {
            d.mount.notify().path_event(d, libc::IN_ACCESS);
        }
    }

    /// Asks fanotify listeners whether `t` may read (FAN_ACCESS_PERM),
    /// before the read: EPERM when one denies.
    pub fn may_access(&self, t: &dyn Caller) -> Result<(), Errno> {
        match (&self.dentry, self.unwatched) {
            (Some(d), false) => d.mount.notify().permission(t, d, libc::FAN_ACCESS_PERM),
            _ => Ok(()),
        }
    }

    /// Reports a write of `n` bytes to inotify watches.
    pub fn modified(&self, n: usize) {
        if let (true, false, Some(d)) = (n > 0, self.unwatched, &self.dentry) {
            d.mount.notify().path_event(d, libc::IN_MODIFY);
        }
    }

    fn size(&self) -> Result<u64, Errno> {
        Ok(u64::try_from(self.stat()?.st_size).unwrap_or(0))
    }

    /// lseek(2).
    pub fn seek(&self, off: i64, whence: i32) -> Result<u64, Errno> {
        if let Some(r) = self.ops.seek(off, whence) {
            return r;
        }
        if !self.ops.seekable() {
            return Err(Errno::ESPIPE);
        }
        let mut pos = self.lock_pos();
        let base: i64 = match whence {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => i64::try_from(*pos).map_err(|_| Errno::EOVERFLOW)?,
            libc::SEEK_END => {
                if self.is_dir() {
                    return Err(Errno::EINVAL);
                }
                i64::try_from(self.size()?).map_err(|_| Errno::EOVERFLOW)?
            }
            libc::SEEK_DATA | libc::SEEK_HOLE => {
                // Files are one data extent up to their size.
                if self.is_dir() {
                    return Err(Errno::EINVAL);
                }
                let size = i64::try_from(self.size()?).map_err(|_| Errno::EOVERFLOW)?;
                if off < 0 {
                    return Err(Errno::EINVAL);
                }
                if off >= size {
                    return Err(Errno::ENXIO);
                }
                let new = if whence == libc::SEEK_DATA { off } else { size };
                *pos = new as u64;
                return Ok(new as u64);
            }
            _ => return Err(Errno::EINVAL),
        };
        let new = base.checked_add(off).ok_or(Errno::EOVERFLOW)?;
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        if self.is_dir() && new == 0 {
            // rewinddir: list the directory afresh.
            *self.dir.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
        *pos = new as u64;
        Ok(new as u64)
    }

    /// getdents(2) support: calls `emit(index_after, entry)` for the entries
    /// from the offset on, `.` and `..` first, until it returns false; the
    /// offset then points at the first entry not taken.
    pub fn read_dir(
        &self,
        ctx: &super::ctx::Ctx<'_>,
        mut emit: impl FnMut(u64, &DirEntry) -> bool,
    ) -> Result<(), Errno> {
        let d = self.dentry.as_ref().ok_or(Errno::ENOTDIR)?;
        if !d.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        let mut pos = self.lock_pos();
        let entries = {
            let mut cache = self.dir.lock().unwrap_or_else(|e| e.into_inner());
            match &*cache {
                Some(e) if *pos != 0 => e.clone(),
                _ => {
                    let parent = d.parent().map_or(d.inode.ino(), |p| p.inode.ino());
                    let mut all = vec![
                        super::DirEntry {
                            ino: d.inode.ino(),
                            ty: libc::DT_DIR,
                            name: b".".to_vec(),
                        },
                        super::DirEntry {
                            ino: parent,
                            ty: libc::DT_DIR,
                            name: b"..".to_vec(),
                        },
                    ];
                    all.extend(d.inode.readdir_by(ctx)?);
                    let all = Arc::new(all);
                    *cache = Some(all.clone());
                    all
                }
            }
        };
        let start = usize::try_from(*pos).unwrap_or(usize::MAX);
        for (i, e) in entries.iter().enumerate().skip(start) {
            if !emit(i as u64 + 1, e) {
                break;
            }
            *pos = i as u64 + 1;
        }
        Ok(())
    }
}
