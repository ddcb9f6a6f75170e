//! Shared by the integration tests: a scratch tree and a served client.

#![allow(dead_code)]

use std::os::unix::fs::symlink;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use gofer_protocol::Client;

pub const HELLO: &[u8] = b"hello, gofer\n";
pub const BIG_LEN: usize = 3 << 20;
/// Nested directories d0/d1/.../d19.
pub const DEPTH: usize = 20;

/// Bytes that do not repeat with any small period, so an offset mistake shows.
pub fn big_contents() -> Vec<u8> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..BIG_LEN)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

/// A scratch directory under the system temp dir, removed on drop:
/// hello.txt, big.bin (3 MiB), empty, sub/inner.txt, link -> hello.txt,
/// dangling -> does/not/exist, and d0/d1/.../d19/bottom.
pub struct Tree {
    pub path: PathBuf,
}

impl Tree {
    pub fn new(name: &str) -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "gofer-test-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).unwrap();
        std::fs::write(path.join("hello.txt"), HELLO).unwrap();
        std::fs::write(path.join("big.bin"), big_contents()).unwrap();
        std::fs::write(path.join("empty"), b"").unwrap();
        std::fs::create_dir(path.join("sub")).unwrap();
        std::fs::write(path.join("sub/inner.txt"), b"inner").unwrap();
        symlink("hello.txt", path.join("link")).unwrap();
        symlink("does/not/exist", path.join("dangling")).unwrap();
        let mut deep = path.clone();
        for i in 0..DEPTH {
            deep.push(format!("d{i}"));
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("bottom"), b"bottom").unwrap();
        Tree { path }
    }

    /// The top-level entry names, as the host lists them, plus . and ..
    pub fn top_names(&self) -> Vec<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let mut names: Vec<Vec<u8>> = std::fs::read_dir(&self.path)
            .unwrap()
            .map(|e| e.unwrap().file_name().as_bytes().to_vec())
            .collect();
        names.push(b".".to_vec());
        names.push(b"..".to_vec());
        names.sort();
        names
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A client connected to `gofer::server::serve` over a socket pair.
pub struct Served {
    pub tree: Tree,
    pub client: Option<Client>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl Served {
    pub fn new(name: &str) -> Served {
        Served::with(name, false)
    }

    /// A server that refuses changes (EROFS).
    pub fn read_only(name: &str) -> Served {
        Served::with(name, true)
    }

    fn with(name: &str, read_only: bool) -> Served {
        Served::configured(name, move |s| s.set_read_only(read_only))
    }

    /// A server `setup` configures before it serves.
    pub fn configured(
        name: &str,
        setup: impl FnOnce(&mut gofer::server::Server) + Send + 'static,
    ) -> Served {
        let tree = Tree::new(name);
        let (ours, theirs) = UnixStream::pair().unwrap();
        let root = tree.path.clone();
        let server = std::thread::spawn(move || {
            let mut server = gofer::server::Server::new(&root)?;
            setup(&mut server);
            server.serve(theirs)
        });
        let client = Client::connect(ours).expect("connect");
        Served {
            tree,
            client: Some(client),
            server: Some(server),
        }
    }

    pub fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Closes the connection and returns what `serve` returned.
    pub fn finish(mut self) -> std::io::Result<()> {
        drop(self.client.take());
        self.server.take().unwrap().join().unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.client.take());
        if let Some(s) = self.server.take() {
            let _ = s.join();
        }
    }
}

/// A requirement of the test is missing: a failure in CI (`CI=true`), a
/// loud `SKIPPED:` line elsewhere.
#[allow(dead_code)]
pub fn skip(why: &str) {
    let ci = std::env::var("CI")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes"));
    assert!(!ci, "requirement missing and CI=true: {why}");
    eprintln!("\n*** SKIPPED: {why} (set CI=true to make this a failure) ***");
}
