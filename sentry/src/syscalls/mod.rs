//! The x86-64 system call table and dispatch.
//!
//! The table is data: each entry has the name, how well it is supported, and
//! the handler. It drives dispatch, `--strace` names, the once-per-sandbox
//! "unsupported syscall" log line, and docs/compatibility.md.

pub mod strace;

mod advise;
mod dir;
mod epoll;
mod eventfd;
mod fcntl;
mod file;
mod futex;
mod identity;
mod inotify;
mod ioctl;
mod memfd;
mod mmap;
mod mount;
mod pipe;
mod poll;
mod read_write;
mod sched;
mod signal;
mod signalfd;
mod splice;
mod stat;
pub mod sys_info;
mod thread;
mod time;
mod timerfd;
mod xattr;

use std::time::Instant;

use crate::errno::{Errno, SysResult};
pub use crate::kernel::task::SyscallArgs;
use crate::kernel::task::Task;

pub type Handler = fn(&mut Task, &SyscallArgs) -> SysResult;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    Full,
    /// Implemented, with the named gaps.
    Partial(&'static str),
    /// Not implemented: ENOSYS, with the reason.
    Missing(&'static str),
}

#[derive(Clone, Copy)]
pub struct Entry {
    pub name: &'static str,
    pub support: Support,
    pub handler: Option<Handler>,
}

/// The highest x86-64 syscall number we know of, plus one.
pub const TABLE_SIZE: usize = 512;

pub struct Table {
    entries: Vec<Entry>,
}

impl Table {
    pub fn build() -> Table {
        let mut t = Table {
            entries: (0..TABLE_SIZE)
                .map(|nr| Entry {
                    name: syscall_name(nr),
                    support: Support::Missing("not implemented"),
                    handler: None,
                })
                .collect(),
        };
        advise::register(&mut t);
        dir::register(&mut t);
        epoll::register(&mut t);
        eventfd::register(&mut t);
        fcntl::register(&mut t);
        file::register(&mut t);
        futex::register(&mut t);
        identity::register(&mut t);
        inotify::register(&mut t);
        ioctl::register(&mut t);
        memfd::register(&mut t);
        mmap::register(&mut t);
        mount::register(&mut t);
        pipe::register(&mut t);
        poll::register(&mut t);
        read_write::register(&mut t);
        sched::register(&mut t);
        signal::register(&mut t);
        signalfd::register(&mut t);
        splice::register(&mut t);
        stat::register(&mut t);
        sys_info::register(&mut t);
        thread::register(&mut t);
        time::register(&mut t);
        timerfd::register(&mut t);
        xattr::register(&mut t);
        t
    }

    pub fn add(&mut self, nr: i64, name: &'static str, support: Support, handler: Handler) {
        let e = &mut self.entries[nr as usize];
        e.name = name;
        e.support = support;
        e.handler = Some(handler);
    }

    /// Records a syscall we know about but do not implement, with why.
    pub fn missing(&mut self, nr: i64, why: &'static str) {
        self.entries[nr as usize].support = Support::Missing(why);
    }

    pub fn get(&self, nr: u64) -> Option<&Entry> {
        self.entries.get(nr as usize)
    }

    pub fn entries(&self) -> impl Iterator<Item = (usize, &Entry)> {
        self.entries.iter().enumerate()
    }
}

/// The name of syscall `nr` on x86-64, from the `syscalls` crate.
pub fn syscall_name(nr: usize) -> &'static str {
    syscalls::Sysno::new(nr)
        .map(|s| s.name())
        .unwrap_or("unknown")
}

/// Serves one syscall.
pub fn dispatch(t: &mut Task, nr: u64, args: &SyscallArgs) -> SysResult {
    let kernel = t.kernel.clone();
    let entry = kernel.table.get(nr).copied();
    let strace = kernel.config.strace;
    let start = if strace {
        Some((Instant::now(), strace::format_args(t, nr, args)))
    } else {
        None
    };
    let r = match entry.and_then(|e| e.handler) {
        Some(h) => h(t, args),
        None => {
            let name = entry.map(|e| e.name).unwrap_or("unknown");
            kernel.report_unsupported(nr as usize, 0, name);
            Err(Errno::ENOSYS)
        }
    };
    if let Some((t0, line)) = start {
        strace::log(t, nr, &line, &r, t0.elapsed());
    }
    r
}
