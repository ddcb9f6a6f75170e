//! `run`: `create` and `start`, then (unless detached) wait for the
//! container as its supervisor's parent.

use anyhow::Result;

use super::create::{create_inner, CreateOptions};
use super::destroy::destroy;
use super::start::start;
use crate::config::Config;
use crate::state::Root;

pub fn run(g: &Config, a: &CreateOptions, detach: bool) -> Result<u8> {
    let (c, mut child) = create_inner(g, a)?;
    let root = Root::open(g)?;
    if let Err(e) = start(g, &c.id) {
        destroy(&root, &c);
        let _ = child.wait();
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    crate::sandbox::forward_signals_to(c.pid);
    let status = loop {
        match child.wait() {
            Ok(s) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    };
    destroy(&root, &c);
    use std::os::unix::process::ExitStatusExt;
    Ok(status
        .code()
        .map(|c| c as u8)
        .unwrap_or_else(|| 128u8.wrapping_add(status.signal().unwrap_or(0) as u8)))
}
