//! The crate's modules import downward only: each module may name (as
//! `crate::x`) only modules listed before it here. Rust allows cycles
//! between modules, so this list, the same as lib.rs's "Layers", holds
//! the order; a new module must take its place in it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Lowest first; within a layer, a module may use the ones before it.
const LAYERS: &[&[&str]] = &[
    // Foundations.
    &[
        "errno", "socket", "info", "config", "mode", "sys", "wake", "addr", "ports", "neigh",
        "device",
    ],
    // Interfaces and routing.
    &["iface", "route"],
    // IP fragments: reassembly per interface, IPv6 fragmenting.
    &["reassembly", "fragment6"],
    // The shared state.
    &["orphan", "state"],
    // The protocols.
    &[
        "tcp_sock",
        "bind",
        "urgent",
        "stream",
        "listener",
        "tcp",
        "multicast",
        "dgram",
        "unreach",
        "outbound",
        "raw",
        "udplite",
        "steer",
        "conns",
    ],
    // The engine.
    &["engine", "poller"],
    // The API.
    &["stack", "endpoint"],
];

fn rank(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .flat_map(|l| l.iter())
        .position(|m| *m == module)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to: `src/x.rs` and `src/x/...`
/// are both `x`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.strip_suffix(".rs").unwrap_or(&name).to_string()
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules a file's code names through `crate::`, comments
/// left out.
fn imports(code: &str) -> BTreeSet<String> {
    let code: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let m = ident(item.trim());
                if !m.is_empty() && m != "self" {
                    out.insert(m.to_string());
                }
            }
        } else {
            out.insert(ident(rest).to_string());
        }
    }
    out
}

#[test]
fn modules_import_only_from_layers_below() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for f in &files {
        let m = module_of(&src, f);
        if m == "lib" {
            continue;
        }
        let Some(mine) = rank(&m) else {
            wrong.push(format!("{m} is not in LAYERS"));
            continue;
        };
        let code = std::fs::read_to_string(f).expect("read source");
        for t in imports(&code) {
            match rank(&t) {
                Some(r) if r < mine || t == m => {}
                Some(_) => wrong.push(format!(
                    "{} uses crate::{t}, which is not below {m}",
                    f.display()
                )),
                None => wrong.push(format!("{} uses crate::{t}, not in LAYERS", f.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_listed_module_exists() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for m in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(
            src.join(format!("{m}.rs")).exists() || src.join(m).join("mod.rs").exists(),
            "{m} is listed in LAYERS but has no file"
        );
    }
}
