//! OCI hooks, run on the host.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::state::Container;

/// Runs hooks on the host with the container's state on stdin, as the
/// runtime spec says; a hook that fails or outlives its timeout is an
/// error naming it.
pub fn run_hooks(stage: &str, hooks: &[crate::spec::Hook], c: &Container) -> Result<()> {
    let state = serde_json::to_vec(&c.oci_state())?;
    for h in hooks {
        let mut cmd = Command::new(&h.path);
        if let Some((first, rest)) = h.args.split_first() {
            use std::os::unix::process::CommandExt;
            cmd.arg0(first).args(rest);
        }
        cmd.env_clear();
        for e in &h.env {
            if let Some((k, v)) = e.split_once('=') {
                cmd.env(k, v);
            }
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("{stage} hook {}", h.path.display()))?;
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(&state);
        }
        let deadline = h
            .timeout
            .filter(|t| *t > 0)
            .map(|t| Instant::now() + Duration::from_secs(t as u64));
        let status = loop {
            if let Some(s) = child.try_wait()? {
                break s;
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                let _ = child.kill();
                let _ = child.wait();
                bail!("{stage} hook {} timed out", h.path.display());
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if !status.success() {
            bail!("{stage} hook {} failed: {status}", h.path.display());
        }
    }
    Ok(())
}
