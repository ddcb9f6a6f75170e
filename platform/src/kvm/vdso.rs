//! The vDSO: the host kernel's own, shared with the guest. Its data pages
//! are the ones the host kernel keeps current and the guest's TSC is the
//! host's (rdtsc runs natively in ring 3), so clock_gettime, gettimeofday,
//! time and getcpu in the guest read the host's clocks without leaving it.

use std::sync::OnceLock;

use kvm_bindings::{kvm_userspace_memory_region, KVM_MEM_READONLY};
use kvm_ioctls::VmFd;

use super::layout::*;
use crate::Vdso;

/// The host's vDSO block in this process: [vvar ... vdso], and the vdso's
/// start.
#[derive(Clone, Copy, Debug)]
pub struct HostVdso {
    start: u64,
    end: u64,
    code: u64,
}

static HOST: OnceLock<Option<HostVdso>> = OnceLock::new();

/// Reads /proc/self/maps (at `prepare`, while /proc is visible).
pub fn find() -> Option<HostVdso> {
    *HOST.get_or_init(|| {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let (mut start, mut end, mut code) = (None, 0, None);
        for line in maps.lines() {
            let name = line.split_whitespace().nth(5).unwrap_or("");
            if !(name.starts_with("[vvar") || name == "[vdso]") {
                continue;
            }
            let (s, e) = line.split_once(' ')?.0.split_once('-')?;
            let (s, e) = (
                u64::from_str_radix(s, 16).ok()?,
                u64::from_str_radix(e, 16).ok()?,
            );
            if start.is_some() && s != end {
                return None;
            }
            start.get_or_insert(s);
            end = e;
            if name == "[vdso]" {
                code = Some(s);
            }
        }
        Some(HostVdso {
            start: start?,
            end,
            code: code?,
        })
    })
}

impl HostVdso {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Where the block sits in the guest.
    pub fn guest(&self) -> Vdso {
        let start = VDSO_END - self.len();
        Vdso {
            start,
            end: VDSO_END,
            ehdr: start + (self.code - self.start),
        }
    }

    /// The guest-physical offset of the code (the data pages come first).
    pub fn code_offset(&self) -> u64 {
        self.code - self.start
    }

    /// Registers the block as a read-only memslot at [`VDSO_GPA`].
    pub fn register(&self, vm: &VmFd, slot: u32) -> bool {
        let region = kvm_userspace_memory_region {
            slot,
            flags: KVM_MEM_READONLY,
            guest_phys_addr: VDSO_GPA,
            memory_size: self.len(),
            userspace_addr: self.start,
        };
        // SAFETY: the host range is this process's vDSO block, mapped by
        // the kernel for the process's lifetime.
        unsafe { vm.set_user_memory_region(region) }.is_ok()
    }
}
