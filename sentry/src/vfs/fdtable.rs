//! The file descriptor table of a task (shared by threads, copied by fork).

use std::sync::{Arc, Mutex, MutexGuard};

use super::File;
use crate::errno::Errno;

/// Default RLIMIT_NOFILE soft limit, as Linux's.
pub const DEFAULT_MAX_FDS: usize = 1024;
/// The hard ceiling for any fd limit (Linux's default fs.nr_open).
pub const NR_OPEN: usize = 1 << 20;

#[derive(Clone)]
struct Slot {
    file: Arc<File>,
    cloexec: bool,
}

struct Inner {
    slots: Vec<Option<Slot>>,
    /// Descriptors must be below this (RLIMIT_NOFILE).
    max: usize,
}

impl Inner {
    fn lowest_free(&self, from: usize) -> Result<usize, Errno> {
        let mut fd = from;
        while fd < self.slots.len() && self.slots[fd].is_some() {
            fd += 1;
        }
        if fd >= self.max {
            return Err(Errno::EMFILE);
        }
        Ok(fd)
    }

    fn put(&mut self, fd: usize, slot: Slot) -> Option<Slot> {
        if fd >= self.slots.len() {
            self.slots.resize(fd + 1, None);
        }
        self.slots[fd].replace(slot)
    }

    fn take(&mut self, fd: usize) -> Option<Slot> {
        let s = self.slots.get_mut(fd)?.take();
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        s
    }
}

/// A table of open file descriptions, indexed by descriptor.
///
/// Files dropped from the table are released after the table's lock is
/// let go: releasing the last reference to a file may clunk a Gofer fid or
/// wake a pipe's other end, which must not happen under the lock.
pub struct FdTable {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for FdTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FdTable({} open)", self.count())
    }
}

fn index(fd: i32) -> Result<usize, Errno> {
    usize::try_from(fd).map_err(|_| Errno::EBADF)
}

impl FdTable {
    pub fn new() -> Arc<FdTable> {
        Arc::new(FdTable {
            inner: Mutex::new(Inner {
                slots: Vec::new(),
                max: DEFAULT_MAX_FDS,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy for fork(2): same descriptions, same cloexec flags.
    pub fn fork(&self) -> Arc<FdTable> {
        let inner = self.lock();
        Arc::new(FdTable {
            inner: Mutex::new(Inner {
                slots: inner.slots.clone(),
                max: inner.max,
            }),
        })
    }

    /// The limit (RLIMIT_NOFILE): descriptors must be below it.
    pub fn max(&self) -> usize {
        self.lock().max
    }

    /// Sets the limit (setrlimit(RLIMIT_NOFILE)); capped at NR_OPEN.
    /// Descriptors already above it stay open, as on Linux.
    pub fn set_max(&self, max: u64) {
        self.lock().max = usize::try_from(max).unwrap_or(NR_OPEN).min(NR_OPEN);
    }

    pub fn count(&self) -> usize {
        self.lock().slots.iter().filter(|s| s.is_some()).count()
    }

    pub fn get(&self, fd: i32) -> Result<Arc<File>, Errno> {
        let i = index(fd)?;
        self.lock()
            .slots
            .get(i)
            .and_then(|s| s.as_ref())
            .map(|s| s.file.clone())
            .ok_or(Errno::EBADF)
    }

    /// The file and its close-on-exec flag.
    pub fn get_with_flags(&self, fd: i32) -> Result<(Arc<File>, bool), Errno> {
        let i = index(fd)?;
        self.lock()
            .slots
            .get(i)
            .and_then(|s| s.as_ref())
            .map(|s| (s.file.clone(), s.cloexec))
            .ok_or(Errno::EBADF)
    }

    /// Installs `file` at the lowest free descriptor.
    pub fn install(&self, file: Arc<File>, cloexec: bool) -> Result<i32, Errno> {
        self.install_from(file, 0, cloexec)
    }

    /// Installs `file` at the lowest free descriptor >= `from` (F_DUPFD).
    pub fn install_from(&self, file: Arc<File>, from: usize, cloexec: bool) -> Result<i32, Errno> {
        let mut inner = self.lock();
        let fd = inner.lowest_free(from)?;
        inner.put(fd, Slot { file, cloexec });
        i32::try_from(fd).map_err(|_| Errno::EMFILE)
    }

    /// Installs `file` at exactly `fd`, closing what was there (dup2).
    /// EBADF if `fd` is negative or not below the limit.
    pub fn install_at(&self, fd: i32, file: Arc<File>, cloexec: bool) -> Result<(), Errno> {
        let i = index(fd)?;
        let old = {
            let mut inner = self.lock();
            if i >= inner.max {
                return Err(Errno::EBADF);
            }
            inner.put(i, Slot { file, cloexec })
        };
        drop(old);
        Ok(())
    }

    /// Installs two files at the two lowest free descriptors, or neither
    /// (pipe(2)).
    pub fn install_pair(
        &self,
        a: Arc<File>,
        b: Arc<File>,
        cloexec: bool,
    ) -> Result<(i32, i32), Errno> {
        let mut inner = self.lock();
        let fa = inner.lowest_free(0)?;
        inner.put(fa, Slot { file: a, cloexec });
        match inner.lowest_free(fa + 1) {
            Ok(fb) => {
                inner.put(fb, Slot { file: b, cloexec });
                Ok((fa as i32, fb as i32))
            }
            Err(e) => {
                let a = inner.take(fa);
                drop(inner);
                drop(a);
                Err(e)
            }
        }
    }

    /// Removes `fd` and returns its file (close(2) drops it).
    pub fn remove(&self, fd: i32) -> Result<Arc<File>, Errno> {
        let i = index(fd)?;
        let slot = self.lock().take(i).ok_or(Errno::EBADF)?;
        Ok(slot.file)
    }

    pub fn set_cloexec(&self, fd: i32, cloexec: bool) -> Result<(), Errno> {
        let i = index(fd)?;
        let mut inner = self.lock();
        match inner.slots.get_mut(i).and_then(|s| s.as_mut()) {
            Some(s) => {
                s.cloexec = cloexec;
                Ok(())
            }
            None => Err(Errno::EBADF),
        }
    }

    /// execve(2): closes the close-on-exec descriptors.
    pub fn close_on_exec(&self) {
        let mut closed = Vec::new();
        {
            let mut inner = self.lock();
            for s in inner.slots.iter_mut() {
                if s.as_ref().is_some_and(|s| s.cloexec) {
                    closed.push(s.take());
                }
            }
            while matches!(inner.slots.last(), Some(None)) {
                inner.slots.pop();
            }
        }
        drop(closed);
    }

    /// Exit: closes everything.
    pub fn close_all(&self) {
        let slots = std::mem::take(&mut self.lock().slots);
        drop(slots);
    }

    /// The open descriptors, lowest first (for /proc/self/fd).
    pub fn fds(&self) -> Vec<i32> {
        self.lock()
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .filter_map(|(i, _)| i32::try_from(i).ok())
            .collect()
    }
}
