//! The Sentry's allow-lists: a base list every Sentry has, a list per
//! platform, and lists per network mode. A list may widen an entry of
//! another (its forms are added), so a platform brings exactly the calls
//! and arguments it makes.

use super::rules::{any, eq, eq64, form, gt, k, lt, masked, only, Args, Cond, Entry, Refusal};

/// Any op of this family, with or without FUTEX_PRIVATE_FLAG and
/// FUTEX_CLOCK_REALTIME.
macro_rules! futex_ops {
    ($($op:ident: $why:literal),+ $(,)?) => {
        &[$(form(
            $why,
            &[masked(1, k!(libc::FUTEX_CMD_MASK), k!(libc::$op))],
        )),+]
    };
}

/// The futex ops glibc's and std's locks, condition variables and thread
/// joins use. Not the priority-inheritance ops (FUTEX_LOCK_PI,
/// FUTEX_WAIT_REQUEUE_PI ...), the kernel's most attacked futex code.
pub const FUTEX_FORMS: &[super::rules::Rule] = futex_ops!(
    FUTEX_WAIT: "lock and condition-variable waits",
    FUTEX_WAKE: "lock and condition-variable wake-ups",
    FUTEX_WAIT_BITSET: "timed waits (std, glibc condition variables)",
    FUTEX_WAKE_BITSET: "glibc condition variables",
    FUTEX_REQUEUE: "glibc condition variables",
    FUTEX_CMP_REQUEUE: "glibc condition variables",
    FUTEX_WAKE_OP: "glibc condition variables",
);

/// Private anonymous memory, any protection: the heap, thread stacks.
pub const ANON_PRIVATE: Cond = masked(
    3,
    k!(libc::MAP_ANONYMOUS | libc::MAP_SHARED | libc::MAP_PRIVATE),
    k!(libc::MAP_ANONYMOUS | libc::MAP_PRIVATE),
);

/// std's `try_clone` and non-blocking switches; both processes.
pub const FCNTL_FORMS: &[super::rules::Rule] = &[
    form("reading status flags", &[eq(1, k!(libc::F_GETFL))]),
    form(
        "std's debug-build check that a descriptor taken by from_raw_fd is open",
        &[eq(1, k!(libc::F_GETFD))],
    ),
    form("O_NONBLOCK on a descriptor", &[eq(1, k!(libc::F_SETFL))]),
    form(
        "std's try_clone (a second handle on a socket)",
        &[eq(1, k!(libc::F_DUPFD_CLOEXEC))],
    ),
];

/// Every Sentry, whatever its platform and network.
pub const SENTRY_ALLOW: &[Entry] = &[
    // Memory.
    only(
        libc::SYS_mmap,
        "Sentry heap and thread stacks",
        &[form("private anonymous memory", &[ANON_PRIVATE])],
    ),
    any(libc::SYS_munmap, "Sentry heap; stubs unmap"),
    any(
        libc::SYS_mprotect,
        "Sentry heap guard pages; stubs change protections",
    ),
    any(libc::SYS_mremap, "Sentry allocator"),
    any(libc::SYS_madvise, "Sentry allocator, thread stacks"),
    any(libc::SYS_brk, "Sentry allocator"),
    only(
        libc::SYS_fallocate,
        "releasing memory-file pages",
        &[form(
            "punching pages out of the memory file (made, and sized, before the filter)",
            &[
                eq(0, Value::MemFd),
                eq(
                    1,
                    k!(libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE),
                ),
            ],
        )],
    ),
    any(
        libc::SYS_lseek,
        "finding populated memory-file pages (SEEK_DATA/SEEK_HOLE)",
    ),
    // Threads.
    only(
        libc::SYS_clone,
        "Sentry threads (glibc's pthread_create, after clone3's ENOSYS)",
        &[form(
            "a thread of the Sentry, as glibc makes it",
            &[eq64(
                0,
                k!(libc::CLONE_VM
                    | libc::CLONE_FS
                    | libc::CLONE_FILES
                    | libc::CLONE_SIGHAND
                    | libc::CLONE_THREAD
                    | libc::CLONE_SYSVSEM
                    | libc::CLONE_SETTLS
                    | libc::CLONE_PARENT_SETTID
                    | libc::CLONE_CHILD_CLEARTID),
            )],
        )],
    ),
    any(libc::SYS_rseq, "glibc thread set-up; a stub unregisters it"),
    any(libc::SYS_set_robust_list, "glibc thread set-up"),
    any(
        libc::SYS_sched_setaffinity,
        "pinning a tracer and its stub to one CPU",
    ),
    any(libc::SYS_sched_getaffinity, "choosing CPUs"),
    any(libc::SYS_sched_yield, "the application's sched_yield"),
    any(libc::SYS_getcpu, "the application's getcpu"),
    only(
        libc::SYS_futex,
        "Sentry locks and condition variables",
        FUTEX_FORMS,
    ),
    only(
        libc::SYS_membarrier,
        "the application's membarrier (platform/src/membarrier.rs: the Sentry and its stubs \
         are registered for expedited global barriers before the filter goes on)",
        &[
            form(
                "a barrier on every host CPU, when the host would not register the Sentry for the \
                 expedited one",
                &[eq(0, k!(platform::membarrier::CMD_GLOBAL)), eq(1, k!(0))],
            ),
            form(
                "a barrier on every CPU running a thread of the Sentry or a stub (each of the \
                 application's barrier commands)",
                &[
                    eq(0, k!(platform::membarrier::CMD_GLOBAL_EXPEDITED)),
                    eq(1, k!(0)),
                ],
            ),
        ],
    ),
    any(libc::SYS_exit, "thread exit; stub threads end"),
    any(libc::SYS_exit_group, "sandbox exit"),
    // Time and identity.
    any(libc::SYS_clock_gettime, "clocks (when the vDSO falls back)"),
    any(libc::SYS_clock_nanosleep, "timers and sleeps"),
    any(libc::SYS_nanosleep, "timers and sleeps"),
    any(
        libc::SYS_restart_syscall,
        "a timed wait a cgroup freeze interrupted, restarted at the thaw (resume)",
    ),
    any(libc::SYS_gettimeofday, "clocks (vDSO fallback)"),
    any(libc::SYS_getpid, "glibc, raise"),
    any(libc::SYS_gettid, "glibc, raise"),
    any(
        libc::SYS_getrandom,
        "AT_RANDOM, the application's getrandom",
    ),
    any(libc::SYS_sysinfo, "the application's sysinfo"),
    only(
        libc::SYS_prctl,
        "thread names",
        &[form(
            "std names its threads",
            &[eq(0, k!(libc::PR_SET_NAME))],
        )],
    ),
    // Signals.
    any(libc::SYS_sigaltstack, "Rust's stack-overflow handler"),
    any(libc::SYS_rt_sigaction, "signal set-up"),
    any(
        libc::SYS_rt_sigprocmask,
        "signal masks; a new stub unblocks all",
    ),
    any(
        libc::SYS_rt_sigtimedwait,
        "the forwarder takes signals sent to the sandbox (sigwaitinfo)",
    ),
    any(libc::SYS_rt_sigreturn, "the SIGSYS reporter"),
    only(
        libc::SYS_tgkill,
        "abort(3) raising SIGABRT in the Sentry",
        &[form(
            "SIGABRT to a thread of the Sentry itself",
            &[eq(0, Value::OwnPid), eq(2, k!(libc::SIGABRT))],
        )],
    ),
    any(
        libc::SYS_getcwd,
        "the panic reporter (the Sentry's cwd is its empty root)",
    ),
    // Descriptors the Sentry holds: the Gofer socket, donated files, stdio.
    any(
        libc::SYS_read,
        "Gofer replies, host stdio; network frames, the stack's eventfd",
    ),
    any(
        libc::SYS_write,
        "Gofer requests, host stdio, logs; network frames, the stack's eventfd",
    ),
    any(libc::SYS_readv, "host stdio"),
    any(libc::SYS_writev, "host stdio, logs"),
    any(libc::SYS_pread64, "reading donated files (Topenfd)"),
    any(
        libc::SYS_getdents64,
        "listing donated directory descriptors (Topenfd)",
    ),
    any(libc::SYS_pwrite64, "donated files"),
    any(libc::SYS_fsync, "fsync of donated files (--overlay=none)"),
    any(libc::SYS_recvmsg, "Gofer replies"),
    any(libc::SYS_accept4, "control connections (start, kill, ps)"),
    any(libc::SYS_sendmsg, "Gofer requests"),
    any(libc::SYS_recvfrom, "Gofer replies; network frames (recv)"),
    any(libc::SYS_sendto, "Gofer requests; network frames (send)"),
    any(
        libc::SYS_shutdown,
        "closing the Gofer connection on a protocol error",
    ),
    any(libc::SYS_close, "descriptors"),
    any(libc::SYS_dup, "descriptors"),
    only(libc::SYS_fcntl, "descriptor flags", FCNTL_FORMS),
    any(libc::SYS_fstat, "host stdio type"),
    any(
        libc::SYS_newfstatat,
        "host stdio type (fstat via AT_EMPTY_PATH)",
    ),
    any(libc::SYS_statx, "host stdio type"),
    only(
        libc::SYS_ioctl,
        "terminal ioctls on host stdio (sentry/src/fsimpl/host.rs, console.rs)",
        &[
            form("the terminal's settings", &[eq(1, k!(libc::TCGETS))]),
            form("changing them", &[eq(1, k!(libc::TCSETS))]),
            form("changing them", &[eq(1, k!(libc::TCSETSW))]),
            form("changing them", &[eq(1, k!(libc::TCSETSF))]),
            form("the window size", &[eq(1, k!(libc::TIOCGWINSZ))]),
            form("setting it", &[eq(1, k!(libc::TIOCSWINSZ))]),
            form("tcflush", &[eq(1, k!(libc::TCFLSH))]),
            form("tcflow", &[eq(1, k!(libc::TCXONC))]),
            form("tcsendbreak, tcdrain", &[eq(1, k!(libc::TCSBRK))]),
            form(
                "bytes waiting to be read (stdio; host sockets)",
                &[eq(1, k!(libc::FIONREAD))],
            ),
            form(
                "bytes waiting to be sent (stdio; host sockets)",
                &[eq(1, k!(libc::TIOCOUTQ))],
            ),
        ],
    ),
    any(
        libc::SYS_poll,
        "host stdio readiness; the network stack's thread sleeps on its frame descriptors",
    ),
    any(
        libc::SYS_ppoll,
        "host stdio readiness; the network stack's thread sleeps on its frame descriptors",
    ),
    // The network stack: its thread, woken through an eventfd, moves
    // Ethernet frames on the AF_PACKET descriptors the Sentry opened at
    // boot (read/write/recvfrom/sendto above serve them one at a time).
    any(
        libc::SYS_eventfd2,
        "waking the network stack's thread (timers, frames to send); \
         stopping the host poller (--network=host)",
    ),
    any(
        libc::SYS_recvmmsg,
        "the network stack reads frames in batches",
    ),
    any(
        libc::SYS_sendmmsg,
        "the network stack sends frames in batches",
    ),
];

use super::rules::Value;

/// The ptrace options the platform sets (platform/src/ptrace/sys.rs).
const PTRACE_OPTIONS: Value = k!(libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESYSGOOD);

/// The regset the platform moves FPU state with.
const NT_X86_XSTATE: Value = Value::Const("NT_X86_XSTATE", 0x202);

/// The one register PTRACE_POKEUSER writes: a syscall's result.
const RAX_OFFSET: Value = Value::Const(
    "offsetof(struct user_regs_struct, rax)",
    std::mem::offset_of!(libc::user_regs_struct, rax) as u64,
);

/// A ptrace request with no other condition.
macro_rules! request {
    ($req:ident, $why:literal) => {
        form($why, &[eq64(0, k!(libc::$req))])
    };
}

/// The ptrace platform (platform/src/ptrace/): Sentry threads trace stub
/// processes; stubs are forked from the Sentry and inherit this filter, so
/// the calls injected into them are here too.
pub const PTRACE_ALLOW: &[Entry] = &[
    only(
        libc::SYS_ptrace,
        "tracing stub threads (each request the platform makes)",
        &[
            request!(
                PTRACE_SYSEMU,
                "running the application until its next syscall"
            ),
            request!(PTRACE_CONT, "running an injected call"),
            request!(PTRACE_GETREGS, "the application's registers"),
            request!(PTRACE_SETREGS, "setting them"),
            form(
                "setting only rax (a syscall's result)",
                &[eq64(0, k!(libc::PTRACE_POKEUSER)), eq64(2, RAX_OFFSET)],
            ),
            form(
                "the FPU state",
                &[eq64(0, k!(libc::PTRACE_GETREGSET)), eq64(2, NT_X86_XSTATE)],
            ),
            form(
                "setting it",
                &[eq64(0, k!(libc::PTRACE_SETREGSET)), eq64(2, NT_X86_XSTATE)],
            ),
            request!(PTRACE_GETSIGINFO, "what a signal stop was for"),
            form(
                "taking a new stub thread, with the platform's options",
                &[eq64(0, k!(libc::PTRACE_SEIZE)), eq64(3, PTRACE_OPTIONS)],
            ),
            request!(PTRACE_INTERRUPT, "stopping a seized thread"),
            form(
                "a forked stub's options",
                &[
                    eq64(0, k!(libc::PTRACE_SETOPTIONS)),
                    eq64(3, PTRACE_OPTIONS),
                ],
            ),
            request!(PTRACE_DETACH, "letting the master stub go"),
            request!(PTRACE_TRACEME, "a forked stub asks its parent to trace it"),
        ],
    ),
    any(libc::SYS_wait4, "waiting for stub stops"),
    any(libc::SYS_waitid, "waiting for stub stops"),
    only(
        libc::SYS_tgkill,
        "interrupting a stub thread",
        &[form(
            "the platform's interrupt signal, to a stub thread",
            &[eq(
                2,
                Value::Const(
                    "SIGCHLD (platform::ptrace::INTERRUPT_SIGNAL)",
                    platform::ptrace::INTERRUPT_SIGNAL as u64,
                ),
            )],
        )],
    ),
    only(
        libc::SYS_kill,
        "destroying a stub process",
        &[form(
            "SIGKILL to one process (never a group, never -1)",
            &[
                gt(0, Value::Const("0", 0)),
                lt(0, Value::Const("2^31", 1 << 31)),
                eq(1, k!(libc::SIGKILL)),
            ],
        )],
    ),
    only(
        libc::SYS_clone,
        "new stub processes and stub threads",
        &[
            form(
                "a stub forked from the Sentry (glibc's fork)",
                &[eq64(
                    0,
                    k!(libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD),
                )],
            ),
            form(
                "a stub cloned by the master stub, a child of the Sentry",
                &[eq64(
                    0,
                    k!(libc::CLONE_PARENT | libc::CLONE_UNTRACED | libc::SIGCHLD),
                )],
            ),
            form(
                "an application thread: a stub thread (injected)",
                &[eq64(
                    0,
                    k!(libc::CLONE_VM
                        | libc::CLONE_FS
                        | libc::CLONE_FILES
                        | libc::CLONE_SIGHAND
                        | libc::CLONE_THREAD
                        | libc::CLONE_SYSVSEM),
                )],
            ),
        ],
    ),
    only(
        libc::SYS_mmap,
        "stubs map application memory",
        &[
            form(
                "a stub maps the memory file (injected)",
                &[
                    eq(3, k!(libc::MAP_SHARED | libc::MAP_FIXED)),
                    eq(4, Value::MemFd),
                ],
            ),
            form(
                "a stub maps its scratch slot, read-only",
                &[
                    eq(2, k!(libc::PROT_READ)),
                    eq(3, k!(libc::MAP_SHARED | libc::MAP_FIXED)),
                    eq(4, Value::ScratchFd),
                ],
            ),
        ],
    ),
    any(
        libc::SYS_close_range,
        "a new stub closes inherited descriptors",
    ),
    any(libc::SYS_setsid, "a new stub leaves the terminal's session"),
    any(libc::SYS_pause, "a new stub thread waits to be seized"),
    only(
        libc::SYS_prctl,
        "a new stub's set-up",
        &[
            form(
                "a stub is dumpable, so every Sentry thread may seize its threads",
                &[eq(0, k!(libc::PR_SET_DUMPABLE)), eq(1, k!(1))],
            ),
            form(
                "the master stub dies with its parent thread",
                &[eq(0, k!(libc::PR_SET_PDEATHSIG)), eq(1, k!(libc::SIGKILL))],
            ),
        ],
    ),
];

/// Added under `--network=host` only: the Sentry makes and drives the
/// application's inet sockets on the host (`sentry_rules::net::hostinet`).
pub const HOST_NETWORK_ALLOW: &[Entry] = &[
    only(
        libc::SYS_socket,
        "the application's inet sockets (never raw ones)",
        &[
            form(
                "TCP over IPv4",
                &[
                    eq(0, k!(libc::AF_INET)),
                    masked(1, SOCK_TYPE_MASK, k!(libc::SOCK_STREAM)),
                ],
            ),
            form(
                "UDP over IPv4",
                &[
                    eq(0, k!(libc::AF_INET)),
                    masked(1, SOCK_TYPE_MASK, k!(libc::SOCK_DGRAM)),
                ],
            ),
            form(
                "TCP over IPv6",
                &[
                    eq(0, k!(libc::AF_INET6)),
                    masked(1, SOCK_TYPE_MASK, k!(libc::SOCK_STREAM)),
                ],
            ),
            form(
                "UDP over IPv6",
                &[
                    eq(0, k!(libc::AF_INET6)),
                    masked(1, SOCK_TYPE_MASK, k!(libc::SOCK_DGRAM)),
                ],
            ),
        ],
    ),
    any(libc::SYS_bind, "the application's bind"),
    any(libc::SYS_listen, "the application's listen"),
    any(libc::SYS_connect, "the application's connect"),
    any(libc::SYS_getsockname, "the application's getsockname"),
    any(libc::SYS_getpeername, "the application's getpeername"),
    Entry {
        nr: libc::SYS_getsockopt,
        why: "allow-listed options, and a connect's result (SO_ERROR)",
        args: Args::Generated {
            what: "(level, name) of the Sentry's hostinet option allow-list",
            rules: socket_options,
        },
    },
    Entry {
        nr: libc::SYS_setsockopt,
        why: "allow-listed options",
        args: Args::Generated {
            what: "(level, name) of the Sentry's hostinet option allow-list",
            rules: socket_options,
        },
    },
    any(libc::SYS_epoll_create1, "the host poller's set"),
    any(
        libc::SYS_epoll_ctl,
        "host sockets in and out of the poller's set",
    ),
    any(libc::SYS_epoll_wait, "the host poller waits"),
];

/// The socket type without SOCK_NONBLOCK and SOCK_CLOEXEC (the kernel's
/// SOCK_TYPE_MASK).
const SOCK_TYPE_MASK: Value = Value::Const("SOCK_TYPE_MASK", 0xf);

/// getsockopt/setsockopt forms: exactly the options the Sentry passes
/// through to host sockets.
fn socket_options() -> Vec<Vec<Cond>> {
    sentry::boot::hostinet_passed_options()
        .map(|(level, name)| {
            vec![
                eq(1, Value::Const("level", level as u64)),
                eq(2, Value::Const("name", name as u64)),
            ]
        })
        .collect()
}

/// Added when the sandbox may reach host Unix sockets through the Gofer
/// (`--host-uds=open`, or a socket bound in by the spec): the Sentry
/// drives their descriptors (`sentry_rules::net::unix`'s host sockets) with
/// the host poller.
pub const HOST_UDS_ALLOW: &[Entry] = &[
    only(
        libc::SYS_getsockopt,
        "a host Unix socket's kind, peer and pending error",
        &[
            form(
                "SO_PEERCRED",
                &[eq(1, k!(libc::SOL_SOCKET)), eq(2, k!(libc::SO_PEERCRED))],
            ),
            form(
                "SO_ERROR",
                &[eq(1, k!(libc::SOL_SOCKET)), eq(2, k!(libc::SO_ERROR))],
            ),
            form(
                "the Gofer's socket is checked to be AF_UNIX (gofer-protocol's connectat)",
                &[eq(1, k!(libc::SOL_SOCKET)), eq(2, k!(libc::SO_DOMAIN))],
            ),
            form(
                "and of the type asked",
                &[eq(1, k!(libc::SOL_SOCKET)), eq(2, k!(libc::SO_TYPE))],
            ),
        ],
    ),
    any(libc::SYS_epoll_create1, "the host poller's set"),
    any(
        libc::SYS_epoll_ctl,
        "host sockets in and out of the poller's set",
    ),
    any(libc::SYS_epoll_wait, "the host poller waits"),
];

/// Calls answered with an errno: library code that probes and copes.
pub const SENTRY_REFUSE: &[Refusal] = &[
    Refusal {
        nr: libc::SYS_open,
        errno: libc::EACCES,
        why: "library code probing host files (the Sentry's root is empty anyway)",
        conds: &[],
    },
    Refusal {
        nr: libc::SYS_openat,
        errno: libc::EACCES,
        why: "library code probing host files (the Sentry's root is empty anyway)",
        conds: &[],
    },
    Refusal {
        nr: libc::SYS_clone3,
        errno: libc::ENOSYS,
        why: "its flags sit behind a pointer no filter can read: glibc's \
              pthread_create then falls back to clone(2), whose flags are checked",
        conds: &[],
    },
];
