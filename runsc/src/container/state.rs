//! `state`: a container's OCI state as JSON.

use anyhow::Result;

use crate::config::Config;
use crate::state::Root;

pub fn state(g: &Config, id: &str) -> Result<u8> {
    let root = Root::open(g)?;
    let c = root.load(id)?;
    println!("{}", serde_json::to_string_pretty(&c.oci_state())?);
    Ok(0)
}
