//! The Sentry's seccomp allow-list: data, one entry per host syscall with
//! the reason it is needed.
//!
//! Installed in `boot` after the Sentry has cut itself off from the host
//! filesystem and before any application code runs; every thread and every
//! stub process inherits it. Application system calls never reach it: under
//! PTRACE_SYSEMU the kernel stops them before seccomp runs. A call outside
//! the list raises SIGSYS, which the handler below reports by number before
//! the sandbox dies, so a missing entry is easy to find.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

/// (syscall, why the Sentry or its stubs need it)
const SENTRY_ALLOW: &[(i64, &str)] = &[
    // Application memory and the platform.
    (
        libc::SYS_mmap,
        "Sentry heap, stub page; stubs map the memory file",
    ),
    (libc::SYS_munmap, "Sentry heap; stubs unmap"),
    (
        libc::SYS_mprotect,
        "Sentry heap guard pages; stubs change protections",
    ),
    (libc::SYS_mremap, "Sentry allocator"),
    (libc::SYS_madvise, "Sentry allocator, thread stacks"),
    (libc::SYS_brk, "Sentry allocator"),
    (libc::SYS_memfd_create, "the memory file, created at boot"),
    (libc::SYS_ftruncate, "sizing the memory file"),
    (libc::SYS_fallocate, "releasing memory-file pages"),
    (
        libc::SYS_lseek,
        "finding populated memory-file pages (SEEK_DATA/SEEK_HOLE)",
    ),
    (libc::SYS_ptrace, "the ptrace platform"),
    (libc::SYS_wait4, "waiting for stub stops"),
    (libc::SYS_waitid, "waiting for stub stops"),
    (
        libc::SYS_tgkill,
        "interrupting a stub thread; raising signals",
    ),
    (libc::SYS_kill, "destroying a stub process"),
    (
        libc::SYS_clone,
        "stub processes (fork) and stub threads (injected)",
    ),
    (libc::SYS_clone3, "Sentry threads (glibc pthread_create)"),
    (
        libc::SYS_close_range,
        "a new stub closes inherited descriptors",
    ),
    (libc::SYS_setsid, "a new stub leaves the terminal's session"),
    (libc::SYS_pause, "a new stub thread waits to be seized"),
    (libc::SYS_rseq, "glibc thread set-up; a stub unregisters it"),
    (libc::SYS_set_robust_list, "glibc thread set-up"),
    (
        libc::SYS_sched_setaffinity,
        "pinning a tracer and its stub to one CPU",
    ),
    (libc::SYS_sched_getaffinity, "choosing CPUs"),
    (libc::SYS_sched_yield, "the application's sched_yield"),
    (libc::SYS_getcpu, "the application's getcpu"),
    // Threads and time.
    (libc::SYS_futex, "Sentry locks and condition variables"),
    (libc::SYS_clock_gettime, "clocks (when the vDSO falls back)"),
    (libc::SYS_clock_nanosleep, "timers and sleeps"),
    (libc::SYS_nanosleep, "timers and sleeps"),
    (libc::SYS_gettimeofday, "clocks (vDSO fallback)"),
    (libc::SYS_getpid, "glibc, raise"),
    (libc::SYS_gettid, "glibc, raise"),
    (
        libc::SYS_getrandom,
        "AT_RANDOM, the application's getrandom",
    ),
    (libc::SYS_sysinfo, "the application's sysinfo"),
    (libc::SYS_prctl, "thread names"),
    (libc::SYS_sigaltstack, "Rust's stack-overflow handler"),
    (libc::SYS_rt_sigaction, "signal set-up"),
    (
        libc::SYS_rt_sigprocmask,
        "signal masks; a new stub unblocks all",
    ),
    (
        libc::SYS_rt_sigtimedwait,
        "the forwarder takes signals sent to the sandbox (sigwaitinfo)",
    ),
    (libc::SYS_rt_sigreturn, "the SIGSYS reporter"),
    (libc::SYS_exit, "thread exit; stub threads end"),
    (
        libc::SYS_getcwd,
        "the panic reporter (the Sentry's cwd is its empty root)",
    ),
    (libc::SYS_exit_group, "sandbox exit"),
    // Descriptors the Sentry holds: the Gofer socket, donated files, stdio.
    (
        libc::SYS_read,
        "Gofer replies, host stdio; network frames, the stack's eventfd",
    ),
    (
        libc::SYS_write,
        "Gofer requests, host stdio, logs; network frames, the stack's eventfd",
    ),
    (libc::SYS_readv, "host stdio"),
    (libc::SYS_writev, "host stdio, logs"),
    (libc::SYS_pread64, "reading donated files (Topenfd)"),
    (
        libc::SYS_getdents64,
        "listing donated directory descriptors (Topenfd)",
    ),
    (libc::SYS_pwrite64, "donated files"),
    (libc::SYS_fsync, "fsync of donated files (--overlay=none)"),
    (libc::SYS_recvmsg, "Gofer replies"),
    (libc::SYS_accept4, "control connections (start, kill, ps)"),
    (libc::SYS_sendmsg, "Gofer requests"),
    (libc::SYS_recvfrom, "Gofer replies; network frames (recv)"),
    (libc::SYS_sendto, "Gofer requests; network frames (send)"),
    (
        libc::SYS_shutdown,
        "closing the Gofer connection on a protocol error",
    ),
    (libc::SYS_close, "descriptors"),
    (libc::SYS_dup, "descriptors"),
    (libc::SYS_fcntl, "descriptor flags"),
    (libc::SYS_fstat, "host stdio type"),
    (
        libc::SYS_newfstatat,
        "host stdio type (fstat via AT_EMPTY_PATH)",
    ),
    (libc::SYS_statx, "host stdio type"),
    (libc::SYS_ioctl, "terminal ioctls on host stdio"),
    (
        libc::SYS_poll,
        "host stdio readiness; the network stack's thread sleeps on its frame descriptors",
    ),
    (
        libc::SYS_ppoll,
        "host stdio readiness; the network stack's thread sleeps on its frame descriptors",
    ),
    // The network stack: its thread, woken through an eventfd, moves
    // Ethernet frames on the AF_PACKET descriptors the Sentry opened at
    // boot (read/write/recvfrom/sendto above serve them one at a time).
    (
        libc::SYS_eventfd2,
        "waking the network stack's thread (timers, frames to send); \
         stopping the host poller (--network=host)",
    ),
    (
        libc::SYS_recvmmsg,
        "the network stack reads frames in batches",
    ),
    (
        libc::SYS_sendmmsg,
        "the network stack sends frames in batches",
    ),
    (
        libc::SYS_open,
        "refused with EACCES by the second filter (library code probing files)",
    ),
    (
        libc::SYS_openat,
        "refused with EACCES by the second filter (library code probing files)",
    ),
];

/// Added under `--network=host` only: the Sentry makes and drives the
/// application's inet sockets on the host (`sentry::net::hostinet`).
const HOST_NETWORK_ALLOW: &[(i64, &str)] = &[
    (
        libc::SYS_socket,
        "the application's inet sockets; AF_INET and AF_INET6 only (argument filter)",
    ),
    (libc::SYS_bind, "the application's bind"),
    (libc::SYS_listen, "the application's listen"),
    (libc::SYS_connect, "the application's connect"),
    (libc::SYS_getsockname, "the application's getsockname"),
    (libc::SYS_getpeername, "the application's getpeername"),
    (
        libc::SYS_getsockopt,
        "allow-listed options, and a connect's result",
    ),
    (libc::SYS_setsockopt, "allow-listed options"),
    (libc::SYS_epoll_create1, "the host poller's set"),
    (
        libc::SYS_epoll_ctl,
        "host sockets in and out of the poller's set",
    ),
    (libc::SYS_epoll_wait, "the host poller waits"),
];

/// Added when the sandbox may reach host Unix sockets through the Gofer
/// (`--host-uds=open`, or a socket bound in by the spec): the Sentry
/// drives their descriptors (`sentry::net::unix`'s host sockets) with
/// the host poller. Already in [`HOST_NETWORK_ALLOW`].
const HOST_UDS_ALLOW: &[(i64, &str)] = &[
    (
        libc::SYS_getsockopt,
        "a host Unix socket's SO_PEERCRED and SO_ERROR",
    ),
    (libc::SYS_epoll_create1, "the host poller's set"),
    (
        libc::SYS_epoll_ctl,
        "host sockets in and out of the poller's set",
    ),
    (libc::SYS_epoll_wait, "the host poller waits"),
];

/// Calls that fail with EACCES instead of killing the sandbox: library code
/// (glibc, std) sometimes probes host files and copes with failure; the
/// Sentry's root is empty anyway.
const SENTRY_REFUSE: &[i64] = &[libc::SYS_open, libc::SYS_openat];

/// (syscall, why the Gofer needs it). The Gofer is confined to the served
/// tree by pivot_root; the filter keeps it to file operations.
const GOFER_ALLOW: &[(i64, &str)] = &[
    (libc::SYS_read, "9P requests"),
    (libc::SYS_write, "9P replies, logs"),
    (libc::SYS_readv, "9P requests"),
    (libc::SYS_writev, "9P replies"),
    (libc::SYS_recvfrom, "9P requests"),
    (libc::SYS_sendto, "9P replies"),
    (libc::SYS_recvmsg, "9P requests"),
    (libc::SYS_sendmsg, "9P replies"),
    (libc::SYS_openat, "opening served files"),
    (libc::SYS_open, "opening served files"),
    (
        libc::SYS_openat2,
        "Topenfd: opening files to donate, resolved beneath the root",
    ),
    (libc::SYS_close, "closing served files"),
    (libc::SYS_fstat, "attributes"),
    (libc::SYS_newfstatat, "attributes"),
    (libc::SYS_statx, "attributes"),
    (libc::SYS_fstatfs, "statfs"),
    (libc::SYS_statfs, "statfs"),
    (libc::SYS_getdents64, "readdir"),
    (libc::SYS_lseek, "readdir offsets"),
    (libc::SYS_readlinkat, "readlink"),
    (libc::SYS_readlink, "readlink"),
    (libc::SYS_pread64, "reads"),
    (libc::SYS_pwrite64, "writes"),
    (libc::SYS_preadv, "reads"),
    (libc::SYS_pwritev, "writes"),
    (libc::SYS_mkdirat, "mkdir"),
    (libc::SYS_unlinkat, "unlink"),
    (libc::SYS_renameat, "rename"),
    (libc::SYS_renameat2, "rename"),
    (libc::SYS_linkat, "link"),
    (libc::SYS_symlinkat, "symlink"),
    (libc::SYS_mknodat, "mknod"),
    (libc::SYS_fchmod, "setattr"),
    (libc::SYS_fchmodat, "setattr"),
    (libc::SYS_fchown, "setattr"),
    (libc::SYS_fchownat, "setattr"),
    (libc::SYS_ftruncate, "setattr"),
    (libc::SYS_utimensat, "setattr"),
    (libc::SYS_fsync, "fsync"),
    (libc::SYS_fdatasync, "fsync"),
    (libc::SYS_fcntl, "descriptor flags"),
    (libc::SYS_dup, "descriptors"),
    (libc::SYS_fgetxattr, "xattrs"),
    (libc::SYS_flistxattr, "xattrs"),
    (libc::SYS_getxattr, "xattrs"),
    (libc::SYS_lgetxattr, "xattrs"),
    (
        syscalls::Sysno::getxattrat as i64,
        "Tgetxattrat: by (parent, name), not followed",
    ),
    (
        syscalls::Sysno::listxattrat as i64,
        "Tlistxattrat: by (parent, name), not followed",
    ),
    (
        syscalls::Sysno::setxattrat as i64,
        "Tsetxattrat: by (parent, name), not followed",
    ),
    (
        syscalls::Sysno::removexattrat as i64,
        "Tremovexattrat: by (parent, name), not followed",
    ),
    (libc::SYS_fsetxattr, "xattr changes on kernels before 6.13"),
    (
        libc::SYS_fremovexattr,
        "xattr changes on kernels before 6.13",
    ),
    (libc::SYS_setfsuid, "creating files as the caller"),
    (libc::SYS_setfsgid, "creating files as the caller"),
    (libc::SYS_getuid, "credentials"),
    (libc::SYS_getgid, "credentials"),
    (libc::SYS_geteuid, "credentials"),
    (libc::SYS_getegid, "credentials"),
    (libc::SYS_mmap, "allocator"),
    (libc::SYS_munmap, "allocator"),
    (libc::SYS_mremap, "allocator"),
    (libc::SYS_mprotect, "allocator"),
    (libc::SYS_madvise, "allocator"),
    (libc::SYS_brk, "allocator"),
    (libc::SYS_futex, "locks"),
    (libc::SYS_getrandom, "hash seeds"),
    (libc::SYS_clock_gettime, "logs"),
    (libc::SYS_getpid, "logs"),
    (libc::SYS_gettid, "logs"),
    (libc::SYS_sigaltstack, "std start-up"),
    (libc::SYS_rt_sigaction, "signal set-up"),
    (libc::SYS_rt_sigprocmask, "signal set-up"),
    (libc::SYS_rt_sigreturn, "the SIGSYS reporter"),
    (libc::SYS_shutdown, "closing the connection"),
    (
        libc::SYS_socket,
        "Tconnectat: the host Unix socket to connect; AF_UNIX only (argument filter)",
    ),
    (
        libc::SYS_connect,
        "Tconnectat: connecting it to a socket file of the served tree",
    ),
    (
        libc::SYS_unshare,
        "Tconnectat: a working directory per thread; CLONE_FS only (argument filter)",
    ),
    (
        libc::SYS_fchdir,
        "Tconnectat: connect names the socket relative to its directory",
    ),
    (libc::SYS_exit, "exit"),
    (libc::SYS_exit_group, "exit"),
];

/// What the KVM platform adds (`--platform=kvm`), with why.
const KVM_ALLOW: &[(i64, &str)] = &[
    (
        libc::SYS_ioctl,
        "KVM ioctls (type 0xAE: KVM_RUN, KVM_GET/SET_REGS, SREGS, XSAVE, KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU) on /dev/kvm, the VM and vCPU descriptors (argument filter)",
    ),
    (
        libc::SYS_tgkill,
        "kicking a vCPU's thread out of KVM_RUN (page-table shoot-down, interrupts)",
    ),
    (libc::SYS_mmap, "a vCPU's kvm_run page; the platform's guest memory"),
    (libc::SYS_madvise, "releasing an address space's page tables (MADV_REMOVE)"),
];

/// ioctl request numbers of KVM: type 0xAE in bits 8-15.
const KVM_IOCTL_TYPE: u64 = 0xae00;
const IOCTL_TYPE_MASK: u64 = 0xff00;

static KVM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The Sentry's filter will allow what the KVM platform needs
/// ([`KVM_ALLOW`]); called before [`install_sentry`] under `--platform=kvm`.
pub fn allow_kvm() {
    KVM.store(true, std::sync::atomic::Ordering::SeqCst);
}

fn rules_of(list: &[(i64, &str)]) -> BTreeMap<i64, Vec<seccompiler::SeccompRule>> {
    list.iter().map(|(nr, _)| (*nr, Vec::new())).collect()
}

/// Builds the Sentry's filter from `rules`, with the platform's additions.
fn sentry_build(mut rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>>) -> Result<BpfProgram> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    if KVM.load(std::sync::atomic::Ordering::SeqCst) {
        for (nr, _) in KVM_ALLOW {
            let kvm_rule = || -> Result<SeccompRule> {
                let c = SeccompCondition::new(
                    1,
                    SeccompCmpArgLen::Dword,
                    SeccompCmpOp::MaskedEq(IOCTL_TYPE_MASK),
                    KVM_IOCTL_TYPE,
                )
                .context("a KVM ioctl condition")?;
                SeccompRule::new(vec![c]).context("a KVM ioctl rule")
            };
            match rules.get_mut(nr) {
                // Already allowed whatever the arguments.
                Some(r) if r.is_empty() => {}
                Some(r) if *nr == libc::SYS_ioctl => r.push(kvm_rule()?),
                Some(_) => {
                    rules.insert(*nr, Vec::new());
                }
                None if *nr == libc::SYS_ioctl => {
                    rules.insert(*nr, vec![kvm_rule()?]);
                }
                None => {
                    rules.insert(*nr, Vec::new());
                }
            }
        }
    }
    build(rules)
}

fn build(rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>>) -> Result<BpfProgram> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Trap,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .context("building the seccomp filter")?;
    BpfProgram::try_from(filter).context("compiling the seccomp filter")
}

/// The Gofer's filter: its list, with socket(2) held to AF_UNIX and
/// unshare(2) to CLONE_FS.
fn gofer_filter() -> Result<BpfProgram> {
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = GOFER_ALLOW
        .iter()
        .map(|(nr, _)| (*nr, Vec::new()))
        .collect();
    let first_arg = |v: i32| -> Result<Vec<SeccompRule>> {
        let c = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, v as u64)
            .context("an argument condition")?;
        Ok(vec![SeccompRule::new(vec![c]).context("an argument rule")?])
    };
    rules.insert(libc::SYS_socket, first_arg(libc::AF_UNIX)?);
    rules.insert(libc::SYS_unshare, first_arg(libc::CLONE_FS)?);
    build(rules)
}

/// Installs the Gofer's filter (after it has confined itself).
pub fn install_gofer() -> Result<()> {
    let prog = gofer_filter()?;
    install_reporter();
    seccompiler::apply_filter_all_threads(&prog).context("installing the seccomp filter")?;
    Ok(())
}

/// The Sentry's filter; `host_network` adds what `--network=host` needs,
/// `host_uds` what host Unix sockets need.
pub fn sentry_filter(host_network: bool, host_uds: bool) -> Result<BpfProgram> {
    if !host_network {
        if host_uds {
            let list: Vec<(i64, &str)> =
                SENTRY_ALLOW.iter().chain(HOST_UDS_ALLOW).copied().collect();
            return sentry_build(rules_of(&list));
        }
        return sentry_build(rules_of(SENTRY_ALLOW));
    }
    use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = SENTRY_ALLOW
        .iter()
        .chain(HOST_NETWORK_ALLOW)
        .map(|(nr, _)| (*nr, Vec::new()))
        .collect();
    let family = |f: i32| -> Result<SeccompRule> {
        let c = SeccompCondition::new(0, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, f as u64)
            .context("a socket family condition")?;
        SeccompRule::new(vec![c]).context("a socket family rule")
    };
    rules.insert(
        libc::SYS_socket,
        vec![family(libc::AF_INET)?, family(libc::AF_INET6)?],
    );
    sentry_build(rules)
}

/// Reports which syscall the filter refused, then ends the sandbox.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // siginfo for SIGSYS: si_syscall is the int at byte offset 24.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let nr = unsafe { *((info as *const u8).add(24) as *const i32) };
    let mut buf = *b"runsc-rs: seccomp refused host syscall 0000000000 (a Sentry/Gofer bug; please report it)\n";
    let mut n = nr.unsigned_abs();
    let mut i = 48;
    loop {
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 39 {
            break;
        }
        i -= 1;
    }
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), buf.len());
        libc::_exit(125);
    }
}

fn install_reporter() {
    // SAFETY: installs a handler that only makes async-signal-safe calls.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
    }
}

/// Installs the filter on every thread of the Sentry.
pub fn install_sentry(host_network: bool, host_uds: bool) -> Result<()> {
    let prog = sentry_filter(host_network, host_uds)?;
    install_reporter();
    // Stacked filters: the strictest answer wins, so EACCES here beats the
    // first filter's Allow for exactly these calls.
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        SENTRY_REFUSE.iter().map(|nr| (*nr, Vec::new())).collect();
    let refuse = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EACCES as u32),
        TargetArch::x86_64,
    )
    .context("building the refusal filter")?;
    let refuse = BpfProgram::try_from(refuse).context("compiling the refusal filter")?;
    seccompiler::apply_filter_all_threads(&refuse).context("installing the refusal filter")?;
    // Last: after this one, not even seccomp(2) itself is allowed.
    seccompiler::apply_filter_all_threads(&prog).context("installing the seccomp filter")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_compiles_and_has_no_duplicates() {
        let prog = sentry_filter(false, false).unwrap();
        assert!(!prog.is_empty() && prog.len() < 4096);
        let uds = sentry_filter(false, true).unwrap();
        assert!(uds.len() > prog.len());
        for (nr, why) in HOST_UDS_ALLOW {
            assert!(
                HOST_NETWORK_ALLOW.iter().any(|(n, _)| n == nr),
                "{why}: --network=host must allow it too"
            );
        }
        let host = sentry_filter(true, false).unwrap();
        assert!(host.len() > prog.len() && host.len() < 4096);
        let mut nrs: Vec<i64> = SENTRY_ALLOW.iter().map(|(n, _)| *n).collect();
        nrs.sort();
        nrs.dedup();
        assert_eq!(nrs.len(), SENTRY_ALLOW.len());
        for (nr, why) in HOST_NETWORK_ALLOW {
            assert!(!nrs.contains(nr), "{why}: already in the base list");
        }
        let gofer = gofer_filter().unwrap();
        assert!(!gofer.is_empty() && gofer.len() < 4096);
    }

    #[test]
    fn the_kvm_additions_compile() {
        allow_kvm();
        for (net, uds) in [(false, false), (false, true), (true, false)] {
            let prog = sentry_filter(net, uds).unwrap();
            assert!(!prog.is_empty() && prog.len() < 4096);
        }
    }
}
