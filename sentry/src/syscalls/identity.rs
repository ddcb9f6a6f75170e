//! Credentials: uid/gid getters and setters, supplementary groups,
//! capability sets. The rules are the kernel's (`kernel/credentials.rs`).

use super::{Support, SyscallArgs, Table};
use crate::caps::{CapSet, CAP_SETGID};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_getuid, "getuid", Support::Full, |t, _| {
        Ok(t.creds().uid as u64)
    });
    t.add(libc::SYS_geteuid, "geteuid", Support::Full, |t, _| {
        Ok(t.creds().euid as u64)
    });
    t.add(libc::SYS_getgid, "getgid", Support::Full, |t, _| {
        Ok(t.creds().gid as u64)
    });
    t.add(libc::SYS_getegid, "getegid", Support::Full, |t, _| {
        Ok(t.creds().egid as u64)
    });
    t.add(
        libc::SYS_getresuid,
        "getresuid",
        Support::Full,
        sys_getresuid,
    );
    t.add(
        libc::SYS_getresgid,
        "getresgid",
        Support::Full,
        sys_getresgid,
    );
    t.add(libc::SYS_setuid, "setuid", Support::Full, sys_setuid);
    t.add(libc::SYS_setgid, "setgid", Support::Full, sys_setgid);
    t.add(libc::SYS_setreuid, "setreuid", Support::Full, sys_setreuid);
    t.add(libc::SYS_setregid, "setregid", Support::Full, sys_setregid);
    t.add(
        libc::SYS_setresuid,
        "setresuid",
        Support::Full,
        sys_setresuid,
    );
    t.add(
        libc::SYS_setresgid,
        "setresgid",
        Support::Full,
        sys_setresgid,
    );
    t.add(
        libc::SYS_getgroups,
        "getgroups",
        Support::Full,
        sys_getgroups,
    );
    t.add(
        libc::SYS_setgroups,
        "setgroups",
        Support::Full,
        sys_setgroups,
    );
    t.add(libc::SYS_setfsuid, "setfsuid", Support::Full, |t, a| {
        Ok(t.handle.creds.lock().unwrap().setfsuid(a.uint(0)) as u64)
    });
    t.add(libc::SYS_setfsgid, "setfsgid", Support::Full, |t, a| {
        Ok(t.handle.creds.lock().unwrap().setfsgid(a.uint(0)) as u64)
    });
    t.add(
        libc::SYS_capget,
        "capget",
        Support::Partial("file capabilities are not supported"),
        sys_capget,
    );
    t.add(
        libc::SYS_capset,
        "capset",
        Support::Partial("the calling thread only (as Linux); file capabilities are not supported"),
        sys_capset,
    );
}

fn sys_setresuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mut c = t.handle.creds.lock().unwrap();
    c.setresuid(a.uint(0), a.uint(1), a.uint(2)).map(|_| 0)
}

fn sys_setresgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mut c = t.handle.creds.lock().unwrap();
    c.setresgid(a.uint(0), a.uint(1), a.uint(2)).map(|_| 0)
}

fn sys_setuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.handle.creds.lock().unwrap().setuid(a.uint(0)).map(|_| 0)
}

fn sys_setgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    t.handle.creds.lock().unwrap().setgid(a.uint(0)).map(|_| 0)
}

fn sys_setreuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mut c = t.handle.creds.lock().unwrap();
    c.setreuid(a.uint(0), a.uint(1)).map(|_| 0)
}

fn sys_setregid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mut c = t.handle.creds.lock().unwrap();
    c.setregid(a.uint(0), a.uint(1)).map(|_| 0)
}

fn sys_getresuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let c = t.creds();
    t.copy_out(a.ptr(0), &c.uid)?;
    t.copy_out(a.ptr(1), &c.euid)?;
    t.copy_out(a.ptr(2), &c.suid)?;
    Ok(0)
}

fn sys_getresgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let c = t.creds();
    t.copy_out(a.ptr(0), &c.gid)?;
    t.copy_out(a.ptr(1), &c.egid)?;
    t.copy_out(a.ptr(2), &c.sgid)?;
    Ok(0)
}

fn sys_getgroups(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let size = a.int(0);
    let groups = t.creds().groups;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    if size == 0 {
        return Ok(groups.len() as u64);
    }
    if (size as usize) < groups.len() {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
    t.write_bytes(a.addr(1), &bytes)?;
    Ok(groups.len() as u64)
}

fn sys_setgroups(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let n = a.int(0);
    if !(0..=65536).contains(&n) {
        return Err(Errno::EINVAL);
    }
    if !t.creds().capable(CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    let raw = t.read_bytes(a.addr(1), n as usize * 4)?;
    let groups = raw
        .chunks(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    t.handle.creds.lock().unwrap().setgroups(groups).map(|_| 0)
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// `struct __user_cap_data_struct`: one 32-bit half of each set.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

// SAFETY: both are plain #[repr(C)] integers with no padding.
unsafe impl crate::usermem::Pod for CapHeader {}
// SAFETY: as above.
unsafe impl crate::usermem::Pod for CapData {}

const CAP_V1: u32 = 0x1998_0330;
const CAP_V2: u32 = 0x2007_1026;
const CAP_V3: u32 = 0x2008_0522;

/// The header's version checked: how many data structs it passes (1 for
/// v1, 2 for the 64-bit v2 and v3); an unknown version is answered with
/// v3 written back to the header and EINVAL.
fn cap_header(t: &Task, a: &SyscallArgs) -> Result<(CapHeader, usize), Errno> {
    let h: CapHeader = t.copy_in(a.ptr(0))?;
    match h.version {
        CAP_V1 => Ok((h, 1)),
        CAP_V2 | CAP_V3 => Ok((h, 2)),
        _ => {
            t.copy_out(a.ptr::<u32>(0), &CAP_V3)?;
            Err(Errno::EINVAL)
        }
    }
}

fn sys_capget(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (h, n) = match cap_header(t, a) {
        // A probe for the version: no data pointer, no error.
        Err(Errno::EINVAL) if a.addr(1).is_null() => return Ok(0),
        r => r?,
    };
    if h.pid < 0 {
        return Err(Errno::EINVAL);
    }
    let c = if h.pid == 0 || h.pid == t.tid {
        t.creds()
    } else {
        let other = t.kernel.pids.lock().unwrap().tasks.get(&h.pid).cloned();
        let other = other.ok_or(Errno::ESRCH)?;
        let c = other.creds.lock().unwrap().clone();
        c
    };
    if a.addr(1).is_null() {
        return Ok(0);
    }
    let data = a.ptr::<CapData>(1);
    for i in 0..n {
        let half = |s: CapSet| (s.0 >> (32 * i)) as u32;
        let d = CapData {
            effective: half(c.effective),
            permitted: half(c.permitted),
            inheritable: half(c.inheritable),
        };
        t.copy_out(data.index(i as u64).ok_or(Errno::EFAULT)?, &d)?;
    }
    Ok(0)
}

fn sys_capset(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (h, n) = cap_header(t, a)?;
    // Only the calling thread's own sets may change.
    if h.pid != 0 && h.pid != t.tid {
        return Err(Errno::EPERM);
    }
    let data = a.ptr::<CapData>(1);
    let (mut e, mut p, mut i) = (0u64, 0u64, 0u64);
    for k in 0..n {
        let d: CapData = t.copy_in(data.index(k as u64).ok_or(Errno::EFAULT)?)?;
        e |= (d.effective as u64) << (32 * k);
        p |= (d.permitted as u64) << (32 * k);
        i |= (d.inheritable as u64) << (32 * k);
    }
    let mut c = t.handle.creds.lock().unwrap();
    c.capset(CapSet(e), CapSet(p), CapSet(i)).map(|_| 0)
}

/// The prctl options of the privilege model: no_new_privs, the bounding
/// and ambient sets, keepcaps and securebits.
pub(super) fn prctl_privileges(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (arg2, rest) = (a.ulong(1), [a.ulong(2), a.ulong(3), a.ulong(4)]);
    let mut c = t.handle.creds.lock().unwrap();
    match a.int(0) {
        libc::PR_SET_NO_NEW_PRIVS => {
            if arg2 != 1 || rest.iter().any(|v| *v != 0) {
                return Err(Errno::EINVAL);
            }
            c.no_new_privs = true;
            Ok(0)
        }
        libc::PR_GET_NO_NEW_PRIVS => {
            if arg2 != 0 || rest.iter().any(|v| *v != 0) {
                return Err(Errno::EINVAL);
            }
            Ok(c.no_new_privs as u64)
        }
        libc::PR_CAPBSET_READ => {
            if !CapSet::valid(arg2) {
                return Err(Errno::EINVAL);
            }
            Ok(c.bounding.has(arg2 as u32) as u64)
        }
        libc::PR_CAPBSET_DROP => {
            if !CapSet::valid(arg2) {
                return Err(Errno::EINVAL);
            }
            c.bounding_drop(arg2 as u32).map(|_| 0)
        }
        libc::PR_SET_KEEPCAPS => c.set_keepcaps(arg2).map(|_| 0),
        libc::PR_GET_KEEPCAPS => Ok(c.keepcaps() as u64),
        libc::PR_GET_SECUREBITS => Ok(c.securebits as u64),
        libc::PR_SET_SECUREBITS => c.set_securebits(arg2).map(|_| 0),
        libc::PR_CAP_AMBIENT => {
            let (cap, extra) = (rest[0], rest[1] | rest[2]);
            if arg2 == libc::PR_CAP_AMBIENT_CLEAR_ALL as u64 {
                if cap != 0 || extra != 0 {
                    return Err(Errno::EINVAL);
                }
                c.ambient = CapSet::EMPTY;
                return Ok(0);
            }
            if !CapSet::valid(cap) || extra != 0 {
                return Err(Errno::EINVAL);
            }
            let cap = cap as u32;
            match arg2 as i32 {
                libc::PR_CAP_AMBIENT_IS_SET => Ok(c.ambient.has(cap) as u64),
                libc::PR_CAP_AMBIENT_RAISE => c.ambient_raise(cap).map(|_| 0),
                libc::PR_CAP_AMBIENT_LOWER => {
                    c.ambient = c.ambient.without(cap);
                    Ok(0)
                }
                _ => Err(Errno::EINVAL),
            }
        }
        _ => Err(Errno::EINVAL),
    }
}
