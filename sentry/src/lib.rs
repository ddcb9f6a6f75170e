//! The Sentry: runsc-rs's kernel.
//!
//! * [`waiter`]: wait queues, under everything that blocks.
//! * [`kernel`]: tasks, thread groups, PID namespace, signals, futexes.
//! * [`mm`]: the memory file and address spaces (VMAs).
//! * [`loader`]: ELF and `#!` loading, the initial stack.
//! * [`vfs`] and [`fsimpl`]: the filesystem.
//! * [`net`]: the sockets (AF_UNIX).
//! * [`syscalls`]: the system call table, one file per family.

pub mod boot;
pub mod caps;
pub mod errno;
pub mod fsimpl;
pub mod hostpoll;
pub mod kernel;
pub mod loader;
pub mod memfile;
pub mod mm;
pub mod net;
pub mod syscalls;
#[cfg(test)]
mod tests;
pub mod usermem;
pub mod vfs;
pub mod waiter;

pub use errno::{Errno, SysResult};
