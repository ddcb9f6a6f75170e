//! Each filter loaded in a forked child: a call off its list, and a call
//! on it with arguments off its forms, kill the child with SIGSYS; the
//! allowed forms do not.

use std::os::fd::RawFd;

use seccompiler::BpfProgram;

use super::rules::Facts;
use super::*;

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Exited(i32),
    Killed(i32),
}

const ALLOWED: Outcome = Outcome::Exited(0);
const KILLED: Outcome = Outcome::Killed(libc::SIGSYS);

/// Bigger than any filter (seccomp's limit is 4,096 instructions).
const MAX_FILTER_BYTES: usize = 4096 * std::mem::size_of::<libc::sock_filter>();

/// Forks a child, loads the filters `make(child's pid)` in it (in order),
/// runs `call` and exits with what `call` returns.
fn under(make: &dyn Fn(i32) -> Vec<BpfProgram>, call: &dyn Fn() -> i32) -> Outcome {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let [r, w] = fds;
    // Allocated before the fork: the child must not allocate (another
    // thread of the test harness may hold the allocator's lock).
    let mut buf = vec![0u8; MAX_FILTER_BYTES];
    // SAFETY: the child makes only raw system calls (no allocation, no
    // locks) and ends with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: raw system calls on our own descriptors and buffer.
        unsafe {
            child(r, &mut buf, call);
        }
    }
    // SAFETY: closing our copy of the read end.
    unsafe { libc::close(r) };
    // Each filter as its length then its instructions; length 0 ends.
    let mut message = Vec::new();
    for prog in make(pid) {
        // SAFETY: BpfProgram is a Vec of plain `sock_filter` records.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                prog.as_ptr().cast::<u8>(),
                prog.len() * std::mem::size_of::<libc::sock_filter>(),
            )
        };
        message.extend_from_slice(&(bytes.len() as u64).to_ne_bytes());
        message.extend_from_slice(bytes);
    }
    message.extend_from_slice(&0u64.to_ne_bytes());
    let mut off = 0;
    while off < message.len() {
        // SAFETY: writes from a live slice.
        let n = unsafe { libc::write(w, message[off..].as_ptr().cast(), message.len() - off) };
        assert!(n > 0, "writing the filters to the child");
        off += n as usize;
    }
    // SAFETY: closing our write end.
    unsafe { libc::close(w) };
    let mut status = 0;
    // SAFETY: waitpid writes only to `status`.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    if libc::WIFSIGNALED(status) {
        Outcome::Killed(libc::WTERMSIG(status))
    } else {
        Outcome::Exited(libc::WEXITSTATUS(status))
    }
}

/// Reads exactly `buf.len()` bytes from `fd`, or ends the child.
///
/// # Safety
/// Raw reads into `buf`; callable in a forked child.
unsafe fn read_exact(fd: RawFd, buf: &mut [u8]) {
    let mut len = 0;
    while len < buf.len() {
        // SAFETY: reads into the unfilled part of `buf`.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().add(len).cast(), buf.len() - len) };
        if n <= 0 {
            // SAFETY: ends the child.
            unsafe { libc::_exit(101) };
        }
        len += n as usize;
    }
}

/// The child of [`under`]: loads the filters as they come (lengths first:
/// other tests' children may hold the pipe's write end too, so its end
/// never comes), then runs `call`.
///
/// # Safety
/// Only raw system calls; for a forked child.
unsafe fn child(r: RawFd, buf: &mut [u8], call: &dyn Fn() -> i32) -> ! {
    // SAFETY: raw system calls on the child's own memory.
    unsafe {
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            libc::_exit(100);
        }
        loop {
            let mut len = [0u8; 8];
            read_exact(r, &mut len);
            let len = u64::from_ne_bytes(len) as usize;
            if len == 0 {
                break;
            }
            let len = len.min(buf.len());
            read_exact(r, &mut buf[..len]);
            let prog = libc::sock_fprog {
                len: (len / std::mem::size_of::<libc::sock_filter>()) as u16,
                filter: buf.as_mut_ptr().cast(),
            };
            let set = libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                0,
                &prog as *const libc::sock_fprog,
            );
            if set != 0 {
                libc::_exit(100);
            }
        }
        libc::_exit(call());
    }
}

/// A pid no process has (above the kernel's pid_max limit of 2^22).
const NO_PID: i64 = 0x7fff_fff0;

fn errno() -> i32 {
    // SAFETY: reads this thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Exit code 0 when the last call failed with `e`.
fn failed_with(r: i64, e: i32) -> i32 {
    if r == -1 && errno() == e {
        0
    } else {
        1
    }
}

fn memfd() -> RawFd {
    // SAFETY: makes a descriptor the test owns until it exits.
    let fd = unsafe { libc::memfd_create(c"seccomp-test".as_ptr(), 0) };
    assert!(fd >= 0);
    // SAFETY: sizing our own memfd.
    assert_eq!(unsafe { libc::ftruncate(fd, 1 << 16) }, 0);
    fd
}

macro_rules! sys {
    ($($a:expr),+ $(,)?) => {
        // SAFETY: a raw system call in the test child; its arguments
        // point at nothing or at the child's own memory.
        unsafe { libc::syscall($($a as libc::c_long),+) }
    };
}

struct Sentry {
    profile: SentryProfile,
    memfd: RawFd,
    scratch: RawFd,
    other: RawFd,
}

impl Sentry {
    fn new(host_network: bool, host_uds: bool) -> Sentry {
        Sentry {
            profile: SentryProfile {
                platform: PlatformKind::Ptrace,
                host_network,
                host_uds,
            },
            memfd: memfd(),
            scratch: memfd(),
            other: memfd(),
        }
    }

    /// Runs `call` under this Sentry's filters, as `install_sentry` puts
    /// them on.
    fn run(&self, call: &dyn Fn() -> i32) -> Outcome {
        let make = |pid| {
            let facts = Facts {
                memfd: Some(self.memfd),
                scratch_fd: Some(self.scratch),
                pid,
                proc_fd: None,
            };
            sentry_filters(&self.profile, &facts).unwrap()
        };
        under(&make, call)
    }
}

fn all_sentries() -> Vec<Sentry> {
    let mut out = Vec::new();
    for host_network in [false, true] {
        for host_uds in [false, true] {
            out.push(Sentry::new(host_network, host_uds));
        }
    }
    out
}

#[test]
fn every_filter_compiles_within_the_kernels_limit() {
    for s in all_sentries() {
        let f = Facts {
            memfd: Some(3),
            scratch_fd: Some(4),
            pid: 1,
            proc_fd: None,
        };
        let prog = sentry_filter(&s.profile, &f).unwrap();
        assert!(
            prog.len() < 4096,
            "{:?}: {} instructions",
            s.profile,
            prog.len()
        );
    }
    let gofer = gofer_filter(&Facts {
        proc_fd: Some(5),
        ..Facts::default()
    })
    .unwrap();
    assert!(gofer.len() < 4096);
    let f = Facts::default();
    assert_eq!(
        refusal_filters(sentry_rules::SENTRY_REFUSE, &f)
            .unwrap()
            .len(),
        2
    );
    assert_eq!(refusal_filters(gofer::GOFER_REFUSE, &f).unwrap().len(), 1);
}

#[test]
fn no_list_names_a_call_twice_or_allows_a_refused_one() {
    let s = SentryProfile {
        platform: PlatformKind::Ptrace,
        host_network: true,
        host_uds: true,
    };
    let mut lists = s.lists();
    lists.push(("gofer", gofer::GOFER_ALLOW));
    for (what, list) in lists {
        let mut nrs: Vec<i64> = list.iter().map(|e| e.nr).collect();
        nrs.sort();
        let n = nrs.len();
        nrs.dedup();
        assert_eq!(nrs.len(), n, "{what} names a call twice");
        for r in sentry_rules::SENTRY_REFUSE {
            if what != "gofer" {
                assert!(!nrs.contains(&r.nr), "{what} allows refused {}", r.why);
            }
        }
    }
}

#[test]
fn a_sentry_is_killed_for_calls_off_its_lists() {
    for s in all_sentries() {
        let p = &s.profile;
        assert_eq!(s.run(&|| 0), ALLOWED, "{p:?}: exit");
        assert_eq!(s.run(&|| sys!(libc::SYS_getppid) as i32), KILLED, "{p:?}");
        assert_eq!(s.run(&|| sys!(libc::SYS_setuid, 0) as i32), KILLED, "{p:?}");
    }
}

#[test]
fn a_sentry_may_ptrace_only_with_the_platforms_requests() {
    let s = Sentry::new(false, false);
    let req = |r: u32, addr: u64, data: u64| {
        move || failed_with(sys!(libc::SYS_ptrace, r, NO_PID, addr, data), libc::ESRCH)
    };
    let rax = std::mem::offset_of!(libc::user_regs_struct, rax) as u64;
    let rip = std::mem::offset_of!(libc::user_regs_struct, rip) as u64;
    for r in [
        libc::PTRACE_SYSEMU,
        libc::PTRACE_CONT,
        libc::PTRACE_GETREGS,
        libc::PTRACE_SETREGS,
        libc::PTRACE_GETSIGINFO,
        libc::PTRACE_INTERRUPT,
        libc::PTRACE_DETACH,
    ] {
        assert_eq!(s.run(&req(r, 0, 0)), ALLOWED, "request {r}");
    }
    assert_eq!(s.run(&req(libc::PTRACE_POKEUSER, rax, 0)), ALLOWED);
    assert_eq!(s.run(&req(libc::PTRACE_POKEUSER, rip, 0)), KILLED);
    assert_eq!(s.run(&req(libc::PTRACE_GETREGSET, 0x202, 0)), ALLOWED);
    assert_eq!(
        s.run(&req(libc::PTRACE_GETREGSET, libc::NT_PRSTATUS as u64, 0)),
        KILLED
    );
    let options = (libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESYSGOOD) as u64;
    assert_eq!(s.run(&req(libc::PTRACE_SEIZE, 0, options)), ALLOWED);
    assert_eq!(
        s.run(&req(libc::PTRACE_SEIZE, 0, libc::PTRACE_O_TRACEFORK as u64)),
        KILLED
    );
    for r in [
        libc::PTRACE_ATTACH,
        libc::PTRACE_PEEKDATA,
        libc::PTRACE_POKEDATA,
        libc::PTRACE_SYSCALL,
        libc::PTRACE_SINGLESTEP,
    ] {
        assert_eq!(s.run(&req(r, 0, 0)), KILLED, "request {r}");
    }
}

#[test]
fn a_sentry_signals_only_stubs_and_itself_with_the_signals_it_uses() {
    let s = Sentry::new(false, false);
    let kill =
        |pid: i64, sig: i32| move || failed_with(sys!(libc::SYS_kill, pid, sig), libc::ESRCH);
    assert_eq!(s.run(&kill(NO_PID, libc::SIGKILL)), ALLOWED);
    assert_eq!(s.run(&kill(NO_PID, libc::SIGTERM)), KILLED);
    // A process group: never (one that does not exist, should the filter
    // let it through; 0 and -1 are not tried for the same reason).
    assert_eq!(s.run(&kill(-NO_PID, libc::SIGKILL)), KILLED);
    let tgkill =
        |sig: i32| move || failed_with(sys!(libc::SYS_tgkill, NO_PID, NO_PID, sig), libc::ESRCH);
    assert_eq!(s.run(&tgkill(libc::SIGCHLD)), ALLOWED);
    assert_eq!(s.run(&tgkill(libc::SIGUSR1)), KILLED);
    assert_eq!(s.run(&tgkill(libc::SIGABRT)), KILLED);
    // SIGABRT to itself (abort): allowed, and it dies of it.
    let abort = || {
        let (pid, tid) = (sys!(libc::SYS_getpid), sys!(libc::SYS_gettid));
        sys!(libc::SYS_tgkill, pid, tid, libc::SIGABRT) as i32
    };
    assert_eq!(s.run(&abort), Outcome::Killed(libc::SIGABRT));
}

#[test]
fn a_sentry_maps_only_anonymous_memory_the_memory_file_and_scratch_slots() {
    let s = Sentry::new(false, false);
    let page = 4096i64;
    let anon = |flags: i32| {
        move || {
            let r = sys!(libc::SYS_mmap, 0, page, libc::PROT_READ, flags, -1, 0);
            (r == -1) as i32
        }
    };
    let private = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    assert_eq!(s.run(&anon(private)), ALLOWED);
    assert_eq!(s.run(&anon(private | libc::MAP_NORESERVE)), ALLOWED);
    assert_eq!(s.run(&anon(libc::MAP_SHARED | libc::MAP_ANONYMOUS)), KILLED);
    // Over a private page of the child's own, as a stub maps over its
    // address space.
    let fixed = |fd: RawFd, prot: i32, flags: i32| {
        move || {
            let at = sys!(libc::SYS_mmap, 0, page, libc::PROT_NONE, private, -1, 0);
            let r = sys!(libc::SYS_mmap, at, page, prot, flags, fd, 0);
            (r != at) as i32
        }
    };
    let shared_fixed = libc::MAP_SHARED | libc::MAP_FIXED;
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    assert_eq!(s.run(&fixed(s.memfd, rw, shared_fixed)), ALLOWED);
    assert_eq!(
        s.run(&fixed(s.memfd, rw | libc::PROT_EXEC, shared_fixed)),
        ALLOWED
    );
    assert_eq!(s.run(&fixed(s.memfd, rw, libc::MAP_PRIVATE)), KILLED);
    assert_eq!(s.run(&fixed(s.other, rw, shared_fixed)), KILLED);
    assert_eq!(
        s.run(&fixed(s.scratch, libc::PROT_READ, shared_fixed)),
        ALLOWED
    );
    assert_eq!(s.run(&fixed(s.scratch, rw, shared_fixed)), KILLED);
    let punch = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
    let fallocate =
        |fd: RawFd, mode: i32| move || sys!(libc::SYS_fallocate, fd, mode, 0, page) as i32;
    assert_eq!(s.run(&fallocate(s.memfd, punch)), ALLOWED);
    assert_eq!(s.run(&fallocate(s.other, punch)), KILLED);
    assert_eq!(s.run(&fallocate(s.memfd, 0)), KILLED);
    // The memory file is sized before the filter goes on.
    let truncate = || sys!(libc::SYS_ftruncate, s.memfd, 0) as i32;
    assert_eq!(s.run(&truncate), KILLED);
}

#[test]
fn a_sentry_clones_only_threads_and_stubs() {
    let s = Sentry::new(false, false);
    let clone = |flags: i64| {
        move || {
            let mut tid = 0i32;
            let r = sys!(libc::SYS_clone, flags, 0, 0, &mut tid as *mut i32, 0);
            if r == 0 {
                // SAFETY: the new process ends at once.
                unsafe { libc::_exit(0) };
            }
            (r < 0) as i32
        }
    };
    let fork = (libc::CLONE_CHILD_SETTID | libc::CLONE_CHILD_CLEARTID | libc::SIGCHLD) as i64;
    assert_eq!(s.run(&clone(fork)), ALLOWED);
    let master = (libc::CLONE_PARENT | libc::CLONE_UNTRACED | libc::SIGCHLD) as i64;
    assert_eq!(s.run(&clone(master)), ALLOWED);
    assert_eq!(s.run(&clone(libc::SIGCHLD as i64)), KILLED);
    assert_eq!(
        s.run(&clone((libc::CLONE_NEWUSER | libc::SIGCHLD) as i64)),
        KILLED
    );
    assert_eq!(s.run(&clone(fork | libc::CLONE_NEWNS as i64)), KILLED);
    assert_eq!(s.run(&clone(libc::CLONE_VM as i64)), KILLED);
}

#[test]
fn refused_calls_get_their_errno() {
    let open = |path: &'static std::ffi::CStr, flags: i32, e: i32| {
        move || {
            let r = sys!(libc::SYS_openat, libc::AT_FDCWD, path.as_ptr(), flags);
            failed_with(r, e)
        }
    };
    let clone3 = || failed_with(sys!(libc::SYS_clone3, 0, 0), libc::ENOSYS);
    for s in all_sentries() {
        let p = &s.profile;
        assert_eq!(
            s.run(&open(c"/", libc::O_RDONLY, libc::EACCES)),
            ALLOWED,
            "{p:?}"
        );
        assert_eq!(s.run(&clone3), ALLOWED, "{p:?}");
    }
    // glibc's malloc probing overcommit in a Gofer thread.
    let overcommit = c"/proc/sys/vm/overcommit_memory";
    let flags = libc::O_RDONLY | libc::O_CLOEXEC;
    assert_eq!(gofer(&open(overcommit, flags, libc::EACCES)), ALLOWED);
    assert_eq!(
        gofer(&open(overcommit, libc::O_RDONLY, libc::EACCES)),
        KILLED
    );
}

#[test]
fn a_sentry_makes_only_the_ioctls_fcntls_prctls_and_futex_ops_it_uses() {
    let s = Sentry::new(false, false);
    let ioctl = |req: u64| move || failed_with(sys!(libc::SYS_ioctl, -1, req, 0), libc::EBADF);
    for req in [
        libc::TCGETS,
        libc::TIOCGWINSZ,
        libc::FIONREAD,
        libc::TIOCOUTQ,
    ] {
        assert_eq!(s.run(&ioctl(req)), ALLOWED, "ioctl {req:#x}");
    }
    for req in [
        libc::TIOCSTI,
        libc::FIONBIO,
        libc::TIOCSCTTY,
        libc::SIOCGIFINDEX,
    ] {
        assert_eq!(s.run(&ioctl(req)), KILLED, "ioctl {req:#x}");
    }
    let fcntl = |cmd: i32| move || failed_with(sys!(libc::SYS_fcntl, -1, cmd, 0), libc::EBADF);
    assert_eq!(s.run(&fcntl(libc::F_GETFL)), ALLOWED);
    assert_eq!(s.run(&fcntl(libc::F_SETOWN)), KILLED);
    let name = || sys!(libc::SYS_prctl, libc::PR_SET_NAME, c"x".as_ptr()) as i32;
    assert_eq!(s.run(&name), ALLOWED);
    let dumpable = |v: i64| move || sys!(libc::SYS_prctl, libc::PR_SET_DUMPABLE, v) as i32;
    assert_eq!(s.run(&dumpable(1)), ALLOWED);
    assert_eq!(s.run(&dumpable(0)), KILLED);
    let ptracer = || sys!(libc::SYS_prctl, libc::PR_SET_PTRACER, -1) as i32;
    assert_eq!(s.run(&ptracer), KILLED);
    let futex = |op: i32| {
        move || {
            let word = 0u32;
            let r = sys!(libc::SYS_futex, &word as *const u32, op, 1, 0, 0, 0);
            (r < 0) as i32
        }
    };
    assert_eq!(
        s.run(&futex(libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG)),
        ALLOWED
    );
    assert_eq!(s.run(&futex(libc::FUTEX_WAKE)), ALLOWED);
    assert_eq!(s.run(&futex(libc::FUTEX_UNLOCK_PI)), KILLED);
    assert_eq!(
        s.run(&futex(libc::FUTEX_LOCK_PI | libc::FUTEX_PRIVATE_FLAG)),
        KILLED
    );
}

#[test]
fn sockets_follow_the_network_mode() {
    let socket = |family: i32, kind: i32| {
        move || {
            let fd = sys!(libc::SYS_socket, family, kind | libc::SOCK_CLOEXEC, 0);
            (fd < 0) as i32
        }
    };
    for s in all_sentries() {
        let p = &s.profile;
        let inet = if p.host_network { ALLOWED } else { KILLED };
        assert_eq!(
            s.run(&socket(libc::AF_INET, libc::SOCK_STREAM)),
            inet,
            "{p:?}"
        );
        assert_eq!(
            s.run(&socket(libc::AF_INET6, libc::SOCK_DGRAM)),
            inet,
            "{p:?}"
        );
        assert_eq!(
            s.run(&socket(libc::AF_INET, libc::SOCK_RAW)),
            KILLED,
            "{p:?}"
        );
        assert_eq!(
            s.run(&socket(libc::AF_UNIX, libc::SOCK_STREAM)),
            KILLED,
            "{p:?}"
        );
        assert_eq!(
            s.run(&socket(libc::AF_PACKET, libc::SOCK_RAW)),
            KILLED,
            "{p:?}"
        );
        assert_eq!(
            s.run(&socket(libc::AF_NETLINK, libc::SOCK_RAW)),
            KILLED,
            "{p:?}"
        );
        assert_eq!(
            s.run(&socket(libc::AF_BLUETOOTH, libc::SOCK_STREAM)),
            KILLED,
            "{p:?}"
        );
        let opt = |get: bool, level: i32, name: i32| {
            move || {
                let mut v = [0u8; 64];
                let mut len = v.len() as libc::socklen_t;
                let nr = if get {
                    libc::SYS_getsockopt
                } else {
                    libc::SYS_setsockopt
                };
                let r = sys!(
                    nr,
                    -1,
                    level,
                    name,
                    v.as_mut_ptr(),
                    if get { &mut len as *mut _ as i64 } else { 4 }
                );
                failed_with(r, libc::EBADF)
            }
        };
        let host = if p.host_network { ALLOWED } else { KILLED };
        let peer = if p.host_uds { ALLOWED } else { KILLED };
        assert_eq!(
            s.run(&opt(false, libc::SOL_SOCKET, libc::SO_REUSEADDR)),
            host,
            "{p:?}"
        );
        assert_eq!(
            s.run(&opt(true, libc::IPPROTO_TCP, libc::TCP_NODELAY)),
            host,
            "{p:?}"
        );
        assert_eq!(
            s.run(&opt(true, libc::SOL_SOCKET, libc::SO_PEERCRED)),
            peer,
            "{p:?}"
        );
        let err = if p.host_network || p.host_uds {
            ALLOWED
        } else {
            KILLED
        };
        assert_eq!(
            s.run(&opt(true, libc::SOL_SOCKET, libc::SO_ERROR)),
            err,
            "{p:?}"
        );
        assert_eq!(
            s.run(&opt(false, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER)),
            KILLED,
            "{p:?}"
        );
        assert_eq!(
            s.run(&opt(false, libc::SOL_SOCKET, libc::SO_BINDTODEVICE)),
            KILLED,
            "{p:?}"
        );
    }
}

/// The /proc descriptor a Gofer's p9 server holds, for the filter.
fn proc_fd() -> RawFd {
    static PROC: std::sync::OnceLock<RawFd> = std::sync::OnceLock::new();
    *PROC.get_or_init(|| {
        let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
        // SAFETY: opens a descriptor the test keeps until it exits.
        let fd = unsafe { libc::open(c"/proc".as_ptr(), flags) };
        assert!(fd >= 0);
        fd
    })
}

fn gofer(call: &dyn Fn() -> i32) -> Outcome {
    under(
        &|pid| {
            gofer_filters(&Facts {
                pid,
                proc_fd: Some(proc_fd()),
                ..Facts::default()
            })
            .unwrap()
        },
        call,
    )
}

#[test]
fn the_gofer_is_killed_for_calls_and_arguments_off_its_list() {
    assert_eq!(gofer(&|| 0), ALLOWED);
    for nr in [
        libc::SYS_getppid,
        libc::SYS_ptrace,
        libc::SYS_kill,
        libc::SYS_clone,
    ] {
        assert_eq!(
            gofer(&|| sys!(nr, 0, 0, 0, 0) as i32),
            KILLED,
            "syscall {nr}"
        );
    }
    let socket =
        |family: i32| move || (sys!(libc::SYS_socket, family, libc::SOCK_STREAM, 0) < 0) as i32;
    assert_eq!(gofer(&socket(libc::AF_UNIX)), ALLOWED);
    assert_eq!(gofer(&socket(libc::AF_INET)), KILLED);
    assert_eq!(gofer(&socket(libc::AF_NETLINK)), KILLED);
    let openat = |at: RawFd, path: &'static std::ffi::CStr, flags: i32| {
        move || (sys!(libc::SYS_openat, at, path.as_ptr(), flags) < 0) as i32
    };
    let dir = libc::O_RDONLY | libc::O_DIRECTORY;
    let cwd = libc::AT_FDCWD;
    assert_eq!(gofer(&openat(cwd, c"/", dir | libc::O_NOFOLLOW)), ALLOWED);
    assert_eq!(gofer(&openat(cwd, c"/", dir)), KILLED);
    // p9's reopen of a fid through /proc/self/fd, and the root's O_PATH
    // descriptor.
    assert_eq!(gofer(&openat(proc_fd(), c"self", dir)), ALLOWED);
    let root = libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC;
    assert_eq!(gofer(&openat(cwd, c"/", root)), ALLOWED);
    let other = memfd();
    assert_eq!(gofer(&openat(other, c"/", dir)), KILLED);
    let unshare = |flags: i32| move || (sys!(libc::SYS_unshare, flags) < 0) as i32;
    assert_eq!(gofer(&unshare(libc::CLONE_FS)), ALLOWED);
    assert_eq!(gofer(&unshare(libc::CLONE_NEWUSER)), KILLED);
    assert_eq!(gofer(&unshare(libc::CLONE_FS | libc::CLONE_NEWNS)), KILLED);
    let fd = memfd();
    let map = move |flags: i32, fd: i64| {
        move || (sys!(libc::SYS_mmap, 0, 4096, libc::PROT_READ, flags, fd, 0) == -1) as i32
    };
    assert_eq!(
        gofer(&map(libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1)),
        ALLOWED
    );
    assert_eq!(gofer(&map(libc::MAP_SHARED, fd as i64)), KILLED);
    assert_eq!(gofer(&map(libc::MAP_PRIVATE, fd as i64)), KILLED);
    let ioctl = || failed_with(sys!(libc::SYS_ioctl, -1, libc::TCGETS, 0), libc::EBADF);
    assert_eq!(gofer(&ioctl), KILLED);
}
