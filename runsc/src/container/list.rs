//! `list`: the containers under the state root.

use anyhow::{bail, Result};

use crate::config::Config;
use crate::state::{Container, Root, Status};

pub fn list(g: &Config, format: &str, quiet: bool) -> Result<u8> {
    let root = Root::open(g)?;
    let cs: Vec<Container> = root
        .ids()
        .iter()
        .filter_map(|i| root.load(i).ok())
        .collect();
    if quiet {
        for c in &cs {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    match format {
        "json" => {
            let v: Vec<_> = cs.iter().map(|c| c.oci_state()).collect();
            println!("{}", serde_json::to_string(&v)?);
        }
        "table" => {
            println!("ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER");
            for c in &cs {
                let s = c.status();
                let pid = if s == Status::Stopped { 0 } else { c.pid };
                println!(
                    "{}\t{pid}\t{}\t{}\t{}\t{}",
                    c.id,
                    s.as_str(),
                    c.bundle.display(),
                    c.created,
                    c.owner
                );
            }
        }
        f => bail!("unknown format {f:?}: use table or json"),
    }
    Ok(0)
}
