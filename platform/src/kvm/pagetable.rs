//! Four-level x86-64 page tables of one address space, in platform memory,
//! written by the host. The platform region's PML4 slot points at tables
//! shared by every address space.

use std::sync::Arc;

use super::layout::*;
use super::memory::PlatformMemory;
use crate::{Prot, Result};

pub struct PageTables {
    mem: Arc<PlatformMemory>,
    pub root: u64,
    /// Every table page of this address space (not the shared ones).
    pages: Vec<u64>,
}

const ENTRIES: u64 = 512;

fn index(va: u64, level: u32) -> usize {
    ((va >> (12 + 9 * level)) & (ENTRIES - 1)) as usize
}

/// The leaf entry for `gpa` with protection `prot`.
fn leaf(gpa: u64, prot: Prot) -> u64 {
    if prot & (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) == 0 {
        return gpa | PTE_NONE;
    }
    let mut e = gpa | PTE_P | PTE_U;
    if prot & libc::PROT_WRITE != 0 {
        e |= PTE_W;
    }
    if prot & libc::PROT_EXEC == 0 {
        e |= PTE_NX;
    }
    e
}

/// Whether changing a present entry `old` to `new` takes a right away (so
/// KVM's shadow of it must go); granting more is picked up on the next fault.
fn narrows(old: u64, new: u64) -> bool {
    old & PTE_P != 0
        && (new & PTE_P == 0
            || new & PTE_ADDR != old & PTE_ADDR
            || (old & PTE_W != 0 && new & PTE_W == 0)
            || (old & PTE_NX == 0 && new & PTE_NX != 0))
}

impl PageTables {
    /// New tables whose platform slot is `region_pdpt`.
    pub fn new(mem: Arc<PlatformMemory>, region_pdpt: u64) -> Result<PageTables> {
        let root = mem.alloc()?;
        // SAFETY: `root` is a page of platform memory; slot 254 is in it.
        unsafe {
            *mem.table(root).add(REGION_PML4_INDEX) = region_pdpt | PTE_P | PTE_W | PTE_U;
        }
        Ok(PageTables {
            mem,
            root,
            pages: vec![root],
        })
    }

    /// The leaf table covering `va`, made if `create`.
    fn leaf_table(&mut self, va: u64, create: bool) -> Result<Option<u64>> {
        let mut table = self.root;
        for level in (1..4).rev() {
            // SAFETY: `table` is one of our table pages; index < 512.
            let slot = unsafe { self.mem.table(table).add(index(va, level)) };
            // SAFETY: as above.
            let e = unsafe { *slot };
            if e & PTE_P != 0 {
                table = e & PTE_ADDR;
                continue;
            }
            if !create {
                return Ok(None);
            }
            let page = self.mem.alloc()?;
            self.pages.push(page);
            // SAFETY: as above; the new entry points at a zeroed table.
            unsafe { *slot = page | PTE_P | PTE_W | PTE_U };
            table = page;
        }
        Ok(Some(table))
    }

    /// Applies `f(old) -> new` to each leaf entry of `[addr, addr+len)`;
    /// `create` makes missing tables, otherwise their ranges are skipped.
    /// Returns the tables (by guest-physical address) in which a present
    /// entry lost a right.
    fn update(
        &mut self,
        addr: u64,
        len: u64,
        create: bool,
        mut f: impl FnMut(u64, u64) -> u64,
    ) -> Result<Vec<u64>> {
        let mut narrowed = Vec::new();
        let end = addr.saturating_add(len).min(MAX_USER);
        let mut va = addr & !(PAGE - 1);
        while va < end {
            let next_table = (va | ((1 << 21) - 1)) + 1;
            let stop = next_table.min(end);
            match self.leaf_table(va, create)? {
                None => {}
                Some(t) => {
                    let entries = self.mem.table(t);
                    let mut any = false;
                    let mut v = va;
                    while v < stop {
                        // SAFETY: a table page of ours, index < 512.
                        let slot = unsafe { entries.add(index(v, 0)) };
                        // SAFETY: as above.
                        let old = unsafe { *slot };
                        let new = f(v, old);
                        if new != old {
                            any |= narrows(old, new);
                            // SAFETY: as above.
                            unsafe { *slot = new };
                        }
                        v += PAGE;
                    }
                    if any {
                        narrowed.push(t);
                    }
                }
            }
            va = next_table;
        }
        Ok(narrowed)
    }

    /// The leaf entry for `va` (0 when there is none).
    pub fn entry(&mut self, va: u64) -> u64 {
        match self.leaf_table(va, false) {
            // SAFETY: a table page of ours, index < 512.
            Ok(Some(t)) => unsafe { *self.mem.table(t).add(index(va, 0)) },
            _ => 0,
        }
    }

    pub fn map(&mut self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<Vec<u64>> {
        self.update(addr, len, true, |va, _| leaf(offset + (va - addr), prot))
    }

    pub fn unmap(&mut self, addr: u64, len: u64) -> Result<Vec<u64>> {
        self.update(addr, len, false, |_, _| 0)
    }

    pub fn protect(&mut self, addr: u64, len: u64, prot: Prot) -> Result<Vec<u64>> {
        self.update(addr, len, false, |_, old| {
            if old & (PTE_P | PTE_NONE) == 0 {
                old
            } else {
                leaf(old & PTE_ADDR, prot)
            }
        })
    }
}

impl Drop for PageTables {
    fn drop(&mut self) {
        self.mem.release(&self.pages);
    }
}
