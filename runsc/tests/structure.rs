//! The runtime's seams, as checks on its source: only `cli.rs` (and
//! `main.rs`, which calls it) names clap, so every command takes plain
//! configuration; and the runtime reaches the Sentry only through
//! `sentry::boot`, so the Sentry's kernel, VFS and filesystems stay its own.

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("runsc/src is readable") {
        let p = e.expect("a directory entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code without `//` comments (a path in a doc comment is no use).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("a source file is readable");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut v = Vec::new();
    sources(&src, &mut v);
    v.sort();
    v.into_iter()
        .map(|p| {
            let name = p.strip_prefix(&src).unwrap().display().to_string();
            (name, code(&p))
        })
        .collect()
}

#[test]
fn only_the_cli_names_clap() {
    let offenders: Vec<String> = files()
        .into_iter()
        .filter(|(name, code)| name != "cli.rs" && name != "main.rs" && code.contains("clap"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        offenders.is_empty(),
        "clap outside cli.rs (commands take plain configuration): {offenders:?}"
    );
}

#[test]
fn the_sentry_is_reached_only_through_its_boot_module() {
    let mut offenders = Vec::new();
    for (name, code) in files() {
        for (i, _) in code.match_indices("sentry::") {
            let rest = &code[i + "sentry::".len()..];
            if !rest.starts_with("boot::") && !rest.starts_with("boot;") {
                let line = rest.lines().next().unwrap_or("");
                offenders.push(format!("{name}: sentry::{line}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "Sentry internals used outside sentry::boot: {offenders:?}"
    );
}
