//! Small safe wrappers over the ptrace, wait and fork calls the platform makes.

use std::os::fd::RawFd;

use super::stub::StubLayout;
use crate::{PlatformError, Regs, Result, XSave};

fn last(op: &'static str) -> PlatformError {
    PlatformError {
        op,
        errno: nix::errno::Errno::last_raw(),
    }
}

const OPTIONS: libc::c_int = libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACESYSGOOD;

/// Forks a stub process from the calling thread (which becomes its tracer)
/// and waits until it has cleared its address space. `slot`: the scratch
/// slot to give it, if any; `master`: it is the master stub (dies with its
/// parent thread).
pub fn fork_stub(
    memfd: RawFd,
    layout: &StubLayout,
    slot: Option<u64>,
    master: bool,
) -> Result<i32> {
    // Everything the child does before it jumps to the stub is
    // async-signal-safe: raw syscalls only, no allocation, no locks.
    // SAFETY: fork in a multithreaded process is sound when the child only
    // makes async-signal-safe calls, which `stub_child` guarantees.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(last("fork stub"));
    }
    if pid == 0 {
        stub_child(memfd, layout, slot, master);
    }
    match wait_stop(pid) {
        Stop::Signal(libc::SIGTRAP) => {}
        _ => {
            kill_process(pid);
            reap(pid);
            return Err(PlatformError {
                op: "start stub",
                errno: libc::ECHILD,
            });
        }
    }
    // SAFETY: pid is our traced child, stopped.
    let r = unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, OPTIONS) };
    if r != 0 {
        let e = last("PTRACE_SETOPTIONS");
        kill_process(pid);
        reap(pid);
        return Err(e);
    }
    pin_pair(pid);
    Ok(pid)
}

extern "C" {
    /// glibc (2.35+): where the thread's rseq area sits relative to the
    /// thread pointer, and its registered size (0 when glibc did not register).
    static __rseq_offset: isize;
    static __rseq_size: u32;
}

/// The signature glibc registers rseq with on x86.
const RSEQ_SIG: u32 = 0x5305_3053;

/// A forked child inherits the thread's rseq registration; once the stub
/// unmaps the Sentry's memory, the kernel would fault on the area at the next
/// preemption and kill the stub with SIGSEGV. Unregister it first.
///
/// # Safety
/// Only raw syscalls and reads of the thread pointer; callable after fork.
unsafe fn unregister_rseq() {
    // SAFETY: the symbols are plain data exported by glibc.
    let (off, size) = unsafe { (__rseq_offset, __rseq_size) };
    if size == 0 {
        return;
    }
    let tp: u64;
    // SAFETY: on x86-64 glibc, fs:0 holds the thread pointer itself.
    unsafe { std::arch::asm!("mov {}, fs:0", out(reg) tp) };
    let area = (tp as i64 + off as i64) as u64;
    // SAFETY: unregistering the area glibc registered for this thread.
    unsafe { libc::syscall(libc::SYS_rseq, area, size.max(32), 1, RSEQ_SIG) };
}

fn stub_child(memfd: RawFd, layout: &StubLayout, slot: Option<u64>, master: bool) -> ! {
    // SAFETY: raw syscalls in the freshly forked child; none allocates or
    // takes a lock. The final jump goes to the stub page, which the parent
    // mapped before forking and which never returns.
    unsafe {
        unregister_rseq();
        // Out of the caller's session: a terminal's signals (Ctrl-C) go to
        // the Sentry, which decides who in the sandbox gets them.
        libc::setsid();
        // A Sentry that changed credentials (entering its user namespace)
        // is not dumpable, and neither is its fork: then no Sentry thread
        // but the forking one could PTRACE_SEIZE the stub's threads. The
        // stub holds only application memory, so it may be dumpable.
        libc::prctl(libc::PR_SET_DUMPABLE, 1);
        libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // Only the memory file and the scratch memfd stay open.
        let (lo, hi) = if memfd < layout.scratch_fd {
            (memfd as u32, layout.scratch_fd as u32)
        } else {
            (layout.scratch_fd as u32, memfd as u32)
        };
        if lo > 0 {
            libc::syscall(libc::SYS_close_range, 0, lo - 1, 0);
        }
        if hi > lo + 1 {
            libc::syscall(libc::SYS_close_range, lo + 1, hi - 1, 0);
        }
        libc::syscall(libc::SYS_close_range, hi + 1, u32::MAX, 0);
        if let Some(i) = slot {
            // This process's scratch slot, which the application may read
            // but not change.
            libc::syscall(
                libc::SYS_mmap,
                layout.scratch,
                4096u64,
                libc::PROT_READ as u64,
                (libc::MAP_SHARED | libc::MAP_FIXED) as u64,
                layout.scratch_fd as u64,
                i * 4096,
            );
        }
        if master {
            // The master stub outlives no Sentry: it is not always traced,
            // so PTRACE_O_EXITKILL cannot be relied on.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        }
        let [a, b, c] = layout.unmap_ranges();
        std::arch::asm!(
            "jmp {entry}",
            entry = in(reg) layout.entry,
            in("rdi") a.0,
            in("rsi") a.1,
            in("rdx") b.0,
            in("r10") b.1,
            in("r8") c.0,
            in("r9") c.1,
            options(noreturn)
        );
    }
}

/// What a traced thread stopped for.
pub enum Stop {
    /// A PTRACE_SYSEMU / syscall stop.
    Syscall,
    /// A signal-delivery stop for this signal.
    Signal(i32),
    /// A ptrace event stop (PTRACE_EVENT_STOP, group stop ...).
    Event,
    /// The thread exited or was killed.
    Gone,
}

pub fn wait_stop(tid: i32) -> Stop {
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes only to `status`.
        let r = unsafe { libc::waitpid(tid, &mut status, libc::__WALL) };
        if r < 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINTR {
                continue;
            }
            return Stop::Gone;
        }
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            return Stop::Gone;
        }
        if libc::WIFSTOPPED(status) {
            let sig = libc::WSTOPSIG(status);
            if status >> 16 != 0 {
                return Stop::Event;
            }
            if sig == libc::SIGTRAP | 0x80 {
                return Stop::Syscall;
            }
            return Stop::Signal(sig);
        }
    }
}

/// Resumes a stopped tracee with `request` (PTRACE_SYSEMU, PTRACE_CONT),
/// suppressing whatever signal it stopped for.
pub fn resume(tid: i32, request: libc::c_uint) -> Result<()> {
    // SAFETY: resuming a tracee touches no memory of ours.
    let r = unsafe { libc::ptrace(request, tid, 0, 0) };
    if r != 0 {
        return Err(last("ptrace resume"));
    }
    Ok(())
}

pub fn get_regs(tid: i32) -> Result<Regs> {
    // SAFETY: user_regs_struct is plain data; zero is a valid value.
    let mut regs: Regs = unsafe { std::mem::zeroed() };
    // SAFETY: PTRACE_GETREGS writes one user_regs_struct to the pointer.
    let r = unsafe { libc::ptrace(libc::PTRACE_GETREGS, tid, 0, &mut regs as *mut Regs) };
    if r != 0 {
        return Err(last("PTRACE_GETREGS"));
    }
    Ok(regs)
}

pub fn set_regs(tid: i32, regs: &Regs) -> Result<()> {
    // SAFETY: PTRACE_SETREGS reads one user_regs_struct from the pointer.
    let r = unsafe { libc::ptrace(libc::PTRACE_SETREGS, tid, 0, regs as *const Regs) };
    if r != 0 {
        return Err(last("PTRACE_SETREGS"));
    }
    Ok(())
}

/// Sets only rax of a stopped tracee.
pub fn poke_rax(tid: i32, rax: u64) -> Result<()> {
    let off = std::mem::offset_of!(libc::user_regs_struct, rax);
    // SAFETY: PTRACE_POKEUSER writes one word into the tracee's register
    // area at a register offset; no memory of ours is read or written.
    let r = unsafe { libc::ptrace(libc::PTRACE_POKEUSER, tid, off, rax) };
    if r != 0 {
        return Err(last("PTRACE_POKEUSER"));
    }
    Ok(())
}

pub fn get_siginfo(tid: i32) -> Option<libc::siginfo_t> {
    // SAFETY: siginfo_t is plain data; zero is a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: PTRACE_GETSIGINFO writes one siginfo_t to the pointer.
    let r = unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, tid, 0, &mut info as *mut _) };
    (r == 0).then_some(info)
}

const NT_X86_XSTATE: libc::c_int = 0x202;

pub fn get_xstate(tid: i32, len: usize) -> Result<XSave> {
    let mut buf = vec![0u8; len];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: the kernel writes at most iov_len bytes into buf and updates
    // iov_len to the size it wrote.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            tid,
            NT_X86_XSTATE,
            &mut iov as *mut _,
        )
    };
    if r != 0 {
        return Err(last("PTRACE_GETREGSET NT_X86_XSTATE"));
    }
    buf.truncate(iov.iov_len);
    Ok(XSave(buf))
}

pub fn set_xstate(tid: i32, x: &XSave) -> Result<()> {
    let mut iov = libc::iovec {
        iov_base: x.0.as_ptr() as *mut libc::c_void,
        iov_len: x.0.len(),
    };
    // SAFETY: the kernel only reads iov_len bytes from the buffer.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SETREGSET,
            tid,
            NT_X86_XSTATE,
            &mut iov as *mut _,
        )
    };
    if r != 0 {
        return Err(last("PTRACE_SETREGSET NT_X86_XSTATE"));
    }
    Ok(())
}

/// Puts the calling (tracer) thread and the stub thread `tid` on one CPU.
///
/// A ptrace round trip is a handoff between the two threads; on one CPU it
/// is a context switch, across CPUs it is a cross-CPU wake-up, several
/// times slower (see DESIGN.md). Pairs are spread over the CPUs round-robin
/// so tasks still run in parallel.
pub fn pin_pair(tid: i32) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let cpus = crate::cpus::allowed_cpus();
    if cpus.len() < 2 {
        return;
    }
    let cpu = cpus[NEXT.fetch_add(1, Ordering::Relaxed) % cpus.len()];
    crate::cpus::pin(&[0, tid], cpu);
}

/// Puts the calling thread on the CPU where [`pin_pair`] puts the first
/// pair (the sandbox's first task): for a process that answers that
/// task's requests synchronously (the Gofer), so replies are same-CPU
/// wake-ups.
pub fn pin_to_first_pair_cpu() {
    if let Some(&cpu) = crate::cpus::allowed_cpus().first() {
        crate::cpus::pin(&[0], cpu);
    }
}

/// Attaches to a stub thread parked in `pause()` and stops it; with `pin`,
/// puts it and the caller on one CPU ([`pin_pair`]).
pub fn seize_and_stop(tid: i32, pin: bool) -> Result<()> {
    // SAFETY: seizing a thread of our own stub touches no memory of ours.
    let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, tid, 0, OPTIONS) };
    if r != 0 {
        return Err(last("PTRACE_SEIZE"));
    }
    // SAFETY: as above.
    let r = unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, tid, 0, 0) };
    if r != 0 {
        return Err(last("PTRACE_INTERRUPT"));
    }
    loop {
        match wait_stop(tid) {
            Stop::Event => {
                if pin {
                    pin_pair(tid);
                }
                return Ok(());
            }
            Stop::Gone => {
                return Err(PlatformError {
                    op: "stub thread vanished",
                    errno: libc::ESRCH,
                })
            }
            _ => resume(tid, libc::PTRACE_CONT)?,
        }
    }
}

/// Lets a stopped tracee go, untraced, with no signal.
pub fn detach(tid: i32) -> Result<()> {
    // SAFETY: detaching a tracee touches no memory of ours.
    let r = unsafe { libc::ptrace(libc::PTRACE_DETACH, tid, 0, 0) };
    if r != 0 {
        return Err(last("PTRACE_DETACH"));
    }
    Ok(())
}

pub fn kill_process(pid: i32) {
    // SAFETY: kill only sends a signal.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// Waits until a thread we trace is gone (no-op if it already is).
pub fn reap(tid: i32) {
    loop {
        match wait_stop(tid) {
            Stop::Gone => return,
            _ => {
                if resume(tid, libc::PTRACE_CONT).is_err() {
                    return;
                }
            }
        }
    }
}
