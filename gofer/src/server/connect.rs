//! Tconnectat: connecting to a host Unix socket in the served tree on
//! the Sentry's behalf and donating the connected descriptor (gVisor's
//! `--host-uds=open`). Whether any socket may be reached is the server's
//! policy ([`HostUds`]): a host socket can be root on the host (Docker's),
//! so none is by default.

use std::cell::Cell;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::host::{check, last_errno, parent_of, stat_at};

/// Which host sockets of the served tree the client may connect to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum HostUds {
    /// None (connect(2) sees no listener: ECONNREFUSED).
    #[default]
    None,
    /// Any socket file of the tree.
    Open,
    /// Only the socket files at these paths (names from the served
    /// root): the sockets an OCI spec binds in explicitly. A bind's
    /// destination is a mount point, which can be neither removed nor
    /// renamed over, so the name keeps leading to the bound socket.
    Only(Vec<Vec<Vec<u8>>>),
}

impl HostUds {
    fn allows(&self, names: &[&[u8]]) -> bool {
        match self {
            HostUds::None => false,
            HostUds::Open => true,
            HostUds::Only(paths) => paths
                .iter()
                .any(|p| p.iter().map(Vec::as_slice).eq(names.iter().copied())),
        }
    }
}

thread_local! {
    /// This thread has a working directory of its own (unshare(CLONE_FS)),
    /// so moving it does not move the other serving threads'.
    static OWN_CWD: Cell<bool> = const { Cell::new(false) };
}

/// Tconnectat: a new AF_UNIX socket of type `kind`, connected to the
/// socket file at `names` below `root`.
///
/// The parent directory is resolved as every path-based request resolves
/// it (`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`); the connect
/// names only the last component, relative to this thread's working
/// directory moved there (`fchdir`), so neither the 108-byte `sun_path`
/// limit nor a symlink on the way matters. The socket is non-blocking:
/// a listener with a full backlog is EAGAIN, never a Gofer thread stuck
/// in connect(2).
pub(super) fn connect_at(
    root: &OwnedFd,
    policy: &HostUds,
    kind: u32,
    names: &[&[u8]],
) -> Result<OwnedFd, i32> {
    let kind = i32::try_from(kind).map_err(|_| libc::EINVAL)?;
    if !matches!(
        kind,
        libc::SOCK_STREAM | libc::SOCK_SEQPACKET | libc::SOCK_DGRAM
    ) {
        return Err(libc::EINVAL);
    }
    let (dir, name) = parent_of(root, names)?;
    let first = stat_at(&dir, &name)?;
    if first.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(libc::ECONNREFUSED);
    }
    if !policy.allows(names) {
        // As if nothing listened: the sandbox's own sockets are all it
        // may reach.
        return Err(libc::ECONNREFUSED);
    }
    let addr = sockaddr_of(&name)?;
    // SAFETY: creates a descriptor; checked before it is owned.
    let raw = unsafe {
        libc::socket(
            libc::AF_UNIX,
            kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    check(raw)?;
    // SAFETY: socket just returned this descriptor; nobody else owns it.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    own_cwd()?;
    // SAFETY: plain descriptor argument.
    check(unsafe { libc::fchdir(dir.as_raw_fd()) })?;
    // SAFETY: `addr` is a live sockaddr_un of the size passed.
    let r = unsafe {
        libc::connect(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_un).cast(),
            std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(last_errno());
    }
    // A name swapped between the check and the connect (by the host, or
    // by the sandbox through a writable tree) is refused after the fact.
    let now = stat_at(&dir, &name)?;
    if (now.st_dev, now.st_ino) != (first.st_dev, first.st_ino) {
        return Err(libc::ECONNREFUSED);
    }
    Ok(sock)
}

/// `name` (one component) as a sockaddr_un; EINVAL if it does not fit
/// `sun_path` with its NUL, as gVisor answers a host path too long.
fn sockaddr_of(name: &CStr) -> Result<libc::sockaddr_un, i32> {
    // SAFETY: sockaddr_un is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = name.to_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(libc::EINVAL);
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(addr)
}

/// Gives this thread its own working directory, once.
fn own_cwd() -> Result<(), i32> {
    if OWN_CWD.get() {
        return Ok(());
    }
    // SAFETY: unshare with CLONE_FS only copies this thread's root, cwd
    // and umask; no memory is involved.
    check(unsafe { libc::unshare(libc::CLONE_FS) })?;
    OWN_CWD.set(true);
    Ok(())
}
