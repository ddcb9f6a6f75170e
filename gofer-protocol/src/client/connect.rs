//! Tconnectat: a host Unix socket in the served tree, connected by the
//! server and passed back (the Sentry never names a host path itself).

use std::os::fd::{AsRawFd, OwnedFd};

use super::by_path::check_fd;
use super::{Client, TAG};
use crate::wire::{self, Rmessage, Tmessage};

/// `getsockopt(fd, SOL_SOCKET, opt)` as an int.
fn socket_int(fd: &OwnedFd, opt: i32) -> Result<i32, i32> {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `v` and `len` are live and describe each other.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&mut v as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(libc::EIO);
    }
    Ok(v)
}

impl Client {
    /// A new host socket of type `kind` (SOCK_STREAM, SOCK_SEQPACKET,
    /// SOCK_DGRAM) connected to the socket file at `names` below the
    /// served root (Tconnectat); errors are connect(2)'s (ECONNREFUSED,
    /// EACCES ...), or EPERM where the server's policy keeps host sockets
    /// out of reach.
    ///
    /// The descriptor must be an AF_UNIX socket of the type asked for:
    /// anything else is `EIO`, since the caller drives it as one.
    pub fn connect_at(&self, names: &[&[u8]], kind: i32) -> Result<OwnedFd, i32> {
        if names.len() > wire::MAX_OPENFD_NAMES {
            return Err(libc::ENAMETOOLONG);
        }
        let msg = Tmessage::Connectat {
            kind: u32::try_from(kind).map_err(|_| libc::EINVAL)?,
            names: names.to_vec(),
        };
        let (_, fd) = {
            let mut conn = self.path_conn();
            conn.call_fd(TAG, &msg, self.msize, |r| {
                matches!(r, Rmessage::Connectat).then_some(())
            })?
        };
        let fd = fd.ok_or(libc::EIO)?;
        check_fd(&fd, libc::S_IFSOCK)?;
        let domain = socket_int(&fd, libc::SO_DOMAIN)?;
        let ty = socket_int(&fd, libc::SO_TYPE)?;
        if domain != libc::AF_UNIX || ty != kind {
            tracing::warn!(domain, ty, "the gofer passed a socket of the wrong kind");
            return Err(libc::EIO);
        }
        Ok(fd)
    }
}
