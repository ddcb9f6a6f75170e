//! Permission checks with a task's filesystem credentials: the mode bits,
//! then the capabilities that override them, as Linux's
//! `generic_permission` and `inode_owner_or_capable`.

use crate::caps::{CapSet, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER};
use crate::errno::Errno;

/// The credentials a filesystem access is checked with: the fs uid/gid
/// and the effective capabilities (access(2) passes the real ids, with
/// the capabilities Linux gives them there).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub caps: CapSet,
}

/// Bits of `want` for [`Cred::may`].
pub const MAY_READ: u32 = 4;
pub const MAY_WRITE: u32 = 2;
pub const MAY_EXEC: u32 = 1;

impl Cred {
    /// uid 0 with every capability: the Sentry's own work (boot mounts).
    pub fn root() -> Cred {
        Cred {
            caps: CapSet::FULL,
            ..Cred::default()
        }
    }

    /// An ordinary user: no capabilities.
    pub fn user(uid: u32, gid: u32, groups: Vec<u32>) -> Cred {
        Cred {
            uid,
            gid,
            groups,
            caps: CapSet::EMPTY,
        }
    }

    /// Whether the caller holds capability `cap` (a `crate::caps::CAP_*`).
    pub fn capable(&self, cap: u32) -> bool {
        self.caps.has(cap)
    }

    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether a file of `mode`, owned by `uid`:`gid`, grants `want`
    /// (MAY_* bits): the owner's, group's or others' bits, else
    /// CAP_DAC_READ_SEARCH for reading a file or reading and searching a
    /// directory, else CAP_DAC_OVERRIDE for everything but executing a
    /// file with no x bit.
    pub fn may(&self, mode: u32, uid: u32, gid: u32, want: u32) -> Result<(), Errno> {
        let bits = if self.uid == uid {
            (mode >> 6) & 7
        } else if self.in_group(gid) {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        if bits & want == want {
            return Ok(());
        }
        let overridden = if super::is_dir(mode) {
            (want & MAY_WRITE == 0 && self.capable(CAP_DAC_READ_SEARCH))
                || self.capable(CAP_DAC_OVERRIDE)
        } else {
            (want == MAY_READ && self.capable(CAP_DAC_READ_SEARCH))
                || ((want & MAY_EXEC == 0 || mode & 0o111 != 0) && self.capable(CAP_DAC_OVERRIDE))
        };
        if overridden {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// [`Cred::may`] against a stat result.
    pub fn may_stat(&self, st: &libc::stat, want: u32) -> Result<(), Errno> {
        self.may(st.st_mode, st.st_uid, st.st_gid, want)
    }

    /// Whether this caller owns the file or holds CAP_FOWNER (chmod,
    /// utimes, sticky directories).
    pub fn owns(&self, st: &libc::stat) -> bool {
        self.uid == st.st_uid || self.capable(CAP_FOWNER)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_needs_an_x_bit_to_exec_a_file() {
        let root = Cred::root();
        assert_eq!(
            root.may(libc::S_IFREG | 0o644, 1, 1, MAY_EXEC),
            Err(Errno::EACCES)
        );
        assert_eq!(root.may(libc::S_IFREG | 0o744, 1, 1, MAY_EXEC), Ok(()));
        assert_eq!(root.may(libc::S_IFDIR, 1, 1, MAY_EXEC), Ok(()));
        assert_eq!(root.may(libc::S_IFREG, 1, 1, MAY_READ | MAY_WRITE), Ok(()));
    }

    #[test]
    fn uid_0_without_dac_capabilities_is_an_ordinary_owner() {
        let mut c = Cred::root();
        c.caps = CapSet::FULL.without(CAP_DAC_OVERRIDE);
        assert_eq!(c.may(libc::S_IFREG, 1, 1, MAY_READ), Ok(()));
        assert_eq!(c.may(libc::S_IFREG, 1, 1, MAY_WRITE), Err(Errno::EACCES));
        assert_eq!(c.may(libc::S_IFDIR, 1, 1, MAY_EXEC), Ok(()));
        assert_eq!(
            c.may(libc::S_IFDIR, 1, 1, MAY_WRITE | MAY_EXEC),
            Err(Errno::EACCES)
        );
        c.caps = c.caps.without(CAP_DAC_READ_SEARCH);
        assert_eq!(c.may(libc::S_IFREG, 1, 1, MAY_READ), Err(Errno::EACCES));
        assert_eq!(c.may(libc::S_IFREG | 0o600, 0, 1, MAY_READ), Ok(()));
    }

    #[test]
    fn owner_group_and_other_bits_are_checked_in_that_order() {
        let c = Cred::user(5, 6, vec![7]);
        assert_eq!(
            c.may(libc::S_IFREG | 0o070, 5, 6, MAY_READ),
            Err(Errno::EACCES)
        );
        assert_eq!(c.may(libc::S_IFREG | 0o040, 1, 7, MAY_READ), Ok(()));
        assert_eq!(c.may(libc::S_IFREG | 0o004, 1, 1, MAY_READ), Ok(()));
        assert_eq!(
            c.may(libc::S_IFREG | 0o004, 1, 1, MAY_WRITE),
            Err(Errno::EACCES)
        );
    }
}
