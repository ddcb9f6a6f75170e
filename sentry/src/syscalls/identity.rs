//! Credentials: uid/gid getters and setters, supplementary groups.

use super::{Support, SyscallArgs, Table};
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
    t.add(
        libc::SYS_capget,
        "capget",
        Support::Partial("root has every capability, others none"),
        sys_capget,
    );
    t.add(
        libc::SYS_capset,
        "capset",
        Support::Partial("accepted without effect"),
        |_, _| Ok(0),
    );
}

const KEEP: u32 = u32::MAX;

/// setresuid with Linux's permission rule: without CAP_SETUID each new id
/// must be one of the current real, effective or saved ids.
fn set_ids(t: &Task, r: u32, e: u32, s: u32, gid: bool) -> SysResult {
    let mut c = t.handle.creds.lock().unwrap();
    let privileged = c.euid == 0;
    let (cr, ce, cs) = if gid {
        (c.gid, c.egid, c.sgid)
    } else {
        (c.uid, c.euid, c.suid)
    };
    let ok = |v: u32| v == KEEP || privileged || v == cr || v == ce || v == cs;
    if !(ok(r) && ok(e) && ok(s)) {
        return Err(Errno::EPERM);
    }
    let pick = |v: u32, old: u32| if v == KEEP { old } else { v };
    let (nr, ne, ns) = (pick(r, cr), pick(e, ce), pick(s, cs));
    if gid {
        c.gid = nr;
        c.egid = ne;
        c.sgid = ns;
    } else {
        c.uid = nr;
        c.euid = ne;
        c.suid = ns;
    }
    Ok(0)
}

fn sys_setresuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    set_ids(t, a.uint(0), a.uint(1), a.uint(2), false)
}

fn sys_setresgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    set_ids(t, a.uint(0), a.uint(1), a.uint(2), true)
}

fn sys_setuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = a.uint(0);
    if id == KEEP {
        return Err(Errno::EINVAL);
    }
    if t.creds().euid == 0 {
        set_ids(t, id, id, id, false)
    } else {
        set_ids(t, KEEP, id, KEEP, false)
    }
}

fn sys_setgid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let id = a.uint(0);
    if id == KEEP {
        return Err(Errno::EINVAL);
    }
    if t.creds().euid == 0 {
        set_ids(t, id, id, id, true)
    } else {
        set_ids(t, KEEP, id, KEEP, true)
    }
}

fn sys_setreuid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (r, e) = (a.uint(0), a.uint(1));
    // The saved id follows the new effective id when the real id is set or
    // the effective id changes to something other than the real id.
    let c = t.creds();
    let s = if r != KEEP || (e != KEEP && e != c.uid) {
        if e != KEEP {
            e
        } else {
            c.euid
        }
    } else {
        KEEP
    };
    set_ids(t, r, e, s, false)
}

fn sys_setregid(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (r, e) = (a.uint(0), a.uint(1));
    let c = t.creds();
    let s = if r != KEEP || (e != KEEP && e != c.gid) {
        if e != KEEP {
            e
        } else {
            c.egid
        }
    } else {
        KEEP
    };
    set_ids(t, r, e, s, true)
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
    if t.creds().euid != 0 {
        return Err(Errno::EPERM);
    }
    let raw = t.read_bytes(a.addr(1), n as usize * 4)?;
    let groups = raw
        .chunks(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    t.handle.creds.lock().unwrap().groups = groups;
    Ok(0)
}

fn sys_capget(t: &mut Task, a: &SyscallArgs) -> SysResult {
    // struct __user_cap_header_struct { u32 version; int pid; }
    let version: u32 = t.copy_in(a.ptr(0))?;
    const V3: u32 = 0x2008_0522;
    if version != V3 && version != 0x2007_1026 && version != 0x1998_0330 {
        t.copy_out(a.ptr(0), &V3)?;
        return if a.addr(1).is_null() {
            Ok(0)
        } else {
            Err(Errno::EINVAL)
        };
    }
    if a.addr(1).is_null() {
        return Ok(0);
    }
    let all: u32 = if t.creds().euid == 0 { u32::MAX } else { 0 };
    let low = [all, all, all];
    let high = [all & 0x1ff, all & 0x1ff, all & 0x1ff];
    // struct __user_cap_data_struct { u32 effective, permitted, inheritable; }
    let data = a.ptr::<[u32; 3]>(1);
    t.copy_out(data, &low)?;
    if version != 0x1998_0330 {
        t.copy_out(data.index(1).ok_or(Errno::EFAULT)?, &high)?;
    }
    Ok(0)
}
