//! epoll_create, epoll_ctl, epoll_wait and friends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::fsimpl::epoll::Epoll;
use crate::kernel::task::Task;
use crate::usermem::UserPtr;
use crate::vfs::File;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_epoll_create,
        "epoll_create",
        Support::Full,
        sys_epoll_create,
    );
    t.add(
        libc::SYS_epoll_create1,
        "epoll_create1",
        Support::Full,
        sys_epoll_create1,
    );
    t.add(
        libc::SYS_epoll_ctl,
        "epoll_ctl",
        Support::Partial("EPOLLET is level-triggered for files without a wait queue (host files), and an epoll nested two deep over such files is looked at only when something else notifies; EPOLLEXCLUSIVE and EPOLLWAKEUP are accepted and ignored"),
        sys_epoll_ctl,
    );
    t.add(
        libc::SYS_epoll_wait,
        "epoll_wait",
        Support::Full,
        sys_epoll_wait,
    );
    t.add(
        libc::SYS_epoll_pwait,
        "epoll_pwait",
        Support::Full,
        sys_epoll_pwait,
    );
    t.add(
        libc::SYS_epoll_pwait2,
        "epoll_pwait2",
        Support::Full,
        sys_epoll_pwait2,
    );
}

/// Size of `struct epoll_event` on x86-64 (packed: u32 events, u64 data).
const EVENT_SIZE: u64 = 12;
/// Linux's EP_MAX_EVENTS.
const MAX_EVENTS: i32 = (i32::MAX as u64 / EVENT_SIZE) as i32;

fn new_epoll(t: &Task, flags: i32) -> SysResult {
    if flags & !libc::EPOLL_CLOEXEC != 0 {
        return Err(Errno::EINVAL);
    }
    let f = File::new(Arc::new(Epoll::new()), None, libc::O_RDWR);
    Ok(t.fds.install(f, flags & libc::EPOLL_CLOEXEC != 0)? as u64)
}

fn sys_epoll_create(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.int(0) <= 0 {
        return Err(Errno::EINVAL);
    }
    new_epoll(t, 0)
}

fn sys_epoll_create1(t: &mut Task, a: &SyscallArgs) -> SysResult {
    new_epoll(t, a.int(0))
}

pub(super) fn epoll_of(f: &Arc<File>) -> Result<Arc<Epoll>, Errno> {
    let any: Arc<dyn std::any::Any + Send + Sync> = f.ops().clone();
    any.downcast::<Epoll>().map_err(|_| Errno::EINVAL)
}

fn sys_epoll_ctl(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let epf = t.fds.get(a.int(0))?;
    let op = a.int(1);
    let fd = a.int(2);
    let target = t.fds.get(fd)?;
    let ep = epoll_of(&epf)?;
    if Arc::ptr_eq(&epf, &target) {
        return Err(Errno::EINVAL);
    }
    if !can_poll(&target) {
        return Err(Errno::EPERM);
    }
    let read_event = |t: &Task| -> Result<(u32, u64), Errno> {
        let b = t.read_bytes(a.addr(3), EVENT_SIZE as usize)?;
        let events = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        let mut d = [0u8; 8];
        d.copy_from_slice(&b[4..12]);
        Ok((events, u64::from_ne_bytes(d)))
    };
    let exclusive = libc::EPOLLEXCLUSIVE as u32;
    match op {
        libc::EPOLL_CTL_ADD => {
            let (ev, data) = read_event(t)?;
            // EPOLLEXCLUSIVE goes with the in/out, error and edge bits
            // only, and never on an epoll (Linux's EPOLLEXCLUSIVE_OK_BITS).
            if ev & exclusive != 0 && (ev & !EXCLUSIVE_OK_BITS != 0 || epoll_of(&target).is_ok()) {
                return Err(Errno::EINVAL);
            }
            if reaches(&target, &epf, 0) {
                return Err(Errno::ELOOP);
            }
            ep.add(fd, &target, ev, data).map(|_| 0)
        }
        libc::EPOLL_CTL_MOD => {
            let (ev, data) = read_event(t)?;
            if ev & exclusive != 0 {
                return Err(Errno::EINVAL);
            }
            ep.modify(fd, &target, ev, data).map(|_| 0)
        }
        libc::EPOLL_CTL_DEL => ep.delete(fd, &target).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// The events EPOLLEXCLUSIVE may come with.
const EXCLUSIVE_OK_BITS: u32 = (libc::EPOLLIN
    | libc::EPOLLOUT
    | libc::EPOLLRDNORM
    | libc::EPOLLRDBAND
    | libc::EPOLLWRNORM
    | libc::EPOLLWRBAND
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLWAKEUP
    | libc::EPOLLET
    | libc::EPOLLEXCLUSIVE) as u32;

/// How deep epoll instances may watch one another (Linux's EP_MAX_NESTS).
const EP_MAX_NESTS: usize = 4;

/// Whether adding `target` to the epoll `ep` would close a loop of epolls
/// watching one another, or nest them deeper than Linux allows: ELOOP.
fn reaches(target: &Arc<File>, ep: &Arc<File>, depth: usize) -> bool {
    let Ok(inner) = epoll_of(target) else {
        return false;
    };
    if depth >= EP_MAX_NESTS {
        return true;
    }
    inner
        .files()
        .iter()
        .any(|f| Arc::ptr_eq(f, ep) || reaches(f, ep, depth + 1))
}

/// The memory devices (major 1) whose Linux driver has no poll: /dev/mem,
/// kmem, null, port, zero, full and urandom (random and kmsg have one;
/// checked on Linux 6.18).
const UNPOLLABLE_MEM_MINORS: [u32; 7] = [1, 2, 3, 4, 5, 7, 9];

/// Whether epoll may watch `f`: Linux refuses (EPERM) a file whose driver
/// has no poll, which regular files, directories and the memory devices
/// lack. Go's runtime relies on the refusal: it registers every file it
/// opens, and a /dev/null it was allowed to watch would be ready forever.
fn can_poll(f: &File) -> bool {
    if f.ops().wait_queue().is_some() {
        return true;
    }
    let Ok(st) = f.stat() else { return true };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG | libc::S_IFDIR => false,
        libc::S_IFCHR => {
            let (major, minor) = (libc::major(st.st_rdev), libc::minor(st.st_rdev));
            !(major == 1 && UNPOLLABLE_MEM_MINORS.contains(&minor))
        }
        _ => true,
    }
}

fn do_wait(
    t: &mut Task,
    epfd: i32,
    events: UserPtr<libc::epoll_event>,
    max: i32,
    deadline: Option<Instant>,
) -> SysResult {
    if max <= 0 || max > MAX_EVENTS {
        return Err(Errno::EINVAL);
    }
    let epf = t.fds.get(epfd)?;
    let ep = epoll_of(&epf)?;
    // The output array must be writable before anything is reported.
    if !t.mm.is_mapped(events.addr(), max as u64 * EVENT_SIZE) {
        return Err(Errno::EFAULT);
    }
    let out = match ep.wait(t, max as usize, deadline) {
        Ok(out) => out,
        // epoll_wait is never restarted after a handler (Linux: EINTR).
        Err(Errno::ERESTARTSYS) => return Err(Errno::EINTR),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::with_capacity(out.len() * EVENT_SIZE as usize);
    for (ev, data) in &out {
        bytes.extend_from_slice(&ev.to_ne_bytes());
        bytes.extend_from_slice(&data.to_ne_bytes());
    }
    t.write_bytes(events, &bytes)?;
    Ok(out.len() as u64)
}

fn deadline_ms(timeout: i32) -> Option<Instant> {
    (timeout >= 0).then(|| crate::kernel::deadline::after(Duration::from_millis(timeout as u64)))
}

fn sys_epoll_wait(t: &mut Task, a: &SyscallArgs) -> SysResult {
    do_wait(t, a.int(0), a.ptr(1), a.int(2), deadline_ms(a.int(3)))
}

fn sys_epoll_pwait(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (epfd, ev, max, d) = (a.int(0), a.ptr(1), a.int(2), deadline_ms(a.int(3)));
    super::poll::with_sigmask(t, a.ptr(4), a.ulong(5), |t| do_wait(t, epfd, ev, max, d))
}

fn sys_epoll_pwait2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let deadline = if !a.addr(3).is_null() {
        let ts: libc::timespec = t.copy_in(a.ptr(3))?;
        Some(crate::kernel::deadline::after(
            crate::kernel::deadline::duration_of(&ts)?,
        ))
    } else {
        None
    };
    let (epfd, ev, max) = (a.int(0), a.ptr(1), a.int(2));
    super::poll::with_sigmask(t, a.ptr(4), a.ulong(5), |t| {
        do_wait(t, epfd, ev, max, deadline)
    })
}
