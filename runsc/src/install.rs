//! `install` / `uninstall`: register runsc-rs as a Docker runtime in
//! daemon.json (`{"runtimes": {NAME: {"path": BIN, "runtimeArgs": [...]}}}`)
//! without touching anything else in the file. The file is rewritten
//! atomically (a temporary file in the same directory, then rename); a
//! malformed file is an error and is left as it is.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};

/// `runsc-rs install`: adds (or replaces) the `runtime` entry.
pub fn install(config: &Path, runtime: &str, runtime_args: &[String]) -> Result<u8> {
    check_name(runtime)?;
    let bin = std::fs::read_link("/proc/self/exe")
        .context("cannot find this binary's path (/proc/self/exe)")?;
    let existing = read(config)?;
    let merged = add_runtime(existing.as_deref(), config, runtime, &bin, runtime_args)?;
    write_atomically(config, &merged)?;
    println!(
        "runsc-rs: added runtime {runtime:?} ({}) to {}; restart dockerd to use it \
         (docker run --runtime={runtime} ...)",
        bin.display(),
        config.display()
    );
    Ok(0)
}

/// `runsc-rs uninstall`: removes the `runtime` entry, if there is one.
pub fn uninstall(config: &Path, runtime: &str) -> Result<u8> {
    check_name(runtime)?;
    let Some(existing) = read(config)? else {
        println!(
            "runsc-rs: {} does not exist; nothing to uninstall",
            config.display()
        );
        return Ok(0);
    };
    match remove_runtime(&existing, config, runtime)? {
        Some(v) => {
            write_atomically(config, &v)?;
            println!(
                "runsc-rs: removed runtime {runtime:?} from {}",
                config.display()
            );
        }
        None => println!(
            "runsc-rs: {} has no runtime {runtime:?}; left unchanged",
            config.display()
        ),
    }
    Ok(0)
}

fn check_name(runtime: &str) -> Result<()> {
    if runtime.is_empty() {
        bail!("the runtime name must not be empty (--runtime=NAME)");
    }
    Ok(())
}

/// The file's text, or None if it does not exist.
fn read(config: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(config) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", config.display())),
    }
}

/// Parses daemon.json: a JSON object (an empty or blank file counts as `{}`).
fn parse(text: &str, config: &Path) -> Result<Map<String, Value>> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => bail!(
            "{} is not a JSON object; fix it by hand (left unchanged)",
            config.display()
        ),
        Err(e) => bail!(
            "{} is not valid JSON ({e}); fix it by hand (left unchanged)",
            config.display()
        ),
    }
}

/// daemon.json with `runtimes.NAME = {"path": BIN, "runtimeArgs": ARGS}`,
/// every other key kept.
pub fn add_runtime(
    existing: Option<&str>,
    config: &Path,
    runtime: &str,
    bin: &Path,
    runtime_args: &[String],
) -> Result<Value> {
    let mut top = parse(existing.unwrap_or(""), config)?;
    let runtimes = top
        .entry("runtimes")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(runtimes) = runtimes else {
        bail!(
            "\"runtimes\" in {} is not a JSON object; fix it by hand (left unchanged)",
            config.display()
        );
    };
    let mut entry = json!({ "path": bin.to_string_lossy() });
    if !runtime_args.is_empty() {
        entry["runtimeArgs"] = json!(runtime_args);
    }
    runtimes.insert(runtime.to_string(), entry);
    Ok(Value::Object(top))
}

/// daemon.json without `runtimes.NAME` (and without an emptied
/// `runtimes`), or None when there was no such entry.
pub fn remove_runtime(existing: &str, config: &Path, runtime: &str) -> Result<Option<Value>> {
    let mut top = parse(existing, config)?;
    let Some(runtimes) = top.get_mut("runtimes") else {
        return Ok(None);
    };
    let Value::Object(runtimes) = runtimes else {
        bail!(
            "\"runtimes\" in {} is not a JSON object; fix it by hand (left unchanged)",
            config.display()
        );
    };
    if runtimes.remove(runtime).is_none() {
        return Ok(None);
    }
    if runtimes.is_empty() {
        top.remove("runtimes");
    }
    Ok(Some(Value::Object(top)))
}

/// Writes `v` (pretty, with a final newline) to a temporary file next to
/// `config` and renames it over `config`; keeps an existing file's mode.
fn write_atomically(config: &Path, v: &Value) -> Result<()> {
    let dir = match config.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    let name = config
        .file_name()
        .with_context(|| format!("{} is not a file path", config.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".runsc-rs-{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let mut text = serde_json::to_string_pretty(v).context("cannot serialize daemon.json")?;
    text.push('\n');
    let result = (|| -> Result<()> {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        if let Ok(m) = std::fs::metadata(config) {
            f.set_permissions(m.permissions())
                .with_context(|| format!("cannot set the mode of {}", tmp.display()))?;
        }
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, config)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), config.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: &str = "/etc/docker/daemon.json";

    fn add(existing: Option<&str>, args: &[&str]) -> Result<Value> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        add_runtime(
            existing,
            Path::new(CFG),
            "runsc-rs",
            Path::new("/usr/bin/runsc-rs"),
            &args,
        )
    }

    #[test]
    fn install_into_a_missing_or_empty_file_creates_runtimes() {
        let want = json!({"runtimes": {"runsc-rs": {"path": "/usr/bin/runsc-rs"}}});
        assert_eq!(add(None, &[]).unwrap(), want);
        assert_eq!(add(Some(" \n"), &[]).unwrap(), want);
    }

    #[test]
    fn install_keeps_other_keys_and_runtimes_and_sets_runtime_args() {
        let existing = r#"{"log-level": "warn", "default-runtime": "runc",
            "runtimes": {"other": {"path": "/bin/other", "runtimeArgs": ["-x"]}},
            "features": {"buildkit": true}}"#;
        let v = add(Some(existing), &["--network=none", "--strace"]).unwrap();
        assert_eq!(
            v,
            json!({
                "log-level": "warn",
                "default-runtime": "runc",
                "features": {"buildkit": true},
                "runtimes": {
                    "other": {"path": "/bin/other", "runtimeArgs": ["-x"]},
                    "runsc-rs": {"path": "/usr/bin/runsc-rs",
                                 "runtimeArgs": ["--network=none", "--strace"]}
                }
            })
        );
    }

    #[test]
    fn install_replaces_an_older_entry_of_the_same_name() {
        let existing =
            r#"{"runtimes": {"runsc-rs": {"path": "/old", "runtimeArgs": ["--debug"]}}}"#;
        let v = add(Some(existing), &[]).unwrap();
        assert_eq!(
            v,
            json!({"runtimes": {"runsc-rs": {"path": "/usr/bin/runsc-rs"}}})
        );
    }

    #[test]
    fn malformed_files_are_errors_naming_the_file() {
        for bad in ["{", "[1, 2]", "\"x\"", r#"{"runtimes": 3}"#] {
            let e = add(Some(bad), &[]).unwrap_err().to_string();
            assert!(e.contains(CFG), "{bad}: {e}");
            let e = remove_runtime(bad, Path::new(CFG), "runsc-rs")
                .unwrap_err()
                .to_string();
            assert!(e.contains(CFG), "{bad}: {e}");
        }
    }

    #[test]
    fn uninstall_removes_only_that_entry() {
        let existing = r#"{"debug": true, "runtimes": {"runsc-rs": {"path": "/a"},
            "other": {"path": "/b"}}}"#;
        let v = remove_runtime(existing, Path::new(CFG), "runsc-rs")
            .unwrap()
            .unwrap();
        assert_eq!(
            v,
            json!({"debug": true, "runtimes": {"other": {"path": "/b"}}})
        );
        // The last runtime gone, the emptied "runtimes" goes too.
        let v = remove_runtime(
            r#"{"debug": true, "runtimes": {"runsc-rs": {}}}"#,
            Path::new(CFG),
            "runsc-rs",
        )
        .unwrap()
        .unwrap();
        assert_eq!(v, json!({"debug": true}));
        // No such entry: nothing to write.
        assert!(remove_runtime(existing, Path::new(CFG), "nope")
            .unwrap()
            .is_none());
        assert!(remove_runtime("{}", Path::new(CFG), "runsc-rs")
            .unwrap()
            .is_none());
    }
}
