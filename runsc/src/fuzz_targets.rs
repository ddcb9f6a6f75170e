//! Fuzz targets for what this binary reads from others (see the `fuzz`
//! crate for the driver and `scripts/fuzz` to run them longer): an OCI
//! bundle's config.json, and the control socket's request and reply
//! lines.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::OnceLock;

use oci_spec::runtime::Spec;

/// A bundle directory with a root filesystem, for the checks that look.
fn bundle() -> &'static PathBuf {
    static BUNDLE: OnceLock<PathBuf> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("runsc-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).expect("mkdir");
        dir
    })
}

/// config.json: parsed as an OCI spec, then checked into a plan.
#[test]
fn fuzz_oci_config() {
    fuzz::run("oci_config", |bytes| {
        if let Ok(spec) = serde_json::from_slice::<Spec>(bytes) {
            let _ = crate::spec::plan(bundle(), &spec);
        }
    });
}

/// A control-socket request as the sandbox reads it (one line, from a
/// peer that may be anyone allowed to connect), and a reply as the CLI
/// reads it (from a sandbox that may be compromised).
#[test]
fn fuzz_control() {
    fuzz::run("control", |bytes| {
        let (a, b) = UnixStream::pair().expect("socketpair");
        let input = bytes.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = (&a).write_all(&input);
        });
        if let Some((line, _fds)) = crate::control::read_request(&b) {
            if let Ok(req) = serde_json::from_slice::<crate::control::Request>(&line) {
                let again = serde_json::to_vec(&req).expect("a request encodes");
                serde_json::from_slice::<crate::control::Request>(&again)
                    .expect("an encoded request decodes");
            }
        }
        drop(b);
        writer.join().expect("writer");
        let (a, b) = UnixStream::pair().expect("socketpair");
        let input = bytes.to_vec();
        let writer = std::thread::spawn(move || {
            let _ = (&a).write_all(&input);
        });
        let _ = crate::control::read_reply(&b);
        drop(b);
        writer.join().expect("writer");
    });
}
