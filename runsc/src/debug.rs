//! `runsc-rs debug`: looking into a running sandbox.
//!
//! `--stacks` prints every task of a container's Sentry with the syscall it
//! is in (and its arguments), what it sleeps on and for how long, and its
//! pending and blocked signals: what to look at when a container hangs.
//! A `do` sandbox has no control socket; its Sentry writes the same dump to
//! its stderr and debug log on SIGPWR (`kill -PWR <runsc-rs-sentry pid>`).

use anyhow::{bail, Result};

use crate::config::Config;
use crate::state::Root;

/// `debug`: with `stacks`, prints container `id`'s task dump.
pub fn debug(g: &Config, stacks: bool, id: &str) -> Result<u8> {
    if !stacks {
        bail!("nothing to do: give --stacks");
    }
    let root = Root::open(g)?;
    root.load(id)?;
    let r = crate::control::call(&root.dir(id), &crate::control::Request::Stacks)?;
    print!("{}", r.stacks.unwrap_or_default());
    Ok(0)
}
