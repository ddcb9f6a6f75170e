//! A bundle's `config.json` (OCI runtime spec, read with `oci-spec`),
//! checked and turned into what each sandbox process needs: the Gofer's
//! root and bind mounts, the Sentry's [`BootPlan`], the host-side cgroup,
//! namespaces and hooks.
//!
//! Everything is checked here, in `create`, so a bad spec is reported
//! before any process or state exists.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimitType, Spec};
use serde::{Deserialize, Serialize};

/// What the Sentry boots: the first process and the sandbox's own mounts.
/// Sent to `boot` as JSON over a pipe.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BootPlan {
    /// The first process.
    #[serde(flatten)]
    pub process: crate::control::ProcessSpec,
    pub umask: Option<u32>,
    pub hostname: Option<String>,
    /// `root.readonly`: the root mount refuses writes (EROFS).
    pub readonly_root: bool,
    /// Mounts the Sentry makes itself, in spec order.
    pub mounts: Vec<SandboxMount>,
    pub oom_score_adj: Option<i32>,
    /// `linux.resources.pids.limit`: the most tasks the sandbox may hold.
    pub pids_limit: Option<i64>,
    /// The container has a network namespace of its own, whose interfaces
    /// the Sentry may take; false: it shares its caller's, the host's
    /// (`docker run --network=host`), which is never touched. Set by the
    /// supervisor once it is in the namespace: a spec can name the
    /// caller's own by path.
    pub own_network_namespace: bool,
    /// A bind mount's source is a host Unix socket: the Sentry will drive
    /// the descriptor the Gofer connects for it (its seccomp list needs
    /// the host poller's calls). The Sentry never sees bind sources.
    #[serde(default)]
    pub binds_host_socket: bool,
    /// `linux.sysctl`'s `net.ipv4.ip_unprivileged_port_start` (Docker sets
    /// 0): the first port binding needs no CAP_NET_BIND_SERVICE for.
    #[serde(default)]
    pub unprivileged_port_start: Option<u16>,
    /// `linux.namespaces` asks for a new PID namespace (no path). A pod's
    /// further container then gets one of its own inside the sandbox, as
    /// the kubelet asks for each container; with a path it shares the
    /// sandbox's. The sandbox's own first process is its PID 1 either way.
    #[serde(default)]
    pub own_pid_namespace: bool,
}

/// A mount the Sentry makes (a filesystem of its own, or a Gofer-served
/// bind mount).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxMount {
    pub destination: String,
    /// Filesystem type: tmpfs, proc, sysfs, devpts, mqueue, or "bind" for
    /// a directory or file the Gofer serves.
    pub fstype: String,
    pub source: String,
    pub options: Vec<String>,
}

/// A host path the Gofer binds into the root it serves.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GoferBind {
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub destination: PathBuf,
    pub readonly: bool,
}

/// A host-side hook (prestart, createRuntime, poststart, poststop).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hook {
    pub path: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub timeout: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Hooks {
    pub prestart: Vec<Hook>,
    pub create_runtime: Vec<Hook>,
    pub poststart: Vec<Hook>,
    pub poststop: Vec<Hook>,
}

/// Host resource limits for the sandbox's cgroup.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Resources {
    pub memory_limit: Option<i64>,
    pub memory_swap: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_period: Option<u64>,
    pub cpu_shares: Option<u64>,
    pub pids_limit: Option<i64>,
}

impl Resources {
    /// Whether any limit is set.
    pub fn limits_any(&self) -> bool {
        self.memory_limit.is_some()
            || self.memory_swap.is_some()
            || self.cpu_quota.is_some()
            || self.cpu_period.is_some()
            || self.cpu_shares.is_some()
            || self.pids_limit.is_some()
    }
}

/// A checked bundle.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub boot: BootPlan,
    pub binds: Vec<GoferBind>,
    pub hooks: Hooks,
    pub annotations: HashMap<String, String>,
    pub cgroups_path: Option<PathBuf>,
    pub resources: Resources,
    /// The container's network namespace.
    pub netns: NetNs,
}

/// Where a container's network lives (`linux.namespaces`, type network).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetNs {
    /// No network namespace in the spec: the caller's, the host's.
    #[default]
    Host,
    /// One without a path: a new, empty namespace, which Docker's prestart
    /// hook then fills with the container's interfaces.
    New,
    /// One with a path: that namespace (`--network=container:X`, a pod;
    /// Docker's `--network=host` names dockerd's own,
    /// /var/run/docker/netns/default).
    Join(PathBuf),
}

/// The Sentry's own filesystems; anything else with a source is a bind.
const SANDBOX_FS: &[&str] = &["proc", "sysfs", "tmpfs", "devpts", "mqueue"];

/// Reads and checks `BUNDLE/config.json`.
pub fn load(bundle: &Path) -> Result<Plan> {
    let bundle =
        std::fs::canonicalize(bundle).with_context(|| format!("bundle {}", bundle.display()))?;
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let spec: Spec = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid OCI runtime spec", path.display()))?;
    plan(&bundle, &spec).with_context(|| format!("{}", path.display()))
}

pub(crate) fn plan(bundle: &Path, spec: &Spec) -> Result<Plan> {
    let root = spec.root().as_ref().context("root is missing")?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    if !rootfs.is_dir() {
        bail!(
            "root.path: the root filesystem {} is not a directory",
            rootfs.display()
        );
    }
    let process = spec.process().as_ref().context("process is missing")?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() || args[0].is_empty() {
        bail!("process.args must name a program");
    }
    let cwd = process.cwd().to_string_lossy().into_owned();
    if !cwd.starts_with('/') {
        bail!("process.cwd {cwd:?} is not an absolute path");
    }
    let env = process.env().clone().unwrap_or_default();
    if let Some(bad) = env.iter().find(|e| !e.contains('=')) {
        bail!("process.env entry {bad:?} is not NAME=VALUE");
    }
    let user = process.user();
    let mut rlimits = Vec::new();
    let mut seen_rlimits = HashSet::new();
    for r in process.rlimits().iter().flatten() {
        let res = rlimit_resource(r.typ());
        if !seen_rlimits.insert(res) {
            bail!("process.rlimits: {:?} is given twice", r.typ());
        }
        if r.soft() > r.hard() {
            bail!(
                "process.rlimits: {:?} has soft limit {} above hard limit {}",
                r.typ(),
                r.soft(),
                r.hard()
            );
        }
        rlimits.push((res, r.soft(), r.hard()));
    }

    let mut mounts = Vec::new();
    let mut binds = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let dest = m.destination();
        if !dest.is_absolute() {
            bail!(
                "mounts: destination {} is not an absolute path",
                dest.display()
            );
        }
        if dest.components().any(|c| c == Component::ParentDir) {
            bail!("mounts: destination {} contains \"..\"", dest.display());
        }
        let options = m.options().clone().unwrap_or_default();
        let is_bind = m.typ().as_deref() == Some("bind")
            || options.iter().any(|o| o == "bind" || o == "rbind");
        let fstype = m.typ().clone().unwrap_or_default();
        let destination = dest.to_string_lossy().into_owned();
        if is_bind {
            let source = m
                .source()
                .as_ref()
                .with_context(|| format!("mounts: bind mount on {destination} has no source"))?;
            let source = if source.is_absolute() {
                source.clone()
            } else {
                bundle.join(source)
            };
            // Docker's private /dev/shm is a bind of a host tmpfs; the
            // sandbox's own tmpfs serves the same purpose without sharing
            // host memory.
            if destination == "/dev/shm" {
                mounts.push(SandboxMount {
                    destination,
                    fstype: "tmpfs".into(),
                    source: "shm".into(),
                    options: vec!["nosuid".into(), "nodev".into(), "noexec".into()],
                });
                continue;
            }
            if !source.exists() {
                bail!(
                    "mounts: the source {} of the bind mount on {destination} does not exist",
                    source.display()
                );
            }
            let readonly = options.iter().any(|o| o == "ro");
            binds.push(GoferBind {
                source,
                destination: dest.clone(),
                readonly,
            });
            mounts.push(SandboxMount {
                destination,
                fstype: "bind".into(),
                source: String::new(),
                options,
            });
        } else if fstype == "cgroup" || fstype == "cgroup2" {
            // The sandbox has no cgroup filesystem: an empty read-only
            // directory is what a container without cgroup access sees.
            mounts.push(SandboxMount {
                destination,
                fstype: "tmpfs".into(),
                source: "cgroup".into(),
                options: vec![
                    "ro".into(),
                    "nosuid".into(),
                    "nodev".into(),
                    "noexec".into(),
                ],
            });
        } else if SANDBOX_FS.contains(&fstype.as_str()) {
            mounts.push(SandboxMount {
                destination,
                fstype,
                source: m
                    .source()
                    .as_ref()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                options,
            });
        } else {
            bail!("mounts: filesystem type {fstype:?} on {destination} is not supported");
        }
    }

    let mut netns = NetNs::Host;
    let mut resources = Resources::default();
    let mut cgroups_path = None;
    let mut unprivileged_port_start = None;
    let mut own_pid_namespace = false;
    if let Some(linux) = spec.linux() {
        const PORT_START: &str = "net.ipv4.ip_unprivileged_port_start";
        if let Some(v) = linux.sysctl().as_ref().and_then(|s| s.get(PORT_START)) {
            let port: u16 = v
                .trim()
                .parse()
                .with_context(|| format!("linux.sysctl: {PORT_START} = {v:?} is not a port"))?;
            unprivileged_port_start = Some(port);
        }
        let mut seen = HashSet::new();
        for ns in linux.namespaces().iter().flatten() {
            if !seen.insert(ns.typ()) {
                bail!("linux.namespaces: {:?} is given twice", ns.typ());
            }
            if ns.typ() == LinuxNamespaceType::Pid && ns.path().is_none() {
                own_pid_namespace = true;
            }
            if ns.typ() == LinuxNamespaceType::Network {
                if let Some(p) = ns.path() {
                    if !p.exists() {
                        bail!(
                            "linux.namespaces: network namespace {} does not exist",
                            p.display()
                        );
                    }
                    netns = NetNs::Join(p.clone());
                } else {
                    netns = NetNs::New;
                }
            }
        }
        cgroups_path = linux.cgroups_path().clone();
        if let Some(r) = linux.resources() {
            if let Some(m) = r.memory() {
                resources.memory_limit = m.limit();
                resources.memory_swap = m.swap();
            }
            if let Some(c) = r.cpu() {
                resources.cpu_quota = c.quota();
                resources.cpu_period = c.period();
                resources.cpu_shares = c.shares();
            }
            if let Some(p) = r.pids() {
                if p.limit() > 0 {
                    resources.pids_limit = Some(p.limit());
                }
            }
        }
    }

    let terminal = process.terminal().unwrap_or(false);
    let boot = BootPlan {
        process: crate::control::ProcessSpec {
            args,
            env,
            cwd,
            uid: user.uid(),
            gid: user.gid(),
            groups: user.additional_gids().clone().unwrap_or_default(),
            terminal,
            capabilities: process
                .capabilities()
                .as_ref()
                .map(crate::control::CapabilitySets::of),
            no_new_privileges: process.no_new_privileges().unwrap_or(false),
            rlimits,
            preserve_fds: 0,
        },
        umask: user.umask(),
        hostname: spec.hostname().clone(),
        readonly_root: root.readonly().unwrap_or(false),
        mounts,
        oom_score_adj: process.oom_score_adj(),
        pids_limit: resources.pids_limit,
        own_network_namespace: false,
        unprivileged_port_start,
        own_pid_namespace,
        binds_host_socket: binds.iter().any(|b| {
            use std::os::unix::fs::FileTypeExt;
            std::fs::metadata(&b.source).is_ok_and(|m| m.file_type().is_socket())
        }),
    };
    Ok(Plan {
        bundle: bundle.to_path_buf(),
        rootfs,
        boot,
        binds,
        hooks: hooks_of(spec),
        annotations: spec.annotations().clone().unwrap_or_default(),
        cgroups_path,
        resources,
        netns,
    })
}

fn hooks_of(spec: &Spec) -> Hooks {
    let Some(h) = spec.hooks() else {
        return Hooks::default();
    };
    let conv = |v: &Option<Vec<oci_spec::runtime::Hook>>| -> Vec<Hook> {
        v.iter()
            .flatten()
            .map(|h| Hook {
                path: h.path().clone(),
                args: h.args().clone().unwrap_or_default(),
                env: h.env().clone().unwrap_or_default(),
                timeout: h.timeout(),
            })
            .collect()
    };
    #[allow(deprecated)]
    let prestart = conv(h.prestart());
    Hooks {
        prestart,
        create_runtime: conv(h.create_runtime()),
        poststart: conv(h.poststart()),
        poststop: conv(h.poststop()),
    }
}

/// Every resource limit of Linux (libc's RLIM_NLIMITS is deprecated).
const RESOURCES: [u32; 16] = [
    libc::RLIMIT_CPU,
    libc::RLIMIT_FSIZE,
    libc::RLIMIT_DATA,
    libc::RLIMIT_STACK,
    libc::RLIMIT_CORE,
    libc::RLIMIT_RSS,
    libc::RLIMIT_NPROC,
    libc::RLIMIT_NOFILE,
    libc::RLIMIT_MEMLOCK,
    libc::RLIMIT_AS,
    libc::RLIMIT_LOCKS,
    libc::RLIMIT_SIGPENDING,
    libc::RLIMIT_MSGQUEUE,
    libc::RLIMIT_NICE,
    libc::RLIMIT_RTPRIO,
    libc::RLIMIT_RTTIME,
];

/// `rlimits` with every resource they leave out at our own limit: a
/// process runc starts inherits its caller's limits but for those the
/// spec sets (Docker's containers get dockerd's open-file limit, say).
pub fn with_callers_rlimits(mut rlimits: Vec<(u32, u64, u64)>) -> Vec<(u32, u64, u64)> {
    for res in RESOURCES {
        if rlimits.iter().any(|r| r.0 == res) {
            continue;
        }
        // SAFETY: rlimit is plain data; zero is a valid value.
        let mut r: libc::rlimit = unsafe { std::mem::zeroed() };
        // SAFETY: getrlimit writes one rlimit.
        if unsafe { libc::getrlimit(res, &mut r) } == 0 {
            rlimits.push((res, r.rlim_cur, r.rlim_max));
        }
    }
    rlimits
}

pub fn rlimit_resource(t: PosixRlimitType) -> u32 {
    use PosixRlimitType::*;
    match t {
        RlimitCpu => libc::RLIMIT_CPU,
        RlimitFsize => libc::RLIMIT_FSIZE,
        RlimitData => libc::RLIMIT_DATA,
        RlimitStack => libc::RLIMIT_STACK,
        RlimitCore => libc::RLIMIT_CORE,
        RlimitRss => libc::RLIMIT_RSS,
        RlimitNproc => libc::RLIMIT_NPROC,
        RlimitNofile => libc::RLIMIT_NOFILE,
        RlimitMemlock => libc::RLIMIT_MEMLOCK,
        RlimitAs => libc::RLIMIT_AS,
        RlimitLocks => libc::RLIMIT_LOCKS,
        RlimitSigpending => libc::RLIMIT_SIGPENDING,
        RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        RlimitNice => libc::RLIMIT_NICE,
        RlimitRtprio => libc::RLIMIT_RTPRIO,
        RlimitRttime => libc::RLIMIT_RTTIME,
    }
}

/// A container id runc would accept: letters, digits, `_+-.`, not `.`/`..`.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if !ok {
        bail!("invalid container id {id:?}: use letters, digits and _+-.");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(config: &str) -> (tempdir::Dir, Result<Plan>) {
        let d = tempdir::Dir::new();
        std::fs::create_dir(d.path.join("rootfs")).unwrap();
        std::fs::write(d.path.join("config.json"), config).unwrap();
        let p = load(&d.path);
        (d, p)
    }

    mod tempdir {
        pub struct Dir {
            pub path: std::path::PathBuf,
        }
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "runsc-spec-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Dir { path }
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.path);
            }
        }
    }

    const GOOD: &str = r#"{"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},
        "process":{"args":["/bin/sh","-c","true"],"cwd":"/","env":["PATH=/bin"],
                   "user":{"uid":1000,"gid":1000,"additionalGids":[5]},
                   "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":512}]},
        "hostname":"box",
        "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                  {"destination":"/dev/shm","type":"bind","source":"/tmp","options":["rbind"]},
                  {"destination":"/data","type":"bind","source":"/tmp","options":["rbind","ro"]}],
        "linux":{"resources":{"memory":{"limit":67108864},"pids":{"limit":50}}}}"#;

    #[test]
    fn capabilities_no_new_privileges_and_the_port_sysctl_reach_the_plan() {
        let cfg = GOOD
            .replace(
                r#""user":{"#,
                r#""noNewPrivileges":true,
                   "capabilities":{"bounding":["CAP_KILL","CAP_CHOWN"],"effective":["CAP_KILL"]},
                   "user":{"#,
            )
            .replace(
                r#""linux":{"#,
                r#""linux":{"sysctl":{"net.ipv4.ip_unprivileged_port_start":"0"},"#,
            );
        let (_d, p) = bundle(&cfg);
        let p = p.unwrap();
        let caps = p.boot.process.capabilities.unwrap();
        assert_eq!(caps.bounding, ["CAP_CHOWN", "CAP_KILL"]);
        assert_eq!(caps.effective, ["CAP_KILL"]);
        assert!(caps.permitted.is_empty() && caps.ambient.is_empty());
        assert!(p.boot.process.no_new_privileges);
        assert_eq!(p.boot.unprivileged_port_start, Some(0));
        let (_d, p) = bundle(GOOD);
        assert_eq!(p.unwrap().boot.process.capabilities, None);
    }

    #[test]
    fn a_good_spec_becomes_a_plan() {
        let (_d, p) = bundle(GOOD);
        let p = p.unwrap();
        assert_eq!(p.boot.process.args, ["/bin/sh", "-c", "true"]);
        assert_eq!((p.boot.process.uid, p.boot.process.gid), (1000, 1000));
        assert_eq!(p.boot.process.groups, [5]);
        assert!(p.boot.readonly_root);
        assert_eq!(p.boot.hostname.as_deref(), Some("box"));
        assert_eq!(p.boot.process.rlimits, [(libc::RLIMIT_NOFILE, 512, 1024)]);
        assert_eq!(p.boot.pids_limit, Some(50));
        assert_eq!(p.resources.memory_limit, Some(64 << 20));
        let types: Vec<_> = p.boot.mounts.iter().map(|m| m.fstype.as_str()).collect();
        assert_eq!(types, ["proc", "tmpfs", "bind"]);
        assert_eq!(p.binds.len(), 1);
        assert!(p.binds[0].readonly);
    }

    #[test]
    fn bad_specs_are_named() {
        for (config, want) in [
            ("{", "not a valid OCI runtime spec"),
            (
                r#"{"ociVersion":"1.0.2","process":{"args":["x"],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
                "root is missing",
            ),
            (
                r#"{"ociVersion":"1.0.2","root":{"path":"nowhere"},"process":{"args":["x"],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
                "is not a directory",
            ),
            (
                r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"}}"#,
                "process is missing",
            ),
            (
                r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":[],"cwd":"/","user":{"uid":0,"gid":0}}}"#,
                "must name a program",
            ),
            (
                r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["x"],"cwd":"rel","user":{"uid":0,"gid":0}}}"#,
                "not an absolute path",
            ),
            (
                r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["x"],"cwd":"/","user":{"uid":0,"gid":0}},"mounts":[{"destination":"/x","type":"nfs"}]}"#,
                "not supported",
            ),
            (
                r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["x"],"cwd":"/","user":{"uid":0,"gid":0}},"mounts":[{"destination":"/x","type":"bind","source":"/no/such/dir"}]}"#,
                "does not exist",
            ),
            (
                r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["x"],"cwd":"/","user":{"uid":0,"gid":0}},"linux":{"namespaces":[{"type":"pid"},{"type":"pid"}]}}"#,
                "given twice",
            ),
        ] {
            let (_d, p) = bundle(config);
            let e = format!("{:#}", p.expect_err(config));
            assert!(e.contains(want), "{config}: {e}");
        }
    }

    #[test]
    fn ids() {
        assert!(check_id("abc-1.2_x+y").is_ok());
        for bad in ["", ".", "..", "a/b", "a b", "é"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
