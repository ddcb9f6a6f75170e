//! Where application code runs.
//!
//! A [`Platform`] creates address spaces and the execution contexts (threads)
//! inside them. The Sentry drives a [`Context`] with [`Context::switch`]: the
//! application runs until it makes a system call, faults, receives a host
//! signal, or another Sentry thread interrupts it; the event comes back, the
//! Sentry serves it, and switches again.
//!
//! Application memory always comes from one *memory file* (a memfd owned by the
//! Sentry's MM). Platforms map ranges of that file into address spaces; they
//! never allocate application memory themselves.

pub mod cpus;
mod guest_answers;
pub mod kvm;
pub mod membarrier;
pub mod ptrace;
mod regs;
pub mod systrap;

pub use guest_answers::{GuestAnswers, SERVED};
pub use regs::{Regs, XSave};

use std::fmt;
use std::os::fd::RawFd;
use std::sync::Arc;

/// Why [`Context::switch`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The application executed `syscall`; `regs.orig_rax` is the number.
    Syscall,
    /// A memory access fault at `addr` (SIGSEGV/SIGBUS from the host). `code`
    /// is the host si_code (SEGV_MAPERR, SEGV_ACCERR, BUS_ADRERR ...).
    Fault { signo: i32, addr: u64, code: i32 },
    /// Another synchronous host signal caused by an instruction (SIGFPE,
    /// SIGILL, SIGTRAP); `addr` is si_addr.
    Trap { signo: i32, addr: u64, code: i32 },
    /// [`Interrupter::interrupt`] was called for this context.
    Interrupted,
    /// The context no longer exists (its address space was destroyed).
    Gone,
}

/// Errors from platform operations. They describe host failures, so they
/// carry the host errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformError {
    pub op: &'static str,
    pub errno: i32,
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.op,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for PlatformError {}

pub type Result<T> = std::result::Result<T, PlatformError>;

/// Memory protections for [`Context::map`], as PROT_* bits.
pub type Prot = i32;

/// A running thread of application code.
///
/// A context is bound to the OS thread that created or attached it (ptrace
/// requires the tracer to be the thread that attached), so it is `Send` only to
/// be moved into that thread at creation and never used from another.
pub trait Context: Send {
    /// Runs the application with `regs` until the next event; `regs` then holds
    /// the application's registers at that event.
    fn switch(&mut self, regs: &mut Regs) -> Event;

    /// Maps `len` bytes of the memory file at `offset` to `addr` with `prot`
    /// (replacing whatever was there) in this context's address space.
    fn map(&mut self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()>;
    /// Removes mappings in `[addr, addr+len)`.
    fn unmap(&mut self, addr: u64, len: u64) -> Result<()>;
    /// Changes protections of mappings in `[addr, addr+len)`.
    fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<()>;

    /// The extended (FPU/SSE/AVX) state, as an XSAVE image.
    fn fpu(&mut self) -> Result<XSave>;
    /// Restores state read by [`Context::fpu`] (from this or another context).
    fn set_fpu(&mut self, fpu: &XSave) -> Result<()>;

    /// Starts a new thread in this address space. The returned pending context
    /// must be [`PendingContext::attach`]ed by the thread that will run it.
    fn new_thread(&mut self) -> Result<Box<dyn PendingContext>>;

    /// A handle other threads use to interrupt this context's `switch`.
    fn interrupter(&self) -> Interrupter;

    /// Where a patched system call site of this thread may jump instead of
    /// trapping (systrap with patching on: see
    /// `systrap::patch`); None: the platform does not patch.
    fn syscall_trampoline(&self) -> Option<u64> {
        None
    }

    /// The address space this context runs in, for the MM's memory
    /// operations outside a call that hands it a context (a write fault,
    /// a Sentry write into a copy-on-write page, fork's write-protection).
    fn address_space(&self) -> Arc<dyn AddressSpace>;

    /// Ends this thread of the address space (the address space lives on while
    /// other threads or the `AddressSpace` handle hold it).
    fn release(self: Box<Self>);

    /// Before a switch: lets the platform answer the calls of [`SERVED`]
    /// without leaving the application until the next switch, from what
    /// `snapshot` returns (None: every call leaves, as always). A platform
    /// that can call `snapshot` calls it after clearing any earlier
    /// revocation, so that a [`Interrupter::revoke_guest_answers`] racing
    /// with it either is seen by `snapshot` or disables what it returned.
    /// Platforms that cannot serve calls in place never call it.
    fn offer_guest_answers(&mut self, _snapshot: &mut dyn FnMut() -> Option<GuestAnswers>) {}

    /// A host CPU clock (for clock_gettime from this context's thread)
    /// that counts at least the time the host ran this context's
    /// application code: the Sentry takes the time a switch spent waiting
    /// for a host CPU back from what it charges the task. None: the
    /// platform has none, and a switch's wall time is charged whole.
    fn host_cpu_clock(&self) -> Option<libc::clockid_t> {
        None
    }
}

/// The host's CPU clock of process `pid`, all its threads together (Linux's
/// MAKE_PROCESS_CPUCLOCK with CPUCLOCK_SCHED; glibc's
/// clock_getcpuclockid gives the same id after a check the caller does not
/// need).
pub fn process_cpu_clock(pid: i32) -> libc::clockid_t {
    const CPUCLOCK_SCHED: libc::clockid_t = 2;
    (!pid << 3) | CPUCLOCK_SCHED
}

/// Memory operations on a whole address space. Each takes effect for every
/// thread of the address space before it returns, running or not: a
/// thread that touches the range afterwards sees the new mapping or
/// protection (under ptrace the host kernel's own mmap/mprotect of the
/// stub's memory, TLB shoot-down included; under KVM a page-table edit and
/// a flush on every vCPU). That is what makes fork's write-protection
/// sound while the parent's other threads keep running.
pub trait AddressSpace: Send + Sync + fmt::Debug {
    /// As [`Context::map`].
    fn map(&self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()>;
    /// As [`Context::unmap`].
    fn unmap(&self, addr: u64, len: u64) -> Result<()>;
    /// As [`Context::protect`].
    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()>;
    /// [`AddressSpace::protect`] for each (address, length, protection)
    /// of `ranges`, in order: fork write-protecting the pages it shares.
    /// A platform may make them in one go.
    fn protect_ranges(&self, ranges: &[(u64, u64, Prot)]) -> Result<()> {
        for &(addr, len, prot) in ranges {
            self.protect(addr, len, prot)?;
        }
        Ok(())
    }
    /// [`AddressSpace::map`] for each (address, length, protection, file
    /// offset) of `ranges`, in order (later ones over earlier ones): a
    /// forked child's whole address space.
    fn map_ranges(&self, ranges: &[(u64, u64, Prot, u64)]) -> Result<()> {
        for &(addr, len, prot, off) in ranges {
            self.map(addr, len, prot, off)?;
        }
        Ok(())
    }
    /// Destroys the address space: every context in it then returns
    /// [`Event::Gone`].
    fn destroy(&self);
}

/// A context created by one thread, to be attached by another.
pub trait PendingContext: Send {
    fn attach(self: Box<Self>) -> Result<Box<dyn Context>>;
}

/// What a platform does to reach one of its contexts from another thread.
pub trait Interrupt: Send + Sync + fmt::Debug {
    /// Makes the context's current or next `switch` return
    /// [`Event::Interrupted`].
    fn interrupt(&self);
    /// Destroys the whole address space the context lives in.
    fn destroy_address_space(&self);
    /// Stops the context answering calls in place (see
    /// [`Context::offer_guest_answers`]) before it returns: from then on
    /// every call leaves the application until the next offer.
    fn revoke_guest_answers(&self) {}
}

/// Interrupts a context from any thread: its current or next `switch`
/// returns [`Event::Interrupted`]. Each platform brings its own way (a
/// signal to a stub thread under ptrace, a kick of a vCPU under KVM).
#[derive(Clone, Debug)]
pub struct Interrupter(Arc<dyn Interrupt>);

impl Interrupter {
    pub fn new(i: impl Interrupt + 'static) -> Interrupter {
        Interrupter(Arc::new(i))
    }

    pub fn interrupt(&self) {
        self.0.interrupt();
    }

    /// Destroys the whole address space this context lives in (exit_group,
    /// execve, or the last user of a memory map going away): every context in
    /// it then returns [`Event::Gone`].
    pub fn destroy_address_space(&self) {
        self.0.destroy_address_space();
    }

    /// Called after the Sentry changed state a snapshot given to
    /// [`Context::offer_guest_answers`] may hold, from another thread than
    /// the context's: the context's next served call leaves instead.
    pub fn revoke_guest_answers(&self) {
        self.0.revoke_guest_answers();
    }
}

/// A vDSO present in every address space: `[start, end)` covers its data
/// pages and its code; `ehdr` is the code's ELF header (AT_SYSINFO_EHDR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vdso {
    pub start: u64,
    pub end: u64,
    pub ehdr: u64,
}

/// A way to run application code.
pub trait Platform: Send + Sync {
    /// Creates a new, empty address space with one thread in it, attached to
    /// the calling OS thread.
    fn new_address_space(&self) -> Result<Box<dyn Context>>;
    /// The highest application address plus one.
    fn max_user_address(&self) -> u64;
    /// A vDSO present in every address space, which the application may use
    /// (its range must stay reserved).
    fn vdso(&self) -> Option<Vdso> {
        None
    }
}

/// The platforms there are; which one runs a sandbox is chosen at run time
/// (`--platform`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlatformKind {
    /// PTRACE_SYSEMU on stub processes.
    #[default]
    Ptrace,
    /// Guest ring 3 of a VM (/dev/kvm).
    Kvm,
    /// Stub processes under a seccomp filter that traps each system call
    /// into the stub's handler, which hands it over in shared memory.
    Systrap,
}

impl fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlatformKind::Ptrace => "ptrace",
            PlatformKind::Kvm => "kvm",
            PlatformKind::Systrap => "systrap",
        })
    }
}

/// Prepares platform `kind` while the host filesystem is still visible
/// (before the Sentry gives it up).
pub fn prepare(kind: PlatformKind) -> Result<()> {
    // Before the Sentry's seccomp filter, which allows only the barriers.
    membarrier::prepare();
    match kind {
        PlatformKind::Ptrace => ptrace::prepare(),
        PlatformKind::Kvm => kvm::prepare(),
        PlatformKind::Systrap => systrap::prepare(),
    }
}

/// Platform `kind` over the memory file `memfd` (which must stay open at
/// that number for the platform's lifetime).
pub fn new(kind: PlatformKind, memfd: RawFd) -> Result<Box<dyn Platform>> {
    // Before the first stub or vCPU: they inherit the registration (a
    // no-op after `prepare`).
    membarrier::prepare();
    match kind {
        PlatformKind::Ptrace => Ok(Box::new(ptrace::PtracePlatform::new(memfd)?)),
        PlatformKind::Kvm => Ok(Box::new(kvm::KvmPlatform::new(memfd)?)),
        PlatformKind::Systrap => Ok(Box::new(systrap::SystrapPlatform::new(memfd)?)),
    }
}

/// The size of an [`XSave`] image on this CPU.
pub fn xsave_len() -> usize {
    regs::xsave_size()
}
