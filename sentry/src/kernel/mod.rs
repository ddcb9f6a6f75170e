//! The kernel proper: tasks, thread groups, the PID namespace, signals,
//! futexes and credentials.

mod caller;
pub mod clone;
pub mod deadline;
pub mod debug;
pub mod exec;
pub mod exit;
pub mod futex;
pub mod signal;
pub mod syscall_table;
pub mod task;
pub mod thread_group;
pub mod uts;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Instant, SystemTime};

use platform::Platform;

use crate::errno::Errno;
use crate::kernel::syscall_table::Table;
use crate::mm::MemoryFile;
use crate::vfs::Vfs;
pub use task::{Task, TaskHandle};
pub use thread_group::ThreadGroup;

/// A task's credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub groups: Vec<u32>,
}

impl Credentials {
    pub fn root() -> Credentials {
        Credentials::default()
    }
}

/// Options the sandbox was started with.
#[derive(Clone, Debug, Default)]
pub struct Config {
    /// Where application code runs (`--platform`).
    pub platform: platform::PlatformKind,
    /// Log each syscall (`--strace`).
    pub strace: bool,
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
            self.next = if self.next >= 4_194_304 {
                1
            } else {
                self.next + 1
            };
            if !self.tasks.contains_key(&self.next) && !self.groups.contains_key(&self.next) {
                return self.next;
            }
        }
    }
}

pub struct Kernel {
    pub platform: Box<dyn Platform>,
    pub memfile: Arc<MemoryFile>,
    pub vfs: Arc<Vfs>,
    pub config: Config,
    pub pids: Mutex<Pids>,
    pub hostname: Mutex<Vec<u8>>,
    pub domainname: Mutex<Vec<u8>>,
    pub boot: Instant,
    pub boot_wall: SystemTime,
    pub futexes: futex::Futexes,
    /// Contents of executed and mapped files, kept in the memory file.
    pub file_cache: crate::mm::file_cache::FileCache,
    /// Advisory file locks (fcntl record locks, flock).
    pub locks: crate::vfs::lock::Locks,
    /// AF_UNIX names of the sandbox's network namespace.
    pub unix_names: Arc<crate::net::unix::Names>,
    /// The sandbox's TCP/IP stack: loopback, and the container's
    /// interfaces under `--network=sandbox`.
    pub net: Arc<netstack::Stack>,
    /// Wakes tasks waiting on host descriptors (`--network=host` sockets).
    pub host_poller: Arc<crate::hostpoll::HostPoller>,
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
        let hostname = config.hostname.clone().into_bytes();
        Arc::new(Kernel {
            platform,
            memfile,
            vfs,
            config,
            pids: Mutex::new(Pids::default()),
            hostname: Mutex::new(hostname),
            domainname: Mutex::new(b"(none)".to_vec()),
            boot: Instant::now(),
            boot_wall: SystemTime::now(),
            futexes: futex::Futexes::default(),
            file_cache: Default::default(),
            locks: Default::default(),
            unix_names: crate::net::unix::Names::new(),
            net,
            host_poller: Arc::new(crate::hostpoll::HostPoller::new()),
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

    /// Delivers a host signal the sandbox received from outside (`docker
    /// kill`, a terminal's Ctrl-C): one sent by a process goes to init, as a
    /// container runtime's kill does; one from the terminal driver goes to
    /// init's whole process group, as a terminal's foreground job gets it.
    pub fn signal_from_outside(&self, sig: i32, from_terminal: bool) {
        let Some(init) = self.group(1) else { return };
        let info = signal::SigInfo::user(
            sig,
            if from_terminal {
                libc::SI_KERNEL
            } else {
                libc::SI_USER
            },
            0,
            0,
        );
        if !from_terminal {
            exit::send_group(&init, info);
            return;
        }
        let pgid = init.inner.lock().unwrap().pgid;
        for g in self.all_groups() {
            if g.inner.lock().unwrap().pgid == pgid {
                exit::send_group(&g, info);
            }
        }
    }

    /// A signal from the runtime to one process (an `exec`ed one's host
    /// waiter was signalled).
    pub fn signal_process(&self, pid: i32, sig: i32) -> Result<(), Errno> {
        if !(1..=signal::NSIG as i32).contains(&sig) {
            return Err(Errno::EINVAL);
        }
        let g = self.group(pid).ok_or(Errno::ESRCH)?;
        exit::send_group(&g, signal::SigInfo::user(sig, libc::SI_USER, 0, 0));
        Ok(())
    }

    /// A signal from the container runtime (`kill`): to PID 1, or to every
    /// process with `all`. As Linux treats signals from an ancestor PID
    /// namespace, PID 1 ignores those it has no handler for, SIGKILL and
    /// SIGSTOP aside: `docker stop` of a program that does not handle
    /// SIGTERM waits for the grace period, as with runc.
    pub fn signal_from_runtime(&self, sig: i32, all: bool) -> Result<(), Errno> {
        if !(1..=signal::NSIG as i32).contains(&sig) {
            return Err(Errno::EINVAL);
        }
        let info = signal::SigInfo::user(sig, libc::SI_USER, 0, 0);
        let groups = if all {
            self.all_groups()
        } else {
            vec![self.group(1).ok_or(Errno::ESRCH)?]
        };
        for g in groups {
            let default = g
                .actions
                .lock()
                .unwrap()
                .get(sig as usize - 1)
                .is_none_or(|a| a.handler == 0);
            let unstoppable = sig == libc::SIGKILL || sig == libc::SIGSTOP;
            if g.tgid == 1 && default && !unstoppable {
                continue;
            }
            exit::send_group(&g, info);
        }
        Ok(())
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
