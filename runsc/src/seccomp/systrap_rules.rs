//! What the systrap platform (`--platform=systrap`) adds to the ptrace
//! platform's list (it makes its stub processes the same way): the calls
//! ptrace injects to set a stub up, the calls of the stub's syscall
//! thread, and the Sentry's side of the handoff. Stubs inherit the
//! Sentry's filter, so their own calls are here too; application threads
//! stack a stricter filter of their own (platform/src/systrap/filter.rs).

use super::rules::{any, eq, form, k, only, Entry, Value};

pub const SYSTRAP_ALLOW: &[Entry] = &[
    only(
        libc::SYS_mmap,
        "a stub maps the stub code page and its threads' regions",
        &[
            form(
                "the stub code, read and execute",
                &[
                    eq(2, k!(libc::PROT_READ | libc::PROT_EXEC)),
                    eq(3, k!(libc::MAP_SHARED | libc::MAP_FIXED)),
                    eq(4, Value::ScratchFd),
                ],
            ),
            form(
                "a thread's message page and signal stack, read-write",
                &[
                    eq(2, k!(libc::PROT_READ | libc::PROT_WRITE)),
                    eq(3, k!(libc::MAP_SHARED | libc::MAP_FIXED)),
                    eq(4, Value::ScratchFd),
                ],
            ),
        ],
    ),
    any(
        libc::SYS_munmap,
        "the syscall thread unmaps application memory and a gone thread's region",
    ),
    any(
        libc::SYS_mprotect,
        "the syscall thread changes application protections",
    ),
    only(
        libc::SYS_clone,
        "the syscall thread clones an application thread",
        &[form(
            "a stub thread whose tid word the kernel clears at its exit",
            &[eq(
                0,
                k!(libc::CLONE_VM
                    | libc::CLONE_FS
                    | libc::CLONE_FILES
                    | libc::CLONE_SIGHAND
                    | libc::CLONE_THREAD
                    | libc::CLONE_SYSVSEM
                    | libc::CLONE_CHILD_SETTID
                    | libc::CLONE_CHILD_CLEARTID),
            )],
        )],
    ),
    only(
        libc::SYS_prctl,
        "a stub's set-up",
        &[form(
            "no new privileges, so a thread may install its filter",
            &[eq(0, k!(libc::PR_SET_NO_NEW_PRIVS)), eq(1, k!(1))],
        )],
    ),
    only(
        libc::SYS_seccomp,
        "a new application thread installs its filter",
        &[form(
            "SECCOMP_SET_MODE_FILTER, no flags",
            &[eq(0, k!(libc::SECCOMP_SET_MODE_FILTER)), eq(1, k!(0))],
        )],
    ),
    any(
        libc::SYS_eventfd2,
        "a stub's syscall thread signals the end of each call",
    ),
    any(
        libc::SYS_pidfd_open,
        "the Sentry takes the stub's eventfd (with pidfd_getfd)",
    ),
    any(libc::SYS_pidfd_getfd, "the Sentry takes the stub's eventfd"),
];
