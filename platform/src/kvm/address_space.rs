//! An address space: page tables in platform memory, and the vCPUs running
//! in it, which a change must reach before it returns.
//!
//! KVM shadows the guest's page tables (this host has no EPT: see
//! docs/architecture.md) and trusts a table it shadows to change only by
//! guest writes, which it traps. The host writes the tables directly, so
//! a change that takes a right away (unmap, mprotect down, a new page for a
//! copy-on-write one) is logged with a new generation; every vCPU of the
//! address space is kicked out of the guest, and before it runs application
//! code again it rewrites a byte of each logged table from ring 0 (KVM drops
//! or resyncs its shadow of that table) and flushes its TLB.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::layout::*;
use super::pagetable::PageTables;
use super::vm::{VcpuShared, Vm};
use crate::{AddressSpace, Prot, Result};

const RX: Prot = libc::PROT_READ | libc::PROT_EXEC;

pub struct AsInner {
    pub vm: Arc<Vm>,
    pub root: u64,
    tables: Mutex<PageTables>,
    pub gen: AtomicU64,
    /// (generation, table) for each table that lost a right, newest last.
    log: Mutex<Vec<(u64, u64)>>,
    /// The vCPUs of the contexts in this address space, with their owner
    /// generation (a vCPU given back and taken by another context between
    /// a look at this list and a kick is left alone).
    vcpus: Mutex<Vec<(Arc<VcpuShared>, u64)>>,
    pub gone: AtomicBool,
}

impl std::fmt::Debug for AsInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KvmAddressSpace({:#x})", self.root)
    }
}

/// Log entries kept before the ones every vCPU has seen are dropped and
/// the rest folded to one per table.
const LOG_TRIM: usize = 4096;

impl AsInner {
    pub fn new(vm: Arc<Vm>) -> Result<Arc<AsInner>> {
        let mut tables = PageTables::new(vm.mem.clone(), vm.region_pdpt)?;
        if let Some(v) = vm.vdso {
            // The data pages read-only, the code read-execute.
            let g = v.guest();
            let code = v.code_offset();
            tables.map(g.start, code, libc::PROT_READ, VDSO_GPA)?;
            tables.map(g.start + code, v.len() - code, RX, VDSO_GPA + code)?;
        }
        Ok(Arc::new(AsInner {
            vm,
            root: tables.root,
            tables: Mutex::new(tables),
            gen: AtomicU64::new(0),
            log: Mutex::new(Vec::new()),
            vcpus: Mutex::new(Vec::new()),
            gone: AtomicBool::new(false),
        }))
    }

    /// Adds the vCPU of a new context (`owner`) to the ones a change must
    /// reach. Its first entry touches every table still in the log: KVM's
    /// shadow of a table is the VM's, not the vCPU's, and a change no vCPU
    /// has flushed yet (all of them were in the Sentry) is still stale in
    /// it, even for a vCPU whose own TLB is empty.
    pub fn register(&self, v: &Arc<VcpuShared>, owner: u64) {
        v.seen_gen.store(0, Ordering::SeqCst);
        self.vcpus
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((v.clone(), owner));
    }

    pub fn unregister(&self, v: &Arc<VcpuShared>) {
        self.vcpus
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(x, _)| !Arc::ptr_eq(x, v));
    }

    fn others(&self) -> Vec<(Arc<VcpuShared>, u64)> {
        self.vcpus.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Makes a change that took rights away in `tables` reach every vCPU.
    fn invalidate(&self, tables: Vec<u64>) {
        if tables.is_empty() {
            return;
        }
        {
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            let gen = self.gen.load(Ordering::SeqCst) + 1;
            log.extend(tables.into_iter().map(|t| (gen, t)));
            self.gen.store(gen, Ordering::SeqCst);
            if log.len() > LOG_TRIM {
                let seen = self
                    .others()
                    .iter()
                    .map(|(v, _)| v.seen_gen.load(Ordering::SeqCst))
                    .min()
                    .unwrap_or(0);
                log.retain(|(g, _)| *g > seen);
                // With no vCPU (or one that has not run for long) that
                // leaves much: keep each table's newest entry, which is all
                // `touches_since` needs.
                log.sort_unstable_by_key(|&(g, t)| (t, std::cmp::Reverse(g)));
                log.dedup_by_key(|&mut (_, t)| t);
                log.sort_unstable();
            }
        }
        // SAFETY: gettid has no preconditions.
        let me = unsafe { libc::gettid() };
        for (v, owner) in self.others() {
            if v.tid.load(Ordering::SeqCst) != me && v.owner() == owner {
                v.kick_and_wait();
            }
        }
    }

    /// The window addresses of the tables changed after generation `seen`.
    pub fn touches_since(&self, seen: u64) -> Vec<u64> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let mut t: Vec<u64> = log
            .iter()
            .filter(|(g, _)| *g > seen)
            .map(|(_, p)| window(*p))
            .collect();
        t.sort_unstable();
        t.dedup();
        t
    }

    /// Whether `va` is mapped with PROT_NONE (a fault there is an access
    /// error, as Linux reports it, not a missing page).
    pub fn is_prot_none(&self, va: u64) -> bool {
        let e = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(va);
        e & PTE_NONE != 0
    }

    pub fn map(&self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()> {
        self.vm.file.ensure(&self.vm.vm, offset, len)?;
        let t = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(addr, len, prot, offset)?;
        self.invalidate(t);
        Ok(())
    }

    pub fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        let t = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unmap(addr, len)?;
        self.invalidate(t);
        Ok(())
    }

    pub fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        let t = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .protect(addr, len, prot)?;
        self.invalidate(t);
        Ok(())
    }

    pub fn destroy(&self) {
        self.gone.store(true, Ordering::SeqCst);
        for (v, owner) in self.others() {
            v.interrupt(owner);
        }
    }
}

/// The [`AddressSpace`] handle.
#[derive(Debug)]
pub struct KvmAddressSpace(pub Arc<AsInner>);

impl AddressSpace for KvmAddressSpace {
    fn map(&self, addr: u64, len: u64, prot: Prot, offset: u64) -> Result<()> {
        self.0.map(addr, len, prot, offset)
    }

    fn unmap(&self, addr: u64, len: u64) -> Result<()> {
        self.0.unmap(addr, len)
    }

    fn protect(&self, addr: u64, len: u64, prot: Prot) -> Result<()> {
        self.0.protect(addr, len, prot)
    }

    fn protect_ranges(&self, ranges: &[(u64, u64, Prot)]) -> Result<()> {
        let mut all = Vec::new();
        {
            let mut tables = self.0.tables.lock().unwrap_or_else(|e| e.into_inner());
            for &(a, l, p) in ranges {
                all.extend(tables.protect(a, l, p)?);
            }
        }
        self.0.invalidate(all);
        Ok(())
    }

    fn destroy(&self) {
        self.0.destroy();
    }
}
