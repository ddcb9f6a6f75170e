//! The systrap platform: application threads are threads of stub
//! processes, as under ptrace, but not traced while they run. Each runs
//! under a seccomp filter that traps every system call (`RET_TRAP`)
//! except the stub's own, and the stub's signal handler hands the event
//! to the Sentry through memory both share: a seccomp trap and a
//! shared-memory handoff instead of a ptrace stop.
//!
//! * `stub.rs`: the stub code page (the handler, the syscall thread, a
//!   new thread's start);
//! * `region.rs`: the per-thread shared regions;
//! * `filter.rs`: the application threads' seccomp filter;
//! * `frame.rs`: the signal frame as registers and XSAVE image;
//! * `wait.rs`: spinning and sleeping on the Sentry's side;
//! * `space.rs`: a stub process, its set-up and its syscall thread;
//! * `spare.rs`: an address space made ready in advance;
//! * `context.rs`: an application thread and the events;
//! * `patch.rs`: the site rules of syscall patching (`--systrap-patch`;
//!   the trampoline is in `stub.rs`, the table and the store in the
//!   Sentry's `mm/patch.rs`: docs/architecture.md, "Syscall patching").

mod context;
mod filter;
mod frame;
pub mod patch;
mod region;
mod space;
mod spare;
mod stub;
mod wait;

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use crate::{Context, Platform, PlatformError, Result, Vdso};

pub use filter::STUB_CALLS;

/// The host signal that interrupts a running stub thread (as under
/// ptrace: stubs never have children, so the kernel never sends it).
pub const INTERRUPT_SIGNAL: i32 = crate::ptrace::INTERRUPT_SIGNAL;

/// `HWCAP2_FSGSBASE` in AT_HWCAP2: user code may run rdfsbase/wrfsbase.
const HWCAP2_FSGSBASE: u64 = 1 << 1;

/// Whether syscall patching is on (`--systrap-patch`).
static PATCHING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Turns syscall patching on for the threads made from now on; false
/// (and off) when the CPU lacks what the trampoline uses (BMI2's
/// flag-free shifts, XSAVE).
pub fn enable_patching() -> bool {
    let ok =
        std::arch::is_x86_feature_detected!("bmi2") && std::arch::is_x86_feature_detected!("xsave");
    PATCHING.store(ok, std::sync::atomic::Ordering::Relaxed);
    ok
}

pub(crate) fn patching() -> bool {
    PATCHING.load(std::sync::atomic::Ordering::Relaxed)
}

/// Checks the host can run the platform and prepares it while host paths
/// are visible (the ptrace stub layout, the shared regions).
pub fn prepare() -> Result<()> {
    static PREPARED: std::sync::OnceLock<Result<()>> = std::sync::OnceLock::new();
    *PREPARED.get_or_init(check_and_prepare)
}

/// The CPUs the sandbox may use, as the Sentry had them at start (before
/// any thread was pinned: `allowed_cpus` answers for the calling thread).
pub(crate) fn sandbox_cpus() -> &'static [usize] {
    static CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    CPUS.get_or_init(crate::cpus::allowed_cpus)
}

fn check_and_prepare() -> Result<()> {
    sandbox_cpus();
    let trap = libc::SECCOMP_RET_TRAP;
    // SAFETY: SECCOMP_GET_ACTION_AVAIL reads one u32.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &trap as *const u32,
        )
    };
    if r != 0 {
        return Err(PlatformError {
            op: "seccomp filters with SECCOMP_RET_TRAP are not available on this host \
                 (a kernel without CONFIG_SECCOMP_FILTER?); use --platform=ptrace",
            errno: nix::errno::Errno::last_raw(),
        });
    }
    // SAFETY: getauxval only reads the auxiliary vector.
    if unsafe { libc::getauxval(libc::AT_HWCAP2) } & HWCAP2_FSGSBASE == 0 {
        return Err(PlatformError {
            op: "the CPU or kernel does not let user code set fs_base (FSGSBASE); \
                 use --platform=ptrace",
            errno: libc::ENOTSUP,
        });
    }
    crate::ptrace::prepare()?;
    // The trampoline's word: -(the first region's stub address).
    let code = stub::code();
    let regions = space::Layout::new(crate::ptrace::stub::layout()?).regions;
    region::prepare(
        code.bytes,
        (code.neg_regions as usize, regions.wrapping_neg()),
    )
}

/// The systrap platform over one memory file.
pub struct SystrapPlatform {
    memfd: RawFd,
    layout: space::Layout,
    /// The master stub every other stub process is forked from, made on
    /// first use; None until then, or when stubs cannot come from it
    /// (the ptrace platform's master stub could not serve).
    master: Mutex<Option<Arc<space::Space>>>,
    /// Started with the master.
    spare: Mutex<Option<Arc<spare::Spare>>>,
}

impl Drop for SystrapPlatform {
    fn drop(&mut self) {
        if let Some(s) = self.spare.get_mut().unwrap_or_else(|e| e.into_inner()) {
            s.stop();
        }
    }
}

impl SystrapPlatform {
    /// `memfd` is the memory file; it must stay open at the same number for
    /// the platform's lifetime (stubs inherit it by number).
    pub fn new(memfd: RawFd) -> Result<SystrapPlatform> {
        prepare()?;
        let layout = space::Layout::new(crate::ptrace::stub::layout()?);
        Ok(SystrapPlatform {
            memfd,
            layout,
            master: Mutex::new(None),
            spare: Mutex::new(None),
        })
    }
}

impl SystrapPlatform {
    /// Where the stub code page is in every stub process, and its bytes
    /// (for tests that attack it).
    pub fn stub_code(&self) -> (u64, &'static [u8]) {
        (self.layout.code, stub::code().bytes)
    }
}

impl SystrapPlatform {
    /// A stub process: forked by the master stub, or made under ptrace
    /// when there is no master (it is then made first) or it failed.
    fn new_space(&self) -> Result<Arc<space::Space>> {
        let mut m = self.master.lock().unwrap_or_else(|e| e.into_inner());
        if m.is_none() {
            let s = space::Space::create(self.memfd)?;
            if !s.from_master {
                return Ok(s);
            }
            *m = Some(s.clone());
            *self.spare.lock().unwrap_or_else(|e| e.into_inner()) = Some(spare::Spare::start(s));
        }
        let master = m.clone().expect("made above");
        // Forks are serialised by the master's channel, not this lock.
        drop(m);
        match master.fork() {
            Ok(s) => Ok(s),
            Err(e) => {
                tracing::warn!("systrap: the master stub cannot fork ({e}); a new one is made");
                let mut m = self.master.lock().unwrap_or_else(|e| e.into_inner());
                if m.as_ref().is_some_and(|x| Arc::ptr_eq(x, &master)) {
                    *m = None;
                }
                space::Space::create(self.memfd)
            }
        }
    }
}

impl Platform for SystrapPlatform {
    fn new_address_space(&self) -> Result<Box<dyn Context>> {
        let spare = self.spare.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(c) = spare.and_then(|s| s.take()) {
            return Ok(c);
        }
        let space = self.new_space()?;
        let (tid, region) = space.new_thread()?;
        Ok(Box::new(context::SystrapContext::attach(
            space, tid, region,
        )?))
    }

    fn max_user_address(&self) -> u64 {
        self.layout.regions
    }

    fn vdso(&self) -> Option<Vdso> {
        self.layout.ptrace.vdso
    }
}
