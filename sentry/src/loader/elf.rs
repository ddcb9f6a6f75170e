//! ELF64 program loading in two steps, split where Linux's execve passes
//! its point of no return: [`parse`] checks the headers as Linux does
//! before it (an error there fails execve and the caller runs on), and
//! [`map`] lays out and maps the segments (an error there kills the
//! process). The arithmetic of both is pure and checked, so a hostile
//! file is an errno, never an overflow: the fuzz target runs it on bytes
//! ([`check_bytes`]).

use std::sync::Arc;

use goblin::elf::header::header64::{Header, SIZEOF_EHDR};
use goblin::elf::header::{ELFMAG, EM_X86_64, ET_DYN, ET_EXEC, SELFMAG};
use goblin::elf::program_header::program_header64::SIZEOF_PHDR;
use goblin::elf::program_header::{ProgramHeader, PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD, PT_PHDR};

use super::Env;
use crate::errno::Errno;
use crate::mm::{page_round_down, page_round_up, MapRequest, MemoryManager, VmaKind, PAGE_SIZE};
use crate::vfs::File;

/// Where a PIE main program goes when it does not ask for an address.
const PIE_BASE: u64 = 0x5555_5555_4000;
/// Linux reads at most this many bytes of program headers
/// (load_elf_phdrs): 1,170 entries.
const MAX_PHDRS_BYTES: usize = 65536;
/// The longest PT_INTERP Linux reads, its NUL included.
const PATH_MAX: u64 = libc::PATH_MAX as u64;
/// The largest file offset a regular file can be mapped at
/// (MAX_LFS_FILESIZE): beyond it mmap fails with EOVERFLOW.
const MAX_FILE_OFFSET: u64 = i64::MAX as u64;

/// Reads file bytes at an offset; returns how many it got (short at EOF).
pub type ReadAt<'a> = dyn FnMut(&mut [u8], u64) -> Result<usize, Errno> + 'a;

/// An ELF file's headers, checked as far as Linux checks them before its
/// point of no return.
pub struct Parsed {
    pub hdr: Header,
    pub phdrs: Vec<ProgramHeader>,
    /// The first PT_INTERP's path, up to its NUL (main programs only).
    pub interp: Option<Vec<u8>>,
}

/// Checks the ELF header and reads the program headers (and the main
/// program's PT_INTERP). `head` is the file's first bytes. Errors are
/// Linux's: ENOEXEC for a main program that is not a loadable x86-64 ELF;
/// for an interpreter, EIO when it is shorter than a header and ELIBBAD
/// when it is not such an ELF (its type is checked only by [`map`], after
/// the point of no return, as Linux does).
pub fn parse(head: &[u8], read_at: &mut ReadAt<'_>, is_interp: bool) -> Result<Parsed, Errno> {
    let bad = if is_interp {
        Errno::ELIBBAD
    } else {
        Errno::ENOEXEC
    };
    let Some(ehdr) = head.get(..SIZEOF_EHDR) else {
        // Linux reads a main program's first bytes zero-padded: a short
        // file has no valid type. An interpreter's header is read whole.
        return Err(if is_interp {
            Errno::EIO
        } else {
            Errno::ENOEXEC
        });
    };
    let hdr = *Header::from_bytes(ehdr.try_into().map_err(|_| bad)?);
    if &hdr.e_ident[..SELFMAG] != ELFMAG {
        return Err(bad);
    }
    if !is_interp && hdr.e_type != ET_EXEC && hdr.e_type != ET_DYN {
        return Err(bad);
    }
    if hdr.e_machine != EM_X86_64 {
        return Err(bad);
    }
    let size = hdr.e_phnum as usize * SIZEOF_PHDR;
    if hdr.e_phentsize as usize != SIZEOF_PHDR || size == 0 || size > MAX_PHDRS_BYTES {
        return Err(bad);
    }
    let mut phbuf = vec![0u8; size];
    match read_at(&mut phbuf, hdr.e_phoff) {
        Ok(n) if n == size => {}
        _ => return Err(bad),
    }
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let phdrs = ProgramHeader::parse(&phbuf, 0, hdr.e_phnum as usize, ctx).map_err(|_| bad)?;
    let interp = if is_interp {
        None
    } else {
        read_interp(&phdrs, read_at)?
    };
    Ok(Parsed { hdr, phdrs, interp })
}

/// The first PT_INTERP's path: 2 to PATH_MAX bytes ending in a NUL
/// (ENOEXEC otherwise), all in the file (EIO otherwise).
fn read_interp(
    phdrs: &[ProgramHeader],
    read_at: &mut ReadAt<'_>,
) -> Result<Option<Vec<u8>>, Errno> {
    let Some(p) = phdrs.iter().find(|p| p.p_type == PT_INTERP) else {
        return Ok(None);
    };
    if p.p_filesz < 2 || p.p_filesz > PATH_MAX {
        return Err(Errno::ENOEXEC);
    }
    let mut b = vec![0u8; p.p_filesz as usize];
    if read_at(&mut b, p.p_offset)? != b.len() {
        return Err(Errno::EIO);
    }
    if b.last() != Some(&0) {
        return Err(Errno::ENOEXEC);
    }
    let nul = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    b.truncate(nul);
    Ok(Some(b))
}

/// The PT_LOAD segments' extent: the lowest page and the page-rounded
/// span up to the highest byte. EINVAL where Linux's loader gives up
/// (no segment, a segment past 2^64).
pub fn extent(loads: &[&ProgramHeader]) -> Result<(u64, u64), Errno> {
    let lo = loads
        .iter()
        .map(|p| page_round_down(p.p_vaddr))
        .min()
        .ok_or(Errno::EINVAL)?;
    let mut hi = 0u64;
    for p in loads {
        hi = hi.max(p.p_vaddr.checked_add(p.p_memsz).ok_or(Errno::EINVAL)?);
    }
    let span = hi
        .checked_sub(lo)
        .and_then(page_round_up)
        .filter(|s| *s != 0)
        .ok_or(Errno::EINVAL)?;
    Ok((lo, span))
}

/// One PT_LOAD, placed: the pages it covers and the file bytes it holds.
pub struct Segment {
    /// Page-aligned addresses of its first and past-its-last page.
    pub start: u64,
    pub end: u64,
    pub prot: i32,
    /// Its file bytes from the page start: `file_len` bytes at `file_start`.
    pub file_start: u64,
    pub file_len: u64,
    /// No zero-filled tail: the pages can be the file's own.
    pub file_only: bool,
}

/// Places `p` at load bias `base` (addresses wrap modulo 2^64, as Linux's
/// load bias does). Errors are what Linux's mmap of it gives.
pub fn segment(p: &ProgramHeader, base: u64) -> Result<Segment, Errno> {
    if p.p_filesz > p.p_memsz || p.p_vaddr % PAGE_SIZE != p.p_offset % PAGE_SIZE {
        return Err(Errno::EINVAL);
    }
    if p.p_offset
        .checked_add(p.p_filesz)
        .is_none_or(|e| e > MAX_FILE_OFFSET)
    {
        return Err(Errno::EOVERFLOW);
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
    let file_start = page_round_down(p.p_offset);
    Ok(Segment {
        start,
        end,
        prot,
        file_start,
        // Cannot overflow: p_offset + p_filesz did not.
        file_len: (p.p_offset - file_start) + p.p_filesz,
        file_only: p.p_memsz == p.p_filesz,
    })
}

/// Runs every check of [`parse`], [`extent`] and [`segment`] on a file's
/// bytes, as main program and as interpreter: the ELF loader's fuzz
/// target. Returns the first error.
pub fn check_bytes(bytes: &[u8]) -> Result<(), Errno> {
    let mut read_at = |buf: &mut [u8], off: u64| -> Result<usize, Errno> {
        let Some(src) = usize::try_from(off).ok().and_then(|o| bytes.get(o..)) else {
            return Ok(0);
        };
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    };
    let head = &bytes[..bytes.len().min(super::HEAD_LEN)];
    let mut first = Ok(());
    for is_interp in [false, true] {
        let r = parse(head, &mut read_at, is_interp).and_then(|p| {
            let loads: Vec<&ProgramHeader> =
                p.phdrs.iter().filter(|p| p.p_type == PT_LOAD).collect();
            let (lo, _span) = extent(&loads)?;
            let base = if p.hdr.e_type == ET_DYN {
                PIE_BASE.wrapping_sub(lo)
            } else {
                0
            };
            for l in &loads {
                segment(l, base)?;
            }
            Ok(())
        });
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// What a mapped image tells the stack and the entry.
pub struct ElfInfo {
    pub entry: u64,
    /// Load bias (0 for ET_EXEC).
    pub base: u64,
    pub phdr: u64,
    pub phnum: u64,
    pub phent: u64,
    /// End of the highest segment (the heap starts after it).
    pub end: u64,
}

/// Maps a parsed image's segments into `mm`. Past the point of no
/// return: any error kills the process.
pub fn map(
    env: &Env<'_>,
    mm: &Arc<MemoryManager>,
    ctx: &mut dyn platform::Context,
    file: &File,
    path: &[u8],
    parsed: &Parsed,
    is_interp: bool,
) -> Result<ElfInfo, Errno> {
    let hdr = &parsed.hdr;
    if hdr.e_type != ET_EXEC && hdr.e_type != ET_DYN {
        return Err(Errno::EINVAL);
    }
    let loads: Vec<&ProgramHeader> = parsed
        .phdrs
        .iter()
        .filter(|p| p.p_type == PT_LOAD)
        .collect();
    let (lo, span) = extent(&loads)?;
    let base = map_segments(env, mm, ctx, file, path, hdr, &loads, lo, span, is_interp)?;
    let phdr = match parsed.phdrs.iter().find(|p| p.p_type == PT_PHDR) {
        Some(p) => base.wrapping_add(p.p_vaddr),
        None => loads
            .iter()
            .find(|p| {
                p.p_offset <= hdr.e_phoff && hdr.e_phoff < p.p_offset.saturating_add(p.p_filesz)
            })
            .map(|p| {
                base.wrapping_add(p.p_vaddr)
                    .wrapping_add(hdr.e_phoff - p.p_offset)
            })
            .unwrap_or(0),
    };
    let hi = lo.wrapping_add(span);
    Ok(ElfInfo {
        entry: base.wrapping_add(hdr.e_entry),
        base,
        phdr,
        phnum: parsed.phdrs.len() as u64,
        phent: SIZEOF_PHDR as u64,
        end: base.wrapping_add(hi),
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
    let st = file.stat()?;
    for p in loads {
        let s = segment(p, base)?;
        let mut req = MapRequest::anon(s.end - s.start, s.prot);
        req.addr = s.start;
        req.fixed = true;
        // Text and read-only data map the cached file's pages themselves
        // when the segment is laid out page for page as in the file (no
        // zero-filled tail to clear).
        let borrow = cached.as_ref().filter(|c| {
            s.prot & libc::PROT_WRITE == 0
                && s.file_only
                && s.file_start
                    .checked_add(s.end - s.start)
                    .is_some_and(|e| e <= c.mem.len)
        });
        if let Some(c) = borrow {
            req.mem = Some((c.mem.clone(), s.file_start));
            req.borrowed = true;
        }
        req.kind = VmaKind::File {
            path: path.to_vec(),
            offset: s.file_start,
            dev: st.st_dev,
            ino: st.st_ino,
        };
        mm.mmap(ctx, req)?;
        if borrow.is_some() {
            continue;
        }
        // Fill from the page start, so a page shared with the previous
        // segment holds that segment's bytes too (they are the same file
        // bytes). Bytes past the end of the file stay zero (Linux maps
        // them, and only touching them faults).
        if let Some(c) = &cached {
            let have = c.size.saturating_sub(s.file_start).min(s.file_len);
            if have > 0 {
                mm.fill_from(s.start, c.mem.off + s.file_start, have)?;
            }
            continue;
        }
        let mut pos = 0u64;
        let mut buf = vec![0u8; 1 << 20];
        while pos < s.file_len {
            let n = ((s.file_len - pos) as usize).min(buf.len());
            let got = file.pread_full(env.caller, &mut buf[..n], s.file_start + pos)?;
            mm.write_force(s.start + pos, &buf[..got])?;
            if got < n {
                break;
            }
            pos += n as u64;
        }
    }
    Ok(base)
}
