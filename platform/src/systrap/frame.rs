//! The kernel's signal frame on a stub thread's alternate stack: the
//! application's registers and XSAVE image at an event, read into
//! [`Regs`] and written back before the stub's `rt_sigreturn`.
//!
//! Layout (x86-64 `struct ucontext` and `struct sigcontext`): uc_flags,
//! uc_link, uc_stack (24 bytes), then the sigcontext: r8..r15, rdi, rsi,
//! rbp, rbx, rdx, rax, rcx, rsp, rip, eflags, cs/gs/fs/ss (u16 each),
//! err, trapno, oldmask, cr2, the fpstate pointer, 8 reserved words; then
//! uc_sigmask.

use crate::{Regs, XSave};

/// Offset of the sigcontext in the ucontext.
pub(super) const MCONTEXT: usize = 40;
/// The sigcontext's general registers, in order, by word index.
pub(super) const R8: usize = 0;
pub(super) const R9: usize = 1;
pub(super) const R10: usize = 2;
pub(super) const R11: usize = 3;
pub(super) const R12: usize = 4;
pub(super) const R13: usize = 5;
pub(super) const R14: usize = 6;
pub(super) const R15: usize = 7;
pub(super) const RDI: usize = 8;
pub(super) const RSI: usize = 9;
pub(super) const RBP: usize = 10;
pub(super) const RBX: usize = 11;
pub(super) const RDX: usize = 12;
pub(super) const RAX: usize = 13;
pub(super) const RCX: usize = 14;
pub(super) const RSP: usize = 15;
pub(super) const RIP: usize = 16;
pub(super) const EFLAGS: usize = 17;
/// cs, gs, fs, ss as four u16 in one word.
pub(super) const SEGMENTS: usize = 18;
/// The fpstate pointer's word.
pub(super) const FPSTATE: usize = 23;
/// uc_sigmask's offset in the ucontext.
pub(super) const UC_SIGMASK: usize = MCONTEXT + 32 * 8;
/// The bytes of the ucontext the platform reads (through uc_sigmask).
pub const UC_LEN: u64 = (MCONTEXT + 32 * 8 + 8) as u64;

/// The user code and stack selectors of x86-64 Linux.
pub(super) const USER_CS: u64 = 0x33;
pub(super) const USER_SS: u64 = 0x2b;

/// A frame in shared memory: `uc` is the Sentry's pointer to the
/// ucontext, checked by the caller to lie in the thread's region.
pub struct Frame {
    uc: *mut u64,
}

impl Frame {
    /// # Safety
    /// `uc` points to [`UC_LEN`] bytes of memory that stays mapped while
    /// the frame is used (the thread's region), 8-aligned.
    pub unsafe fn new(uc: *mut u8) -> Frame {
        Frame { uc: uc as *mut u64 }
    }

    fn word(&self, i: usize) -> u64 {
        // SAFETY: `i` indexes the sigcontext, inside UC_LEN (Frame::new's
        // contract); volatile because the stub's other threads may write
        // the page.
        unsafe { self.uc.add(MCONTEXT / 8 + i).read_volatile() }
    }

    fn set(&self, i: usize, v: u64) {
        // SAFETY: as in `word`.
        unsafe { self.uc.add(MCONTEXT / 8 + i).write_volatile(v) }
    }

    /// The ucontext's uc_flags.
    pub fn uc_flags(&self) -> u64 {
        // SAFETY: word 0 of the ucontext, inside UC_LEN (Frame::new's
        // contract).
        unsafe { self.uc.read_volatile() }
    }

    /// The stub address of the XSAVE image, as the frame says.
    pub fn fpstate(&self) -> u64 {
        self.word(FPSTATE)
    }

    /// The registers at the event; fs_base and gs_base come from the stub,
    /// which read them on entry.
    pub fn regs(&self, fs_base: u64, gs_base: u64) -> Regs {
        // SAFETY: plain data, zero is valid.
        let mut r: Regs = unsafe { std::mem::zeroed() };
        r.r8 = self.word(R8);
        r.r9 = self.word(R9);
        r.r10 = self.word(R10);
        r.r11 = self.word(R11);
        r.r12 = self.word(R12);
        r.r13 = self.word(R13);
        r.r14 = self.word(R14);
        r.r15 = self.word(R15);
        r.rdi = self.word(RDI);
        r.rsi = self.word(RSI);
        r.rbp = self.word(RBP);
        r.rbx = self.word(RBX);
        r.rdx = self.word(RDX);
        r.rax = self.word(RAX);
        r.rcx = self.word(RCX);
        r.rsp = self.word(RSP);
        r.rip = self.word(RIP);
        r.eflags = self.word(EFLAGS);
        r.cs = USER_CS;
        r.ss = USER_SS;
        r.fs_base = fs_base;
        r.gs_base = gs_base;
        r.orig_rax = u64::MAX;
        r
    }

    /// Writes `r` into the frame for `rt_sigreturn` (the selectors stay
    /// the user ones the kernel wrote).
    pub fn set_regs(&self, r: &Regs) {
        self.set(R8, r.r8);
        self.set(R9, r.r9);
        self.set(R10, r.r10);
        self.set(R11, r.r11);
        self.set(R12, r.r12);
        self.set(R13, r.r13);
        self.set(R14, r.r14);
        self.set(R15, r.r15);
        self.set(RDI, r.rdi);
        self.set(RSI, r.rsi);
        self.set(RBP, r.rbp);
        self.set(RBX, r.rbx);
        self.set(RDX, r.rdx);
        self.set(RAX, r.rax);
        self.set(RCX, r.rcx);
        self.set(RSP, r.rsp);
        self.set(RIP, r.rip);
        self.set(EFLAGS, r.eflags);
        let seg = self.word(SEGMENTS);
        // cs in the low 16 bits, ss in the top 16: always the user ones.
        let seg = (seg & 0x0000_ffff_ffff_0000) | USER_CS | (USER_SS << 48);
        self.set(SEGMENTS, seg);
    }
}

/// The software-reserved bytes of an FXSAVE image, where the kernel's
/// signal frame says how big the XSAVE image after them is.
pub(super) const SW_BYTES: usize = 464;
/// `FP_XSTATE_MAGIC1`: the frame holds an XSAVE image, not only FXSAVE.
pub(super) const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// `FP_XSTATE_MAGIC2`: the word after an XSAVE image in a signal frame.
pub(super) const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// `SYS_SECCOMP`: the si_code of a SIGSYS from a seccomp filter.
pub(super) const SYS_SECCOMP: i32 = 1;
/// The XSAVE header's XSTATE_BV.
const XSTATE_BV: usize = 512;
/// MXCSR in the legacy area; its bits the CPU accepts.
const MXCSR: usize = 24;
const MXCSR_MASK: usize = 28;

/// The size of the XSAVE image at `fp` and the features it may hold.
///
/// # Safety
/// `fp` points to at least 512 readable bytes.
pub unsafe fn xsave_extent(fp: *const u8) -> (usize, u64) {
    // SAFETY: the caller's contract covers the legacy area.
    let (magic, size, features) = unsafe {
        (
            (fp.add(SW_BYTES) as *const u32).read_unaligned(),
            (fp.add(SW_BYTES + 16) as *const u32).read_unaligned(),
            (fp.add(SW_BYTES + 8) as *const u64).read_unaligned(),
        )
    };
    if magic != FP_XSTATE_MAGIC1 {
        return (XSave::FXSAVE_SIZE, 0);
    }
    (size as usize, features)
}

/// Reads the XSAVE image at `fp` (`size` bytes, from [`xsave_extent`]) as
/// an image of `len` bytes.
///
/// # Safety
/// `fp` points to `size` readable bytes.
pub unsafe fn read_fpu(fp: *const u8, size: usize, len: usize) -> XSave {
    let mut out = vec![0u8; len];
    let n = size.min(len);
    // SAFETY: n bytes are readable at fp (the contract) and writable in out.
    unsafe { std::ptr::copy_nonoverlapping(fp, out.as_mut_ptr(), n) };
    XSave(out)
}

/// Writes `x` into the frame's image at `fp` (`size` bytes holding
/// `features`), keeping the frame's software bytes and giving the kernel
/// nothing it would refuse at `rt_sigreturn` (unknown features, MXCSR
/// bits the CPU lacks).
///
/// # Safety
/// `fp` points to `size` writable bytes, `size` >= 512.
pub unsafe fn write_fpu(fp: *mut u8, size: usize, features: u64, x: &XSave) {
    let src = &x.0;
    let n = src.len().min(size);
    // SAFETY: every range below lies in [fp, fp + size) and in src.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), fp, n.min(SW_BYTES));
        if n > XSTATE_BV {
            std::ptr::copy_nonoverlapping(
                src.as_ptr().add(XSTATE_BV),
                fp.add(XSTATE_BV),
                n - XSTATE_BV,
            );
            let bv = fp.add(XSTATE_BV) as *mut u64;
            bv.write_unaligned(bv.read_unaligned() & features);
        }
        let mask = (fp.add(MXCSR_MASK) as *const u32).read_unaligned();
        let mask = if mask == 0 { 0xffbf } else { mask };
        let mx = fp.add(MXCSR) as *mut u32;
        mx.write_unaligned(mx.read_unaligned() & mask);
    }
}
