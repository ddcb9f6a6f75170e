//! The site rules of syscall patching: which `syscall` instructions of
//! application code may be replaced by a jump to a trampoline, what the
//! 7 bytes become, and how a thread that lands in the middle of a patched
//! site is recognised. Pure functions over bytes, so each rule is tested
//! on its own; docs/architecture.md ("Syscall patching") gives the
//! argument. The trampoline is in `stub.rs`; the table, the store and the
//! fault's handling are the Sentry's (`mm/patch.rs`,
//! `kernel/syscall_patch.rs`).
//!
//! A site is the exact pair `mov $nr, %eax; syscall` (`b8 imm32 0f 05`),
//! with `imm32` the number the call was made with. It becomes
//! `jmp *slot` (`ff 24 25 disp32`, an indirect jump through the 8-byte
//! pointer at absolute address `slot`), where `slot` lies in
//! [`TABLE_START`, `TABLE_END`): the patch's last two bytes, where the
//! `syscall` was, are then `06 00`, and `06` (`push %es`) is an invalid
//! opcode in 64-bit mode. Code that jumps straight to the old `syscall`
//! (the one instruction boundary inside the site besides its start)
//! therefore raises #UD there, at a known place, instead of running the
//! middle of the jump: the Sentry makes that thread's call with the rax it
//! has, which is what the `syscall` would have done ([`syscall_in_patch`]).

/// The bytes of a site and of its patch.
pub const SITE_LEN: usize = 7;
/// `mov $imm32, %eax`.
const MOV_EAX_IMM32: u8 = 0xb8;
/// `syscall`.
const SYSCALL: [u8; 2] = [0x0f, 0x05];
/// `jmp *disp32`: opcode ff /4, ModRM 0x24 (mod 00, reg 4, r/m 100: a SIB
/// follows), SIB 0x25 (no index, no base: an absolute 32-bit address).
const JMP_ABS: [u8; 3] = [0xff, 0x24, 0x25];
/// Where the `syscall` was in a site.
pub const SYSCALL_OFFSET: u64 = 5;
/// The trampoline table's address range: the top 16 bits of every
/// address in it are `0x0006`, so a patch's bytes 5 and 6 are `06 00`.
/// `06` is `push %es`, invalid in 64-bit mode; gVisor's usertrap table
/// uses the same range for the same reason.
pub const TABLE_START: u64 = 0x6_0000;
pub const TABLE_END: u64 = 0x7_0000;
/// The invalid opcode a patch leaves where the `syscall` was.
const INVALID_OPCODE: u8 = 0x06;
/// The patch is written with one aligned store of this many bytes.
pub const STORE: u64 = 8;

/// Whether `code` (the 7 bytes ending where the call returned to, that
/// is at `rip - 7`) is a patchable site for call number `nr`: exactly
/// `mov $nr, %eax; syscall`. A `mov` of another number (the call came
/// from a jump to the `syscall` with rax set elsewhere) is not.
pub fn is_site(code: &[u8; SITE_LEN], nr: u64) -> bool {
    let imm = u32::from_le_bytes([code[1], code[2], code[3], code[4]]);
    code[0] == MOV_EAX_IMM32 && code[5..] == SYSCALL && u64::from(imm) == nr
}

/// Whether the 7 bytes at `site` lie in one aligned 8-byte word, so the
/// patch can be one aligned 8-byte store: a thread of the address space
/// then fetches either the old two instructions or the new one, never a
/// mixture (a `mov` with half a jump's address as its number, or the
/// jump with half the number as its address). Sites that straddle two
/// words are not patched.
pub fn fits_one_store(site: u64) -> bool {
    site % STORE + SITE_LEN as u64 <= STORE
}

/// The 7 bytes of `jmp *slot`, when `slot` is a table address (8-aligned,
/// in the table's range).
pub fn patch_bytes(slot: u64) -> Option<[u8; SITE_LEN]> {
    if !(TABLE_START..TABLE_END).contains(&slot) || !slot.is_multiple_of(8) {
        return None;
    }
    let a = (slot as u32).to_le_bytes();
    Some([JMP_ABS[0], JMP_ABS[1], JMP_ABS[2], a[0], a[1], a[2], a[3]])
}

/// The aligned word holding `site` after the patch, given the word's
/// current value `old` (little-endian, as loaded from `site & !7`): None
/// unless the site fits one store, the word still holds a site for `nr`
/// and `slot` is a table address. The byte of the word outside the site
/// is kept, so the store can be a compare-and-swap of `old` for the
/// result: it fails, and nothing is written, if any byte changed since.
pub fn patched_word(site: u64, old: u64, nr: u64, slot: u64) -> Option<u64> {
    if !fits_one_store(site) {
        return None;
    }
    let at = (site % STORE) as usize;
    let mut bytes = old.to_le_bytes();
    let code: [u8; SITE_LEN] = bytes[at..at + SITE_LEN].try_into().ok()?;
    if !is_site(&code, nr) {
        return None;
    }
    bytes[at..at + SITE_LEN].copy_from_slice(&patch_bytes(slot)?);
    Some(u64::from_le_bytes(bytes))
}

/// Whether a thread whose invalid-opcode fault is at `rip`, with `code`
/// the 7 bytes at `rip - 5`, stopped where a patch put the `06` in place
/// of a `syscall`: it jumped to the old `syscall` (or was resumed there,
/// by a restart that moved rip back 2 bytes, or had run the `mov` just
/// before the patch was stored). Its call is then the one in its rax, and
/// it returns to `rip + 2`, as from the `syscall`.
pub fn syscall_in_patch(code: &[u8; SITE_LEN]) -> bool {
    let slot = u64::from(u32::from_le_bytes([code[3], code[4], code[5], code[6]]));
    code[..3] == JMP_ABS && code[5] == INVALID_OPCODE && patch_bytes(slot).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// glibc 2.36's getpid: `mov $0x27,%eax; syscall; ret`.
    const GETPID: [u8; 8] = [0xb8, 0x27, 0, 0, 0, 0x0f, 0x05, 0xc3];

    fn site(b: &[u8]) -> [u8; SITE_LEN] {
        b[..SITE_LEN].try_into().unwrap()
    }

    #[test]
    fn only_the_exact_mov_syscall_pair_with_the_calls_number_is_a_site() {
        assert!(is_site(&site(&GETPID), libc::SYS_getpid as u64));
        // rax set elsewhere: the call's number is not the mov's.
        assert!(!is_site(&site(&GETPID), libc::SYS_getppid as u64));
        // glibc's read: `xor %eax,%eax; syscall` is 4 bytes, not a site.
        let read = [0x90, 0x90, 0x90, 0x31, 0xc0, 0x0f, 0x05];
        assert!(!is_site(&read, 0));
        // A mov to another register, or no syscall after the mov.
        let mov_ecx = [0xb9, 0x27, 0, 0, 0, 0x0f, 0x05];
        assert!(!is_site(&mov_ecx, 0x27));
        let sysenter = [0xb8, 0x27, 0, 0, 0, 0x0f, 0x34];
        assert!(!is_site(&sysenter, 0x27));
    }

    #[test]
    fn a_site_is_patched_only_when_it_lies_in_one_aligned_word() {
        let fits: Vec<u64> = (0..16).filter(|&a| fits_one_store(0x1000 + a)).collect();
        assert_eq!(fits, [0, 1, 8, 9]);
    }

    #[test]
    fn the_patch_ends_in_an_invalid_opcode_where_the_syscall_was() {
        let p = patch_bytes(0x6_0040).unwrap();
        assert_eq!(p, [0xff, 0x24, 0x25, 0x40, 0x00, 0x06, 0x00]);
        assert_eq!(p[SYSCALL_OFFSET as usize], INVALID_OPCODE);
        for slot in [TABLE_START, TABLE_END - 8, 0x6_1238] {
            let p = patch_bytes(slot).unwrap();
            assert_eq!(&p[5..], &[0x06, 0x00]);
        }
        assert!(patch_bytes(TABLE_END).is_none());
        assert!(patch_bytes(TABLE_START - 8).is_none());
        assert!(patch_bytes(TABLE_START + 4).is_none());
    }

    #[test]
    fn the_patched_word_keeps_its_other_byte_and_needs_the_site_unchanged() {
        // The site at offset 0 of its word, `ret` after it.
        let old = u64::from_le_bytes(GETPID);
        let new = patched_word(0x4000, old, 39, 0x6_0008).unwrap();
        let b = new.to_le_bytes();
        assert_eq!(&b[..7], &patch_bytes(0x6_0008).unwrap());
        assert_eq!(b[7], 0xc3);
        // At offset 1: the byte before it is kept.
        let mut w = [0xcc; 8];
        w[1..].copy_from_slice(&GETPID[..7]);
        let new = patched_word(0x4001, u64::from_le_bytes(w), 39, 0x6_0008).unwrap();
        assert_eq!(new.to_le_bytes()[0], 0xcc);
        assert_eq!(&new.to_le_bytes()[1..], &patch_bytes(0x6_0008).unwrap());
        // Already patched (another thread won), another number, a
        // straddling site: nothing to write.
        assert!(patched_word(0x4000, new, 39, 0x6_0008).is_none());
        assert!(patched_word(0x4000, old, 110, 0x6_0008).is_none());
        assert!(patched_word(0x4002, old, 39, 0x6_0008).is_none());
    }

    #[test]
    fn a_fault_at_the_old_syscall_of_a_patch_is_recognised_and_nothing_else() {
        let p = patch_bytes(0x6_0010).unwrap();
        assert!(syscall_in_patch(&p));
        assert!(!syscall_in_patch(&site(&GETPID)));
        // A jmp through an address outside the table: not ours.
        let mut other = p;
        other[5] = 0x07;
        assert!(!syscall_in_patch(&other));
        let mut unaligned = p;
        unaligned[3] = 0x11;
        assert!(!syscall_in_patch(&unaligned));
    }
}
