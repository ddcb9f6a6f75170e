//! Logging: one file per process under `--debug-log=DIR`, else warnings to
//! stderr only with `--debug`.

use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::config::Config;

pub fn init(g: &Config, process: &str) -> Result<()> {
    let level = if g.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    if let Some(dir) = &g.debug_log {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
        let path = dir.join(format!("{process}.log"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open the log file {}", path.display()))?;
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .init();
    } else if g.debug {
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .init();
    }
    Ok(())
}

/// Appends an error to the `--log` file: with `json`, one JSON line with
/// logrus's keys (lower-case `level`, `msg`, `time`), which containerd
/// reads to show the runtime's last error to the `docker run` user.
pub fn append_error(path: &std::path::Path, json: bool, msg: &str) {
    use std::io::Write;
    let time = crate::state::now_rfc3339();
    let line = if json {
        serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
    } else {
        format!("time=\"{time}\" level=error msg={msg:?}")
    };
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

/// Reports a panic of a runtime command (create, start, kill ...) with
/// its message and location through tracing and the `--log` file, where
/// containerd shows the runtime's last error to the `docker` user, before
/// the default hook prints it. (The Sentry and the Gofer have their own
/// hook, sandbox/process.rs: under seccomp they could not open the file.)
pub fn log_panics(g: &Config) {
    let log = g.log.clone();
    let json = g.log_format == crate::config::LogFormat::Json;
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = format!("runsc-rs panicked: {info}");
        tracing::error!("{msg}");
        if let Some(path) = &log {
            append_error(path, json, &msg);
        }
        default(info);
    }));
}
