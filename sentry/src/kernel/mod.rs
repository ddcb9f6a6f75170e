//! The kernel proper: tasks, thread groups, the PID namespace, signals,
//! futexes and credentials.
//!
//! This file holds the [`Kernel`], its PID namespace ([`Pids`]) and what
//! the namespace lists of each task, its [`TaskHandle`]. A handle names its
//! [`ThreadGroup`] and the group lists its handles, so the handle lives here
//! and not in `task.rs`: `thread_group.rs` would import that file and be
//! imported by it. The other files import this one, and one another only
//! downward: `signal.rs`, `activity.rs` and `credentials.rs` are data; `thread_group.rs` is a
//! process; `task.rs` is a task's own state, its access to application
//! memory and its sleeps; `signal_send.rs`, `signal_frame.rs`, `exit.rs`,
//! `clone.rs`, `exec.rs`, `futex.rs` and `debug.rs` act on tasks; and
//! `task_run.rs`, the run loop, calls into them, the syscall table and
//! `freezer.rs` (a pod's paused containers).
//! `ipc/` is the SysV IPC namespace. Timers: `timers.rs` (the kernel's
//! timer service), `cpu_timers.rs` and `timer_state.rs` (data a thread
//! group holds), `clock.rs`, `cpu_tick.rs`, `itimers.rs` and
//! `posix_timers.rs` (acting on it).

pub mod access;
pub mod activity;
mod caller;
pub mod clock;
pub mod clone;
pub mod cpu_charge;
pub mod cpu_tick;
pub mod cpu_timers;
pub mod credentials;
pub mod deadline;
pub mod debug;
pub mod exec;
pub mod exit;
pub mod freezer;
pub mod futex;
pub mod futex_pi;
pub mod guest_answers;
pub mod ipc;
pub mod itimers;
pub mod namespaces;
pub mod personality;
pub mod pid_lookup;
pub mod pidfd;
pub mod posix_timers;
pub mod ptrace;
pub mod rlimits;
mod robust;
pub mod rusage;
pub mod seccomp;
pub mod signal;
pub mod signal_frame;
pub mod signal_send;
pub mod sleeper;
pub mod syscall_patch;
pub mod syscall_table;
pub mod task;
pub mod task_run;
pub mod thread_group;
pub mod timer_state;
pub mod timers;
pub mod uts;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Instant, SystemTime};

use platform::{Interrupter, Platform};

use crate::errno::Errno;
use crate::kernel::activity::Activity;
use crate::kernel::signal::{AltStack, Pending};
use crate::kernel::syscall_table::Table;
use crate::mm::{MemoryFile, MemoryManager};
use crate::vfs::{FdTable, FsContext, Vfs};
use crate::waiter::Waiter;
pub use credentials::Credentials;
pub use task::Task;
pub use thread_group::ThreadGroup;

/// Options the sandbox was started with.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Where application code runs (`--platform`).
    pub platform: platform::PlatformKind,
    /// Log each syscall (`--strace`).
    pub strace: bool,
    /// Patch system call sites into jumps to the platform's trampoline
    /// (`--systrap-patch`, systrap only).
    pub systrap_patch: bool,
    /// Log only these syscall numbers (`--strace-syscalls`); None: all.
    pub strace_syscalls: Option<Vec<u64>>,
    /// The most bytes of a buffer or string `--strace` shows
    /// (`--strace-log-size`).
    pub strace_log_size: usize,
    pub hostname: String,
    /// CPUs the sandbox reports (measured before the Sentry is locked down:
    /// finding out reads host files).
    pub cpus: usize,
    /// The host's /proc/cpuinfo, cut to `cpus` processors (read at boot,
    /// before lockdown); empty: /proc/cpuinfo is made from CPUID.
    pub cpuinfo: String,
    /// The most tasks the sandbox may hold (the container's pids limit).
    pub pids_limit: Option<usize>,
    /// `/` is an in-memory overlay over the read-only Gofer root
    /// (`--overlay=memory`); false: the Gofer root itself, written through
    /// to the host (`--overlay=none`).
    pub root_overlay: bool,
    /// The host may change the Gofer's files while the sandbox runs
    /// (`--file-access=shared`): revalidate instead of caching for good.
    pub file_access_shared: bool,
    /// Where inet sockets live (`--network`): the Sentry's own stack, or
    /// host sockets the Sentry drives (`host`).
    pub network: netstack::NetworkMode,
    /// `net.ipv4.ip_unprivileged_port_start` as the spec sets it (None:
    /// Linux's 1024).
    pub unprivileged_port_start: Option<u16>,
}

/// Per-thread signal state.
#[derive(Default)]
pub struct TaskSignals {
    pub mask: u64,
    pub pending: Pending,
    /// The mask to restore after a handler that interrupted sigsuspend.
    pub saved_mask: Option<u64>,
    /// The mask before sigtimedwait unblocked what it waits for (Linux's
    /// real_blocked): a signal blocked here is still kept on arrival, not
    /// dropped as ignored, so the wait can take it.
    pub real_blocked: u64,
    pub alt: AltStack,
}

/// The shared face of a task.
pub struct TaskHandle {
    pub tid: i32,
    pub tg: Arc<ThreadGroup>,
    pub waiter: Arc<Waiter>,
    pub sig: Mutex<TaskSignals>,
    pub interrupter: Mutex<Option<Interrupter>>,
    /// The task must exit at its next chance (exit_group, execve by another
    /// thread, a fatal signal).
    pub killed: AtomicBool,
    pub creds: Mutex<Credentials>,
    pub comm: Mutex<Vec<u8>>,
    /// CPU time spent in the application and in the Sentry, nanoseconds.
    pub utime_ns: AtomicU64,
    pub stime_ns: AtomicU64,
    /// What /proc shows of this task to others, published by the task.
    pub view: Mutex<TaskView>,
    /// Asleep in [`Task::block`] (state S in /proc; R otherwise).
    pub sleeping: AtomicBool,
    /// Times the task went to sleep (voluntary_ctxt_switches).
    pub nvcsw: AtomicU64,
    /// Its nice value and CPU affinity, as the application set them.
    pub sched: Mutex<SchedAttrs>,
    /// The syscall it serves and what it sleeps on, for the task dump.
    pub activity: Activity,
    /// Its seccomp mode and filters (application seccomp).
    pub seccomp: seccomp::TaskSeccomp,
    /// Its tracer, while it is ptraced.
    pub ptrace: ptrace::TraceeSlot,
    /// Its namespaces (its user namespace is in `creds`), as /proc and
    /// setns see them; the task's own copy is `Task::ns`.
    pub ns: Mutex<Arc<namespaces::Namespaces>>,
    /// Its personality(2) persona (`personality.rs`).
    pub personality: std::sync::atomic::AtomicU32,
}

/// What setpriority, sched_setaffinity and set_mempolicy set, kept per
/// thread as Linux keeps them (and inherited by a new thread or process).
/// The Sentry reports them back; the host scheduler keeps its own pinning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedAttrs {
    /// -20 (most favoured) to 19.
    pub nice: i32,
    /// The CPUs allowed, a bit per CPU (bytes as the syscall passes them),
    /// or `None` for all.
    pub affinity: Option<Vec<u8>>,
    /// Its NUMA memory policy (set_mempolicy).
    pub mempolicy: crate::mm::MemPolicy,
}

/// A task's address space, descriptors and filesystem context as /proc
/// sees them from another task. Weak: a reader never keeps them alive (an
/// address space is destroyed with its last strong reference), so after
/// exit or exec the old ones simply fail to upgrade.
#[derive(Default)]
pub struct TaskView {
    pub mm: Weak<MemoryManager>,
    pub fds: Weak<FdTable>,
    pub fs: Weak<FsContext>,
}

impl TaskHandle {
    /// The handle of a new task of `tg`, with the signal mask it starts
    /// with.
    pub fn new(
        tid: i32,
        tg: &Arc<ThreadGroup>,
        creds: Credentials,
        comm: Vec<u8>,
        mask: u64,
        ns: Arc<namespaces::Namespaces>,
    ) -> Arc<TaskHandle> {
        Arc::new(TaskHandle {
            tid,
            tg: tg.clone(),
            waiter: Waiter::new(),
            sig: Mutex::new(TaskSignals {
                mask,
                ..Default::default()
            }),
            interrupter: Mutex::new(None),
            killed: AtomicBool::new(false),
            creds: Mutex::new(creds),
            comm: Mutex::new(comm),
            utime_ns: AtomicU64::new(0),
            stime_ns: AtomicU64::new(0),
            view: Mutex::new(TaskView::default()),
            sleeping: AtomicBool::new(false),
            nvcsw: AtomicU64::new(0),
            sched: Mutex::new(SchedAttrs::default()),
            activity: Default::default(),
            seccomp: Default::default(),
            ptrace: Default::default(),
            ns: Mutex::new(ns),
            personality: Default::default(),
        })
    }

    /// Wakes the task wherever it is: blocked in the Sentry or running
    /// application code.
    pub fn kick(&self) {
        self.waiter.notify();
        if let Some(i) = self.interrupter.lock().unwrap().as_ref() {
            i.interrupt();
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kick();
    }
}

/// The sandbox's PID namespace: every live task and thread group by id.
#[derive(Default)]
pub struct Pids {
    next: i32,
    pub tasks: HashMap<i32, Arc<TaskHandle>>,
    pub groups: HashMap<i32, Arc<ThreadGroup>>,
}

impl Pids {
    pub fn allocate(&mut self) -> i32 {
        loop {
            self.next = if self.next >= namespaces::pid::PID_MAX {
                1
            } else {
                self.next + 1
            };
            if !self.tasks.contains_key(&self.next) && !self.groups.contains_key(&self.next) {
                return self.next;
            }
        }
    }

    /// Numbers a new task in `ns` and its ancestors (see
    /// [`namespaces::pid::attach`] for `set_tid` and `may_choose`) and
    /// returns its kernel id.
    pub fn number(
        &mut self,
        ns: &Arc<namespaces::PidNs>,
        process: bool,
        set_tid: &[i32],
        may_choose: &dyn Fn(&namespaces::UserNamespace) -> bool,
    ) -> Result<i32, Errno> {
        namespaces::pid::attach(ns, process, set_tid, may_choose, &mut |want| match want {
            Some(id) if self.tasks.contains_key(&id) || self.groups.contains_key(&id) => {
                Err(Errno::EEXIST)
            }
            Some(id) => Ok(id),
            None => Ok(self.allocate()),
        })
    }

    /// Forgets a task; its id's numbers in the nested PID namespaces go
    /// too once no process has the id either.
    pub fn remove_task(&mut self, tid: i32) -> Option<Arc<TaskHandle>> {
        let h = self.tasks.remove(&tid)?;
        if !self.groups.contains_key(&tid) {
            namespaces::pid::detach(&h.tg.pidns, tid);
        }
        Some(h)
    }

    /// Forgets a process (reaped); its id's numbers in the nested PID
    /// namespaces go too once no task has the id either.
    pub fn remove_group(&mut self, tgid: i32) -> Option<Arc<ThreadGroup>> {
        let g = self.groups.remove(&tgid)?;
        if !self.tasks.contains_key(&tgid) {
            namespaces::pid::detach(&g.pidns, tgid);
        }
        Some(g)
    }
}

/// Linux AIO's system-wide count: the events of every context (what each
/// io_setup asked for), and the most there may be.
#[derive(Debug)]
pub struct AioLimits {
    pub nr: u64,
    pub max: u64,
}

/// Linux's default fs.aio-max-nr.
pub const AIO_MAX_NR_DEFAULT: u64 = 65536;

impl Default for AioLimits {
    fn default() -> AioLimits {
        AioLimits {
            nr: 0,
            max: AIO_MAX_NR_DEFAULT,
        }
    }
}

pub struct Kernel {
    pub platform: Box<dyn Platform>,
    pub memfile: Arc<MemoryFile>,
    pub vfs: Arc<Vfs>,
    pub config: Config,
    pub pids: Mutex<Pids>,
    /// The namespaces the sandbox starts in: UTS, IPC, mount (over
    /// `vfs`) and network. Tasks reach theirs through `Task::ns`.
    pub init_ns: Arc<namespaces::Namespaces>,
    pub boot: Instant,
    pub boot_wall: SystemTime,
    pub futexes: futex::Futexes,
    /// Contents of executed and mapped files, kept in the memory file.
    pub file_cache: crate::mm::file_cache::FileCache,
    /// Advisory file locks (fcntl record locks, flock).
    pub locks: crate::vfs::lock::Locks,
    /// Wakes tasks waiting on host descriptors (`--network=host` sockets).
    pub host_poller: Arc<crate::hostpoll::HostPoller>,
    /// Deadlines on the host clocks (POSIX timers, the CPU-timer tick).
    pub timers: Arc<timers::TimerService>,
    /// Every tracer/tracee link.
    pub ptrace: ptrace::Registry,
    /// The paused containers of a pod.
    pub freezer: freezer::Freezer,
    /// Linux AIO's event count against its limit (/proc/sys/fs/aio-nr
    /// and aio-max-nr).
    pub aio_limits: Arc<Mutex<AioLimits>>,
    pub table: Table,
    reported: Mutex<HashSet<(usize, u64)>>,
    /// Wait statuses of processes without a parent in the sandbox (init,
    /// and those `exec` started), by tgid, for the runtime to collect.
    top_exits: Mutex<std::collections::HashMap<i32, i32>>,
    top_exit_cv: Condvar,
}

impl Kernel {
    pub fn new(
        platform: Box<dyn Platform>,
        memfile: Arc<MemoryFile>,
        vfs: Arc<Vfs>,
        config: Config,
        table: Table,
        net: Arc<netstack::Stack>,
    ) -> Arc<Kernel> {
        use namespaces::{alloc_ino, Namespaces, Net, Ns, PidNamespace, UserNamespace, Uts};
        let host_poller = Arc::new(crate::hostpoll::HostPoller::new());
        let user = UserNamespace::init();
        // Linux's usual numbers: the network namespace's first.
        let (net_ino, mnt_ino) = (alloc_ino(), alloc_ino());
        let init_ns = Arc::new(Namespaces {
            uts: Ns::new(
                namespaces::PROC_UTS_INIT_INO,
                user.clone(),
                Uts {
                    hostname: Mutex::new(config.hostname.clone().into_bytes()),
                    domainname: Mutex::new(b"(none)".to_vec()),
                },
            ),
            ipc: Ns::new(
                namespaces::PROC_IPC_INIT_INO,
                user.clone(),
                ipc::IpcNamespace::new(&memfile),
            ),
            mnt: Ns::new(mnt_ino, user.clone(), vfs.clone()),
            pid: PidNamespace::initial(user.clone()),
            net: Ns::new(
                net_ino,
                user,
                Net {
                    stack: net,
                    unix_names: crate::net::unix::Names::new(host_poller.clone()),
                    netlink_ports: crate::net::netlink::Ports::new(),
                    host: config.network == netstack::NetworkMode::Host,
                },
            ),
        });
        Arc::new(Kernel {
            platform,
            memfile,
            vfs,
            config,
            pids: Mutex::new(Pids::default()),
            init_ns,
            boot: Instant::now(),
            boot_wall: SystemTime::now(),
            futexes: futex::Futexes::default(),
            file_cache: Default::default(),
            locks: Default::default(),
            host_poller,
            timers: Arc::new(timers::TimerService::new()),
            ptrace: Default::default(),
            freezer: Default::default(),
            aio_limits: Default::default(),
            table,
            reported: Mutex::new(HashSet::new()),
            top_exits: Mutex::new(Default::default()),
            top_exit_cv: Condvar::new(),
        })
    }

    /// Logs an unsupported syscall (or an unsupported variant, `detail` != 0)
    /// once per sandbox, so users see what their program needed.
    pub fn report_unsupported(&self, nr: usize, detail: u64, what: &str) {
        if self.reported.lock().unwrap().insert((nr, detail)) {
            tracing::warn!("unsupported syscall {what} (nr {nr}, detail {detail:#x})");
        }
    }

    /// Records the wait status of a process without a parent in the
    /// sandbox (init, or one `exec` started).
    pub fn set_top_exit(&self, tgid: i32, status: i32) {
        self.top_exits.lock().unwrap().insert(tgid, status);
        self.top_exit_cv.notify_all();
    }

    /// Blocks until the init process has exited; returns its wait status.
    pub fn wait_init(&self) -> i32 {
        let mut g = self.top_exits.lock().unwrap();
        loop {
            if let Some(s) = g.get(&1) {
                return *s;
            }
            g = self.top_exit_cv.wait(g).unwrap();
        }
    }

    /// Blocks until the parentless process `tgid` (one `exec` started) has
    /// exited, and returns its wait status (once: the entry is taken).
    pub fn wait_top(&self, tgid: i32) -> i32 {
        let mut g = self.top_exits.lock().unwrap();
        loop {
            if let Some(s) = g.remove(&tgid) {
                return s;
            }
            g = self.top_exit_cv.wait(g).unwrap();
        }
    }

    pub fn task(&self, tid: i32) -> Option<Arc<TaskHandle>> {
        self.pids.lock().unwrap().tasks.get(&tid).cloned()
    }

    pub fn group(&self, tgid: i32) -> Option<Arc<ThreadGroup>> {
        self.pids.lock().unwrap().groups.get(&tgid).cloned()
    }

    /// Every process: (pid, ppid, uid, comm), by pid.
    pub fn processes(&self) -> Vec<(i32, i32, u32, Vec<u8>)> {
        let mut v: Vec<_> = self
            .all_groups()
            .into_iter()
            .filter(|g| g.inner.lock().unwrap().exit.is_none())
            .filter_map(|g| {
                let leader = self.task(g.leader_tid())?;
                let ppid = g.parent().map(|p| p.tgid).unwrap_or(0);
                let uid = leader.creds.lock().unwrap().uid;
                let comm = leader.comm.lock().unwrap().clone();
                Some((g.tgid, ppid, uid, comm))
            })
            .collect();
        v.sort();
        v
    }

    /// Every thread group, for kill(-1) and process-group signals.
    pub fn all_groups(&self) -> Vec<Arc<ThreadGroup>> {
        self.pids.lock().unwrap().groups.values().cloned().collect()
    }
}
