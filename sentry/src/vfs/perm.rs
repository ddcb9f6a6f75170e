//! Permission checks with a task's filesystem credentials.

use crate::errno::Errno;

/// The credentials a filesystem access is checked with (the fs uid/gid,
/// which are the effective ones; access(2) passes the real ones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cred {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

/// Bits of `want` for [`Cred::may`].
pub const MAY_READ: u32 = 4;
pub const MAY_WRITE: u32 = 2;
pub const MAY_EXEC: u32 = 1;

impl Cred {
    pub fn root() -> Cred {
        Cred::default()
    }

    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.contains(&gid)
    }

    /// Whether a file of `mode`, owned by `uid`:`gid`, grants `want`
    /// (MAY_* bits). Root passes read and write checks, and exec checks
    /// when any x bit is set or the file is a directory, as Linux's
    /// CAP_DAC_OVERRIDE does.
    pub fn may(&self, mode: u32, uid: u32, gid: u32, want: u32) -> Result<(), Errno> {
        if self.is_root() {
            let exec_ok = want & MAY_EXEC == 0 || super::is_dir(mode) || mode & 0o111 != 0;
            return if exec_ok { Ok(()) } else { Err(Errno::EACCES) };
        }
        let bits = if self.uid == uid {
            (mode >> 6) & 7
        } else if self.in_group(gid) {
            (mode >> 3) & 7
        } else {
            mode & 7
        };
        if bits & want == want {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    /// [`Cred::may`] against a stat result.
    pub fn may_stat(&self, st: &libc::stat, want: u32) -> Result<(), Errno> {
        self.may(st.st_mode, st.st_uid, st.st_gid, want)
    }

    /// Whether this caller owns the file or is root (chmod, utimes).
    pub fn owns(&self, st: &libc::stat) -> bool {
        self.is_root() || self.uid == st.st_uid
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
    fn owner_group_and_other_bits_are_checked_in_that_order() {
        let c = Cred {
            uid: 5,
            gid: 6,
            groups: vec![7],
        };
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
