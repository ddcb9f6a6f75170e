//! Path syntax: splitting a path into components, as Linux's namei reads it.

use super::{NAME_MAX, PATH_MAX};
use crate::errno::Errno;

/// One component of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component<'a> {
    Dot,
    DotDot,
    Name(&'a [u8]),
}

/// A path split for resolution.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub absolute: bool,
    pub components: Vec<Component<'a>>,
    /// The path ends in `/` (after a component): the file must be a
    /// directory, and a final symlink is followed.
    pub trailing_slash: bool,
}

/// Splits `path`. Empty paths are ENOENT (AT_EMPTY_PATH is the caller's
/// business), too long ones ENAMETOOLONG, as are names over NAME_MAX.
pub fn parse(path: &[u8]) -> Result<Parsed<'_>, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let absolute = path[0] == b'/';
    let mut components = Vec::new();
    for name in path.split(|&c| c == b'/').filter(|n| !n.is_empty()) {
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        components.push(match name {
            b"." => Component::Dot,
            b".." => Component::DotDot,
            n => Component::Name(n),
        });
    }
    let trailing_slash = !components.is_empty() && path.ends_with(b"/");
    Ok(Parsed {
        absolute,
        components,
        trailing_slash,
    })
}

/// Normalises an absolute path lexically (`.`, `..`, repeated slashes),
/// never going above `/`. For names and messages, not for resolution:
/// symlinks make `a/..` differ from `.`.
pub fn normalize(path: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for name in path.split(|&c| c == b'/') {
        match name {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            n => parts.push(n),
        }
    }
    if parts.is_empty() {
        return b"/".to_vec();
    }
    let mut out = Vec::with_capacity(path.len());
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_path_is_enoent() {
        assert_eq!(parse(b""), Err(Errno::ENOENT));
    }

    #[test]
    fn components_skip_repeated_slashes() {
        let p = parse(b"//a/./b//../c").unwrap();
        assert!(p.absolute);
        assert!(!p.trailing_slash);
        assert_eq!(
            p.components,
            vec![
                Component::Name(b"a"),
                Component::Dot,
                Component::Name(b"b"),
                Component::DotDot,
                Component::Name(b"c"),
            ]
        );
    }

    #[test]
    fn trailing_slash_is_noted_but_not_for_the_root() {
        assert!(parse(b"a/").unwrap().trailing_slash);
        assert!(parse(b"a//").unwrap().trailing_slash);
        let root = parse(b"/").unwrap();
        assert!(root.components.is_empty() && !root.trailing_slash);
    }

    #[test]
    fn long_names_and_paths_are_enametoolong() {
        let name = vec![b'x'; NAME_MAX + 1];
        assert_eq!(parse(&name), Err(Errno::ENAMETOOLONG));
        assert!(parse(&vec![b'x'; NAME_MAX]).is_ok());
        let path = b"a/".repeat(PATH_MAX / 2);
        assert_eq!(parse(&path), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn normalize_stays_below_the_root() {
        assert_eq!(normalize(b"/../a/./b/../c//"), b"/a/c".to_vec());
        assert_eq!(normalize(b"/.."), b"/".to_vec());
        assert_eq!(normalize(b""), b"/".to_vec());
    }
}
