use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use super::*;
use crate::vfs::ops::{self, Ctx};
use crate::vfs::{Cred, Vfs};

/// A scratch host tree served by a real Gofer server on a thread.
struct Served {
    dir: PathBuf,
    client: Arc<Client>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn serve(name: &str) -> Served {
    let dir = std::env::temp_dir().join(format!("sentry-gofer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("etc/sub")).unwrap();
    std::fs::write(dir.join("etc/hosts"), b"127.0.0.1 localhost\n").unwrap();
    std::fs::write(dir.join("big"), vec![7u8; 300_000]).unwrap();
    std::os::unix::fs::symlink("etc/hosts", dir.join("hosts")).unwrap();
    std::fs::create_dir(dir.join("tmp")).unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let root = dir.clone();
    std::thread::spawn(move || {
        let _ = gofer::server::serve(&root, b);
    });
    let client = Arc::new(Client::connect(a).unwrap());
    Served { dir, client }
}

/// The sandbox's namespace over the served tree, with the overlay root or
/// the Gofer's root itself.
fn namespace(s: &Served, overlay: bool) -> Arc<Vfs> {
    let memfile = crate::mm::MemoryFile::new().unwrap();
    crate::fsimpl::namespace::new(s.client.clone(), overlay, false, &memfile).unwrap()
}

fn read_file(v: &Vfs, path: &[u8]) -> Vec<u8> {
    let c = Ctx::new(v, v.root(), Cred::root(), 0o022);
    let f = ops::open_at(&c, v.root(), path, libc::O_RDONLY, 0).unwrap();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let n = f.ops().read_at(&mut buf, out.len() as u64).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn sandbox_namespace_over_a_real_gofer() {
    let s = serve("ns");
    let v = namespace(&s, true);
    let c = Ctx::new(&v, v.root(), Cred::root(), 0o022);
    assert_eq!(read_file(&v, b"/etc/hosts"), b"127.0.0.1 localhost\n");
    assert_eq!(read_file(&v, b"/hosts"), b"127.0.0.1 localhost\n");
    assert_eq!(read_file(&v, b"/big").len(), 300_000);
    assert_eq!(
        ops::walk(&c, v.root(), b"/nope", true).err(),
        Some(Errno::ENOENT)
    );
    // Cached: a second miss needs no server.
    assert_eq!(
        ops::walk(&c, v.root(), b"/nope", true).err(),
        Some(Errno::ENOENT)
    );
    let st = ops::walk(&c, v.root(), b"/etc/hosts", true)
        .unwrap()
        .stat()
        .unwrap();
    let host = std::fs::metadata(s.dir.join("etc/hosts")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(st.st_ino, host.ino());
    assert_eq!(st.st_size, 20);
    // /dev is the Sentry's; /tmp is the root's, as every other
    // directory.
    assert!(ops::open_at(&c, v.root(), b"/dev/null", libc::O_WRONLY, 0).is_ok());
    assert_eq!(
        ops::walk(&c, v.root(), b"/tmp", true).unwrap().mount.fstype,
        ops::walk(&c, v.root(), b"/", true).unwrap().mount.fstype
    );
    // Writes stay in the sandbox.
    let f = ops::open_at(
        &c,
        v.root(),
        b"/etc/hosts",
        libc::O_WRONLY | libc::O_TRUNC,
        0,
    )
    .unwrap();
    f.ops().write_at(b"changed\n", 0).unwrap();
    assert_eq!(read_file(&v, b"/etc/hosts"), b"changed\n");
    ops::mkdirat(&c, v.root(), b"/etc/sub/new", 0o755).unwrap();
    ops::renameat(&c, v.root(), b"/big", v.root(), b"/etc/big2", 0).unwrap();
    ops::unlinkat(&c, v.root(), b"/hosts").unwrap();
    assert_eq!(
        std::fs::read(s.dir.join("etc/hosts")).unwrap(),
        b"127.0.0.1 localhost\n"
    );
    assert!(std::fs::symlink_metadata(s.dir.join("hosts")).is_ok());
    assert!(std::fs::metadata(s.dir.join("big")).is_ok());
    assert!(std::fs::metadata(s.dir.join("etc/sub/new")).is_err());
    let root = ops::walk(&c, v.root(), b"/", true).unwrap();
    let mut names: Vec<_> = root
        .inode
        .readdir()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    names.sort();
    // dev and proc (and sys, once sysfs is mounted there) were made in
    // the upper layer to mount on.
    names.retain(|n| n != b"sys");
    let want: Vec<Vec<u8>> = vec![
        b"dev".to_vec(),
        b"etc".to_vec(),
        b"proc".to_vec(),
        b"tmp".to_vec(),
    ];
    assert_eq!(names, want);
}

fn names(v: &Vfs, path: &[u8]) -> Vec<Vec<u8>> {
    let c = Ctx::new(v, v.root(), Cred::root(), 0o022);
    let d = ops::walk(&c, v.root(), path, true).unwrap();
    let mut n: Vec<_> = d
        .inode
        .readdir()
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    n.sort();
    n
}

fn owner(uid: u32, gid: u32) -> Cred {
    Cred::user(uid, gid, Vec::new())
}

#[test]
fn writes_reach_the_host_and_caches_stay_true() {
    use std::os::unix::fs::MetadataExt;
    let s = serve("rw");
    let v = namespace(&s, false);
    let c = Ctx::new(&v, v.root(), Cred::root(), 0o022);
    let root = v.root();
    // Listings and lookups cached before the changes.
    assert_eq!(names(&v, b"/etc"), vec![b"hosts".to_vec(), b"sub".to_vec()]);
    assert_eq!(
        ops::walk(&c, root.clone(), b"/etc/new", true).err(),
        Some(Errno::ENOENT)
    );
    // Created as the caller, with the umask applied.
    let as_user = Ctx::new(&v, v.root(), owner(0, 0), 0o027);
    let f = ops::open_at(
        &as_user,
        root.clone(),
        b"/etc/new",
        libc::O_CREAT | libc::O_WRONLY,
        0o666,
    )
    .unwrap();
    f.ops().write_at(b"0123456789", 0).unwrap();
    let m = std::fs::metadata(s.dir.join("etc/new")).unwrap();
    assert_eq!((m.mode() & 0o777, m.len()), (0o640, 10));
    let st = ops::walk(&c, root.clone(), b"/etc/new", true)
        .unwrap()
        .stat()
        .unwrap();
    assert_eq!(
        (st.st_size, st.st_ino, st.st_mtime),
        (10, m.ino(), m.mtime())
    );
    assert_eq!(read_file(&v, b"/etc/new"), b"0123456789");
    assert_eq!(
        names(&v, b"/etc"),
        vec![b"hosts".to_vec(), b"new".to_vec(), b"sub".to_vec()]
    );
    // O_TRUNC and O_APPEND.
    let f = ops::open_at(
        &c,
        root.clone(),
        b"/etc/hosts",
        libc::O_WRONLY | libc::O_TRUNC,
        0,
    )
    .unwrap();
    f.ops().write_at(b"x", 0).unwrap();
    assert_eq!(std::fs::read(s.dir.join("etc/hosts")).unwrap(), b"x");
    assert_eq!(
        ops::open_at(
            &c,
            root.clone(),
            b"/etc/new",
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
            0o644
        )
        .err(),
        Some(Errno::EEXIST)
    );
    // A directory renamed: files below it are reached by their new path.
    ops::mkdirat(&c, root.clone(), b"/etc/sub/deep", 0o755).unwrap();
    let deep = ops::open_at(
        &c,
        root.clone(),
        b"/etc/sub/deep/file",
        libc::O_CREAT | libc::O_RDWR,
        0o600,
    )
    .unwrap();
    ops::renameat(&c, root.clone(), b"/etc/sub", root.clone(), b"/moved", 0).unwrap();
    assert!(s.dir.join("moved/deep/file").exists());
    deep.ops().write_at(b"after the move", 0).unwrap();
    assert_eq!(
        std::fs::read(s.dir.join("moved/deep/file")).unwrap(),
        b"after the move"
    );
    let d = ops::walk(&c, root.clone(), b"/moved/deep/file", true).unwrap();
    ops::chmod(&Cred::root(), &d, 0o604).unwrap();
    let m = std::fs::metadata(s.dir.join("moved/deep/file")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o604);
    assert_eq!(d.stat().unwrap().st_mode & 0o7777, 0o604);
    assert_eq!(
        ops::walk(&c, root.clone(), b"/etc/sub", true).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(names(&v, b"/etc"), vec![b"hosts".to_vec(), b"new".to_vec()]);
    // RENAME_NOREPLACE, rename over a file, hard links, unlink.
    assert_eq!(
        ops::renameat(
            &c,
            root.clone(),
            b"/etc/new",
            root.clone(),
            b"/etc/hosts",
            libc::RENAME_NOREPLACE
        )
        .err(),
        Some(Errno::EEXIST)
    );
    ops::renameat(
        &c,
        root.clone(),
        b"/etc/new",
        root.clone(),
        b"/etc/hosts",
        0,
    )
    .unwrap();
    assert_eq!(read_file(&v, b"/etc/hosts"), b"0123456789");
    let src = ops::walk(&c, root.clone(), b"/etc/hosts", true).unwrap();
    ops::linkat(&c, &src, root.clone(), b"/etc/again").unwrap();
    let f = ops::open_at(
        &c,
        root.clone(),
        b"/etc/again",
        libc::O_WRONLY | libc::O_TRUNC,
        0,
    )
    .unwrap();
    drop(f);
    // Through the other name: the size and link count are the host's.
    let st = src.stat().unwrap();
    assert_eq!((st.st_size, st.st_nlink), (0, 2));
    // Renaming one name of a file over another does nothing.
    ops::renameat(
        &c,
        root.clone(),
        b"/etc/again",
        root.clone(),
        b"/etc/hosts",
        0,
    )
    .unwrap();
    assert!(s.dir.join("etc/again").exists() && s.dir.join("etc/hosts").exists());
    assert!(names(&v, b"/etc").contains(&b"again".to_vec()));
    assert!(ops::walk(&c, root.clone(), b"/etc/again", true).is_ok());
    ops::unlinkat(&c, root.clone(), b"/etc/again").unwrap();
    assert_eq!(src.stat().unwrap().st_nlink, 1);
    assert!(!s.dir.join("etc/again").exists());
    assert_eq!(
        ops::walk(&c, root.clone(), b"/etc/again", true).err(),
        Some(Errno::ENOENT)
    );
    ops::symlinkat(&c, b"hosts", root.clone(), b"/etc/l").unwrap();
    assert_eq!(
        std::fs::read_link(s.dir.join("etc/l")).unwrap(),
        std::path::Path::new("hosts")
    );
    assert_eq!(
        ops::rmdirat(&c, root.clone(), b"/moved").err(),
        Some(Errno::ENOTEMPTY)
    );
    ops::truncate(
        &Cred::root(),
        &ops::walk(&c, root.clone(), b"/big", true).unwrap(),
        5,
    )
    .unwrap();
    assert_eq!(std::fs::metadata(s.dir.join("big")).unwrap().len(), 5);
    assert_eq!(read_file(&v, b"/big"), vec![7u8; 5]);
    // statfs is the host's.
    let host = nix::sys::statfs::statfs(&s.dir).unwrap();
    let st = root.inode.statfs().unwrap();
    assert_eq!(st.f_blocks, host.blocks());
}

#[test]
fn a_writable_subtree_mounted_over_the_overlay_root() {
    let s = serve("subtree");
    let v = namespace(&s, true);
    let c = Ctx::new(&v, v.root(), Cred::root(), 0o022);
    let data = GoferFs::new_subtree(
        s.client.clone(),
        &[b"etc", b"sub"],
        Options {
            writable: true,
            shared: false,
        },
    )
    .unwrap();
    v.mount_at(b"/data", data, "9p").unwrap();
    let ro = GoferFs::new_subtree(s.client.clone(), &[b"etc"], Options::default()).unwrap();
    v.mount_at(b"/ro", ro, "9p").unwrap();
    let f = ops::open_at(
        &c,
        v.root(),
        b"/data/out",
        libc::O_CREAT | libc::O_WRONLY,
        0o644,
    )
    .unwrap();
    f.ops().write_at(b"volume", 0).unwrap();
    assert_eq!(std::fs::read(s.dir.join("etc/sub/out")).unwrap(), b"volume");
    ops::mkdirat(&c, v.root(), b"/data/d", 0o755).unwrap();
    assert!(s.dir.join("etc/sub/d").is_dir());
    // The root stays an overlay: nothing written there reaches the host.
    ops::mkdirat(&c, v.root(), b"/etc/x", 0o755).unwrap();
    assert!(!s.dir.join("etc/x").exists());
    // A read-only subtree: EROFS, and its files are the host's.
    assert_eq!(read_file(&v, b"/ro/hosts"), b"127.0.0.1 localhost\n");
    assert_eq!(
        ops::mkdirat(&c, v.root(), b"/ro/y", 0o755).err(),
        Some(Errno::EROFS)
    );
    assert_eq!(
        ops::open_at(&c, v.root(), b"/ro/hosts", libc::O_WRONLY, 0).err(),
        Some(Errno::EROFS)
    );
    // Renames do not cross mounts; a subtree of a file is refused.
    assert_eq!(
        ops::renameat(&c, v.root(), b"/data/out", v.root(), b"/etc/out", 0).err(),
        Some(Errno::EXDEV)
    );
    assert_eq!(
        GoferFs::new_subtree(s.client.clone(), &[b"etc", b"hosts"], Options::default()).err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(
        GoferFs::new_subtree(s.client.clone(), &[b".."], Options::default()).err(),
        Some(Errno::EINVAL)
    );
}
