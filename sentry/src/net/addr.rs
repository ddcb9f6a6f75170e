//! Socket addresses as the application passes them (`struct sockaddr`
//! bytes) and as the Sentry hands them back.

use crate::errno::Errno;

/// Longest address the Sentry copies in (`struct sockaddr_storage`).
pub const MAX_ADDR_LEN: usize = 128;

/// `offsetof(struct sockaddr_un, sun_path)`.
pub const UNIX_PATH_OFFSET: usize = 2;
/// `sizeof(sun_path)`.
pub const UNIX_PATH_MAX: usize = 108;

/// The family of an address: its first two bytes (EINVAL when shorter).
pub fn family(addr: &[u8]) -> Result<i32, Errno> {
    match addr {
        [a, b, ..] => Ok(i32::from(u16::from_ne_bytes([*a, *b]))),
        _ => Err(Errno::EINVAL),
    }
}

/// An AF_UNIX name: a path, an abstract name (its bytes after the leading
/// NUL), or none (an unnamed socket).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixName {
    Path(Vec<u8>),
    Abstract(Vec<u8>),
    Unnamed,
}

impl UnixName {
    /// Parses a `sockaddr_un` of `len` bytes as bind(2) and connect(2)
    /// take it: a path ends at its first NUL; an abstract name is every
    /// byte after the leading NUL.
    pub fn parse(addr: &[u8]) -> Result<UnixName, Errno> {
        if addr.len() < UNIX_PATH_OFFSET || addr.len() > UNIX_PATH_OFFSET + UNIX_PATH_MAX {
            return Err(Errno::EINVAL);
        }
        if family(addr)? != libc::AF_UNIX {
            return Err(Errno::EINVAL);
        }
        let path = &addr[UNIX_PATH_OFFSET..];
        match path.first() {
            None => Ok(UnixName::Unnamed),
            Some(0) => Ok(UnixName::Abstract(path[1..].to_vec())),
            Some(_) => {
                let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                Ok(UnixName::Path(path[..end].to_vec()))
            }
        }
    }

    /// The `sockaddr_un` bytes getsockname(2) and accept(2) return: the
    /// family alone for an unnamed socket, a path with its NUL, an
    /// abstract name with its leading NUL and no trailing one.
    pub fn to_sockaddr(&self) -> Vec<u8> {
        let mut out = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        match self {
            UnixName::Path(p) => {
                out.extend_from_slice(p);
                out.push(0);
            }
            UnixName::Abstract(a) => {
                out.push(0);
                out.extend_from_slice(a);
            }
            UnixName::Unnamed => {}
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(path: &[u8]) -> Vec<u8> {
        let mut v = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(path);
        v
    }

    #[test]
    fn names_parse_as_linux_reads_sockaddr_un() {
        assert_eq!(
            UnixName::parse(&un(b"/tmp/s\0junk")),
            Ok(UnixName::Path(b"/tmp/s".to_vec()))
        );
        assert_eq!(
            UnixName::parse(&un(b"\0ab\0c")),
            Ok(UnixName::Abstract(b"ab\0c".to_vec()))
        );
        assert_eq!(UnixName::parse(&un(b"")), Ok(UnixName::Unnamed));
        assert_eq!(UnixName::parse(&[1]), Err(Errno::EINVAL));
        assert_eq!(UnixName::parse(&[2, 0, b'x']), Err(Errno::EINVAL));
        assert_eq!(UnixName::parse(&un(&[b'a'; 109])), Err(Errno::EINVAL));
        assert_eq!(UnixName::Path(b"/s".to_vec()).to_sockaddr(), un(b"/s\0"));
        assert_eq!(UnixName::Abstract(b"x".to_vec()).to_sockaddr(), un(b"\0x"));
    }
}
