//! `events`: statistics records (memory, pids) of a running container.

use std::time::Duration;

use anyhow::{bail, Result};

use super::host_pids::host_pids;
use crate::config::Config;
use crate::state::{Root, Status};

/// `events --stats`: one JSON stats record (containerd's runc shim reads
/// `data.memory.usage.usage`, `data.pids.current` ...); without --stats, a
/// record every `interval` until the container stops.
pub fn events(g: &Config, id: &str, stats: bool, interval: Duration) -> Result<u8> {
    let root = Root::open(g)?;
    loop {
        let c = root.load(id)?;
        if c.status() == Status::Stopped {
            bail!("container {id:?}: container not running");
        }
        let pids = host_pids(&c).len();
        let mem = crate::cgroup::memory_usage(&c.cgroups).unwrap_or(0);
        let ev = serde_json::json!({
            "type": "stats",
            "id": id,
            "data": {
                "memory": {"usage": {"usage": mem}},
                "pids": {"current": pids},
            }
        });
        println!("{ev}");
        if stats {
            return Ok(0);
        }
        std::thread::sleep(interval);
    }
}
