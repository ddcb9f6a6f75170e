//! `Server::new_confined`: pivot_root into the served tree, then serve it.
//!
//! Confinement changes the process's mounts, so the test re-runs this test
//! binary as a child that unshares its mount namespace and does the work
//! there. Without the privilege for that (CAP_SYS_ADMIN) the test is skipped.

mod common;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;

use common::{Tree, HELLO};
use gofer::server::Server;
use gofer_protocol::Client;

const CHILD_ENV: &str = "GOFER_CONFINE_TEST_ROOT";
/// The child's exit code when it may not unshare.
const SKIP: i32 = 77;

#[test]
fn confined_server_serves_a_read_only_root() {
    if let Some(root) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&root));
        return;
    }
    let tree = Tree::new("confine");
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "confined_server_serves_a_read_only_root",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &tree.path)
        .output()
        .unwrap();
    if out.status.code() == Some(SKIP) {
        eprintln!("skipped: cannot unshare a mount namespace here");
        return;
    }
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The host's view of the tree is untouched and still writable.
    std::fs::write(tree.path.join("after"), b"x").unwrap();
}

fn child(root: &Path) {
    if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).is_err() {
        std::process::exit(SKIP);
    }
    let server = Server::new_confined(root, true).unwrap();
    assert!(!server.keep_fds().is_empty());

    // This thread now lives in the tree.
    assert_eq!(std::fs::read("/hello.txt").unwrap(), HELLO);
    assert!(!root.exists(), "the host path is still reachable");
    let err = std::fs::write("/new", b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));

    // And the server serves it, /proc or not.
    let (ours, theirs) = UnixStream::pair().unwrap();
    let handle = std::thread::spawn(move || server.serve(theirs));
    let c = Client::connect(ours).unwrap();
    let (fid, _) = c.walk(c.root(), &[b"hello.txt"]).unwrap();
    c.lopen(fid, libc::O_RDONLY as u32).unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(c.read(fid, 0, &mut buf).unwrap(), HELLO.len());
    assert_eq!(&buf[..HELLO.len()], HELLO);
    c.clunk(fid).unwrap();
    assert_eq!(c.walk(c.root(), &[b".."]).unwrap_err(), libc::EINVAL);
    let (dir, _) = c.walk(c.root(), &[]).unwrap();
    let gid = 0;
    assert_eq!(
        c.lcreate(dir, b"new", libc::O_RDWR as u32, 0o644, gid)
            .unwrap_err(),
        libc::EROFS
    );
    drop(c);
    handle.join().unwrap().unwrap();
}
