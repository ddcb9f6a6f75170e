//! ptrace(2): decode the request, find the tracee, and let the kernel's
//! ptrace module act (`kernel/ptrace/`).

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::ptrace::user::{self, FXSAVE_SIZE, REGS_SIZE};
use crate::kernel::ptrace::{self as pt, Link, ResumeMode, StopKind, OPTIONS_MASK};
use crate::kernel::signal::{SigInfo, UNBLOCKABLE};
use crate::kernel::signal_send::send_group;
use crate::kernel::task::Task;
use crate::mm::MemoryManager;
use crate::usermem::{as_bytes, UserAddr};

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_ptrace,
        "ptrace",
        Support::Partial(
            "between sandboxed tasks: TRACEME, ATTACH, SEIZE, DETACH, INTERRUPT, LISTEN, KILL, \
             CONT, SYSCALL, SINGLESTEP, PEEK/POKE TEXT/DATA/USER, GET/SETREGS, GET/SETFPREGS, \
             GET/SETREGSET (NT_PRSTATUS, NT_PRFPREG, NT_X86_XSTATE), GET/SETSIGINFO, \
             GET/SETSIGMASK, SETOPTIONS, GETEVENTMSG, GET_SYSCALL_INFO (fs_base and gs_base \
             through the registers); no SYSEMU, ARCH_PRCTL, PEEKSIGINFO or seccomp events; debug registers are kept but DR7 \
             cannot enable a hardware breakpoint (EIO)",
        ),
        sys_ptrace,
    );
}

/// struct ptrace_syscall_info's ops (linux/ptrace.h).
const SYSCALL_INFO_NONE: u8 = 0;
const SYSCALL_INFO_ENTRY: u8 = 1;
const SYSCALL_INFO_EXIT: u8 = 2;
/// AUDIT_ARCH_X86_64 (linux/audit.h).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// NT_X86_XSTATE (linux/elf.h), not in libc.
const NT_X86_XSTATE: u64 = 0x202;
/// The header of struct ptrace_syscall_info: op, pad, arch, ip, sp.
const SYSCALL_INFO_HEADER: usize = 24;
/// The largest errno a return value stands for (MAX_ERRNO).
const MAX_ERRNO: u64 = 4095;

fn sys_ptrace(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let req = a.uint(0);
    let pid = a.int(1);
    let addr = a.addr(2);
    let data = a.addr(3);
    match req {
        libc::PTRACE_TRACEME => t.ptrace_traceme().map(|_| 0),
        libc::PTRACE_ATTACH => t.ptrace_attach(pid, None).map(|_| 0),
        libc::PTRACE_SEIZE => {
            let options = data.get();
            if !addr.is_null() || options & !(OPTIONS_MASK as u64) != 0 {
                return Err(Errno::EIO);
            }
            t.ptrace_attach(pid, Some(options as u32)).map(|_| 0)
        }
        libc::PTRACE_KILL => {
            let l = t.ptrace_tracee(pid)?;
            send_group(&l.tracee_tg, SigInfo::new(libc::SIGKILL, libc::SI_USER));
            Ok(0)
        }
        libc::PTRACE_INTERRUPT => pt::interrupt(&t.ptrace_tracee(pid)?).map(|_| 0),
        _ => {
            let l = t.ptrace_stopped(pid)?;
            stopped_request(t, &l, req, addr, data)
        }
    }
}

/// The requests that need the tracee in a ptrace-stop.
fn stopped_request(
    t: &mut Task,
    l: &Arc<Link>,
    req: u32,
    addr: UserAddr,
    data: UserAddr,
) -> SysResult {
    let sig = data.get() as i32;
    let k = t.kernel.clone();
    match req {
        libc::PTRACE_CONT => pt::resume(&k, l, ResumeMode::Cont, sig).map(|_| 0),
        libc::PTRACE_SYSCALL => pt::resume(&k, l, ResumeMode::Syscall, sig).map(|_| 0),
        libc::PTRACE_SINGLESTEP => pt::resume(&k, l, ResumeMode::SingleStep, sig).map(|_| 0),
        libc::PTRACE_DETACH => pt::resume(&k, l, ResumeMode::Detach, sig).map(|_| 0),
        libc::PTRACE_LISTEN => pt::resume(&k, l, ResumeMode::Listen, 0).map(|_| 0),
        libc::PTRACE_PEEKTEXT | libc::PTRACE_PEEKDATA => {
            let mut w = [0u8; 8];
            tracee_mm(l)?
                .read_force(addr.get(), &mut w)
                .map_err(|_| Errno::EIO)?;
            t.copy_out(data, &u64::from_ne_bytes(w))?;
            Ok(0)
        }
        libc::PTRACE_POKETEXT | libc::PTRACE_POKEDATA => {
            // As Linux's FOLL_FORCE: into read-only text too (a
            // breakpoint), copying a page shared copy-on-write first. On
            // the tracee's thread: a copy is mapped into its address
            // space, which only a thread that runs it may change.
            let (at, word) = (addr.get(), data.get().to_ne_bytes());
            pt::on_tracee(l, move |t| t.mm.write_force(at, &word))?.map_err(|_| Errno::EIO)?;
            Ok(0)
        }
        libc::PTRACE_PEEKUSER => {
            let v = with_stop(l, |s| user::peek_user(&s.0.regs, s.1, addr.get()))?;
            t.copy_out(data, &v)?;
            Ok(0)
        }
        libc::PTRACE_POKEUSER => {
            with_stop_mut(l, |st, dr| {
                user::poke_user(&mut st.regs, dr, addr.get(), data.get())?;
                st.regs_dirty = true;
                Ok(())
            })?;
            Ok(0)
        }
        libc::PTRACE_GETREGS => {
            let r = with_stop(l, |s| Ok(s.0.regs))?;
            t.copy_out(data, &r)?;
            Ok(0)
        }
        libc::PTRACE_SETREGS => {
            let new: platform::Regs = t.copy_in(data)?;
            set_regs(l, as_bytes(&new))?;
            Ok(0)
        }
        libc::PTRACE_GETFPREGS => {
            let img = fpu(l)?;
            t.write_bytes(data, &img[..FXSAVE_SIZE])?;
            Ok(0)
        }
        libc::PTRACE_SETFPREGS => {
            let bytes = t.read_bytes(data, FXSAVE_SIZE)?;
            set_fpu(l, move |img| user::set_fxsave(img, &bytes))?;
            Ok(0)
        }
        libc::PTRACE_GETREGSET => get_regset(t, l, addr.get(), data),
        libc::PTRACE_SETREGSET => set_regset(t, l, addr.get(), data),
        libc::PTRACE_GETSIGINFO => {
            let info = l.state.lock().unwrap().siginfo.ok_or(Errno::EINVAL)?;
            t.copy_out(data, &info)?;
            Ok(0)
        }
        libc::PTRACE_SETSIGINFO => {
            let info: SigInfo = t.copy_in(data)?;
            l.state.lock().unwrap().siginfo = Some(info);
            Ok(0)
        }
        libc::PTRACE_GETSIGMASK | libc::PTRACE_SETSIGMASK => {
            if addr.get() != std::mem::size_of::<u64>() as u64 {
                return Err(Errno::EINVAL);
            }
            let h = l.tracee.upgrade().ok_or(Errno::ESRCH)?;
            if req == libc::PTRACE_GETSIGMASK {
                let m = h.sig.lock().unwrap().mask;
                t.copy_out(data, &m)?;
            } else {
                let m: u64 = t.copy_in(data)?;
                h.sig.lock().unwrap().mask = m & !UNBLOCKABLE;
            }
            Ok(0)
        }
        libc::PTRACE_SETOPTIONS => {
            if data.get() & !(OPTIONS_MASK as u64) != 0 {
                return Err(Errno::EINVAL);
            }
            l.state.lock().unwrap().options = data.get() as u32;
            Ok(0)
        }
        libc::PTRACE_GETEVENTMSG => {
            let m = l.state.lock().unwrap().event_msg;
            t.copy_out(data, &m)?;
            Ok(0)
        }
        libc::PTRACE_GET_SYSCALL_INFO => syscall_info(t, l, addr.get(), data),
        _ => {
            t.kernel
                .report_unsupported(libc::SYS_ptrace as usize, req as u64, "ptrace request");
            Err(Errno::EIO)
        }
    }
}

fn tracee_mm(l: &Link) -> Result<Arc<MemoryManager>, Errno> {
    let h = l.tracee.upgrade().ok_or(Errno::ESRCH)?;
    let mm = h.view.lock().unwrap().mm.upgrade();
    mm.ok_or(Errno::ESRCH)
}

/// Reads the published stop (registers, debug registers).
fn with_stop<R>(
    l: &Link,
    f: impl FnOnce((&pt::Stopped, &[u64; 8])) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let s = l.state.lock().unwrap();
    let st = s.stop.as_ref().ok_or(Errno::ESRCH)?;
    f((st, &s.debugreg))
}

fn with_stop_mut<R>(
    l: &Link,
    f: impl FnOnce(&mut pt::Stopped, &mut [u64; 8]) -> Result<R, Errno>,
) -> Result<R, Errno> {
    let mut s = l.state.lock().unwrap();
    let s = &mut *s;
    let st = s.stop.as_mut().ok_or(Errno::ESRCH)?;
    f(st, &mut s.debugreg)
}

fn set_regs(l: &Link, bytes: &[u8]) -> Result<(), Errno> {
    with_stop_mut(l, |st, _| {
        user::set_regs(&mut st.regs, bytes).map_err(|_| Errno::EIO)?;
        st.regs_dirty = true;
        Ok(())
    })
}

/// The tracee's XSAVE image, read on its own thread (EIO without one).
fn fpu(l: &Link) -> Result<Vec<u8>, Errno> {
    let img = pt::on_tracee(l, |t| t.ctx_fpu())?;
    if img.len() < FXSAVE_SIZE {
        return Err(Errno::EIO);
    }
    Ok(img)
}

fn set_fpu(
    l: &Link,
    f: impl FnOnce(&mut Vec<u8>) -> Result<(), Errno> + Send + 'static,
) -> Result<(), Errno> {
    pt::on_tracee(l, move |t| {
        let mut img = t.ctx_fpu();
        if img.len() < FXSAVE_SIZE {
            return Err(Errno::EIO);
        }
        f(&mut img)?;
        t.ctx_set_fpu(img).map_err(|_| Errno::EINVAL)
    })?
}

/// The bytes of regset `kind`.
fn regset(l: &Link, kind: u64) -> Result<Vec<u8>, Errno> {
    match kind {
        k if k == libc::NT_PRSTATUS as u64 => with_stop(l, |s| Ok(as_bytes(&s.0.regs).to_vec())),
        k if k == libc::NT_PRFPREG as u64 => Ok(fpu(l)?[..FXSAVE_SIZE].to_vec()),
        NT_X86_XSTATE => Ok(user::xstate_view(fpu(l)?)),
        _ => Err(Errno::EINVAL),
    }
}

fn get_regset(t: &mut Task, l: &Link, kind: u64, iov: UserAddr) -> SysResult {
    let mut v: libc::iovec = t.copy_in(iov)?;
    let bytes = regset(l, kind)?;
    let n = bytes.len().min(v.iov_len);
    t.write_bytes(v.iov_base as u64, &bytes[..n])?;
    v.iov_len = n;
    t.copy_out(iov, &v)?;
    Ok(0)
}

fn set_regset(t: &mut Task, l: &Link, kind: u64, iov: UserAddr) -> SysResult {
    let mut v: libc::iovec = t.copy_in(iov)?;
    match kind {
        k if k == libc::NT_PRSTATUS as u64 => {
            let n = v.iov_len.min(REGS_SIZE);
            let bytes = t.read_bytes(v.iov_base as u64, n)?;
            set_regs(l, &bytes)?;
            v.iov_len = n;
        }
        k if k == libc::NT_PRFPREG as u64 => {
            let n = v.iov_len.min(FXSAVE_SIZE);
            let bytes = t.read_bytes(v.iov_base as u64, n)?;
            set_fpu(l, move |img| user::set_fxsave(img, &bytes))?;
            v.iov_len = n;
        }
        NT_X86_XSTATE => {
            let len = fpu(l)?.len();
            let n = v.iov_len.min(len);
            let bytes = t.read_bytes(v.iov_base as u64, n)?;
            set_fpu(l, move |img| {
                img[..n].copy_from_slice(&bytes);
                Ok(())
            })?;
            v.iov_len = n;
        }
        _ => return Err(Errno::EINVAL),
    }
    t.copy_out(iov, &v)?;
    Ok(0)
}

/// PTRACE_GET_SYSCALL_INFO: the stop's syscall, as much of the structure
/// as fits in `size` bytes; returns the structure's full size.
fn syscall_info(t: &mut Task, l: &Link, size: u64, out: UserAddr) -> SysResult {
    let (kind, r) = with_stop(l, |s| Ok((s.0.kind, s.0.regs)))?;
    let mut b = Vec::with_capacity(80);
    let op = match kind {
        StopKind::SyscallEnter => SYSCALL_INFO_ENTRY,
        StopKind::SyscallExit => SYSCALL_INFO_EXIT,
        _ => SYSCALL_INFO_NONE,
    };
    b.push(op);
    b.extend_from_slice(&[0; 3]);
    b.extend_from_slice(&AUDIT_ARCH_X86_64.to_ne_bytes());
    b.extend_from_slice(&r.rip.to_ne_bytes());
    b.extend_from_slice(&r.rsp.to_ne_bytes());
    debug_assert_eq!(b.len(), SYSCALL_INFO_HEADER);
    match op {
        SYSCALL_INFO_ENTRY => {
            for v in [r.orig_rax, r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9] {
                b.extend_from_slice(&v.to_ne_bytes());
            }
        }
        SYSCALL_INFO_EXIT => {
            b.extend_from_slice(&r.rax.to_ne_bytes());
            b.push((r.rax.wrapping_neg() <= MAX_ERRNO && r.rax != 0) as u8);
        }
        _ => {}
    }
    let n = b.len().min(size as usize);
    t.write_bytes(out, &b[..n])?;
    Ok(b.len() as u64)
}
