//! `start`: runs a created container's process.

use anyhow::{bail, Result};

use super::hooks::run_hooks;
use crate::config::Config;
use crate::state::{Root, Status};

pub fn start(g: &Config, id: &str) -> Result<u8> {
    let root = Root::open(g)?;
    let mut c = root.load(id)?;
    match c.status() {
        Status::Created => {}
        s => bail!("cannot start container {id:?}: it is {}", s.as_str()),
    }
    let req = match &c.sandbox {
        Some(_) => crate::control::Request::StartContainer { id: id.to_string() },
        None => crate::control::Request::Start,
    };
    crate::control::call(&root.control(&c).0, &req)?;
    c.started = true;
    root.save(&c)?;
    let hooks = crate::spec::load(&c.bundle)
        .map(|p| p.hooks.poststart)
        .unwrap_or_default();
    // A failing poststart hook is logged, not fatal (runtime spec).
    if let Err(e) = run_hooks("poststart", &hooks, &c) {
        tracing::warn!("{e:#}");
    }
    Ok(0)
}
