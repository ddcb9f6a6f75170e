//! The runtime's process specs as the Sentry takes them: an init (or
//! exec'd) process's credentials, capabilities and limits, and its stdio
//! from the descriptors the runtime sent.

use std::os::fd::OwnedFd;

use sentry::boot::{Credentials, InitProcess, Stdio};

use crate::control::ProcessSpec;

/// A process for the Sentry to start, running as (uid, gid, groups).
pub fn process(p: &ProcessSpec, forward_signals: Vec<i32>) -> InitProcess {
    let mut creds = Credentials::of(p.uid, p.gid, p.groups.clone());
    if let Some(c) = &p.capabilities {
        let set = sentry::boot::capabilities_named;
        creds.bounding = set(&c.bounding);
        creds.effective = set(&c.effective);
        creds.permitted = set(&c.permitted);
        creds.inheritable = set(&c.inheritable);
        // Only what is both permitted and inheritable can be ambient: the
        // rest is what runc's PR_CAP_AMBIENT_RAISE fails on and skips.
        creds.ambient = set(&c.ambient)
            .intersect(creds.permitted)
            .intersect(creds.inheritable);
    }
    creds.no_new_privs = p.no_new_privileges;
    InitProcess {
        argv: p.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        envp: p.env.iter().map(|e| e.as_bytes().to_vec()).collect(),
        cwd: p.cwd.as_bytes().to_vec(),
        creds,
        forward_signals,
        home_from_passwd: true,
        rlimits: p.rlimits.clone(),
    }
}

/// A process's stdio from the descriptors sent: three, or one host
/// terminal.
pub fn stdio_of(terminal: bool, fds: Vec<OwnedFd>) -> Result<Stdio, String> {
    match (terminal, <[OwnedFd; 3]>::try_from(fds)) {
        (false, Ok(three)) => Ok(Stdio::Host(three)),
        (true, Err(mut one)) if one.len() == 1 => {
            Ok(Stdio::Console(one.pop().expect("one descriptor")))
        }
        _ => Err("wrong descriptors for the process's stdio".into()),
    }
}
