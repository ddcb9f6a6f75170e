//! The guest's own code and descriptor tables: all the guest kernel there
//! is. Application code runs in ring 3; everything it does that the Sentry
//! must see leaves the guest at once:
//!
//! * `syscall` enters the trampoline at MSR_LSTAR, which writes one byte to
//!   the MMIO page: KVM_EXIT_MMIO with the application's registers untouched
//!   (rcx and r11 hold the return address and flags, as the instruction
//!   leaves them and as ptrace shows them). It stays in ring 3, so the
//!   Sentry resumes the application by setting its registers.
//! * An exception goes through the IDT to a ring-0 stub that exits with
//!   `out VECTOR_PORT + vector`; the CPU's frame is on the vCPU's ring-0
//!   stack. The Sentry resumes through the iret stub, or through the flush
//!   stub when page-table entries changed since this vCPU last ran (it
//!   rewrites a byte of each changed table through the window, so KVM's
//!   shadow pages of them are dropped, then flushes the TLB by toggling
//!   CR4.PGE).
//! * Before that, `syscall` enters the vCPU's own copy of the *entry*
//!   (MSR_LSTAR is per vCPU), which answers the calls of
//!   [`crate::SERVED`] from the vCPU's answers page, the next page, when
//!   the Sentry enabled it, and returns to the application at once; any
//!   other call (or a disabled page) jumps to the trampoline. On this host
//!   `syscall` does not leave ring 3, so the entry runs in ring 3: it may
//!   use no stack and write no memory, and restores the flags its compares
//!   changed from r11 (where `syscall` put them) with `sahf` and an add
//!   that sets OF as r11 says.

use super::layout::*;

std::arch::global_asm!(
    ".pushsection .text.runsc_kvm_guest,\"ax\",@progbits",
    ".globl runsc_kvm_trampoline",
    "runsc_kvm_trampoline:",
    // MSR_LSTAR: one byte to the MMIO page, the next page
    // (`mov byte ptr [rip + disp32], al`).
    ".byte 0x88, 0x05",
    ".long 4096 - (2f - runsc_kvm_trampoline)",
    "2:",
    "ud2",
    ".balign 16",
    // Into ring 0 on purpose: the #UD stub then sees this address.
    ".globl runsc_kvm_to_ring0",
    "runsc_kvm_to_ring0:",
    "ud2",
    ".globl runsc_kvm_trampoline_end",
    "runsc_kvm_trampoline_end:",
    ".balign 64",
    ".globl runsc_kvm_kcode",
    "runsc_kvm_kcode:",
    // rsp: an iret frame.
    "iretq",
    ".balign 16",
    ".globl runsc_kvm_flush",
    "runsc_kvm_flush:",
    "push rax",
    "push rcx",
    "push rdx",
    "push rsi",
    "mov rsi, rsp",
    "and rsi, -4096",
    "sub rsi, 4096",
    "mov rcx, [rsi + 0x100]",
    "mov rdx, [rsi + 0x108]",
    "push rdx",
    "lea rsi, [rsi + 0x200]",
    "3:",
    "test rcx, rcx",
    "jz 4f",
    "mov rax, [rsi]",
    "mov dl, [rax + 1]",
    "mov [rax + 1], dl",
    "add rsi, 8",
    "dec rcx",
    "jmp 3b",
    "4:",
    "pop rdx",
    "test rdx, rdx",
    "jz 5f",
    "out 0x7f, al",
    "ud2",
    "5:",
    "mov rax, cr4",
    "xor rax, 0x80",
    "mov cr4, rax",
    "xor rax, 0x80",
    "mov cr4, rax",
    "pop rsi",
    "pop rdx",
    "pop rcx",
    "pop rax",
    "iretq",
    ".balign 64",
    ".globl runsc_kvm_vectors",
    "runsc_kvm_vectors:",
    ".set runsc_kvm_vec, 0",
    ".rept 32",
    "out 0x80 + runsc_kvm_vec, al",
    "ud2",
    ".balign 8",
    ".set runsc_kvm_vec, runsc_kvm_vec + 1",
    ".endr",
    ".globl runsc_kvm_kcode_end",
    "runsc_kvm_kcode_end:",
    ".popsection",
);

// One served call: restore the flags from r11 (OF by hand, then SF ZF AF
// PF CF with sahf from r11's low byte moved to ah without touching flags),
// load the answer and return where `syscall` came from.
std::arch::global_asm!(
    ".macro runsc_kvm_answer slot",
    "bt r11d, 11",
    "jc 1f",
    "xor eax, eax",
    "jmp 2f",
    "1:",
    "mov al, 0x7f",
    "add al, 1",
    "2:",
    "lea eax, [r11 * 8]",
    "lea eax, [rax * 8]",
    "lea eax, [rax * 4]",
    "sahf",
    "mov rax, qword ptr [rip + runsc_kvm_entry + 4096 + \\slot]",
    "jmp rcx",
    ".endm",
    ".pushsection .text.runsc_kvm_guest,\"ax\",@progbits",
    ".balign 64",
    ".globl runsc_kvm_entry",
    "runsc_kvm_entry:",
    "cmp qword ptr [rip + runsc_kvm_entry + 4096 + {enabled}], 0",
    "je 9f",
    // TF, DF or NT set by the application: `syscall` cleared them, so
    // returning here would lose them; the full return restores them.
    "test r11d, {keep}",
    "jnz 9f",
    "cmp rax, {getpid}",
    "je 31f",
    "cmp rax, {gettid}",
    "je 32f",
    "cmp rax, {getppid}",
    "je 33f",
    "cmp rax, {getuid}",
    "je 34f",
    "cmp rax, {geteuid}",
    "je 35f",
    "cmp rax, {getgid}",
    "je 36f",
    "cmp rax, {getegid}",
    "je 37f",
    "9:",
    "jmp qword ptr [rip + runsc_kvm_entry + 4096 + {slow}]",
    "31:",
    "runsc_kvm_answer {a_getpid}",
    "32:",
    "runsc_kvm_answer {a_gettid}",
    "33:",
    "runsc_kvm_answer {a_getppid}",
    "34:",
    "runsc_kvm_answer {a_getuid}",
    "35:",
    "runsc_kvm_answer {a_geteuid}",
    "36:",
    "runsc_kvm_answer {a_getgid}",
    "37:",
    "runsc_kvm_answer {a_getegid}",
    ".globl runsc_kvm_entry_end",
    "runsc_kvm_entry_end:",
    ".popsection",
    enabled = const ANSWER_ENABLED,
    slow = const ANSWER_SLOW,
    keep = const SYSCALL_CLEARED_FLAGS,
    getpid = const libc::SYS_getpid,
    gettid = const libc::SYS_gettid,
    getppid = const libc::SYS_getppid,
    getuid = const libc::SYS_getuid,
    geteuid = const libc::SYS_geteuid,
    getgid = const libc::SYS_getgid,
    getegid = const libc::SYS_getegid,
    a_getpid = const ANSWER_GETPID,
    a_gettid = const ANSWER_GETTID,
    a_getppid = const ANSWER_GETPPID,
    a_getuid = const ANSWER_GETUID,
    a_geteuid = const ANSWER_GETEUID,
    a_getgid = const ANSWER_GETGID,
    a_getegid = const ANSWER_GETEGID,
);

extern "C" {
    static runsc_kvm_entry: u8;
    static runsc_kvm_entry_end: u8;
    static runsc_kvm_trampoline: u8;
    static runsc_kvm_to_ring0: u8;
    static runsc_kvm_trampoline_end: u8;
    static runsc_kvm_kcode: u8;
    static runsc_kvm_flush: u8;
    static runsc_kvm_vectors: u8;
    static runsc_kvm_kcode_end: u8;
}

fn addr(s: &u8) -> u64 {
    s as *const u8 as u64
}

/// The guest code: the trampoline page's bytes, the ring-0 page's, and
/// the per-vCPU entry's.
pub struct Code {
    pub trampoline: &'static [u8],
    pub kcode: &'static [u8],
    pub entry: &'static [u8],
}

pub fn code() -> Code {
    // SAFETY: the symbols delimit bytes of our own text section (above).
    unsafe {
        let t = addr(&runsc_kvm_trampoline);
        let te = addr(&runsc_kvm_trampoline_end);
        let k = addr(&runsc_kvm_kcode);
        let ke = addr(&runsc_kvm_kcode_end);
        let e = addr(&runsc_kvm_entry);
        let ee = addr(&runsc_kvm_entry_end);
        Code {
            entry: std::slice::from_raw_parts(e as *const u8, (ee - e) as usize),
            trampoline: std::slice::from_raw_parts(t as *const u8, (te - t) as usize),
            kcode: std::slice::from_raw_parts(k as *const u8, (ke - k) as usize),
        }
    }
}

/// Guest addresses of the entry points.
#[derive(Clone, Copy, Debug)]
pub struct Entries {
    pub syscall: u64,
    /// Where rip is when the syscall exit comes (after the write).
    pub syscall_exit: u64,
    pub to_ring0: u64,
    pub iret: u64,
    pub flush: u64,
    pub vectors: u64,
}

pub fn entries() -> Entries {
    // SAFETY: as in `code`.
    unsafe {
        let t = addr(&runsc_kvm_trampoline);
        let k = addr(&runsc_kvm_kcode);
        Entries {
            syscall: TRAMPOLINE,
            // `mov byte ptr [rip + disp32], al` is six bytes.
            syscall_exit: TRAMPOLINE + 6,
            to_ring0: TRAMPOLINE + (addr(&runsc_kvm_to_ring0) - t),
            iret: KCODE,
            flush: KCODE + (addr(&runsc_kvm_flush) - k),
            vectors: KCODE + (addr(&runsc_kvm_vectors) - k),
        }
    }
}

/// The IDT: 32 interrupt gates to the vector stubs; #BP and #OF may be
/// raised from ring 3 (int3, into).
pub fn idt(vectors: u64) -> Vec<u8> {
    let mut idt = vec![0u8; 32 * 16];
    for v in 0..32u64 {
        let h = vectors + 8 * v;
        let dpl: u8 = if v == 3 || v == 4 { 3 } else { 0 };
        let e = &mut idt[(16 * v) as usize..(16 * v + 16) as usize];
        e[0..2].copy_from_slice(&(h as u16).to_le_bytes());
        e[2..4].copy_from_slice(&KERNEL_CS.to_le_bytes());
        e[4] = 0;
        // Present, interrupt gate (0xE).
        e[5] = 0x8e | (dpl << 5);
        e[6..8].copy_from_slice(&((h >> 16) as u16).to_le_bytes());
        e[8..12].copy_from_slice(&((h >> 32) as u32).to_le_bytes());
    }
    idt
}

/// A vCPU's GDT (Linux's layout) with its TSS descriptor at `TSS_SEL`.
pub fn gdt(tss: u64) -> [u64; GDT_ENTRIES] {
    let mut g = [0u64; GDT_ENTRIES];
    g[(KERNEL_CS >> 3) as usize] = 0x00af_9b00_0000_ffff;
    g[(KERNEL_DS >> 3) as usize] = 0x00cf_9300_0000_ffff;
    g[(USER32_CS >> 3) as usize] = 0x00cf_fb00_0000_ffff;
    g[(USER_DS >> 3) as usize] = 0x00cf_f300_0000_ffff;
    g[(USER_CS >> 3) as usize] = 0x00af_fb00_0000_ffff;
    let limit = 103u64;
    g[(TSS_SEL >> 3) as usize] =
        limit | ((tss & 0xff_ffff) << 16) | (0x89 << 40) | (((tss >> 24) & 0xff) << 56);
    g[(TSS_SEL >> 3) as usize + 1] = tss >> 32;
    g
}

/// A 64-bit TSS whose ring-0 stack is `rsp0` and which allows no I/O port.
pub fn tss(rsp0: u64) -> [u8; 104] {
    let mut t = [0u8; 104];
    t[4..12].copy_from_slice(&rsp0.to_le_bytes());
    t[102..104].copy_from_slice(&104u16.to_le_bytes());
    t
}
