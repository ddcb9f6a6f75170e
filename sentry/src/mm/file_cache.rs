//! A cache of file contents in the memory file, for program loading and
//! private file mappings.
//!
//! Executing a program reads its binary and libraries; through the Gofer that
//! is a 9P round trip per 64 KiB, for every exec. The cache keeps a whole
//! file's bytes in a memory-file range keyed by the file's identity and
//! version (device, inode, size, mtime, ctime), so later loads copy within
//! the memory file, and read-only segments map the cached pages directly.
//! Entries nobody maps are evicted, least recently used first, when the cache
//! outgrows its budget.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{MemRange, MemoryFile, PAGE_SIZE};
use crate::errno::Errno;
use crate::vfs::Caller;
use crate::vfs::File;

/// Files larger than this are not cached (read as before).
const MAX_FILE: u64 = 256 << 20;
/// Bytes of unreferenced entries the cache keeps.
const BUDGET: u64 = 512 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
struct Key {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

struct Entry {
    mem: Arc<MemRange>,
    size: u64,
    last_use: u64,
}

#[derive(Default)]
pub struct FileCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Key, Entry>,
    clock: u64,
}

/// A file's cached bytes: `mem` holds `size` bytes from offset 0, the rest of
/// the last page zero.
#[derive(Clone)]
pub struct Cached {
    pub mem: Arc<MemRange>,
    pub size: u64,
}

impl FileCache {
    /// The cached contents of a regular file, reading it in on a miss.
    /// None when the file is not worth caching (not regular, too big).
    pub fn get(
        &self,
        t: &dyn Caller,
        file: &Arc<MemoryFile>,
        f: &File,
    ) -> Result<Option<Cached>, Errno> {
        // Files whose data already lives in the memory file (tmpfs) can be
        // changed through shared mappings without a new mtime: never cache
        // them (reading them is a memory copy anyway).
        if f.shared_memory(0, 0).is_some() {
            return Ok(None);
        }
        let st = f.stat()?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG
            || st.st_size < 0
            || st.st_size as u64 > MAX_FILE
        {
            return Ok(None);
        }
        let key = Key {
            dev: st.st_dev,
            ino: st.st_ino,
            size: st.st_size as u64,
            mtime: (st.st_mtime, st.st_mtime_nsec),
            ctime: (st.st_ctime, st.st_ctime_nsec),
        };
        {
            let mut g = self.inner.lock().unwrap();
            g.clock += 1;
            let now = g.clock;
            if let Some(e) = g.entries.get_mut(&key) {
                e.last_use = now;
                return Ok(Some(Cached {
                    mem: e.mem.clone(),
                    size: e.size,
                }));
            }
        }
        // Read outside the lock: it may take many round trips.
        let size = key.size;
        let mem = MemRange::new(file, size.max(PAGE_SIZE))?;
        let mut buf = vec![0u8; (size as usize).min(1 << 20)];
        let mut pos = 0u64;
        while pos < size {
            let n = ((size - pos) as usize).min(buf.len());
            let got = f.pread_full(t, &mut buf[..n], pos)?;
            // SAFETY: mem holds at least `size` bytes from mem.off; pos+got
            // never exceeds size.
            unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), file.ptr(mem.off + pos), got) };
            if got < n {
                // The file shrank while we read: do not cache a torn copy.
                return Ok(None);
            }
            pos += n as u64;
        }
        let mut g = self.inner.lock().unwrap();
        g.clock += 1;
        let now = g.clock;
        let e = g.entries.entry(key).or_insert(Entry {
            mem,
            size,
            last_use: now,
        });
        let out = Cached {
            mem: e.mem.clone(),
            size: e.size,
        };
        Self::evict(&mut g);
        Ok(Some(out))
    }

    /// Drops least recently used entries that no mapping holds until the
    /// unreferenced ones fit the budget.
    fn evict(g: &mut Inner) {
        loop {
            let idle: Vec<(Key, u64, u64)> = g
                .entries
                .iter()
                .filter(|(_, e)| Arc::strong_count(&e.mem) == 1)
                .map(|(k, e)| (*k, e.mem.len, e.last_use))
                .collect();
            let total: u64 = idle.iter().map(|(_, l, _)| *l).sum();
            if total <= BUDGET {
                return;
            }
            let Some((k, _, _)) = idle.iter().min_by_key(|(_, _, u)| *u) else {
                return;
            };
            g.entries.remove(k);
        }
    }

    /// Bytes held by the cache (for tests and /proc/meminfo later).
    pub fn bytes(&self) -> u64 {
        self.inner
            .lock()
            .unwrap()
            .entries
            .values()
            .map(|e| e.mem.len)
            .sum()
    }
}
