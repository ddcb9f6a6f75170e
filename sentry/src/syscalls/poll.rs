//! poll, ppoll, select, pselect6: readiness of descriptors, waited for with
//! `vfs::poll::wait_ready`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::usermem::{UserAddr, UserPtr};
use crate::vfs::File;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_poll, "poll", Support::Full, sys_poll);
    t.add(libc::SYS_ppoll, "ppoll", Support::Full, sys_ppoll);
    t.add(libc::SYS_select, "select", Support::Full, sys_select);
    t.add(libc::SYS_pselect6, "pselect6", Support::Full, sys_pselect6);
}

/// Most descriptors one call may name (Linux: RLIMIT_NOFILE).
const MAX_FDS: u64 = 1 << 20;
const FD_SETSIZE_BITS: u64 = 1 << 20;

use crate::kernel::deadline::after as deadline_after;

fn do_poll(
    t: &mut Task,
    fds_addr: UserPtr<libc::pollfd>,
    nfds: u64,
    deadline: Option<Instant>,
) -> SysResult {
    if nfds > MAX_FDS || nfds > t.fds.max() as u64 {
        return Err(Errno::EINVAL);
    }
    let raw = t.read_bytes(fds_addr, (nfds * 8) as usize)?;
    let mut pfds: Vec<libc::pollfd> = raw.chunks(8).map(crate::usermem::from_bytes).collect();
    // A negative fd is skipped: no events, revents 0. It is left out of
    // the wait (a missing file there stands for a closed one, POLLNVAL,
    // which would end the wait at once).
    let files: Vec<(Option<Arc<File>>, i16)> = pfds
        .iter()
        .filter(|p| p.fd >= 0)
        .map(|p| (t.fds.get(p.fd).ok(), p.events))
        .collect();
    // Linux restarts an interrupted poll only when no handler ran.
    let ready = crate::vfs::poll::wait_ready(t, &files, deadline).map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::ERESTARTNOHAND
        } else {
            e
        }
    })?;
    let mut ready = ready.into_iter();
    let mut n = 0;
    for p in pfds.iter_mut() {
        p.revents = if p.fd < 0 {
            0
        } else {
            ready.next().unwrap_or(0)
        };
        if p.revents != 0 {
            n += 1;
        }
    }
    let out: Vec<u8> = pfds
        .iter()
        .flat_map(|p| crate::usermem::as_bytes(p).to_vec())
        .collect();
    t.write_bytes(fds_addr, &out)?;
    Ok(n)
}

fn sys_poll(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let timeout = a.int(2);
    let deadline = (timeout >= 0).then(|| deadline_after(Duration::from_millis(timeout as u64)));
    do_poll(t, a.ptr(0), a.ulong(1), deadline)
}

fn read_timespec(t: &Task, addr: UserPtr<libc::timespec>) -> Result<Option<Duration>, Errno> {
    if addr.is_null() {
        return Ok(None);
    }
    let ts: libc::timespec = t.copy_in(addr)?;
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)))
}

/// Runs `f` with the signal mask `mask_addr` points at (if any) in force,
/// as ppoll and pselect6 do; the old mask comes back after the handler.
pub(super) fn with_sigmask(
    t: &mut Task,
    mask_addr: UserPtr<u64>,
    mask_size: u64,
    f: impl FnOnce(&mut Task) -> SysResult,
) -> SysResult {
    if mask_addr.is_null() {
        return f(t);
    }
    if mask_size != 8 {
        return Err(Errno::EINVAL);
    }
    let mask: u64 = t.copy_in(mask_addr)?;
    let old = t.signal_mask();
    t.set_signal_mask(mask);
    let r = f(t);
    if matches!(r, Err(e) if e == Errno::EINTR || e == Errno::ERESTARTSYS || e == Errno::ERESTARTNOHAND)
    {
        // A handler must run with the temporary mask; the old one returns
        // with sigreturn.
        t.handle.sig.lock().unwrap().saved_mask = Some(old);
    } else {
        t.set_signal_mask(old);
    }
    r
}

fn sys_ppoll(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let timeout = read_timespec(t, a.ptr(2))?;
    let deadline = timeout.map(deadline_after);
    let (fds, nfds) = (a.ptr(0), a.ulong(1));
    let r = with_sigmask(t, a.ptr(3), a.ulong(4), |t| do_poll(t, fds, nfds, deadline));
    write_time_left(t, a.addr(2), deadline, false);
    r.map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::ERESTARTNOHAND
        } else {
            e
        }
    })
}

/// Writes the time left before `deadline` back to the caller's timeout (a
/// timeval for select, a timespec otherwise), as Linux does; a failure to
/// write it is ignored, as Linux ignores it.
fn write_time_left(t: &Task, addr: UserAddr, deadline: Option<Instant>, timeval: bool) {
    let (Some(d), true) = (deadline, !addr.is_null()) else {
        return;
    };
    let left = d.saturating_duration_since(Instant::now());
    let secs = left.as_secs() as i64;
    let _ = if timeval {
        t.copy_out(
            addr,
            &libc::timeval {
                tv_sec: secs,
                tv_usec: left.subsec_micros() as i64,
            },
        )
    } else {
        t.copy_out(
            addr,
            &libc::timespec {
                tv_sec: secs,
                tv_nsec: left.subsec_nanos() as i64,
            },
        )
    };
}

fn read_set(t: &Task, addr: UserAddr, nfds: u64) -> Result<Option<Vec<u8>>, Errno> {
    if addr.is_null() {
        return Ok(None);
    }
    let bytes = nfds.div_ceil(64) * 8;
    t.read_bytes(addr, bytes as usize).map(Some)
}

fn do_select(t: &mut Task, nfds: u64, sets: [UserAddr; 3], deadline: Option<Instant>) -> SysResult {
    if nfds > FD_SETSIZE_BITS || (nfds as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let ins = [
        read_set(t, sets[0], nfds)?,
        read_set(t, sets[1], nfds)?,
        read_set(t, sets[2], nfds)?,
    ];
    let isset = |s: &Option<Vec<u8>>, fd: u64| {
        s.as_ref()
            .is_some_and(|b| b[(fd / 8) as usize] & (1 << (fd % 8)) != 0)
    };
    let mut files = Vec::new();
    let mut which = Vec::new();
    for fd in 0..nfds {
        let mut ev = 0i16;
        if isset(&ins[0], fd) {
            ev |= libc::POLLIN;
        }
        if isset(&ins[1], fd) {
            ev |= libc::POLLOUT;
        }
        if isset(&ins[2], fd) {
            ev |= libc::POLLPRI;
        }
        if ev != 0 {
            let f = t.fds.get(fd as i32).map_err(|_| Errno::EBADF)?;
            files.push((Some(f), ev));
            which.push(fd);
        }
    }
    let ready = crate::vfs::poll::wait_ready(t, &files, deadline)?;
    let bytes = (nfds.div_ceil(64) * 8) as usize;
    let mut outs = [vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]];
    let mut n = 0;
    for (i, fd) in which.iter().enumerate() {
        let r = ready[i];
        let ev = files[i].1;
        let hits = [
            ev & libc::POLLIN != 0 && r & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0,
            ev & libc::POLLOUT != 0 && r & (libc::POLLOUT | libc::POLLERR) != 0,
            ev & libc::POLLPRI != 0 && r & libc::POLLPRI != 0,
        ];
        for (k, hit) in hits.iter().enumerate() {
            if *hit {
                outs[k][(fd / 8) as usize] |= 1 << (fd % 8);
                n += 1;
            }
        }
    }
    for k in 0..3 {
        if !sets[k].is_null() {
            t.write_bytes(sets[k], &outs[k])?;
        }
    }
    Ok(n)
}

fn sys_select(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let deadline = if !a.addr(4).is_null() {
        let tv: libc::timeval = t.copy_in(a.ptr(4))?;
        if tv.tv_sec < 0 || !(0..1_000_000).contains(&tv.tv_usec) {
            return Err(Errno::EINVAL);
        }
        Some(deadline_after(Duration::new(
            tv.tv_sec as u64,
            tv.tv_usec as u32 * 1000,
        )))
    } else {
        None
    };
    let r = do_select(t, a.ulong(0), [a.addr(1), a.addr(2), a.addr(3)], deadline);
    write_time_left(t, a.addr(4), deadline, true);
    r.map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::ERESTARTNOHAND
        } else {
            e
        }
    })
}

fn sys_pselect6(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let timeout = read_timespec(t, a.ptr(4))?;
    let deadline = timeout.map(deadline_after);
    // The sixth argument points at { const sigset_t *ss; size_t ss_len; }.
    let (mask_addr, mask_size) = if !a.addr(5).is_null() {
        let v: [u64; 2] = t.copy_in(a.ptr(5))?;
        (UserPtr::new(v[0]), v[1])
    } else {
        (UserPtr::new(0), 0)
    };
    let (nfds, sets) = (a.ulong(0), [a.addr(1), a.addr(2), a.addr(3)]);
    let r = with_sigmask(t, mask_addr, mask_size, |t| {
        do_select(t, nfds, sets, deadline)
    });
    write_time_left(t, a.addr(4), deadline, false);
    r.map_err(|e| {
        if e == Errno::ERESTARTSYS {
            Errno::ERESTARTNOHAND
        } else {
            e
        }
    })
}
