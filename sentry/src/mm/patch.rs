//! Syscall patching's memory side (systrap, `--systrap-patch`): the
//! table of trampoline entries at a fixed low address, and the store that
//! turns a site into a jump through it. The site rules are the
//! platform's (`platform::systrap::patch`); docs/architecture.md
//! ("Syscall patching") gives the argument.
//!
//! The table is a private anonymous mapping of [`rules::TABLE_START`]..
//! [`rules::TABLE_END`], read and execute, made on the first patch of an
//! address space: a fork child inherits it with the patched pages, exec
//! drops both. Its first entry is a header (a magic word, the next free
//! entry), so a child finds where its parent left off; each other entry
//! is a pointer to its own code, which loads rax with the site's return
//! address and number and jumps to the platform's trampoline.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use platform::systrap::patch as rules;
use platform::Context;

use super::{MapRequest, MemoryManager};
use crate::errno::Errno;

/// The header's first word: the table is ours (an application mapping
/// there is left alone).
const MAGIC: u64 = u64::from_le_bytes(*b"rsc-trap");
/// One entry: pointer, `movabs rax, imm64`, `jmp *0(%rip)`, its target.
const ENTRY: u64 = 32;
/// `movabs $imm64, %rax`.
const MOVABS_RAX: [u8; 2] = [0x48, 0xb8];
/// `jmp *0(%rip)`: through the 8 bytes that follow.
const JMP_RIP: [u8; 6] = [0xff, 0x25, 0, 0, 0, 0];
/// Call sites known not to be patchable, kept so each is read once; past
/// this many the rest are read each time.
const MAX_MISSES: usize = 4096;

/// An address space's patching state.
#[derive(Default)]
pub struct State {
    /// Whether the table is there: None until looked at.
    table: Option<bool>,
    /// The next free entry.
    next: u64,
    /// Return addresses of calls that are not patchable sites.
    misses: HashSet<u64>,
}

impl MemoryManager {
    /// Patches the site whose `syscall` returned to `ret` (call `nr`) to
    /// jump to `trampoline` instead, when it is the exact pattern, lies in
    /// one aligned word, in a private executable mapping, and the table
    /// has room. True when this call patched it.
    pub fn patch_syscall(&self, ctx: &mut dyn Context, ret: u64, nr: u64, trampoline: u64) -> bool {
        let mut st = self.patch.lock().unwrap();
        if st.misses.contains(&ret) {
            return false;
        }
        let patched = self.try_patch(&mut st, ctx, ret, nr, trampoline);
        if !patched && st.misses.len() < MAX_MISSES {
            st.misses.insert(ret);
        }
        patched
    }

    fn try_patch(
        &self,
        st: &mut State,
        ctx: &mut dyn Context,
        ret: u64,
        nr: u64,
        trampoline: u64,
    ) -> bool {
        let Some(site) = ret.checked_sub(rules::SITE_LEN as u64) else {
            return false;
        };
        if !rules::fits_one_store(site) || u32::try_from(nr).is_err() {
            return false;
        }
        let word = site & !(rules::STORE - 1);
        let mut old = [0u8; 8];
        if self.read_force(word, &mut old).is_err() {
            return false;
        }
        let old = u64::from_le_bytes(old);
        let at = (site - word) as usize;
        let code: [u8; rules::SITE_LEN] = old.to_le_bytes()[at..at + rules::SITE_LEN]
            .try_into()
            .expect("7 bytes");
        if !rules::is_site(&code, nr) || !self.table(st, ctx) {
            return false;
        }
        let slot = rules::TABLE_START + st.next * ENTRY;
        if st.next == 0 || slot + ENTRY > rules::TABLE_END {
            return false;
        }
        let Some(new) = rules::patched_word(site, old, nr, slot) else {
            return false;
        };
        // The entry first: a thread reaches it only through the jump.
        let mut e = Vec::with_capacity(ENTRY as usize);
        e.extend_from_slice(&(slot + 8).to_le_bytes());
        e.extend_from_slice(&MOVABS_RAX);
        e.extend_from_slice(&((ret << 16) | nr).to_le_bytes());
        e.extend_from_slice(&JMP_RIP);
        e.extend_from_slice(&trampoline.to_le_bytes());
        st.next += 1;
        let header = [MAGIC.to_le_bytes(), st.next.to_le_bytes()].concat();
        if self.write_force(slot, &e).is_err()
            || self.write_force(rules::TABLE_START, &header).is_err()
        {
            return false;
        }
        matches!(self.swap_code_word(word, old, new), Ok(true))
    }

    /// Whether the table is there, made on first use. Read again each
    /// time (patching is rare): the application may have unmapped it or
    /// mapped its own memory there since.
    fn table(&self, st: &mut State, ctx: &mut dyn Context) -> bool {
        st.table = None;
        if let Some(t) = self.find_table(st) {
            return t;
        }
        let mut req = MapRequest::anon(
            rules::TABLE_END - rules::TABLE_START,
            libc::PROT_READ | libc::PROT_EXEC,
        );
        req.addr = rules::TABLE_START;
        req.noreplace = true;
        st.next = 1;
        let header = [MAGIC.to_le_bytes(), st.next.to_le_bytes()].concat();
        let t =
            self.mmap(ctx, req).is_ok() && self.write_force(rules::TABLE_START, &header).is_ok();
        st.table = Some(t);
        t
    }

    /// Whether the table is there (ours) or something else is; None when
    /// nothing is mapped there yet. A fork child finds its parent's table
    /// and where it left off.
    fn find_table(&self, st: &mut State) -> Option<bool> {
        if st.table.is_none() {
            let mut h = [0u8; 16];
            self.read_force(rules::TABLE_START, &mut h).ok()?;
            let ours = u64::from_le_bytes(h[..8].try_into().expect("8 bytes")) == MAGIC;
            st.next = u64::from_le_bytes(h[8..].try_into().expect("8 bytes"));
            st.table = Some(ours);
        }
        st.table
    }

    /// Whether an invalid-opcode fault at `rip` is at the `06` a patch
    /// left where a `syscall` was (`rules::syscall_in_patch`), in an
    /// address space that has patched sites.
    pub fn syscall_in_patch(&self, rip: u64) -> bool {
        if self.find_table(&mut self.patch.lock().unwrap()) != Some(true) {
            return false;
        }
        let Some(start) = rip.checked_sub(rules::SYSCALL_OFFSET) else {
            return false;
        };
        let mut code = [0u8; rules::SITE_LEN];
        self.read_force(start, &mut code).is_ok() && rules::syscall_in_patch(&code)
    }

    /// Compare-and-swaps the aligned code word at `addr` from `old` to
    /// `new`, through the memory file, as one atomic store: in a private
    /// executable mapping only, whose page is first made this address
    /// space's own (a file's page a private copy, a page shared
    /// copy-on-write after fork a copy).
    fn swap_code_word(&self, addr: u64, old: u64, new: u64) -> Result<bool, Errno> {
        if !addr.is_multiple_of(rules::STORE) {
            return Err(Errno::EINVAL);
        }
        self.unborrow(addr, rules::STORE)?;
        let guard = self.lock_for(addr, rules::STORE as usize, true)?;
        let inner = &*guard;
        let (_, v) = Self::vma_at(inner, addr).ok_or(Errno::EFAULT)?;
        if v.shared || v.borrowed || v.attachment.is_some() || v.prot & libc::PROT_EXEC == 0 {
            return Err(Errno::EACCES);
        }
        let (off, _) = Self::locate(inner, v, addr);
        let p = self.file.ptr(off) as *const AtomicU64;
        // SAFETY: p is 8-aligned (addr is, and file offsets are
        // page-aligned) and points into the mapped memory file, which the
        // application's threads execute from, hence the atomic access.
        let w = unsafe { &*p };
        Ok(
            w.compare_exchange(old, new, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok(),
        )
    }
}
