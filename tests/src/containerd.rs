//! A containerd of the tests' own with its CRI plugin on, for driving
//! runsc-rs the way a kubelet does (tests/tests/cri.rs holds the CRI client).
//!
//! [`containerd_cri`] starts Debian's containerd once per test binary under
//! the watchdog of [`crate::docker::spawn_watched`], with its root, state,
//! socket, runtime state (`Root` of each handler), the CRI plugin's pod
//! logs and CNI configuration and IPAM state all under
//! `target/tmp/runsc-rs-tests/cri/`. Two runtime handlers, as a
//! RuntimeClass names them: `runsc-rs` (the runc v2 shim with `BinaryName`
//! set to the runsc-rs under test) and `runc` (the same shim and runc, the
//! reference).
//!
//! Pods get a network from Debian's CNI plugins (containernetworking-plugins,
//! /usr/lib/cni): a bridge of the test's own ([`BRIDGE`]) with a private
//! subnet, no gateway, no masquerade and no default route, so nothing a pod
//! sends leaves the machine. containerd 1.6 puts the pods' network
//! namespaces under /var/run/netns (not configurable) and removes them with
//! the pod.
//!
//! Images are built offline as OCI archives and imported with `ctr` into
//! the CRI's namespace `k8s.io`: busybox from the host's busybox-static
//! (as tests/src/docker.rs builds it), the pause image (the same layer with
//! `sleep` as its command, named as the CRI's `sandbox_image`) and, on
//! demand, the Debian image of tests/src/debian.rs.
//!
//! When the test process ends, a second watchdog removes the bridge and the
//! pod cgroup parents under [`CGROUP_ROOT`] (the kubelet's part: the
//! runtime removes each container's cgroup, not its parent).

use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::docker::{spawn_watched, wait_for, CONTAINERD, CTR, IP, MARKER};
use crate::Cmd;

/// The runtime handler of runsc-rs, as a RuntimeClass's `handler` names it.
pub const HANDLER_OURS: &str = "runsc-rs";
/// The runc handler, the reference.
pub const HANDLER_RUNC: &str = "runc";
/// runc, which the reference handler runs.
pub const RUNC: &str = "/usr/sbin/runc";
/// Where Debian's containernetworking-plugins puts the CNI plugins.
pub const CNI_BIN_DIR: &str = "/usr/lib/cni";
/// The CRI's namespace in containerd.
pub const NAMESPACE: &str = "k8s.io";
/// The pods' bridge on the host: created by the CNI bridge plugin, removed
/// when the test process ends.
pub const BRIDGE: &str = "rsrscri0";
/// The pods' subnet: private, with no route out.
pub const SUBNET: &str = "10.199.231.0/24";
/// Pod cgroup parents are made under this directory of each cgroup
/// hierarchy (cgroupfs paths, as the kubelet's cgroupfs driver makes them).
pub const CGROUP_ROOT: &str = "runsc-rs-test-cri";
/// The busybox image (/bin/busybox and its applets, PATH=/bin).
pub const BUSYBOX_IMAGE: &str = "docker.io/library/runsc-rs-test-busybox:latest";
/// The CRI's `sandbox_image`: the busybox layer running `sleep`.
pub const PAUSE_IMAGE: &str = "docker.io/library/runsc-rs-test-pause:1";
/// The Debian image (debootstrap's minbase with python3 and perl).
pub const DEBIAN_IMAGE: &str = "docker.io/library/runsc-rs-test-debian:bookworm";
/// PATH of the Debian image.
const DEBIAN_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// How long the pause container sleeps: for ever, as far as a test cares
/// (busybox's `sleep` takes seconds, not `infinity`).
const PAUSE_SECONDS: &str = "2147483647";

/// The shared containerd.
pub struct Containerd {
    /// Everything of this daemon lives here.
    pub base: PathBuf,
    pub sock: PathBuf,
    /// The runsc-rs binary the `runsc-rs` handler runs.
    pub bin: PathBuf,
    /// Where the pods' CRI log directories go.
    pub pod_logs: PathBuf,
    /// The containerd configuration the daemon runs with.
    pub config: String,
}

/// Pipes to the watchdogs that tidy up the host when the test process
/// ends; never closed while it lives.
static TIDY: Mutex<Vec<ChildStdin>> = Mutex::new(Vec::new());

/// The shared daemon with the busybox and pause images imported, started on
/// first use; Err (skip, or failure in CI) when something it needs is
/// missing. A daemon that fails to start is a failure.
pub fn containerd_cri() -> Result<&'static Containerd, String> {
    // get_or_init runs `start` once; other threads wait for its result.
    static D: OnceLock<Result<Containerd, String>> = OnceLock::new();
    D.get_or_init(start).as_ref().map_err(Clone::clone)
}

fn requirements() -> Result<PathBuf, String> {
    crate::sandbox()?;
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return Err("the CRI tests need root (containerd, cgroups, mounts, CNI)".into());
    }
    crate::host_program(CONTAINERD, "containerd")?;
    crate::host_program(CTR, "containerd")?;
    crate::host_program(RUNC, "runc")?;
    crate::host_program(IP, "iproute2")?;
    crate::host_program("/usr/bin/sha256sum", "coreutils")?;
    for plugin in ["bridge", "host-local", "loopback"] {
        crate::host_program(
            &format!("{CNI_BIN_DIR}/{plugin}"),
            "containernetworking-plugins",
        )?;
    }
    crate::static_host_program("/bin/busybox", "busybox-static")
}

/// containerd 1.6's configuration (version 2) for the tests' daemon.
pub fn config_toml(base: &Path, sock: &Path, bin: &Path) -> String {
    let cri = "plugins.\"io.containerd.grpc.v1.cri\"";
    let mut s = format!(
        "version = 2\n\
         root = \"{b}/root\"\n\
         state = \"{b}/state\"\n\
         [grpc]\n  address = \"{sock}\"\n\
         [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{b}/opt\"\n\
         [{cri}]\n\
         \x20 sandbox_image = \"{PAUSE_IMAGE}\"\n\
         \x20 stream_server_address = \"127.0.0.1\"\n\
         \x20 stream_server_port = \"0\"\n\
         \x20 restrict_oom_score_adj = true\n\
         [{cri}.cni]\n\
         \x20 bin_dir = \"{CNI_BIN_DIR}\"\n\
         \x20 conf_dir = \"{b}/cni\"\n\
         [{cri}.containerd]\n\
         \x20 default_runtime_name = \"{HANDLER_RUNC}\"\n",
        b = base.display(),
        sock = sock.display(),
    );
    for (handler, binary) in [(HANDLER_RUNC, Path::new(RUNC)), (HANDLER_OURS, bin)] {
        s += &format!(
            "[{cri}.containerd.runtimes.{handler}]\n\
             \x20 runtime_type = \"io.containerd.runc.v2\"\n\
             [{cri}.containerd.runtimes.{handler}.options]\n\
             \x20 BinaryName = \"{binary}\"\n\
             \x20 Root = \"{b}/runtime/{handler}\"\n",
            binary = binary.display(),
            b = base.display(),
        );
    }
    s
}

/// The pods' CNI network: the bridge plugin on [`BRIDGE`], host-local
/// addresses from [`SUBNET`] kept under `base`, no gateway, no masquerade.
fn cni_conflist(base: &Path) -> String {
    serde_json::json!({
        "cniVersion": "0.4.0",
        "name": "runsc-rs-test-cri",
        "plugins": [{
            "type": "bridge",
            "bridge": BRIDGE,
            "isGateway": false,
            "isDefaultGateway": false,
            "ipMasq": false,
            "hairpinMode": false,
            "ipam": {
                "type": "host-local",
                "ranges": [[{ "subnet": SUBNET }]],
                "dataDir": base.join("cni-ipam"),
            },
        }],
    })
    .to_string()
}

/// Removes what [`tidy_script`] removes, now: what an earlier run left.
fn tidy_host() {
    let o = Cmd::new(&["/bin/sh", "-c", &tidy_script()]).run_native();
    assert_eq!(o.status, 0, "tidying the host failed\n{}", o.describe());
}

/// Deletes the bridge and the (empty) pod cgroup parents.
fn tidy_script() -> String {
    format!(
        "{IP} link del {BRIDGE} 2>/dev/null; \
         for h in /sys/fs/cgroup/*/{CGROUP_ROOT} /sys/fs/cgroup/{CGROUP_ROOT}; do \
         [ -d \"$h\" ] && find \"$h\" -depth -type d -exec rmdir {{}} + 2>/dev/null; \
         done; :"
    )
}

/// Runs [`tidy_script`] when this test process ends: a shell that waits
/// for its stdin, a pipe only this process holds, to close.
fn tidy_at_exit() {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(format!("read -r _ || :; sleep 2; {}", tidy_script()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = c.spawn().expect("start the tidying watchdog");
    let pipe = child.stdin.take().expect("piped stdin");
    TIDY.lock().unwrap_or_else(|p| p.into_inner()).push(pipe);
    // Reaped by nobody until we exit; it is tiny.
    std::mem::forget(child);
}

fn start() -> Result<Containerd, String> {
    let busybox = requirements()?;
    let bin = crate::runsc_bin()
        .canonicalize()
        .map_err(|e| format!("runsc-rs binary: {e}"))?;
    let base = crate::scratch_dir().join("cri");
    crate::docker::clean_stale(&base);
    tidy_host();
    tidy_at_exit();
    let pod_logs = base.join("pods");
    for d in [&pod_logs, &base.join("cni"), &base.join("images")] {
        std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    }
    std::fs::write(
        base.join("cni/10-runsc-rs-test.conflist"),
        cni_conflist(&base),
    )
    .expect("write the CNI configuration");
    let sock = base.join("containerd.sock");
    let config = config_toml(&base, &sock, &bin);
    let config_path = base.join("config.toml");
    std::fs::write(&config_path, &config).expect("write config.toml");
    let argv: Vec<String> = vec![
        CONTAINERD.into(),
        "--config".into(),
        config_path.to_string_lossy().into_owned(),
    ];
    let log = base.join("containerd.log");
    spawn_watched(&base, &log, &argv).unwrap_or_else(|e| panic!("cannot start containerd: {e}"));
    let d = Containerd {
        base,
        sock,
        bin,
        pod_logs,
        config,
    };
    let up = wait_for(Duration::from_secs(60), || {
        d.ctr(&["version"]).run_native().status == 0
    });
    assert!(
        up,
        "containerd did not come up in 60 s; its log:\n{}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    d.import_busybox(&busybox);
    Ok(d)
}

impl Containerd {
    /// `ctr -a SOCK -n k8s.io ARGS...`.
    pub fn ctr(&self, args: &[&str]) -> Cmd {
        let mut argv = vec![
            CTR.to_string(),
            "-a".into(),
            self.sock.to_string_lossy().into_owned(),
            "-n".into(),
            NAMESPACE.into(),
        ];
        argv.extend(args.iter().map(|s| s.to_string()));
        Cmd::new(&argv).timeout(Duration::from_secs(120))
    }

    /// The Debian image, imported on first use; Err when its root
    /// filesystem cannot be had (see tests/src/debian.rs).
    pub fn debian_image(&self) -> Result<&'static str, String> {
        static DONE: OnceLock<Result<(), String>> = OnceLock::new();
        static INIT: Mutex<()> = Mutex::new(());
        let _g = INIT.lock().unwrap_or_else(|p| p.into_inner());
        DONE.get_or_init(|| {
            let tar = crate::debian::rootfs_tarball()?;
            let config = image_config(DEBIAN_PATH, &[], &["bash"], &[]);
            self.import(DEBIAN_IMAGE, "debian", &tar, config);
            Ok(())
        })
        .clone()
        .map(|()| DEBIAN_IMAGE)
    }

    /// The busybox image (as tests/src/docker.rs builds it) and the pause
    /// image on the same layer.
    fn import_busybox(&self, busybox: &Path) {
        let root = self.base.join("images/busybox-rootfs");
        for d in ["bin", "etc", "tmp", "root", "home/user"] {
            std::fs::create_dir_all(root.join(d)).expect("create rootfs dirs");
        }
        std::fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
        let list = Cmd::new(&[busybox.to_str().expect("utf-8 path"), "--list"]).run_native();
        assert_eq!(list.status, 0, "{}", list.describe());
        for applet in list.stdout.lines().map(str::trim) {
            if applet.is_empty() || applet == "busybox" || applet.contains('/') {
                continue;
            }
            symlink("busybox", root.join("bin").join(applet))
                .unwrap_or_else(|e| panic!("symlink {applet}: {e}"));
        }
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
        )
        .expect("write passwd");
        std::fs::write(root.join("etc/group"), "root:x:0:\nuser:x:1000:\n").expect("write group");
        let layer = self.base.join("images/busybox-layer.tar");
        let o = Cmd::new(&[
            "/bin/tar",
            "-C",
            root.to_str().expect("utf-8 path"),
            "--owner=0",
            "--group=0",
            "-cf",
            layer.to_str().expect("utf-8 path"),
            ".",
        ])
        .run_native();
        assert_eq!(o.status, 0, "{}", o.describe());
        let _ = std::fs::remove_dir_all(&root);
        let busybox_config = image_config("/bin", &[], &["sh"], &[]);
        self.import(BUSYBOX_IMAGE, "busybox", &layer, busybox_config);
        let pause_config = image_config("/bin", &["/bin/sleep", PAUSE_SECONDS], &[], &[]);
        self.import(PAUSE_IMAGE, "pause", &layer, pause_config);
        let _ = std::fs::remove_file(&layer);
    }

    /// Imports a one-layer image (an uncompressed layer tarball and its
    /// image config) as `name`: an OCI image layout whose blobs are
    /// symlinks to the tarball, streamed to `ctr images import` by
    /// `tar -h`, so that a large layer is not copied first.
    fn import(&self, name: &str, dir: &str, layer: &Path, config: serde_json::Value) {
        let layout = self.base.join("images").join(dir);
        let blobs = layout.join("blobs/sha256");
        std::fs::create_dir_all(&blobs).expect("create the image layout");
        let layer_digest = sha256_file(layer);
        let layer_size = std::fs::metadata(layer).expect("layer size").len();
        let _ = std::fs::remove_file(blobs.join(&layer_digest));
        symlink(layer, blobs.join(&layer_digest)).expect("link the layer");
        let mut config = config;
        config["rootfs"] = serde_json::json!({
            "type": "layers",
            "diff_ids": [format!("sha256:{layer_digest}")],
        });
        let (config_digest, config_size) = write_blob(&blobs, &config);
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": format!("sha256:{config_digest}"),
                "size": config_size,
            },
            "layers": [{
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": format!("sha256:{layer_digest}"),
                "size": layer_size,
            }],
        });
        let (manifest_digest, manifest_size) = write_blob(&blobs, &manifest);
        let index = serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{manifest_digest}"),
                "size": manifest_size,
                "annotations": { "io.containerd.image.name": name },
            }],
        });
        std::fs::write(layout.join("index.json"), index.to_string()).expect("index.json");
        std::fs::write(
            layout.join("oci-layout"),
            "{\"imageLayoutVersion\":\"1.0.0\"}",
        )
        .expect("oci-layout");
        let script = format!(
            "set -o pipefail; /bin/tar -C \"$1\" -chf - index.json oci-layout blobs | \
             {CTR} -a \"$2\" -n {NAMESPACE} images import -"
        );
        let o = Cmd::new(&[
            "/bin/bash",
            "-c",
            &script,
            "bash",
            layout.to_str().expect("utf-8 path"),
            self.sock.to_str().expect("utf-8 path"),
        ])
        .timeout(Duration::from_secs(600))
        .run_native();
        assert_eq!(o.status, 0, "importing {name} failed\n{}", o.describe());
        let _ = std::fs::remove_dir_all(&layout);
    }

    /// The CRI log directory for a new pod (made here, as the kubelet makes
    /// it).
    pub fn pod_log_dir(&self, pod: &str) -> PathBuf {
        let d = self.pod_logs.join(pod);
        std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
        d
    }

    /// A pod's cgroup parent, as the CRI's `cgroup_parent` takes it.
    pub fn cgroup_parent(&self, pod: &str) -> String {
        format!("/{CGROUP_ROOT}/{pod}")
    }

    /// Everything of a removed pod still on the host: processes naming one
    /// of `ids` (the pod's and its containers' ids) or carrying the
    /// daemon's marker (shims, runsc-rs, its Sentry and Gofer) other than
    /// containerd itself, the runtimes' state directories for the ids, the
    /// pod's cgroups below its parent, and its network namespace.
    pub fn leftovers(&self, ids: &[String], cgroup_parent: &str, netns: &str) -> Vec<String> {
        let mut left = Vec::new();
        let me = std::process::id().to_string();
        let marker = format!("{MARKER}={}", self.base.display());
        let config = self.base.join("config.toml").to_string_lossy().into_owned();
        for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if pid == me || !pid.chars().all(|c| c.is_ascii_digit()) {
                continue;
            }
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
            let marked = env.split(|b| *b == 0).any(|v| v == marker.as_bytes());
            // containerd and the watchdog around it.
            if cmd.contains(&config) {
                continue;
            }
            if marked || ids.iter().any(|id| cmd.contains(id.as_str())) {
                left.push(format!("process {pid}: {cmd}"));
            }
        }
        for handler in [HANDLER_OURS, HANDLER_RUNC] {
            let root = self.base.join("runtime").join(handler).join(NAMESPACE);
            for id in ids {
                if root.join(id).exists() {
                    left.push(format!("state {}", root.join(id).display()));
                }
            }
        }
        let rel = cgroup_parent.trim_start_matches('/');
        for h in std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten()
        {
            let parent = h.path().join(rel);
            for c in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                if c.path().is_dir() {
                    left.push(format!("cgroup {}", c.path().display()));
                }
            }
        }
        if !netns.is_empty() && Path::new(netns).exists() {
            left.push(format!("network namespace {netns}"));
        }
        left
    }

    /// Mount points under the daemon's directory or /var/run/netns (the
    /// pods' rootfs, shm and network namespaces).
    pub fn mounts(&self) -> Vec<String> {
        let base = format!("{}/", self.base.display());
        let mut m: Vec<String> = std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| p.starts_with(&base) || p.starts_with("/run/netns/"))
            .map(str::to_string)
            .collect();
        m.sort();
        m
    }

    /// The daemon's log, for failure messages.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.base.join("containerd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

/// An OCI image config: PATH, entrypoint, command, extra environment.
fn image_config(path: &str, entrypoint: &[&str], cmd: &[&str], env: &[&str]) -> serde_json::Value {
    let mut e = vec![format!("PATH={path}")];
    e.extend(env.iter().map(|s| s.to_string()));
    let mut config = serde_json::json!({ "Env": e });
    if !entrypoint.is_empty() {
        config["Entrypoint"] = serde_json::json!(entrypoint);
    }
    if !cmd.is_empty() {
        config["Cmd"] = serde_json::json!(cmd);
    }
    serde_json::json!({
        "architecture": oci_architecture(),
        "os": "linux",
        "config": config,
    })
}

/// This machine's architecture as OCI images name it.
fn oci_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// sha256 of a file, in hex (coreutils' sha256sum).
fn sha256_file(path: &Path) -> String {
    let o = Cmd::new(&["/usr/bin/sha256sum", path.to_str().expect("utf-8 path")])
        .timeout(Duration::from_secs(300))
        .run_native();
    assert_eq!(o.status, 0, "{}", o.describe());
    o.stdout
        .split_whitespace()
        .next()
        .expect("sha256sum prints a digest")
        .to_string()
}

/// Writes a JSON blob into the layout's blob directory: its digest and size.
fn write_blob(blobs: &Path, value: &serde_json::Value) -> (String, u64) {
    let tmp = blobs.join("tmp");
    let bytes = value.to_string();
    std::fs::write(&tmp, &bytes).expect("write a blob");
    let digest = sha256_file(&tmp);
    std::fs::rename(&tmp, blobs.join(&digest)).expect("name a blob");
    (digest, bytes.len() as u64)
}
