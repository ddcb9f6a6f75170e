//! Extended attributes by path (Tgetxattrat and friends): values and
//! listings bounded by what one reply carries, listings checked name by
//! name.

use std::collections::BTreeSet;

use super::Client;
use crate::wire::{self, Rmessage, Tmessage};

/// XATTR_SIZE_MAX: the longest value (and listing) Linux has.
pub const XATTR_SIZE_MAX: usize = 65536;

/// A listxattr listing as names: every one non-empty and NUL-terminated,
/// at most XATTR_NAME_MAX bytes, none twice (else `None`: a broken reply).
pub(super) fn split_names(list: &[u8]) -> Option<Vec<Vec<u8>>> {
    if list.is_empty() {
        return Some(Vec::new());
    }
    let body = list.strip_suffix(&[0])?;
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for n in body.split(|b| *b == 0) {
        if n.is_empty() || n.len() > 255 || !seen.insert(n) {
            return None;
        }
        out.push(n.to_vec());
    }
    Some(out)
}

impl Client {
    /// The most bytes of an attribute value or listing one reply carries
    /// (and the most the kernel has: XATTR_SIZE_MAX).
    pub fn xattr_room(&self) -> usize {
        ((self.msize - wire::RREAD_HEADER_LEN) as usize).min(XATTR_SIZE_MAX)
    }

    /// The value of the extended attribute `name` of the file at `names`,
    /// not followed (Tgetxattrat); ERANGE if longer than `size` bytes
    /// (at most [`Client::xattr_room`]).
    pub fn getxattr_at(&self, names: &[&[u8]], name: &[u8], size: usize) -> Result<Vec<u8>, i32> {
        let size = size.min(self.xattr_room());
        let msg = Tmessage::Getxattrat {
            // xattr_room fits in u32.
            size: size as u32,
            names: names.to_vec(),
            name,
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Getxattrat { value } if value.len() <= size => Some(value.to_vec()),
            _ => None,
        })
    }

    /// The extended attribute names of the file at `names`, not followed
    /// (Tlistxattrat): each one plain, NUL-terminated name; ERANGE if
    /// longer than `size` bytes (at most [`Client::xattr_room`]).
    pub fn listxattr_at(&self, names: &[&[u8]], size: usize) -> Result<Vec<Vec<u8>>, i32> {
        let size = size.min(self.xattr_room());
        let msg = Tmessage::Listxattrat {
            // xattr_room fits in u32.
            size: size as u32,
            names: names.to_vec(),
        };
        self.path_rpc(&msg, |r| match r {
            Rmessage::Listxattrat { list } if list.len() <= size => split_names(list),
            _ => None,
        })
    }

    /// Sets the extended attribute `name` of the file at `names` to
    /// `value` (Tsetxattrat), with setxattr's `flags`.
    pub fn setxattr_at(
        &self,
        names: &[&[u8]],
        name: &[u8],
        value: &[u8],
        flags: u32,
    ) -> Result<(), i32> {
        let msg = Tmessage::Setxattrat {
            flags,
            names: names.to_vec(),
            name,
            value,
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Setxattrat).then_some(()))
    }

    /// Removes the extended attribute `name` of the file at `names`
    /// (Tremovexattrat).
    pub fn removexattr_at(&self, names: &[&[u8]], name: &[u8]) -> Result<(), i32> {
        let msg = Tmessage::Removexattrat {
            names: names.to_vec(),
            name,
        };
        self.path_rpc(&msg, |r| matches!(r, Rmessage::Removexattrat).then_some(()))
    }
}
