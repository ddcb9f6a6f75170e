//! Treaddirplus: a directory listed with every entry's attributes, in
//! as few replies as its size allows.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};

use gofer_protocol::{dirents, wire};

use super::frames::MAX_MSIZE;
use super::host::{attr_of, beneath_path, last_errno, openat2, readlink_at, stat_at};
use super::xattr;

/// Treaddirplus: the entries of the directory at the request's names
/// (resolved as Topenfd resolves them) from the request's offset, each
/// with its attributes (`fstatat`, not followed) and a symlink's target,
/// as many as fit the request's count (bounded by our own msize); and the
/// offset the listing goes on from, 0 once it ended. An entry removed
/// between listing and stat is left out; any other failure fails the
/// whole request (the client then lists the old way).
pub(super) fn readdir_plus(
    root: &OwnedFd,
    offset: u64,
    count: u32,
    names: &[&[u8]],
) -> Result<(u64, Vec<u8>), i32> {
    // Room for the reply's header, `next[8]` and `count[4]`.
    let budget = (count.min(MAX_MSIZE) as usize).saturating_sub(wire::HEADER_LEN + 12);
    let path = beneath_path(names)?;
    let dir = openat2(
        root,
        &path,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_NONBLOCK,
    )?;
    if offset != 0 {
        let at = i64::try_from(offset).map_err(|_| libc::EINVAL)?;
        // SAFETY: lseek on a descriptor we own; no memory is involved.
        if unsafe { libc::lseek(dir.as_raw_fd(), at, libc::SEEK_SET) } < 0 {
            return Err(last_errno());
        }
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut data = Vec::new();
    let mut entry = Vec::new();
    // The directory position before the record at hand: the `d_off` of
    // the record before it.
    let mut next_at = offset;
    loop {
        let n = dirents::getdents64(&dir, &mut buf)?;
        if n == 0 {
            return Ok((0, data));
        }
        for rec in dirents::records(&buf[..n]) {
            let rec = rec?;
            let before = next_at;
            next_at = rec.off;
            let name = rec.name;
            if name == b"." || name == b".." {
                continue;
            }
            let cname = CString::new(name).map_err(|_| libc::EIO)?;
            let st = match stat_at(&dir, &cname) {
                Ok(st) => st,
                Err(libc::ENOENT) => continue,
                Err(e) => return Err(e),
            };
            let target = if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                readlink_at(&dir, &cname)?
            } else {
                Vec::new()
            };
            let xattrs = xattr::names_for_listing(&dir, &cname);
            entry.clear();
            let e = wire::DirplusEntry {
                name,
                attr: attr_of(&st),
                target: &target,
                xattrs: xattrs.as_deref(),
            };
            wire::encode_dirplus(&e, &mut entry)?;
            if data.len() + entry.len() > budget {
                // The next call starts at this entry; a position of 0 would
                // read as "ended", and an entry that fits no reply at all
                // cannot be listed this way.
                return if data.is_empty() || before == 0 {
                    Err(libc::EINVAL)
                } else {
                    Ok((before, data))
                };
            }
            data.extend_from_slice(&entry);
        }
    }
}
