//! inotify over tmpfs trees.

use std::sync::Arc;

use crate::fsimpl::tmpfs::Tmpfs;
use crate::mm::MemoryFile;
use crate::vfs::inotify::*;
use crate::vfs::ops::{self, Ctx};
use crate::vfs::{Cred, Inode, Owner, Vfs};

/// `/` a tmpfs with the directories /d and /e.
fn setup() -> Arc<Vfs> {
    let root = Tmpfs::new_root(&MemoryFile::new().unwrap(), 0o755, Owner::default());
    root.mkdir(b"d", 0o755, Owner::default()).unwrap();
    root.mkdir(b"e", 0o755, Owner::default()).unwrap();
    Vfs::with_root(root, "tmpfs")
}

fn watch(v: &Vfs, i: &Inotify, path: &[u8]) -> i32 {
    let c = Ctx::new(v, v.root(), Cred::root(), 0o022);
    let d = ops::walk(&c, v.root(), path, true).unwrap();
    i.add_watch(d.inode.clone(), &d.mount.sb, ALL_EVENTS)
        .unwrap()
}

/// The queued events as (wd, mask, name).
fn events(i: &Inotify) -> Vec<(i32, u32, Vec<u8>)> {
    let mut buf = vec![0u8; 4096];
    let n = match i.try_read(&mut buf) {
        Some(r) => r.unwrap(),
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut p = 0;
    while p < n {
        let word = |o: usize| u32::from_ne_bytes(buf[p + o..p + o + 4].try_into().unwrap());
        let len = word(12) as usize;
        let name = &buf[p + HEADER..p + HEADER + len];
        let name = name.split(|&b| b == 0).next().unwrap_or(&[]).to_vec();
        out.push((word(0) as i32, word(4), name));
        p += HEADER + len;
    }
    out
}

#[test]
fn the_last_close_of_an_unlinked_file_ends_its_watch() {
    let v = setup();
    let c = Ctx::new(&v, v.root(), Cred::root(), 0o022);
    let f = ops::open_at(&c, v.root(), b"/d/f", libc::O_CREAT | libc::O_RDONLY, 0o644).unwrap();
    let i = Inotify::new(v.notify().watches());
    let wd = watch(&v, &i, b"/d/f");
    ops::unlinkat(&c, v.root(), b"/d/f").unwrap();
    assert_eq!(events(&i), vec![(wd, libc::IN_ATTRIB, vec![])]);
    drop(f);
    assert_eq!(
        events(&i),
        vec![
            (wd, libc::IN_CLOSE_NOWRITE, vec![]),
            (wd, libc::IN_DELETE_SELF, vec![]),
            (wd, libc::IN_IGNORED, vec![]),
        ]
    );
}

#[test]
fn an_open_file_renamed_elsewhere_reports_to_its_new_directory() {
    let v = setup();
    let c = Ctx::new(&v, v.root(), Cred::root(), 0o022);
    let f = ops::open_at(&c, v.root(), b"/d/a", libc::O_CREAT | libc::O_WRONLY, 0o644).unwrap();
    let i = Inotify::new(v.notify().watches());
    let (wd, we) = (watch(&v, &i, b"/d"), watch(&v, &i, b"/e"));
    ops::renameat(&c, v.root(), b"/d/a", v.root(), b"/e/b", 0).unwrap();
    let moves: Vec<u32> = events(&i).iter().map(|e| e.1).collect();
    assert_eq!(moves, vec![libc::IN_MOVED_FROM, libc::IN_MOVED_TO]);
    drop(f);
    assert_eq!(
        events(&i),
        vec![(we, libc::IN_CLOSE_WRITE, b"b".to_vec())],
        "not to {wd}"
    );
}
