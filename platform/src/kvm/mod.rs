//! The KVM platform: application threads run in ring 3 of a VM whose
//! guest-physical memory is the memory file, each on a vCPU of its own.
//!
//! * `layout.rs`: guest-physical and guest-virtual addresses;
//! * `memory.rs`: memslots (memory file, platform memory);
//! * `ring0.rs`: the guest's code, GDT, IDT and TSS;
//! * `pagetable.rs`: page tables built from map/unmap/protect;
//! * `address_space.rs`: an address space and its TLB shoot-down;
//! * `vdso.rs`: the host's vDSO, shared with the guest;
//! * `vm.rs`: the VM, vCPU set-up, the vCPU pool and kicks;
//! * `context.rs`: the run loop and the events.

mod address_space;
mod context;
mod layout;
mod memory;
mod pagetable;
mod ring0;
mod vdso;
mod vm;

use std::os::fd::{IntoRawFd, RawFd};
use std::sync::{Arc, OnceLock};

use crate::{Context, Platform, PlatformError, Result};

/// /dev/kvm, opened by [`prepare`] while host paths are still visible.
static KVM_FD: OnceLock<std::result::Result<RawFd, PlatformError>> = OnceLock::new();

fn open_kvm() -> std::result::Result<RawFd, PlatformError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| PlatformError {
            op: match e.raw_os_error() {
                Some(libc::ENOENT) => "cannot open /dev/kvm (no such device: is KVM enabled on this host? use --platform=ptrace)",
                Some(libc::EACCES) | Some(libc::EPERM) => "cannot open /dev/kvm (permission denied: run as root or join the kvm group, or use --platform=ptrace)",
                _ => "cannot open /dev/kvm",
            },
            errno: e.raw_os_error().unwrap_or(libc::EIO),
        })?;
    let fd = f.into_raw_fd();
    // SAFETY: KVM_GET_API_VERSION takes no argument.
    let v = unsafe { libc::ioctl(fd, 0xae00, 0) };
    if v != 12 {
        return Err(PlatformError {
            op: "/dev/kvm has an unsupported API version (want 12)",
            errno: libc::ENOTSUP,
        });
    }
    Ok(fd)
}

/// Opens /dev/kvm (before the Sentry gives up host paths) and checks it
/// can make a VM.
pub fn prepare() -> Result<()> {
    let fd = (*KVM_FD.get_or_init(open_kvm))?;
    vdso::find();
    // A VM, to fail now, with a reason, rather than at the first process.
    // SAFETY: KVM_CREATE_VM with type 0 returns a new descriptor or fails.
    let vm = unsafe { libc::ioctl(fd, 0xae01, 0) };
    if vm < 0 {
        return Err(PlatformError {
            op: "/dev/kvm cannot create a VM (KVM_CREATE_VM)",
            errno: nix::errno::Errno::last_raw(),
        });
    }
    // SAFETY: closing the probe VM we just made.
    unsafe { libc::close(vm) };
    Ok(())
}

/// The KVM platform over one memory file.
pub struct KvmPlatform {
    vm: Arc<vm::Vm>,
}

impl KvmPlatform {
    /// `memfd` is the memory file; it must stay open for the platform's
    /// lifetime.
    pub fn new(memfd: RawFd) -> Result<KvmPlatform> {
        let fd = (*KVM_FD.get_or_init(open_kvm))?;
        Ok(KvmPlatform {
            vm: vm::Vm::new(fd, memfd)?,
        })
    }
}

impl Platform for KvmPlatform {
    fn new_address_space(&self) -> Result<Box<dyn Context>> {
        let space = address_space::AsInner::new(self.vm.clone())?;
        Ok(Box::new(context::KvmContext::new(space)?))
    }

    fn max_user_address(&self) -> u64 {
        layout::MAX_USER
    }

    fn vdso(&self) -> Option<crate::Vdso> {
        self.vm.vdso.map(|v| v.guest())
    }
}
