//! Where everything lives, in guest-physical and guest-virtual addresses.
//!
//! Guest-physical:
//! * `[0, FILE_GPA_END)`: the memory file, guest-physical address = file
//!   offset, registered lazily in [`FILE_CHUNK`] memslots (registering all
//!   1 TiB at once costs seconds and GiBs of KVM metadata).
//! * `[PLAT_GPA, PLAT_GPA + PLAT_SIZE)`: the platform's own memory (a memfd of
//!   its own): guest code, IDT, per-vCPU GDT/TSS/stack, page tables.
//! * [`MMIO_GPA`]: a page with no memslot; a write to it exits to the host.
//!
//! Guest-virtual, in every address space: the application owns
//! `[0, MAX_USER)`; the platform region (PML4 slot 254) above holds the
//! syscall trampoline and MMIO page (user), ring-0 code, IDT, per-vCPU pages
//! (supervisor only) and a supervisor window onto the platform memory, through
//! which ring 0 rewrites page-table entries the host changed (see
//! `address_space.rs`).

pub const PAGE: u64 = 4096;

pub const FILE_GPA_END: u64 = 1 << 40;
/// Memslot granularity of the memory file.
pub const FILE_CHUNK: u64 = 1 << 30;
pub const PLAT_GPA: u64 = 1 << 40;
pub const PLAT_SIZE: u64 = 16 << 30;
pub const MMIO_GPA: u64 = PLAT_GPA + PLAT_SIZE;
/// The host's vDSO and its data pages, as a read-only memslot.
pub const VDSO_GPA: u64 = MMIO_GPA + (1 << 20);
/// Where the vDSO block ends in every address space (it keeps its layout:
/// the code finds its data at fixed offsets).
pub const VDSO_END: u64 = MAX_USER - (1 << 20);

/// The highest application address plus one.
pub const MAX_USER: u64 = 0x7f00_0000_0000;
pub const REGION: u64 = MAX_USER;
/// The PML4 slot of the platform region.
pub const REGION_PML4_INDEX: usize = 254;
/// User RX: the syscall entry (MSR_LSTAR) and the way into ring 0.
pub const TRAMPOLINE: u64 = REGION;
/// User RW, backed by no memory: a write exits with KVM_EXIT_MMIO.
pub const MMIO_VA: u64 = REGION + PAGE;
/// Supervisor RX: exception stubs, iret and flush stubs.
pub const KCODE: u64 = REGION + 2 * PAGE;
/// Supervisor RO: the IDT, shared by every vCPU.
pub const IDT: u64 = REGION + 3 * PAGE;
/// Per vCPU four pages: [GDT, TSS, touch list] and the ring-0 stack
/// (supervisor), then the vCPU's syscall entry (user RX, MSR_LSTAR) and its
/// answers page (user RO), which the entry reads rip-relative: each vCPU
/// has its own entry, so nothing at run time has to find out which vCPU
/// it is on.
pub const VCPU_AREA: u64 = REGION + (1 << 20);
pub const VCPU_PAGES: u64 = 4;
/// Page indexes within a vCPU's pages.
pub const VCPU_STACK_PAGE: u64 = 1;
pub const VCPU_ENTRY_PAGE: u64 = 2;
pub const VCPU_ANSWERS_PAGE: u64 = 3;
/// Supervisor RW window onto the platform memory (2 MiB pages).
pub const WINDOW: u64 = REGION + (256 << 30);
/// How many page tables map the vCPU area (each maps 2 MiB): room for
/// more vCPUs than KVM_CAP_MAX_VCPUS allows here (1024).
pub const VCPU_AREA_TABLES: usize = 9;

/// Where a vCPU's two pages are.
pub fn vcpu_page(index: u64) -> u64 {
    VCPU_AREA + index * VCPU_PAGES * PAGE
}

/// How many vCPUs the vCPU area holds.
pub const MAX_VCPUS: u64 =
    ((VCPU_AREA_TABLES as u64) << 21).saturating_sub(1 << 20) / (VCPU_PAGES * PAGE);

/// The window address of a platform page.
pub fn window(gpa: u64) -> u64 {
    WINDOW + (gpa - PLAT_GPA)
}

/// Offsets in a vCPU's first page.
pub const TSS_OFFSET: u64 = 0x80;
/// The count of tables to touch, then (at +8) whether more batches follow.
pub const TOUCH_COUNT: u64 = 0x100;
pub const TOUCH_LIST: u64 = 0x200;
pub const TOUCH_CAPACITY: usize = ((PAGE - TOUCH_LIST) / 8) as usize;

/// Offsets in a vCPU's answers page (u64 each; ring0.rs's entry reads
/// them): whether the answers hold, where a call that leaves goes (the
/// shared trampoline), then each served call's answer.
pub const ANSWER_ENABLED: u64 = 0x00;
pub const ANSWER_SLOW: u64 = 0x08;
pub const ANSWER_GETPID: u64 = 0x10;
pub const ANSWER_GETTID: u64 = 0x18;
pub const ANSWER_GETPPID: u64 = 0x20;
pub const ANSWER_GETUID: u64 = 0x28;
pub const ANSWER_GETEUID: u64 = 0x30;
pub const ANSWER_GETGID: u64 = 0x38;
pub const ANSWER_GETEGID: u64 = 0x40;

/// Flags `syscall` clears on the way to the entry (MSR_SYSCALL_MASK): TF,
/// DF, NT.
pub const SYSCALL_CLEARED_FLAGS: u64 = 0x4500;

/// Selectors (Linux's, so the application sees the same CS and SS).
pub const KERNEL_CS: u16 = 0x10;
pub const KERNEL_DS: u16 = 0x18;
pub const USER32_CS: u16 = 0x23;
pub const USER_DS: u16 = 0x2b;
pub const USER_CS: u16 = 0x33;
pub const TSS_SEL: u16 = 0x40;
pub const GDT_ENTRIES: usize = 10;

/// Page-table entry bits.
pub const PTE_P: u64 = 1;
pub const PTE_W: u64 = 2;
pub const PTE_U: u64 = 4;
pub const PTE_PS: u64 = 0x80;
/// A software bit: mapped with PROT_NONE (not present, address kept).
pub const PTE_NONE: u64 = 1 << 9;
pub const PTE_NX: u64 = 1 << 63;
pub const PTE_ADDR: u64 = 0x000f_ffff_ffff_f000;

/// I/O ports the ring-0 stubs exit through: exception vector v uses
/// `VECTOR_PORT + v`; a touch batch that is not the last uses `TOUCH_PORT`.
pub const VECTOR_PORT: u16 = 0x80;
pub const TOUCH_PORT: u16 = 0x7f;
