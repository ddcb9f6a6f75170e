//! `delete`: a stopped (or, with --force, any) container and every trace
//! of it.

use anyhow::{bail, Result};

use super::destroy::destroy;
use crate::config::Config;
use crate::state::{Root, Status};

pub fn delete(g: &Config, id: &str, force: bool) -> Result<u8> {
    let root = Root::open(g)?;
    let c = match root.load(id) {
        Ok(c) => c,
        Err(_) if force && !root.dir(id).join("state.json").exists() => {
            // Nothing to delete (runc's --force is quiet about it), but a
            // directory left half-made by a crashed create goes too.
            let _ = root.remove(id);
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    match c.status() {
        Status::Running | Status::Paused if !force => {
            bail!("cannot delete container {id:?} that is not stopped: it is running")
        }
        _ => {}
    }
    if c.status() == Status::Paused {
        let _ = crate::cgroup::freeze(&c.cgroups, false);
    }
    destroy(&root, &c);
    Ok(0)
}
