//! `runsc-rs install` / `uninstall` on a daemon.json of the test's own:
//! other keys survive, the entry names this binary, a malformed file is an
//! error and stays as it was. (The Docker tests run dockerd on a daemon.json
//! written by `install`, so Docker accepting the result is tested there.)

use serde_json::{json, Value};
use tests::{runsc_bin, scratch_dir, unique_name, Cmd};

fn runsc(args: &[&str]) -> tests::Output {
    let bin = runsc_bin();
    let mut argv = vec![bin.to_str().unwrap()];
    argv.extend_from_slice(args);
    Cmd::new(&argv).run_native()
}

fn read(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn install_then_uninstall_keeps_the_rest_of_daemon_json() {
    let dir = scratch_dir().join(unique_name("install"));
    let cfg = dir.join("docker/daemon.json");
    let cfg_arg = format!("--config-file={}", cfg.display());
    let bin = runsc_bin().canonicalize().unwrap();

    // A missing file (and directory) is created.
    runsc(&["install", &cfg_arg]).assert_success();
    assert_eq!(
        read(&cfg),
        json!({"runtimes": {"runsc-rs": {"path": bin.to_str().unwrap()}}})
    );

    std::fs::write(
        &cfg,
        r#"{"log-level": "warn", "runtimes": {"other": {"path": "/bin/other"}}}"#,
    )
    .unwrap();
    let o = runsc(&[
        "install",
        "--runtime=sb",
        &cfg_arg,
        "--",
        "--network=none",
        "--strace",
    ]);
    o.assert_success();
    assert!(o.stdout.contains("restart dockerd"), "{}", o.describe());
    assert_eq!(
        read(&cfg),
        json!({"log-level": "warn", "runtimes": {
            "other": {"path": "/bin/other"},
            "sb": {"path": bin.to_str().unwrap(), "runtimeArgs": ["--network=none", "--strace"]}
        }})
    );
    // No temporary file is left next to it.
    let names: Vec<_> = std::fs::read_dir(cfg.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["daemon.json"], "{names:?}");

    runsc(&["uninstall", "--runtime=sb", &cfg_arg]).assert_success();
    assert_eq!(
        read(&cfg),
        json!({"log-level": "warn", "runtimes": {"other": {"path": "/bin/other"}}})
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_malformed_daemon_json_is_an_error_and_left_untouched() {
    let dir = scratch_dir().join(unique_name("install-bad"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("daemon.json");
    let bad = "{\"runtimes\": {\n";
    std::fs::write(&cfg, bad).unwrap();
    let cfg_arg = format!("--config-file={}", cfg.display());
    for args in [vec!["install", &cfg_arg], vec!["uninstall", &cfg_arg]] {
        let o = runsc(&args);
        assert_eq!(o.status, 1, "{}", o.describe());
        assert!(
            o.stderr.contains(cfg.to_str().unwrap()) && o.stderr.contains("not valid JSON"),
            "{}",
            o.describe()
        );
        assert_eq!(std::fs::read_to_string(&cfg).unwrap(), bad);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
