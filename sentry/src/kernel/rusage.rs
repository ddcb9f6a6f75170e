//! Resource usage as getrusage(2) and wait4(2) report it: CPU time and
//! the peak resident size (ru_maxrss), the rest zero.
//!
//! The peaks follow Linux's bookkeeping: a process keeps the largest peak
//! of the address spaces it has left by exec or exit (`ThreadGroup::
//! maxrss`, which each address space fills when it ends), and the largest
//! reported by a reaped child, counting that child's own reaped children
//! (`TgInner::children_maxrss`, Linux's cmaxrss).

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::kernel::task::Task;
use crate::kernel::thread_group::ThreadGroup;

/// Whose usage getrusage asks for (RUSAGE_BOTH is wait's: a reaped
/// child and its own children).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Who {
    Process,
    Thread,
    Children,
    Both,
}

impl Who {
    /// getrusage's `who`; None is EINVAL.
    pub fn from_raw(who: i32) -> Option<Who> {
        match who {
            libc::RUSAGE_SELF => Some(Who::Process),
            libc::RUSAGE_THREAD => Some(Who::Thread),
            libc::RUSAGE_CHILDREN => Some(Who::Children),
            _ => None,
        }
    }
}

fn usage(cpu: Duration, maxrss: u64) -> libc::rusage {
    let mut ru: libc::rusage = crate::usermem::zeroed();
    ru.ru_utime = libc::timeval {
        tv_sec: cpu.as_secs() as i64,
        tv_usec: cpu.subsec_micros() as i64,
    };
    // Kilobytes, as Linux reports it.
    ru.ru_maxrss = (maxrss / 1024) as i64;
    ru
}

impl Task {
    /// getrusage(who) for this task.
    pub fn rusage(&self, who: Who) -> libc::rusage {
        match who {
            // A thread's peak is its process's, as on Linux: the address
            // space is the process's.
            Who::Thread => usage(
                Duration::from_nanos(self.handle.utime_ns.load(Ordering::Relaxed)),
                self.own_maxrss(),
            ),
            Who::Process => usage(
                Duration::from_nanos(self.tg.cpu_time_ns()),
                self.own_maxrss(),
            ),
            Who::Children => {
                let g = self.tg.inner.lock().unwrap();
                usage(g.children_utime, g.children_maxrss)
            }
            Who::Both => reaped(&self.tg),
        }
    }
}

impl Task {
    fn own_maxrss(&self) -> u64 {
        self.tg
            .maxrss
            .load(Ordering::Relaxed)
            .max(self.mm.hiwater_rss())
    }
}

/// RUSAGE_BOTH of a process that has exited (its address space is gone,
/// so its peak is in `maxrss`): what wait4 reports of a child.
pub fn reaped(child: &ThreadGroup) -> libc::rusage {
    let (cpu, maxrss) = both(child);
    usage(cpu, maxrss)
}

fn both(child: &ThreadGroup) -> (Duration, u64) {
    let own = Duration::from_nanos(child.cpu_time_ns());
    let own_peak = child.maxrss.load(Ordering::Relaxed);
    let g = child.inner.lock().unwrap();
    (own + g.children_utime, own_peak.max(g.children_maxrss))
}

/// The reaped `child`'s usage, with its own children's, goes to the
/// parent's RUSAGE_CHILDREN (and times()'s tms_cutime).
pub fn account_reaped(parent: &ThreadGroup, child: &ThreadGroup) {
    let (cpu, maxrss) = both(child);
    let mut g = parent.inner.lock().unwrap();
    g.children_utime += cpu;
    g.children_maxrss = g.children_maxrss.max(maxrss);
}
