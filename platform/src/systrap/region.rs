//! Per-thread regions: the memory a stub thread and the Sentry share.
//!
//! One region of [`REGION_SIZE`] bytes per stub thread, a slice of the
//! ptrace platform's scratch memfd past its own slots, mapped whole in
//! the Sentry and, per thread, at a fixed address of its stub process:
//!
//! * page 0, the *control page*, read-only in the stub: what only the
//!   Sentry writes (the reply sequence number, what to do, the TLS bases,
//!   a syscall thread's request, a new thread's altstack and filter). An
//!   application thread cannot forge a reply, for itself or another.
//! * page 1, the *message page*, read-write: what the stub posts (its
//!   event sequence number, the signal, where the frame is; a syscall
//!   thread's result). The Sentry trusts none of it: every pointer is
//!   checked to lie in this region before use.
//! * pages 2.., the alternate signal stack: the kernel's signal frame
//!   (general registers, XSAVE image, siginfo) is written here, so the
//!   Sentry reads and rewrites the application's whole context in place.
//!
//! The file's first [`CODE_OFFSET`]..+4096 holds the stub code page.

use std::sync::atomic::{AtomicU32, AtomicU64};
use std::sync::{Mutex, OnceLock};

use crate::{PlatformError, Result};

/// A region's size and alignment: the handler finds its region by
/// rounding its stack pointer down to it.
pub const REGION_SIZE: u64 = 64 << 10;
/// Regions there may be at once (threads of every stub process).
pub const MAX_REGIONS: u64 = 16 << 10;
/// Where the systrap part of the scratch memfd starts (past the ptrace
/// platform's slots).
pub const FILE_BASE: u64 = crate::ptrace::stub::SLOTS * 4096;
/// The stub code page's offset in the file.
pub const CODE_OFFSET: u64 = FILE_BASE;
/// The first region's offset in the file.
pub const REGIONS_OFFSET: u64 = FILE_BASE + REGION_SIZE;
/// The stub address space the regions take (below the stub pages).
pub const REGIONS_SPAN: u64 = MAX_REGIONS * REGION_SIZE;

/// The syscall thread's requests beyond host system calls (numbers no
/// system call has): run the batch list; fork a ready stub process.
pub const REQ_BATCH: u64 = 1 << 20;
pub const REQ_FORK: u64 = (1 << 20) + 1;

/// The reply kinds of [`ctl::KIND`].
pub const KIND_RESUME: u64 = 1;
pub const KIND_EXIT: u64 = 2;

/// Offsets in the control page (read-only in the stub).
pub mod ctl {
    /// u32: the event sequence number the Sentry has answered (a syscall
    /// thread: the request number); the stub's futex.
    pub const REPLY: usize = 0;
    /// u32: the Sentry sleeps on the message page's SEQ (wake it).
    pub const SENTRY_WAITING: usize = 4;
    /// u64: KIND_RESUME or KIND_EXIT.
    pub const KIND: usize = 8;
    /// u64: fs_base and gs_base to resume with.
    pub const FS: usize = 16;
    pub const GS: usize = 24;
    /// u64 x 6 and u64: a syscall thread's request.
    pub const ARGS: usize = 32;
    pub const NR: usize = 80;
    /// stack_t: a new thread's alternate stack.
    pub const ALTSTACK: usize = 128;
    /// An empty sigset (8 zero bytes).
    pub const EMPTY_SET: usize = 160;
    /// sock_fprog: the application filter.
    pub const FPROG: usize = 192;
    /// The filter's instructions.
    pub const FILTER: usize = 256;
    /// Room for the filter.
    pub const FILTER_END: usize = 2048;
    /// struct sigaction (kernel layout), for setting up a stub process.
    pub const SIGACTION: usize = 2048;
    /// A full sigset, for blocking every signal in the syscall thread.
    pub const FULL_SET: usize = 2112;
    /// u64: the syscall thread's eventfd (its number in the stub).
    pub const DONE_FD: usize = 2120;
    /// u64: 1, what the syscall thread writes to it.
    pub const ONE: usize = 2128;
    /// u64: the uc_flags of the kernel's signal frames for this thread,
    /// which a patched call's frame (`syn`) copies.
    pub const UC_FLAGS: usize = 2136;
    /// The 48 software bytes of the XSAVE image in the kernel's signal
    /// frames for this thread (magic, sizes, features: `rt_sigreturn`
    /// restores the whole image only when they are right), which a
    /// patched call's frame copies; xfeatures at +8, xstate_size at +16.
    pub const FX_SW: usize = 2144;
}

/// A patched call's signal frame, which the trampoline builds at the
/// bottom of the alternate stack (the kernel puts its frames at the top)
/// in the kernel's own layout, so the Sentry reads it as any other and
/// `rt_sigreturn` resumes from it. Offsets in the region.
pub mod syn {
    /// u64: (return address << 16) | call number, as the site's table
    /// entry left it in rax.
    pub const PACKED: usize = 0x2008;
    /// The ucontext.
    pub const UC: usize = 0x2040;
    /// The siginfo.
    pub const INFO: usize = 0x2200;
    /// The XSAVE image (64-aligned, as XSAVE needs).
    pub const FP: usize = 0x2400;
    /// The largest image (with its end magic) the frame takes.
    pub const FP_MAX: usize = 0x6000;
    /// The trampoline's stack (for pushfq), at the top of the alternate
    /// stack: a signal that arrives while it is there nests its frame
    /// below, away from this frame.
    pub const STACK: usize = super::REGION_SIZE as usize - 64;
}

/// Offsets in the message page (read-write in the stub).
pub mod msg {
    /// u32: the event sequence number the stub posted; the Sentry's futex.
    pub const SEQ: usize = 0;
    /// u32: the stub sleeps on the control page's REPLY (wake it).
    pub const STUB_WAITING: usize = 4;
    /// u32: the signal number of the event.
    pub const SIGNO: usize = 8;
    /// u64: stub addresses of the siginfo and the ucontext.
    pub const INFO: usize = 16;
    pub const UC: usize = 24;
    /// u64: fs_base and gs_base at the event.
    pub const FS: usize = 32;
    pub const GS: usize = 40;
    /// u64: a syscall thread's result.
    pub const RET: usize = 48;
    /// u32: the thread id, set by the kernel at clone and cleared at its
    /// exit (CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID).
    pub const TID: usize = 56;
}

/// Where the alternate stack starts in a region.
pub const ALTSTACK_OFFSET: u64 = 2 * 4096;

/// A syscall thread's region has no alternate stack (it takes no
/// signals): pages 2.. hold its *batch list*, mapped read-only in the
/// stub like the control page, so the application can neither read a
/// forged list into it nor change a call the Sentry listed.
pub const BATCH_OFFSET: u64 = ALTSTACK_OFFSET;
/// One call of a batch: the number and six arguments, and a pad word.
pub const BATCH_ENTRY: u64 = 64;
/// The calls one batch holds.
pub const MAX_BATCH: usize = ((REGION_SIZE - BATCH_OFFSET) / BATCH_ENTRY) as usize;

/// The Sentry's mapping of every region (and the code page).
struct Shared {
    base: u64,
    fd: i32,
}

static SHARED: OnceLock<std::result::Result<Shared, PlatformError>> = OnceLock::new();

fn last(op: &'static str) -> PlatformError {
    PlatformError {
        op,
        errno: nix::errno::Errno::last_raw(),
    }
}

fn setup(code: &[u8], word: (usize, u64)) -> std::result::Result<Shared, PlatformError> {
    let layout = crate::ptrace::stub::layout()?;
    let fd = layout.scratch_fd;
    let len = REGIONS_OFFSET + REGIONS_SPAN;
    // SAFETY: growing our own scratch memfd; the ptrace slots keep their
    // offsets.
    if unsafe { libc::ftruncate(fd, len as i64) } != 0 {
        return Err(last("ftruncate systrap regions"));
    }
    let span = (len - FILE_BASE) as usize;
    // SAFETY: a new shared mapping of our memfd, placed by the kernel;
    // only touched pages cost memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_NORESERVE,
            fd,
            FILE_BASE as i64,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(last("mmap systrap regions"));
    }
    // SAFETY: the code page is the first page of the mapping just made,
    // and the stub code fits it (`stub::code` asserts so).
    unsafe { std::ptr::copy_nonoverlapping(code.as_ptr(), p as *mut u8, code.len()) };
    // The trampoline finds the regions from this word of its page.
    let (at, value) = word;
    assert!(at.is_multiple_of(8) && at + 8 <= code.len());
    // SAFETY: an aligned word inside the code page just copied (checked).
    unsafe { ((p as *mut u8).add(at) as *mut u64).write(value) };
    Ok(Shared { base: p as u64, fd })
}

/// Maps the regions in the Sentry (once, while host paths are visible and
/// before the Sentry's seccomp filter), with the stub's `code` on the
/// first page and `word` (offset, value) written into it.
pub fn prepare(code: &[u8], word: (usize, u64)) -> Result<()> {
    SHARED
        .get_or_init(|| setup(code, word))
        .as_ref()
        .map(|_| ())
        .map_err(|e| *e)
}

/// The regions [`prepare`] mapped (the platform's constructor prepares).
fn shared() -> Result<&'static Shared> {
    SHARED
        .get()
        .ok_or(PlatformError {
            op: "systrap regions used before prepare",
            errno: libc::EINVAL,
        })?
        .as_ref()
        .map_err(|e| *e)
}

/// The memfd the regions live in (the ptrace platform's scratch memfd).
pub fn fd() -> Result<i32> {
    shared().map(|s| s.fd)
}

/// Free region slots, and the next never used.
static SLOTS: Mutex<(Vec<u64>, u64)> = Mutex::new((Vec::new(), 0));

/// One thread's region, seen from the Sentry. Dropping it returns the
/// slot: only once no stub maps it any more (the thread's mapping was
/// removed, or its process is dead).
#[derive(Debug)]
pub struct Region {
    pub slot: u64,
    /// The Sentry's address of the region.
    base: u64,
}

impl Region {
    pub fn take() -> Result<Region> {
        let sh = shared()?;
        let mut s = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        let slot = match s.0.pop() {
            Some(i) => i,
            None if s.1 < MAX_REGIONS => {
                s.1 += 1;
                s.1 - 1
            }
            None => {
                return Err(PlatformError {
                    op: "systrap: out of thread regions",
                    errno: libc::EAGAIN,
                })
            }
        };
        let r = Region {
            slot,
            base: sh.base + (REGIONS_OFFSET - FILE_BASE) + slot * REGION_SIZE,
        };
        // A reused slot starts clean: the last owner's sequence numbers
        // and flags must not be read as this thread's. The whole region:
        // with only the first two pages cleared, the first patched call of
        // a forked child on a reused slot failed its rt_sigreturn (a byte
        // of the last owner's alternate stack that the trampoline's frame
        // does not write; which one is not found yet).
        // SAFETY: this region is ours (the slot is taken) and mapped for
        // the life of the process.
        unsafe { std::ptr::write_bytes(r.base as *mut u8, 0, REGION_SIZE as usize) };
        Ok(r)
    }

    /// The region's offset in the memfd.
    pub fn file_offset(&self) -> u64 {
        REGIONS_OFFSET + self.slot * REGION_SIZE
    }

    /// The region's address in every stub process (`regions`: where a
    /// stub's regions start).
    pub fn stub_addr(&self, regions: u64) -> u64 {
        regions + self.slot * REGION_SIZE
    }

    fn at(&self, off: u64) -> *mut u8 {
        (self.base + off) as *mut u8
    }

    /// The control page's u32 at `off`.
    pub fn ctl32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: `off` is a 4-aligned offset inside the control page,
        // which stays mapped for the life of the process; atomics make
        // concurrent access by the stub sound.
        unsafe { &*(self.at(off as u64) as *const AtomicU32) }
    }

    pub fn ctl64(&self, off: usize) -> &AtomicU64 {
        // SAFETY: as in `ctl32`, 8-aligned.
        unsafe { &*(self.at(off as u64) as *const AtomicU64) }
    }

    /// The message page's u32 at `off`.
    pub fn msg32(&self, off: usize) -> &AtomicU32 {
        // SAFETY: as in `ctl32`, in the message page.
        unsafe { &*(self.at(4096 + off as u64) as *const AtomicU32) }
    }

    pub fn msg64(&self, off: usize) -> &AtomicU64 {
        // SAFETY: as in `ctl32`, in the message page, 8-aligned.
        unsafe { &*(self.at(4096 + off as u64) as *const AtomicU64) }
    }

    /// Copies `bytes` into the control page at `off`.
    pub fn write_ctl(&self, off: usize, bytes: &[u8]) {
        assert!(off + bytes.len() <= 4096);
        // SAFETY: inside the control page (checked), which only the
        // Sentry writes.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.at(off as u64), bytes.len()) };
    }

    /// Writes `calls` into the batch list of a syscall thread's region.
    pub fn write_batch(&self, calls: &[(i64, [u64; 6])]) {
        assert!(calls.len() <= MAX_BATCH);
        for (i, (nr, args)) in calls.iter().enumerate() {
            let at = self.at(BATCH_OFFSET + i as u64 * BATCH_ENTRY) as *mut u64;
            // SAFETY: entry i lies in the region's batch list (the count is
            // checked above), 8-aligned, which only the Sentry writes.
            unsafe {
                at.write(*nr as u64);
                for (j, a) in args.iter().enumerate() {
                    at.add(1 + j).write(*a);
                }
            }
        }
    }

    /// The Sentry's pointer to `len` bytes at stub address `addr`, when
    /// they lie in this region's alternate stack (`regions`: where the
    /// stub's regions start); None for anything the stub could have
    /// pointed elsewhere.
    pub fn frame_ptr(&self, regions: u64, addr: u64, len: u64) -> Option<*mut u8> {
        let lo = self.stub_addr(regions) + ALTSTACK_OFFSET;
        let hi = self.stub_addr(regions) + REGION_SIZE;
        let end = addr.checked_add(len)?;
        if addr < lo || end > hi {
            return None;
        }
        Some(self.at(addr - self.stub_addr(regions)))
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        let mut s = SLOTS.lock().unwrap_or_else(|e| e.into_inner());
        s.0.push(self.slot);
    }
}
