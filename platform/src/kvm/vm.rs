//! The VM: its memory, the shared guest code and tables, and the vCPUs,
//! each bound to one context while the context lives, then pooled.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use kvm_bindings::{kvm_msr_entry, kvm_xcrs, kvm_xsave, CpuId, Msrs};
use kvm_ioctls::{Kvm, VcpuFd, VmFd};

use super::layout::*;
use super::memory::{FileSlots, PlatformMemory};
use super::ring0;
use crate::{PlatformError, Result};

pub fn kvm_err(op: &'static str, e: kvm_ioctls::Error) -> PlatformError {
    PlatformError {
        op,
        errno: e.errno(),
    }
}

/// The vDSO's memslot: after every memory-file chunk's.
const VDSO_SLOT: u32 = (FILE_GPA_END / FILE_CHUNK) as u32 + 1;

const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_CSTAR: u32 = 0xc000_0083;
const MSR_SYSCALL_MASK: u32 = 0xc000_0084;

const CR0_PE: u64 = 1;
const CR0_MP: u64 = 1 << 1;
const CR0_ET: u64 = 1 << 4;
const CR0_NE: u64 = 1 << 5;
const CR0_WP: u64 = 1 << 16;
const CR0_AM: u64 = 1 << 18;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_PGE: u64 = 1 << 7;
const CR4_OSFXSR: u64 = 1 << 9;
const CR4_OSXMMEXCPT: u64 = 1 << 10;
const CR4_FSGSBASE: u64 = 1 << 16;
const CR4_OSXSAVE: u64 = 1 << 18;
const EFER_SCE: u64 = 1;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const EFER_NXE: u64 = 1 << 11;

/// What other threads touch of a vCPU: to kick it out of KVM_RUN.
#[derive(Debug)]
pub struct VcpuShared {
    /// The kvm_run page's `immediate_exit` byte.
    immediate_exit: usize,
    /// The thread that runs the vCPU (for the kick signal).
    pub tid: AtomicI32,
    pub in_guest: AtomicBool,
    pub exits: AtomicU64,
    /// `owner << 1 | want`: the generation of the context the vCPU is bound
    /// to, and whether that context is asked to return `Interrupted`. One
    /// word, so that an [`Interrupter`](crate::Interrupter) of an earlier
    /// owner (the vCPU went back to the pool and another context took it)
    /// can never raise the flag for the new one.
    interrupt: AtomicU64,
    /// The page-table generation this vCPU flushed for.
    pub seen_gen: AtomicU64,
    /// The vCPU's answers page, in our mapping of platform memory.
    answers: usize,
    /// Set by [`VcpuShared::revoke_answers`]; see
    /// [`crate::Context::offer_guest_answers`].
    pub answers_revoked: AtomicBool,
}

impl VcpuShared {
    fn immediate_exit(&self) -> &AtomicU8 {
        // SAFETY: the kvm_run page is mapped for the vCPU's lifetime (vCPUs
        // are never closed); an AtomicU8 has a u8's layout.
        unsafe { &*(self.immediate_exit as *const AtomicU8) }
    }

    /// Binds the vCPU to a new owner, with no interrupt pending; returns
    /// the owner's generation.
    fn new_owner(&self) -> u64 {
        let owner = (self.interrupt.load(Ordering::SeqCst) >> 1) + 1;
        self.interrupt.store(owner << 1, Ordering::SeqCst);
        owner
    }

    /// Asks the vCPU's context to return `Interrupted`, if it is still
    /// `owner`'s, and kicks it out of the guest.
    pub fn interrupt(&self, owner: u64) {
        let asked = self
            .interrupt
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                (w >> 1 == owner).then_some(w | 1)
            })
            .is_ok();
        if asked {
            self.kick();
        }
    }

    /// Whether an interrupt was asked for since the last call.
    pub fn take_interrupt(&self) -> bool {
        self.interrupt.fetch_and(!1, Ordering::SeqCst) & 1 != 0
    }

    /// The generation of the context the vCPU is bound to.
    pub fn owner(&self) -> u64 {
        self.interrupt.load(Ordering::SeqCst) >> 1
    }

    pub fn clear_immediate_exit(&self) {
        self.immediate_exit().store(0, Ordering::SeqCst);
    }

    /// Makes the vCPU leave KVM_RUN (now, or at its next entry).
    pub fn kick(&self) {
        self.immediate_exit().store(1, Ordering::SeqCst);
        if self.in_guest.load(Ordering::SeqCst) {
            let tid = self.tid.load(Ordering::SeqCst);
            if tid > 0 {
                // SAFETY: tgkill only sends a signal to a thread of ours.
                unsafe {
                    libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, kick_signal());
                }
            }
        }
    }

    /// The answers page's word at `offset`.
    fn answer_word(&self, offset: u64) -> &AtomicU64 {
        debug_assert!(offset < PAGE && offset.is_multiple_of(8));
        // SAFETY: the answers page is platform memory, mapped for the VM's
        // lifetime and never reused; an aligned u64 in it is an AtomicU64's
        // layout. The guest only reads it.
        unsafe { &*((self.answers + offset as usize) as *const AtomicU64) }
    }

    /// Whether the entry answers calls in place.
    pub fn set_answers_enabled(&self, on: bool) {
        self.answer_word(ANSWER_ENABLED)
            .store(u64::from(on), Ordering::SeqCst);
    }

    /// Writes the answers (only while the vCPU is not in the guest: its
    /// own thread, between switches).
    pub fn write_answers(&self, a: &crate::GuestAnswers) {
        for (off, v) in [
            (ANSWER_GETPID, a.getpid),
            (ANSWER_GETTID, a.gettid),
            (ANSWER_GETPPID, a.getppid),
            (ANSWER_GETUID, a.getuid),
            (ANSWER_GETEUID, a.geteuid),
            (ANSWER_GETGID, a.getgid),
            (ANSWER_GETEGID, a.getegid),
        ] {
            self.answer_word(off).store(v, Ordering::Relaxed);
        }
    }

    /// From any thread: the entry stops answering calls in place before
    /// this returns, if the vCPU still serves `owner`.
    pub fn revoke_answers(&self, owner: u64) {
        if self.owner() == owner {
            self.answers_revoked.store(true, Ordering::SeqCst);
            self.set_answers_enabled(false);
        }
    }

    /// Kicks the vCPU and waits until it is out of the guest.
    pub fn kick_and_wait(&self) {
        let before = self.exits.load(Ordering::SeqCst);
        self.kick();
        let mut spins = 0u32;
        while self.in_guest.load(Ordering::SeqCst) && self.exits.load(Ordering::SeqCst) == before {
            spins += 1;
            if spins.is_multiple_of(64) {
                self.kick();
            }
            std::thread::yield_now();
        }
    }
}

/// The signal that kicks a vCPU thread out of KVM_RUN.
pub fn kick_signal() -> i32 {
    libc::SIGRTMIN() + 2
}

extern "C" fn on_kick(_: libc::c_int) {}

/// Installs the kick signal's (empty) handler, once.
pub fn install_kick_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler that does nothing; SA_RESTART keeps the
        // Sentry's own blocking calls going should a kick arrive late.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_kick as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigaction(kick_signal(), &sa, std::ptr::null_mut());
        }
    });
}

pub struct Vcpu {
    pub index: u64,
    pub fd: VcpuFd,
    pub shared: Arc<VcpuShared>,
    /// Guest-physical address of the first page (GDT, TSS, touch list) and
    /// of the ring-0 stack page.
    pub page: u64,
    pub stack: u64,
    /// In ring 0 (in a stub) rather than in the application.
    pub in_ring0: bool,
    /// What the answers page holds, when enabled.
    pub answers: Option<crate::GuestAnswers>,
    /// The generation of the context the vCPU is bound to (see
    /// [`VcpuShared::interrupt`]).
    pub owner: u64,
    pub cr3: u64,
    pub fs_base: u64,
    pub gs_base: u64,
}

pub struct Vm {
    _kvm: Kvm,
    pub vm: VmFd,
    pub mem: Arc<PlatformMemory>,
    pub file: FileSlots,
    pub region_pdpt: u64,
    vcpu_tables: [u64; VCPU_AREA_TABLES],
    pub entries: ring0::Entries,
    cpuid: CpuId,
    xcr0: u64,
    initial_xsave: std::sync::OnceLock<Box<kvm_xsave>>,
    pool: Mutex<Vec<Vcpu>>,
    next_index: Mutex<u64>,
    pub max_vcpus: u64,
    /// The host's vDSO, when it could be given to the guest.
    pub vdso: Option<super::vdso::HostVdso>,
}

impl Vm {
    pub fn new(kvm_fd: i32, memfd: i32) -> Result<Arc<Vm>> {
        install_kick_handler();
        // SAFETY: the descriptor was opened on /dev/kvm by `prepare` and is
        // ours; it is duplicated so the prepared one stays for other VMs.
        let kvm = unsafe {
            use std::os::fd::FromRawFd;
            let dup = libc::fcntl(kvm_fd, libc::F_DUPFD_CLOEXEC, 0);
            if dup < 0 {
                return Err(PlatformError {
                    op: "dup /dev/kvm",
                    errno: nix::errno::Errno::last_raw(),
                });
            }
            Kvm::from_raw_fd(dup)
        };
        let vm = kvm.create_vm().map_err(|e| kvm_err("KVM_CREATE_VM", e))?;
        let mem = Arc::new(PlatformMemory::new(&vm)?);
        let file = FileSlots::new(memfd)?;
        let code = ring0::code();
        let entries = ring0::entries();
        let tramp = mem.alloc()?;
        mem.write(tramp, code.trampoline);
        let kcode = mem.alloc()?;
        mem.write(kcode, code.kcode);
        let idt = mem.alloc()?;
        mem.write(idt, &ring0::idt(entries.vectors));
        // The shared tables of the platform region.
        let region_pdpt = mem.alloc()?;
        let pd0 = mem.alloc()?;
        let mut vcpu_tables = [0u64; VCPU_AREA_TABLES];
        // SAFETY: every pointer below is into a table page just allocated
        // in platform memory, at an index below 512.
        unsafe {
            *mem.table(region_pdpt) = pd0 | PTE_P | PTE_W | PTE_U;
            for (i, t) in vcpu_tables.iter_mut().enumerate() {
                *t = mem.alloc()?;
                *mem.table(pd0).add(i) = *t | PTE_P | PTE_W | PTE_U;
            }
            let pt0 = mem.table(vcpu_tables[0]);
            *pt0 = tramp | PTE_P | PTE_U;
            *pt0.add(1) = MMIO_GPA | PTE_P | PTE_W | PTE_U | PTE_NX;
            *pt0.add(2) = kcode | PTE_P;
            *pt0.add(3) = idt | PTE_P | PTE_NX;
            let window_slot = ((WINDOW - REGION) >> 30) as usize;
            for g in 0..(PLAT_SIZE >> 30) {
                let pd = mem.alloc()?;
                *mem.table(region_pdpt).add(window_slot + g as usize) = pd | PTE_P | PTE_W;
                for j in 0..512u64 {
                    let gpa = PLAT_GPA + (g << 30) + (j << 21);
                    *mem.table(pd).add(j as usize) = gpa | PTE_P | PTE_W | PTE_PS | PTE_NX;
                }
            }
        }
        let mut cpuid = kvm
            .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
            .map_err(|e| kvm_err("KVM_GET_SUPPORTED_CPUID", e))?;
        let mut xcr0 = 1u64;
        for e in cpuid.as_mut_slice() {
            if e.function == 0xd && e.index == 0 {
                xcr0 = (e.eax as u64) | ((e.edx as u64) << 32);
            }
        }
        let max_vcpus = (kvm.get_max_vcpus() as u64).min(MAX_VCPUS);
        // Memslots 1.. are the memory file's chunks; the vDSO takes the last.
        let vdso = super::vdso::find().filter(|v| v.register(&vm, VDSO_SLOT));
        let vm = Arc::new(Vm {
            _kvm: kvm,
            vm,
            mem,
            file,
            region_pdpt,
            vcpu_tables,
            entries,
            cpuid,
            xcr0,
            initial_xsave: std::sync::OnceLock::new(),
            pool: Mutex::new(Vec::new()),
            next_index: Mutex::new(0),
            max_vcpus,
            vdso,
        });
        // The FPU state a fresh vCPU starts with, for pooled ones.
        let first = vm.create_vcpu()?;
        let xs = first
            .fd
            .get_xsave()
            .map_err(|e| kvm_err("KVM_GET_XSAVE", e))?;
        let _ = vm.initial_xsave.set(Box::new(xs));
        vm.pool.lock().unwrap().push(first);
        Ok(vm)
    }

    fn create_vcpu(&self) -> Result<Vcpu> {
        let index = {
            let mut n = self.next_index.lock().unwrap_or_else(|e| e.into_inner());
            if *n >= self.max_vcpus {
                return Err(PlatformError {
                    op: "no vCPU left (KVM_CAP_MAX_VCPUS)",
                    errno: libc::EAGAIN,
                });
            }
            *n += 1;
            *n - 1
        };
        let page = self.mem.alloc()?;
        let stack = self.mem.alloc()?;
        let entry = self.mem.alloc()?;
        let answers = self.mem.alloc()?;
        self.mem.write(entry, ring0::code().entry);
        self.mem
            .write(answers + ANSWER_SLOW, &self.entries.syscall.to_le_bytes());
        let va = vcpu_page(index);
        // The four pages sit in one table: VCPU_AREA is 2 MiB-aligned and
        // 512 is a multiple of VCPU_PAGES.
        let table = self.vcpu_tables[((va - REGION) >> 21) as usize];
        // SAFETY: a shared region table of ours, index < 512; the new
        // entries were not present, so no shadow of them needs dropping.
        unsafe {
            let pt = self.mem.table(table);
            let slot = |i: u64| (((va + i * PAGE) >> 12) & 511) as usize;
            *pt.add(slot(0)) = page | PTE_P | PTE_W | PTE_NX;
            *pt.add(slot(VCPU_STACK_PAGE)) = stack | PTE_P | PTE_W | PTE_NX;
            *pt.add(slot(VCPU_ENTRY_PAGE)) = entry | PTE_P | PTE_U;
            *pt.add(slot(VCPU_ANSWERS_PAGE)) = answers | PTE_P | PTE_U | PTE_NX;
        }
        let gdt = ring0::gdt(va + TSS_OFFSET);
        let gdt_bytes: Vec<u8> = gdt.iter().flat_map(|e| e.to_le_bytes()).collect();
        self.mem.write(page, &gdt_bytes);
        self.mem.write(
            page + TSS_OFFSET,
            &ring0::tss(va + (VCPU_STACK_PAGE + 1) * PAGE),
        );
        let mut fd = self
            .vm
            .create_vcpu(index)
            .map_err(|e| kvm_err("KVM_CREATE_VCPU", e))?;
        fd.set_cpuid2(&self.cpuid)
            .map_err(|e| kvm_err("KVM_SET_CPUID2", e))?;
        let mut xcrs = kvm_xcrs {
            nr_xcrs: 1,
            ..Default::default()
        };
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = self.xcr0;
        fd.set_xcrs(&xcrs).map_err(|e| kvm_err("KVM_SET_XCRS", e))?;
        let mut s = fd.get_sregs().map_err(|e| kvm_err("KVM_GET_SREGS", e))?;
        s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG;
        s.cr4 = CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT | CR4_FSGSBASE | CR4_OSXSAVE;
        s.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE;
        let code = kvm_bindings::kvm_segment {
            base: 0,
            limit: 0xffff_ffff,
            selector: KERNEL_CS,
            type_: 11,
            present: 1,
            dpl: 0,
            db: 0,
            s: 1,
            l: 1,
            g: 1,
            ..Default::default()
        };
        let data = kvm_bindings::kvm_segment {
            selector: KERNEL_DS,
            type_: 3,
            db: 1,
            l: 0,
            ..code
        };
        s.cs = code;
        s.ss = data;
        s.ds = data;
        s.es = data;
        s.fs = data;
        s.gs = data;
        s.tr = kvm_bindings::kvm_segment {
            base: va + TSS_OFFSET,
            limit: 103,
            selector: TSS_SEL,
            type_: 11,
            present: 1,
            s: 0,
            ..Default::default()
        };
        s.gdt.base = va;
        s.gdt.limit = (GDT_ENTRIES * 8 - 1) as u16;
        s.idt.base = IDT;
        s.idt.limit = 32 * 16 - 1;
        fd.set_sregs(&s).map_err(|e| kvm_err("KVM_SET_SREGS", e))?;
        let star = ((KERNEL_CS as u64) << 32) | ((USER32_CS as u64) << 48);
        let msrs = Msrs::from_entries(&[
            kvm_msr_entry {
                index: MSR_STAR,
                data: star,
                ..Default::default()
            },
            kvm_msr_entry {
                index: MSR_LSTAR,
                data: va + VCPU_ENTRY_PAGE * PAGE,
                ..Default::default()
            },
            kvm_msr_entry {
                index: MSR_CSTAR,
                data: self.entries.syscall,
                ..Default::default()
            },
            kvm_msr_entry {
                index: MSR_SYSCALL_MASK,
                data: SYSCALL_CLEARED_FLAGS,
                ..Default::default()
            },
        ])
        .map_err(|_| PlatformError {
            op: "MSR list",
            errno: libc::EINVAL,
        })?;
        let n = fd.set_msrs(&msrs).map_err(|e| kvm_err("KVM_SET_MSRS", e))?;
        if n != 4 {
            return Err(PlatformError {
                op: "KVM_SET_MSRS (syscall MSRs refused)",
                errno: libc::EINVAL,
            });
        }
        let immediate_exit = std::ptr::addr_of_mut!(fd.get_kvm_run().immediate_exit) as usize;
        Ok(Vcpu {
            index,
            fd,
            shared: Arc::new(VcpuShared {
                immediate_exit,
                tid: AtomicI32::new(0),
                in_guest: AtomicBool::new(false),
                exits: AtomicU64::new(0),
                interrupt: AtomicU64::new(0),
                seen_gen: AtomicU64::new(0),
                answers: self.mem.host(answers) as usize,
                answers_revoked: AtomicBool::new(false),
            }),
            page,
            stack,
            in_ring0: true,
            answers: None,
            owner: 0,
            cr3: 0,
            fs_base: 0,
            gs_base: 0,
        })
    }

    /// A vCPU for the calling thread, in address space `cr3`, with a fresh
    /// FPU state.
    pub fn acquire(&self, cr3: u64) -> Result<Vcpu> {
        let pooled = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut v = match pooled {
            Some(v) => v,
            None => self.create_vcpu()?,
        };
        // SAFETY: gettid has no preconditions.
        v.shared
            .tid
            .store(unsafe { libc::gettid() }, Ordering::SeqCst);
        v.owner = v.shared.new_owner();
        v.shared.clear_immediate_exit();
        // Nothing answered in place until the new owner offers answers.
        v.shared.set_answers_enabled(false);
        v.answers = None;
        v.shared.seen_gen.store(0, Ordering::SeqCst);
        let mut s = v.fd.get_sregs().map_err(|e| kvm_err("KVM_GET_SREGS", e))?;
        s.cr3 = cr3;
        s.fs.base = 0;
        s.gs.base = 0;
        v.fd.set_sregs(&s)
            .map_err(|e| kvm_err("KVM_SET_SREGS", e))?;
        v.cr3 = cr3;
        v.fs_base = 0;
        v.gs_base = 0;
        if let Some(xs) = self.initial_xsave.get() {
            // SAFETY: the image came from KVM_GET_XSAVE of a vCPU of this
            // VM, so it has the size KVM expects.
            unsafe { v.fd.set_xsave(xs) }.map_err(|e| kvm_err("KVM_SET_XSAVE", e))?;
        }
        Ok(v)
    }

    pub fn release(&self, v: Vcpu) {
        v.shared.tid.store(0, Ordering::SeqCst);
        v.shared.set_answers_enabled(false);
        self.pool.lock().unwrap_or_else(|e| e.into_inner()).push(v);
    }
}
