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

pub use elf::ElfInfo;

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

const MAX_SCRIPT_DEPTH: usize = 4;

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
            let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
            let line = &head[2..line_end];
            let line = trim(line);
            if line.is_empty() {
                return Err(Errno::ENOEXEC);
            }
            let (interp, arg) = match line.iter().position(|b| *b == b' ' || *b == b'\t') {
                Some(i) => (line[..i].to_vec(), Some(trim(&line[i..]).to_vec())),
                None => (line.to_vec(), None),
            };
            let mut nargv = vec![interp.clone()];
            if let Some(a) = arg.filter(|a| !a.is_empty()) {
                nargv.push(a);
            }
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
    const HEAD: u64 = 256;
    if let Some(c) = env.file_cache.get(env.caller, env.memfile, file)? {
        let n = c.size.min(HEAD) as usize;
        let mut head = vec![0u8; n];
        // SAFETY: the cache range holds c.size >= n bytes from c.mem.off.
        unsafe { std::ptr::copy_nonoverlapping(env.memfile.ptr(c.mem.off), head.as_mut_ptr(), n) };
        return Ok(head);
    }
    let mut head = vec![0u8; HEAD as usize];
    let n = file.pread_full(env.caller, &mut head, 0)?;
    head.truncate(n);
    Ok(head)
}

fn trim(s: &[u8]) -> &[u8] {
    let a = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let e = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(a, |i| i + 1);
    &s[a..e]
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
pub fn load(
    env: &Env<'_>,
    mm: &Arc<MemoryManager>,
    ctx: &mut dyn platform::Context,
    r: &Resolved,
    envp: &[Vec<u8>],
) -> Result<Image, LoadError> {
    let main = elf::load_elf(env, mm, ctx, &r.file, &r.path, &r.head, false)?;
    let (entry, interp_base) = match &main.interp {
        Some(ip) => {
            let f = crate::vfs::open(env.caller, libc::AT_FDCWD, ip, libc::O_RDONLY, 0)?;
            let head = read_head(env, &f)?;
            let interp = elf::load_elf(env, mm, ctx, &f, &f.path(), &head, true)?;
            (interp.entry, interp.base)
        }
        None => (main.entry, 0),
    };
    let fatal = LoadError::Fatal;
    let brk = crate::mm::page_round_up(main.end).ok_or(fatal(Errno::ENOMEM))?;
    mm.init_brk(brk).map_err(fatal)?;
    let sp =
        stack::build(env, mm, ctx, &main, interp_base, &r.argv, envp, &r.path).map_err(fatal)?;
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
