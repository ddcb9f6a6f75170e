//! `ps`: a container's processes (host pids for containerd, or the
//! sandbox's own list).

use anyhow::{bail, Result};

use super::host_pids::host_pids;
use crate::config::Config;
use crate::state::{Root, Status};

pub fn ps(g: &Config, id: &str, format: &str) -> Result<u8> {
    let root = Root::open(g)?;
    let c = root.load(id)?;
    if c.status() == Status::Stopped {
        bail!("container {id:?}: container not running");
    }
    match format {
        // containerd (and so `docker top`) asks for host pids and looks
        // them up in the host's `ps`: the sandbox's host processes.
        "json" => println!("{}", serde_json::to_string(&host_pids(&c))?),
        "table" => {
            let (dir, container) = root.control(&c);
            let r = crate::control::call(&dir, &crate::control::Request::Ps { container })?;
            println!("PID\tPPID\tUID\tCMD");
            for p in r.processes {
                println!("{}\t{}\t{}\t{}", p.pid, p.ppid, p.uid, p.comm);
            }
        }
        f => bail!("unknown format {f:?}: use table or json"),
    }
    Ok(0)
}
