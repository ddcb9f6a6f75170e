//! A directory's listing as the Gofer gives it (and as a donated
//! directory descriptor lists), and the attributes a Treaddirplus brings
//! along for each entry.

use super::*;

/// A directory's entries in the order `getdents` gives them, and their
/// names as a set: a lookup asks whether a name is listed, and a big
/// directory's lookups must not each scan the whole listing.
pub(super) struct Listing {
    pub(super) entries: Arc<Vec<DirEntry>>,
    pub(super) names: std::collections::HashSet<Vec<u8>>,
    /// The names sorted, and each name's place in `entries` (made by the
    /// first open-ahead, dropped by any change).
    pub(super) sorted: Option<Vec<Vec<u8>>>,
    pub(super) places: Option<HashMap<Vec<u8>, usize>>,
}

impl Listing {
    pub(super) fn new(entries: Arc<Vec<DirEntry>>) -> Listing {
        let names = entries.iter().map(|e| e.name.clone()).collect();
        Listing {
            entries,
            names,
            sorted: None,
            places: None,
        }
    }

    pub(super) fn contains(&self, name: &[u8]) -> bool {
        self.names.contains(name)
    }

    pub(super) fn find(&self, name: &[u8]) -> Option<&DirEntry> {
        if !self.contains(name) {
            return None;
        }
        self.entries.iter().find(|e| e.name == name)
    }

    /// Lists `entry` (in place of an entry of the same name).
    pub(super) fn put(&mut self, entry: DirEntry) {
        self.remove(&entry.name);
        self.sorted = None;
        self.places = None;
        self.names.insert(entry.name.clone());
        Arc::make_mut(&mut self.entries).push(entry);
    }

    /// The names after `name` in `order`.
    pub(super) fn after(&mut self, name: &[u8], order: Order) -> Vec<Vec<u8>> {
        const LOOK: usize = 8 * gofer_protocol::wire::MAX_OPENFDS;
        match order {
            Order::Listed => {
                let entries = &self.entries;
                let places = self.places.get_or_insert_with(|| {
                    entries
                        .iter()
                        .enumerate()
                        .map(|(i, e)| (e.name.clone(), i))
                        .collect()
                });
                let at = places.get(name).map_or(entries.len(), |&i| i + 1);
                entries[at..]
                    .iter()
                    .take(LOOK)
                    .map(|e| e.name.clone())
                    .collect()
            }
            Order::Sorted => {
                let entries = &self.entries;
                let sorted = self.sorted.get_or_insert_with(|| {
                    let mut s: Vec<Vec<u8>> = entries.iter().map(|e| e.name.clone()).collect();
                    s.sort_unstable();
                    s
                });
                let at = match sorted.binary_search_by(|n| n.as_slice().cmp(name)) {
                    Ok(i) => i + 1,
                    Err(i) => i,
                };
                sorted[at..].iter().take(LOOK).cloned().collect()
            }
        }
    }

    pub(super) fn remove(&mut self, name: &[u8]) -> Option<DirEntry> {
        self.sorted = None;
        self.places = None;
        if !self.names.remove(name) {
            return None;
        }
        let l = Arc::make_mut(&mut self.entries);
        let i = l.iter().position(|e| e.name == name)?;
        Some(l.remove(i))
    }
}

pub(super) struct PlusEntry {
    pub(super) attr: Attr,
    pub(super) target: Vec<u8>,
    pub(super) xattrs: Option<Vec<Vec<u8>>>,
}

/// Lists a donated directory descriptor with `getdents64`, leaving out `.`
/// and `..`.
pub(super) fn read_host_dir(fd: &OwnedFd) -> Result<Vec<DirEntry>, Errno> {
    let mut buf = vec![0u8; 32 * 1024];
    let mut out = Vec::new();
    loop {
        let n = gofer_protocol::dirents::getdents64(fd, &mut buf).map_err(errno)?;
        if n == 0 {
            return Ok(out);
        }
        for rec in gofer_protocol::dirents::records(&buf[..n]) {
            let rec = rec.map_err(errno)?;
            if rec.name != b"." && rec.name != b".." {
                out.push(DirEntry {
                    ino: rec.ino,
                    ty: rec.ty,
                    name: rec.name.to_vec(),
                });
            }
        }
    }
}
