//! Container state under `--root`: one directory per container holding
//! `state.json` and the Sentry's control socket. The state of a container
//! is derived, not stored: a live supervisor (same pid *and* start time, so
//! a reused pid is not mistaken for it) means created or running.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The supervisor: the process Docker waits on and signals.
    pub pid: i32,
    /// Its start time (field 22 of /proc/PID/stat), to tell it from a
    /// later process that got the same pid.
    pub pid_start: u64,
    /// RFC 3339.
    pub created: String,
    pub owner: String,
    pub annotations: HashMap<String, String>,
    pub started: bool,
    /// Host cgroup directories made for the sandbox (removed by delete).
    pub cgroups: Vec<PathBuf>,
    pub poststop: Vec<crate::spec::Hook>,
    /// The sandbox container whose Sentry runs this one (a pod's further
    /// container); None: it has a sandbox of its own. Its `pid` is then
    /// its host proxy's, which exits as the container's init does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<String>,
    /// A pod's further container paused in its Sentry (`pause`): its own
    /// cgroup holds only its proxy and Gofer, so its freezer cannot say.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// A pod's further container: its sandbox's cgroups, whose freezing
    /// (`pause` of the sandbox container) stops it too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sandbox_cgroups: Vec<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The `--root` directory.
pub struct Root {
    pub path: PathBuf,
}

impl Root {
    /// The configuration's state directory, made if missing (private to
    /// its owner, as runc makes its own). Rootless, it must be the
    /// caller's: one under /tmp may have been made by another user.
    pub fn open(g: &crate::config::Config) -> Result<Root> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let path = &g.root;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(path)
            .with_context(|| format!("cannot create the state directory {}", path.display()))?;
        if g.rootless {
            let owner = std::fs::metadata(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .uid();
            if owner != nix::unistd::geteuid().as_raw() {
                bail!(
                    "the state directory {} is not yours (owner uid {owner}); give --root",
                    path.display()
                );
            }
        }
        Ok(Root {
            path: path.to_path_buf(),
        })
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.path.join(id)
    }

    /// Where `c`'s Sentry is reached (its sandbox's control socket's
    /// directory), and the name the Sentry knows `c` by: None for the
    /// sandbox's own container.
    pub fn control(&self, c: &Container) -> (PathBuf, Option<String>) {
        match &c.sandbox {
            Some(s) => (self.dir(s), Some(c.id.clone())),
            None => (self.dir(&c.id), None),
        }
    }

    /// Reserves `id`: fails if a container of that id exists.
    pub fn reserve(&self, id: &str) -> Result<PathBuf> {
        let d = self.dir(id);
        match std::fs::create_dir(&d) {
            Ok(()) => Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                bail!("container {id:?} already exists")
            }
            Err(e) => Err(e).with_context(|| format!("cannot create {}", d.display())),
        }
    }

    pub fn load(&self, id: &str) -> Result<Container> {
        crate::spec::check_id(id)?;
        let p = self.dir(id).join("state.json");
        let text = match std::fs::read_to_string(&p) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("container {id:?} does not exist")
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", p.display())),
        };
        serde_json::from_str(&text).with_context(|| format!("{} is corrupt", p.display()))
    }

    pub fn save(&self, c: &Container) -> Result<()> {
        let dir = self.dir(&c.id);
        let tmp = dir.join("state.json.tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(c)?)?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join("state.json"))?;
        Ok(())
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        let d = self.dir(id);
        match std::fs::remove_dir_all(&d) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot remove {}", d.display())),
        }
    }

    /// The ids of every container with a state directory.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.path)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        v.sort();
        v
    }
}

impl Container {
    /// Whether the supervisor is this container's and still alive.
    pub fn alive(&self) -> bool {
        self.pid > 0 && start_time(self.pid) == Some(self.pid_start)
    }

    pub fn status(&self) -> Status {
        if !self.alive() {
            return Status::Stopped;
        }
        if self.paused
            || crate::cgroup::frozen(&self.cgroups)
            || crate::cgroup::frozen(&self.sandbox_cgroups)
        {
            return Status::Paused;
        }
        if self.started {
            Status::Running
        } else {
            Status::Created
        }
    }

    /// The OCI state JSON (with runc's extra fields: rootfs, created,
    /// owner).
    pub fn oci_state(&self) -> serde_json::Value {
        let status = self.status();
        let mut v = serde_json::json!({
            "ociVersion": "1.0.2",
            "id": self.id,
            "status": status.as_str(),
            "pid": if status == Status::Stopped { 0 } else { self.pid },
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

/// Field 22 of /proc/PID/stat (start time in clock ticks since boot).
pub fn start_time(pid: i32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after
    // the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let st = rest.split_whitespace().next()?;
    if st == "Z" || st == "X" {
        return None;
    }
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Now, in RFC 3339 with nanoseconds (UTC), as runc writes `created`.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_start_time_is_readable_and_stable() {
        let me = std::process::id() as i32;
        let a = start_time(me).unwrap();
        assert_eq!(start_time(me), Some(a));
        assert_eq!(start_time(i32::MAX), None);
    }

    #[test]
    fn rfc3339_looks_right() {
        let s = now_rfc3339();
        assert_eq!(s.len(), "2026-11-23T19:08:03.123456789Z".len(), "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }
}
