//! Files outside any mounted filesystem (pipes, eventfd, epoll, inotify
//! ...): their inode numbers and attributes.

use crate::errno::Errno;

/// The attributes of an anonymous-inode file (eventfd, timerfd, epoll,
/// signalfd): only an inode number and owner-only permissions.
pub fn anon_stat(ino: u64) -> Result<libc::stat, Errno> {
    let mut s: libc::stat = crate::usermem::zeroed();
    s.st_ino = ino;
    s.st_mode = 0o600;
    s.st_nlink = 1;
    Ok(s)
}

/// Inode numbers for files outside any mounted filesystem (pipes).
pub fn anon_ino() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
