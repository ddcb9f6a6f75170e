//! ELF64 program loading.

use std::sync::Arc;

use goblin::elf::header::header64::Header;
use goblin::elf::header::{EM_X86_64, ET_DYN, ET_EXEC};
use goblin::elf::program_header::{ProgramHeader, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};

use super::Env;
use super::LoadError;
use crate::errno::Errno;
use crate::mm::{page_round_down, page_round_up, MapRequest, MemoryManager, VmaKind, PAGE_SIZE};
use crate::vfs::File;

/// Where a PIE main program goes when it does not ask for an address.
const PIE_BASE: u64 = 0x5555_5555_4000;
const MAX_PHNUM: usize = 128;

pub struct ElfInfo {
    pub entry: u64,
    /// Load bias (0 for ET_EXEC).
    pub base: u64,
    pub phdr: u64,
    pub phnum: u64,
    pub phent: u64,
    /// End of the highest segment (the heap starts after it).
    pub end: u64,
    pub interp: Option<Vec<u8>>,
}

pub fn load_elf(
    env: &Env<'_>,
    mm: &Arc<MemoryManager>,
    ctx: &mut dyn platform::Context,
    file: &File,
    path: &[u8],
    head: &[u8],
    is_interp: bool,
) -> Result<ElfInfo, LoadError> {
    if head.len() < 64 || &head[..4] != b"\x7fELF" {
        return Err(Errno::ENOEXEC.into());
    }
    let hdr: Header = *Header::from_bytes(
        head[..64]
            .try_into()
            .map_err(|_| LoadError::Refused(Errno::ENOEXEC))?,
    );
    if hdr.e_ident[4] != 2 || hdr.e_ident[5] != 1 || hdr.e_machine != EM_X86_64 {
        return Err(Errno::ENOEXEC.into());
    }
    if hdr.e_type != ET_EXEC && hdr.e_type != ET_DYN {
        return Err(Errno::ENOEXEC.into());
    }
    let phnum = hdr.e_phnum as usize;
    if phnum == 0 || phnum > MAX_PHNUM || hdr.e_phentsize as usize != 56 {
        return Err(Errno::ENOEXEC.into());
    }
    let mut phbuf = vec![0u8; phnum * 56];
    if file.pread_full(env.caller, &mut phbuf, hdr.e_phoff)? != phbuf.len() {
        return Err(Errno::ENOEXEC.into());
    }
    let ctx_elf = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let phdrs = ProgramHeader::parse(&phbuf, 0, phnum, ctx_elf)
        .map_err(|_| LoadError::Refused(Errno::ENOEXEC))?;
    let loads: Vec<&ProgramHeader> = phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
    if loads.is_empty() {
        return Err(Errno::ENOEXEC.into());
    }
    let mut interp = None;
    if !is_interp {
        if let Some(p) = phdrs.iter().find(|p| p.p_type == PT_INTERP) {
            if p.p_filesz == 0 || p.p_filesz > 4096 {
                return Err(Errno::ENOEXEC.into());
            }
            let mut b = vec![0u8; p.p_filesz as usize];
            file.pread_full(env.caller, &mut b, p.p_offset)?;
            if let Some(i) = b.iter().position(|c| *c == 0) {
                b.truncate(i);
            }
            interp = Some(b);
        }
    }
    let lo = loads
        .iter()
        .map(|p| page_round_down(p.p_vaddr))
        .min()
        .unwrap_or(0);
    let hi = loads
        .iter()
        .map(|p| p.p_vaddr.saturating_add(p.p_memsz))
        .max()
        .unwrap_or(0);
    let span = page_round_up(
        hi.checked_sub(lo)
            .ok_or(LoadError::Refused(Errno::ENOEXEC))?,
    )
    .ok_or(LoadError::Refused(Errno::ENOEXEC))?;
    if span == 0 || span > (1 << 40) {
        return Err(Errno::ENOEXEC.into());
    }
    // Linux's point of no return comes before the segments are mapped: a
    // segment that cannot be, from here on, kills the process.
    let base = map_segments(env, mm, ctx, file, path, &hdr, &loads, lo, span, is_interp)
        .map_err(LoadError::Fatal)?;
    let phdr = match phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        Some(p) => base.wrapping_add(p.p_vaddr),
        None => loads
            .iter()
            .find(|p| {
                p.p_offset <= hdr.e_phoff && hdr.e_phoff < p.p_offset.saturating_add(p.p_filesz)
            })
            .map(|p| base.wrapping_add(p.p_vaddr) + (hdr.e_phoff - p.p_offset))
            .unwrap_or(0),
    };
    Ok(ElfInfo {
        entry: base.wrapping_add(hdr.e_entry),
        base,
        phdr,
        phnum: phnum as u64,
        phent: 56,
        end: base.wrapping_add(hi),
        interp,
    })
}

/// Reserves the span (ET_DYN) and maps each PT_LOAD segment with its bytes;
/// returns the load bias.
#[allow(clippy::too_many_arguments)]
fn map_segments(
    env: &Env<'_>,
    mm: &Arc<MemoryManager>,
    ctx: &mut dyn platform::Context,
    file: &File,
    path: &[u8],
    hdr: &Header,
    loads: &[&ProgramHeader],
    lo: u64,
    span: u64,
    is_interp: bool,
) -> Result<u64, Errno> {
    let base = if hdr.e_type == ET_DYN {
        // Reserve the whole span so segments land relative to each other.
        let hint = if is_interp { 0 } else { PIE_BASE };
        let mut req = MapRequest::anon(span, libc::PROT_NONE);
        req.addr = hint;
        let at = mm.mmap(ctx, req)?;
        // Wrapping: segment addresses are base + p_vaddr modulo 2^64, as
        // Linux's load bias is.
        at.wrapping_sub(lo)
    } else {
        0
    };
    // Later execs of the same file copy from the cache instead of reading
    // it through the Gofer again.
    let cached = env.file_cache.get(env.caller, &mm.file, file)?;
    for p in loads {
        if p.p_filesz > p.p_memsz
            || p.p_vaddr % PAGE_SIZE != p.p_offset % PAGE_SIZE
            || p.p_offset.checked_add(p.p_filesz).is_none()
        {
            return Err(Errno::ENOEXEC);
        }
        let seg = base.wrapping_add(p.p_vaddr);
        let start = page_round_down(seg);
        let end = seg
            .checked_add(p.p_memsz)
            .and_then(page_round_up)
            .ok_or(Errno::ENOMEM)?;
        let mut prot = 0;
        if p.p_flags & PF_R != 0 {
            prot |= libc::PROT_READ;
        }
        if p.p_flags & PF_W != 0 {
            prot |= libc::PROT_WRITE;
        }
        if p.p_flags & PF_X != 0 {
            prot |= libc::PROT_EXEC;
        }
        let st = file.stat()?;
        let mut req = MapRequest::anon(end - start, prot);
        req.addr = start;
        req.fixed = true;
        // Text and read-only data map the cached file's pages themselves
        // when the segment is laid out page for page as in the file (no
        // zero-filled tail to clear).
        let fstart = page_round_down(p.p_offset);
        let borrow = cached.as_ref().filter(|c| {
            prot & libc::PROT_WRITE == 0
                && p.p_memsz == p.p_filesz
                && fstart
                    .checked_add(end - start)
                    .is_some_and(|e| e <= c.mem.len)
        });
        if let Some(c) = borrow {
            req.mem = Some((c.mem.clone(), fstart));
            req.borrowed = true;
        }
        req.kind = VmaKind::File {
            path: path.to_vec(),
            offset: page_round_down(p.p_offset),
            dev: st.st_dev,
            ino: st.st_ino,
        };
        mm.mmap(ctx, req)?;
        if borrow.is_some() {
            continue;
        }
        // Fill from the page start, so a page shared with the previous
        // segment holds that segment's bytes too (they are the same file
        // bytes).
        let fstart = page_round_down(p.p_offset);
        let flen = (p.p_offset - fstart) + p.p_filesz;
        if let Some(c) = &cached {
            if fstart.checked_add(flen).is_none_or(|e| e > c.size) {
                return Err(Errno::ENOEXEC);
            }
            mm.fill_from(start, c.mem.off + fstart, flen)?;
            continue;
        }
        let mut pos = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        while pos < flen {
            let n = ((flen - pos) as usize).min(buf.len());
            let got = file.pread_full(env.caller, &mut buf[..n], fstart + pos)?;
            mm.write_force(start + pos, &buf[..got])?;
            if got < n {
                break;
            }
            pos += n as u64;
        }
    }
    Ok(base)
}
