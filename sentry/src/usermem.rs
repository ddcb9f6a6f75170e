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
