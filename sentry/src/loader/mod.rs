//! Loading a program into a fresh address space: ELF (static, dynamic with
//! PT_INTERP, PIE), `#!` scripts, and the initial stack with argv, envp and
//! the auxiliary vector.

mod elf;
mod stack;

use std::sync::Arc;

use crate::errno::Errno;
use crate::memfile::MemoryFile;
use crate::mm::file_cache::FileCache;
use crate::mm::MemoryManager;
use crate::vfs::{Caller, File};

pub use elf::{check_bytes as check_elf_bytes, ElfInfo};

/// What loading needs from the kernel: who executes (to open and read the
/// files with its credentials), where file contents are cached, and what
/// the auxiliary vector tells the program.
pub struct Env<'a> {
    pub caller: &'a dyn Caller,
    pub file_cache: &'a FileCache,
    pub memfile: &'a Arc<MemoryFile>,
    pub ids: Ids,
    /// The platform's vDSO, mapped into the new image when there is one.
    pub vdso: Option<platform::Vdso>,
}

/// The real and effective ids for AT_UID, AT_EUID, AT_GID and AT_EGID,
/// and AT_SECURE (a set-id or capability-gaining exec: the C library
/// then ignores LD_PRELOAD and the like).
pub struct Ids {
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
    pub egid: u32,
    pub secure: bool,
}

/// What a loaded image needs to start.
pub struct Image {
    pub entry: u64,
    pub sp: u64,
    /// argv as finally executed (after `#!` rewriting), for comm and /proc.
    pub argv: Vec<Vec<u8>>,
    pub path: Vec<u8>,
}

/// The program to load after `#!` resolution: its file, path and argv.
pub struct Resolved {
    pub file: Arc<File>,
    pub path: Vec<u8>,
    pub argv: Vec<Vec<u8>>,
    pub head: Vec<u8>,
}

/// How many `#!` scripts may run one another before the binary (Linux's
/// exec_binprm allows 5 levels, then ELOOP).
const MAX_SCRIPT_DEPTH: usize = 5;

/// How much of a file execve reads to recognise it (BINPRM_BUF_SIZE): a
/// `#!` line is cut there.
pub(crate) const HEAD_LEN: usize = 256;

/// Opens `path` and follows `#!` lines to the binary that will run.
pub fn resolve(
    env: &Env<'_>,
    dirfd: i32,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    flags: i32,
) -> Result<Resolved, Errno> {
    let mut path = path.to_vec();
    let mut argv = argv;
    let mut dirfd = dirfd;
    let mut flags = flags;
    for _ in 0..=MAX_SCRIPT_DEPTH {
        let file = crate::vfs::open(env.caller, dirfd, &path, libc::O_RDONLY | flags, 0)?;
        crate::vfs::check_exec(env.caller, &file)?;
        let head = read_head(env, &file)?;
        if head.starts_with(b"#!") {
            let (interp, arg) = parse_shebang(&head)?;
            let mut nargv = vec![interp.clone()];
            nargv.extend(arg);
            if dirfd != libc::AT_FDCWD
                && !path.starts_with(b"/")
                && env.caller.fds().get_with_flags(dirfd)?.1
            {
                // Its /dev/fd name is gone once the exec closes the
                // descriptor: Linux refuses the script up front.
                return Err(Errno::ENOENT);
            }
            nargv.push(script_name(dirfd, &path));
            nargv.extend(argv.into_iter().skip(1));
            argv = nargv;
            path = interp;
            dirfd = libc::AT_FDCWD;
            flags = 0;
            continue;
        }
        let path = file.path();
        return Ok(Resolved {
            file,
            path,
            argv,
            head,
        });
    }
    Err(Errno::ELOOP)
}

/// The interpreter and optional argument of a `#!` line, split as Linux's
/// load_script does within the first [`HEAD_LEN`] bytes: without a
/// newline there, the line is cut (its argument may be), but an
/// interpreter name that reaches the cut is refused with ENOEXEC rather
/// than run truncated. Spaces and tabs separate; each part ends at a NUL.
pub fn parse_shebang(head: &[u8]) -> Result<(Vec<u8>, Option<Vec<u8>>), Errno> {
    let mut buf = [0u8; HEAD_LEN];
    let n = head.len().min(HEAD_LEN);
    buf[..n].copy_from_slice(&head[..n]);
    if &buf[..2] != b"#!" {
        return Err(Errno::ENOEXEC);
    }
    let spacetab = |c: u8| c == b' ' || c == b'\t';
    let last = HEAD_LEN - 1;
    let mut end = match buf.iter().position(|c| *c == b'\n') {
        Some(i) => i,
        None => {
            let name = (2..=last)
                .find(|i| !spacetab(buf[*i]))
                .ok_or(Errno::ENOEXEC)?;
            if !(name..=last).any(|i| spacetab(buf[i]) || buf[i] == 0) {
                return Err(Errno::ENOEXEC);
            }
            last
        }
    };
    // buf starts with "#!", neither a space nor a tab: end stays >= 2.
    while spacetab(buf[end - 1]) {
        end -= 1;
    }
    let name = (2..end)
        .find(|i| !spacetab(buf[*i]))
        .ok_or(Errno::ENOEXEC)?;
    let sep = (name..=end).find(|i| spacetab(buf[*i]) || buf[*i] == 0);
    let arg = match sep {
        Some(s) if buf[s] != 0 => (s..=end).find(|i| !spacetab(buf[*i])),
        _ => None,
    };
    buf[end] = 0;
    let cstr = |from: usize, to: usize| {
        let s = &buf[from..to];
        s[..s.iter().position(|c| *c == 0).unwrap_or(s.len())].to_vec()
    };
    let name_end = match (arg, sep) {
        (Some(_), Some(s)) => s,
        _ => end,
    };
    Ok((cstr(name, name_end), arg.map(|a| cstr(a, end))))
}

/// The name a script's interpreter is given for it (Linux's
/// `bprm->filename`): the path as execve got it, not where its symlinks
/// lead, since wrappers installed as symlinks (Debian's pg_wrapper behind
/// /usr/bin/psql) tell from it which program they are; relative to a
/// directory descriptor, the path through /dev/fd.
fn script_name(dirfd: i32, path: &[u8]) -> Vec<u8> {
    if dirfd == libc::AT_FDCWD || path.starts_with(b"/") {
        return path.to_vec();
    }
    let mut name = format!("/dev/fd/{dirfd}").into_bytes();
    if !path.is_empty() {
        name.push(b'/');
        name.extend_from_slice(path);
    }
    name
}

/// The first bytes of a file to execute, from the file cache when it has
/// (or takes) the file, so a cached program costs no 9P read.
fn read_head(env: &Env<'_>, file: &File) -> Result<Vec<u8>, Errno> {
    if let Some(c) = env.file_cache.get(env.caller, env.memfile, file)? {
        let n = c.size.min(HEAD_LEN as u64) as usize;
        let mut head = vec![0u8; n];
        // SAFETY: the cache range holds c.size >= n bytes from c.mem.off.
        unsafe { std::ptr::copy_nonoverlapping(env.memfile.ptr(c.mem.off), head.as_mut_ptr(), n) };
        return Ok(head);
    }
    let mut head = vec![0u8; HEAD_LEN];
    let n = file.pread_full(env.caller, &mut head, 0)?;
    head.truncate(n);
    Ok(head)
}

/// Why a program could not be loaded, and so what execve does about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// Refused where Linux refuses before its point of no return (a bad
    /// header, a missing interpreter): execve fails with the errno and the
    /// caller runs on.
    Refused(Errno),
    /// Failed where Linux has already given up the old image (a segment
    /// that cannot be mapped: an address beyond the address space, say):
    /// the process dies of SIGSEGV, as Linux's force_fatal_sig makes it.
    Fatal(Errno),
}

impl From<Errno> for LoadError {
    fn from(e: Errno) -> LoadError {
        LoadError::Refused(e)
    }
}

/// Loads `r` into `mm` (fresh, mapped through `ctx`) and builds the stack.
/// The interpreter is opened and its headers checked before anything is
/// mapped, as Linux does before its point of no return.
pub fn load(
    env: &Env<'_>,
    mm: &Arc<MemoryManager>,
    ctx: &mut dyn platform::Context,
    r: &Resolved,
    envp: &[Vec<u8>],
) -> Result<Image, LoadError> {
    let main = elf::parse(&r.head, &mut reader(env, &r.file), false)?;
    let interp = match &main.interp {
        Some(ip) => {
            let f = crate::vfs::open(env.caller, libc::AT_FDCWD, ip, libc::O_RDONLY, 0)?;
            crate::vfs::check_exec(env.caller, &f)?;
            let head = read_head(env, &f)?;
            let parsed = elf::parse(&head, &mut reader(env, &f), true)?;
            Some((f, parsed))
        }
        None => None,
    };
    let fatal = LoadError::Fatal;
    let info = elf::map(env, mm, ctx, &r.file, &r.path, &main, false).map_err(fatal)?;
    let (entry, interp_base) = match &interp {
        Some((f, parsed)) => {
            let i = elf::map(env, mm, ctx, f, &f.path(), parsed, true).map_err(fatal)?;
            (i.entry, i.base)
        }
        None => (info.entry, 0),
    };
    let brk = crate::mm::page_round_up(info.end).ok_or(fatal(Errno::ENOMEM))?;
    mm.init_brk(brk).map_err(fatal)?;
    let sp =
        stack::build(env, mm, ctx, &info, interp_base, &r.argv, envp, &r.path).map_err(fatal)?;
    {
        let mut inner = mm.inner_mut();
        inner.exe = r.path.clone();
    }
    Ok(Image {
        entry,
        sp,
        argv: r.argv.clone(),
        path: r.path.clone(),
    })
}

/// Reads `file` for the ELF parser through the caller's credentials.
fn reader<'a>(
    env: &'a Env<'_>,
    file: &'a File,
) -> impl FnMut(&mut [u8], u64) -> Result<usize, Errno> + 'a {
    move |buf, off| file.pread_full(env.caller, buf, off)
}
