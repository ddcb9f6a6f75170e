//! A systrap context: one application thread of a stub process, driven
//! through its region. `switch` writes the registers into the signal
//! frame the thread's handler waits in, posts the reply and waits for the
//! next event; any Sentry thread may drive it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::frame::{self, Frame};
use super::region::{ctl, msg, syn, Region, KIND_EXIT, KIND_RESUME};
use super::space::Space;
use super::{stub, wait, INTERRUPT_SIGNAL};
use crate::{
    AddressSpace, Context, Event, Interrupt, Interrupter, PendingContext, PlatformError, Prot,
    Regs, Result, XSave,
};

/// The bytes of a siginfo.
const SIGINFO_LEN: u64 = 128;
/// Offsets in a siginfo.
const SI_CODE: usize = 8;
const SI_ADDR: usize = 16;

/// Where the thread's current frame is, checked to lie in its region.
struct Current {
    frame: Frame,
    fp: *mut u8,
    fp_size: usize,
    features: u64,
}

pub struct SystrapContext {
    space: Arc<Space>,
    tid: i32,
    region: Arc<Region>,
    /// The last event the thread posted (the reply names it).
    seq: u32,
    current: Option<Current>,
    gone: bool,
    xsave_len: usize,
    /// The Sentry thread last placed apart from the stub thread.
    placed_for: i32,
    /// Patched sites may take the trampoline in this thread: the platform
    /// patches and the thread's first frame gave the XSAVE template. Its
    /// gs_base is then its region while the application's is 0.
    trampoline: bool,
}

// SAFETY: the raw pointers in `current` point into the thread's region,
// mapped in the Sentry for the life of the process; a context is used by
// one thread at a time (Context's contract).
unsafe impl Send for SystrapContext {}

fn errno(op: &'static str, errno: i32) -> PlatformError {
    PlatformError { op, errno }
}

impl SystrapContext {
    /// Waits for the thread's first event (its `ud2` once its filter is
    /// on) and returns the context.
    pub fn attach(space: Arc<Space>, tid: i32, region: Arc<Region>) -> Result<SystrapContext> {
        let mut c = SystrapContext {
            space,
            tid,
            region,
            seq: 0,
            current: None,
            gone: false,
            xsave_len: crate::xsave_len(),
            placed_for: 0,
            trampoline: false,
        };
        let first = c.space.layout.code + stub::code().first_event;
        loop {
            let Some(signo) = c.next() else {
                return Err(errno("systrap: a new thread did not start", libc::ESRCH));
            };
            let rip = c.current.as_ref().map(|f| f.frame.regs(0, 0).rip);
            if signo == libc::SIGILL && rip == Some(first) {
                c.trampoline = super::patching() && c.copy_frame_template();
                return Ok(c);
            }
            // An interrupt before the filter went on: let it go on.
            c.reply(KIND_RESUME);
        }
    }

    /// Copies what a patched call's frame needs from the kernel's own
    /// frame of this thread (uc_flags, the XSAVE image's software bytes)
    /// into its control page; false when that frame has no XSAVE image
    /// or one too big for the patched frame's room.
    fn copy_frame_template(&self) -> bool {
        let Some(cur) = &self.current else {
            return false;
        };
        if cur.fp_size + 4 > syn::FP_MAX - syn::FP || cur.features == 0 {
            return false;
        }
        // SAFETY: fp covers fp_size (>= 512) bytes of the region, checked in
        // `next`; the software bytes are 464..512.
        let sw = unsafe { std::slice::from_raw_parts(cur.fp.add(frame::SW_BYTES), 48) };
        self.region.write_ctl(ctl::FX_SW, sw);
        self.region
            .ctl64(ctl::UC_FLAGS)
            .store(cur.frame.uc_flags(), Ordering::Relaxed);
        true
    }

    /// The region's address in the stub: the thread's gs_base while the
    /// application's is 0 and patched sites may take the trampoline.
    fn region_addr(&self) -> u64 {
        self.region.stub_addr(self.space.layout.regions)
    }

    fn dead(&self) -> bool {
        self.space.died() || self.region.msg32(msg::TID).load(Ordering::Relaxed) == 0
    }

    /// Waits for the thread's next event and finds its frame; returns the
    /// signal, or None when the thread or its process is gone.
    fn next(&mut self) -> Option<i32> {
        let r = &self.region;
        let seq = wait::until_changed(
            r.msg32(msg::SEQ),
            self.seq,
            r.ctl32(ctl::SENTRY_WAITING),
            || self.dead(),
        )?;
        self.seq = seq;
        let regions = self.space.layout.regions;
        let uc = r.msg64(msg::UC).load(Ordering::Relaxed);
        let Some(ucp) = r.frame_ptr(regions, uc, frame::UC_LEN) else {
            return self.corrupt();
        };
        // SAFETY: ucp covers UC_LEN bytes of the region (checked above).
        let f = unsafe { Frame::new(ucp) };
        let Some(fp) = r.frame_ptr(regions, f.fpstate(), crate::XSave::FXSAVE_SIZE as u64) else {
            return self.corrupt();
        };
        // SAFETY: fp covers the 512-byte legacy area (checked above).
        let (size, features) = unsafe { frame::xsave_extent(fp) };
        if r.frame_ptr(regions, f.fpstate(), size as u64).is_none() {
            return self.corrupt();
        }
        self.current = Some(Current {
            frame: f,
            fp,
            fp_size: size,
            features,
        });
        Some(r.msg32(msg::SIGNO).load(Ordering::Relaxed) as i32)
    }

    /// The application wrote nonsense where its frame should be: only it
    /// could have, and it loses its process.
    fn corrupt(&mut self) -> Option<i32> {
        tracing::warn!(
            "systrap: stub {} corrupted its signal frame",
            self.space.pid
        );
        self.space.destroy();
        None
    }

    /// Answers the last event.
    fn reply(&mut self, kind: u64) {
        let r = &self.region;
        r.ctl64(ctl::KIND).store(kind, Ordering::Relaxed);
        r.ctl32(ctl::REPLY).store(self.seq, Ordering::SeqCst);
        if r.msg32(msg::STUB_WAITING).load(Ordering::SeqCst) != 0 {
            wait::wake(r.ctl32(ctl::REPLY));
        }
    }

    /// The siginfo word at `off`, when the frame's siginfo pointer lies in
    /// the region.
    fn info(&self, off: usize) -> Option<u64> {
        let at = self.region.msg64(msg::INFO).load(Ordering::Relaxed);
        let p = self
            .region
            .frame_ptr(self.space.layout.regions, at, SIGINFO_LEN)?;
        // SAFETY: p covers a whole siginfo in the region (checked above).
        Some(unsafe { (p.add(off) as *const u64).read_unaligned() })
    }

    fn event(&self, signo: i32, regs: &mut Regs) -> Event {
        let Some(cur) = &self.current else {
            return Event::Gone;
        };
        let fs = self.region.msg64(msg::FS).load(Ordering::Relaxed);
        let mut gs = self.region.msg64(msg::GS).load(Ordering::Relaxed);
        if self.trampoline && gs == self.region_addr() {
            gs = 0;
        }
        *regs = cur.frame.regs(fs, gs);
        let code = self.info(SI_CODE).unwrap_or(0) as i32;
        let addr = self.info(SI_ADDR).unwrap_or(0);
        match signo {
            libc::SIGSYS if code == frame::SYS_SECCOMP => {
                // As PTRACE_SYSEMU shows a call: the number in orig_rax.
                regs.orig_rax = regs.rax;
                regs.rax = -(libc::ENOSYS as i64) as u64;
                Event::Syscall
            }
            libc::SIGSEGV | libc::SIGBUS if code > 0 => Event::Fault { signo, addr, code },
            libc::SIGFPE | libc::SIGILL | libc::SIGTRAP if code > 0 || signo == libc::SIGTRAP => {
                Event::Trap { signo, addr, code }
            }
            _ => Event::Interrupted,
        }
    }

    fn set_gone(&mut self) -> Event {
        self.gone = true;
        self.current = None;
        Event::Gone
    }
}

impl Context for SystrapContext {
    fn switch(&mut self, regs: &mut Regs) -> Event {
        if self.gone || self.space.gone() {
            return self.set_gone();
        }
        // SAFETY: gettid takes no arguments.
        let me = unsafe { libc::gettid() };
        if me != self.placed_for {
            self.placed_for = me;
            place_apart(self.tid);
        }
        let Some(cur) = &self.current else {
            return self.set_gone();
        };
        cur.frame.set_regs(regs);
        let r = &self.region;
        r.ctl64(ctl::FS).store(regs.fs_base, Ordering::Relaxed);
        let gs = if self.trampoline && regs.gs_base == 0 {
            self.region_addr()
        } else {
            regs.gs_base
        };
        r.ctl64(ctl::GS).store(gs, Ordering::Relaxed);
        self.reply(KIND_RESUME);
        match self.next() {
            Some(signo) => self.event(signo, regs),
            None => self.set_gone(),
        }
    }

    fn map(&mut self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()> {
        SystrapAddressSpace(self.space.clone()).map(addr, len, prot, offset)
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<()> {
        SystrapAddressSpace(self.space.clone()).unmap(addr, len)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        SystrapAddressSpace(self.space.clone()).protect(addr, len, prot)
    }

    fn fpu(&mut self) -> Result<XSave> {
        let cur = self
            .current
            .as_ref()
            .ok_or(errno("systrap fpu", libc::ESRCH))?;
        // SAFETY: fp covers fp_size bytes of the region (checked in next).
        Ok(unsafe { frame::read_fpu(cur.fp, cur.fp_size, self.xsave_len) })
    }

    fn set_fpu(&mut self, fpu: &XSave) -> Result<()> {
        let cur = self
            .current
            .as_ref()
            .ok_or(errno("systrap set_fpu", libc::ESRCH))?;
        // SAFETY: as in `fpu`; fp_size >= 512 (xsave_extent's floor).
        unsafe { frame::write_fpu(cur.fp, cur.fp_size, cur.features, fpu) };
        Ok(())
    }

    fn new_thread(&mut self) -> Result<Box<dyn PendingContext>> {
        let (tid, region) = self.space.new_thread()?;
        Ok(Box::new(PendingThread {
            space: self.space.clone(),
            tid,
            region,
        }))
    }

    fn host_cpu_clock(&self) -> Option<libc::clockid_t> {
        // It also counts the stub's spinning for replies, so the check only
        // ever lowers a charge to what the whole stub process used.
        Some(crate::process_cpu_clock(self.space.pid))
    }

    fn syscall_trampoline(&self) -> Option<u64> {
        self.trampoline
            .then(|| self.space.layout.code + stub::code().trampoline)
    }

    fn interrupter(&self) -> Interrupter {
        Interrupter::new(Kick {
            space: self.space.clone(),
            tid: self.tid,
        })
    }

    fn address_space(&self) -> Arc<dyn AddressSpace> {
        Arc::new(SystrapAddressSpace(self.space.clone()))
    }

    fn release(mut self: Box<Self>) {
        if self.gone || self.space.gone() || self.current.is_none() {
            return;
        }
        self.reply(KIND_EXIT);
        // The region may leave the stub only once the thread is out of
        // it: the kernel clears the tid word (and wakes it) at the exit.
        let tid = self.region.msg32(msg::TID);
        let unused = AtomicU32::new(0);
        let mut now = tid.load(Ordering::Acquire);
        while now != 0 {
            match wait::until_changed(tid, now, &unused, || self.space.died()) {
                Some(v) => now = v,
                None => return,
            }
        }
        self.space.forget_thread(&self.region);
    }
}

/// Puts the calling Sentry thread and stub thread `tid` on two different
/// CPUs, when there are two. The handoff is two threads spinning on each
/// other's word: on one CPU the spinner only delays the thread it waits
/// for, and a futex wake-up pulls the wakee to the waker's CPU, so left to
/// the scheduler the pair ends on one CPU and every round trip sleeps.
/// (The opposite of the ptrace pairing, which wants a switch, not a
/// cross-CPU wake-up.) Pairs rotate over the CPUs.
fn place_apart(tid: i32) {
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let cpus = super::sandbox_cpus();
    if cpus.len() < 2 {
        return;
    }
    let k = NEXT.fetch_add(1, Ordering::Relaxed);
    crate::cpus::pin(&[0], cpus[k % cpus.len()]);
    crate::cpus::pin(&[tid], cpus[(k + 1) % cpus.len()]);
}

pub struct PendingThread {
    pub space: Arc<Space>,
    pub tid: i32,
    pub region: Arc<Region>,
}

impl PendingContext for PendingThread {
    fn attach(self: Box<Self>) -> Result<Box<dyn Context>> {
        Ok(Box::new(SystrapContext::attach(
            self.space,
            self.tid,
            self.region,
        )?))
    }
}

/// Interrupts a stub thread with the interrupt signal: its handler posts
/// an event (now, or when the thread next leaves the handler, where
/// signals are blocked).
#[derive(Debug)]
struct Kick {
    space: Arc<Space>,
    tid: i32,
}

impl Interrupt for Kick {
    fn interrupt(&self) {
        // SAFETY: tgkill only sends a signal; a stale tid fails with
        // ESRCH because it is checked against the thread group.
        unsafe {
            libc::syscall(libc::SYS_tgkill, self.space.pid, self.tid, INTERRUPT_SIGNAL);
        }
    }

    fn destroy_address_space(&self) {
        self.space.destroy();
    }
}

/// The memory operations of a stub process, made by its syscall thread.
#[derive(Debug)]
pub struct SystrapAddressSpace(pub Arc<Space>);

impl AddressSpace for SystrapAddressSpace {
    fn map(&self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let fd = self.0.memfd as u64;
        self.0
            .call(
                "stub mmap",
                libc::SYS_mmap,
                [addr, len, prot as u64, flags, fd, offset],
            )
            .map(|_| ())
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        self.0
            .call("stub munmap", libc::SYS_munmap, [addr, len, 0, 0, 0, 0])
            .map(|_| ())
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        self.0
            .call(
                "stub mprotect",
                libc::SYS_mprotect,
                [addr, len, prot as u64, 0, 0, 0],
            )
            .map(|_| ())
    }

    fn protect_ranges(&self, ranges: &[(u64, u64, Prot)]) -> Result<()> {
        let calls: Vec<(i64, [u64; 6])> = ranges
            .iter()
            .map(|&(addr, len, prot)| (libc::SYS_mprotect, [addr, len, prot as u64, 0, 0, 0]))
            .collect();
        self.0.batch("stub mprotect (batch)", &calls)
    }

    fn map_ranges(&self, ranges: &[(u64, u64, Prot, u64)]) -> Result<()> {
        let flags = (libc::MAP_SHARED | libc::MAP_FIXED) as u64;
        let fd = self.0.memfd as u64;
        let calls: Vec<(i64, [u64; 6])> = ranges
            .iter()
            .map(|&(addr, len, prot, off)| {
                (libc::SYS_mmap, [addr, len, prot as u64, flags, fd, off])
            })
            .collect();
        self.0.batch("stub mmap (batch)", &calls)
    }

    fn destroy(&self) {
        self.0.destroy();
    }
}
