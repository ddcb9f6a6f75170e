//! Twalkgetattr, served through `p9`: its fid table is private, so the
//! walk and the getattr are fed to it as a Twalk and a Tgetattr built
//! here, and answered as one reply.

use gofer_protocol::wire::{self, Qid, Rgetattr, Rmessage, Tmessage};

use super::request::is_plain_name;

/// What Twalkgetattr answers: whether `newfid` was kept, the qids walked
/// and the attributes of the file reached.
pub(super) type Walked = (bool, Vec<Qid>, Box<Rgetattr>);

/// Twalk then Tgetattr through `p9`. A partial walk creates no fid and is
/// ENOENT (ENOTDIR if it stopped at a file that is neither a directory
/// nor a symlink); a failing getattr clunks the new fid, and so does a
/// `keep` that does not keep it.
pub(super) fn walk_getattr(
    p9: &mut p9::Server,
    fid: u32,
    newfid: u32,
    keep: u32,
    names: &[&[u8]],
) -> Result<Walked, i32> {
    // Walking in place would let a "not kept" answer clunk the start.
    if fid == newfid || keep > wire::WALK_KEEP_NEVER || !names.iter().all(|n| is_plain_name(n)) {
        return Err(libc::EINVAL);
    }
    let walk = Tmessage::Walk {
        fid,
        newfid,
        names: names.to_vec(),
    };
    let qids = p9_call(p9, &walk, |r| match r {
        Rmessage::Walk { qids } => Some(qids),
        _ => None,
    })?;
    if qids.len() != names.len() {
        // p9 created no fid for a partial walk.
        return Err(match qids.last() {
            Some(q) if q.ty & (wire::QTDIR | wire::QTSYMLINK) == 0 => libc::ENOTDIR,
            _ => libc::ENOENT,
        });
    }
    let getattr = Tmessage::Getattr {
        fid: newfid,
        request_mask: wire::P9_GETATTR_BASIC,
    };
    let attr = p9_call(p9, &getattr, |r| match r {
        Rmessage::Getattr(g) => Some(g),
        _ => None,
    });
    let kept = match &attr {
        Ok(a) => match keep {
            wire::WALK_KEEP_ALWAYS => true,
            wire::WALK_KEEP_DIR => a.attr.mode & libc::S_IFMT == libc::S_IFDIR,
            _ => false,
        },
        Err(_) => false,
    };
    if !kept {
        let _ = p9_call(p9, &Tmessage::Clunk { fid: newfid }, |r| match r {
            Rmessage::Clunk => Some(()),
            _ => None,
        });
    }
    Ok((kept, qids, attr?))
}

/// Feeds one request built here to `p9` and has `accept` take its answer
/// (an Rlerror is its errno).
fn p9_call<T>(
    p9: &mut p9::Server,
    msg: &Tmessage<'_>,
    accept: impl FnOnce(Rmessage<'_>) -> Option<T>,
) -> Result<T, i32> {
    let mut req = Vec::new();
    wire::encode_tmessage(0, msg, &mut req)?;
    let mut resp = Vec::new();
    p9.handle_message(&mut req.as_slice(), &mut resp)
        .map_err(|_| libc::EIO)?;
    match wire::decode_rmessage(&resp) {
        Ok((_, Rmessage::Lerror { ecode })) => Err(i32::try_from(ecode).unwrap_or(libc::EIO)),
        Ok((_, r)) => accept(r).ok_or(libc::EIO),
        Err(_) => Err(libc::EIO),
    }
}
