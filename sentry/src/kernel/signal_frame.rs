//! The x86-64 signal frame: what delivery pushes on the application's
//! stack before it runs a handler, and what rt_sigreturn restores.

use crate::errno::Errno;
use crate::kernel::signal::{bit, SigAction, SigInfo, SA_RESTORER};
use crate::kernel::task::Task;
use crate::usermem::{as_bytes, from_bytes, Pod};

/// The x86-64 `struct sigcontext` (the registers of a signal frame).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct SigContext {
    r8: u64,
    r9: u64,
    r10: u64,
    r11: u64,
    r12: u64,
    r13: u64,
    r14: u64,
    r15: u64,
    rdi: u64,
    rsi: u64,
    rbp: u64,
    rbx: u64,
    rdx: u64,
    rax: u64,
    rcx: u64,
    rsp: u64,
    rip: u64,
    eflags: u64,
    cs: u16,
    gs: u16,
    fs: u16,
    ss: u16,
    err: u64,
    trapno: u64,
    oldmask: u64,
    cr2: u64,
    fpstate: u64,
    reserved: [u64; 8],
}

/// The kernel's `struct ucontext` on x86-64.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UContext {
    flags: u64,
    link: u64,
    ss_sp: u64,
    ss_flags: i32,
    _pad: i32,
    ss_size: u64,
    mcontext: SigContext,
    sigmask: u64,
}
// SAFETY: integers only.
unsafe impl Pod for UContext {}

const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;

impl Task {
    /// Builds a signal frame for `info` and points the registers at the
    /// handler. On failure the task gets SIGSEGV, as Linux does.
    pub fn setup_frame(&mut self, info: &SigInfo, act: &SigAction) -> Result<(), Errno> {
        let regs = self.regs;
        let alt = self.alt_stack();
        let mut sp = regs.rsp;
        if act.flags & libc::SA_ONSTACK as u64 != 0 && alt.size != 0 && !alt.on_stack(sp) {
            sp = alt.sp + alt.size;
        } else {
            sp = sp.wrapping_sub(128); // the red zone
        }
        let fpu = self.ctx_fpu();
        let fp_addr = (sp.wrapping_sub(fpu.len() as u64)) & !63;
        let uc_size = std::mem::size_of::<UContext>() as u64;
        let info_size = std::mem::size_of::<SigInfo>() as u64;
        let frame = (fp_addr.wrapping_sub(8 + uc_size + info_size) & !15).wrapping_sub(8);
        let uc_addr = frame + 8;
        let info_addr = uc_addr + uc_size;
        let old_mask = self.signal_mask();
        let mc = SigContext {
            r8: regs.r8,
            r9: regs.r9,
            r10: regs.r10,
            r11: regs.r11,
            r12: regs.r12,
            r13: regs.r13,
            r14: regs.r14,
            r15: regs.r15,
            rdi: regs.rdi,
            rsi: regs.rsi,
            rbp: regs.rbp,
            rbx: regs.rbx,
            rdx: regs.rdx,
            rax: regs.rax,
            rcx: regs.rcx,
            rsp: regs.rsp,
            rip: regs.rip,
            eflags: regs.eflags,
            cs: regs.cs as u16,
            gs: 0,
            fs: 0,
            ss: regs.ss as u16,
            err: 0,
            trapno: if info.signo == libc::SIGSEGV { 14 } else { 0 },
            oldmask: old_mask,
            cr2: if matches!(info.signo, libc::SIGSEGV | libc::SIGBUS) {
                info.fields[0]
            } else {
                0
            },
            fpstate: if fpu.is_empty() { 0 } else { fp_addr },
            reserved: [0; 8],
        };
        let uc = UContext {
            flags: UC_FP_XSTATE | UC_SIGCONTEXT_SS,
            link: 0,
            ss_sp: alt.sp,
            ss_flags: if alt.size == 0 {
                libc::SS_DISABLE
            } else if alt.on_stack(regs.rsp) {
                libc::SS_ONSTACK
            } else {
                0
            },
            _pad: 0,
            ss_size: alt.size,
            mcontext: mc,
            sigmask: old_mask,
        };
        if act.flags & SA_RESTORER == 0 {
            // Without a restorer there is no way back; x86-64 Linux has no
            // vDSO fallback for it either.
            return Err(Errno::EFAULT);
        }
        self.mm.write(fp_addr, &fpu)?;
        self.mm.write(frame, &act.restorer.to_ne_bytes())?;
        self.mm.write(uc_addr, as_bytes(&uc))?;
        self.mm.write(info_addr, as_bytes(info))?;
        self.regs.rsp = frame;
        self.regs.rip = act.handler;
        self.regs.rdi = info.signo as u64;
        self.regs.rsi = info_addr;
        self.regs.rdx = uc_addr;
        self.regs.rax = 0;
        // The handler starts with the direction flag clear, as the ABI wants.
        self.regs.eflags &= !0x400;
        let mut mask = old_mask | act.mask;
        if act.flags & libc::SA_NODEFER as u64 == 0 {
            mask |= bit(info.signo);
        }
        self.set_signal_mask(mask);
        Ok(())
    }

    /// rt_sigreturn: restores what `setup_frame` saved.
    pub fn restore_frame(&mut self) -> Result<(), Errno> {
        let uc_addr = self.regs.rsp;
        let mut buf = vec![0u8; std::mem::size_of::<UContext>()];
        self.mm.read(uc_addr, &mut buf)?;
        let uc: UContext = from_bytes(&buf);
        let mc = uc.mcontext;
        let r = &mut self.regs;
        r.r8 = mc.r8;
        r.r9 = mc.r9;
        r.r10 = mc.r10;
        r.r11 = mc.r11;
        r.r12 = mc.r12;
        r.r13 = mc.r13;
        r.r14 = mc.r14;
        r.r15 = mc.r15;
        r.rdi = mc.rdi;
        r.rsi = mc.rsi;
        r.rbp = mc.rbp;
        r.rbx = mc.rbx;
        r.rdx = mc.rdx;
        r.rax = mc.rax;
        r.rcx = mc.rcx;
        r.rsp = mc.rsp;
        r.rip = mc.rip;
        // Only the flags user code may change (CF PF AF ZF SF TF DF OF AC).
        const USER_FLAGS: u64 = 0x40dd5;
        r.eflags = (r.eflags & !USER_FLAGS) | (mc.eflags & USER_FLAGS);
        r.orig_rax = u64::MAX;
        self.set_signal_mask(uc.sigmask);
        if mc.fpstate != 0 {
            let len = self.ctx_fpu_len();
            let mut fp = vec![0u8; len];
            self.mm.read(mc.fpstate, &mut fp)?;
            self.ctx_set_fpu(fp)?;
        }
        Ok(())
    }
}
