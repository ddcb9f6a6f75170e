//! The stub: the only code a ptrace address space contains besides the
//! application's own memory.
//!
//! A stub process starts as a fork of the Sentry thread that will trace it. Its
//! first act is to unmap everything except the stub page, so no Sentry memory
//! (keys, file data, the memory file mapping) is visible to the application.
//! After that it only ever runs instructions at three entry points, each ending
//! in `int3` so the tracer regains control:
//!
//! * `syscall_trap`: runs one host syscall the Sentry chose (mmap, munmap,
//!   mprotect, exit);
//! * `clone_trap`: like `syscall_trap`, but the new thread a `clone` creates
//!   parks in `pause()` until its own tracer seizes it (an untraced `int3`
//!   would kill the whole stub);
//! * `batch_trap`: runs the calls listed in the stub's *scratch page*, one
//!   after the other, stopping at the first that fails: one stop for the
//!   dozens of mmap/mprotect calls of a fork instead of one each.
//!
//! The scratch page sits right after the stub page. It is one page of a
//! memfd the Sentry makes and maps at start-up (every stub keeps it open):
//! each stub process gets a slot of its own, mapped read-only at the
//! scratch address, so the application can read the calls the Sentry
//! lists for its own process and change none (the Sentry writes them
//! through its own mapping).
//!
//! `park` is where a stub process waits in `pause()` to be seized: the
//! child of a `clone_trap` call, and the *master stub* new stub processes
//! are cloned from (see `mod.rs`).

use std::sync::OnceLock;

use crate::{PlatformError, Vdso};

std::arch::global_asm!(
    ".pushsection .text.runsc_stub,\"ax\",@progbits",
    ".balign 4096",
    ".globl runsc_stub_start",
    "runsc_stub_start:",
    // Three ranges to unmap, (rdi, rsi), (rdx, r10), (r8, r9): everything
    // but the stub page and the kernel's vDSO.
    "mov r12, rdx",
    "mov r13, r10",
    "mov r14, r8",
    "mov r15, r9",
    "mov eax, 11",
    "syscall",
    "mov eax, 11",
    "mov rdi, r12",
    "mov rsi, r13",
    "syscall",
    "mov eax, 11",
    "mov rdi, r14",
    "mov rsi, r15",
    "syscall",
    "int3",
    "ud2",
    ".globl runsc_stub_syscall",
    "runsc_stub_syscall:",
    "syscall",
    "int3",
    "ud2",
    ".globl runsc_stub_clone",
    "runsc_stub_clone:",
    "syscall",
    "test rax, rax",
    "jz 2f",
    "int3",
    "ud2",
    ".globl runsc_stub_park",
    "runsc_stub_park:",
    "2:",
    "mov eax, 34",
    "syscall",
    "jmp 2b",
    // Batch: rdi = records of 8 words (nr, six arguments, unused), rsi =
    // their count. Stops at the first error with rax = -errno and r13 =
    // the records left (the failed one included).
    ".globl runsc_stub_batch",
    "runsc_stub_batch:",
    "mov r12, rdi",
    "mov r13, rsi",
    "xor eax, eax",
    "3:",
    "test r13, r13",
    "jz 4f",
    "mov rax, [r12]",
    "mov rdi, [r12 + 8]",
    "mov rsi, [r12 + 16]",
    "mov rdx, [r12 + 24]",
    "mov r10, [r12 + 32]",
    "mov r8, [r12 + 40]",
    "mov r9, [r12 + 48]",
    "syscall",
    "cmp rax, -4095",
    "jae 4f",
    "add r12, 64",
    "dec r13",
    "jmp 3b",
    "4:",
    "int3",
    "ud2",
    ".globl runsc_stub_end",
    "runsc_stub_end:",
    ".popsection",
);

extern "C" {
    static runsc_stub_start: u8;
    static runsc_stub_syscall: u8;
    static runsc_stub_clone: u8;
    static runsc_stub_batch: u8;
    static runsc_stub_park: u8;
    static runsc_stub_end: u8;
}

/// Where the stub page lives, in the Sentry and in every stub process.
#[derive(Clone, Copy, Debug)]
pub struct StubLayout {
    pub start: u64,
    pub len: u64,
    pub entry: u64,
    pub syscall_trap: u64,
    pub clone_trap: u64,
    pub batch_trap: u64,
    pub park: u64,
    /// Where a stub process sees its scratch page (read-only).
    pub scratch: u64,
    /// The Sentry's mapping of the scratch slots ([`SLOTS`] pages of
    /// `scratch_fd`, shared with the stubs).
    pub slots: u64,
    pub scratch_fd: i32,
    /// The kernel's vDSO and its data pages, kept in every stub so the
    /// application reads clocks without a system call.
    pub vdso: Option<Vdso>,
}

/// Scratch pages, so many stub processes at once can batch calls; more
/// processes than this make their calls one by one.
pub const SLOTS: u64 = 4096;

/// One call in a scratch page: number, six arguments, padding.
pub const RECORD_WORDS: usize = 8;

impl StubLayout {
    /// The three ranges a new stub unmaps: everything below the top of the
    /// user address space except the stub and scratch pages and the vDSO
    /// block.
    pub fn unmap_ranges(&self) -> [(u64, u64); 3] {
        let stub = (self.start, self.start + self.len);
        let mut holes = vec![stub];
        if let Some(v) = self.vdso {
            holes.push((v.start, v.end));
        }
        holes.sort();
        let mut out = [(0u64, 0u64); 3];
        let mut pos = 0u64;
        for (i, (s, e)) in holes.iter().enumerate() {
            out[i] = (pos, s - pos);
            pos = *e;
        }
        out[holes.len()] = (pos, USER_TOP - pos);
        out
    }
}

/// Finds the vDSO block in /proc/self/maps. Must run before the Sentry
/// gives up its view of /proc.
fn find_vdso() -> Option<Vdso> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let mut start = None;
    let mut end = 0;
    let mut ehdr = None;
    for line in maps.lines() {
        let name = line.split_whitespace().nth(5).unwrap_or("");
        if !(name.starts_with("[vvar") || name == "[vdso]") {
            continue;
        }
        let (range, _) = line.split_once(' ')?;
        let (s, e) = range.split_once('-')?;
        let (s, e) = (
            u64::from_str_radix(s, 16).ok()?,
            u64::from_str_radix(e, 16).ok()?,
        );
        // The pieces must be contiguous: the vDSO code finds its data at
        // fixed offsets from itself.
        if start.is_some() && s != end {
            return None;
        }
        start.get_or_insert(s);
        end = e;
        if name == "[vdso]" {
            ehdr = Some(s);
        }
    }
    Some(Vdso {
        start: start?,
        end,
        ehdr: ehdr?,
    })
}

/// The lowest address the stub may take; the application gets everything below.
pub const STUB_SEARCH_START: u64 = 0x7fff_0000_0000;
/// The top of the x86-64 (4-level) user address space.
pub const USER_TOP: u64 = 0x7fff_ffff_f000;

static LAYOUT: OnceLock<Result<StubLayout, PlatformError>> = OnceLock::new();

/// Copies the stub code to a page at or above [`STUB_SEARCH_START`] in the
/// Sentry (once), so every fork finds it at the same address.
pub fn layout() -> Result<StubLayout, PlatformError> {
    *LAYOUT.get_or_init(install)
}

/// The layout if [`layout`] has made it, without making it.
pub fn made() -> Option<StubLayout> {
    LAYOUT.get().and_then(|l| l.as_ref().ok().copied())
}

fn install() -> Result<StubLayout, PlatformError> {
    let code_start = std::ptr::addr_of!(runsc_stub_start) as u64;
    let code_end = std::ptr::addr_of!(runsc_stub_end) as u64;
    let code_len = (code_end - code_start) as usize;
    // The stub page and the scratch page after it.
    let len: u64 = 2 * 4096;
    assert!(code_len <= 4096, "stub code outgrew its page");
    let last = |op| PlatformError {
        op,
        errno: nix::errno::Errno::last_raw(),
    };
    // SAFETY: memfd_create takes a NUL-terminated name and returns a new
    // descriptor, which lives as long as the process (stubs inherit it).
    let scratch_fd = unsafe { libc::memfd_create(c"runsc-stub-scratch".as_ptr(), 0) };
    if scratch_fd < 0 {
        return Err(last("memfd_create stub scratch"));
    }
    // SAFETY: sizing our own new memfd.
    if unsafe { libc::ftruncate(scratch_fd, (SLOTS * 4096) as i64) } != 0 {
        return Err(last("ftruncate stub scratch"));
    }
    // SAFETY: a new shared mapping of our own memfd, placed by the kernel;
    // only touched pages cost memory.
    let slots = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            (SLOTS * 4096) as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_NORESERVE,
            scratch_fd,
            0,
        )
    };
    if slots == libc::MAP_FAILED {
        return Err(last("mmap stub scratch slots"));
    }
    let mut addr = STUB_SEARCH_START;
    while addr + len <= USER_TOP {
        // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping; the
        // new anonymous page is ours alone.
        let p = unsafe {
            libc::mmap(
                addr as *mut libc::c_void,
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED && p as u64 == addr {
            // SAFETY: the source is the stub's code in our text section, the
            // destination the page just mapped; they cannot overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(code_start as *const u8, p as *mut u8, code_len);
            }
            // SAFETY: the pages are ours (mapped above). The scratch page
            // stays an inaccessible reservation in the Sentry: each stub
            // moves its own slot there.
            let r = unsafe {
                let r = libc::mprotect(p, 4096, libc::PROT_READ | libc::PROT_EXEC);
                if r == 0 {
                    libc::mprotect(p.byte_add(4096), 4096, libc::PROT_NONE)
                } else {
                    r
                }
            };
            if r != 0 {
                return Err(PlatformError {
                    op: "mprotect stub",
                    errno: nix::errno::Errno::last_raw(),
                });
            }
            let at = |sym: u64| addr + (sym - code_start);
            return Ok(StubLayout {
                start: addr,
                len,
                entry: addr,
                syscall_trap: at(std::ptr::addr_of!(runsc_stub_syscall) as u64),
                clone_trap: at(std::ptr::addr_of!(runsc_stub_clone) as u64),
                batch_trap: at(std::ptr::addr_of!(runsc_stub_batch) as u64),
                park: at(std::ptr::addr_of!(runsc_stub_park) as u64),
                scratch: addr + 4096,
                slots: slots as u64,
                scratch_fd,
                vdso: find_vdso().filter(|v| v.end <= addr),
            });
        }
        if p != libc::MAP_FAILED {
            // An old kernel ignored NOREPLACE and gave us another address.
            // SAFETY: p is the mapping just created.
            unsafe { libc::munmap(p, len as usize) };
        }
        addr += 1 << 20;
    }
    Err(PlatformError {
        op: "find a free address for the stub",
        errno: libc::ENOMEM,
    })
}
