//! Guest-physical memory: the memory file's memslots, registered a chunk at
//! a time as mappings reach them, and the platform's own pages.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::VmFd;

use super::layout::*;
use crate::{PlatformError, Result};

fn last(op: &'static str) -> PlatformError {
    PlatformError {
        op,
        errno: nix::errno::Errno::last_raw(),
    }
}

fn kvm_err(op: &'static str, e: kvm_ioctls::Error) -> PlatformError {
    PlatformError {
        op,
        errno: e.errno(),
    }
}

/// A shared mapping of `len` bytes of `fd`, for the life of the process.
fn map_shared(fd: RawFd, len: u64, op: &'static str) -> Result<u64> {
    // SAFETY: a new shared mapping placed by the kernel; only touched pages
    // cost memory. It is never unmapped: memslots point into it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len as usize,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_NORESERVE,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(last(op));
    }
    Ok(p as u64)
}

/// The memory file's slots.
pub struct FileSlots {
    base: u64,
    registered: Mutex<Vec<bool>>,
}

/// Memslot 0 is the platform memory; file chunk i is slot i + 1.
const FIRST_FILE_SLOT: u32 = 1;

impl FileSlots {
    pub fn new(memfd: RawFd) -> Result<FileSlots> {
        Ok(FileSlots {
            base: map_shared(memfd, FILE_GPA_END, "mmap the memory file for KVM")?,
            registered: Mutex::new(vec![false; (FILE_GPA_END / FILE_CHUNK) as usize]),
        })
    }

    /// Registers the chunks `[off, off + len)` of the file lies in.
    pub fn ensure(&self, vm: &VmFd, off: u64, len: u64) -> Result<()> {
        let end = off
            .checked_add(len)
            .filter(|e| *e <= FILE_GPA_END)
            .ok_or(PlatformError {
                op: "map beyond the memory file",
                errno: libc::EINVAL,
            })?;
        let mut reg = self.registered.lock().unwrap_or_else(|e| e.into_inner());
        let mut chunk = off / FILE_CHUNK;
        while chunk * FILE_CHUNK < end {
            if !reg[chunk as usize] {
                let region = kvm_userspace_memory_region {
                    slot: FIRST_FILE_SLOT + chunk as u32,
                    flags: 0,
                    guest_phys_addr: chunk * FILE_CHUNK,
                    memory_size: FILE_CHUNK,
                    userspace_addr: self.base + chunk * FILE_CHUNK,
                };
                // SAFETY: the host range is our mapping of the memory file,
                // which lives as long as the process.
                unsafe { vm.set_user_memory_region(region) }
                    .map_err(|e| kvm_err("KVM_SET_USER_MEMORY_REGION (memory file)", e))?;
                reg[chunk as usize] = true;
            }
            chunk += 1;
        }
        Ok(())
    }
}

/// The platform's own memory: page tables, guest code, per-vCPU pages.
/// Pages are handed out once and never reused: KVM may still hold shadow
/// pages of a freed page table, which a new owner would inherit.
pub struct PlatformMemory {
    _fd: OwnedFd,
    base: u64,
    next: Mutex<u64>,
}

impl PlatformMemory {
    pub fn new(vm: &VmFd) -> Result<PlatformMemory> {
        // SAFETY: memfd_create takes a NUL-terminated name and returns a new fd.
        let fd = unsafe { libc::memfd_create(c"runsc-kvm".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(last("memfd_create (kvm platform memory)"));
        }
        // SAFETY: fd was just created and is ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: sizing our own new memfd.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), PLAT_SIZE as i64) } != 0 {
            return Err(last("ftruncate (kvm platform memory)"));
        }
        let base = map_shared(fd.as_raw_fd(), PLAT_SIZE, "mmap (kvm platform memory)")?;
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: PLAT_GPA,
            memory_size: PLAT_SIZE,
            userspace_addr: base,
        };
        // SAFETY: the host range is our mapping above, kept for the process.
        unsafe { vm.set_user_memory_region(region) }
            .map_err(|e| kvm_err("KVM_SET_USER_MEMORY_REGION (platform)", e))?;
        Ok(PlatformMemory {
            _fd: fd,
            base,
            next: Mutex::new(PLAT_GPA),
        })
    }

    /// A new zeroed page's guest-physical address.
    pub fn alloc(&self) -> Result<u64> {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        if *next >= PLAT_GPA + PLAT_SIZE {
            return Err(PlatformError {
                op: "kvm platform memory exhausted",
                errno: libc::ENOMEM,
            });
        }
        let p = *next;
        *next += PAGE;
        Ok(p)
    }

    /// The host address of platform page `gpa`.
    pub fn host(&self, gpa: u64) -> *mut u8 {
        debug_assert!((PLAT_GPA..PLAT_GPA + PLAT_SIZE).contains(&gpa));
        (self.base + (gpa - PLAT_GPA)) as *mut u8
    }

    /// The 512 entries of page-table page `gpa`.
    pub fn table(&self, gpa: u64) -> *mut u64 {
        self.host(gpa & PTE_ADDR) as *mut u64
    }

    /// Copies `bytes` to platform memory at `gpa`.
    pub fn write(&self, gpa: u64, bytes: &[u8]) {
        assert!(gpa + bytes.len() as u64 <= PLAT_GPA + PLAT_SIZE);
        // SAFETY: the destination lies inside our mapping of the platform
        // memory (checked above); the source is a separate Rust slice.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.host(gpa), bytes.len()) };
    }

    /// Frees the host memory behind pages (their addresses are not reused).
    pub fn release(&self, pages: &[u64]) {
        for &gpa in pages {
            // SAFETY: MADV_REMOVE on a page of our own shared mapping: it
            // reads back as zeros; nothing of ours points into it any more.
            unsafe {
                libc::madvise(self.host(gpa).cast(), PAGE as usize, libc::MADV_REMOVE);
            }
        }
    }
}
