//! System information: uname, hostname, resource limits, randomness, sysinfo.

use super::{Support, SyscallArgs, Table};
use std::sync::Arc;

use crate::caps::CAP_SYS_RESOURCE;
use crate::errno::{Errno, SysResult};
use crate::kernel::rlimits;
use crate::kernel::task::Task;
use crate::kernel::{Credentials, ThreadGroup};
use crate::vfs::FdTable;

/// What the limits do in the sandbox.
const RLIMITS_ENFORCED: &str = "enforced: NOFILE, FSIZE (SIGXFSZ), DATA, AS, MEMLOCK (per call, \
     not summed over calls), CPU (SIGXCPU, SIGKILL), NPROC; STACK, RSS, SIGPENDING, \
     NICE, RTPRIO, RTTIME, MSGQUEUE, LOCKS and CORE are recorded only";

pub fn register(t: &mut Table) {
    t.add(libc::SYS_uname, "uname", Support::Full, sys_uname);
    t.add(
        libc::SYS_sethostname,
        "sethostname",
        Support::Full,
        sys_sethostname,
    );
    t.add(
        libc::SYS_setdomainname,
        "setdomainname",
        Support::Full,
        sys_setdomainname,
    );
    t.add(
        libc::SYS_getrandom,
        "getrandom",
        Support::Full,
        sys_getrandom,
    );
    t.add(
        libc::SYS_prlimit64,
        "prlimit64",
        Support::Partial(RLIMITS_ENFORCED),
        sys_prlimit64,
    );
    t.add(
        libc::SYS_getrlimit,
        "getrlimit",
        Support::Full,
        sys_getrlimit,
    );
    t.add(
        libc::SYS_setrlimit,
        "setrlimit",
        Support::Partial(RLIMITS_ENFORCED),
        sys_setrlimit,
    );
    t.add(libc::SYS_sysinfo, "sysinfo", Support::Full, sys_sysinfo);
}

use crate::kernel::uts::{RELEASE, VERSION};

fn field(dst: &mut [libc::c_char; 65], s: &[u8]) {
    for (i, b) in s.iter().take(64).enumerate() {
        dst[i] = *b as libc::c_char;
    }
}

fn sys_uname(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mut u: libc::utsname = crate::usermem::zeroed();
    field(&mut u.sysname, b"Linux");
    field(&mut u.nodename, &t.ns.uts.hostname.lock().unwrap());
    let persona = t.personality();
    let release = crate::kernel::personality::release(persona, RELEASE);
    field(&mut u.release, release.as_bytes());
    field(&mut u.version, VERSION.as_bytes());
    field(&mut u.machine, crate::kernel::personality::machine(persona));
    field(&mut u.domainname, &t.ns.uts.domainname.lock().unwrap());
    t.copy_out(a.ptr(0), &u)?;
    Ok(0)
}

fn set_name(t: &Task, a: &SyscallArgs, domain: bool) -> SysResult {
    // The names are the UTS namespace's: its owner's CAP_SYS_ADMIN counts.
    if !t
        .creds()
        .capable_in(&t.ns.uts.owner, crate::caps::CAP_SYS_ADMIN)
    {
        return Err(Errno::EPERM);
    }
    let len = a.usize(1);
    if len > 64 {
        return Err(Errno::EINVAL);
    }
    let name = t.read_bytes(a.addr(0), len)?;
    let slot = if domain {
        &t.ns.uts.domainname
    } else {
        &t.ns.uts.hostname
    };
    *slot.lock().unwrap() = name;
    Ok(0)
}

fn sys_sethostname(t: &mut Task, a: &SyscallArgs) -> SysResult {
    set_name(t, a, false)
}

fn sys_setdomainname(t: &mut Task, a: &SyscallArgs) -> SysResult {
    set_name(t, a, true)
}

fn sys_getrandom(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.uint(2);
    if flags & !(libc::GRND_NONBLOCK | libc::GRND_RANDOM | 0x4) != 0 {
        return Err(Errno::EINVAL);
    }
    // Large requests are served in pieces, like Linux (at most 32 MiB).
    let len = a.usize(1).min(32 << 20);
    let mut done = 0;
    let mut buf = vec![0u8; len.min(1 << 16)];
    while done < len {
        let n = (len - done).min(buf.len());
        // SAFETY: getrandom writes at most n bytes into buf.
        let r = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), n, 0) };
        if r <= 0 {
            break;
        }
        if let Err(e) = t.write_bytes(a.addr(0).get() + done as u64, &buf[..r as usize]) {
            if done == 0 {
                return Err(e);
            }
            break;
        }
        done += r as usize;
    }
    Ok(done as u64)
}

const RLIM_NLIMITS: usize = 16;

/// Sets `tg`'s limit of `res` for a caller with credentials `c`: the
/// hard limit rises only with CAP_SYS_RESOURCE, and RLIMIT_NOFILE never
/// past NR_OPEN. `fds` is the process's descriptor table, if it has one.
fn set_limit(
    c: &Credentials,
    tg: &Arc<ThreadGroup>,
    fds: Option<&FdTable>,
    res: usize,
    new: libc::rlimit,
) -> Result<libc::rlimit, Errno> {
    if new.rlim_cur > new.rlim_max {
        return Err(Errno::EINVAL);
    }
    let old = tg.rlimit(res);
    if new.rlim_max > old.rlim_max && !c.capable(CAP_SYS_RESOURCE) {
        return Err(Errno::EPERM);
    }
    if res as u32 == libc::RLIMIT_NOFILE && new.rlim_max > 1 << 20 {
        return Err(Errno::EPERM);
    }
    tg.inner.lock().unwrap().rlimits.insert(res, new);
    if res as u32 == libc::RLIMIT_NOFILE {
        if let Some(f) = fds {
            f.set_max(new.rlim_cur);
        }
    }
    if res as u32 == libc::RLIMIT_CPU {
        rlimits::watch_cpu_limit(tg);
    }
    Ok(old)
}

/// Whether `t` may read and change the limits of `other` (Linux's
/// check_prlimit_permission): the same user in all its real, effective
/// and saved ids and groups, or CAP_SYS_RESOURCE.
fn may_prlimit(t: &Task, other: &Credentials) -> bool {
    let c = t.creds();
    let same_uid = c.uid == other.uid && c.uid == other.euid && c.uid == other.suid;
    let same_gid = c.gid == other.gid && c.gid == other.egid && c.gid == other.sgid;
    (same_uid && same_gid) || c.capable(CAP_SYS_RESOURCE)
}

fn sys_prlimit64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let pid = a.int(0);
    let res = a.usize(1);
    if res >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let new: Option<libc::rlimit> = if a.addr(2).is_null() {
        None
    } else {
        Some(t.copy_in(a.ptr(2))?)
    };
    let (tg, fds) = if pid == 0 || t.kpid(pid) == Some(t.tgid()) {
        (t.tg.clone(), Some(t.fds.clone()))
    } else {
        let h = t.task_by_vpid(pid).ok_or(Errno::ESRCH)?;
        let other = h.creds.lock().unwrap().clone();
        if !may_prlimit(t, &other) {
            return Err(Errno::EPERM);
        }
        let fds = h.view.lock().unwrap().fds.upgrade();
        (h.tg.clone(), fds)
    };
    let old = match new {
        Some(n) => set_limit(&t.creds(), &tg, fds.as_deref(), res, n)?,
        None => tg.rlimit(res),
    };
    if !a.addr(3).is_null() {
        t.copy_out(a.ptr(3), &old)?;
    }
    Ok(0)
}

fn sys_getrlimit(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let res = a.usize(0);
    if res >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    t.copy_out(a.ptr(1), &t.tg.rlimit(res))?;
    Ok(0)
}

fn sys_setrlimit(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let res = a.usize(0);
    if res >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let new: libc::rlimit = t.copy_in(a.ptr(1))?;
    set_limit(&t.creds(), &t.tg, Some(&t.fds), res, new)?;
    Ok(0)
}

fn sys_sysinfo(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mut host: libc::sysinfo = crate::usermem::zeroed();
    // SAFETY: sysinfo writes one struct sysinfo.
    unsafe { libc::sysinfo(&mut host) };
    let mut s: libc::sysinfo = crate::usermem::zeroed();
    s.uptime = t.kernel.boot.elapsed().as_secs() as i64;
    s.totalram = host.totalram;
    s.freeram = host.freeram;
    s.mem_unit = host.mem_unit;
    s.procs = t.kernel.pids.lock().unwrap().tasks.len() as u16;
    t.copy_out(a.ptr(0), &s)?;
    Ok(0)
}
