//! `pause` and `resume`: the container's cgroup frozen and thawed.

use anyhow::{bail, Result};

use crate::config::Config;
use crate::state::{Root, Status};

pub fn pause(g: &Config, id: &str, frozen: bool) -> Result<u8> {
    let root = Root::open(g)?;
    let c = root.load(id)?;
    match (c.status(), frozen) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (s, _) => bail!(
            "cannot {} container {id:?}: it is {}",
            if frozen { "pause" } else { "resume" },
            s.as_str()
        ),
    }
    crate::cgroup::freeze(&c.cgroups, frozen)?;
    Ok(0)
}
