//! Host cgroups for a sandbox: the Sentry, the Gofer and the application's
//! stub processes all live in the container's cgroup, so its memory, CPU
//! and pid limits bound the whole sandbox. cgroup v2 (unified, limits
//! converted in `v2.rs`), v1 (one hierarchy per controller) and the hybrid
//! of the two are handled. On a hybrid host (v1 controllers, and a cgroup2
//! hierarchy at /sys/fs/cgroup/unified holding the controllers no v1
//! hierarchy took) the limits are v1's and the sandbox is also placed in
//! the unified hierarchy, as runc places a container there.

mod v2;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::spec::Resources;

const ROOT: &str = "/sys/fs/cgroup";
/// The cgroup2 hierarchy of a hybrid host (systemd's place for it).
const HYBRID_UNIFIED: &str = "/sys/fs/cgroup/unified";
/// v1 hierarchies the sandbox joins (those present are used).
const V1_CONTROLLERS: &[&str] = &["memory", "pids", "cpu", "cpuacct", "freezer", "systemd"];

/// Host processes per sandbox task: each application task is served by one
/// Sentry thread and runs in one stub thread.
const HOST_TASKS_PER_TASK: i64 = 2;
/// Sentry and Gofer threads that exist whatever the application does.
const HOST_TASKS_BASE: i64 = 64;

fn is_v2() -> bool {
    Path::new(ROOT).join("cgroup.controllers").exists()
}

/// The cgroup path relative to a hierarchy's root. systemd-style paths
/// (`slice:prefix:name`) become `slice/prefix-name.scope`, as runc's
/// systemd driver places them.
pub fn relative_path(cgroups_path: &Path, systemd: bool) -> PathBuf {
    let s = cgroups_path.to_string_lossy();
    let parts: Vec<&str> = s.split(':').collect();
    if systemd && parts.len() == 3 {
        let slice = if parts[0].is_empty() {
            "system.slice"
        } else {
            parts[0]
        };
        return PathBuf::from(slice).join(format!("{}-{}.scope", parts[1], parts[2]));
    }
    PathBuf::from(s.trim_start_matches('/'))
}

/// Creates the sandbox's cgroup(s), applies the limits and moves `pid`
/// in. Returns the directories made, for [`remove`]; on error, none is
/// left.
pub fn setup(cgroups_path: &Path, systemd: bool, r: &Resources, pid: i32) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    match setup_into(&mut dirs, cgroups_path, systemd, r, pid) {
        Ok(()) => Ok(dirs),
        Err(e) => {
            remove(&dirs);
            Err(e)
        }
    }
}

/// [`setup`] for a rootless sandbox, as runc's rootless cgroup managers
/// do it: a cgroup the caller may not make or join (one not delegated to
/// it) is skipped, and the sandbox stays in its caller's, unless the
/// spec sets limits, which would then silently not hold.
pub fn setup_rootless(
    cgroups_path: &Path,
    systemd: bool,
    r: &Resources,
    pid: i32,
) -> Result<Vec<PathBuf>> {
    match setup(cgroups_path, systemd, r, pid) {
        Ok(dirs) => Ok(dirs),
        Err(e) if !r.limits_any() => {
            tracing::info!("rootless: no cgroup of its own for the sandbox ({e:#})");
            Ok(Vec::new())
        }
        Err(e) => Err(e.context(
            "rootless: the container's resource limits need a cgroup its caller may \
             write (delegated to it, as systemd's Delegate=yes does)",
        )),
    }
}

fn setup_into(
    dirs: &mut Vec<PathBuf>,
    cgroups_path: &Path,
    systemd: bool,
    r: &Resources,
    pid: i32,
) -> Result<()> {
    let rel = relative_path(cgroups_path, systemd);
    if is_v2() {
        let d = Path::new(ROOT).join(&rel);
        create(&d)?;
        dirs.push(d.clone());
        enable_v2_controllers(Path::new(ROOT), &d);
        v2::apply(&d, &v2::settings(r, host_pids)?)?;
        write(&d, "cgroup.procs", &pid.to_string())?;
    } else {
        for c in V1_CONTROLLERS {
            let base = Path::new(ROOT).join(c);
            if !base.is_dir() {
                continue;
            }
            let d = base.join(&rel);
            create(&d)?;
            dirs.push(d.clone());
            match *c {
                "memory" => {
                    if let Some(m) = r.memory_limit {
                        write(&d, "memory.limit_in_bytes", &m.to_string())?;
                        if let Some(s) = r.memory_swap {
                            let _ = write(&d, "memory.memsw.limit_in_bytes", &s.to_string());
                        }
                    }
                }
                "pids" => {
                    if let Some(p) = r.pids_limit {
                        write(&d, "pids.max", &host_pids(p).to_string())?;
                    }
                }
                "cpu" => {
                    if let Some(p) = r.cpu_period {
                        write(&d, "cpu.cfs_period_us", &p.to_string())?;
                    }
                    if let Some(q) = r.cpu_quota {
                        write(&d, "cpu.cfs_quota_us", &q.to_string())?;
                    }
                    if let Some(s) = r.cpu_shares {
                        write(&d, "cpu.shares", &s.to_string())?;
                    }
                }
                _ => {}
            }
            write(&d, "cgroup.procs", &pid.to_string())?;
        }
        let unified = Path::new(HYBRID_UNIFIED);
        if unified.join("cgroup.controllers").exists() {
            // No limit here: the controllers that enforce them are v1's.
            let d = unified.join(&rel);
            create(&d)?;
            dirs.push(d.clone());
            write(&d, "cgroup.procs", &pid.to_string())?;
        }
    }
    Ok(())
}

/// The host pid limit that lets `p` sandbox tasks run: the Sentry counts
/// and limits the application's tasks itself; the host limit is the
/// backstop for the sandbox as a whole.
fn host_pids(p: i64) -> i64 {
    p.saturating_mul(HOST_TASKS_PER_TASK)
        .saturating_add(HOST_TASKS_BASE)
}

fn create(d: &Path) -> Result<()> {
    std::fs::create_dir_all(d).with_context(|| format!("cannot create cgroup {}", d.display()))
}

fn write(d: &Path, file: &str, value: &str) -> Result<()> {
    std::fs::write(d.join(file), value)
        .with_context(|| format!("cannot write {value} to {}", d.join(file).display()))
}

/// Makes the v2 controllers available to `d` by enabling them in each
/// ancestor's subtree_control below `root` (best effort: a parent may not
/// allow them).
fn enable_v2_controllers(root: &Path, d: &Path) {
    let mut ancestors: Vec<&Path> = d
        .ancestors()
        .skip(1)
        .take_while(|a| a.starts_with(root))
        .collect();
    ancestors.reverse();
    for a in ancestors {
        for c in ["memory", "pids", "cpu"] {
            let _ = std::fs::write(a.join("cgroup.subtree_control"), format!("+{c}"));
        }
    }
}

/// Freezes or thaws every process of the sandbox.
pub fn freeze(dirs: &[PathBuf], frozen: bool) -> Result<()> {
    for d in dirs {
        if d.join("cgroup.freeze").exists() {
            return write(d, "cgroup.freeze", if frozen { "1" } else { "0" });
        }
        if d.join("freezer.state").exists() {
            return write(d, "freezer.state", if frozen { "FROZEN" } else { "THAWED" });
        }
    }
    anyhow::bail!("the sandbox has no freezer cgroup (was it created with a cgroupsPath?)")
}

pub fn frozen(dirs: &[PathBuf]) -> bool {
    for d in dirs {
        if let Ok(s) = std::fs::read_to_string(d.join("cgroup.freeze")) {
            return s.trim() == "1";
        }
        if let Ok(s) = std::fs::read_to_string(d.join("freezer.state")) {
            return s.trim() == "FROZEN";
        }
    }
    false
}

/// Memory use of the sandbox in bytes, if the cgroup reports it.
pub fn memory_usage(dirs: &[PathBuf]) -> Option<u64> {
    dirs.iter().find_map(|d| {
        ["memory.current", "memory.usage_in_bytes"]
            .iter()
            .find_map(|f| std::fs::read_to_string(d.join(f)).ok())
            .and_then(|s| s.trim().parse().ok())
    })
}

/// Removes the sandbox's cgroups, waiting briefly for exiting processes
/// to leave them.
pub fn remove(dirs: &[PathBuf]) {
    for d in dirs {
        for _ in 0..100 {
            match std::fs::remove_dir(d) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            relative_path(Path::new("/docker/abc"), false),
            PathBuf::from("docker/abc")
        );
        assert_eq!(
            relative_path(Path::new("system.slice:docker:abc"), true),
            PathBuf::from("system.slice/docker-abc.scope")
        );
        assert_eq!(host_pids(50), 164);
    }
}
