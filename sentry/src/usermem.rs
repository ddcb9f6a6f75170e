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
    libc::sigevent,
    libc::timex,
    libc::pollfd,
    libc::siginfo_t,
    libc::stack_t,
    libc::timezone,
    libc::epoll_event,
    libc::flock,
    libc::sched_param,
    libc::msghdr,
    libc::cmsghdr,
    libc::ucred,
    libc::linger,
    libc::mmsghdr,
    libc::shmid_ds,
    libc::semid_ds,
    libc::msqid_ds,
    libc::ipc_perm,
    libc::user_regs_struct
);
// SAFETY: arrays of Pod are Pod.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

/// An application address as a register holds it: never dereferenced by
/// the Sentry, only copied through the MM, which checks every byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserAddr(pub u64);

impl UserAddr {
    pub fn get(self) -> u64 {
        self.0
    }

    pub fn is_null(self) -> bool {
        self.0 == 0
    }

    /// `self + n`; None past the end of the address space's numbers.
    pub fn checked_add(self, n: u64) -> Option<UserAddr> {
        self.0.checked_add(n).map(UserAddr)
    }
}

/// Raw addresses still convert, so helpers can take `impl Into<UserAddr>`
/// while code not yet typed passes a `u64`.
impl From<u64> for UserAddr {
    fn from(a: u64) -> UserAddr {
        UserAddr(a)
    }
}

/// A typed application pointer (gVisor's `hostarch.Addr` with its type):
/// copies through it move exactly one `T`.
pub struct UserPtr<T> {
    addr: u64,
    _t: std::marker::PhantomData<fn() -> T>,
}

impl<T> UserPtr<T> {
    pub fn new(addr: u64) -> UserPtr<T> {
        UserPtr {
            addr,
            _t: std::marker::PhantomData,
        }
    }

    pub fn addr(self) -> u64 {
        self.addr
    }

    pub fn is_null(self) -> bool {
        self.addr == 0
    }

    /// The `i`th `T` of an array starting here; None when the address
    /// would wrap.
    pub fn index(self, i: u64) -> Option<UserPtr<T>> {
        let size = std::mem::size_of::<T>() as u64;
        let off = i.checked_mul(size)?;
        self.addr.checked_add(off).map(UserPtr::new)
    }
}

impl<T> Clone for UserPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for UserPtr<T> {}

impl<T> std::fmt::Debug for UserPtr<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x}", self.addr)
    }
}

/// Raw addresses still convert, so code not yet typed keeps working.
impl<T> From<u64> for UserPtr<T> {
    fn from(addr: u64) -> UserPtr<T> {
        UserPtr::new(addr)
    }
}

/// A typed pointer is still an address, for the byte-level copies
/// (`read_bytes`, `write_bytes`) of arrays of `T`.
impl<T> From<UserPtr<T>> for UserAddr {
    fn from(p: UserPtr<T>) -> UserAddr {
        UserAddr(p.addr)
    }
}

impl<T> From<UserAddr> for UserPtr<T> {
    fn from(a: UserAddr) -> UserPtr<T> {
        UserPtr::new(a.0)
    }
}

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

/// What [`UserMemory::with_ranges`] runs: given the Sentry's (pointer,
/// length) pieces of application memory, it moves bytes and says how many.
pub type RangesFn<'a> = dyn FnMut(&[(*mut u8, usize)]) -> Result<usize, crate::errno::Errno> + 'a;

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
    /// Runs `f` over the Sentry's own mapping of `ranges` (address,
    /// length), as (pointer, length) pieces in order, when every byte is
    /// plain application memory with protection `need`; the address space
    /// is held still while `f` runs, so the pieces stay valid. EFAULT when
    /// some byte is not: the caller then copies through a buffer (which
    /// reports the fault where Linux would).
    fn with_ranges(
        &self,
        ranges: &[(u64, usize)],
        need: i32,
        f: &mut RangesFn<'_>,
    ) -> Result<Result<usize, crate::errno::Errno>, crate::errno::Errno>;
}

impl dyn UserMemory + '_ {
    /// One value of type `T` at `p`.
    pub fn copy_in<T: Pod>(&self, p: impl Into<UserPtr<T>>) -> Result<T, crate::errno::Errno> {
        let addr = p.into().addr();
        let mut v = zeroed::<T>();
        // SAFETY: T is Pod, so any bytes written through this view leave a
        // valid value; the slice covers exactly v's bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts_mut(&mut v as *mut T as *mut u8, std::mem::size_of::<T>())
        };
        self.read(addr, bytes)?;
        Ok(v)
    }

    /// Writes one value of type `T` at `p`.
    pub fn copy_out<T: Pod>(
        &self,
        p: impl Into<UserPtr<T>>,
        v: &T,
    ) -> Result<(), crate::errno::Errno> {
        self.write(p.into().addr(), as_bytes(v))
    }
}

/// Linux's cap on one read or write (MAX_RW_COUNT): INT_MAX rounded down
/// to a page.
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// The application buffers of one read or write, in order (gVisor's
/// `usermem.IOSequence`): what a file fills on read(2), readv(2) and
/// recvmsg(2), or drains on write(2) and its kin. Each file type moves the
/// bytes its own way: through a Sentry buffer with [`IoSeq::copy_out`] and
/// [`IoSeq::copy_in`], or straight between its storage and the
/// application's pages with [`IoSeq::with_ranges`].
///
/// A transfer that faults after some progress stops there and reports the
/// progress, as Linux's short reads and writes do; a fault before any is
/// EFAULT.
pub struct IoSeq<'a> {
    mem: &'a dyn UserMemory,
    iovs: &'a [(u64, usize)],
    /// Bytes transferred so far.
    done: usize,
    /// Bytes the transfer may move in all.
    limit: usize,
}

impl<'a> IoSeq<'a> {
    /// The buffers `iovs` (address, length) of `mem`, capped at
    /// [`MAX_RW_COUNT`] bytes in all.
    pub fn new(mem: &'a dyn UserMemory, iovs: &'a [(u64, usize)]) -> IoSeq<'a> {
        let total = iovs
            .iter()
            .fold(0usize, |acc, &(_, len)| acc.saturating_add(len));
        IoSeq {
            mem,
            iovs,
            done: 0,
            limit: total.min(MAX_RW_COUNT),
        }
    }

    /// Bytes left to transfer.
    pub fn len(&self) -> usize {
        self.limit - self.done
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes transferred so far.
    pub fn done(&self) -> usize {
        self.done
    }

    /// The application memory behind the buffers.
    pub fn memory(&self) -> &'a dyn UserMemory {
        self.mem
    }

    /// Caps what is left at `n` bytes (a file's size, a datagram's).
    pub fn truncate(&mut self, n: usize) {
        self.limit = self.limit.min(self.done.saturating_add(n));
    }

    /// The untransferred buffers, up to `max` bytes: (address, length).
    fn next_ranges(&self, max: usize) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        let mut skip = self.done;
        let mut want = max.min(self.len());
        for &(base, len) in self.iovs {
            if want == 0 {
                break;
            }
            if skip >= len {
                skip -= len;
                continue;
            }
            let n = (len - skip).min(want);
            out.push((base.wrapping_add(skip as u64), n));
            want -= n;
            skip = 0;
        }
        out
    }

    /// Runs `step` over the next buffers, at most `max` bytes, until it has
    /// moved them all or falls short; counts what it moved.
    fn each(
        &mut self,
        max: usize,
        mut step: impl FnMut(u64, usize, usize) -> Result<(), crate::errno::Errno>,
    ) -> Result<usize, crate::errno::Errno> {
        let mut moved = 0;
        for (addr, n) in self.next_ranges(max) {
            if addr.checked_add(n as u64).is_none() {
                return self.progress(moved, crate::errno::Errno::EFAULT);
            }
            if let Err(e) = step(addr, moved, n) {
                return self.progress(moved, e);
            }
            moved += n;
        }
        self.done += moved;
        Ok(moved)
    }

    fn progress(
        &mut self,
        moved: usize,
        e: crate::errno::Errno,
    ) -> Result<usize, crate::errno::Errno> {
        self.done += moved;
        if moved > 0 {
            Ok(moved)
        } else {
            Err(e)
        }
    }

    /// Copies `data` (as much as fits) into the next buffers.
    pub fn copy_out(&mut self, data: &[u8]) -> Result<usize, crate::errno::Errno> {
        let mem = self.mem;
        self.each(data.len(), |addr, at, n| mem.write(addr, &data[at..at + n]))
    }

    /// Fills `buf` (as much as the buffers hold) from the next buffers.
    pub fn copy_in(&mut self, buf: &mut [u8]) -> Result<usize, crate::errno::Errno> {
        let mem = self.mem;
        self.each(buf.len(), |addr, at, n| {
            mem.read(addr, &mut buf[at..at + n])
        })
    }

    /// Runs `f` over the Sentry's mapping of the next buffers, at most
    /// `max` bytes, as (pointer, length) pieces writable (`write`: the
    /// file fills them) or readable; `f` returns how many bytes it moved,
    /// from the first piece on. EFAULT, with nothing moved, when the
    /// buffers are not all plain memory: the caller then copies through a
    /// buffer instead.
    pub fn with_ranges(
        &mut self,
        max: usize,
        write: bool,
        f: &mut RangesFn<'_>,
    ) -> Result<Result<usize, crate::errno::Errno>, crate::errno::Errno> {
        let need = if write {
            libc::PROT_WRITE
        } else {
            libc::PROT_READ
        };
        let ranges = self.next_ranges(max);
        let r = self.mem.with_ranges(&ranges, need, f)?;
        if let Ok(moved) = r {
            self.done += moved.min(self.len());
        }
        Ok(r)
    }
}

/// A Sentry buffer seen as application memory at addresses `0..len`, so a
/// file whose I/O is written for [`IoSeq`] (a socket) can also fill or
/// drain a buffer of the Sentry's own: sendfile(2) and splice(2) move
/// bytes through one.
pub struct BufferMemory<'a> {
    buf: BufferBytes<'a>,
}

enum BufferBytes<'a> {
    Readable(&'a [u8]),
    Writable(std::cell::RefCell<&'a mut [u8]>),
}

impl<'a> BufferMemory<'a> {
    /// `buf` to be read from (a send).
    pub fn readable(buf: &'a [u8]) -> BufferMemory<'a> {
        BufferMemory {
            buf: BufferBytes::Readable(buf),
        }
    }

    /// `buf` to be written into (a recv).
    pub fn writable(buf: &'a mut [u8]) -> BufferMemory<'a> {
        BufferMemory {
            buf: BufferBytes::Writable(std::cell::RefCell::new(buf)),
        }
    }

    /// The one range covering the buffer, for [`IoSeq::new`].
    pub fn range(&self) -> [(u64, usize); 1] {
        let len = match &self.buf {
            BufferBytes::Readable(b) => b.len(),
            BufferBytes::Writable(b) => b.borrow().len(),
        };
        [(0, len)]
    }
}

/// `addr..addr+len` within a buffer of `size` bytes, or EFAULT.
fn span(addr: u64, len: usize, size: usize) -> Result<std::ops::Range<usize>, crate::errno::Errno> {
    let start = usize::try_from(addr).map_err(|_| crate::errno::Errno::EFAULT)?;
    match start.checked_add(len) {
        Some(end) if end <= size => Ok(start..end),
        _ => Err(crate::errno::Errno::EFAULT),
    }
}

impl UserMemory for BufferMemory<'_> {
    fn read(&self, addr: u64, out: &mut [u8]) -> Result<(), crate::errno::Errno> {
        match &self.buf {
            BufferBytes::Readable(b) => out.copy_from_slice(&b[span(addr, out.len(), b.len())?]),
            BufferBytes::Writable(b) => {
                let b = b.borrow();
                out.copy_from_slice(&b[span(addr, out.len(), b.len())?]);
            }
        }
        Ok(())
    }

    fn write(&self, addr: u64, data: &[u8]) -> Result<(), crate::errno::Errno> {
        match &self.buf {
            BufferBytes::Readable(_) => Err(crate::errno::Errno::EFAULT),
            BufferBytes::Writable(b) => {
                let mut b = b.borrow_mut();
                let r = span(addr, data.len(), b.len())?;
                b[r].copy_from_slice(data);
                Ok(())
            }
        }
    }

    fn read_cstring(&self, _addr: u64, _max: usize) -> Result<Vec<u8>, crate::errno::Errno> {
        Err(crate::errno::Errno::EFAULT)
    }

    /// Not application memory: the caller copies through its own path.
    fn with_ranges(
        &self,
        _ranges: &[(u64, usize)],
        _need: i32,
        _f: &mut RangesFn<'_>,
    ) -> Result<Result<usize, crate::errno::Errno>, crate::errno::Errno> {
        Err(crate::errno::Errno::EFAULT)
    }
}
