//! The ptrace platform: application threads are threads of stub processes
//! traced by Sentry threads with PTRACE_SYSEMU, so every application system
//! call stops before the host runs it.
//!
//! One stub process per address space; each application thread is one stub
//! thread, traced by the Sentry thread serving that task. Memory is changed by
//! making a stub thread run mmap/munmap/mprotect at the stub's syscall trap.

pub(crate) mod stub;
pub(crate) mod sys;

use std::cell::RefCell;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::regs::xsave_size;
use crate::{
    AddressSpace, Context, Event, Interrupt, Interrupter, PendingContext, Platform, PlatformError,
    Prot, Regs, Result, Vdso, XSave,
};

pub use stub::USER_TOP;
pub use sys::pin_to_first_pair_cpu;

/// Prepares the platform while the host filesystem is still visible (the
/// stub layout records where the kernel's vDSO is, from /proc/self/maps).
pub fn prepare() -> Result<()> {
    stub::layout().map(|_| ())
}

/// The memfd stubs map their scratch slot of, once [`prepare`] has made
/// it: the Sentry's seccomp filter names it.
pub fn scratch_fd() -> Option<RawFd> {
    stub::made().map(|l| l.scratch_fd)
}

/// The host signal that interrupts a running stub thread. Stubs never have
/// child processes, so the kernel itself never sends them SIGCHLD; a traced
/// thread stops for it even though its default action is to ignore it.
pub const INTERRUPT_SIGNAL: i32 = libc::SIGCHLD;

/// A stub thread, to interrupt or to kill with its whole stub process.
#[derive(Debug)]
struct StubThread {
    pid: i32,
    tid: i32,
}

impl Interrupt for StubThread {
    fn interrupt(&self) {
        // SAFETY: tgkill only sends a signal; a stale tid fails harmlessly
        // with ESRCH because the tid is checked against the thread group.
        unsafe {
            libc::syscall(libc::SYS_tgkill, self.pid, self.tid, INTERRUPT_SIGNAL);
        }
    }

    fn destroy_address_space(&self) {
        sys::kill_process(self.pid);
    }
}

/// What a context shares with the address-space handle of its thread.
#[derive(Debug, Default)]
struct TraceeState {
    gone: AtomicBool,
    /// An injected call changed the thread's registers behind the
    /// context's back: its cached copy must not be trusted.
    regs_stale: AtomicBool,
}

/// A stub process's scratch slot (see `stub.rs`), back to the pool when
/// the last of its contexts and handles goes.
#[derive(Debug)]
struct Slot {
    index: u64,
    /// Held while the calls of one batch are listed and run: threads of
    /// one process share its scratch page.
    lock: Mutex<()>,
    /// The page was not there when a batch ran (the stub could not move
    /// it): calls go one by one.
    broken: AtomicBool,
}

/// Free scratch slots, and the next never used.
static SLOTS: Mutex<(Vec<u64>, u64)> = Mutex::new((Vec::new(), 0));

impl Slot {
    fn take() -> Option<Arc<Slot>> {
        let mut s = SLOTS.lock().unwrap();
        let index = match s.0.pop() {
            Some(i) => i,
            None if s.1 < stub::SLOTS => {
                s.1 += 1;
                s.1 - 1
            }
            None => return None,
        };
        Some(Arc::new(Slot {
            index,
            lock: Mutex::new(()),
            broken: AtomicBool::new(false),
        }))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Ok(mut s) = SLOTS.lock() {
            s.0.push(self.index);
        }
    }
}

/// A stub thread the calling Sentry thread traces.
#[derive(Clone)]
struct Tracee {
    pid: i32,
    tid: i32,
    layout: stub::StubLayout,
    state: Arc<TraceeState>,
    slot: Option<Arc<Slot>>,
}

thread_local! {
    /// The stub threads this Sentry thread traces (one per task it runs;
    /// two while an execve builds the new image). Only the tracer may make
    /// a stub thread run a call, so an [`AddressSpace`] operation runs in
    /// the calling thread's own stub thread of that address space: stopped,
    /// since the Sentry thread is not inside `switch`.
    static TRACEES: RefCell<Vec<Tracee>> = const { RefCell::new(Vec::new()) };
}

fn register(t: &Tracee) {
    TRACEES.with(|l| {
        let mut l = l.borrow_mut();
        if !l.iter().any(|x| x.tid == t.tid) {
            l.push(t.clone());
        }
    });
}

fn unregister(tid: i32) {
    let _ = TRACEES.try_with(|l| l.borrow_mut().retain(|x| x.tid != tid));
}

/// The memory operations of one stub process, made from any Sentry thread
/// that traces one of its threads.
#[derive(Debug)]
struct PtraceAddressSpace {
    pid: i32,
    memfd: RawFd,
}

fn failed(op: &'static str, r: i64) -> Result<()> {
    if (-4095..0).contains(&r) {
        return Err(PlatformError {
            op,
            errno: -r as i32,
        });
    }
    Ok(())
}

impl PtraceAddressSpace {
    fn tracee(&self) -> Result<Tracee> {
        let t = TRACEES.with(|l| {
            l.borrow()
                .iter()
                .find(|t| t.pid == self.pid && !t.state.gone.load(Ordering::Relaxed))
                .cloned()
        });
        t.ok_or(PlatformError {
            op: "address space not traced by this thread",
            errno: libc::ESRCH,
        })
    }

    fn run(&self, op: &'static str, nr: i64, args: [u64; 6]) -> Result<()> {
        let t = self.tracee()?;
        failed(op, inject(&t, t.layout.syscall_trap, nr, args)?)
    }

    /// Runs `calls` in order, stopping at the first failure: in batches
    /// through the scratch page, one stop per batch, or one by one.
    fn run_all(&self, op: &'static str, calls: &[(i64, [u64; 6])]) -> Result<()> {
        let t = self.tracee()?;
        let slot = t
            .slot
            .clone()
            .filter(|s| !s.broken.load(Ordering::Relaxed) && calls.len() > 1);
        let Some(slot) = slot else {
            for &(nr, args) in calls {
                failed(op, inject(&t, t.layout.syscall_trap, nr, args)?)?;
            }
            return Ok(());
        };
        let _held = slot.lock.lock().unwrap_or_else(|e| e.into_inner());
        let page = (t.layout.slots + slot.index * 4096) as *mut u64;
        for batch in calls.chunks(4096 / (stub::RECORD_WORDS * 8)) {
            for (i, (nr, args)) in batch.iter().enumerate() {
                let rec = i * stub::RECORD_WORDS;
                // SAFETY: `page` is this process's slot, a page of the
                // shared scratch region mapped read-write in the Sentry for
                // its lifetime; a batch holds at most 4096 / 64 records of
                // 8 words, so every index lies inside the page. Only the
                // holder of `slot.lock` writes it.
                unsafe {
                    page.add(rec).write_volatile(*nr as u64);
                    for (j, a) in args.iter().enumerate() {
                        page.add(rec + 1 + j).write_volatile(*a);
                    }
                }
            }
            let args = [t.layout.scratch, batch.len() as u64, 0, 0, 0, 0];
            match inject(&t, t.layout.batch_trap, 0, args) {
                Ok(r) => failed(op, r)?,
                Err(e) if e.op == FAULT_OP => {
                    // No scratch page in this stub: never batch again.
                    slot.broken.store(true, Ordering::Relaxed);
                    for &(nr, args) in batch {
                        failed(op, inject(&t, t.layout.syscall_trap, nr, args)?)?;
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// What [`inject`] reports when the stub faulted running a call.
const FAULT_OP: &str = "stub syscall: fault";

impl AddressSpace for PtraceAddressSpace {
    fn map(&self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        self.run(
            "stub mmap",
            libc::SYS_mmap,
            [addr, len, prot as u64, flags, self.memfd as u64, offset],
        )
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        self.run("stub munmap", libc::SYS_munmap, [addr, len, 0, 0, 0, 0])
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        self.run(
            "stub mprotect",
            libc::SYS_mprotect,
            [addr, len, prot as u64, 0, 0, 0],
        )
    }

    fn protect_ranges(&self, ranges: &[(u64, u64, Prot)]) -> Result<()> {
        let calls: Vec<(i64, [u64; 6])> = ranges
            .iter()
            .map(|&(a, l, p)| (libc::SYS_mprotect, [a, l, p as u64, 0, 0, 0]))
            .collect();
        self.run_all("stub mprotect", &calls)
    }

    fn map_ranges(&self, ranges: &[(u64, u64, Prot, u64)]) -> Result<()> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let calls: Vec<(i64, [u64; 6])> = ranges
            .iter()
            .map(|&(a, l, p, o)| {
                let args = [a, l, p as u64, flags, self.memfd as u64, o];
                (libc::SYS_mmap, args)
            })
            .collect();
        self.run_all("stub mmap", &calls)
    }

    fn destroy(&self) {
        sys::kill_process(self.pid);
    }
}

/// Runs one host syscall in the stopped stub thread `t` and returns its raw
/// result.
fn inject(t: &Tracee, trap: u64, nr: i64, args: [u64; 6]) -> Result<i64> {
    if t.state.gone.load(Ordering::Relaxed) {
        return Err(PlatformError {
            op: "stub syscall",
            errno: libc::ESRCH,
        });
    }
    t.state.regs_stale.store(true, Ordering::Relaxed);
    let mut regs = sys::get_regs(t.tid)?;
    regs.rax = nr as u64;
    regs.orig_rax = u64::MAX;
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    regs.r10 = args[3];
    regs.r8 = args[4];
    regs.r9 = args[5];
    regs.rip = trap;
    sys::set_regs(t.tid, &regs)?;
    let mut interrupted = false;
    loop {
        sys::resume(t.tid, libc::PTRACE_CONT)?;
        match sys::wait_stop(t.tid) {
            sys::Stop::Signal(libc::SIGTRAP) => break,
            // An interrupt raced with the injected call: the stub is
            // still mid-call, so let it go on; the interrupt is
            // re-raised to the next switch.
            sys::Stop::Signal(INTERRUPT_SIGNAL) => {
                interrupted = true;
                continue;
            }
            sys::Stop::Event => continue,
            // The injected call itself faulted: the stub is unusable.
            sys::Stop::Signal(
                sig @ (libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE),
            ) => {
                tracing::warn!("stub syscall {nr} at {trap:#x}: signal {sig}");
                return Err(PlatformError {
                    op: FAULT_OP,
                    errno: sig,
                });
            }
            // The Sentry's seccomp filter refused the call: it did not
            // run, and rax would read as success.
            sys::Stop::Signal(libc::SIGSYS) => {
                tracing::error!("stub syscall {nr} at {trap:#x}: refused by seccomp");
                return Err(PlatformError {
                    op: "stub syscall: refused by seccomp",
                    errno: libc::EPERM,
                });
            }
            // Any other signal (one sent from outside) is suppressed.
            sys::Stop::Signal(_) => continue,
            sys::Stop::Syscall => continue,
            sys::Stop::Gone => {
                t.state.gone.store(true, Ordering::Relaxed);
                return Err(PlatformError {
                    op: "stub syscall",
                    errno: libc::ESRCH,
                });
            }
        }
    }
    let regs = sys::get_regs(t.tid)?;
    if interrupted {
        // Re-raised so the next switch reports it.
        StubThread {
            pid: t.pid,
            tid: t.tid,
        }
        .interrupt();
    }
    Ok(regs.rax as i64)
}

/// Maps scratch slot `index` read-only at the scratch address of the stub
/// `pid`, which the calling thread traces.
fn map_scratch(pid: i32, layout: &stub::StubLayout, index: u64) -> Result<()> {
    let t = Tracee {
        pid,
        tid: pid,
        layout: *layout,
        state: Arc::default(),
        slot: None,
    };
    let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
    let args = [
        layout.scratch,
        4096,
        libc::PROT_READ as u64,
        flags,
        layout.scratch_fd as u64,
        index * 4096,
    ];
    failed(
        "stub mmap scratch",
        inject(&t, layout.syscall_trap, libc::SYS_mmap, args)?,
    )
}

/// The master stub: a pristine stub process (the stub page, no
/// application memory) that new stub processes are cloned from. Forking
/// the Sentry, as [`sys::fork_stub`] does, copies the page tables of a big
/// process and then tears them down again in the child; cloning a process
/// of three mappings costs a fraction of that, and fork pays it on every
/// call. Between uses the master waits in `pause()`, untraced; a Sentry
/// thread that needs a stub seizes it, makes it clone, and lets it go.
mod master {
    use std::sync::{Arc, Mutex, OnceLock};

    use super::{inject, stub, sys, Tracee};

    /// The master's pid, held while one thread uses it; None when it
    /// could not be made (then stubs are forked from the Sentry).
    static MASTER: OnceLock<Option<Mutex<i32>>> = OnceLock::new();

    type Made = std::sync::mpsc::Receiver<Result<i32, crate::PlatformError>>;

    /// The master being made by [`start`], not yet waited for.
    static STARTED: Mutex<Option<Made>> = Mutex::new(None);

    /// Starts making the master while the Sentry boots, so the first
    /// address space does not wait for it.
    pub(super) fn start(memfd: i32, layout: stub::StubLayout) {
        if MASTER.get().is_some() {
            return;
        }
        let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
        if started.is_none() {
            *started = spawn(memfd, layout);
        }
    }

    /// Makes the master from a thread of its own that lives as long as
    /// the Sentry: the master's parent-death signal follows its parent
    /// thread.
    fn spawn(memfd: i32, layout: stub::StubLayout) -> Option<Made> {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("stub-master".into())
            .stack_size(64 << 10)
            .spawn(move || {
                let made = (|| {
                    let pid = sys::fork_stub(memfd, &layout, None, true)?;
                    let mut regs = sys::get_regs(pid)?;
                    regs.rip = layout.park;
                    regs.orig_rax = u64::MAX;
                    sys::set_regs(pid, &regs)?;
                    sys::detach(pid)?;
                    Ok::<i32, crate::PlatformError>(pid)
                })();
                let _ = tx.send(made);
                loop {
                    std::thread::park();
                }
            });
        spawned.ok().map(|_| rx)
    }

    fn wait(made: Option<Made>) -> Option<Mutex<i32>> {
        match made?.recv() {
            Ok(Ok(pid)) => Some(Mutex::new(pid)),
            Ok(Err(e)) => {
                tracing::warn!("ptrace: no master stub ({e}); stubs fork from the Sentry");
                None
            }
            Err(_) => None,
        }
    }

    /// A new stub process cloned from the master, parked in `pause()`,
    /// seized and stopped by the calling thread (its tracer from now on);
    /// None when the master cannot serve.
    pub(super) fn clone_stub(memfd: i32, layout: &stub::StubLayout, pin: bool) -> Option<i32> {
        let master = MASTER
            .get_or_init(|| {
                let started = STARTED.lock().unwrap_or_else(|e| e.into_inner()).take();
                wait(started.or_else(|| spawn(memfd, *layout)))
            })
            .as_ref()?;
        let pid = {
            let held = master.lock().unwrap_or_else(|e| e.into_inner());
            let m = *held;
            // On the caller's CPU: each stop of the master is then a
            // switch, not a cross-CPU wake-up (see `sys::pin_pair`).
            // SAFETY: sched_getcpu only reads the current CPU number.
            let cpu = unsafe { libc::sched_getcpu() };
            if cpu >= 0 {
                crate::cpus::pin(&[m], cpu as usize);
            }
            sys::seize_and_stop(m, false).ok()?;
            let t = Tracee {
                pid: m,
                tid: m,
                layout: *layout,
                state: Arc::default(),
                slot: None,
            };
            // The child parks in pause() (the trap's child branch); its
            // parent is the master's, a Sentry thread, as for a fork of
            // the Sentry; it is not traced until seized below.
            let flags = (libc::CLONE_PARENT | libc::CLONE_UNTRACED | libc::SIGCHLD) as u64;
            let r = inject(
                &t,
                layout.clone_trap,
                libc::SYS_clone,
                [flags, 0, 0, 0, 0, 0],
            );
            // Back to its pause() loop, untraced, whatever happened.
            let back = sys::get_regs(m).and_then(|mut regs| {
                regs.rip = layout.park;
                regs.orig_rax = u64::MAX;
                sys::set_regs(m, &regs)?;
                sys::detach(m)
            });
            if let Err(e) = back {
                tracing::warn!("ptrace: master stub lost ({e})");
            }
            match r {
                Ok(pid) if pid > 0 => pid as i32,
                _ => return None,
            }
        };
        if sys::seize_and_stop(pid, pin).is_err() {
            sys::kill_process(pid);
            return None;
        }
        Some(pid)
    }
}

/// A new stub process for the systrap platform: cloned from the master
/// (started on first use) or forked from the Sentry, stopped and traced
/// by the calling thread, with no scratch slot and no CPU pinning.
/// Also says whether it came from the master (its parent is then a
/// Sentry thread that lives as long as the Sentry).
pub(crate) fn new_stub_process(memfd: RawFd) -> Result<(i32, bool, stub::StubLayout)> {
    let layout = stub::layout()?;
    master::start(memfd, layout);
    let made = match master::clone_stub(memfd, &layout, false) {
        Some(pid) => (pid, true),
        None => (sys::fork_stub(memfd, &layout, None, false)?, false),
    };
    Ok((made.0, made.1, layout))
}

/// Runs host syscall `nr` in the stopped stub thread `tid` of `pid`,
/// which the calling thread traces, and returns its raw result.
pub(crate) fn stub_syscall(
    pid: i32,
    tid: i32,
    layout: &stub::StubLayout,
    nr: i64,
    args: [u64; 6],
) -> Result<i64> {
    let t = Tracee {
        pid,
        tid,
        layout: *layout,
        state: Arc::default(),
        slot: None,
    };
    inject(&t, layout.syscall_trap, nr, args)
}

/// The ptrace platform over one memory file.
pub struct PtracePlatform {
    memfd: RawFd,
    layout: stub::StubLayout,
}

impl PtracePlatform {
    /// `memfd` is the memory file; it must stay open at the same number for
    /// the platform's lifetime (stubs inherit it by number).
    pub fn new(memfd: RawFd) -> Result<PtracePlatform> {
        let layout = stub::layout()?;
        master::start(memfd, layout);
        Ok(PtracePlatform { memfd, layout })
    }
}

impl Platform for PtracePlatform {
    fn new_address_space(&self) -> Result<Box<dyn Context>> {
        let mut slot = Slot::take();
        let pid = match master::clone_stub(self.memfd, &self.layout, true) {
            Some(pid) => {
                if let Some(s) = &slot {
                    if map_scratch(pid, &self.layout, s.index).is_err() {
                        slot = None;
                    }
                }
                pid
            }
            None => sys::fork_stub(
                self.memfd,
                &self.layout,
                slot.as_ref().map(|s| s.index),
                false,
            )?,
        };
        let ctx = PtraceContext::new(pid, pid, self.memfd, self.layout, xsave_size(), slot);
        Ok(Box::new(ctx))
    }

    fn max_user_address(&self) -> u64 {
        self.layout.start
    }

    fn vdso(&self) -> Option<Vdso> {
        self.layout.vdso
    }
}

/// One stub thread, traced by the OS thread that owns this value.
pub struct PtraceContext {
    pid: i32,
    tid: i32,
    memfd: RawFd,
    layout: stub::StubLayout,
    xsave_len: usize,
    state: Arc<TraceeState>,
    slot: Option<Arc<Slot>>,
    /// The registers the kernel holds for the stopped thread, as the last
    /// `switch` read them; `None` once anything else may have changed them
    /// (an injected call).
    known: Option<Regs>,
}

impl PtraceContext {
    fn new(
        pid: i32,
        tid: i32,
        memfd: RawFd,
        layout: stub::StubLayout,
        xsave_len: usize,
        slot: Option<Arc<Slot>>,
    ) -> PtraceContext {
        let ctx = PtraceContext {
            pid,
            tid,
            memfd,
            layout,
            xsave_len,
            state: Arc::default(),
            slot,
            known: None,
        };
        register(&ctx.tracee());
        ctx
    }

    fn tracee(&self) -> Tracee {
        Tracee {
            pid: self.pid,
            tid: self.tid,
            layout: self.layout,
            state: self.state.clone(),
            slot: self.slot.clone(),
        }
    }

    fn gone(&self) -> bool {
        self.state.gone.load(Ordering::Relaxed)
    }

    fn set_gone(&self) {
        self.state.gone.store(true, Ordering::Relaxed);
    }

    /// Runs one host syscall in the stub thread and returns its raw result.
    fn inject(&mut self, trap: u64, nr: i64, args: [u64; 6]) -> Result<i64> {
        self.known = None;
        inject(&self.tracee(), trap, nr, args)
    }

    /// Gives the stopped thread `regs` before it resumes. Most resumes
    /// follow a syscall whose only change is its result in rax: one
    /// PTRACE_POKEUSER then costs a fraction of PTRACE_SETREGS (which
    /// validates every register, segment bases included), on every syscall.
    fn put_regs(&mut self, regs: &Regs) -> Result<()> {
        if self.state.regs_stale.swap(false, Ordering::Relaxed) {
            self.known = None;
        }
        if let Some(known) = self.known.take() {
            // A result the kernel would take for a restart request
            // (-ERESTARTSYS..-ERESTART_RESTARTBLOCK, with orig_rax still the
            // syscall number) must go the full way, which clears orig_rax.
            let restart = (-516..=-512).contains(&(regs.rax as i64));
            if !restart && same_but_rax(&known, regs) {
                if known.rax == regs.rax {
                    return Ok(());
                }
                return sys::poke_rax(self.tid, regs.rax);
            }
        }
        // orig_rax = -1 keeps the kernel from restarting a host syscall the
        // stub may have been parked in.
        let mut r = *regs;
        r.orig_rax = u64::MAX;
        sys::set_regs(self.tid, &r)
    }

    fn inject_checked(&mut self, op: &'static str, nr: i64, args: [u64; 6]) -> Result<i64> {
        let r = self.inject(self.layout.syscall_trap, nr, args)?;
        if (-4095..0).contains(&r) {
            return Err(PlatformError {
                op,
                errno: -r as i32,
            });
        }
        Ok(r)
    }
}

/// Whether `a` and `b` differ at most in rax (and orig_rax, which the
/// Sentry never changes for the application).
fn same_but_rax(a: &Regs, b: &Regs) -> bool {
    let key = |r: &Regs| {
        [
            r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rcx, r.rdx,
            r.rsi, r.rdi, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds, r.es,
            r.fs, r.gs,
        ]
    };
    key(a) == key(b)
}

impl Context for PtraceContext {
    fn switch(&mut self, regs: &mut Regs) -> Event {
        if self.gone() {
            return Event::Gone;
        }
        // A context is used only by the thread it was made on; this keeps
        // the registry right should one ever move at creation.
        register(&self.tracee());
        if self.put_regs(regs).is_err() {
            self.set_gone();
            return Event::Gone;
        }
        loop {
            if sys::resume(self.tid, libc::PTRACE_SYSEMU).is_err() {
                self.set_gone();
                return Event::Gone;
            }
            let stop = sys::wait_stop(self.tid);
            let event = match stop {
                sys::Stop::Gone => {
                    self.set_gone();
                    return Event::Gone;
                }
                sys::Stop::Event => continue,
                sys::Stop::Syscall => Event::Syscall,
                sys::Stop::Signal(sig) => {
                    let info = sys::get_siginfo(self.tid);
                    let (code, addr) = info
                        .map(|i| {
                            // SAFETY: si_addr is valid to read for the fault
                            // signals this branch interprets.
                            (i.si_code, unsafe { i.si_addr() } as u64)
                        })
                        .unwrap_or((0, 0));
                    match sig {
                        libc::SIGSEGV | libc::SIGBUS if code > 0 => Event::Fault {
                            signo: sig,
                            addr,
                            code,
                        },
                        libc::SIGFPE | libc::SIGILL | libc::SIGTRAP
                            if code > 0 || sig == libc::SIGTRAP =>
                        {
                            Event::Trap {
                                signo: sig,
                                addr,
                                code,
                            }
                        }
                        _ => Event::Interrupted,
                    }
                }
            };
            match sys::get_regs(self.tid) {
                Ok(r) => {
                    *regs = r;
                    self.known = Some(r);
                }
                Err(_) => {
                    self.set_gone();
                    return Event::Gone;
                }
            }
            return event;
        }
    }

    fn map(&mut self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        self.inject_checked(
            "stub mmap",
            libc::SYS_mmap,
            [addr, len, prot as u64, flags, self.memfd as u64, offset],
        )
        .map(|_| ())
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<()> {
        self.inject_checked("stub munmap", libc::SYS_munmap, [addr, len, 0, 0, 0, 0])
            .map(|_| ())
    }

    fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        self.inject_checked(
            "stub mprotect",
            libc::SYS_mprotect,
            [addr, len, prot as u64, 0, 0, 0],
        )
        .map(|_| ())
    }

    fn fpu(&mut self) -> Result<XSave> {
        sys::get_xstate(self.tid, self.xsave_len)
    }

    fn set_fpu(&mut self, fpu: &XSave) -> Result<()> {
        sys::set_xstate(self.tid, fpu)
    }

    fn new_thread(&mut self) -> Result<Box<dyn PendingContext>> {
        let flags = (libc::CLONE_VM
            | libc::CLONE_FS
            | libc::CLONE_FILES
            | libc::CLONE_SIGHAND
            | libc::CLONE_THREAD
            | libc::CLONE_SYSVSEM) as u64;
        let r = self.inject(
            self.layout.clone_trap,
            libc::SYS_clone,
            [flags, 0, 0, 0, 0, 0],
        )?;
        if r <= 0 {
            return Err(PlatformError {
                op: "stub clone",
                errno: (-r) as i32,
            });
        }
        Ok(Box::new(PendingThread {
            pid: self.pid,
            tid: r as i32,
            memfd: self.memfd,
            layout: self.layout,
            xsave_len: self.xsave_len,
            slot: self.slot.clone(),
        }))
    }

    fn host_cpu_clock(&self) -> Option<libc::clockid_t> {
        // A thread clock of another process is not readable (Linux allows
        // those only within the thread group); the stub process's is.
        Some(crate::process_cpu_clock(self.pid))
    }

    fn interrupter(&self) -> Interrupter {
        Interrupter::new(StubThread {
            pid: self.pid,
            tid: self.tid,
        })
    }

    fn address_space(&self) -> Arc<dyn AddressSpace> {
        Arc::new(PtraceAddressSpace {
            pid: self.pid,
            memfd: self.memfd,
        })
    }

    fn release(mut self: Box<Self>) {
        unregister(self.tid);
        if self.gone() {
            return;
        }
        // Only this thread ends: the stub process lives while other threads
        // do, and is killed by whoever destroys the address space. A leader
        // that exits stays a zombie until its thread group ends, as in Linux,
        // so it is not waited for.
        let _ = self.inject(self.layout.syscall_trap, libc::SYS_exit, [0; 6]);
        if self.tid != self.pid {
            sys::reap(self.tid);
        }
        self.set_gone();
    }
}

impl Drop for PtraceContext {
    fn drop(&mut self) {
        unregister(self.tid);
    }
}

struct PendingThread {
    pid: i32,
    tid: i32,
    memfd: RawFd,
    layout: stub::StubLayout,
    xsave_len: usize,
    slot: Option<Arc<Slot>>,
}

impl PendingContext for PendingThread {
    fn attach(self: Box<Self>) -> Result<Box<dyn Context>> {
        sys::seize_and_stop(self.tid, true)?;
        Ok(Box::new(PtraceContext::new(
            self.pid,
            self.tid,
            self.memfd,
            self.layout,
            self.xsave_len,
            self.slot,
        )))
    }
}
