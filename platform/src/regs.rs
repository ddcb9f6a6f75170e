//! x86-64 register state.

/// The general registers, in the kernel's `user_regs_struct` layout.
pub type Regs = libc::user_regs_struct;

/// An XSAVE image of the FPU/SSE/AVX state (the NT_X86_XSTATE regset format:
/// a 512-byte legacy FXSAVE area, a 64-byte header, then extended components).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct XSave(pub Vec<u8>);

impl XSave {
    /// The size of the legacy FXSAVE region at the start of every image.
    pub const FXSAVE_SIZE: usize = 512;
}

/// The size of the XSAVE area for every feature this CPU supports
/// (CPUID leaf 0xD, sub-leaf 0, ECX). Modern CPUs need several KiB, so a
/// fixed-size buffer would be truncated.
pub fn xsave_size() -> usize {
    // CPUID leaf 0xD is read only when the maximum leaf includes it.
    let max_leaf = core::arch::x86_64::__cpuid(0).eax;
    if max_leaf < 0xd {
        return XSave::FXSAVE_SIZE;
    }
    let leaf = core::arch::x86_64::__cpuid_count(0xd, 0);
    (leaf.ecx as usize).max(XSave::FXSAVE_SIZE + 64)
}
