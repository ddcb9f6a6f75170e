//! `pause` and `resume`. A sandbox's container: its cgroup frozen and
//! thawed, which stops the whole Sentry (and so every container of a pod,
//! as gVisor's `pause` stops its whole kernel). A pod's further
//! container: its processes stopped and continued inside the Sentry
//! (its cgroup holds only its host proxy and Gofer), the pod's other
//! containers running on, as runc pauses one container of a pod.

use anyhow::{bail, Result};

use crate::config::Config;
use crate::control::Request;
use crate::state::{Root, Status};

pub fn pause(g: &Config, id: &str, frozen: bool) -> Result<u8> {
    let root = Root::open(g)?;
    let mut c = root.load(id)?;
    let verb = if frozen { "pause" } else { "resume" };
    match (c.status(), frozen) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (s, _) => bail!("cannot {verb} container {id:?}: it is {}", s.as_str()),
    }
    let Some(sandbox) = &c.sandbox else {
        crate::cgroup::freeze(&c.cgroups, frozen)?;
        return Ok(0);
    };
    if !frozen && !c.paused {
        // Paused only as part of its paused sandbox, whose Sentry is
        // frozen and would not answer.
        bail!("cannot {verb} container {id:?}: its sandbox {sandbox:?} is paused; resume that");
    }
    let (dir, _) = root.control(&c);
    crate::control::call(
        &dir,
        &Request::PauseContainer {
            id: id.to_string(),
            paused: frozen,
        },
    )?;
    c.paused = frozen;
    root.save(&c)?;
    Ok(0)
}
