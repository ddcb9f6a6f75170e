//! The system call table's type, and dispatch through it.
//!
//! The kernel owns the table and serves each call through it, but knows no
//! handler: `syscalls::table()` fills it at boot (as gVisor's kernel is
//! handed its table by `kernel.RegisterSyscallTable`), so the kernel never
//! imports the layer above it.

use std::time::{Duration, Instant};

use crate::errno::{Errno, SysResult};
use crate::kernel::task::{SyscallArgs, Task};

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

/// How `--strace` sees a call: at entry, None if it is not traced, else
/// its arguments formatted before the handler changes memory (those the
/// handler writes left for exit); at exit, with the arguments again (to
/// format what the handler wrote), the line logged.
#[derive(Clone, Copy)]
pub struct Tracer {
    pub enter: fn(&Task, u64, &SyscallArgs) -> Option<Vec<String>>,
    pub exit: fn(&Task, u64, &SyscallArgs, Vec<String>, &SysResult, Duration),
}

/// The highest x86-64 syscall number we know of, plus one.
pub const TABLE_SIZE: usize = 512;

pub struct Table {
    entries: Vec<Entry>,
    tracer: Option<Tracer>,
}

impl Table {
    /// Every number named, none implemented.
    pub fn empty() -> Table {
        Table {
            entries: (0..TABLE_SIZE)
                .map(|nr| Entry {
                    name: syscall_name(nr),
                    support: Support::Missing("not implemented"),
                    handler: None,
                })
                .collect(),
            tracer: None,
        }
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

    pub fn set_tracer(&mut self, tracer: Tracer) {
        self.tracer = Some(tracer);
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
    ::syscalls::Sysno::new(nr)
        .map(|s| s.name())
        .unwrap_or("unknown")
}

/// Serves one syscall.
pub fn dispatch(t: &mut Task, nr: u64, args: &SyscallArgs) -> SysResult {
    let kernel = t.kernel.clone();
    let entry = kernel.table.get(nr).copied();
    let tracer = kernel.table.tracer.filter(|_| kernel.config.strace);
    let start = tracer.and_then(|tr| Some((Instant::now(), (tr.enter)(t, nr, args)?)));
    // Application seccomp: one load and branch when no filter is set.
    let verdict = if t.handle.seccomp.active() {
        t.seccomp_verdict(nr, args)
    } else {
        None
    };
    let r = match (verdict, entry.and_then(|e| e.handler)) {
        (Some(r), _) => r,
        (None, Some(h)) => h(t, args),
        (None, None) => {
            let name = entry.map(|e| e.name).unwrap_or("unknown");
            kernel.report_unsupported(nr as usize, 0, name);
            Err(Errno::ENOSYS)
        }
    };
    if let (Some(tr), Some((t0, line))) = (tracer, start) {
        (tr.exit)(t, nr, args, line, &r, t0.elapsed());
    }
    r
}
