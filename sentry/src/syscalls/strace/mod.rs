//! `--strace`: one line per system call, as `strace -f -T` prints it:
//!
//! ```text
//! [pid 7] openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3 <0.000021>
//! [pid 7] read(3, "root:x:0:0:root:/root:/bin/bash\n"..., 4096) = 1024 <0.000010>
//! [pid 7] openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory) <0.000008>
//! ```
//!
//! Every line carries strace -f's `[pid N]` prefix (N is the thread id, as
//! strace's), since a sandbox usually holds more than one task. Arguments
//! the call reads are formatted at entry, before the handler changes
//! memory; those it writes (read's buffer, stat's struct) at exit. The
//! parts, each using only those listed before it: `text` (named constants,
//! numbers, quoted strings, signals), `sets` and `net_sets` (flags and
//! enums by name), `structs` (structures in application memory),
//! `signatures` (each call's arguments as data), `format` (one argument
//! or result).

/// (value, name) pairs from libc's constants of these names; after `;`,
/// constants of this module's own (those libc leaves out).
macro_rules! set {
    ($($name:ident),* $(,)? $(; $($own:ident),* $(,)?)?) => {
        &[
            $((libc::$name as u64, stringify!($name)),)*
            $($(($own as u64, stringify!($own)),)*)?
        ]
    };
}

mod format;
mod net_sets;
mod sets;
mod signatures;
mod structs;
mod text;

use std::io::Write;
use std::time::Duration;

use crate::errno::{Errno, SysResult};
use crate::kernel::task::{SyscallArgs, Task};

use text::{quote, OMIT, PATH_MAX};

/// `--strace-log-size`'s default: gVisor's, whose flag this is. strace's
/// own `-s 32` cuts most lines; a log is read after the fact, when the
/// call cannot be made again with a larger size, so it keeps more.
pub const DEFAULT_LOG_SIZE: usize = 1024;

/// The numbers of the named calls (`--strace-syscalls=open,read`), or the
/// first name that is not a system call's.
pub fn syscall_numbers(names: &str) -> Result<Vec<u64>, String> {
    names
        .split(',')
        .map(str::trim)
        .map(|n| {
            n.parse::<::syscalls::Sysno>()
                .map(|s| s.id() as u64)
                .map_err(|_| format!("{n:?} is not the name of an x86-64 system call"))
        })
        .collect()
}

/// The name of a traced call: the table's, or strace's `syscall_0x1c8`.
fn name(t: &Task, nr: u64) -> String {
    match t.kernel.table.get(nr).map(|e| e.name) {
        Some(n) if n != "unknown" => n.to_string(),
        _ => format!("syscall_{nr:#x}"),
    }
}

fn traced(t: &Task, nr: u64) -> bool {
    t.kernel
        .config
        .strace_syscalls
        .as_ref()
        .is_none_or(|only| only.contains(&nr))
}

/// At entry: None if `--strace-syscalls` leaves this call out; else each
/// argument the handler reads, formatted now (those it writes are left
/// empty for [`log`]).
pub fn format_args(t: &Task, nr: u64, args: &SyscallArgs) -> Option<Vec<String>> {
    if !traced(t, nr) {
        return None;
    }
    let Some(sig) = signatures::signature(nr as i64) else {
        return Some((0..6).map(|i| text::hex(args.ulong(i))).collect());
    };
    let f = format::Formatter::new(t, args, None);
    Some(
        sig.iter()
            .enumerate()
            .map(|(i, &kind)| {
                if kind.at_exit() {
                    String::new()
                } else {
                    f.arg(i, kind)
                }
            })
            .collect(),
    )
}

/// At exit: fills in the arguments the call wrote and prints the line.
pub fn log(
    t: &Task,
    nr: u64,
    args: &SyscallArgs,
    mut formatted: Vec<String>,
    r: &SysResult,
    took: Duration,
) {
    let f = format::Formatter::new(t, args, Some(r));
    if let Some(sig) = signatures::signature(nr as i64) {
        for (i, &kind) in sig.iter().enumerate() {
            if kind.at_exit() {
                formatted[i] = f.arg(i, kind);
            }
        }
    }
    let args_text = formatted
        .iter()
        .filter(|a| a.as_str() != OMIT)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let res = match r {
        Ok(v) => f.result(nr as i64, *v),
        Err(e) => error(*e),
    };
    emit(&format!(
        "[pid {}] {}({args_text}) = {res} <{}.{:06}>",
        t.tid,
        name(t, nr),
        took.as_secs(),
        took.subsec_micros()
    ));
}

/// The first execve, which the Sentry performs itself when the sandbox
/// starts, logged like any other call.
pub fn log_initial_exec(tid: i32, path: &[u8], argv: &[Vec<u8>], r: &SysResult) {
    let argv: Vec<String> = argv.iter().map(|a| quote(a, DEFAULT_LOG_SIZE)).collect();
    let res = match r {
        Ok(v) => v.to_string(),
        Err(e) => error(*e),
    };
    emit(&format!(
        "[pid {tid}] execve({}, [{}], envp) = {res}",
        quote(path, PATH_MAX),
        argv.join(", ")
    ));
}

fn emit(line: &str) {
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
    tracing::info!(target: "strace", "{line}");
}

/// An error as strace prints it: `-1 ENOENT (No such file or directory)`;
/// the kernel's restart codes, which the application never sees, as `?`.
fn error(e: Errno) -> String {
    let restart = match e.0 {
        512 => Some("To be restarted if SA_RESTART is set"),
        513 => Some("To be restarted"),
        514 => Some("To be restarted if no handler"),
        516 => Some("Interrupted by signal"),
        _ => None,
    };
    if let Some(text) = restart {
        let name = if e.0 == 513 {
            "ERESTARTNOINTR"
        } else {
            e.name()
        };
        return format!("? {name} ({text})");
    }
    let text = std::io::Error::from_raw_os_error(e.0).to_string();
    // std appends " (os error N)" to strerror's text.
    let text = text
        .rsplit_once(" (os error ")
        .map_or(text.as_str(), |(t, _)| t);
    let name = match e.name() {
        "E?" => format!("E{}", e.0),
        n => n.to_string(),
    };
    format!("-1 {name} ({text})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_as_strace() {
        assert_eq!(quote(b"hi\n", 32), "\"hi\\n\"");
        assert_eq!(quote(b"\x7fELF\x02\x01", 32), "\"\\177ELF\\2\\1\"");
        assert_eq!(quote(b"\x001", 32), "\"\\0001\"");
        assert_eq!(quote(b"abcdef", 3), "\"abc\"...");
    }

    #[test]
    fn errors_read_as_strace_prints_them() {
        assert_eq!(
            error(Errno::ENOENT),
            "-1 ENOENT (No such file or directory)"
        );
        assert_eq!(
            error(Errno(512)),
            "? ERESTARTSYS (To be restarted if SA_RESTART is set)"
        );
    }

    #[test]
    fn names_resolve_and_unknown_names_are_refused() {
        assert_eq!(
            syscall_numbers("read,openat").unwrap(),
            vec![libc::SYS_read as u64, libc::SYS_openat as u64]
        );
        assert!(syscall_numbers("read,opne").unwrap_err().contains("opne"));
    }

    #[test]
    fn flags_and_enums_by_name() {
        assert_eq!(sets::open_flags(0o2000102), "O_RDWR|O_CREAT|O_CLOEXEC");
        assert_eq!(sets::mmap_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(text::flags(0, sets::PROT, "PROT_NONE"), "PROT_NONE");
        assert_eq!(net_sets::socket_type(0x80001), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(
            sets::clone_flags(0x1200011),
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"
        );
        assert_eq!(sets::futex_op(0x80), "FUTEX_WAIT_PRIVATE");
        assert_eq!(text::sigset_value(1 << 11), "[USR2]");
        assert_eq!(text::sigset_value(!0), "~[]");
    }

    #[test]
    fn every_signature_fits_six_registers() {
        for nr in 0..crate::kernel::syscall_table::TABLE_SIZE as i64 {
            if let Some(sig) = signatures::signature(nr) {
                assert!(sig.len() <= 6, "syscall {nr} has {} arguments", sig.len());
            }
        }
    }
}
