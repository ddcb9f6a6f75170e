//! `--strace`: one line per syscall with decoded arguments, the result or
//! errno name, and the time the Sentry spent on it.

use std::io::Write;
use std::time::Duration;

use crate::errno::SysResult;
use crate::kernel::task::{SyscallArgs, Task};

/// How to print one argument.
#[derive(Clone, Copy)]
enum Arg {
    Int,
    Hex,
    Fd,
    DirFd,
    Path,
    /// A buffer the application passes in; its length is argument `n`.
    InBuf(usize),
    OpenFlags,
    Mode,
    Argv,
    Signal,
}

use Arg::*;

fn signature(nr: i64) -> Option<&'static [Arg]> {
    Some(match nr {
        libc::SYS_read => &[Fd, Hex, Int],
        libc::SYS_pread64 => &[Fd, Hex, Int, Int],
        libc::SYS_write => &[Fd, InBuf(2), Int],
        libc::SYS_pwrite64 => &[Fd, InBuf(2), Int, Int],
        libc::SYS_open => &[Path, OpenFlags, Mode],
        libc::SYS_openat => &[DirFd, Path, OpenFlags, Mode],
        libc::SYS_close | libc::SYS_fstat | libc::SYS_fchdir | libc::SYS_dup => &[Fd, Hex],
        libc::SYS_stat
        | libc::SYS_lstat
        | libc::SYS_access
        | libc::SYS_chdir
        | libc::SYS_readlink
        | libc::SYS_unlink
        | libc::SYS_rmdir
        | libc::SYS_mkdir => &[Path, Hex, Int],
        libc::SYS_newfstatat
        | libc::SYS_faccessat
        | libc::SYS_faccessat2
        | libc::SYS_readlinkat
        | libc::SYS_unlinkat
        | libc::SYS_mkdirat => &[DirFd, Path, Hex, Hex],
        libc::SYS_statx => &[DirFd, Path, Hex, Hex, Hex],
        libc::SYS_execve => &[Path, Argv, Hex],
        libc::SYS_execveat => &[DirFd, Path, Argv, Hex, Hex],
        libc::SYS_exit | libc::SYS_exit_group => &[Int],
        libc::SYS_kill | libc::SYS_tkill => &[Int, Signal],
        libc::SYS_tgkill => &[Int, Int, Signal],
        libc::SYS_rt_sigaction => &[Signal, Hex, Hex, Int],
        libc::SYS_mmap => &[Hex, Int, Hex, Hex, Fd, Hex],
        libc::SYS_munmap | libc::SYS_mprotect => &[Hex, Int, Hex],
        libc::SYS_lseek => &[Fd, Int, Int],
        libc::SYS_getdents64 => &[Fd, Hex, Int],
        libc::SYS_dup2 | libc::SYS_dup3 => &[Fd, Fd, Hex],
        libc::SYS_wait4 => &[Int, Hex, Hex, Hex],
        libc::SYS_shmget => &[Int, Int, Mode],
        libc::SYS_shmat => &[Int, Hex, Hex],
        libc::SYS_shmctl => &[Int, Int, Hex],
        libc::SYS_shmdt => &[Hex],
        _ => return None,
    })
}

fn quote(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    for &c in b.iter().take(max) {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    if b.len() > max {
        s.push_str("...");
    }
    s
}

fn open_flags(f: u64) -> String {
    let f = f as i32;
    let mut parts = vec![match f & libc::O_ACCMODE {
        libc::O_RDONLY => "O_RDONLY",
        libc::O_WRONLY => "O_WRONLY",
        _ => "O_RDWR",
    }
    .to_string()];
    for (bit, name) in [
        (libc::O_CREAT, "O_CREAT"),
        (libc::O_EXCL, "O_EXCL"),
        (libc::O_NOCTTY, "O_NOCTTY"),
        (libc::O_TRUNC, "O_TRUNC"),
        (libc::O_APPEND, "O_APPEND"),
        (libc::O_NONBLOCK, "O_NONBLOCK"),
        (libc::O_DIRECTORY, "O_DIRECTORY"),
        (libc::O_NOFOLLOW, "O_NOFOLLOW"),
        (libc::O_CLOEXEC, "O_CLOEXEC"),
        (libc::O_PATH, "O_PATH"),
    ] {
        if f & bit != 0 {
            parts.push(name.to_string());
        }
    }
    parts.join("|")
}

/// Formats the call's arguments at entry (before the handler changes memory).
pub fn format_args(t: &Task, nr: u64, args: &SyscallArgs) -> String {
    let Some(sig) = signature(nr as i64) else {
        return args
            .a
            .iter()
            .take(3)
            .map(|a| format!("{a:#x}"))
            .collect::<Vec<_>>()
            .join(", ");
    };
    let mut out = Vec::new();
    for (i, kind) in sig.iter().enumerate() {
        let v = args.a[i];
        out.push(match *kind {
            Int => format!("{}", v as i64),
            Hex => format!("{v:#x}"),
            Fd => format!("{}", v as i32),
            DirFd if v as i32 == libc::AT_FDCWD => "AT_FDCWD".into(),
            DirFd => format!("{}", v as i32),
            Path => match t.read_cstring(v, 4096) {
                Ok(p) => quote(&p, 256),
                Err(_) => format!("{v:#x}"),
            },
            InBuf(n) => {
                let len = (args.a[n] as usize).min(64);
                match t.read_bytes(v, len) {
                    Ok(b) => quote(&b, 64) + if args.a[n] as usize > 64 { "..." } else { "" },
                    Err(_) => format!("{v:#x}"),
                }
            }
            OpenFlags => open_flags(v),
            Mode => format!("{v:#o}"),
            Argv => match t.read_string_array(v) {
                Ok(a) => format!(
                    "[{}]",
                    a.iter()
                        .map(|s| quote(s, 64))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(_) => format!("{v:#x}"),
            },
            Signal => crate::kernel::signal::signal_name(v as i64),
        });
    }
    out.join(", ")
}

/// The first execve, which the Sentry performs itself when the sandbox
/// starts, logged like any other call.
pub fn log_initial_exec(tid: i32, path: &[u8], argv: &[Vec<u8>], r: &SysResult) {
    let args = format!(
        "{}, [{}], envp",
        quote(path, 256),
        argv.iter()
            .map(|a| quote(a, 64))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let res = match r {
        Ok(v) => format!("{v}"),
        Err(e) => format!("-1 {}", e.name()),
    };
    let line = format!("[{tid:>5}] execve({args}) = {res}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    tracing::info!(target: "strace", "{}", line.trim_end());
}

pub fn log(t: &Task, nr: u64, args: &str, r: &SysResult, took: Duration) {
    let name = t.kernel.table.get(nr).map(|e| e.name).unwrap_or("unknown");
    let res = match r {
        Ok(v) if (*v as i64) < 0 || *v > 0xffff_ffff => format!("{v:#x}"),
        Ok(v) => format!("{v}"),
        Err(e) => format!(
            "-1 {} ({})",
            e.name(),
            std::io::Error::from_raw_os_error(e.0)
        ),
    };
    let line = format!("[{:>5}] {}({}) = {} ({:?})\n", t.tid, name, args, res, took);
    let _ = std::io::stderr().write_all(line.as_bytes());
    tracing::info!(target: "strace", "{}", line.trim_end());
}
