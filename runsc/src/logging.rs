//! Logging: one file per process under `--debug-log`, else warnings to
//! stderr only with `--debug`.
//!
//! `--debug-log` is a directory (each process writes `PROCESS.log` in it,
//! as before), or, when it names `%ID%` or `%COMMAND%` (gVisor's
//! variables), a pattern for each process's file: `%ID%` is the container
//! id (empty for commands without one), `%COMMAND%` the subcommand
//! (`boot`, `gofer`, `create`, ...). A pattern ending in `/` is a
//! directory again.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use crate::config::Config;

/// Who is logging: the process kind (`boot`, `runtime`, ...) that names
/// the file in a directory, the subcommand and the container id.
pub struct LogName<'a> {
    pub process: &'a str,
    pub command: &'a str,
    pub id: Option<&'a str>,
}

/// The file `--debug-log=debug_log` gives this process.
pub fn log_path(debug_log: &Path, who: &LogName) -> PathBuf {
    let raw = debug_log.to_string_lossy();
    if !raw.contains("%ID%") && !raw.contains("%COMMAND%") {
        return debug_log.join(format!("{}.log", who.process));
    }
    let path = raw
        .replace("%ID%", who.id.unwrap_or(""))
        .replace("%COMMAND%", who.command);
    if path.ends_with('/') {
        Path::new(&path).join(format!("{}.log", who.process))
    } else {
        PathBuf::from(path)
    }
}

pub fn init(g: &Config, who: &LogName) -> Result<()> {
    let level = if g.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    if let Some(debug_log) = &g.debug_log {
        let path = log_path(debug_log, who);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the log directory {}", dir.display()))?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn who<'a>(process: &'a str, command: &'a str, id: Option<&'a str>) -> LogName<'a> {
        LogName {
            process,
            command,
            id,
        }
    }

    #[test]
    fn a_directory_holds_one_file_per_process_kind() {
        assert_eq!(
            log_path(Path::new("/l/"), &who("runtime", "create", Some("c1"))),
            Path::new("/l/runtime.log")
        );
        assert_eq!(
            log_path(Path::new("/l"), &who("boot", "boot", Some("c1"))),
            Path::new("/l/boot.log")
        );
    }

    #[test]
    fn a_pattern_names_each_containers_files() {
        let p = Path::new("/l/%ID%/%COMMAND%.txt");
        assert_eq!(
            log_path(p, &who("runtime", "create", Some("c1"))),
            Path::new("/l/c1/create.txt")
        );
        assert_eq!(
            log_path(p, &who("boot", "boot", Some("c2"))),
            Path::new("/l/c2/boot.txt")
        );
        assert_eq!(
            log_path(Path::new("/l/%ID%/"), &who("gofer", "gofer", Some("c2"))),
            Path::new("/l/c2/gofer.log")
        );
        assert_eq!(log_path(p, &who("do", "do", None)), Path::new("/l//do.txt"));
    }
}
