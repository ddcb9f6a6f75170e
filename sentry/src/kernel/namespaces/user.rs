//! User namespaces (`user_namespaces(7)`): who owns the other namespaces,
//! how ids inside one map to the kernel's ids, and whose capabilities
//! count where.
//!
//! Credentials keep kernel ids (Linux's kuid/kgid: the ids of the
//! sandbox's initial namespace), so files, IPC objects and signals
//! compare ids without knowing namespaces. An id crosses the syscall
//! boundary through the caller's namespace: [`UserNamespace::uid_to_k`]
//! on the way in (an unmapped id is EINVAL), [`UserNamespace::uid_from_k`]
//! on the way out (an unmapped id shows as the overflow id, 65534).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use super::{alloc_ino, PROC_USER_INIT_INO};
use crate::errno::Errno;

/// The deepest level a user namespace may be made under (Linux's 32: the
/// initial namespace is level 0, so 33 nest below it).
pub const MAX_DEPTH: u32 = 32;
/// Lines a uid_map or gid_map may hold (Linux's UID_GID_MAP_MAX_EXTENTS).
const MAX_EXTENTS: usize = 340;
/// What an id without a mapping shows as (/proc/sys/kernel/overflowuid).
pub const OVERFLOW_ID: u32 = 65534;

/// One line of a map: `count` ids from `first` inside map to kernel ids
/// from `lower`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub first: u32,
    /// The first id as the parent namespace writes it (what the file
    /// shows back).
    pub parent_first: u32,
    /// The same id as a kernel id.
    pub lower: u32,
    pub count: u32,
}

/// A uid_map or gid_map once written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdMap(pub Vec<Extent>);

impl IdMap {
    fn down(&self, id: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|e| id >= e.first && id - e.first < e.count)
            .map(|e| e.lower + (id - e.first))
    }

    fn up(&self, kid: u32) -> Option<u32> {
        self.0
            .iter()
            .find(|e| kid >= e.lower && kid - e.lower < e.count)
            .map(|e| e.first + (kid - e.lower))
    }

    /// The file's text: "first parent_first count" per line, as Linux
    /// pads it.
    pub fn text(&self) -> String {
        self.0
            .iter()
            .map(|e| format!("{:>10} {:>10} {:>10}\n", e.first, e.parent_first, e.count))
            .collect()
    }
}

pub struct UserNamespace {
    /// Its inode number in nsfs (/proc/PID/ns/user).
    pub ino: u64,
    pub parent: Option<Arc<UserNamespace>>,
    /// 0 for the initial namespace.
    pub level: u32,
    /// The kernel ids of the creator's effective uid and gid: the owner
    /// holds every capability in the namespace from its parent.
    pub owner: u32,
    pub group: u32,
    uid_map: OnceLock<IdMap>,
    gid_map: OnceLock<IdMap>,
    /// /proc/PID/setgroups: "deny" turns setgroups(2) off for good.
    setgroups_denied: AtomicBool,
}

impl std::fmt::Debug for UserNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "user:[{}]", self.ino)
    }
}

static INIT: LazyLock<Arc<UserNamespace>> = LazyLock::new(|| {
    let all = IdMap(vec![Extent {
        first: 0,
        parent_first: 0,
        lower: 0,
        count: u32::MAX,
    }]);
    Arc::new(UserNamespace {
        ino: PROC_USER_INIT_INO,
        parent: None,
        level: 0,
        owner: 0,
        group: 0,
        uid_map: OnceLock::from(all.clone()),
        gid_map: OnceLock::from(all),
        setgroups_denied: AtomicBool::new(false),
    })
});

/// Which of the two maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    Uid,
    Gid,
}

impl UserNamespace {
    /// The sandbox's initial namespace: every id is itself. It has no
    /// state that could differ between sandboxes, so one serves all.
    pub fn init() -> Arc<UserNamespace> {
        INIT.clone()
    }

    pub fn is_init(&self) -> bool {
        self.parent.is_none()
    }

    /// Whether translating ids from kernel ids into this namespace can no
    /// longer change: the initial namespace, or every namespace up to it
    /// has both maps written (each map is written once).
    pub fn maps_fixed(&self) -> bool {
        match &self.parent {
            None => true,
            Some(p) => {
                self.uid_map.get().is_some() && self.gid_map.get().is_some() && p.maps_fixed()
            }
        }
    }

    /// A child of `parent` created by a task whose effective ids are
    /// `euid`/`egid` (kernel ids): ENOSPC past the nesting limit (EUSERS
    /// before Linux 4.9), EPERM
    /// when the creator's ids have no mapping in `parent`.
    pub fn new_child(
        parent: &Arc<UserNamespace>,
        euid: u32,
        egid: u32,
    ) -> Result<Arc<UserNamespace>, Errno> {
        if parent.level > MAX_DEPTH {
            return Err(Errno::ENOSPC);
        }
        if parent.uid_from_k_opt(euid).is_none() || parent.gid_from_k_opt(egid).is_none() {
            return Err(Errno::EPERM);
        }
        Ok(Arc::new(UserNamespace {
            ino: alloc_ino(),
            parent: Some(parent.clone()),
            level: parent.level + 1,
            owner: euid,
            group: egid,
            uid_map: OnceLock::new(),
            gid_map: OnceLock::new(),
            // A child starts as its parent is: denied stays denied.
            setgroups_denied: AtomicBool::new(parent.setgroups_denied()),
        }))
    }

    /// Whether `self` is `other` or one of its descendants.
    pub fn is_within(&self, other: &UserNamespace) -> bool {
        let mut cur = Some(self);
        while let Some(ns) = cur {
            if std::ptr::eq(ns, other) {
                return true;
            }
            cur = ns.parent.as_deref();
        }
        false
    }

    fn map(&self, kind: MapKind) -> Option<&IdMap> {
        match kind {
            MapKind::Uid => self.uid_map.get(),
            MapKind::Gid => self.gid_map.get(),
        }
    }

    /// An id of this namespace as a kernel id (None: unmapped).
    pub fn uid_to_k(&self, id: u32) -> Option<u32> {
        self.map(MapKind::Uid).and_then(|m| m.down(id))
    }

    pub fn gid_to_k(&self, id: u32) -> Option<u32> {
        self.map(MapKind::Gid).and_then(|m| m.down(id))
    }

    pub fn uid_from_k_opt(&self, kid: u32) -> Option<u32> {
        self.map(MapKind::Uid).and_then(|m| m.up(kid))
    }

    pub fn gid_from_k_opt(&self, kid: u32) -> Option<u32> {
        self.map(MapKind::Gid).and_then(|m| m.up(kid))
    }

    /// A kernel id as this namespace shows it.
    pub fn uid_from_k(&self, kid: u32) -> u32 {
        self.uid_from_k_opt(kid).unwrap_or(OVERFLOW_ID)
    }

    pub fn gid_from_k(&self, kid: u32) -> u32 {
        self.gid_from_k_opt(kid).unwrap_or(OVERFLOW_ID)
    }

    /// The map's text for /proc/PID/uid_map and gid_map, as a reader in
    /// `reader` sees it (Linux shows the lower ids in the reader's
    /// namespace when it is not the parent; the sandbox shows the parent's
    /// view, which is the same for the usual reader).
    pub fn map_text(&self, kind: MapKind) -> String {
        self.map(kind).map(IdMap::text).unwrap_or_default()
    }

    pub fn setgroups_denied(&self) -> bool {
        self.setgroups_denied.load(Ordering::SeqCst)
    }

    /// Whether setgroups(2) may run here: Linux's userns_may_setgroups,
    /// a gid map written and setgroups not denied.
    pub fn may_setgroups(&self) -> bool {
        self.gid_map.get().is_some() && !self.setgroups_denied()
    }

    /// A write to /proc/PID/setgroups: "allow" or "deny"; EPERM once a
    /// gid map exists, or "allow" after "deny".
    pub fn write_setgroups(&self, text: &[u8]) -> Result<(), Errno> {
        let word = std::str::from_utf8(text)
            .map_err(|_| Errno::EINVAL)?
            .trim_end_matches('\n');
        let deny = match word {
            "allow" => false,
            "deny" => true,
            _ => return Err(Errno::EINVAL),
        };
        if self.gid_map.get().is_some() {
            return Err(Errno::EPERM);
        }
        if !deny && self.setgroups_denied() {
            return Err(Errno::EPERM);
        }
        self.setgroups_denied.store(deny, Ordering::SeqCst);
        Ok(())
    }

    /// A write of `text` to this namespace's uid_map or gid_map by a
    /// writer whose credentials are `writer` (Linux's map_write and
    /// new_idmap_permitted): one write only, from this namespace or its
    /// parent, with CAP_SYS_ADMIN here; lines of "first lower count"
    /// without overlaps, each lower id mapped in the parent; a single
    /// line mapping the writer's own effective id (with setgroups denied,
    /// for gid_map) is allowed to anyone, anything else needs
    /// CAP_SETUID/CAP_SETGID in the parent.
    pub fn write_map(
        &self,
        kind: MapKind,
        text: &[u8],
        writer: &crate::kernel::Credentials,
    ) -> Result<(), Errno> {
        let parent = self.parent.as_ref().ok_or(Errno::EPERM)?;
        let slot = match kind {
            MapKind::Uid => &self.uid_map,
            MapKind::Gid => &self.gid_map,
        };
        if slot.get().is_some() {
            return Err(Errno::EPERM);
        }
        let wns = &writer.user_ns.0;
        if !std::ptr::eq(&**wns, self) && !Arc::ptr_eq(wns, parent) {
            return Err(Errno::EPERM);
        }
        if !writer.capable_in(self, crate::caps::CAP_SYS_ADMIN) {
            return Err(Errno::EPERM);
        }
        let lines = parse_map(text)?;
        let mut extents = Vec::with_capacity(lines.len());
        for (first, parent_first, count) in lines {
            // Every id of the range must exist in the parent.
            let to_k = |id: u32| match kind {
                MapKind::Uid => parent.uid_to_k(id),
                MapKind::Gid => parent.gid_to_k(id),
            };
            let lower = to_k(parent_first).ok_or(Errno::EPERM)?;
            let last = to_k(parent_first + (count - 1)).ok_or(Errno::EPERM)?;
            if last.wrapping_sub(lower) != count - 1 {
                return Err(Errno::EPERM);
            }
            extents.push(Extent {
                first,
                parent_first,
                lower,
                count,
            });
        }
        let own_id_only = extents.len() == 1 && extents[0].count == 1 && {
            let e = extents[0];
            match kind {
                MapKind::Uid => e.lower == writer.euid,
                MapKind::Gid => e.lower == writer.egid && self.setgroups_denied(),
            }
        };
        let cap = match kind {
            MapKind::Uid => crate::caps::CAP_SETUID,
            MapKind::Gid => crate::caps::CAP_SETGID,
        };
        if !own_id_only && !writer.capable_in(parent, cap) {
            return Err(Errno::EPERM);
        }
        slot.set(IdMap(extents)).map_err(|_| Errno::EPERM)
    }
}

/// Lines of "first lower count": EINVAL for a malformed line, a zero or
/// overflowing count, too many lines, or ranges that overlap inside or
/// below.
fn parse_map(text: &[u8]) -> Result<Vec<(u32, u32, u32)>, Errno> {
    let text = std::str::from_utf8(text).map_err(|_| Errno::EINVAL)?;
    let mut out: Vec<(u32, u32, u32)> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let [a, b, c] = f.as_slice() else {
            return Err(Errno::EINVAL);
        };
        let num = |s: &str| s.parse::<u32>().map_err(|_| Errno::EINVAL);
        let (first, lower, count) = (num(a)?, num(b)?, num(c)?);
        if count == 0
            || first.checked_add(count - 1).is_none()
            || lower.checked_add(count - 1).is_none()
        {
            return Err(Errno::EINVAL);
        }
        if out
            .iter()
            .any(|&(f2, l2, c2)| overlaps(first, count, f2, c2) || overlaps(lower, count, l2, c2))
        {
            return Err(Errno::EINVAL);
        }
        out.push((first, lower, count));
        if out.len() > MAX_EXTENTS {
            return Err(Errno::EINVAL);
        }
    }
    if out.is_empty() {
        return Err(Errno::EINVAL);
    }
    Ok(out)
}

/// Whether the ranges [a, a+ac) and [b, b+bc) share an id.
fn overlaps(a: u32, ac: u32, b: u32, bc: u32) -> bool {
    u64::from(a) < u64::from(b) + u64::from(bc) && u64::from(b) < u64::from(a) + u64::from(ac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_lines_are_checked_as_linux_checks_them() {
        assert_eq!(parse_map(b"0 1000 1\n"), Ok(vec![(0, 1000, 1)]));
        assert_eq!(parse_map(b"0 1000 0\n"), Err(Errno::EINVAL));
        assert_eq!(parse_map(b"0 0 10\n5 100 10\n"), Err(Errno::EINVAL));
        assert_eq!(parse_map(b"0 0 10\n100 5 10\n"), Err(Errno::EINVAL));
        assert_eq!(parse_map(b"0 0\n"), Err(Errno::EINVAL));
        assert_eq!(parse_map(b""), Err(Errno::EINVAL));
    }

    #[test]
    fn ids_go_down_and_up_through_a_map() {
        let m = IdMap(vec![Extent {
            first: 0,
            parent_first: 1000,
            lower: 1000,
            count: 10,
        }]);
        assert_eq!(m.down(3), Some(1003));
        assert_eq!(m.up(1009), Some(9));
        assert_eq!(m.up(999), None);
    }
}
