//! Routing the path-based requests (which name files by their path below
//! the served root and need no fid) to their handlers, and their results
//! to replies. Both the first connection and the channels serve these.

use std::io;
use std::os::fd::OwnedFd;

use gofer_protocol::wire::{self, Rmessage, Tmessage};

use super::connect::{self, HostUds};
use super::frames::Out;
use super::request::Request;
use super::{change, open, readdir, xattr};

/// The types [`by_path`] answers (for a frame that does not decode: the
/// match below says it for those that do).
const BY_PATH: [u8; 14] = [
    wire::TOPENFD,
    wire::TLOOKUPFD,
    wire::TCREATEAT,
    wire::TLINKAT,
    wire::TREMOVEAT,
    wire::TRENAMEAT2,
    wire::TSETATTRAT,
    wire::TREADDIRPLUS,
    wire::TOPENFDS,
    wire::TGETXATTRAT,
    wire::TLISTXATTRAT,
    wire::TSETXATTRAT,
    wire::TREMOVEXATTRAT,
    wire::TCONNECTAT,
];

/// Answers `req` if it is one of the path-based requests, resolved below
/// `root`: `false` for any other (a malformed one is `EINVAL`). Host
/// sockets are reached as `host_uds` allows.
pub(super) fn by_path(
    root: &OwnedFd,
    host_uds: &HostUds,
    req: &Request<'_>,
    out: &mut Out<'_>,
) -> io::Result<bool> {
    let msg = match req {
        Request::Decoded(msg) => msg,
        Request::Undecoded(ty) if BY_PATH.contains(ty) => {
            return out.error(libc::EINVAL).map(|()| true);
        }
        Request::Undecoded(_) => return Ok(false),
    };
    let answered = match msg {
        Tmessage::Openfd { flags, names } => match open::open_fd(root, *flags, names) {
            Ok(fd) => out.reply_with_fds(&Rmessage::Openfd, std::slice::from_ref(&fd)),
            Err(e) => out.error(e),
        },
        Tmessage::Lookupfd { names } => match open::lookup_fd(root, names) {
            Ok((attr, target, fd)) => {
                let msg = Rmessage::Lookupfd {
                    fd: fd.is_some(),
                    attr: Box::new(attr),
                    target: &target,
                };
                out.reply_with_fds(&msg, fd.as_slice())
            }
            Err(e) => out.error(e),
        },
        Tmessage::Openfds { dir, names } => match open::open_fds(root, dir, names) {
            Ok((results, fds)) => out.reply_with_fds(&Rmessage::Openfds { results }, &fds),
            Err(e) => out.error(e),
        },
        Tmessage::Readdirplus {
            offset,
            count,
            names,
        } => match readdir::readdir_plus(root, *offset, *count, names) {
            Ok((next, data)) => out.reply(&Rmessage::Readdirplus { next, data: &data }),
            Err(e) => out.error(e),
        },
        Tmessage::Createat {
            mode,
            uid,
            gid,
            names,
            target,
            ..
        } => match change::create_at(root, *mode, *uid, *gid, names, target) {
            Ok((attr, fd)) => {
                let msg = Rmessage::Createat {
                    fd: fd.is_some(),
                    attr: Box::new(attr),
                };
                out.reply_with_fds(&msg, fd.as_slice())
            }
            Err(e) => out.error(e),
        },
        Tmessage::Linkat { old, new } => answer(
            out,
            change::link_at(root, old, new).map(|attr| Rmessage::Linkat {
                attr: Box::new(attr),
            }),
        ),
        Tmessage::Removeat { flags, names } => answer(
            out,
            change::remove_at(root, *flags, names).map(|()| Rmessage::Removeat),
        ),
        Tmessage::Renameat2 { flags, old, new } => answer(
            out,
            change::rename_at(root, *flags, old, new).map(|()| Rmessage::Renameat2),
        ),
        Tmessage::Setattrat { attr, names } => answer(
            out,
            change::set_attr_at(root, names, attr).map(|attr| Rmessage::Setattrat {
                attr: Box::new(attr),
            }),
        ),
        Tmessage::Getxattrat { size, names, name } => {
            match xattr::getxattr_at(root, names, name, *size) {
                Ok(value) => out.reply(&Rmessage::Getxattrat { value: &value }),
                Err(e) => out.error(e),
            }
        }
        Tmessage::Listxattrat { size, names } => match xattr::listxattr_at(root, names, *size) {
            Ok(list) => out.reply(&Rmessage::Listxattrat { list: &list }),
            Err(e) => out.error(e),
        },
        Tmessage::Setxattrat {
            flags,
            names,
            name,
            value,
        } => answer(
            out,
            xattr::setxattr_at(root, names, name, value, *flags).map(|()| Rmessage::Setxattrat),
        ),
        Tmessage::Removexattrat { names, name } => answer(
            out,
            xattr::removexattr_at(root, names, name).map(|()| Rmessage::Removexattrat),
        ),
        Tmessage::Connectat { kind, names } => {
            match connect::connect_at(root, host_uds, *kind, names) {
                Ok(fd) => out.reply_with_fds(&Rmessage::Connectat, std::slice::from_ref(&fd)),
                Err(e) => out.error(e),
            }
        }
        _ => return Ok(false),
    };
    answered.map(|()| true)
}

/// Answers with the reply, or with the errno.
fn answer(out: &mut Out<'_>, result: Result<Rmessage<'_>, i32>) -> io::Result<()> {
    match result {
        Ok(msg) => out.reply(&msg),
        Err(e) => out.error(e),
    }
}
