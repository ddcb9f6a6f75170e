//! Thread groups (processes): their tasks, children, shared signal state and
//! exit status.

use std::sync::{Arc, Mutex, Weak};

use crate::kernel::namespaces::PidNs;
use crate::kernel::signal::{Pending, SigAction, NSIG};
use crate::kernel::TaskHandle;
use crate::waiter::WaitQueue;

pub type SigActions = Arc<Mutex<[SigAction; NSIG]>>;

pub fn default_actions() -> SigActions {
    Arc::new(Mutex::new([SigAction::default(); NSIG]))
}

/// A wait status: `(code << 8)` for exit, the signal number (| 0x80 with a
/// core dump) for death by signal.
pub fn exit_status(code: i32) -> i32 {
    (code & 0xff) << 8
}

pub fn signal_status(sig: i32, core: bool) -> i32 {
    sig | if core { 0x80 } else { 0 }
}

#[derive(Default)]
pub struct TgInner {
    pub parent: Option<Weak<ThreadGroup>>,
    pub children: Vec<Arc<ThreadGroup>>,
    pub tasks: Vec<Arc<TaskHandle>>,
    /// Process-directed pending signals.
    pub pending: Pending,
    /// The wait status once every task has exited (a zombie).
    pub exit: Option<i32>,
    /// The name of the last task to exit, which /proc shows for a zombie.
    pub exit_comm: Vec<u8>,
    /// Set by exit_group or a fatal signal: every task is leaving.
    pub group_exit: Option<i32>,
    /// Signal sent to the parent on exit (SIGCHLD, or none for threads).
    pub exit_signal: i32,
    pub pgid: i32,
    pub sid: i32,
    /// setitimer's ITIMER_REAL, ITIMER_VIRTUAL and ITIMER_PROF.
    pub itimers: crate::kernel::timer_state::Itimers,
    /// Accumulated CPU time of reaped children, for times()/getrusage.
    pub children_utime: std::time::Duration,
    /// The largest peak resident size, bytes, of a reaped child or of
    /// one of its own reaped children (Linux's signal->cmaxrss).
    pub children_maxrss: u64,
    /// Set while the group is stopped by a job-control signal.
    pub stopped: Option<i32>,
    /// A stop not yet reported to wait(WUNTRACED), and its signal.
    pub wait_stop_pending: Option<i32>,
    /// A continue not yet reported to wait(WCONTINUED).
    pub wait_cont_pending: bool,
    /// Resource limits set by the application (others are the defaults).
    pub rlimits: std::collections::HashMap<usize, libc::rlimit>,
}

pub struct ThreadGroup {
    /// Its kernel id (its pid in the initial PID namespace).
    pub tgid: i32,
    /// The PID namespace its tasks live in, fixed for life.
    pub pidns: Arc<PidNs>,
    pub inner: Mutex<TgInner>,
    /// Notified when a child changes state (wait4, waitid).
    pub child_events: WaitQueue,
    /// Stopped tasks sleep here until SIGCONT or SIGKILL.
    pub stop_queue: WaitQueue,
    /// Notified when the last task exits (pidfds poll on it).
    pub exit_waiters: WaitQueue,
    pub actions: SigActions,
    pub start: std::time::Instant,
    /// A watcher enforces the group's CPU time limit (`rlimits.rs`).
    pub cpu_watched: std::sync::atomic::AtomicBool,
    /// CPU time of the group's exited threads, nanoseconds (the process
    /// clock keeps it).
    pub exited_cpu_ns: std::sync::atomic::AtomicU64,
    /// The largest resident size, bytes, of the address spaces the group
    /// has left (by exec or exit; Linux's signal->maxrss): each reports
    /// its peak here when it ends (`mm/rss.rs`).
    pub maxrss: Arc<std::sync::atomic::AtomicU64>,
    /// Deadlines on the CPU clocks of the group and its threads.
    pub cpu_timers: crate::kernel::cpu_timers::CpuTimers,
    /// timer_create's timers.
    pub posix_timers: crate::kernel::timer_state::PosixTimers,
    /// The container of the sandbox's pod this process belongs to (0: the
    /// sandbox's own), inherited from the parent: what `kill` and `ps`
    /// of one container reach.
    pub container: std::sync::atomic::AtomicU32,
}

impl ThreadGroup {
    pub fn new(
        tgid: i32,
        parent: Option<&Arc<ThreadGroup>>,
        actions: SigActions,
        pidns: Arc<PidNs>,
    ) -> Arc<ThreadGroup> {
        let (pgid, sid) = match parent {
            Some(p) => {
                let pi = p.inner.lock().unwrap();
                (pi.pgid, pi.sid)
            }
            None => (tgid, tgid),
        };
        let container = parent.map_or(0, |p| p.container());
        Arc::new(ThreadGroup {
            tgid,
            pidns,
            inner: Mutex::new(TgInner {
                parent: parent.map(Arc::downgrade),
                exit_signal: libc::SIGCHLD,
                pgid,
                sid,
                ..Default::default()
            }),
            child_events: WaitQueue::new(),
            stop_queue: WaitQueue::new(),
            exit_waiters: WaitQueue::new(),
            actions,
            start: std::time::Instant::now(),
            cpu_watched: Default::default(),
            exited_cpu_ns: Default::default(),
            maxrss: Default::default(),
            cpu_timers: Default::default(),
            posix_timers: Default::default(),
            container: container.into(),
        })
    }

    /// The pod container this process belongs to (0: the sandbox's own).
    pub fn container(&self) -> u32 {
        self.container.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn parent(&self) -> Option<Arc<ThreadGroup>> {
        self.inner
            .lock()
            .unwrap()
            .parent
            .as_ref()
            .and_then(|w| w.upgrade())
    }

    pub fn leader_tid(&self) -> i32 {
        self.tgid
    }

    /// CPU time of the group's tasks, the exited ones' included,
    /// nanoseconds.
    pub fn cpu_time_ns(&self) -> u64 {
        use std::sync::atomic::Ordering::Relaxed;
        let i = self.inner.lock().unwrap();
        // Read under the lock that exit takes to move a task's time over,
        // so no task is counted twice or not at all.
        let live: u64 = i.tasks.iter().map(|h| h.utime_ns.load(Relaxed)).sum();
        live + self.exited_cpu_ns.load(Relaxed)
    }
}

/// Default limits, as a container under Docker typically sees them.
pub fn default_limit(res: usize) -> libc::rlimit {
    const INF: u64 = libc::RLIM_INFINITY;
    let (cur, max) = match res as u32 {
        libc::RLIMIT_STACK => (8 << 20, INF),
        libc::RLIMIT_NOFILE => (1024, 1 << 20),
        libc::RLIMIT_CORE => (0, INF),
        libc::RLIMIT_NPROC => (1 << 20, 1 << 20),
        libc::RLIMIT_MEMLOCK => (8 << 20, 8 << 20),
        libc::RLIMIT_SIGPENDING => (1 << 17, 1 << 17),
        libc::RLIMIT_MSGQUEUE => (819_200, 819_200),
        // Linux's INIT_RLIMITS: no raising of priorities without
        // CAP_SYS_NICE.
        libc::RLIMIT_NICE | libc::RLIMIT_RTPRIO => (0, 0),
        _ => (INF, INF),
    };
    libc::rlimit {
        rlim_cur: cur,
        rlim_max: max,
    }
}

impl ThreadGroup {
    /// The group's limit of resource `res`: what the application set, or
    /// the default.
    pub fn rlimit(&self, res: usize) -> libc::rlimit {
        self.inner
            .lock()
            .unwrap()
            .rlimits
            .get(&res)
            .copied()
            .unwrap_or_else(|| default_limit(res))
    }
}
