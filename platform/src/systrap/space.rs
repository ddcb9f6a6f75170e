//! A systrap address space: one stub process, its syscall thread and its
//! application threads.
//!
//! The stub process is made as the ptrace platform makes one (cloned from
//! the master stub, traced by the calling thread); ptrace then sets it
//! up: the stub code page and the syscall thread's region mapped, the
//! signal handlers installed, no new privileges, every signal blocked in
//! the syscall thread, an eventfd made. The process is then let go,
//! untraced, with its first thread running `syscall_loop`: from then on
//! every memory operation and every new thread is a request to that
//! thread through its control page.
//!
//! A request's result comes back in the syscall thread's message page,
//! which the application can write. The Sentry therefore takes the
//! end of a call only from the eventfd the syscall thread writes after
//! the call (the application cannot make `write`): a forged sequence
//! number makes the Sentry read the eventfd a little early, and wait
//! there. A forged result can only make the Sentry think its own call
//! failed or succeeded, which misleads only the forger's own process.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::region::{
    ctl, msg, Region, BATCH_OFFSET, CODE_OFFSET, MAX_BATCH, REGIONS_SPAN, REGION_SIZE, REQ_BATCH,
    REQ_FORK,
};
use super::{stub, wait};
use crate::ptrace::{self, stub::StubLayout, sys};
use crate::{PlatformError, Result};

/// The host signals whose handler is the stub's: SIGSYS (trapped system
/// calls), the fault signals, and the interrupt signal.
pub const HANDLED: &[i32] = &[
    libc::SIGSYS,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGTRAP,
    super::INTERRUPT_SIGNAL,
];

/// Where the stub's pages are in every stub process.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// The stub code page.
    pub code: u64,
    /// The first region; the application's addresses end here.
    pub regions: u64,
    pub ptrace: StubLayout,
}

impl Layout {
    pub fn new(ptrace: StubLayout) -> Layout {
        let mut top = ptrace.start;
        if let Some(v) = ptrace.vdso {
            top = top.min(v.start);
        }
        let top = top & !(REGION_SIZE - 1);
        let code = top - REGION_SIZE;
        Layout {
            code,
            regions: code - REGIONS_SPAN,
            ptrace,
        }
    }
}

/// The syscall thread's side of the Sentry: its region and the last
/// request number, held while one call runs.
struct Channel {
    region: Region,
    seq: u32,
    /// The CPU the syscall thread was last put on (-1: none yet).
    cpu: i32,
    /// The Sentry's copy of the eventfd the syscall thread writes after
    /// each call.
    done_fd: RawFd,
}

/// One stub process.
pub struct Space {
    pub pid: i32,
    pub memfd: RawFd,
    pub layout: Layout,
    /// Made by cloning the ptrace master stub, so its parent is the
    /// Sentry's long-lived stub-master thread: only such a stub may fork
    /// others (their parent death signal names that thread too).
    pub from_master: bool,
    gone: AtomicBool,
    chan: Mutex<Channel>,
    /// The regions of the application threads, to wake their Sentry
    /// threads when the process is destroyed; a region goes back to the
    /// pool only after the process is dead or its mapping was removed.
    threads: Mutex<Vec<Arc<Region>>>,
}

impl std::fmt::Debug for Space {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Space").field("pid", &self.pid).finish()
    }
}

fn failed(op: &'static str, r: i64) -> Result<i64> {
    if (-4095..0).contains(&r) {
        return Err(PlatformError {
            op,
            errno: -r as i32,
        });
    }
    Ok(r)
}

fn last(op: &'static str) -> PlatformError {
    PlatformError {
        op,
        errno: nix::errno::Errno::last_raw(),
    }
}

/// asm/signal.h: sa_restorer is set (libc has no name for it here).
const SA_RESTORER: i32 = 0x0400_0000;

/// The kernel's struct sigaction on x86-64.
#[repr(C)]
struct KernelSigaction {
    handler: u64,
    flags: u64,
    restorer: u64,
    mask: u64,
}

impl Space {
    /// Makes and sets up a stub process; the calling thread traces it
    /// until it is let go.
    pub fn create(memfd: RawFd) -> Result<Arc<Space>> {
        let fd = super::region::fd()?;
        let cpus = super::sandbox_cpus();
        let (pid, from_master, ptrace_layout) = ptrace::new_stub_process(memfd)?;
        let layout = Layout::new(ptrace_layout);
        let made = Self::set_up(pid, from_master, fd, &layout);
        // The stub pairing pinned the caller: a systrap Sentry thread
        // runs wherever it likes (it spins beside its stub, not on its CPU).
        restore_affinity(cpus, pid);
        let (region, done_fd) = match made {
            Ok(x) => x,
            Err(e) => {
                sys::kill_process(pid);
                sys::reap(pid);
                return Err(e);
            }
        };
        Ok(Arc::new(Space {
            pid,
            memfd,
            layout,
            from_master,
            gone: AtomicBool::new(false),
            chan: Mutex::new(Channel {
                region,
                seq: 0,
                cpu: -1,
                done_fd,
            }),
            threads: Mutex::new(Vec::new()),
        }))
    }

    /// A new stub process forked by this one's syscall thread (this is
    /// the platform's master stub, made by [`Space::create`] and never
    /// given application threads): one request here and the child's own
    /// half-dozen calls, where [`Space::create`] stops the new process
    /// under ptrace for each of its set-up calls.
    pub fn fork(&self) -> Result<Arc<Space>> {
        let fd = super::region::fd()?;
        let region = Region::take()?;
        // The child answers request 1 (its eventfd's number) first.
        region.ctl32(ctl::REPLY).store(1, Ordering::Relaxed);
        region.write_ctl(ctl::ONE, &1u64.to_le_bytes());
        let at = region.stub_addr(self.layout.regions);
        let off = region.file_offset();
        let pid = self.call(
            "systrap: fork a stub from the master stub",
            REQ_FORK as i64,
            [at, off, fd as u64, 0, 0, 0],
        )? as i32;
        // From here dropping `child` kills and reaps the process.
        let mut child = Space {
            pid,
            memfd: self.memfd,
            layout: self.layout,
            from_master: false,
            gone: AtomicBool::new(false),
            chan: Mutex::new(Channel {
                region,
                seq: 1,
                cpu: -1,
                done_fd: -1,
            }),
            threads: Mutex::new(Vec::new()),
        };
        let ch = child.chan.get_mut().unwrap_or_else(|e| e.into_inner());
        let r = &ch.region;
        let died = || Space::died_pid(pid);
        wait::until_changed(r.msg32(msg::SEQ), 0, r.ctl32(ctl::SENTRY_WAITING), died).ok_or(
            PlatformError {
                op: "systrap: a forked stub died in its set-up",
                errno: libc::ESRCH,
            },
        )?;
        // No application code has run in the child yet: its message page
        // still holds only what its syscall thread wrote.
        let efd = failed(
            "systrap: a forked stub's eventfd",
            r.msg64(msg::RET).load(Ordering::Acquire) as i64,
        )?;
        r.ctl64(ctl::DONE_FD).store(efd as u64, Ordering::Relaxed);
        ch.done_fd = take_fd(pid, efd as i32)?;
        Ok(Arc::new(child))
    }

    fn set_up(pid: i32, from_master: bool, fd: RawFd, l: &Layout) -> Result<(Region, RawFd)> {
        let inject = |op: &'static str, nr: i64, args: [u64; 6]| {
            failed(op, ptrace::stub_syscall(pid, pid, &l.ptrace, nr, args)?)
        };
        let region = Region::take()?;
        let at = region.stub_addr(l.regions);
        let code = stub::code();
        let action = KernelSigaction {
            handler: l.code + code.handler,
            flags: (libc::SA_SIGINFO | libc::SA_ONSTACK | SA_RESTORER) as u64,
            // Never used: the handler leaves by rt_sigreturn or exit.
            restorer: l.code + code.first_event,
            mask: u64::MAX,
        };
        // SAFETY: KernelSigaction is plain data of 4 words.
        let bytes: [u8; 32] = unsafe { std::mem::transmute(action) };
        region.write_ctl(ctl::SIGACTION, &bytes);
        region.write_ctl(ctl::FULL_SET, &u64::MAX.to_le_bytes());
        let shared = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let rx = (libc::PROT_READ | libc::PROT_EXEC) as u64;
        let ro = libc::PROT_READ as u64;
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        let fd = fd as u64;
        let off = region.file_offset();
        inject(
            "systrap: map the stub code",
            libc::SYS_mmap,
            [l.code, 4096, rx, shared, fd, CODE_OFFSET],
        )?;
        inject(
            "systrap: map a control page",
            libc::SYS_mmap,
            [at, 4096, ro, shared, fd, off],
        )?;
        inject(
            "systrap: map a message page",
            libc::SYS_mmap,
            [at + 4096, 4096, rw, shared, fd, off + 4096],
        )?;
        inject(
            "systrap: map a batch list",
            libc::SYS_mmap,
            [
                at + BATCH_OFFSET,
                REGION_SIZE - BATCH_OFFSET,
                ro,
                shared,
                fd,
                off + BATCH_OFFSET,
            ],
        )?;
        // Before the handlers: each injected call ends in the ptrace
        // stub's int3, and a SIGTRAP forced while blocked resets its
        // handler (the kernel unblocks it again, so later calls are fine).
        inject(
            "systrap: block signals in the syscall thread",
            libc::SYS_rt_sigprocmask,
            [
                libc::SIG_SETMASK as u64,
                at + ctl::FULL_SET as u64,
                0,
                8,
                0,
                0,
            ],
        )?;
        for &sig in HANDLED {
            inject(
                "systrap: install a signal handler",
                libc::SYS_rt_sigaction,
                [sig as u64, at + ctl::SIGACTION as u64, 0, 8, 0, 0],
            )?;
        }
        inject(
            "systrap: no new privileges (for the threads' filters)",
            libc::SYS_prctl,
            [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0],
        )?;
        if from_master {
            // Its parent is the master's, a Sentry thread as long-lived
            // as the Sentry.
            inject(
                "systrap: die with the Sentry",
                libc::SYS_prctl,
                [
                    libc::PR_SET_PDEATHSIG as u64,
                    libc::SIGKILL as u64,
                    0,
                    0,
                    0,
                    0,
                ],
            )?;
        }
        let efd = inject(
            "systrap: the syscall thread's eventfd",
            libc::SYS_eventfd2,
            [0, 0, 0, 0, 0, 0],
        )?;
        region
            .ctl64(ctl::DONE_FD)
            .store(efd as u64, Ordering::Relaxed);
        region.write_ctl(ctl::ONE, &1u64.to_le_bytes());
        let done_fd = take_fd(pid, efd as i32)?;
        let mut regs = sys::get_regs(pid)?;
        regs.rip = l.code + code.syscall_loop;
        regs.r12 = at;
        regs.r13 = at + 4096;
        regs.r14 = 0;
        regs.orig_rax = u64::MAX;
        sys::set_regs(pid, &regs)?;
        sys::detach(pid)?;
        Ok((region, done_fd))
    }

    pub fn gone(&self) -> bool {
        self.gone.load(Ordering::Relaxed)
    }

    /// Whether the stub process has died (without the Sentry killing it).
    pub fn died(&self) -> bool {
        self.gone() || Self::died_pid(self.pid)
    }

    fn died_pid(pid: i32) -> bool {
        // SAFETY: siginfo_t is plain data; waitid writes it.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid with WNOHANG | WNOWAIT only reports; it reaps
        // nothing.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT | libc::__WALL,
            )
        };
        // SAFETY: si_pid is valid to read after waitid filled the struct.
        r != 0 || unsafe { info.si_pid() } != 0
    }

    /// Runs host syscall `nr` in the syscall thread and returns its
    /// result (as the stub reports it: see the module comment).
    pub fn call(&self, op: &'static str, nr: i64, args: [u64; 6]) -> Result<i64> {
        let mut ch = self.chan.lock().unwrap_or_else(|e| e.into_inner());
        self.call_locked(&mut ch, op, nr, args)
    }

    /// Runs `calls` in the syscall thread in order, in one round trip,
    /// up to the first failure, which is the result.
    pub fn batch(&self, op: &'static str, calls: &[(i64, [u64; 6])]) -> Result<()> {
        let mut ch = self.chan.lock().unwrap_or_else(|e| e.into_inner());
        for part in calls.chunks(MAX_BATCH) {
            // The list is read-only in the stub; the lock keeps it ours
            // until the call is done.
            ch.region.write_batch(part);
            let n = part.len() as u64;
            self.call_locked(&mut ch, op, REQ_BATCH as i64, [n, 0, 0, 0, 0, 0])?;
        }
        Ok(())
    }

    fn call_locked(
        &self,
        ch: &mut Channel,
        op: &'static str,
        nr: i64,
        args: [u64; 6],
    ) -> Result<i64> {
        let gone = || PlatformError {
            op,
            errno: libc::ESRCH,
        };
        if self.gone() {
            return Err(gone());
        }
        // The syscall thread goes to the caller's CPU and the caller
        // sleeps: the request and its answer are two switches on one
        // CPU. Left where it slept, the thread would be woken across
        // CPUs, which costs 50 to 300 us on these (virtual) machines,
        // ten times the switches (the ptrace platform pairs tracer and
        // stub the same way).
        // SAFETY: sched_getcpu takes no arguments.
        let cpu = unsafe { libc::sched_getcpu() };
        if cpu >= 0 && cpu != ch.cpu {
            ch.cpu = cpu;
            crate::cpus::pin(&[self.pid], cpu as usize);
        }
        let r = &ch.region;
        for (i, a) in args.iter().enumerate() {
            r.ctl64(ctl::ARGS + 8 * i).store(*a, Ordering::Relaxed);
        }
        r.ctl64(ctl::NR).store(nr as u64, Ordering::Relaxed);
        let old = r.msg32(msg::SEQ).load(Ordering::Relaxed);
        ch.seq = ch.seq.wrapping_add(1);
        let r = &ch.region;
        r.ctl32(ctl::REPLY).store(ch.seq, Ordering::SeqCst);
        if r.msg32(msg::STUB_WAITING).load(Ordering::SeqCst) != 0 {
            wait::wake(r.ctl32(ctl::REPLY));
        }
        let seq_word = r.msg32(msg::SEQ);
        let waiting = r.ctl32(ctl::SENTRY_WAITING);
        wait::until_changed_spin(seq_word, old, waiting, false, || self.died()).ok_or_else(gone)?;
        if !done(ch.done_fd, || self.died()) {
            return Err(gone());
        }
        failed(op, r.msg64(msg::RET).load(Ordering::Relaxed) as i64)
    }

    /// A new application thread: its region mapped, cloned by the syscall
    /// thread; returns its tid and region. The thread raises its first
    /// event (a `ud2` at `stub::first_event`) once its filter is on.
    pub fn new_thread(&self) -> Result<(i32, Arc<Region>)> {
        let region = Region::take()?;
        let at = region.stub_addr(self.layout.regions);
        let fd = super::region::fd()? as u64;
        let off = region.file_offset();
        // The thread's alternate stack, filter and empty signal set, in
        // its control page, before the stub can see the page.
        let ss_size = REGION_SIZE - super::region::ALTSTACK_OFFSET;
        let mut ss = Vec::new();
        ss.extend_from_slice(&(at + super::region::ALTSTACK_OFFSET).to_le_bytes());
        ss.extend_from_slice(&0u64.to_le_bytes());
        ss.extend_from_slice(&ss_size.to_le_bytes());
        region.write_ctl(ctl::ALTSTACK, &ss);
        // What the patched-call trampoline blocks.
        region.write_ctl(ctl::FULL_SET, &u64::MAX.to_le_bytes());
        let prog = super::filter::program(self.layout.code, 4096);
        let mut code = Vec::new();
        for i in &prog {
            code.extend_from_slice(&i.code.to_le_bytes());
            code.push(i.jt);
            code.push(i.jf);
            code.extend_from_slice(&i.k.to_le_bytes());
        }
        assert!(ctl::FILTER + code.len() <= ctl::FILTER_END);
        region.write_ctl(ctl::FILTER, &code);
        let mut fprog = Vec::new();
        fprog.extend_from_slice(&(prog.len() as u64).to_le_bytes());
        fprog.extend_from_slice(&(at + ctl::FILTER as u64).to_le_bytes());
        region.write_ctl(ctl::FPROG, &fprog);
        let shared = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let ro = libc::PROT_READ as u64;
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u64;
        self.batch(
            "systrap: map a thread's region",
            &[
                (libc::SYS_mmap, [at, 4096, ro, shared, fd, off]),
                (
                    libc::SYS_mmap,
                    [at + 4096, REGION_SIZE - 4096, rw, shared, fd, off + 4096],
                ),
            ],
        )?;
        let flags = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM
            | libc::CLONE_CHILD_SETTID
            | libc::CLONE_CHILD_CLEARTID) as u64;
        let tid_word = at + 4096 + msg::TID as u64;
        // clone(flags, stack, parent_tid, child_tid, tls), and r9: the
        // child's control page, where `thread_start` finds it.
        let tid = self.call(
            "systrap: clone a thread",
            libc::SYS_clone,
            [flags, 0, 0, tid_word, 0, at],
        )?;
        let region = Arc::new(region);
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(region.clone());
        Ok((tid as i32, region))
    }

    /// A thread that ended: its region leaves the stub and the pool gets
    /// it back once the caller drops its handle.
    pub fn forget_thread(&self, region: &Arc<Region>) {
        let at = region.stub_addr(self.layout.regions);
        let unmapped = self
            .call(
                "systrap: unmap a thread's region",
                libc::SYS_munmap,
                [at, REGION_SIZE, 0, 0, 0, 0],
            )
            .is_ok();
        if unmapped {
            self.threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|r| !Arc::ptr_eq(r, region));
        }
    }

    /// Kills the stub process and wakes every Sentry thread waiting on
    /// one of its threads.
    pub fn destroy(&self) {
        self.gone.store(true, Ordering::SeqCst);
        sys::kill_process(self.pid);
        for r in self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            wait::wake(r.msg32(msg::SEQ));
        }
        let ch = self.chan.lock().unwrap_or_else(|e| e.into_inner());
        wait::wake(ch.region.msg32(msg::SEQ));
    }
}

impl Drop for Space {
    fn drop(&mut self) {
        // The regions go back to the pool only when no stub maps them.
        self.gone.store(true, Ordering::SeqCst);
        sys::kill_process(self.pid);
        let mut status = 0;
        // SAFETY: waitpid writes only `status`; the stub is our child
        // (or a child of another thread of ours).
        unsafe { libc::waitpid(self.pid, &mut status, libc::__WALL) };
        let ch = self.chan.get_mut().unwrap_or_else(|e| e.into_inner());
        // SAFETY: closing our own copy of the eventfd.
        unsafe { libc::close(ch.done_fd) };
    }
}

/// Reads the eventfd the syscall thread writes after each call: the
/// unforgeable end of a call. False when the stub died first.
fn done(fd: RawFd, dead: impl Fn() -> bool) -> bool {
    loop {
        let mut v = 0u64;
        // SAFETY: read writes at most 8 bytes into v.
        let r = unsafe { libc::read(fd, &mut v as *mut u64 as *mut libc::c_void, 8) };
        if r == 8 {
            return true;
        }
        if dead() {
            return false;
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = wait::CHECK.as_millis() as i32;
        // SAFETY: poll reads and writes the one pollfd on our stack.
        unsafe { libc::poll(&mut p, 1, ms) };
    }
}

/// The Sentry's own descriptor for descriptor `fd` of process `pid`.
fn take_fd(pid: i32, fd: i32) -> Result<RawFd> {
    // SAFETY: pidfd_open takes no pointers.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    if pidfd < 0 {
        return Err(last("pidfd_open stub"));
    }
    // SAFETY: pidfd_getfd takes no pointers; we trace the stub.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, fd, 0) } as i32;
    let e = last("pidfd_getfd stub eventfd");
    // SAFETY: closing the pidfd just opened.
    unsafe { libc::close(pidfd) };
    if r < 0 {
        return Err(e);
    }
    // Non-blocking: `done` polls with a timeout.
    // SAFETY: fcntl on our own new descriptor.
    unsafe { libc::fcntl(r, libc::F_SETFL, libc::O_NONBLOCK) };
    Ok(r)
}

/// Puts the calling thread and stub `pid` back on every CPU in `cpus`.
pub(super) fn restore_affinity(cpus: &[usize], pid: i32) {
    if cpus.is_empty() {
        return;
    }
    // SAFETY: cpu_set_t is plain data.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: c came from a set, so it is below CPU_SETSIZE.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    let size = std::mem::size_of::<libc::cpu_set_t>();
    for tid in [0, pid] {
        // SAFETY: sched_setaffinity reads `size` bytes of the set.
        unsafe { libc::sched_setaffinity(tid, size, &set) };
    }
}
