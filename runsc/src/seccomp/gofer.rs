//! The Gofer's allow-list. The Gofer is confined to the served tree by
//! pivot_root and resolves every path beneath its root; the filter keeps
//! it to file operations on descriptors it holds.

use super::rules::{any, eq, eq64, form, k, masked, only, Entry, Refusal, Value};
use super::sentry_rules::{ANON_PRIVATE, FCNTL_FORMS, FUTEX_FORMS};

pub const GOFER_ALLOW: &[Entry] = &[
    any(libc::SYS_read, "9P requests"),
    any(libc::SYS_write, "9P replies, logs"),
    any(libc::SYS_readv, "9P requests"),
    any(libc::SYS_writev, "9P replies"),
    any(libc::SYS_recvfrom, "9P requests"),
    any(libc::SYS_sendto, "9P replies"),
    any(libc::SYS_recvmsg, "9P requests"),
    any(libc::SYS_sendmsg, "9P replies"),
    only(
        libc::SYS_openat,
        "opening served files",
        &[
            form(
                "never following a final symlink (the opens of gofer/src/server, \
                 p9's walks and creates)",
                &[masked(2, k!(libc::O_NOFOLLOW), k!(libc::O_NOFOLLOW))],
            ),
            form(
                "p9 reopens a fid through its /proc/self/fd link, which must be followed",
                &[eq(0, Value::ProcFd)],
            ),
            form(
                "the served root, opened O_PATH for path-based requests",
                &[
                    eq(0, k!(libc::AT_FDCWD)),
                    eq(2, k!(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)),
                ],
            ),
        ],
    ),
    only(
        libc::SYS_open,
        "opening served files",
        &[form(
            "never following a final symlink",
            &[masked(1, k!(libc::O_NOFOLLOW), k!(libc::O_NOFOLLOW))],
        )],
    ),
    any(
        libc::SYS_openat2,
        "Topenfd: opening files to donate, resolved beneath the root",
    ),
    any(libc::SYS_close, "closing served files"),
    any(libc::SYS_fstat, "attributes"),
    any(libc::SYS_newfstatat, "attributes"),
    any(libc::SYS_statx, "attributes"),
    any(libc::SYS_fstatfs, "statfs"),
    any(libc::SYS_statfs, "statfs"),
    any(libc::SYS_getdents64, "readdir"),
    any(libc::SYS_lseek, "readdir offsets"),
    any(libc::SYS_readlinkat, "readlink"),
    any(libc::SYS_readlink, "readlink"),
    any(libc::SYS_pread64, "reads"),
    any(libc::SYS_pwrite64, "writes"),
    any(libc::SYS_preadv, "reads"),
    any(libc::SYS_pwritev, "writes"),
    any(libc::SYS_mkdirat, "mkdir"),
    any(libc::SYS_unlinkat, "unlink"),
    any(libc::SYS_renameat, "rename"),
    any(libc::SYS_renameat2, "rename"),
    any(libc::SYS_linkat, "link"),
    any(libc::SYS_symlinkat, "symlink"),
    any(libc::SYS_mknodat, "mknod"),
    any(libc::SYS_fchmod, "setattr"),
    any(libc::SYS_fchmodat, "setattr"),
    any(libc::SYS_fchown, "setattr"),
    any(libc::SYS_fchownat, "setattr"),
    any(libc::SYS_ftruncate, "setattr"),
    any(libc::SYS_utimensat, "setattr"),
    any(libc::SYS_fsync, "fsync"),
    any(libc::SYS_fdatasync, "fsync"),
    only(libc::SYS_fcntl, "descriptor flags", FCNTL_FORMS),
    any(libc::SYS_dup, "descriptors"),
    any(libc::SYS_fgetxattr, "xattrs"),
    any(libc::SYS_flistxattr, "xattrs"),
    any(libc::SYS_getxattr, "xattrs"),
    any(libc::SYS_lgetxattr, "xattrs"),
    any(
        syscalls::Sysno::getxattrat as i64,
        "Tgetxattrat: by (parent, name), not followed",
    ),
    any(
        syscalls::Sysno::listxattrat as i64,
        "Tlistxattrat: by (parent, name), not followed",
    ),
    any(
        syscalls::Sysno::setxattrat as i64,
        "Tsetxattrat: by (parent, name), not followed",
    ),
    any(
        syscalls::Sysno::removexattrat as i64,
        "Tremovexattrat: by (parent, name), not followed",
    ),
    any(libc::SYS_fsetxattr, "xattr changes on kernels before 6.13"),
    any(
        libc::SYS_fremovexattr,
        "xattr changes on kernels before 6.13",
    ),
    any(libc::SYS_setfsuid, "creating files as the caller"),
    any(libc::SYS_setfsgid, "creating files as the caller"),
    any(libc::SYS_getuid, "credentials"),
    any(libc::SYS_getgid, "credentials"),
    any(libc::SYS_geteuid, "credentials"),
    any(libc::SYS_getegid, "credentials"),
    only(
        libc::SYS_mmap,
        "allocator",
        &[form("private anonymous memory", &[ANON_PRIVATE])],
    ),
    any(libc::SYS_munmap, "allocator"),
    any(libc::SYS_mremap, "allocator"),
    any(libc::SYS_mprotect, "allocator"),
    any(libc::SYS_madvise, "allocator"),
    any(libc::SYS_brk, "allocator"),
    only(libc::SYS_futex, "locks", FUTEX_FORMS),
    any(libc::SYS_getrandom, "hash seeds"),
    any(libc::SYS_clock_gettime, "logs"),
    any(
        libc::SYS_restart_syscall,
        "a timed wait a cgroup freeze interrupted, restarted at the thaw (resume)",
    ),
    any(libc::SYS_getpid, "logs"),
    any(libc::SYS_gettid, "logs"),
    any(libc::SYS_sigaltstack, "std start-up"),
    any(libc::SYS_rt_sigaction, "signal set-up"),
    any(libc::SYS_rt_sigprocmask, "signal set-up"),
    any(libc::SYS_rt_sigreturn, "the SIGSYS reporter"),
    any(libc::SYS_shutdown, "closing the connection"),
    only(
        libc::SYS_socket,
        "Tconnectat: the host Unix socket to connect",
        &[form("AF_UNIX only", &[eq(0, k!(libc::AF_UNIX))])],
    ),
    any(
        libc::SYS_connect,
        "Tconnectat: connecting it to a socket file of the served tree",
    ),
    only(
        libc::SYS_unshare,
        "Tconnectat: a working directory per thread",
        &[form("CLONE_FS only", &[eq64(0, k!(libc::CLONE_FS))])],
    ),
    any(
        libc::SYS_fchdir,
        "Tconnectat: connect names the socket relative to its directory",
    ),
    any(libc::SYS_exit, "exit"),
    any(libc::SYS_exit_group, "exit"),
];

/// Calls answered with an errno: library code that probes and copes.
pub const GOFER_REFUSE: &[Refusal] = &[Refusal {
    nr: libc::SYS_openat,
    errno: libc::EACCES,
    why: "glibc's malloc reads /proc/sys/vm/overcommit_memory when a thread's heap \
          shrinks (and copes without it); no open of the Gofer's own is \
          AT_FDCWD-relative without O_NOFOLLOW",
    conds: &[
        eq(0, k!(libc::AT_FDCWD)),
        eq(2, k!(libc::O_RDONLY | libc::O_CLOEXEC)),
    ],
}];
