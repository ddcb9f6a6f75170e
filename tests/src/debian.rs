//! A Debian image for the Docker tests: a minbase bookworm root filesystem
//! made by debootstrap from the machine's own apt mirror, with python3,
//! perl and fresh apt lists, imported into the tests' dockerd.
//!
//! debootstrap and `apt-get update` take a minute or two, so the root
//! filesystem is kept as a tarball under [`CACHE_DIR`], named after
//! [`RECIPE`]: a later run (of any test binary, any worktree) imports the
//! tarball. Changing the recipe changes the name, so a stale tarball is
//! never used. Building needs root, debootstrap and the mirror; where the
//! mirror cannot be reached and nothing is cached, the tests skip (and
//! fail in CI).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::docker::Docker;
use crate::Cmd;

/// The image the Debian tests run.
pub const DEBIAN_IMAGE: &str = "runsc-rs-test-debian:bookworm";
/// Where built root filesystems are kept between runs.
pub const CACHE_DIR: &str = "/var/cache/runsc-rs-tests";
/// The suite and the packages on top of minbase; part of the cache's name.
pub const SUITE: &str = "bookworm";
pub const PACKAGES: &str = "python3,perl";
/// Bump when the way the tarball is made changes.
const RECIPE: &str = "v1";
pub const DEBOOTSTRAP: &str = "/usr/sbin/debootstrap";
/// PATH of Debian's images.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The cached root filesystem's path.
pub fn cached_tarball() -> PathBuf {
    let packages = PACKAGES.replace(',', "+");
    Path::new(CACHE_DIR).join(format!("debian-{SUITE}-minbase+{packages}-{RECIPE}.tar"))
}

/// The first `deb` mirror of the machine's apt configuration (deb822
/// `.sources` files or the one-line format), else Debian's CDN.
pub fn configured_mirror() -> String {
    let mut files: Vec<PathBuf> = vec!["/etc/apt/sources.list".into()];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        for line in text.lines().map(str::trim) {
            let uri = if let Some(rest) = line.strip_prefix("URIs:") {
                rest.split_whitespace().next()
            } else if let Some(rest) = line.strip_prefix("deb ") {
                rest.split_whitespace().find(|w| !w.starts_with('['))
            } else {
                None
            };
            // The security archive has no `bookworm` suite of its own.
            if let Some(u) = uri.filter(|u| u.starts_with("http") && !u.contains("security")) {
                return u.trim_end_matches('/').to_string();
            }
        }
    }
    "http://deb.debian.org/debian".into()
}

/// Whether `mirror` serves the suite's Release file.
fn mirror_reachable(mirror: &str) -> Result<(), String> {
    let url = format!("{mirror}/dists/{SUITE}/Release");
    let o = Cmd::new(&["curl", "-fsS", "-o", "/dev/null", "--max-time", "20", &url])
        .timeout(Duration::from_secs(30))
        .run_native();
    if o.status == 0 {
        Ok(())
    } else {
        Err(format!(
            "the apt mirror {mirror} cannot be reached ({url}: {}), and no Debian root \
             filesystem is cached at {}",
            o.stderr.trim(),
            cached_tarball().display()
        ))
    }
}

/// The cached tarball, built first when missing. Err: why it cannot be
/// (no root, no debootstrap, mirror unreachable).
pub fn rootfs_tarball() -> Result<PathBuf, String> {
    let tar = cached_tarball();
    if tar.exists() {
        return Ok(tar);
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Err("building the Debian image needs root (debootstrap)".into());
    }
    crate::host_program(DEBOOTSTRAP, "debootstrap")?;
    crate::host_program("/usr/bin/curl", "curl")?;
    let mirror = configured_mirror();
    mirror_reachable(&mirror)?;
    std::fs::create_dir_all(CACHE_DIR).map_err(|e| format!("create {CACHE_DIR}: {e}"))?;
    // Test binaries run in parallel: one builds, the others wait for it.
    let lock = std::fs::File::create(Path::new(CACHE_DIR).join("build.lock"))
        .map_err(|e| format!("the cache's lock: {e}"))?;
    // SAFETY: flock on a descriptor we own; released when `lock` closes.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(format!("flock: {}", std::io::Error::last_os_error()));
    }
    if tar.exists() {
        return Ok(tar);
    }
    build(&mirror, &tar)?;
    Ok(tar)
}

/// debootstrap into a scratch directory, fresh apt lists (so that apt can
/// read them offline in the container), no downloaded .debs, then a tar
/// written beside the final name and renamed onto it.
fn build(mirror: &str, tar: &Path) -> Result<(), String> {
    let dir = Path::new(CACHE_DIR).join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().expect("utf-8 path");
    let run = |argv: &[&str], limit: u64| -> Result<(), String> {
        eprintln!("building the Debian image: {}", argv.join(" "));
        let o = Cmd::new(argv)
            .timeout(Duration::from_secs(limit))
            .run_native();
        if o.status == 0 {
            Ok(())
        } else {
            Err(format!("{} failed\n{}", argv.join(" "), o.describe()))
        }
    };
    let include = format!("--include={PACKAGES}");
    let steps: [(&[&str], u64); 3] = [
        (
            &[DEBOOTSTRAP, "--variant=minbase", &include, SUITE, d, mirror],
            1800,
        ),
        (&["/usr/sbin/chroot", d, "apt-get", "update", "-q"], 600),
        (&["/usr/sbin/chroot", d, "apt-get", "clean"], 60),
    ];
    let mut result = Ok(());
    for (argv, limit) in steps {
        result = run(argv, limit);
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        // Docker gives a container its own; the build host's means nothing there.
        let _ = std::fs::remove_file(dir.join("etc/resolv.conf"));
        let part = tar.with_extension("tar.part");
        result = run(
            &[
                "/bin/tar",
                "-C",
                d,
                "--numeric-owner",
                "--xattrs",
                "-cf",
                part.to_str().expect("utf-8 path"),
                ".",
            ],
            600,
        )
        .and_then(|()| std::fs::rename(&part, tar).map_err(|e| format!("rename: {e}")));
    }
    // debootstrap's own mounts (proc, sys) are gone once it ends; a failed
    // run may leave them.
    for m in ["proc", "sys", "dev/pts", "dev"] {
        if let Ok(c) = std::ffi::CString::new(dir.join(m).to_string_lossy().as_bytes()) {
            // SAFETY: a valid C string; detaching a mount we may have left.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The Debian image imported into the tests' dockerd (once per test
/// binary).
pub fn debian_image(d: &Docker) -> Result<&'static str, String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    static INIT: Mutex<()> = Mutex::new(());
    let _g = INIT.lock().unwrap_or_else(|p| p.into_inner());
    let r = DONE.get_or_init(|| {
        let tar = rootfs_tarball()?;
        let o = d
            .cmd(&[
                "import",
                "-c",
                &format!("ENV PATH={PATH}"),
                "-c",
                "CMD [\"bash\"]",
                tar.to_str().expect("utf-8 path"),
                DEBIAN_IMAGE,
            ])
            .timeout(Duration::from_secs(600))
            .run_native();
        assert_eq!(o.status, 0, "docker import failed\n{}", o.describe());
        Ok(())
    });
    r.clone().map(|()| DEBIAN_IMAGE)
}
