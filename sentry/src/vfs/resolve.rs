//! openat2's RESOLVE_* restrictions on a walk (Linux's LOOKUP_NO_XDEV,
//! LOOKUP_NO_MAGICLINKS, LOOKUP_NO_SYMLINKS, LOOKUP_BENEATH,
//! LOOKUP_IN_ROOT). The walk in `ops` asks these checks at each step that
//! may leave the allowed tree, so a restricted lookup is the same walk as
//! any other, never a second one.
//!
//! The scoped modes (BENEATH, IN_ROOT) run with the walk's root set to the
//! starting directory ([`super::Ctx::root`]): `..` there is refused
//! (BENEATH) or stays put (IN_ROOT, as `..` at `/` does), and an absolute
//! path or symlink is refused (BENEATH) or starts over from it (IN_ROOT).

use crate::errno::Errno;

/// The resolve flags of one lookup; the default restricts nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resolve(u64);

/// Every flag openat2 knows.
pub const KNOWN: u64 = libc::RESOLVE_NO_XDEV
    | libc::RESOLVE_NO_MAGICLINKS
    | libc::RESOLVE_NO_SYMLINKS
    | libc::RESOLVE_BENEATH
    | libc::RESOLVE_IN_ROOT
    | libc::RESOLVE_CACHED;

impl Resolve {
    /// Checks `bits` as openat2 does: unknown bits, or both scoping modes
    /// at once, are EINVAL.
    pub fn new(bits: u64) -> Result<Resolve, Errno> {
        if bits & !KNOWN != 0 {
            return Err(Errno::EINVAL);
        }
        let scoped = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
        if bits & scoped == scoped {
            return Err(Errno::EINVAL);
        }
        Ok(Resolve(bits))
    }

    fn has(self, flag: u64) -> bool {
        self.0 & flag != 0
    }

    /// The walk's root is its starting directory.
    pub fn scoped(self) -> bool {
        self.has(libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT)
    }

    /// RESOLVE_CACHED: the lookup may not wait for I/O.
    pub fn cached(self) -> bool {
        self.has(libc::RESOLVE_CACHED)
    }

    /// Before following a symlink; `magic` for a /proc-style link to an
    /// open file, which jumps rather than being read as a path.
    pub fn follow(self, magic: bool) -> Result<(), Errno> {
        if self.has(libc::RESOLVE_NO_SYMLINKS) {
            return Err(Errno::ELOOP);
        }
        if magic {
            if self.has(libc::RESOLVE_NO_MAGICLINKS) {
                return Err(Errno::ELOOP);
            }
            // Linux cannot keep a magic link's jump inside a scope.
            if self.scoped() {
                return Err(Errno::EXDEV);
            }
        }
        Ok(())
    }

    /// Before a jump to the root: an absolute path or symlink.
    pub fn absolute(self) -> Result<(), Errno> {
        if self.has(libc::RESOLVE_BENEATH) {
            return Err(Errno::EXDEV);
        }
        Ok(())
    }

    /// Before `..` from the walk's root: BENEATH refuses to climb out.
    pub fn dotdot_at_root(self) -> Result<(), Errno> {
        self.absolute()
    }

    /// After a step from mount `from` to mount `to`.
    pub fn crossed(self, from: u64, to: u64) -> Result<(), Errno> {
        if from != to && self.has(libc::RESOLVE_NO_XDEV) {
            return Err(Errno::EXDEV);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_contradictory_flags_are_einval() {
        assert_eq!(Resolve::new(0x40), Err(Errno::EINVAL));
        let both = libc::RESOLVE_BENEATH | libc::RESOLVE_IN_ROOT;
        assert_eq!(Resolve::new(both), Err(Errno::EINVAL));
        assert!(Resolve::new(KNOWN & !libc::RESOLVE_IN_ROOT).is_ok());
    }

    #[test]
    fn magic_links_are_eloop_before_exdev() {
        let r = Resolve::new(libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_BENEATH).unwrap();
        assert_eq!(r.follow(true), Err(Errno::ELOOP));
        assert_eq!(r.follow(false), Ok(()));
        let r = Resolve::new(libc::RESOLVE_IN_ROOT).unwrap();
        assert_eq!(r.follow(true), Err(Errno::EXDEV));
        assert_eq!(r.absolute(), Ok(()));
    }

    #[test]
    fn only_no_xdev_refuses_a_mount_crossing() {
        assert_eq!(Resolve::default().crossed(1, 2), Ok(()));
        let r = Resolve::new(libc::RESOLVE_NO_XDEV).unwrap();
        assert_eq!(r.crossed(1, 2), Err(Errno::EXDEV));
        assert_eq!(r.crossed(2, 2), Ok(()));
    }
}
