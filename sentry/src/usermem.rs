//! Typed access to application memory.
//!
//! A register value is never dereferenced: handlers copy through the task's
//! MM, which checks every byte against the VMAs (EFAULT otherwise).

/// Plain old data: any byte pattern is a valid value, so it may be copied
/// from application memory.
///
/// # Safety
/// Implement only for `#[repr(C)]` types without padding-sensitive invariants
/// (integers, libc ABI structs).
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => { $(
        // SAFETY: integers and libc ABI structs accept any bit pattern.
        unsafe impl Pod for $t {}
    )* };
}
pod!(
    u8,
    u16,
    u32,
    u64,
    i8,
    i16,
    i32,
    i64,
    usize,
    isize,
    libc::timespec,
    libc::timeval,
    libc::stat,
    libc::statx,
    libc::iovec,
    libc::rlimit,
    libc::sigset_t,
    libc::utsname,
    libc::sysinfo,
    libc::rusage,
    libc::tms,
    libc::winsize,
    libc::termios,
    libc::statfs,
    libc::itimerval,
    libc::itimerspec,
    libc::pollfd,
    libc::siginfo_t,
    libc::stack_t,
    libc::timezone,
    libc::epoll_event,
    libc::flock,
    libc::sched_param
);
// SAFETY: arrays of Pod are Pod.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

pub fn as_bytes<T: Pod>(v: &T) -> &[u8] {
    // SAFETY: T is Pod, so all of its bytes may be read.
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

pub fn from_bytes<T: Pod>(b: &[u8]) -> T {
    assert!(b.len() >= std::mem::size_of::<T>());
    // SAFETY: T is Pod (any bytes are valid) and b holds enough bytes;
    // read_unaligned has no alignment requirement.
    unsafe { std::ptr::read_unaligned(b.as_ptr() as *const T) }
}

pub fn zeroed<T: Pod>() -> T {
    // SAFETY: T is Pod, so all-zero bytes are a valid value.
    unsafe { std::mem::zeroed() }
}

/// An address space's memory as the layers under the kernel see it: copies
/// that check every byte against the mappings (EFAULT otherwise). The MM
/// implements it; the VFS, the loader and the filesystems reach application
/// memory only through it.
pub trait UserMemory {
    /// Copies application memory at `addr` into `buf`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), crate::errno::Errno>;
    /// Copies `data` into application memory at `addr`.
    fn write(&self, addr: u64, data: &[u8]) -> Result<(), crate::errno::Errno>;
    /// A NUL-terminated string of at most `max` bytes, without the NUL.
    fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>, crate::errno::Errno>;
}

impl dyn UserMemory + '_ {
    /// One value of type `T` at `addr`.
    pub fn copy_in<T: Pod>(&self, addr: u64) -> Result<T, crate::errno::Errno> {
        let mut v = zeroed::<T>();
        // SAFETY: T is Pod, so any bytes written through this view leave a
        // valid value; the slice covers exactly v's bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(&mut v as *mut T as *mut u8, std::mem::size_of::<T>())
        };
        self.read(addr, bytes)?;
        Ok(v)
    }

    /// Writes one value of type `T` at `addr`.
    pub fn copy_out<T: Pod>(&self, addr: u64, v: &T) -> Result<(), crate::errno::Errno> {
        self.write(addr, as_bytes(v))
    }
}
