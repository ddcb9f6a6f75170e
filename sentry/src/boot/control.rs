//! What the runtime asks of a running sandbox (its control requests):
//! signals, the process list, the task dump, and exit statuses.

use std::io;

use super::Sandbox;

/// One process of the sandbox, as `runsc-rs ps` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub comm: Vec<u8>,
}

fn os_error(e: crate::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.0)
}

impl Sandbox {
    /// Sends `sig` to init, or with `all` to every process (`kill`,
    /// `kill --all`).
    pub fn signal(&self, sig: i32, all: bool) -> io::Result<()> {
        self.kernel.signal_from_runtime(sig, all).map_err(os_error)
    }

    /// Sends `sig` to process `pid` (an `exec` stand-in passing a signal on).
    pub fn signal_process(&self, pid: i32, sig: i32) -> io::Result<()> {
        self.kernel.signal_process(pid, sig).map_err(os_error)
    }

    /// Every task: its syscall, what it waits on, its signals.
    pub fn dump_tasks(&self) -> String {
        self.kernel.dump_tasks()
    }

    /// Every live process, by pid.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        self.kernel
            .processes()
            .into_iter()
            .map(|(pid, ppid, uid, comm)| ProcessInfo {
                pid,
                ppid,
                uid,
                comm,
            })
            .collect()
    }

    /// Blocks until init exits; its wait status.
    pub fn wait_init(&self) -> i32 {
        self.kernel.wait_init()
    }

    /// Blocks until process `pid`, started by [`Sandbox::exec`], exits; its
    /// wait status.
    pub fn wait(&self, pid: i32) -> i32 {
        self.kernel.wait_top(pid)
    }
}
