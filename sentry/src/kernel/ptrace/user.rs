//! The tracee's registers as ptrace shows them: `struct user` for
//! PTRACE_PEEKUSER/POKEUSER, `user_regs_struct` for GETREGS/SETREGS and
//! NT_PRSTATUS, the FXSAVE area for GETFPREGS and NT_PRFPREG, the XSAVE
//! image for NT_X86_XSTATE.
//!
//! The platform's register type is `user_regs_struct` itself (orig_rax,
//! fs_base and gs_base included), so no conversion is needed; what ptrace
//! adds is Linux's checks on what a tracer may write (putreg).

use platform::Regs;

use crate::errno::Errno;
use crate::usermem::{as_bytes, from_bytes};

/// Words of `user_regs_struct`.
const NREGS: usize = std::mem::size_of::<Regs>() / 8;
pub const REGS_SIZE: usize = std::mem::size_of::<Regs>();
/// Where `u_debugreg` is in `struct user` (gdb reads DR6/DR7 there).
const DEBUGREG: usize = std::mem::offset_of!(libc::user, u_debugreg);
/// The kernel's `struct user` ends with error_code and fault_address,
/// which libc's lacks.
const USER_SIZE: usize = std::mem::size_of::<libc::user>() + 16;
/// The legacy FXSAVE area at the start of an XSAVE image.
pub const FXSAVE_SIZE: usize = std::mem::size_of::<libc::user_fpregs_struct>();
/// Where the XSAVE header's XSTATE_BV is, and where Linux puts XCR0 in
/// the FXSAVE area's software-reserved bytes for NT_X86_XSTATE.
const XSTATE_BV: usize = 512;
const SW_XCR0: usize = 464;
/// x87 and SSE state components, present once FXSAVE bytes are set.
const XFEATURE_FP_SSE: u64 = 0b11;
/// The MXCSR bits a processor accepts (the others fault on restore).
const MXCSR_MASK: u32 = 0xffff;
const MXCSR: usize = std::mem::offset_of!(libc::user_fpregs_struct, mxcsr);
/// The lowest address above user space (TASK_SIZE_MAX on x86-64).
const TASK_SIZE: u64 = (1 << 47) - 4096;
/// EFLAGS bits a tracer may change (Linux's FLAG_MASK: CF PF AF ZF SF
/// TF DF OF RF AC).
const FLAG_MASK: u64 = 0x0005_4dd5;
/// DR7's local and global enable bits for the four breakpoints.
const DR7_ENABLE: u64 = 0xff;

fn words(r: &Regs) -> [u64; NREGS] {
    from_bytes(as_bytes(r))
}

fn index_of(field: &u64, r: &Regs) -> usize {
    (field as *const u64 as usize - r as *const Regs as usize) / 8
}

/// One word of `struct user` at byte offset `off`.
pub fn peek_user(regs: &Regs, debugreg: &[u64; 8], off: u64) -> Result<u64, Errno> {
    let off = off as usize;
    if !off.is_multiple_of(8) || off >= USER_SIZE {
        return Err(Errno::EIO);
    }
    if off < REGS_SIZE {
        return Ok(words(regs)[off / 8]);
    }
    if (DEBUGREG..DEBUGREG + 64).contains(&off) {
        return Ok(debugreg[(off - DEBUGREG) / 8]);
    }
    Ok(0)
}

/// PTRACE_POKEUSER: a register, or a debug register as far as we can
/// honour it (addresses and DR6 are kept; DR7 may not enable a hardware
/// breakpoint, which the platforms cannot arm: EIO).
pub fn poke_user(
    regs: &mut Regs,
    debugreg: &mut [u64; 8],
    off: u64,
    val: u64,
) -> Result<(), Errno> {
    let off = off as usize;
    if !off.is_multiple_of(8) || off >= USER_SIZE {
        return Err(Errno::EIO);
    }
    if off < REGS_SIZE {
        return set_reg(regs, off / 8, val);
    }
    if !(DEBUGREG..DEBUGREG + 64).contains(&off) {
        return Err(Errno::EIO);
    }
    let i = (off - DEBUGREG) / 8;
    match i {
        0..=3 if val < TASK_SIZE => debugreg[i] = val,
        6 => debugreg[i] = val,
        7 if val & DR7_ENABLE == 0 => debugreg[i] = val,
        _ => return Err(Errno::EIO),
    }
    Ok(())
}

/// Changes register `i` (a word index into `user_regs_struct`) as Linux's
/// putreg allows: segment selectors stay (the platform cannot run the
/// task on others), fs_base/gs_base stay in user space, EFLAGS only in its
/// user bits.
fn set_reg(regs: &mut Regs, i: usize, val: u64) -> Result<(), Errno> {
    let mut w = words(regs);
    let r = *regs;
    let selectors = [&r.cs, &r.ss, &r.ds, &r.es, &r.fs, &r.gs].map(|f| index_of(f, &r));
    if selectors.contains(&i) {
        return if w[i] == val { Ok(()) } else { Err(Errno::EIO) };
    }
    let base = i == index_of(&r.fs_base, &r) || i == index_of(&r.gs_base, &r);
    if base && val >= TASK_SIZE {
        return Err(Errno::EIO);
    }
    w[i] = if i == index_of(&r.eflags, &r) {
        (w[i] & !FLAG_MASK) | (val & FLAG_MASK)
    } else {
        val
    };
    *regs = from_bytes(as_bytes(&w));
    Ok(())
}

/// PTRACE_SETREGS and a full NT_PRSTATUS: each word through `set_reg`;
/// nothing changes if one is refused. `bytes` may be a prefix.
pub fn set_regs(regs: &mut Regs, bytes: &[u8]) -> Result<(), Errno> {
    if !bytes.len().is_multiple_of(8) || bytes.len() > REGS_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut new = *regs;
    for (i, c) in bytes.chunks_exact(8).enumerate() {
        set_reg(&mut new, i, u64::from_ne_bytes(c.try_into().unwrap()))?;
    }
    *regs = new;
    Ok(())
}

/// The XSAVE image as NT_X86_XSTATE shows it: XCR0 in the
/// software-reserved bytes (gdb picks its register layout from it).
pub fn xstate_view(mut image: Vec<u8>) -> Vec<u8> {
    if image.len() >= SW_XCR0 + 8 && image[SW_XCR0..SW_XCR0 + 8].iter().all(|b| *b == 0) {
        let l = core::arch::x86_64::__cpuid_count(0xd, 0);
        let xcr0 = l.eax as u64 | ((l.edx as u64) << 32);
        image[SW_XCR0..SW_XCR0 + 8].copy_from_slice(&xcr0.to_ne_bytes());
    }
    image
}

/// Puts FXSAVE bytes (a prefix of `user_fpregs_struct`) into an XSAVE
/// image, marking x87 and SSE state present and keeping MXCSR valid.
pub fn set_fxsave(image: &mut [u8], bytes: &[u8]) -> Result<(), Errno> {
    if bytes.len() > FXSAVE_SIZE || image.len() < XSTATE_BV + 8 {
        return Err(Errno::EINVAL);
    }
    image[..bytes.len()].copy_from_slice(bytes);
    let m = u32::from_ne_bytes(image[MXCSR..MXCSR + 4].try_into().unwrap()) & MXCSR_MASK;
    image[MXCSR..MXCSR + 4].copy_from_slice(&m.to_ne_bytes());
    let bv = u64::from_ne_bytes(image[XSTATE_BV..XSTATE_BV + 8].try_into().unwrap());
    image[XSTATE_BV..XSTATE_BV + 8].copy_from_slice(&(bv | XFEATURE_FP_SSE).to_ne_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> Regs {
        let mut r: Regs = crate::usermem::zeroed();
        r.cs = 0x33;
        r.ss = 0x2b;
        r.eflags = 0x202;
        r
    }

    #[test]
    fn peek_user_reads_registers_by_offset_and_debug_registers_as_kept() {
        let mut r = regs();
        r.rip = 0x1234;
        let off = std::mem::offset_of!(Regs, rip) as u64;
        let mut dr = [0u64; 8];
        assert_eq!(peek_user(&r, &dr, off), Ok(0x1234));
        assert_eq!(peek_user(&r, &dr, (DEBUGREG + 7 * 8) as u64), Ok(0));
        assert_eq!(peek_user(&r, &dr, off + 1), Err(Errno::EIO));
        assert_eq!(peek_user(&r, &dr, USER_SIZE as u64), Err(Errno::EIO));
        poke_user(&mut r, &mut dr, (DEBUGREG + 7 * 8) as u64, 0).unwrap();
        assert_eq!(
            poke_user(&mut r, &mut dr, (DEBUGREG + 7 * 8) as u64, 1),
            Err(Errno::EIO)
        );
    }

    #[test]
    fn a_tracer_changes_eflags_only_in_user_bits_and_not_the_selectors() {
        let mut r = regs();
        let mut dr = [0u64; 8];
        let fl = std::mem::offset_of!(Regs, eflags) as u64;
        poke_user(&mut r, &mut dr, fl, u64::MAX).unwrap();
        assert_eq!(r.eflags, 0x202 | FLAG_MASK);
        let cs = std::mem::offset_of!(Regs, cs) as u64;
        assert_eq!(poke_user(&mut r, &mut dr, cs, 0x10), Err(Errno::EIO));
        poke_user(&mut r, &mut dr, cs, 0x33).unwrap();
        let fsb = std::mem::offset_of!(Regs, fs_base) as u64;
        assert_eq!(poke_user(&mut r, &mut dr, fsb, TASK_SIZE), Err(Errno::EIO));
    }
}
