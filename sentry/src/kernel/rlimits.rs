//! Resource limits where the kernel enforces them for a task: the file
//! size limit (RLIMIT_FSIZE, with SIGXFSZ), the process count
//! (RLIMIT_NPROC), locked memory (RLIMIT_MEMLOCK) and the CPU time limit
//! (RLIMIT_CPU, with SIGXCPU then SIGKILL). The address-space and data
//! limits are checked against the MM's mappings (`syscalls/mmap.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::caps::{CAP_IPC_LOCK, CAP_SYS_ADMIN, CAP_SYS_RESOURCE};
use crate::errno::Errno;
use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;

/// One second of CPU time, in nanoseconds.
const NS_PER_SEC: u64 = 1_000_000_000;

impl Task {
    /// The soft limit of resource `res` (RLIMIT_*).
    pub fn rlimit_cur(&self, res: u32) -> u64 {
        self.tg.rlimit(res as usize).rlim_cur
    }

    /// A file may grow to `size` bytes (truncate, fallocate): past the
    /// file size limit it is EFBIG, with SIGXFSZ, as Linux's
    /// inode_newsize_ok.
    pub fn check_file_size(&self, size: u64) -> Result<(), Errno> {
        let limit = self.rlimit_cur(libc::RLIMIT_FSIZE);
        if limit != libc::RLIM_INFINITY && size > limit {
            self.send_signal_self(libc::SIGXFSZ);
            return Err(Errno::EFBIG);
        }
        Ok(())
    }

    /// clone(2): the real user may own at most RLIMIT_NPROC tasks (EAGAIN),
    /// as Linux's copy_process counts them: uid 0 (the sandbox's initial
    /// user, as a container's root is the host's without a user
    /// namespace) and CAP_SYS_ADMIN or CAP_SYS_RESOURCE are exempt.
    pub fn check_nproc(&self) -> Result<(), Errno> {
        let limit = self.rlimit_cur(libc::RLIMIT_NPROC);
        if limit == libc::RLIM_INFINITY {
            return Ok(());
        }
        let c = self.creds();
        if c.uid == 0 || c.capable(CAP_SYS_ADMIN) || c.capable(CAP_SYS_RESOURCE) {
            return Ok(());
        }
        let tasks: Vec<_> = self
            .kernel
            .pids
            .lock()
            .unwrap()
            .tasks
            .values()
            .cloned()
            .collect();
        let owned = tasks
            .iter()
            .filter(|h| h.creds.lock().unwrap().uid == c.uid)
            .count() as u64;
        if owned >= limit {
            return Err(Errno::EAGAIN);
        }
        Ok(())
    }

    /// Whether `bytes` more of locked memory fit under RLIMIT_MEMLOCK
    /// (Linux's can_do_mlock and mlock's limit): with CAP_IPC_LOCK
    /// anything; without, EPERM for a zero limit, ENOMEM past it.
    pub fn check_memlock(&self, locked_after: u64) -> Result<(), Errno> {
        if self.creds().capable(CAP_IPC_LOCK) {
            return Ok(());
        }
        let limit = self.rlimit_cur(libc::RLIMIT_MEMLOCK);
        if limit == 0 {
            return Err(Errno::EPERM);
        }
        if limit != libc::RLIM_INFINITY && locked_after > limit {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// RLIMIT_CPU, checked as the task's CPU time is accounted (after
    /// each return from the application; a watcher kicks running tasks
    /// so that a loop without syscalls is accounted too): at the soft
    /// limit SIGXCPU, and the soft limit moves one second on, as Linux
    /// moves it, so the signal comes again each further second; at the
    /// hard limit SIGKILL. The limit counts the whole process's time.
    pub fn check_cpu_limit(&self) {
        let l = self.tg.rlimit(libc::RLIMIT_CPU as usize);
        if l.rlim_cur == libc::RLIM_INFINITY {
            return;
        }
        let secs = self.tg.cpu_time_ns() / NS_PER_SEC;
        if l.rlim_max != libc::RLIM_INFINITY && secs >= l.rlim_max {
            self.send_signal_self(libc::SIGKILL);
            return;
        }
        if secs >= l.rlim_cur {
            let bumped = libc::rlimit {
                rlim_cur: l.rlim_cur + 1,
                rlim_max: l.rlim_max,
            };
            let mut g = self.tg.inner.lock().unwrap();
            g.rlimits.insert(libc::RLIMIT_CPU as usize, bumped);
            drop(g);
            self.send_signal_self(libc::SIGXCPU);
        }
    }
}

/// How often a CPU-limited process's running tasks are made to account
/// their time.
const CPU_WATCH_PERIOD: Duration = Duration::from_millis(50);

/// Starts the watcher of `tg`'s CPU limit if it has a finite one and none
/// runs yet. The watcher ends with the process or when the limit is
/// lifted.
pub fn watch_cpu_limit(tg: &Arc<ThreadGroup>) {
    if tg.rlimit(libc::RLIMIT_CPU as usize).rlim_cur == libc::RLIM_INFINITY
        || tg.cpu_watched.swap(true, Ordering::SeqCst)
    {
        return;
    }
    let weak = Arc::downgrade(tg);
    let spawned = std::thread::Builder::new()
        .name("cpu-limit".into())
        .spawn(move || loop {
            std::thread::sleep(CPU_WATCH_PERIOD);
            let Some(tg) = weak.upgrade() else { return };
            let tasks = {
                let g = tg.inner.lock().unwrap();
                if g.exit.is_some() {
                    return;
                }
                g.tasks.clone()
            };
            if tg.rlimit(libc::RLIMIT_CPU as usize).rlim_cur == libc::RLIM_INFINITY {
                tg.cpu_watched.store(false, Ordering::SeqCst);
                return;
            }
            for h in tasks {
                // Only out of the application: a task asleep in the
                // Sentry uses no CPU and must not be woken.
                if let Some(i) = h.interrupter.lock().unwrap().as_ref() {
                    i.interrupt();
                }
            }
        });
    if spawned.is_err() {
        tg.cpu_watched.store(false, Ordering::SeqCst);
    }
}
