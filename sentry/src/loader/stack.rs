//! The initial process stack: strings, then auxv, envp, argv and argc.

use std::sync::Arc;

use super::elf::ElfInfo;
use super::Env;
use crate::errno::Errno;
use crate::mm::{MapRequest, MemoryManager, VmaKind, STACK_SIZE};

const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_PLATFORM: u64 = 15;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_HWCAP2: u64 = 26;
const AT_EXECFN: u64 = 31;
const AT_SYSINFO_EHDR: u64 = 33;
const AT_MINSIGSTKSZ: u64 = 51;

#[allow(clippy::too_many_arguments)]
pub fn build(
    env: &Env<'_>,
    mm: &Arc<MemoryManager>,
    ctx: &mut dyn platform::Context,
    main: &ElfInfo,
    interp_base: u64,
    argv: &[Vec<u8>],
    envp: &[Vec<u8>],
    execfn: &[u8],
) -> Result<u64, Errno> {
    let top = mm.layout.stack_top;
    let mut req = MapRequest::anon(STACK_SIZE, libc::PROT_READ | libc::PROT_WRITE);
    req.addr = top - STACK_SIZE;
    req.fixed = true;
    req.growsdown = true;
    req.kind = VmaKind::Stack;
    mm.mmap(ctx, req)?;

    let mut sp = top - 8;
    let push_bytes = |data: &[u8], sp: &mut u64| -> Result<u64, Errno> {
        *sp -= data.len() as u64;
        mm.write(*sp, data)?;
        Ok(*sp)
    };
    let cstr = |s: &[u8]| {
        let mut v = s.to_vec();
        v.push(0);
        v
    };
    let execfn_addr = push_bytes(&cstr(execfn), &mut sp)?;
    let mut env_ptrs = Vec::with_capacity(envp.len());
    for e in envp.iter().rev() {
        env_ptrs.push(push_bytes(&cstr(e), &mut sp)?);
    }
    env_ptrs.reverse();
    let env_end = sp;
    let mut arg_ptrs = Vec::with_capacity(argv.len());
    for a in argv.iter().rev() {
        arg_ptrs.push(push_bytes(&cstr(a), &mut sp)?);
    }
    arg_ptrs.reverse();
    let platform_addr = push_bytes(b"x86_64\0", &mut sp)?;
    let mut random = [0u8; 16];
    getrandom(&mut random);
    sp &= !15;
    let random_addr = push_bytes(&random, &mut sp)?;
    {
        let mut inner = mm.inner_mut();
        inner.arg_start = arg_ptrs.first().copied().unwrap_or(0);
        inner.arg_end = arg_ptrs
            .last()
            .map(|p| p + argv.last().map_or(0, |a| a.len() as u64 + 1))
            .unwrap_or(0);
        inner.env_start = env_ptrs.first().copied().unwrap_or(inner.arg_end);
        inner.env_end = env_ptrs
            .last()
            .map(|p| p + envp.last().map_or(0, |e| e.len() as u64 + 1))
            .unwrap_or(env_end);
    }

    let creds = &env.ids;
    let hwcap = core::arch::x86_64::__cpuid(1).edx as u64;
    let mut auxv: Vec<(u64, u64)> = vec![
        (AT_PHDR, main.phdr),
        (AT_PHENT, main.phent),
        (AT_PHNUM, main.phnum),
        (AT_PAGESZ, 4096),
        (AT_BASE, interp_base),
        (AT_FLAGS, 0),
        (AT_ENTRY, main.entry),
        (AT_UID, creds.uid as u64),
        (AT_EUID, creds.euid as u64),
        (AT_GID, creds.gid as u64),
        (AT_EGID, creds.egid as u64),
        (AT_SECURE, creds.secure as u64),
        (AT_RANDOM, random_addr),
        (AT_HWCAP, hwcap),
        (AT_HWCAP2, 0),
        (AT_CLKTCK, 100),
        (AT_PLATFORM, platform_addr),
        (AT_EXECFN, execfn_addr),
        (AT_MINSIGSTKSZ, (platform::xsave_len() + 1024) as u64),
    ];
    if let Some(v) = env.vdso {
        // glibc then reads clocks in user space, with no system call.
        if let Ok(ehdr) = mm.insert_vdso(v) {
            auxv.push((AT_SYSINFO_EHDR, ehdr));
        }
    }
    auxv.push((AT_NULL, 0));
    mm.inner_mut().auxv = auxv.clone();

    // argc, argv..., 0, envp..., 0, auxv pairs; sp 16-byte aligned at argc.
    let words = 1 + arg_ptrs.len() + 1 + env_ptrs.len() + 1 + auxv.len() * 2;
    sp -= (words * 8) as u64;
    sp &= !15;
    let mut v: Vec<u64> = Vec::with_capacity(words);
    v.push(argv.len() as u64);
    v.extend(&arg_ptrs);
    v.push(0);
    v.extend(&env_ptrs);
    v.push(0);
    for (k, val) in &auxv {
        v.push(*k);
        v.push(*val);
    }
    let bytes: Vec<u8> = v.iter().flat_map(|w| w.to_ne_bytes()).collect();
    mm.write(sp, &bytes)?;
    Ok(sp)
}

fn getrandom(buf: &mut [u8]) {
    // SAFETY: getrandom writes at most buf.len() bytes into buf.
    unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
}
