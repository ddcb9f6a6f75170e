//! Memory syscalls: mmap, munmap, mprotect, mremap, brk, madvise, mincore,
//! msync.

use std::sync::Arc;

use super::{Support, SyscallArgs, Table};
use crate::errno::{Errno, SysResult};
use crate::kernel::task::Task;
use crate::mm::{page_round_up, Attachment, FileHold, MapRequest, VmaKind, PAGE_SIZE};
use crate::vfs::File;

pub fn register(t: &mut Table) {
    t.add(
        libc::SYS_mmap,
        "mmap",
        Support::Partial(
            "MAP_SHARED maps the file's own pages, coherent with read/write and other mappings: \
             in the memory file for tmpfs and the overlay's upper layer, a page cache written \
             back at msync, fsync and the last unmap for host files; MAP_PRIVATE reads a file \
             the file cache does not hold a 512 KiB window at a time on first touch; SIGBUS past \
             the end of the file; MAP_HUGETLB unsupported",
        ),
        sys_mmap,
    );
    t.add(libc::SYS_munmap, "munmap", Support::Full, sys_munmap);
    t.add(
        libc::SYS_remap_file_pages,
        "remap_file_pages",
        Support::Partial(
            "emulated as Linux does (an mmap of the file over the range); not for shared \
             anonymous memory (EINVAL)",
        ),
        sys_remap_file_pages,
    );
    t.add(libc::SYS_mprotect, "mprotect", Support::Full, sys_mprotect);
    t.add(
        libc::SYS_mremap,
        "mremap",
        Support::Partial("growing copies the pages; MREMAP_DONTUNMAP unsupported"),
        sys_mremap,
    );
    t.add(libc::SYS_brk, "brk", Support::Full, sys_brk);
    t.add(
        libc::SYS_madvise,
        "madvise",
        Support::Partial(
            "DONTNEED zeroes private anonymous pages and makes a private file mapping read its file \
             again; other advice is accepted and ignored",
        ),
        sys_madvise,
    );
    t.add(
        libc::SYS_mincore,
        "mincore",
        Support::Partial("every mapped page is reported resident"),
        sys_mincore,
    );
    t.add(libc::SYS_msync, "msync", Support::Full, sys_msync);
    t.add(libc::SYS_mlock, "mlock", Support::Full, sys_mlock);
    t.add(libc::SYS_munlock, "munlock", Support::Full, sys_munlock);
    t.add(
        libc::SYS_mlock2,
        "mlock2",
        Support::Partial("accepted with its limit; the memory file is never swapped by the Sentry"),
        sys_mlock2,
    );
    t.add(
        libc::SYS_mlockall,
        "mlockall",
        Support::Partial("accepted; the memory file is never swapped by the Sentry"),
        sys_mlockall,
    );
    t.add(libc::SYS_munlockall, "munlockall", Support::Full, |_, _| {
        Ok(0)
    });
}

fn sys_mmap(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let source = Source::Fd(a.int(4));
    do_mmap(
        t,
        a.ulong(0),
        a.ulong(1),
        a.int(2),
        a.int(3),
        source,
        a.ulong(5),
    )
}

/// What a file mapping maps: the descriptor mmap names, or the open file
/// of a mapping remap_file_pages maps again.
enum Source {
    Fd(i32),
    File(Arc<File>),
}

fn do_mmap(
    t: &mut Task,
    addr: u64,
    len: u64,
    prot: i32,
    flags: i32,
    source: Source,
    off: u64,
) -> SysResult {
    if len == 0 || !off.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
    if prot & !(libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC | libc::PROT_GROWSDOWN) != 0 {
        return Err(Errno::EINVAL);
    }
    let shared = match flags & (libc::MAP_SHARED | libc::MAP_PRIVATE | libc::MAP_SHARED_VALIDATE) {
        libc::MAP_SHARED | libc::MAP_SHARED_VALIDATE => true,
        libc::MAP_PRIVATE => false,
        _ => return Err(Errno::EINVAL),
    };
    if flags & libc::MAP_HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    let anon = flags & libc::MAP_ANONYMOUS != 0;
    // MAP_SHARED_VALIDATE is MAP_SHARED|MAP_PRIVATE: only a file may be
    // mapped with it (Linux's do_mmap has no anonymous case for it).
    if anon && flags & libc::MAP_SHARED_VALIDATE == libc::MAP_SHARED_VALIDATE {
        return Err(Errno::EINVAL);
    }
    // READ_IMPLIES_EXEC (personality.rs): for anonymous memory only, so a
    // file on a noexec mount is never asked for PROT_EXEC it did not want.
    let prot = if anon { t.effective_prot(prot) } else { prot };
    let mut req = MapRequest::anon(len, prot & !libc::PROT_GROWSDOWN);
    req.addr = addr;
    req.fixed = flags & libc::MAP_FIXED != 0;
    req.noreplace = flags & libc::MAP_FIXED_NOREPLACE != 0;
    req.shared = shared;
    req.growsdown = flags & libc::MAP_GROWSDOWN != 0;
    if flags & libc::MAP_LOCKED != 0 {
        // Over the limit a locked mapping is EAGAIN (mlock_future_ok).
        t.check_memlock(len).map_err(|e| match e {
            Errno::ENOMEM => Errno::EAGAIN,
            e => e,
        })?;
    }
    may_expand(t, len, is_data(shared, prot, req.growsdown))?;
    let file = if anon {
        None
    } else {
        let f = match source {
            Source::Fd(fd) => t.fds.get(fd)?,
            Source::File(f) => f,
        };
        if let Some(segments) = f.ops().mmap_pages(off, len) {
            // Memory the file provides (an io_uring's rings): always
            // shared with it, as Linux maps such pages.
            let segments = segments?;
            req.shared = true;
            req.kind = VmaKind::File {
                path: f.path(),
                offset: off,
                dev: 0,
                ino: f.stat()?.st_ino,
            };
            req.attachment = Some(Arc::new(FileHold {
                file: f.clone(),
                hold: None,
            }) as Arc<dyn Attachment>);
            let mm = t.mm.clone();
            return mm.mmap_segments(t.ctx(), req, segments);
        }
        let st = f.stat()?;
        let acc = f.flags() & libc::O_ACCMODE;
        if acc == libc::O_WRONLY || (shared && prot & libc::PROT_WRITE != 0 && acc != libc::O_RDWR)
        {
            return Err(Errno::EACCES);
        }
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG => {
                // Linux's file_mmap_ok: the last byte must be a valid
                // file offset.
                if off.checked_add(len).is_none_or(|e| e > i64::MAX as u64) {
                    return Err(Errno::EOVERFLOW);
                }
            }
            libc::S_IFBLK => {}
            libc::S_IFCHR => {
                // /dev/zero maps as anonymous memory.
                if !f.path().ends_with(b"/zero") {
                    return Err(Errno::ENODEV);
                }
            }
            libc::S_IFDIR => return Err(Errno::ENODEV),
            _ => return Err(Errno::EACCES),
        }
        if f.dentry().is_some_and(|d| d.mount.noexec()) {
            if prot & libc::PROT_EXEC != 0 {
                return Err(Errno::EPERM);
            }
            req.may_exec = false;
        }
        req.kind = VmaKind::File {
            path: f.path(),
            offset: off,
            dev: st.st_dev,
            ino: st.st_ino,
        };
        if shared && st.st_mode & libc::S_IFMT == libc::S_IFREG {
            // Stores would reach the file: only a writable description
            // may make the mapping writable later (mprotect), and not one
            // of a file sealed against writes (Linux's
            // memfd_check_seals_mmap).
            req.may_write = acc == libc::O_RDWR;
            let seals = crate::fsimpl::tmpfs::of_file(&f).and_then(|i| i.seals());
            if seals.is_some_and(|s| s & crate::fsimpl::tmpfs::seals::WRITES != 0) {
                if prot & libc::PROT_WRITE != 0 {
                    return Err(Errno::EPERM);
                }
                req.may_write = false;
            }
            if len > t.mm.layout.max_addr {
                // Before any of the file's memory is made for it.
                return Err(Errno::ENOMEM);
            }
            // The file's own pages, if its data is in the memory file. The
            // inode is asked without the MM's lock held.
            let mm = t.mm.clone();
            if let Some(pages) = f.map_shared(&mm.file, off, len, req.may_write) {
                let pages = pages?;
                req.attachment = Some(Arc::new(FileHold {
                    file: f.clone(),
                    hold: pages.hold,
                }) as Arc<dyn Attachment>);
                return mm.mmap_segments(t.ctx(), req, pages.segments);
            }
        }
        if shared && prot & libc::PROT_WRITE != 0 {
            t.kernel.report_unsupported(
                libc::SYS_mmap as usize,
                1,
                "mmap MAP_SHARED|PROT_WRITE of a file outside the Sentry's memory (not written back)",
            );
        }
        if shared && st.st_mode & libc::S_IFMT == libc::S_IFREG {
            req.attachment = Some(Arc::new(FileHold {
                file: f.clone(),
                hold: None,
            }) as Arc<dyn Attachment>);
        }
        Some((f, st))
    };
    let mm = t.mm.clone();
    let Some((f, st)) = file else {
        return mm.mmap(t.ctx(), req);
    };
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        // A device mapped as memory (/dev/zero) or a block device: zeros.
        return mm.mmap(t.ctx(), req);
    }
    // Shared libraries are mapped by every process: their bytes come from
    // the file cache, not the Gofer, each time.
    let cached = t.kernel.file_cache.get(t, &mm.file, &f)?;
    // A private mapping that is not writable reads the cache's pages
    // directly (every process maps the same libc); mprotect copies them if
    // they ever become writable.
    if let Some(c) = &cached {
        let inside = off.checked_add(len).is_some_and(|e| e <= c.mem.len);
        if !shared && prot & libc::PROT_WRITE == 0 && inside && c.size > 0 {
            req.mem = Some((c.mem.clone(), off));
            req.borrowed = true;
            return mm.mmap(t.ctx(), req);
        }
    }
    let size = st.st_size.max(0) as u64;
    let avail = size.saturating_sub(off).min(len);
    let populate = flags & (libc::MAP_POPULATE | libc::MAP_LOCKED) != 0;
    match cached {
        Some(c) if !shared && off.checked_add(avail).is_some_and(|e| e <= c.size) => {
            // Filled now with a memory copy; only the pages past the end of
            // the file wait for a touch (SIGBUS, or bytes it gained since).
            req.lazy = Some((f.clone(), avail));
            let at = mm.mmap(t.ctx(), req)?;
            // (A failed fill has unmapped nothing: the mapping stays, as
            // Linux leaves it, and the error goes back.)
            mm.fill_from(at, c.mem.off + off, avail)?;
            Ok(at)
        }
        _ if !shared => {
            // Read on first touch, a window at a time (`mm/lazy.rs`).
            req.lazy = Some((f.clone(), 0));
            let at = mm.mmap(t.ctx(), req)?;
            if populate {
                mm.populate(at, len);
            }
            Ok(at)
        }
        _ => {
            // A shared mapping of a file with no pages of its own to map
            // (reported above): a copy of its bytes.
            let at = mm.mmap(t.ctx(), req)?;
            let mut pos = 0u64;
            let mut buf = vec![0u8; (avail as usize).min(1 << 20)];
            while pos < avail {
                let n = ((avail - pos) as usize).min(buf.len());
                let got = f.pread_full(t, &mut buf[..n], off + pos)?;
                mm.write_force(at + pos, &buf[..got])?;
                if got < n {
                    break;
                }
                pos += n as u64;
            }
            Ok(at)
        }
    }
}

fn sys_munmap(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mm = t.mm.clone();
    mm.munmap(t.ctx(), a.ulong(0), a.ulong(1)).map(|_| 0)
}

/// remap_file_pages(2), as Linux now emulates it: the pages of a shared
/// file mapping from `pgoff` on are mapped again over `[start,
/// start+size)`, with the mapping's own protection.
fn sys_remap_file_pages(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (prot, pgoff) = (a.ulong(2), a.ulong(3));
    let flags = a.int(4) & libc::MAP_NONBLOCK;
    let start = crate::mm::page_round_down(a.ulong(0));
    let size = crate::mm::page_round_down(a.ulong(1));
    let end = start.checked_add(size).filter(|e| *e > start);
    if prot != 0 || end.is_none() || pgoff.checked_add(size / PAGE_SIZE).is_none() {
        return Err(Errno::EINVAL);
    }
    let end = end.unwrap_or(start);
    // The range must lie in shared mappings of one file with one set of
    // flags, without a hole.
    let (file, vprot) = {
        let inner = t.mm.inner();
        let first = inner
            .vmas
            .range(..=start)
            .next_back()
            .map(|(_, v)| v)
            .filter(|v| v.end > start && v.shared)
            .ok_or(Errno::EINVAL)?;
        let file_of = |v: &crate::mm::Vma| {
            v.attachment
                .as_ref()
                .and_then(|a| a.as_any().downcast_ref::<FileHold>())
                .map(|h| h.file.clone())
        };
        let file = file_of(first).ok_or(Errno::EINVAL)?;
        let mut pos = first.end;
        for (_, v) in inner.vmas.range(first.end..end.max(first.end)) {
            let same = file_of(v).is_some_and(|f| Arc::ptr_eq(&f, &file));
            if v.start != pos || !same || v.prot != first.prot || !v.shared {
                return Err(Errno::EINVAL);
            }
            pos = v.end;
        }
        if pos < end {
            return Err(Errno::EINVAL);
        }
        (file, first.prot)
    };
    let off = pgoff.checked_mul(PAGE_SIZE).ok_or(Errno::EINVAL)?;
    let flags = flags | libc::MAP_SHARED | libc::MAP_FIXED;
    do_mmap(t, start, size, vprot, flags, Source::File(file), off).map(|_| 0)
}

pub(super) fn sys_mprotect(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let prot = a.int(2);
    if prot
        & !(libc::PROT_READ
            | libc::PROT_WRITE
            | libc::PROT_EXEC
            | libc::PROT_GROWSDOWN
            | libc::PROT_GROWSUP)
        != 0
    {
        return Err(Errno::EINVAL);
    }
    let prot = t.effective_prot(prot);
    let mm = t.mm.clone();
    mm.mprotect(
        t.ctx(),
        a.ulong(0),
        a.ulong(1),
        prot & !(libc::PROT_GROWSDOWN | libc::PROT_GROWSUP),
    )
    .map(|_| 0)
}

fn sys_mremap(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.int(3);
    if flags & !(libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::MREMAP_FIXED != 0 && flags & libc::MREMAP_MAYMOVE == 0 {
        return Err(Errno::EINVAL);
    }
    let fixed = (flags & libc::MREMAP_FIXED != 0).then_some(a.ulong(4));
    let (old_len, new_len) = (
        page_round_up(a.ulong(1)).unwrap_or(u64::MAX),
        page_round_up(a.ulong(2)).unwrap_or(u64::MAX),
    );
    if new_len > old_len {
        let data = {
            let inner = t.mm.inner();
            let v = inner.vmas.range(..=a.ulong(0)).next_back().map(|(_, v)| v);
            v.is_some_and(|v| is_data(v.shared, v.prot, v.growsdown))
        };
        may_expand(t, new_len - old_len, data)?;
    }
    let mm = t.mm.clone();
    mm.mremap(
        t.ctx(),
        a.ulong(0),
        a.ulong(1),
        a.ulong(2),
        flags & libc::MREMAP_MAYMOVE != 0,
        fixed,
    )
}

fn sys_brk(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let mm = t.mm.clone();
    let (start, cur) = {
        let i = mm.inner();
        (i.brk_start, i.brk)
    };
    let want = a.ulong(0);
    if want > cur {
        // Linux's check_data_rlimit (the heap's size against RLIMIT_DATA),
        // then may_expand_vm for the pages added; a refusal leaves the
        // break where it was.
        let data_max = t.rlimit_cur(libc::RLIMIT_DATA);
        if data_max != libc::RLIM_INFINITY && want - start > data_max {
            return Ok(cur);
        }
        let grow = page_round_up(want).unwrap_or(u64::MAX) - page_round_up(cur).unwrap_or(0);
        if may_expand(t, grow, true).is_err() {
            return Ok(cur);
        }
    }
    Ok(mm.brk(t.ctx(), want))
}

fn sys_madvise(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (addr, len, advice) = (a.ulong(0), a.ulong(1), a.int(2));
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_round_up(len).ok_or(Errno::EINVAL)?;
    if !t.mm.is_mapped(addr, len) {
        return Err(Errno::ENOMEM);
    }
    match advice {
        libc::MADV_DONTNEED | libc::MADV_FREE => t.mm.dontneed(addr, len).map(|_| 0),
        libc::MADV_NORMAL
        | libc::MADV_RANDOM
        | libc::MADV_SEQUENTIAL
        | libc::MADV_WILLNEED
        | libc::MADV_DONTFORK
        | libc::MADV_DOFORK
        | libc::MADV_MERGEABLE
        | libc::MADV_UNMERGEABLE
        | libc::MADV_HUGEPAGE
        | libc::MADV_NOHUGEPAGE
        | libc::MADV_DONTDUMP
        | libc::MADV_DODUMP => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

fn sys_mincore(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (addr, len, vec) = (a.ulong(0), a.ulong(1), a.addr(2));
    if addr % PAGE_SIZE != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
    if !t.mm.is_mapped(addr, len) {
        return Err(Errno::ENOMEM);
    }
    let pages = (len / PAGE_SIZE) as usize;
    let mut done = 0;
    while done < pages {
        let n = (pages - done).min(1 << 16);
        t.write_bytes(vec.get() + done as u64, &vec![1u8; n])?;
        done += n;
    }
    Ok(0)
}

fn sys_msync(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let (addr, len, flags) = (a.ulong(0), a.ulong(1), a.int(2));
    if addr % PAGE_SIZE != 0 || flags & !(libc::MS_ASYNC | libc::MS_SYNC | libc::MS_INVALIDATE) != 0
    {
        return Err(Errno::EINVAL);
    }
    if flags & libc::MS_ASYNC != 0 && flags & libc::MS_SYNC != 0 {
        return Err(Errno::EINVAL);
    }
    let len = page_round_up(len).ok_or(Errno::ENOMEM)?;
    if !t.mm.is_mapped(addr, len) {
        return Err(Errno::ENOMEM);
    }
    t.mm.sync(addr, len).map(|_| 0)
}

fn sys_mlock(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let start = crate::mm::page_round_down(a.ulong(0));
    let len = a
        .ulong(1)
        .checked_add(a.ulong(0) - start)
        .and_then(page_round_up)
        .ok_or(Errno::ENOMEM)?;
    // RLIMIT_MEMLOCK first, as Linux's do_mlock.
    t.check_memlock(len)?;
    if !t.mm.is_mapped(start, len) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

fn sys_mlock2(t: &mut Task, a: &SyscallArgs) -> SysResult {
    if a.uint(2) & !MLOCK_ONFAULT != 0 {
        return Err(Errno::EINVAL);
    }
    sys_mlock(t, a)
}

/// mlock2's one flag (linux/mman.h): lock pages as they are faulted in.
const MLOCK_ONFAULT: u32 = 1;

fn sys_munlock(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let start = crate::mm::page_round_down(a.ulong(0));
    let len = a
        .ulong(1)
        .checked_add(a.ulong(0) - start)
        .and_then(page_round_up)
        .ok_or(Errno::ENOMEM)?;
    if !t.mm.is_mapped(start, len) {
        return Err(Errno::ENOMEM);
    }
    Ok(0)
}

fn sys_mlockall(t: &mut Task, a: &SyscallArgs) -> SysResult {
    let flags = a.int(0);
    if flags == 0 || flags & !(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) != 0 {
        return Err(Errno::EINVAL);
    }
    // MCL_CURRENT locks the whole address space: it must fit under the
    // limit (Linux's apply_mlockall_flags check against total_vm).
    let now = if flags & libc::MCL_CURRENT != 0 {
        vm_usage(t).0
    } else {
        0
    };
    t.check_memlock(now)?;
    Ok(0)
}

/// Bytes mapped in all, and in data mappings (private, writable, not a
/// stack: Linux's is_data_mapping), for RLIMIT_AS and RLIMIT_DATA.
fn vm_usage(t: &Task) -> (u64, u64) {
    let inner = t.mm.inner();
    let mut total = 0;
    let mut data = 0;
    for v in inner.vmas.values() {
        total += v.end - v.start;
        if is_data(v.shared, v.prot, v.growsdown) {
            data += v.end - v.start;
        }
    }
    (total, data)
}

fn is_data(shared: bool, prot: i32, growsdown: bool) -> bool {
    !shared && prot & libc::PROT_WRITE != 0 && !growsdown
}

/// Linux's may_expand_vm: `grow` more bytes (of a data mapping if `data`)
/// must fit under RLIMIT_AS and RLIMIT_DATA (ENOMEM). Free unless a
/// limit is set.
fn may_expand(t: &Task, grow: u64, data: bool) -> Result<(), Errno> {
    let as_max = t.rlimit_cur(libc::RLIMIT_AS);
    let data_max = t.rlimit_cur(libc::RLIMIT_DATA);
    if as_max == libc::RLIM_INFINITY && (!data || data_max == libc::RLIM_INFINITY) {
        return Ok(());
    }
    let (total, in_data) = vm_usage(t);
    if total.saturating_add(grow) > as_max {
        return Err(Errno::ENOMEM);
    }
    if data && in_data.saturating_add(grow) > data_max {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}
