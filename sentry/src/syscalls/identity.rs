//! Credentials: uid/gid getters and setters, supplementary groups,
//! capability sets. The rules are the kernel's (`kernel/credentials.rs`).

use super::{Support, SyscallArgs, Table};
use crate::caps::{CapSet, CAP_SETGID};
use crate::errno::{Errno, SysResult};
use crate::kernel::credentials::KEEP;
use crate::kernel::task::Task;

pub fn register(t: &mut Table) {
    t.add(libc::SYS_getuid, "getuid", Support::Full, |t, _| {
        let c = t.creds();
        Ok(c.user_ns.0.uid_from_k(c.uid) as u64)
    });
    t.add(libc::SYS_geteuid, "geteuid", Support::Full, |t, _| {
        let c = t.creds();
        Ok(c.user_ns.0.uid_from_k(c.euid) as u64)
    });
    t.add(libc::SYS_getgid, "getgid", Support::Full, |t, _| {
        let c = t.creds();
        Ok(c.user_ns.0.gid_from_k(c.gid) as u64)
    });
    t.add(libc::SYS_getegid, "getegid", Support::Full, |t, _| {
        let c = t.creds();
        Ok(c.user_ns.0.gid_from_k(c.egid) as u64)
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
        let mut c = t.handle.creds.lock().unwrap();
        let ns = c.user_ns.0.clone();
        // An unmapped id changes nothing; the old id comes back all the
        // same.
        let id = ns.uid_to_k(a.uint(0)).unwrap_or(KEEP);
        Ok(ns.uid_from_k(c.setfsuid(id)) as u64)
    });
    t.add(libc::SYS_setfsgid, "setfsgid", Support::Full, |t, a| {
        let mut c = t.handle.creds.lock().unwrap();
        let ns = c.user_ns.0.clone();
        let id = ns.gid_to_k(a.uint(0)).unwrap_or(KEEP);
        Ok(ns.gid_from_k(c.setfsgid(id)) as u64)
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

/// Argument `i`, a uid of the caller's user namespace, as a kernel id:
/// -1 stays "keep", an id without a mapping is EINVAL (Linux's
/// make_kuid and uid_valid).
fn kuid(t: &Task, a: &SyscallArgs, i: usize) -> Result<u32, Errno> {
    let id = a.uint(i);
    if id == KEEP {
        return Ok(KEEP);
    }
    t.creds().user_ns.0.uid_to_k(id).ok_or(Errno::EINVAL)
}

fn kgid(t: &Task, a: &SyscallArgs, i: usize) -> Result<u32, Errno> {
    let id = a.uint(i);
    if id == KEEP {
        return Ok(KEEP);
    }
    t.creds().user_ns.0.gid_to_k(id).ok_or(Errno::EINVAL)
}

fn sys_setresuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (r, e, s) = (kuid(t, a, 0)?, kuid(t, a, 1)?, kuid(t, a, 2)?);
    let mut c = t.handle.creds.lock().unwrap();
    c.setresuid(r, e, s).map(|_| 0)
}

fn sys_setresgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (r, e, s) = (kgid(t, a, 0)?, kgid(t, a, 1)?, kgid(t, a, 2)?);
    let mut c = t.handle.creds.lock().unwrap();
    c.setresgid(r, e, s).map(|_| 0)
}

fn sys_setuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = kuid(t, a, 0)?;
    t.handle.creds.lock().unwrap().setuid(id).map(|_| 0)
}

fn sys_setgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = kgid(t, a, 0)?;
    t.handle.creds.lock().unwrap().setgid(id).map(|_| 0)
}

fn sys_setreuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (r, e) = (kuid(t, a, 0)?, kuid(t, a, 1)?);
    let mut c = t.handle.creds.lock().unwrap();
    c.setreuid(r, e).map(|_| 0)
}

fn sys_setregid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (r, e) = (kgid(t, a, 0)?, kgid(t, a, 1)?);
    let mut c = t.handle.creds.lock().unwrap();
    c.setregid(r, e).map(|_| 0)
}

fn sys_getresuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let c = t.creds();
    let ns = &c.user_ns.0;
    t.copy_out(a.ptr(0), &ns.uid_from_k(c.uid))?;
    t.copy_out(a.ptr(1), &ns.uid_from_k(c.euid))?;
    t.copy_out(a.ptr(2), &ns.uid_from_k(c.suid))?;
    Ok(0)
}

fn sys_getresgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let c = t.creds();
    let ns = &c.user_ns.0;
    t.copy_out(a.ptr(0), &ns.gid_from_k(c.gid))?;
    t.copy_out(a.ptr(1), &ns.gid_from_k(c.egid))?;
    t.copy_out(a.ptr(2), &ns.gid_from_k(c.sgid))?;
    Ok(0)
}

fn sys_getgroups(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let size = a.int(0);
    let c = t.creds();
    let groups: Vec<u32> = c
        .groups
        .iter()
        .map(|g| c.user_ns.0.gid_from_k(*g))
        .collect();
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
    let creds = t.creds();
    let ns = creds.user_ns.0.clone();
    // In a user namespace: CAP_SETGID there, and only once a gid map
    // exists and /proc/PID/setgroups is not "deny".
    if !creds.capable_here(CAP_SETGID) || (!ns.is_init() && !ns.may_setgroups()) {
        return Err(Errno::EPERM);
    }
    let raw = t.read_bytes(a.addr(1), n as usize * 4)?;
    let groups = raw
        .chunks(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .map(|g| ns.gid_to_k(g).ok_or(Errno::EINVAL))
        .collect::<Result<Vec<u32>, Errno>>()?;
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
    let c = if h.pid == 0 || t.kpid(h.pid) == Some(t.tid) {
        t.creds()
    } else {
        let other = t.task_by_vpid(h.pid);
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
