//! A request frame decoded once, and the name filter that stands between
//! it and `p9`.
//!
//! `p9` 0.3.2 resolves names with `openat` and would walk out of its root
//! on `..`; requests of 9P's own that name `""`, `"."`, `".."` or anything
//! with `/` or NUL in it are refused with `EINVAL` before it sees them.
//! (Our own path-based requests check their names as they resolve them,
//! beneath the root: see `host::beneath_path`.)

use gofer_protocol::wire::{self, Tmessage};

/// A request frame, decoded once: the checks and the handlers all work on
/// this.
#[derive(Debug)]
pub(super) enum Request<'f> {
    /// A message of the table, whole and well-formed.
    Decoded(Tmessage<'f>),
    /// A frame that does not decode, of this type: one `p9` knows and the
    /// table does not (Tlock, Trename, Txattrwalk ...), or a malformed one.
    /// Which of the checks and handlers refuses it depends on the type;
    /// `p9` gets the rest as they came.
    Undecoded(u8),
}

/// 9P's requests that carry names for `p9` to resolve.
const NAMED: [u8; 8] = [
    wire::TWALK,
    wire::TLCREATE,
    wire::TSYMLINK,
    wire::TMKNOD,
    wire::TMKDIR,
    wire::TLINK,
    wire::TRENAMEAT,
    wire::TUNLINKAT,
];

impl<'f> Request<'f> {
    /// Decodes a whole frame (`read_frame` guarantees a header).
    pub(super) fn decode(frame: &'f [u8]) -> Request<'f> {
        match wire::decode_tmessage(frame) {
            Ok((_, msg)) => Request::Decoded(msg),
            Err(_) => Request::Undecoded(frame[4]),
        }
    }

    /// The name filter: the errno refusing a request whose names `p9`
    /// must not see.
    pub(super) fn refusal(&self) -> Option<i32> {
        let ty = match self {
            Request::Decoded(msg) => msg.type_byte(),
            Request::Undecoded(ty) => *ty,
        };
        if !NAMED.contains(&ty) {
            // Trename and the xattr calls carry names too, but `p9`
            // refuses them anyway; they pass.
            return None;
        }
        match self {
            Request::Decoded(msg) if msg.names().into_iter().all(is_plain_name) => None,
            Request::Decoded(_) => Some(libc::EINVAL),
            // A named request we cannot parse might parse differently in p9.
            Request::Undecoded(_) => Some(libc::EINVAL),
        }
    }
}

/// A single path component that stays in its directory.
pub(super) fn is_plain_name(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.iter().any(|&b| b == b'/' || b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(frame: &[u8]) -> Option<i32> {
        Request::decode(frame).refusal()
    }

    #[test]
    fn plain_names() {
        for good in [&b"a"[..], b"...", b"a.b", b"\xff", b".hidden"] {
            assert!(is_plain_name(good), "{good:?}");
        }
        for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"../x", b"a\0b"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn walks_out_of_the_root_are_refused() {
        let mut frame = Vec::new();
        let names: [&[u8]; 2] = [b"sub", b".."];
        let walk = Tmessage::Walk {
            fid: 0,
            newfid: 1,
            names: names.to_vec(),
        };
        wire::encode_tmessage(9, &walk, &mut frame).unwrap();
        assert_eq!(refusal(&frame), Some(libc::EINVAL));
        let names: [&[u8]; 2] = [b"sub", b"file"];
        let walk = Tmessage::Walk {
            fid: 0,
            newfid: 1,
            names: names.to_vec(),
        };
        wire::encode_tmessage(9, &walk, &mut frame).unwrap();
        assert_eq!(refusal(&frame), None);
        // Trailing bytes on a named request: refused, not passed on.
        frame.push(0);
        let n = frame.len() as u32;
        frame[..4].copy_from_slice(&n.to_le_bytes());
        assert_eq!(refusal(&frame), Some(libc::EINVAL));
        let mk = Tmessage::Mkdir {
            dfid: 0,
            name: b"a/b",
            mode: 0o755,
            gid: 0,
        };
        wire::encode_tmessage(3, &mk, &mut frame).unwrap();
        assert_eq!(refusal(&frame), Some(libc::EINVAL));
        wire::encode_tmessage(3, &Tmessage::Clunk { fid: 1 }, &mut frame).unwrap();
        assert_eq!(refusal(&frame), None);
    }
}
