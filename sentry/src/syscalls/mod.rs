//! The x86-64 system call handlers, one file per family, and the table
//! they fill.
//!
//! The table is data (its type and dispatch are the kernel's,
//! `kernel/syscall_table.rs`): each entry has the name, how well it is
//! supported, and the handler. It drives dispatch, `--strace` names, the
//! once-per-sandbox "unsupported syscall" log line, and
//! docs/compatibility.md.

pub mod strace;

mod advise;
mod aio;
mod dir;
mod epoll;
mod eventfd;
mod fanotify;
mod fcntl;
mod file;
mod file_handle;
mod futex;
mod identity;
mod inotify;
mod io_uring;
mod io_uring_ops;
mod ioctl;
mod kcmp;
mod membarrier;
mod memfd;
mod mempolicy;
mod mmap;
mod mount;
mod mqueue;
mod msg;
mod namespace;
mod openat2;
mod pidfd;
mod pipe;
mod pkey;
mod poll;
mod posix_timer;
mod process_vm;
mod ptrace;
mod read_write;
mod sched;
mod seccomp;
mod sem;
mod shm;
mod signal;
mod signalfd;
mod socket;
mod socket_msg;
mod splice;
mod stat;
pub mod sys_info;
mod thread;
mod time;
mod timerfd;
mod userfaultfd;
mod xattr;

pub use crate::kernel::syscall_table::{
    syscall_name, Entry, Handler, Support, Table, Tracer, TABLE_SIZE,
};
pub use crate::kernel::task::SyscallArgs;

/// The x86-64 table with every family's handlers, and `--strace`'s
/// formatting: what boot hands the kernel (which owns the table's type and
/// dispatch, and knows no handler).
pub fn table() -> Table {
    let mut t = Table::empty();
    advise::register(&mut t);
    aio::register(&mut t);
    dir::register(&mut t);
    epoll::register(&mut t);
    eventfd::register(&mut t);
    fcntl::register(&mut t);
    file::register(&mut t);
    file_handle::register(&mut t);
    futex::register(&mut t);
    identity::register(&mut t);
    inotify::register(&mut t);
    fanotify::register(&mut t);
    io_uring::register(&mut t);
    ioctl::register(&mut t);
    membarrier::register(&mut t);
    kcmp::register(&mut t);
    memfd::register(&mut t);
    mempolicy::register(&mut t);
    mmap::register(&mut t);
    mount::register(&mut t);
    mqueue::register(&mut t);
    namespace::register(&mut t);
    openat2::register(&mut t);
    pidfd::register(&mut t);
    pipe::register(&mut t);
    pkey::register(&mut t);
    poll::register(&mut t);
    process_vm::register(&mut t);
    posix_timer::register(&mut t);
    ptrace::register(&mut t);
    read_write::register(&mut t);
    sched::register(&mut t);
    seccomp::register(&mut t);
    msg::register(&mut t);
    sem::register(&mut t);
    shm::register(&mut t);
    signal::register(&mut t);
    signalfd::register(&mut t);
    socket::register(&mut t);
    socket_msg::register(&mut t);
    splice::register(&mut t);
    stat::register(&mut t);
    sys_info::register(&mut t);
    thread::register(&mut t);
    time::register(&mut t);
    timerfd::register(&mut t);
    userfaultfd::register(&mut t);
    xattr::register(&mut t);
    t.set_tracer(Tracer {
        enter: strace::format_args,
        exit: strace::log,
    });
    t
}
