//! userfaultfd: the descriptor a handler thread reads page faults from and
//! answers with ioctls (`ioctl_userfaultfd(2)`). The faults and the pages
//! are the MM's (`mm/userfault.rs`); this is the ABI: the UFFDIO_API
//! handshake, register and unregister, COPY, ZEROPAGE and WAKE, read(2) of
//! `struct uffd_msg`, poll readiness; and /dev/userfaultfd's
//! USERFAULTFD_IOC_NEW.
//!
//! The context belongs to the address space that made it (Linux's
//! `ctx->mm`), whoever holds the descriptor: it keeps that MM weakly, and
//! an ioctl after the MM is gone (exec, exit) is ESRCH.

use std::sync::{Arc, Mutex, Weak};

use crate::errno::Errno;
use crate::kernel::task::Task;
use crate::mm::{Fill, MemoryManager, Userfault, PAGE_SIZE};
use crate::usermem::{as_bytes, Pod};
use crate::vfs::{Caller, File, FileOps};
use crate::waiter::WaitQueue;

// <linux/userfaultfd.h>; the libc crate has none of it.

/// The one API version (`UFFD_API`), also the ioctls' type byte.
pub const UFFD_API: u64 = 0xAA;
/// userfaultfd(2)'s flag: faults of the Sentry itself are not handled.
pub const UFFD_USER_MODE_ONLY: i32 = 1;

/// vm.unprivileged_userfaultfd (/proc/sys/vm): Linux's default, 0.
/// Without CAP_SYS_PTRACE a process may then handle only faults of its
/// own code (UFFD_USER_MODE_ONLY), not the kernel's.
pub const UNPRIVILEGED_USERFAULTFD: bool = false;

const UFFD_EVENT_PAGEFAULT: u8 = 0x12;

const UFFDIO_REGISTER_MODE_MISSING: u64 = 1 << 0;
const UFFDIO_REGISTER_MODE_WP: u64 = 1 << 1;
const UFFDIO_REGISTER_MODE_MINOR: u64 = 1 << 2;
const UFFDIO_COPY_MODE_DONTWAKE: u64 = 1 << 0;
const UFFDIO_ZEROPAGE_MODE_DONTWAKE: u64 = 1 << 0;

const UFFD_FEATURE_SIGBUS: u64 = 1 << 7;
const UFFD_FEATURE_THREAD_ID: u64 = 1 << 8;
const UFFD_FEATURE_EXACT_ADDRESS: u64 = 1 << 11;
/// The features this implementation has: no EVENT_* (fork, remap, remove
/// and unmap are not reported), no write-protect or minor faults, no
/// shmem or hugetlbfs.
const FEATURES: u64 = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EXACT_ADDRESS;

// The ioctls' numbers (`_UFFDIO_*`), which also name them in the
// `ioctls` bit masks.
const NR_REGISTER: u32 = 0x00;
const NR_UNREGISTER: u32 = 0x01;
const NR_WAKE: u32 = 0x02;
const NR_COPY: u32 = 0x03;
const NR_ZEROPAGE: u32 = 0x04;
const NR_API: u32 = 0x3F;
/// `USERFAULTFD_IOC_NEW`'s number on /dev/userfaultfd.
const NR_IOC_NEW: u32 = 0x00;

/// The ioctls of the descriptor itself (`UFFD_API_IOCTLS`).
const API_IOCTLS: u64 = 1 << NR_REGISTER | 1 << NR_UNREGISTER | 1 << NR_API;
/// The ioctls a MISSING-mode range of anonymous memory takes.
const RANGE_IOCTLS: u64 = 1 << NR_WAKE | 1 << NR_COPY | 1 << NR_ZEROPAGE;

/// `_IOC(dir, UFFDIO, nr, size)` (`<asm-generic/ioctl.h>`).
const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    const READ: u32 = 2;
    const WRITE: u32 = 1;
    let d = match dir {
        0 => 0,
        1 => READ,
        _ => READ | WRITE,
    };
    d << 30 | (size as u32) << 16 | (UFFD_API as u32) << 8 | nr
}

const UFFDIO_API: u32 = ioc(2, NR_API, size_of::<UffdioApi>());
const UFFDIO_REGISTER: u32 = ioc(2, NR_REGISTER, size_of::<UffdioRegister>());
const UFFDIO_UNREGISTER: u32 = ioc(1, NR_UNREGISTER, size_of::<UffdioRange>());
const UFFDIO_WAKE: u32 = ioc(1, NR_WAKE, size_of::<UffdioRange>());
const UFFDIO_COPY: u32 = ioc(2, NR_COPY, size_of::<UffdioCopy>());
const UFFDIO_ZEROPAGE: u32 = ioc(2, NR_ZEROPAGE, size_of::<UffdioZeropage>());
/// /dev/userfaultfd's one ioctl: a new userfaultfd, flags as userfaultfd(2).
pub const USERFAULTFD_IOC_NEW: u32 = ioc(0, NR_IOC_NEW, 0);

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UffdioRange {
    start: u64,
    len: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UffdioRegister {
    range: UffdioRange,
    mode: u64,
    ioctls: u64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UffdioCopy {
    dst: u64,
    src: u64,
    len: u64,
    mode: u64,
    copy: i64,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UffdioZeropage {
    range: UffdioRange,
    mode: u64,
    zeropage: i64,
}

/// `struct uffd_msg` for UFFD_EVENT_PAGEFAULT.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct UffdMsg {
    event: u8,
    reserved1: u8,
    reserved2: u16,
    reserved3: u32,
    flags: u64,
    address: u64,
    ptid: u32,
    pad: u32,
}

// SAFETY: plain `#[repr(C)]` integer structs without padding.
unsafe impl Pod for UffdioApi {}
// SAFETY: as above.
unsafe impl Pod for UffdioRange {}
// SAFETY: as above.
unsafe impl Pod for UffdioRegister {}
// SAFETY: as above.
unsafe impl Pod for UffdioCopy {}
// SAFETY: as above.
unsafe impl Pod for UffdioZeropage {}
// SAFETY: as above.
unsafe impl Pod for UffdMsg {}

/// How much of UFFDIO_COPY's source one step reads before it locks the MM
/// to copy (the source may be in the very MM).
const COPY_STEP: u64 = 256 * PAGE_SIZE;

pub struct UserfaultFd {
    ctx: Arc<Userfault>,
    mm: Weak<MemoryManager>,
    /// The features UFFDIO_API enabled; None before the handshake.
    features: Mutex<Option<u64>>,
    ino: u64,
}

/// A new userfaultfd over `mm` (flags checked by the caller).
pub fn new_file(mm: &Arc<MemoryManager>, flags: i32) -> Arc<File> {
    let ops = Arc::new(UserfaultFd {
        ctx: Userfault::new(flags & UFFD_USER_MODE_ONLY != 0),
        mm: Arc::downgrade(mm),
        features: Mutex::new(None),
        ino: super::anon_ino(),
    });
    File::new(ops, None, libc::O_RDWR | (flags & libc::O_NONBLOCK))
}

/// userfaultfd(2)'s flags check: EINVAL for any bit beyond these.
pub fn check_flags(flags: i32) -> Result<(), Errno> {
    if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK | UFFD_USER_MODE_ONLY) != 0 {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

impl UserfaultFd {
    fn mm(&self) -> Result<Arc<MemoryManager>, Errno> {
        self.mm.upgrade().ok_or(Errno::ESRCH)
    }

    fn api(&self, t: &dyn Caller, arg: u64) -> Result<u64, Errno> {
        let mut api: UffdioApi = t.copy_in(arg)?;
        let fail = |t: &dyn Caller, e: Errno| {
            t.copy_out(arg, &UffdioApi::default())?;
            Err(e)
        };
        if api.api != UFFD_API || api.features & !FEATURES != 0 {
            return fail(t, Errno::EINVAL);
        }
        let wanted = api.features;
        api.features = FEATURES;
        api.ioctls = API_IOCTLS;
        t.copy_out(arg, &api)?;
        let mut f = self.features.lock().unwrap();
        if f.is_some() {
            drop(f);
            return fail(t, Errno::EINVAL);
        }
        *f = Some(wanted);
        self.ctx.set_features(
            wanted & UFFD_FEATURE_SIGBUS != 0,
            wanted & UFFD_FEATURE_EXACT_ADDRESS != 0,
        );
        Ok(0)
    }

    fn register(&self, t: &dyn Caller, arg: u64) -> Result<u64, Errno> {
        let r: UffdioRegister = t.copy_in(arg)?;
        let known =
            UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP | UFFDIO_REGISTER_MODE_MINOR;
        // Write-protect and minor faults are not implemented: as a kernel
        // built without them.
        if r.mode == 0 || r.mode & !known != 0 || r.mode != UFFDIO_REGISTER_MODE_MISSING {
            return Err(Errno::EINVAL);
        }
        self.mm()?
            .uffd_register(&self.ctx, r.range.start, r.range.len)?;
        let ioctls_at = arg + std::mem::offset_of!(UffdioRegister, ioctls) as u64;
        t.copy_out(ioctls_at, &RANGE_IOCTLS)?;
        Ok(0)
    }

    fn copy(&self, t: &dyn Caller, arg: u64) -> Result<u64, Errno> {
        let c: UffdioCopy = t.copy_in(arg)?;
        let result_at = arg + std::mem::offset_of!(UffdioCopy, copy) as u64;
        let mm = self.mm()?;
        mm.uffd_check_source(c.src, c.len)?;
        mm.uffd_check_range(c.dst, c.len)?;
        if c.mode & !UFFDIO_COPY_MODE_DONTWAKE != 0 {
            return Err(Errno::EINVAL);
        }
        if let Err(e) = mm.uffd_check_registered(c.dst, c.len) {
            self.put_result(t, result_at, -(e.0 as i64));
            return Err(e);
        }
        let mut done = 0;
        let mut failed = None;
        while done < c.len && failed.is_none() {
            let n = COPY_STEP.min(c.len - done);
            let mut buf = vec![0u8; n as usize];
            if let Err(e) = t.memory().read(c.src + done, &mut buf) {
                failed = Some(e);
                break;
            }
            let (k, err) = mm.uffd_fill(&self.ctx, c.dst + done, n, Fill::Bytes(&buf));
            done += k;
            failed = err;
        }
        let wake = c.mode & UFFDIO_COPY_MODE_DONTWAKE == 0;
        self.finish(t, result_at, c.dst, c.len, done, failed, wake)
    }

    /// Writes UFFDIO_COPY's `copy` or ZEROPAGE's `zeropage` field: bytes
    /// done, or the negative errno.
    fn put_result(&self, t: &dyn Caller, at: u64, v: i64) {
        let _ = t.copy_out(at, &v);
    }

    /// The end of COPY and ZEROPAGE (Linux's: the result field gets the
    /// bytes filled, or the error if none was; a short fill is EAGAIN),
    /// waking what was filled unless DONTWAKE.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        t: &dyn Caller,
        result_at: u64,
        dst: u64,
        len: u64,
        done: u64,
        failed: Option<Errno>,
        wake: bool,
    ) -> Result<u64, Errno> {
        let v = match (done, failed) {
            (0, Some(e)) => -(e.0 as i64),
            _ => done as i64,
        };
        t.copy_out(result_at, &v)?;
        if done == 0 {
            return Err(failed.unwrap_or(Errno::EAGAIN));
        }
        if wake {
            self.ctx.wake(dst, done);
        }
        if done == len {
            Ok(0)
        } else {
            Err(Errno::EAGAIN)
        }
    }

    fn zeropage(&self, t: &dyn Caller, arg: u64) -> Result<u64, Errno> {
        let z: UffdioZeropage = t.copy_in(arg)?;
        let result_at = arg + std::mem::offset_of!(UffdioZeropage, zeropage) as u64;
        let mm = self.mm()?;
        mm.uffd_check_range(z.range.start, z.range.len)?;
        if z.mode & !UFFDIO_ZEROPAGE_MODE_DONTWAKE != 0 {
            return Err(Errno::EINVAL);
        }
        if let Err(e) = mm.uffd_check_registered(z.range.start, z.range.len) {
            self.put_result(t, result_at, -(e.0 as i64));
            return Err(e);
        }
        let (done, failed) = mm.uffd_fill(&self.ctx, z.range.start, z.range.len, Fill::Zeros);
        let wake = z.mode & UFFDIO_ZEROPAGE_MODE_DONTWAKE == 0;
        self.finish(t, result_at, z.range.start, z.range.len, done, failed, wake)
    }

    /// One message for read(2), waiting for it if `wait`.
    fn next_message(&self, t: &dyn Caller, wait: bool) -> Result<UffdMsg, Errno> {
        let mut got = self.ctx.take_message();
        if got.is_none() {
            if !wait {
                return Err(Errno::EAGAIN);
            }
            t.block(&[&self.ctx.readers], None, &mut || {
                got = self.ctx.take_message();
                got.is_some()
            })?;
        }
        let m = got.ok_or(Errno::EAGAIN)?;
        let thread_id = self
            .features
            .lock()
            .unwrap()
            .is_some_and(|f| f & UFFD_FEATURE_THREAD_ID != 0);
        Ok(UffdMsg {
            event: UFFD_EVENT_PAGEFAULT,
            flags: m.flags,
            address: m.addr,
            ptid: if thread_id { m.tid as u32 } else { 0 },
            ..UffdMsg::default()
        })
    }
}

impl FileOps for UserfaultFd {
    fn read(&self, t: &dyn Caller, f: &File, buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        if self.features.lock().unwrap().is_none() {
            return Err(Errno::EINVAL);
        }
        let size = size_of::<UffdMsg>();
        let mut done = 0;
        // As many messages as fit, waiting (unless O_NONBLOCK) only for
        // the first.
        while buf.len() - done >= size {
            match self.next_message(t, done == 0 && !f.nonblocking()) {
                Ok(m) => {
                    buf[done..done + size].copy_from_slice(as_bytes(&m));
                    done += size;
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            }
        }
        if done == 0 {
            return Err(Errno::EINVAL);
        }
        Ok(done)
    }

    fn ioctl(&self, t: &dyn Caller, _f: &File, cmd: u32, arg: u64) -> Result<u64, Errno> {
        if cmd != UFFDIO_API && self.features.lock().unwrap().is_none() {
            return Err(Errno::EINVAL);
        }
        match cmd {
            UFFDIO_API => self.api(t, arg),
            UFFDIO_REGISTER => self.register(t, arg),
            UFFDIO_UNREGISTER => {
                let r: UffdioRange = t.copy_in(arg)?;
                self.mm()?.uffd_unregister(r.start, r.len)?;
                Ok(0)
            }
            UFFDIO_WAKE => {
                let r: UffdioRange = t.copy_in(arg)?;
                self.mm()?.uffd_check_range(r.start, r.len)?;
                self.ctx.wake(r.start, r.len);
                Ok(0)
            }
            UFFDIO_COPY => self.copy(t, arg),
            UFFDIO_ZEROPAGE => self.zeropage(t, arg),
            _ => Err(Errno::EINVAL),
        }
    }

    fn seekable(&self) -> bool {
        false
    }

    fn stat(&self) -> Result<libc::stat, Errno> {
        super::anon_stat(self.ino)
    }

    fn readiness(&self, mask: i16) -> i16 {
        // Before the handshake a poll reports an error, as Linux's.
        if self.features.lock().unwrap().is_none() {
            return libc::POLLERR;
        }
        if self.ctx.has_message() {
            mask & (libc::POLLIN | libc::POLLRDNORM)
        } else {
            0
        }
    }

    fn wait_queue(&self) -> Option<&WaitQueue> {
        Some(&self.ctx.readers)
    }

    fn name(&self) -> Vec<u8> {
        b"anon_inode:[userfaultfd]".to_vec()
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

impl Drop for UserfaultFd {
    fn drop(&mut self) {
        // Linux's userfaultfd_release: the ranges are unregistered and the
        // waiting faults wake to find ordinary pages.
        if let Some(mm) = self.mm.upgrade() {
            mm.uffd_release(&self.ctx);
        }
        self.ctx.release();
    }
}

/// The caller's address space, for a new userfaultfd.
pub fn caller_mm(t: &dyn Caller) -> Result<Arc<MemoryManager>, Errno> {
    Ok(Task::from_caller(t)?.mm.clone())
}
