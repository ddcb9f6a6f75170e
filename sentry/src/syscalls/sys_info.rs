//! System information: uname, hostname, resource limits, randomness, sysinfo.

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;

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
        Support::Partial("limits are recorded; only RLIMIT_NOFILE is enforced"),
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
        Support::Partial("limits are recorded; only RLIMIT_NOFILE is enforced"),
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
    field(&mut u.nodename, &t.kernel.hostname.lock().unwrap());
    field(&mut u.release, RELEASE.as_bytes());
    field(&mut u.version, VERSION.as_bytes());
    field(&mut u.machine, b"x86_64");
    field(&mut u.domainname, &t.kernel.domainname.lock().unwrap());
    t.copy_out(a.ptr(0), &u)?;
    Ok(0)
}

fn set_name(t: &Task, a: &SyscallArgs, domain: bool) -> SysResult {
    if !t.creds().capable(crate::caps::CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let len = a.usize(1);
    if len > 64 {
        return Err(Errno::EINVAL);
    }
    let name = t.read_bytes(a.addr(0), len)?;
    let slot = if domain {
        &t.kernel.domainname
    } else {
        &t.kernel.hostname
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

fn limit(t: &Task, res: usize) -> libc::rlimit {
    t.tg.rlimit(res)
}

fn set_limit(t: &Task, res: usize, new: libc::rlimit) -> Result<(), Errno> {
    if new.rlim_cur > new.rlim_max {
        return Err(Errno::EINVAL);
    }
    let old = limit(t, res);
    if new.rlim_max > old.rlim_max && t.creds().euid != 0 {
        return Err(Errno::EPERM);
    }
    if res as u32 == libc::RLIMIT_NOFILE && new.rlim_max > 1 << 20 {
        return Err(Errno::EPERM);
    }
    t.tg.inner.lock().unwrap().rlimits.insert(res, new);
    if res as u32 == libc::RLIMIT_NOFILE {
        t.fds.set_max(new.rlim_cur);
    }
    Ok(())
}

fn sys_prlimit64(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let pid = a.int(0);
    let res = a.usize(1);
    if res >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    if pid != 0 && pid != t.tgid() {
        t.kernel.group(pid).ok_or(Errno::ESRCH)?;
        // Other processes' limits: report defaults, refuse changes.
        if !a.addr(2).is_null() {
            return Err(Errno::EPERM);
        }
        if !a.addr(3).is_null() {
            t.copy_out(a.ptr(3), &crate::kernel::thread_group::default_limit(res))?;
        }
        return Ok(0);
    }
    let old = limit(t, res);
    if !a.addr(2).is_null() {
        let new: libc::rlimit = t.copy_in(a.ptr(2))?;
        set_limit(t, res, new)?;
    }
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
    t.copy_out(a.ptr(1), &limit(t, res))?;
    Ok(0)
}

fn sys_setrlimit(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let res = a.usize(0);
    if res >= RLIM_NLIMITS {
        return Err(Errno::EINVAL);
    }
    let new: libc::rlimit = t.copy_in(a.ptr(1))?;
    set_limit(t, res, new)?;
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
