//! A context: one vCPU bound to one application thread, and the run loop
//! that turns guest exits into [`Event`]s.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use kvm_bindings::{kvm_regs, kvm_xsave};
use kvm_ioctls::VcpuExit;

use super::address_space::{AsInner, KvmAddressSpace};
use super::layout::*;
use super::vm::{kvm_err, Vcpu, VcpuShared};
use crate::{
    AddressSpace, Context, Event, GuestAnswers, Interrupt, Interrupter, PendingContext,
    PlatformError, Prot, Regs, Result, XSave,
};

/// Flags the application may hold; IF and the fixed bit are always set.
const USER_FLAGS: u64 = 0x0025_0dd5;
const FIXED_FLAGS: u64 = 0x202;

/// Exceptions that push an error code.
fn has_error_code(v: u64) -> bool {
    matches!(v, 8 | 10..=14 | 17 | 21 | 29 | 30)
}

pub struct KvmContext {
    space: Arc<AsInner>,
    vcpu: Option<Vcpu>,
}

impl KvmContext {
    /// A context on the calling thread in `space`.
    pub fn new(space: Arc<AsInner>) -> Result<KvmContext> {
        let vcpu = space.vm.acquire(space.root)?;
        space.register(&vcpu.shared, vcpu.owner);
        Ok(KvmContext {
            space,
            vcpu: Some(vcpu),
        })
    }

    fn vcpu(&mut self) -> &mut Vcpu {
        self.vcpu.as_mut().expect("a live context has a vCPU")
    }
}

/// The iret frame / exception frame slots at the top of the ring-0 stack.
struct Frame {
    base: *mut u64,
}

impl Frame {
    fn of(v: &Vcpu, space: &AsInner) -> Frame {
        let top = space.vm.mem.host(v.stack) as u64 + PAGE;
        Frame {
            base: (top - 6 * 8) as *mut u64,
        }
    }
    /// Word `i` of [err, rip, cs, rflags, rsp, ss].
    fn get(&self, i: usize) -> u64 {
        // SAFETY: the six words below the top of the vCPU's stack page, in
        // our mapping of platform memory.
        unsafe { self.base.add(i).read_volatile() }
    }
    fn set(&self, i: usize, val: u64) {
        // SAFETY: as in `get`.
        unsafe { self.base.add(i).write_volatile(val) }
    }
}

fn to_kvm(r: &Regs) -> kvm_regs {
    kvm_regs {
        rax: r.rax,
        rbx: r.rbx,
        rcx: r.rcx,
        rdx: r.rdx,
        rsi: r.rsi,
        rdi: r.rdi,
        rsp: r.rsp,
        rbp: r.rbp,
        r8: r.r8,
        r9: r.r9,
        r10: r.r10,
        r11: r.r11,
        r12: r.r12,
        r13: r.r13,
        r14: r.r14,
        r15: r.r15,
        rip: r.rip,
        rflags: (r.eflags & USER_FLAGS) | FIXED_FLAGS,
    }
}

fn from_kvm(k: &kvm_regs, r: &mut Regs) {
    r.rax = k.rax;
    r.rbx = k.rbx;
    r.rcx = k.rcx;
    r.rdx = k.rdx;
    r.rsi = k.rsi;
    r.rdi = k.rdi;
    r.rsp = k.rsp;
    r.rbp = k.rbp;
    r.r8 = k.r8;
    r.r9 = k.r9;
    r.r10 = k.r10;
    r.r11 = k.r11;
    r.r12 = k.r12;
    r.r13 = k.r13;
    r.r14 = k.r14;
    r.r15 = k.r15;
    r.rip = k.rip;
    r.eflags = k.rflags;
    r.cs = USER_CS as u64;
    r.ss = USER_DS as u64;
    r.ds = 0;
    r.es = 0;
    r.fs = 0;
    r.gs = 0;
    r.orig_rax = u64::MAX;
}

/// What one KVM_RUN came back with.
#[derive(Debug)]
enum Exit {
    Syscall,
    Vector(u64),
    Touched,
    Interrupted,
    Stray(u64),
    Broken(&'static str),
}

impl KvmContext {
    fn run_once(&mut self) -> Exit {
        let v = self.vcpu.as_mut().expect("a live context has a vCPU");
        let exit = match v.fd.run() {
            Ok(VcpuExit::MmioWrite(addr, _)) | Ok(VcpuExit::MmioRead(addr, _)) => {
                if addr & !(PAGE - 1) == MMIO_GPA {
                    Exit::Syscall
                } else {
                    Exit::Stray(addr)
                }
            }
            Ok(VcpuExit::IoOut(port, _)) if port == TOUCH_PORT => Exit::Touched,
            Ok(VcpuExit::IoOut(port, _)) if (VECTOR_PORT..VECTOR_PORT + 32).contains(&port) => {
                Exit::Vector((port - VECTOR_PORT) as u64)
            }
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => Exit::Interrupted,
            Ok(VcpuExit::Intr) => Exit::Interrupted,
            Ok(VcpuExit::Shutdown) => Exit::Broken("triple fault"),
            Ok(VcpuExit::InternalError) => Exit::Broken("KVM internal error"),
            Ok(VcpuExit::FailEntry(..)) => Exit::Broken("failed entry"),
            Ok(_) => Exit::Broken("unexpected exit"),
            Err(_) => Exit::Broken("KVM_RUN failed"),
        };
        exit
    }

    /// Whether KVM holds an exception it has not delivered yet: a kick can
    /// end KVM_RUN between a fault KVM reflects into the guest (a write to
    /// a page made read-only for copy-on-write, found on KVM's shadow page
    /// tables) and its delivery. The fault is then queued in the vCPU and
    /// is delivered at the next entry, wherever the registers point.
    fn exception_queued(&mut self) -> Result<bool> {
        let ev = self
            .vcpu()
            .fd
            .get_vcpu_events()
            .map_err(|e| kvm_err("KVM_GET_VCPU_EVENTS", e))?;
        Ok(ev.exception.injected != 0 || ev.exception.pending != 0)
    }

    fn set_regs(&mut self, k: &kvm_regs) -> Result<()> {
        self.vcpu()
            .fd
            .set_regs(k)
            .map_err(|e| kvm_err("KVM_SET_REGS", e))
    }

    /// Puts `regs` in the vCPU so that the next run continues the
    /// application there: directly in ring 3, or through a ring-0 stub
    /// (`stub`) with an iret frame.
    fn load(&mut self, regs: &Regs, stub: Option<u64>) -> Result<()> {
        let mut k = to_kvm(regs);
        let v = self.vcpu.as_ref().expect("a live context has a vCPU");
        if let Some(stub) = stub {
            let f = Frame::of(v, &self.space);
            f.set(1, k.rip);
            f.set(2, USER_CS as u64);
            f.set(3, k.rflags);
            f.set(4, k.rsp);
            f.set(5, USER_DS as u64);
            k.rsp = vcpu_page(v.index) + (VCPU_STACK_PAGE + 1) * PAGE - 5 * 8;
            k.rip = stub;
            k.rflags = 2;
        }
        self.set_regs(&k)
    }

    fn apply_bases(&mut self, regs: &Regs) -> Result<()> {
        let v = self.vcpu();
        if v.fs_base == regs.fs_base && v.gs_base == regs.gs_base {
            return Ok(());
        }
        let mut s = v.fd.get_sregs().map_err(|e| kvm_err("KVM_GET_SREGS", e))?;
        s.fs.base = regs.fs_base;
        s.gs.base = regs.gs_base;
        v.fd.set_sregs(&s)
            .map_err(|e| kvm_err("KVM_SET_SREGS", e))?;
        v.fs_base = regs.fs_base;
        v.gs_base = regs.gs_base;
        Ok(())
    }

    /// Runs the ring-0 flush for the tables changed since this vCPU's last
    /// one; the last batch returns to the application at `regs`.
    /// The caller records `seen_gen` only once the guest has gone through
    /// the last batch (an exit from the application): a flush abandoned on
    /// the way in must not let the log drop tables it has not touched.
    fn flush_and_load(&mut self, regs: &Regs, seen: u64) -> Result<()> {
        let touches = self.space.touches_since(seen);
        if !self.vcpu().in_ring0 {
            // Into ring 0 first: the #UD of the to-ring-0 trampoline.
            let mut r = *regs;
            r.rip = self.space.vm.entries.to_ring0;
            self.load(&r, None)?;
            loop {
                match self.run_once() {
                    Exit::Vector(6) => break,
                    Exit::Interrupted => self.vcpu().shared.clear_immediate_exit(),
                    other => {
                        tracing::error!("kvm: entering ring 0: {other:?}");
                        return Err(PlatformError {
                            op: "kvm: entering ring 0",
                            errno: libc::EIO,
                        });
                    }
                }
            }
            self.vcpu().in_ring0 = true;
        }
        let batches: Vec<&[u64]> = if touches.is_empty() {
            vec![&[]]
        } else {
            touches.chunks(TOUCH_CAPACITY).collect()
        };
        let page = self.vcpu().page;
        let flush = self.space.vm.entries.flush;
        for (i, batch) in batches.iter().enumerate() {
            let last = i + 1 == batches.len();
            let mut bytes = Vec::with_capacity(16);
            bytes.extend_from_slice(&(batch.len() as u64).to_le_bytes());
            bytes.extend_from_slice(&(u64::from(!last)).to_le_bytes());
            self.space.vm.mem.write(page + TOUCH_COUNT, &bytes);
            let list: Vec<u8> = batch.iter().flat_map(|a| a.to_le_bytes()).collect();
            self.space.vm.mem.write(page + TOUCH_LIST, &list);
            self.load(regs, Some(flush))?;
            if last {
                break;
            }
            loop {
                match self.run_once() {
                    Exit::Touched => break,
                    Exit::Interrupted => self.vcpu().shared.clear_immediate_exit(),
                    other => {
                        tracing::error!("kvm: page-table flush: {other:?}");
                        return Err(PlatformError {
                            op: "kvm: page-table flush",
                            errno: libc::EIO,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    fn event_for_vector(&mut self, vector: u64, regs: &mut Regs) -> Result<Event> {
        let v = self.vcpu.as_ref().expect("a live context has a vCPU");
        let f = Frame::of(v, &self.space);
        let k = v.fd.get_regs().map_err(|e| kvm_err("KVM_GET_REGS", e))?;
        from_kvm(&k, regs);
        regs.rip = f.get(1);
        regs.eflags = f.get(3);
        regs.rsp = f.get(4);
        regs.fs_base = v.fs_base;
        regs.gs_base = v.gs_base;
        let err = if has_error_code(vector) { f.get(0) } else { 0 };
        let trap = |signo, code, addr| Event::Trap { signo, addr, code };
        let fault = |signo, code, addr| Event::Fault { signo, addr, code };
        Ok(match vector {
            0 => trap(libc::SIGFPE, FPE_INTDIV, regs.rip),
            1 => trap(libc::SIGTRAP, TRAP_TRACE, regs.rip),
            3 => trap(libc::SIGTRAP, SI_KERNEL, 0),
            6 => trap(libc::SIGILL, ILL_ILLOPN, regs.rip),
            14 => {
                let cr2 =
                    v.fd.get_sregs()
                        .map_err(|e| kvm_err("KVM_GET_SREGS", e))?
                        .cr2;
                // Present and permitted for the user: the page exists but
                // the access is not allowed. The platform region is not the
                // application's at all.
                let code = if cr2 < MAX_USER && (err & 1 != 0 || self.space.is_prot_none(cr2)) {
                    SEGV_ACCERR
                } else {
                    SEGV_MAPERR
                };
                fault(libc::SIGSEGV, code, cr2)
            }
            16 | 19 => trap(libc::SIGFPE, FPE_FLTINV, regs.rip),
            17 => fault(libc::SIGBUS, BUS_ADRALN, 0),
            11 | 12 => fault(libc::SIGBUS, SI_KERNEL, 0),
            _ => fault(libc::SIGSEGV, SI_KERNEL, 0),
        })
    }
}

const SI_KERNEL: i32 = 0x80;
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const FPE_INTDIV: i32 = 1;
const FPE_FLTINV: i32 = 7;
const ILL_ILLOPN: i32 = 2;
const TRAP_TRACE: i32 = 2;
const BUS_ADRALN: i32 = 1;

impl Context for KvmContext {
    fn switch(&mut self, regs: &mut Regs) -> Event {
        match self.switch_inner(regs) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!("kvm: {e}");
                Event::Gone
            }
        }
    }

    fn map(&mut self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()> {
        self.space.map(addr, len, prot, offset)
    }

    fn unmap(&mut self, addr: u64, len: u64) -> Result<()> {
        self.space.unmap(addr, len)
    }

    fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        self.space.protect(addr, len, prot)
    }

    fn fpu(&mut self) -> Result<XSave> {
        let xs = self
            .vcpu()
            .fd
            .get_xsave()
            .map_err(|e| kvm_err("KVM_GET_XSAVE", e))?;
        let len = crate::regs::xsave_size().min(4 * xs.region.len());
        let bytes: Vec<u8> = xs.region.iter().flat_map(|w| w.to_le_bytes()).collect();
        Ok(XSave(bytes[..len].to_vec()))
    }

    fn set_fpu(&mut self, fpu: &XSave) -> Result<()> {
        // SAFETY: plain data, zero is valid.
        let mut xs: kvm_xsave = unsafe { std::mem::zeroed() };
        for (i, w) in xs.region.iter_mut().enumerate() {
            let mut b = [0u8; 4];
            for (j, x) in b.iter_mut().enumerate() {
                *x = fpu.0.get(4 * i + j).copied().unwrap_or(0);
            }
            *w = u32::from_le_bytes(b);
        }
        // SAFETY: a full kvm_xsave region, the size KVM_SET_XSAVE reads.
        unsafe { self.vcpu().fd.set_xsave(&xs) }.map_err(|e| kvm_err("KVM_SET_XSAVE", e))
    }

    fn new_thread(&mut self) -> Result<Box<dyn PendingContext>> {
        Ok(Box::new(PendingThread(self.space.clone())))
    }

    fn host_cpu_clock(&self) -> Option<libc::clockid_t> {
        // The vCPU runs on the task's own Sentry thread, and the host
        // charges guest time to it.
        Some(libc::CLOCK_THREAD_CPUTIME_ID)
    }

    fn interrupter(&self) -> Interrupter {
        let v = self.vcpu.as_ref().expect("a live context has a vCPU");
        Interrupter::new(Kick {
            vcpu: v.shared.clone(),
            owner: v.owner,
            space: self.space.clone(),
        })
    }

    fn address_space(&self) -> Arc<dyn AddressSpace> {
        Arc::new(KvmAddressSpace(self.space.clone()))
    }

    fn release(mut self: Box<Self>) {
        self.give_back();
    }

    fn offer_guest_answers(&mut self, snapshot: &mut dyn FnMut() -> Option<GuestAnswers>) {
        let v = self.vcpu();
        let shared = v.shared.clone();
        // Clear an earlier revocation first: a revocation after this point
        // is either seen by `snapshot` (the state changed before it) or
        // made after the enable below, which it then undoes.
        shared.answers_revoked.swap(false, Ordering::SeqCst);
        match snapshot() {
            None => {
                shared.set_answers_enabled(false);
                v.answers = None;
            }
            Some(a) => {
                if v.answers != Some(a) {
                    shared.set_answers_enabled(false);
                    shared.write_answers(&a);
                    v.answers = Some(a);
                }
                shared.set_answers_enabled(true);
                if shared.answers_revoked.load(Ordering::SeqCst) {
                    shared.set_answers_enabled(false);
                    v.answers = None;
                }
            }
        }
    }
}

impl KvmContext {
    fn switch_inner(&mut self, regs: &mut Regs) -> Result<Event> {
        loop {
            if self.space.gone.load(Ordering::SeqCst) {
                return Ok(Event::Gone);
            }
            let shared = self.vcpu().shared.clone();
            // An interrupt that came while the thread was in the Sentry.
            if shared.take_interrupt() {
                shared.clear_immediate_exit();
                return Ok(Event::Interrupted);
            }
            self.apply_bases(regs)?;
            shared.in_guest.store(true, Ordering::SeqCst);
            let gen = self.space.gen.load(Ordering::SeqCst);
            let seen = shared.seen_gen.load(Ordering::SeqCst);
            let flushing = gen != seen;
            let r = if flushing {
                self.flush_and_load(regs, seen)
            } else if self.vcpu().in_ring0 {
                let iret = self.space.vm.entries.iret;
                self.load(regs, Some(iret))
            } else {
                self.load(regs, None)
            };
            if let Err(e) = r {
                shared.in_guest.store(false, Ordering::SeqCst);
                shared.exits.fetch_add(1, Ordering::SeqCst);
                return Err(e);
            }
            let vectors = self.space.vm.entries.vectors;
            let mut abandoned = false;
            let exit = loop {
                match self.run_once() {
                    Exit::Interrupted => {
                        if self.exception_queued()? {
                            // The instruction has not finished: its fault is
                            // part of the state. Deliver it (to a ring-0
                            // stub, which exits at once; no application
                            // code runs) rather than resume elsewhere with
                            // it still queued.
                            shared.clear_immediate_exit();
                            continue;
                        }
                        let s = self
                            .vcpu()
                            .fd
                            .get_sregs()
                            .map_err(|e| kvm_err("KVM_GET_SREGS", e))?;
                        if s.cs.dpl == 0 {
                            let rip = self
                                .vcpu()
                                .fd
                                .get_regs()
                                .map_err(|e| kvm_err("KVM_GET_REGS", e))?
                                .rip;
                            if (vectors..vectors + 32 * 8).contains(&rip) {
                                // An exception stub about to exit: let it.
                                shared.clear_immediate_exit();
                                continue;
                            }
                            // On the way in (iret or flush stub): no
                            // application code ran, `regs` still holds its
                            // state; enter again later, flushing again.
                            abandoned = true;
                        }
                        break Exit::Interrupted;
                    }
                    e => break e,
                }
            };
            shared.in_guest.store(false, Ordering::SeqCst);
            shared.exits.fetch_add(1, Ordering::SeqCst);
            if abandoned {
                shared.clear_immediate_exit();
                if shared.take_interrupt() {
                    return Ok(Event::Interrupted);
                }
                continue;
            }
            if flushing {
                // The guest went through the flush to the application.
                shared.seen_gen.store(gen, Ordering::SeqCst);
            }
            match exit {
                Exit::Syscall => {
                    let v = self.vcpu.as_ref().expect("a live context has a vCPU");
                    let k = v.fd.get_regs().map_err(|e| kvm_err("KVM_GET_REGS", e))?;
                    self.vcpu().in_ring0 = false;
                    from_kvm(&k, regs);
                    regs.fs_base = self.vcpu().fs_base;
                    regs.gs_base = self.vcpu().gs_base;
                    if k.rip != self.space.vm.entries.syscall_exit {
                        // A write to the MMIO page from anywhere else: there
                        // is nothing there for the application.
                        return Ok(Event::Fault {
                            signo: libc::SIGSEGV,
                            addr: MMIO_VA,
                            code: SEGV_MAPERR,
                        });
                    }
                    regs.rip = k.rcx;
                    regs.eflags = k.r11;
                    regs.orig_rax = k.rax;
                    return Ok(Event::Syscall);
                }
                Exit::Vector(vector) => {
                    self.vcpu().in_ring0 = true;
                    return self.event_for_vector(vector, regs);
                }
                Exit::Interrupted => {
                    let v = self.vcpu.as_ref().expect("a live context has a vCPU");
                    let k = v.fd.get_regs().map_err(|e| kvm_err("KVM_GET_REGS", e))?;
                    let fs = v.fs_base;
                    let gs = v.gs_base;
                    self.vcpu().in_ring0 = false;
                    from_kvm(&k, regs);
                    regs.fs_base = fs;
                    regs.gs_base = gs;
                    shared.clear_immediate_exit();
                    if shared.take_interrupt() || self.space.gone.load(Ordering::SeqCst) {
                        if self.space.gone.load(Ordering::SeqCst) {
                            return Ok(Event::Gone);
                        }
                        return Ok(Event::Interrupted);
                    }
                    // A kick for a page-table change: flush and go on.
                }
                Exit::Touched => {
                    return Err(PlatformError {
                        op: "kvm: stray touch exit",
                        errno: libc::EIO,
                    })
                }
                Exit::Stray(addr) => {
                    tracing::warn!("kvm: MMIO access at {addr:#x}");
                    return Ok(Event::Fault {
                        signo: libc::SIGSEGV,
                        addr: 0,
                        code: SI_KERNEL,
                    });
                }
                Exit::Broken(why) => {
                    tracing::error!("kvm: vCPU stopped: {why}");
                    return Err(PlatformError {
                        op: "kvm: vCPU stopped",
                        errno: libc::EIO,
                    });
                }
            }
        }
    }

    fn give_back(&mut self) {
        if let Some(v) = self.vcpu.take() {
            self.space.unregister(&v.shared);
            self.space.vm.release(v);
        }
    }
}

impl Drop for KvmContext {
    fn drop(&mut self) {
        self.give_back();
    }
}

struct PendingThread(Arc<AsInner>);

impl PendingContext for PendingThread {
    fn attach(self: Box<Self>) -> Result<Box<dyn Context>> {
        Ok(Box::new(KvmContext::new(self.0)?))
    }
}

#[derive(Debug)]
struct Kick {
    vcpu: Arc<VcpuShared>,
    /// The context's generation on the vCPU: once the vCPU serves another
    /// context, this Kick does nothing.
    owner: u64,
    space: Arc<AsInner>,
}

impl Interrupt for Kick {
    fn interrupt(&self) {
        self.vcpu.interrupt(self.owner);
    }

    fn destroy_address_space(&self) {
        self.space.destroy();
    }

    fn revoke_guest_answers(&self) {
        self.vcpu.revoke_answers(self.owner);
    }
}
