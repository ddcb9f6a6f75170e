//! Path resolution and the path-based operations of the VFS, as Linux's
//! namei does them: each function returns the errno Linux would.
//!
//! The functions on [`Ctx`] need no task, so they are testable on their
//! own; the `*_task` helpers at the end glue them to a task's fd table,
//! cwd, root, umask and credentials.

use std::sync::Arc;

use super::path::{self, Component};
use super::perm::{Cred, MAY_EXEC, MAY_READ, MAY_WRITE};
use super::{is_dir, is_reg, is_symlink, Dentry, File, FileOps, SetAttr, Time};
use super::{MAX_SYMLINKS, PATH_MAX};
use crate::caps::{
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD,
};
use crate::errno::Errno;
use crate::vfs::Caller;

pub use super::ctx::Ctx;

/// The last component of a path whose parent was resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Last {
    Name(Vec<u8>),
    Dot,
    DotDot,
    /// The path named the root itself (`/`).
    Root,
}

/// A resolved parent and what follows it.
pub struct Parent {
    pub dir: Arc<Dentry>,
    pub last: Last,
    pub trailing_slash: bool,
}

enum Step {
    Dot,
    DotDot,
    Name(Vec<u8>),
}

fn steps_of<'p>(p: &'p path::Parsed<'_>) -> impl DoubleEndedIterator<Item = Step> + 'p {
    p.components.iter().map(|c| match c {
        Component::Dot => Step::Dot,
        Component::DotDot => Step::DotDot,
        Component::Name(n) => Step::Name(n.to_vec()),
    })
}

/// Looks `name` up in `dir` and crosses into whatever is mounted there.
fn lookup(ctx: &Ctx<'_>, dir: &Arc<Dentry>, name: &[u8]) -> Result<Arc<Dentry>, Errno> {
    let inode = dir.inode.lookup_by(name, ctx)?;
    let mut d = dir.child(dir.mount.clone(), inode, name);
    // Bounded: each mount covers a directory of an older one.
    for _ in 0..64 {
        match ctx.vfs.mounted_on(d.mount.id, &d.inode) {
            Some(m) => d = dir.child(m.clone(), m.root.clone(), name),
            None => break,
        }
    }
    Ok(d)
}

fn dotdot(ctx: &Ctx<'_>, cur: Arc<Dentry>) -> Arc<Dentry> {
    if cur.same(&ctx.root) {
        return cur;
    }
    match cur.parent() {
        Some(p) => p.clone(),
        None => cur,
    }
}

/// What a resolution reached.
enum Resolved {
    Dentry(Arc<Dentry>),
    /// A magic link (/dev/fd/N) to a descriptor of the caller that has no
    /// dentry (a pipe, a host descriptor).
    File(Arc<File>),
    Parent(Parent),
}

/// The resolver: walks `path` from `start` (or the root for absolute
/// paths). With `parent_only`, stops before the last component and
/// returns it; otherwise follows a final symlink when `follow` (or a
/// trailing slash) asks for it.
fn resolve(
    ctx: &Ctx<'_>,
    start: Arc<Dentry>,
    path: &[u8],
    follow: bool,
    parent_only: bool,
) -> Result<Resolved, Errno> {
    let parsed = path::parse(path)?;
    let mut cur = if parsed.absolute {
        ctx.resolve.absolute()?;
        ctx.root.clone()
    } else {
        start
    };
    // Where the walk began, for RESOLVE_NO_XDEV.
    let mount = cur.mount.id;
    let mut must_dir = parsed.trailing_slash;
    // Pending steps, next one last.
    let mut stack: Vec<Step> = steps_of(&parsed).rev().collect();
    let mut links = 0u32;
    if parent_only && stack.is_empty() {
        return Ok(Resolved::Parent(Parent {
            dir: cur,
            last: Last::Root,
            trailing_slash: false,
        }));
    }
    while let Some(step) = stack.pop() {
        let is_last = stack.is_empty();
        ctx.resolve.crossed(mount, cur.mount.id)?;
        if !cur.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if is_last && parent_only {
            let last = match step {
                Step::Dot => Last::Dot,
                Step::DotDot => Last::DotDot,
                Step::Name(n) => Last::Name(n),
            };
            return Ok(Resolved::Parent(Parent {
                dir: cur,
                last,
                trailing_slash: must_dir,
            }));
        }
        match step {
            Step::Dot => {}
            Step::DotDot => {
                if cur.same(&ctx.root) {
                    ctx.resolve.dotdot_at_root()?;
                }
                cur = dotdot(ctx, cur);
            }
            Step::Name(name) => {
                may_search(ctx, &cur)?;
                let next = lookup(ctx, &cur, &name)?;
                if is_symlink(next.mode()) && (!is_last || follow || must_dir) {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err(Errno::ELOOP);
                    }
                    let magic = next.inode.magic(ctx);
                    ctx.resolve.follow(magic.is_some())?;
                    if let Some(m) = magic {
                        match m? {
                            AtTarget::Dentry(d) => cur = d,
                            AtTarget::File(f) => match f.dentry() {
                                Some(d) => cur = d.clone(),
                                None if is_last && !must_dir => {
                                    // A pipe or socket is on no mount of ours.
                                    ctx.resolve.crossed(mount, u64::MAX)?;
                                    return Ok(Resolved::File(f));
                                }
                                None => return Err(Errno::ENOTDIR),
                            },
                        }
                        continue;
                    }
                    let target = next.inode.readlink_by(ctx)?;
                    let parsed = path::parse(&target)?;
                    if parsed.absolute {
                        ctx.resolve.absolute()?;
                        cur = ctx.root.clone();
                    }
                    if is_last && parsed.trailing_slash {
                        must_dir = true;
                    }
                    stack.extend(steps_of(&parsed).rev());
                    continue;
                }
                cur = next;
            }
        }
    }
    ctx.resolve.crossed(mount, cur.mount.id)?;
    if must_dir && !cur.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    Ok(Resolved::Dentry(cur))
}

fn may_search(ctx: &Ctx<'_>, dir: &Dentry) -> Result<(), Errno> {
    // Either DAC capability searches any directory: no need to stat it.
    if ctx.cred.capable(CAP_DAC_READ_SEARCH) || ctx.cred.capable(CAP_DAC_OVERRIDE) {
        return Ok(());
    }
    ctx.cred.may_stat(&dir.inode.stat()?, MAY_EXEC)
}

/// Resolves `path` from `start` to a dentry. A magic link to a
/// descriptor without one (`/dev/stdin` on a pipe) is EINVAL here: use
/// [`walk_target`] where such a file will do.
pub fn walk(
    ctx: &Ctx<'_>,
    start: Arc<Dentry>,
    path: &[u8],
    follow: bool,
) -> Result<Arc<Dentry>, Errno> {
    match walk_target(ctx, start, path, follow)? {
        AtTarget::Dentry(d) => Ok(d),
        AtTarget::File(_) => Err(Errno::EINVAL),
    }
}

/// Resolves `path` from `start` to a dentry or, through a magic link, to
/// an open file.
pub fn walk_target(
    ctx: &Ctx<'_>,
    start: Arc<Dentry>,
    path: &[u8],
    follow: bool,
) -> Result<AtTarget, Errno> {
    match resolve(ctx, start, path, follow, false)? {
        Resolved::Dentry(d) => Ok(AtTarget::Dentry(d)),
        Resolved::File(f) => Ok(AtTarget::File(f)),
        Resolved::Parent(_) => Err(Errno::ENOENT),
    }
}

/// Resolves all of `path` but its last component.
pub fn walk_parent(ctx: &Ctx<'_>, start: Arc<Dentry>, path: &[u8]) -> Result<Parent, Errno> {
    match resolve(ctx, start, path, false, true)? {
        Resolved::Parent(p) => Ok(p),
        _ => Err(Errno::ENOENT),
    }
}

/// Resolves the parent of a name that is about to be created (mkdir,
/// symlink, link): the last component must be a plain name that does not
/// exist yet (EEXIST otherwise, as for "." and "..").
fn walk_new_name(
    ctx: &Ctx<'_>,
    start: Arc<Dentry>,
    path: &[u8],
) -> Result<(Parent, Vec<u8>), Errno> {
    let p = walk_parent(ctx, start, path)?;
    let name = match &p.last {
        Last::Name(n) => n.clone(),
        _ => return Err(Errno::EEXIST),
    };
    match lookup_child(ctx, &p.dir, &name) {
        Ok(_) => Err(Errno::EEXIST),
        Err(Errno::ENOENT) => Ok((p, name)),
        Err(e) => Err(e),
    }
}

/// Looks up one name in a directory the caller resolved (with the search
/// permission check), crossing mounts.
pub fn lookup_child(ctx: &Ctx<'_>, dir: &Arc<Dentry>, name: &[u8]) -> Result<Arc<Dentry>, Errno> {
    may_search(ctx, dir)?;
    lookup(ctx, dir, name)
}

/// Write and search permission on a directory, to change its entries.
fn may_modify_dir(ctx: &Ctx<'_>, dir: &Dentry) -> Result<(), Errno> {
    ctx.cred.may_stat(&dir.inode.stat()?, MAY_WRITE | MAY_EXEC)
}

/// The sticky-directory rule: in a +t directory only the owner of the
/// entry or of the directory (or CAP_FOWNER) may remove or rename it.
fn check_sticky(ctx: &Ctx<'_>, dir: &Dentry, child: &Dentry) -> Result<(), Errno> {
    if ctx.cred.capable(CAP_FOWNER) {
        return Ok(());
    }
    let ds = dir.inode.stat()?;
    if ds.st_mode & libc::S_ISVTX == 0 {
        return Ok(());
    }
    let cs = child.inode.stat()?;
    if ctx.cred.uid == cs.st_uid || ctx.cred.uid == ds.st_uid {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

/// The file behind an O_PATH descriptor: no I/O at all.
struct PathOnly;

impl FileOps for PathOnly {
    fn read_at(&self, _buf: &mut [u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
    fn write_at(&self, _buf: &[u8], _off: u64) -> Result<usize, Errno> {
        Err(Errno::EBADF)
    }
}

/// open(2) and openat(2): resolves, creates with O_CREAT, checks and opens.
/// `mode` is the application's; the umask is applied here.
pub fn open_at(
    ctx: &Ctx<'_>,
    start: Arc<Dentry>,
    path: &[u8],
    flags: i32,
    mode: u32,
) -> Result<Arc<File>, Errno> {
    // __O_TMPFILE: O_TMPFILE without its O_DIRECTORY.
    let tmpfile_bit = libc::O_TMPFILE & !libc::O_DIRECTORY;
    if flags & tmpfile_bit != 0 {
        return open_tmpfile(ctx, start, path, flags, mode);
    }
    if flags & libc::O_CREAT != 0 && flags & libc::O_DIRECTORY != 0 {
        // Linux 6.4 and later: no creating "a directory" with open.
        return Err(Errno::EINVAL);
    }
    let path_only = flags & libc::O_PATH != 0;
    let follow = flags & libc::O_NOFOLLOW == 0;
    let mut created = false;
    let d = if flags & libc::O_CREAT != 0 && !path_only {
        let p = walk_parent(ctx, start, path)?;
        let name = match p.last {
            Last::Name(n) => n,
            _ => return Err(Errno::EISDIR),
        };
        match lookup_child(ctx, &p.dir, &name) {
            Ok(existing) => {
                ctx.resolve.crossed(p.dir.mount.id, existing.mount.id)?;
                if flags & libc::O_EXCL != 0 {
                    return Err(Errno::EEXIST);
                }
                if is_symlink(existing.mode()) {
                    if !follow {
                        return Err(Errno::ELOOP);
                    }
                    match walk_target(ctx, p.dir.clone(), &name, true)? {
                        AtTarget::Dentry(d) => d,
                        AtTarget::File(f) => return reopen(f, flags),
                    }
                } else {
                    existing
                }
            }
            Err(Errno::ENOENT) => {
                if p.trailing_slash {
                    return Err(Errno::EISDIR);
                }
                p.dir.mount.want_write()?;
                may_modify_dir(ctx, &p.dir)?;
                let owner = ctx.owner_in(&p.dir);
                let perm = mode & 0o7777 & !ctx.umask;
                let inode = p.dir.inode.create(&name, perm, owner)?;
                p.dir
                    .mount
                    .notify()
                    .entry_event(&p.dir, &name, libc::IN_CREATE, false, 0);
                created = true;
                p.dir.child(p.dir.mount.clone(), inode, &name)
            }
            Err(e) => return Err(e),
        }
    } else {
        match walk_target(ctx, start, path, follow)? {
            AtTarget::Dentry(d) => d,
            AtTarget::File(f) => return reopen(f, flags),
        }
    };
    open_resolved(ctx, d, flags, created)
}

/// The checks and the open of a file found already (open_at's second
/// half; all of open_by_handle_at's open). `created`: open_at just made it.
pub fn open_resolved(
    ctx: &Ctx<'_>,
    d: Arc<Dentry>,
    flags: i32,
    created: bool,
) -> Result<Arc<File>, Errno> {
    let path_only = flags & libc::O_PATH != 0;
    let fmode = d.mode();
    if is_symlink(fmode) && !path_only {
        // Only O_NOFOLLOW leaves a final symlink unresolved.
        return Err(Errno::ELOOP);
    }
    if flags & libc::O_DIRECTORY != 0 && !is_dir(fmode) {
        return Err(Errno::ENOTDIR);
    }
    if path_only {
        let kept = libc::O_PATH | (flags & (libc::O_DIRECTORY | libc::O_NOFOLLOW));
        return Ok(File::new(Arc::new(PathOnly), Some(d), kept));
    }
    let acc = flags & libc::O_ACCMODE;
    let wants_write = acc != libc::O_RDONLY || flags & libc::O_TRUNC != 0;
    // O_TRUNC asks for write access too (Linux's build_open_flags).
    if is_dir(fmode) && (wants_write || flags & libc::O_CREAT != 0) {
        return Err(Errno::EISDIR);
    }
    if matches!(fmode & libc::S_IFMT, libc::S_IFCHR | libc::S_IFBLK) && d.mount.nodev() {
        return Err(Errno::EACCES);
    }
    // A read-only filesystem refuses writing before the mode bits are
    // looked at (Linux's sb_permission), as does truncation; a read-only
    // mount of a writable one only when the file is opened.
    let write_through = wants_write && is_reg(fmode) && !created;
    if write_through && (d.mount.sb.readonly() || flags & libc::O_TRUNC != 0) {
        d.mount.want_write()?;
    }
    // Listeners with permission marks answer before anything happens
    // (Linux asks in do_dentry_open, before O_TRUNC's truncation).
    if let Some(t) = ctx.caller {
        d.mount.notify().permission(t, &d, libc::FAN_OPEN_PERM)?;
    }
    let mut truncated = false;
    if !created {
        let mut want = 0;
        if acc != libc::O_WRONLY {
            want |= MAY_READ;
        }
        if wants_write {
            want |= MAY_WRITE;
        }
        ctx.cred.may_stat(&d.inode.stat()?, want)?;
        if write_through {
            d.mount.want_write()?;
        }
        if flags & libc::O_TRUNC != 0 && is_reg(fmode) {
            d.inode.setattr(&SetAttr {
                size: Some(0),
                ..SetAttr::default()
            })?;
            truncated = true;
        }
    }
    let ops = d.inode.clone().open_by(flags, ctx)?;
    let f = File::new(ops, Some(d.clone()), flags | super::file::O_LARGEFILE);
    // Linux reports the open before the truncation it does afterwards.
    d.mount.notify().path_event(&d, libc::IN_OPEN);
    if truncated {
        d.mount.notify().file_event(&d, libc::IN_MODIFY);
    }
    Ok(f)
}

/// open(2) with O_TMPFILE: an unnamed regular file in the directory
/// `path` names, checked in Linux's order (flags, then the walk, then
/// EROFS and the directory's write permission).
fn open_tmpfile(
    ctx: &Ctx<'_>,
    start: Arc<Dentry>,
    path: &[u8],
    flags: i32,
    mode: u32,
) -> Result<Arc<File>, Errno> {
    let acc = flags & libc::O_ACCMODE;
    if flags & libc::O_TMPFILE != libc::O_TMPFILE
        || flags & (libc::O_CREAT | libc::O_PATH) != 0
        || (acc != libc::O_WRONLY && acc != libc::O_RDWR)
    {
        return Err(Errno::EINVAL);
    }
    let dir = walk(ctx, start, path, flags & libc::O_NOFOLLOW == 0)?;
    if !dir.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    dir.mount.want_write()?;
    may_modify_dir(ctx, &dir)?;
    let owner = ctx.owner_in(&dir);
    let perm = mode & 0o7777 & !ctx.umask;
    let inode = dir.inode.tmpfile(perm, owner, flags & libc::O_EXCL == 0)?;
    // Linux names it `#ino` in its directory (shown "(deleted)").
    let name = format!("#{}", inode.ino());
    let d = dir.child(dir.mount.clone(), inode, name.as_bytes());
    let kept = flags & !(libc::O_TMPFILE | libc::O_EXCL);
    let ops = d.inode.clone().open_by(kept, ctx)?;
    Ok(File::new(ops, Some(d), kept | super::file::O_LARGEFILE))
}

/// Opening a magic link to a descriptor without a dentry (/dev/stdout on
/// a pipe or the host's terminal): the same open file, as close as we get
/// to Linux reopening the pipe or terminal.
fn reopen(f: Arc<File>, flags: i32) -> Result<Arc<File>, Errno> {
    if flags & libc::O_DIRECTORY != 0 {
        return Err(Errno::ENOTDIR);
    }
    Ok(f)
}

/// mkdir(2).
pub fn mkdirat(ctx: &Ctx<'_>, start: Arc<Dentry>, path: &[u8], mode: u32) -> Result<(), Errno> {
    let (p, name) = walk_new_name(ctx, start, path)?;
    p.dir.mount.want_write()?;
    may_modify_dir(ctx, &p.dir)?;
    let owner = ctx.owner_in(&p.dir);
    let mut perm = mode & (0o777 | libc::S_ISVTX) & !ctx.umask;
    if p.dir.mode() & libc::S_ISGID != 0 {
        perm |= libc::S_ISGID;
    }
    p.dir.inode.mkdir(&name, perm, owner)?;
    p.dir
        .mount
        .notify()
        .entry_event(&p.dir, &name, libc::IN_CREATE, true, 0);
    Ok(())
}

/// mknod(2): a regular file, FIFO, socket or (root only) device node.
/// `mode` holds the type (0 for a regular file); the umask is applied.
pub fn mknodat(
    ctx: &Ctx<'_>,
    start: Arc<Dentry>,
    path: &[u8],
    mode: u32,
    rdev: u64,
) -> Result<(), Errno> {
    let ftype = mode & libc::S_IFMT;
    match ftype {
        0 | libc::S_IFREG | libc::S_IFIFO | libc::S_IFSOCK | libc::S_IFCHR | libc::S_IFBLK => {}
        libc::S_IFDIR => return Err(Errno::EPERM),
        _ => return Err(Errno::EINVAL),
    }
    let (p, name) = walk_new_name(ctx, start, path)?;
    if p.trailing_slash {
        return Err(Errno::ENOENT);
    }
    p.dir.mount.want_write()?;
    may_modify_dir(ctx, &p.dir)?;
    let is_dev = matches!(ftype, libc::S_IFCHR | libc::S_IFBLK);
    if is_dev && !ctx.cred.capable(CAP_MKNOD) {
        return Err(Errno::EPERM);
    }
    let owner = ctx.owner_in(&p.dir);
    let perm = mode & 0o7777 & !ctx.umask;
    if ftype == 0 || ftype == libc::S_IFREG {
        p.dir.inode.create(&name, perm, owner)?;
    } else {
        p.dir
            .inode
            .mknod(&name, ftype | perm, if is_dev { rdev } else { 0 }, owner)?;
    }
    p.dir
        .mount
        .notify()
        .entry_event(&p.dir, &name, libc::IN_CREATE, false, 0);
    Ok(())
}

/// unlink(2) and unlinkat(2) without AT_REMOVEDIR.
pub fn unlinkat(ctx: &Ctx<'_>, start: Arc<Dentry>, path: &[u8]) -> Result<(), Errno> {
    let p = walk_parent(ctx, start, path)?;
    let name = match p.last {
        Last::Name(n) => n,
        _ => return Err(Errno::EISDIR),
    };
    // Linux asks for write access before it looks the name up.
    p.dir.mount.want_write()?;
    let child = lookup_child(ctx, &p.dir, &name)?;
    if child.is_dir() {
        return Err(Errno::EISDIR);
    }
    if p.trailing_slash {
        return Err(Errno::ENOTDIR);
    }
    may_modify_dir(ctx, &p.dir)?;
    check_sticky(ctx, &p.dir, &child)?;
    if ctx.vfs.is_mount_root(&child) {
        // A bind-mounted file.
        return Err(Errno::EBUSY);
    }
    let n = p.dir.mount.notify();
    let last = n.watching() && last_link(&child);
    p.dir.inode.unlink(&name)?;
    // Linux's order: the link count, the file's end, then its directory.
    n.self_event(&child.inode, libc::IN_ATTRIB);
    n.removed(&child.inode, &p.dir, &name);
    if last {
        n.unlinked(&child.inode);
    }
    n.entry_event(&p.dir, &name, libc::IN_DELETE, false, 0);
    Ok(())
}

/// rmdir(2) and unlinkat(2) with AT_REMOVEDIR.
pub fn rmdirat(ctx: &Ctx<'_>, start: Arc<Dentry>, path: &[u8]) -> Result<(), Errno> {
    let p = walk_parent(ctx, start, path)?;
    let name = match p.last {
        Last::Name(n) => n,
        Last::Dot => return Err(Errno::EINVAL),
        Last::DotDot => return Err(Errno::ENOTEMPTY),
        Last::Root => return Err(Errno::EBUSY),
    };
    p.dir.mount.want_write()?;
    let child = lookup_child(ctx, &p.dir, &name)?;
    if !child.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    may_modify_dir(ctx, &p.dir)?;
    check_sticky(ctx, &p.dir, &child)?;
    if ctx.vfs.is_mount_root(&child) || child.same(&ctx.root) {
        return Err(Errno::EBUSY);
    }
    p.dir.inode.rmdir(&name)?;
    let n = p.dir.mount.notify();
    n.removed(&child.inode, &p.dir, &name);
    n.unlinked(&child.inode);
    n.entry_event(&p.dir, &name, libc::IN_DELETE, true, 0);
    Ok(())
}

/// rename(2), renameat(2), renameat2(2) with RENAME_NOREPLACE.
pub fn renameat(
    ctx: &Ctx<'_>,
    old_start: Arc<Dentry>,
    old_path: &[u8],
    new_start: Arc<Dentry>,
    new_path: &[u8],
    flags: u32,
) -> Result<(), Errno> {
    let known = libc::RENAME_NOREPLACE | libc::RENAME_EXCHANGE | libc::RENAME_WHITEOUT;
    if flags & !known != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & libc::RENAME_EXCHANGE != 0
        && flags & (libc::RENAME_NOREPLACE | libc::RENAME_WHITEOUT) != 0
    {
        return Err(Errno::EINVAL);
    }
    if flags & libc::RENAME_WHITEOUT != 0 {
        // Not yet: only overlayfs itself makes whiteouts.
        return Err(Errno::EINVAL);
    }
    let exchange = flags & libc::RENAME_EXCHANGE != 0;
    let op = walk_parent(ctx, old_start, old_path)?;
    let np = walk_parent(ctx, new_start, new_path)?;
    if op.dir.mount.id != np.dir.mount.id {
        return Err(Errno::EXDEV);
    }
    let old_name = match op.last {
        Last::Name(n) => n,
        _ => return Err(Errno::EBUSY),
    };
    let new_name = match np.last {
        Last::Name(n) => n,
        _ if flags & libc::RENAME_NOREPLACE != 0 => return Err(Errno::EEXIST),
        _ => return Err(Errno::EBUSY),
    };
    op.dir.mount.want_write()?;
    let src = lookup_child(ctx, &op.dir, &old_name)?;
    if (op.trailing_slash || np.trailing_slash) && !src.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    // Linux's order: a source that is an ancestor of the target's
    // directory is EINVAL before the target is looked at or any
    // permission checked (lock_rename's trap).
    if !exchange && src.is_dir() && np.dir.is_within(&src) {
        return Err(Errno::EINVAL);
    }
    may_modify_dir(ctx, &op.dir)?;
    may_modify_dir(ctx, &np.dir)?;
    check_sticky(ctx, &op.dir, &src)?;
    if ctx.vfs.is_mount_root(&src) {
        return Err(Errno::EBUSY);
    }
    if exchange {
        let dst = lookup_child(ctx, &np.dir, &new_name)?;
        if dst.same(&src) {
            return Ok(());
        }
        if ctx.vfs.is_mount_root(&dst) {
            return Err(Errno::EBUSY);
        }
        check_sticky(ctx, &np.dir, &dst)?;
        if (src.is_dir() && np.dir.is_within(&src)) || (dst.is_dir() && op.dir.is_within(&dst)) {
            return Err(Errno::EINVAL);
        }
        op.dir
            .inode
            .rename(&old_name, &np.dir.inode, &new_name, flags)?;
        // Both directories are of one filesystem, so of one VFS.
        let n = op.dir.mount.notify();
        let cookie = n.next_cookie();
        let (sd, dd) = (src.is_dir(), dst.is_dir());
        n.entry_event(&op.dir, &old_name, libc::IN_MOVED_FROM, sd, cookie);
        n.entry_event(&np.dir, &new_name, libc::IN_MOVED_TO, sd, cookie);
        n.self_event(&src.inode, libc::IN_MOVE_SELF);
        n.moved(&src.inode, &op.dir, &old_name, &np.dir, &new_name);
        let cookie = n.next_cookie();
        n.entry_event(&np.dir, &new_name, libc::IN_MOVED_FROM, dd, cookie);
        n.entry_event(&op.dir, &old_name, libc::IN_MOVED_TO, dd, cookie);
        n.self_event(&dst.inode, libc::IN_MOVE_SELF);
        n.moved(&dst.inode, &np.dir, &new_name, &op.dir, &old_name);
        return Ok(());
    }
    let mut replaced = None;
    match lookup_child(ctx, &np.dir, &new_name) {
        Ok(dst) => {
            if flags & libc::RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            if dst.same(&src) {
                // Two names of one file: rename does nothing.
                return Ok(());
            }
            // A target that is an ancestor of the source.
            if dst.is_dir() && op.dir.is_within(&dst) {
                return Err(Errno::ENOTEMPTY);
            }
            if ctx.vfs.is_mount_root(&dst) {
                return Err(Errno::EBUSY);
            }
            check_sticky(ctx, &np.dir, &dst)?;
            match (src.is_dir(), dst.is_dir()) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                _ => {}
            }
            replaced = Some(dst);
        }
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let n = op.dir.mount.notify();
    let last = replaced
        .as_ref()
        .is_some_and(|d| n.watching() && (d.is_dir() || last_link(d)));
    op.dir
        .inode
        .rename(&old_name, &np.dir.inode, &new_name, flags)?;
    let cookie = n.next_cookie();
    let is_dir = src.is_dir();
    n.entry_event(&op.dir, &old_name, libc::IN_MOVED_FROM, is_dir, cookie);
    n.entry_event(&np.dir, &new_name, libc::IN_MOVED_TO, is_dir, cookie);
    // Linux's order: the replaced file's link count, the move, and the
    // replaced file's end once the rename lets go of it.
    if let Some(d) = &replaced {
        n.self_event(&d.inode, libc::IN_ATTRIB);
        n.removed(&d.inode, &np.dir, &new_name);
    }
    n.self_event(&src.inode, libc::IN_MOVE_SELF);
    n.moved(&src.inode, &op.dir, &old_name, &np.dir, &new_name);
    if let (Some(d), true) = (&replaced, last) {
        n.unlinked(&d.inode);
    }
    Ok(())
}

/// symlink(2): makes `path` a symlink holding `target`.
pub fn symlinkat(
    ctx: &Ctx<'_>,
    target: &[u8],
    start: Arc<Dentry>,
    path: &[u8],
) -> Result<(), Errno> {
    if target.is_empty() {
        return Err(Errno::ENOENT);
    }
    if target.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let (p, name) = walk_new_name(ctx, start, path)?;
    if p.trailing_slash {
        return Err(Errno::ENOENT);
    }
    p.dir.mount.want_write()?;
    may_modify_dir(ctx, &p.dir)?;
    let owner = ctx.owner_in(&p.dir);
    p.dir.inode.symlink(&name, target, owner)?;
    p.dir
        .mount
        .notify()
        .entry_event(&p.dir, &name, libc::IN_CREATE, false, 0);
    Ok(())
}

/// link(2): makes `new_path` another name of `src`.
pub fn linkat(
    ctx: &Ctx<'_>,
    src: &Arc<Dentry>,
    new_start: Arc<Dentry>,
    new_path: &[u8],
) -> Result<(), Errno> {
    if src.is_dir() {
        return Err(Errno::EPERM);
    }
    let (p, name) = walk_new_name(ctx, new_start, new_path)?;
    if p.trailing_slash {
        return Err(Errno::ENOENT);
    }
    p.dir.mount.want_write()?;
    if p.dir.mount.id != src.mount.id {
        return Err(Errno::EXDEV);
    }
    may_link(ctx, src)?;
    may_modify_dir(ctx, &p.dir)?;
    p.dir.inode.link(&name, &src.inode)?;
    let n = p.dir.mount.notify();
    n.self_event(&src.inode, libc::IN_ATTRIB);
    n.entry_event(&p.dir, &name, libc::IN_CREATE, false, 0);
    Ok(())
}

/// Whether removing the name of `d` removes the file's last link (taken
/// before the removal: some filesystems keep no count for a file without
/// a name).
fn last_link(d: &Dentry) -> bool {
    d.is_dir() || d.inode.stat().map_or(true, |st| st.st_nlink <= 1)
}

/// Linux's protected_hardlinks (on by default): who neither owns a file
/// nor may read and write it cannot link it, nor a set-id or special
/// file it does not own (EPERM).
fn may_link(ctx: &Ctx<'_>, src: &Dentry) -> Result<(), Errno> {
    let st = src.inode.stat()?;
    if ctx.cred.owns(&st) {
        return Ok(());
    }
    let setid = st.st_mode & libc::S_ISUID != 0
        || st.st_mode & (libc::S_ISGID | libc::S_IXGRP) == (libc::S_ISGID | libc::S_IXGRP);
    if is_reg(st.st_mode) && !setid && ctx.cred.may_stat(&st, MAY_READ | MAY_WRITE).is_ok() {
        return Ok(());
    }
    Err(Errno::EPERM)
}

/// readlink(2) of a resolved file.
pub fn readlink(ctx: &Ctx<'_>, d: &Dentry) -> Result<Vec<u8>, Errno> {
    if !is_symlink(d.mode()) {
        return Err(Errno::EINVAL);
    }
    d.inode.readlink_by(ctx)
}

/// access(2): `mode` is F_OK or R_OK|W_OK|X_OK.
pub fn access(cred: &Cred, st: &libc::stat, mode: i32) -> Result<(), Errno> {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    if mode == libc::F_OK {
        return Ok(());
    }
    let mut want = 0;
    if mode & libc::R_OK != 0 {
        want |= MAY_READ;
    }
    if mode & libc::W_OK != 0 {
        want |= MAY_WRITE;
    }
    if mode & libc::X_OK != 0 {
        want |= MAY_EXEC;
    }
    cred.may_stat(st, want)
}

/// chmod(2) of a resolved file.
pub fn chmod(cred: &Cred, d: &Dentry, mode: u32) -> Result<(), Errno> {
    d.mount.want_write()?;
    let st = d.inode.stat()?;
    if !cred.owns(&st) {
        return Err(Errno::EPERM);
    }
    let mut mode = mode & 0o7777;
    if !cred.capable(CAP_FSETID) && !cred.in_group(st.st_gid) {
        mode &= !libc::S_ISGID;
    }
    d.inode.setattr(&SetAttr {
        mode: Some(mode),
        ..SetAttr::default()
    })?;
    d.mount.notify().file_event(d, libc::IN_ATTRIB);
    Ok(())
}

/// chown(2) of a resolved file; `None` keeps an id (the application's -1).
pub fn chown(cred: &Cred, d: &Dentry, uid: Option<u32>, gid: Option<u32>) -> Result<(), Errno> {
    d.mount.want_write()?;
    let st = d.inode.stat()?;
    if !cred.capable(CAP_CHOWN) {
        // Only CAP_CHOWN gives files away; an owner may "change" the owner to
        // itself and the group to one of its own (Linux's chown_ok and
        // chgrp_ok: asking for the ids a file has is a change too).
        let owner = cred.uid == st.st_uid;
        if uid.is_some_and(|u| !owner || u != st.st_uid) {
            return Err(Errno::EPERM);
        }
        if gid.is_some_and(|g| !owner || (g != st.st_gid && !cred.in_group(g))) {
            return Err(Errno::EPERM);
        }
    }
    let uid = uid.filter(|&u| u != st.st_uid);
    let gid = gid.filter(|&g| g != st.st_gid);
    if uid.is_none() && gid.is_none() {
        return Ok(());
    }
    // A changed owner drops set-id bits of files, as Linux does.
    let mut mode = None;
    if !is_dir(st.st_mode) && st.st_mode & (libc::S_ISUID | libc::S_ISGID) != 0 {
        let mut m = st.st_mode & 0o7777 & !libc::S_ISUID;
        if st.st_mode & libc::S_IXGRP != 0 {
            m &= !libc::S_ISGID;
        }
        mode = Some(m);
    }
    d.inode.setattr(&SetAttr {
        uid,
        gid,
        mode,
        ..SetAttr::default()
    })?;
    d.mount.notify().file_event(d, libc::IN_ATTRIB);
    Ok(())
}

/// truncate(2) of a resolved file.
pub fn truncate(cred: &Cred, d: &Dentry, len: i64) -> Result<(), Errno> {
    let len = u64::try_from(len).map_err(|_| Errno::EINVAL)?;
    let mode = d.mode();
    if is_dir(mode) {
        return Err(Errno::EISDIR);
    }
    if !is_reg(mode) {
        return Err(Errno::EINVAL);
    }
    d.mount.want_write()?;
    cred.may_stat(&d.inode.stat()?, MAY_WRITE)?;
    d.inode.setattr(&SetAttr {
        size: Some(len),
        ..SetAttr::default()
    })?;
    d.mount.notify().file_event(d, libc::IN_MODIFY);
    Ok(())
}

/// utimensat(2) of a resolved file: `None` leaves a time, `Some(None)`
/// sets it to now.
pub fn utimes(
    cred: &Cred,
    d: &Dentry,
    atime: Option<Option<Time>>,
    mtime: Option<Option<Time>>,
) -> Result<(), Errno> {
    d.mount.want_write()?;
    let st = d.inode.stat()?;
    let explicit = matches!(atime, Some(Some(_))) || matches!(mtime, Some(Some(_)));
    if explicit {
        if !cred.owns(&st) {
            return Err(Errno::EPERM);
        }
    } else if !cred.owns(&st) {
        cred.may_stat(&st, MAY_WRITE)?;
    }
    let now = Time::now();
    d.inode.setattr(&SetAttr {
        atime: atime.map(|t| t.unwrap_or(now)),
        mtime: mtime.map(|t| t.unwrap_or(now)),
        ..SetAttr::default()
    })?;
    d.mount.notify().file_event(d, libc::IN_ATTRIB);
    Ok(())
}

// ---- glue to a task ----

/// Where a relative `path` of an *at() call starts: the cwd for AT_FDCWD,
/// else the directory `dirfd` names. Absolute paths ignore `dirfd`.
pub fn start_dir(t: &dyn Caller, dirfd: i32, path: &[u8]) -> Result<Arc<Dentry>, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(t.fs().root());
    }
    if dirfd == libc::AT_FDCWD {
        return Ok(t.fs().cwd());
    }
    let f = t.fds().get(dirfd)?;
    match f.dentry() {
        Some(d) if d.is_dir() => Ok(d.clone()),
        _ => Err(Errno::ENOTDIR),
    }
}

/// What an *at() call with AT_EMPTY_PATH may name: a file without a
/// dentry (a pipe) or a dentry.
pub enum AtTarget {
    File(Arc<File>),
    Dentry(Arc<Dentry>),
}

impl AtTarget {
    pub fn stat(&self) -> Result<libc::stat, Errno> {
        match self {
            AtTarget::File(f) => f.stat(),
            AtTarget::Dentry(d) => d.stat(),
        }
    }

    pub fn dentry(&self) -> Option<&Arc<Dentry>> {
        match self {
            AtTarget::File(f) => f.dentry(),
            AtTarget::Dentry(d) => Some(d),
        }
    }
}

/// Resolves (`dirfd`, `path`) as the *at() calls do: an empty path is
/// ENOENT unless `empty_ok` (AT_EMPTY_PATH), when it names `dirfd` itself.
pub fn resolve_at(
    t: &dyn Caller,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty_ok: bool,
) -> Result<AtTarget, Errno> {
    if path.is_empty() {
        if !empty_ok {
            return Err(Errno::ENOENT);
        }
        if dirfd == libc::AT_FDCWD {
            return Ok(AtTarget::Dentry(t.fs().cwd()));
        }
        let f = t.fds().get(dirfd)?;
        return Ok(match f.dentry() {
            Some(d) => AtTarget::Dentry(d.clone()),
            None => AtTarget::File(f),
        });
    }
    let start = start_dir(t, dirfd, path)?;
    let ctx = Ctx::of(t);
    walk_target(&ctx, start, path, follow)
}

/// Resolves (`dirfd`, `path`) to a dentry (ENOENT for an empty path
/// unless `empty_ok`; EBADF-like errors for fds without one).
pub fn dentry_at(
    t: &dyn Caller,
    dirfd: i32,
    path: &[u8],
    follow: bool,
    empty_ok: bool,
) -> Result<Arc<Dentry>, Errno> {
    match resolve_at(t, dirfd, path, follow, empty_ok)? {
        AtTarget::Dentry(d) => Ok(d),
        AtTarget::File(_) => Err(Errno::EINVAL),
    }
}

/// openat(2) for the loader and the syscall: AT_FDCWD, the task's umask
/// and credentials.
pub fn open(
    t: &dyn Caller,
    dirfd: i32,
    path: &[u8],
    flags: i32,
    mode: u32,
) -> Result<Arc<File>, Errno> {
    let start = start_dir(t, dirfd, path)?;
    let ctx = Ctx::of(t);
    open_at(&ctx, start, path, flags, mode)
}

/// execve's check on the file to run: a regular file with execute
/// permission for the task (EACCES otherwise, directories included).
pub fn check_exec(t: &dyn Caller, f: &File) -> Result<(), Errno> {
    let d = f.dentry().ok_or(Errno::EACCES)?;
    let st = d.stat()?;
    if !is_reg(st.st_mode) || d.mount.noexec() {
        return Err(Errno::EACCES);
    }
    t.fs_cred().may_stat(&st, MAY_EXEC)?;
    let n = d.mount.notify();
    n.permission(t, d, libc::FAN_OPEN_EXEC_PERM)?;
    n.path_event(d, libc::FAN_OPEN_EXEC as u32);
    Ok(())
}
