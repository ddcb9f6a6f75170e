//! Where a server allows changes, and which requests are changes: a
//! read-only server refuses them with `EROFS` whatever the host mount
//! allows (submounts of a served tree keep their own flags).

use gofer_protocol::wire::{self, Tmessage};

use super::request::Request;

/// Where a server allows changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Writable {
    All,
    Nowhere,
    /// Only below these paths (names from the served root), and only
    /// through our path-based requests.
    Below(Vec<Vec<Vec<u8>>>),
}

/// The types of the requests that change the tree, for frames that do
/// not decode (a malformed Tlopen or Topenfd included: its handler would
/// refuse it anyway).
const CHANGING_TYPES: [u8; 20] = [
    wire::TLCREATE,
    wire::TSYMLINK,
    wire::TMKNOD,
    wire::TMKDIR,
    wire::TLINK,
    wire::TRENAME,
    wire::TRENAMEAT,
    wire::TUNLINKAT,
    wire::TSETATTR,
    wire::TWRITE,
    wire::TXATTRCREATE,
    wire::TCREATEAT,
    wire::TLINKAT,
    wire::TREMOVEAT,
    wire::TRENAMEAT2,
    wire::TSETATTRAT,
    wire::TSETXATTRAT,
    wire::TREMOVEXATTRAT,
    wire::TLOPEN,
    wire::TOPENFD,
];

impl Writable {
    /// The errno refusing `req` as a change this server does not allow.
    pub(super) fn refusal(&self, req: &Request<'_>) -> Option<i32> {
        let prefixes = match self {
            Writable::All => return None,
            _ if !changes_tree(req) => return None,
            Writable::Nowhere => return Some(libc::EROFS),
            Writable::Below(p) => p,
        };
        // `strict`: the path names an entry inside the directory.
        let below = |names: &[&[u8]], strict: bool| {
            prefixes.iter().any(|p| {
                names.len() >= p.len() + usize::from(strict)
                    && names.iter().zip(p).all(|(n, q)| *n == q.as_slice())
            })
        };
        let ok = match req {
            Request::Decoded(Tmessage::Createat { names, .. })
            | Request::Decoded(Tmessage::Removeat { names, .. }) => below(names, true),
            Request::Decoded(Tmessage::Linkat { old, new })
            | Request::Decoded(Tmessage::Renameat2 { old, new, .. }) => {
                below(old, true) && below(new, true)
            }
            Request::Decoded(Tmessage::Setattrat { names, .. })
            | Request::Decoded(Tmessage::Setxattrat { names, .. })
            | Request::Decoded(Tmessage::Removexattrat { names, .. })
            | Request::Decoded(Tmessage::Openfd { names, .. }) => below(names, false),
            // 9P's own requests name files by fid: no path to check.
            _ => false,
        };
        (!ok).then_some(libc::EROFS)
    }
}

/// Whether a request would change the served tree.
fn changes_tree(req: &Request<'_>) -> bool {
    let write_access =
        |flags: u32| flags & (libc::O_ACCMODE | libc::O_TRUNC | libc::O_APPEND) as u32 != 0;
    match req {
        Request::Decoded(msg) => match msg {
            Tmessage::Lopen { flags, .. } | Tmessage::Openfd { flags, .. } => write_access(*flags),
            Tmessage::Lcreate { .. }
            | Tmessage::Symlink { .. }
            | Tmessage::Mknod { .. }
            | Tmessage::Mkdir { .. }
            | Tmessage::Link { .. }
            | Tmessage::Renameat { .. }
            | Tmessage::Unlinkat { .. }
            | Tmessage::Setattr { .. }
            | Tmessage::Write { .. }
            | Tmessage::Createat { .. }
            | Tmessage::Linkat { .. }
            | Tmessage::Removeat { .. }
            | Tmessage::Renameat2 { .. }
            | Tmessage::Setattrat { .. }
            | Tmessage::Setxattrat { .. }
            | Tmessage::Removexattrat { .. } => true,
            _ => false,
        },
        Request::Undecoded(ty) => CHANGING_TYPES.contains(ty),
    }
}
