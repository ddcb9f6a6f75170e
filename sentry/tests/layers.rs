//! The Sentry's layers, as data: each top-level module may import only the
//! modules of lower layers (gVisor's package order, which Go enforces by
//! forbidding cycles; Rust allows cycles between modules, so this test
//! holds the order).
//!
//! [`KNOWN_UPWARD`] lists the upward imports that are still there, each a
//! piece of the structure issue's work: the test fails on any upward import
//! not in it, and on any entry that no longer occurs, so the list can only
//! shrink.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod common;
use common::strip;

/// Lowest first. A module may import its own layer's and lower layers'.
const LAYERS: &[&[&str]] = &[
    &["errno", "caps", "usermem", "memfile", "waiter", "hostpoll"],
    &["vfs"],
    &["net"],
    &["mm"],
    &["loader"],
    &["kernel"],
    &["fsimpl"],
    &["syscalls"],
    &["boot"],
    // Tests of lower layers over real filesystems (Go's external tests).
    &["tests"],
];

/// Upward imports that remain, (importer, imported): to be removed, not
/// added to.
const KNOWN_UPWARD: &[(&str, &str)] = &[];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level module a source file belongs to (`lib` for lib.rs).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

/// Every top-level module that `code` names as `crate::MODULE`.
fn imported(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// (importer, imported) → the files where it happens.
fn upward_imports() -> BTreeMap<(String, String), Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut up: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for f in files {
        let from = module_of(&src, &f);
        let Some(from_layer) = layer_of(&from) else {
            continue;
        };
        let code = std::fs::read_to_string(&f).expect("read a source file");
        // Unit tests may reach anywhere.
        let code = code.split("#[cfg(test)]").next().unwrap_or("");
        for to in imported(&strip(code)) {
            if let Some(to_layer) = layer_of(&to) {
                if to_layer > from_layer {
                    let rel = f.strip_prefix(&src).unwrap().display().to_string();
                    up.entry((from.clone(), to)).or_default().push(rel);
                }
            }
        }
    }
    up
}

#[test]
fn every_top_level_module_has_a_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let missing: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(&src, f))
        .filter(|m| m != "lib" && layer_of(m).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "modules without a layer in LAYERS: {missing:?}"
    );
}

#[test]
fn no_module_imports_a_layer_above_it_beyond_the_known_list() {
    let up = upward_imports();
    let new: Vec<String> = up
        .iter()
        .filter(|((from, to), _)| !KNOWN_UPWARD.contains(&(from.as_str(), to.as_str())))
        .map(|((from, to), files)| format!("{from} -> {to} in {files:?}"))
        .collect();
    assert!(
        new.is_empty(),
        "imports of a higher layer (move the code down, or hand the lower \
         layer what it needs, as the syscall table is handed to the kernel):\n{}",
        new.join("\n")
    );
    let gone: Vec<&(&str, &str)> = KNOWN_UPWARD
        .iter()
        .filter(|(from, to)| !up.contains_key(&(from.to_string(), to.to_string())))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer imported upward: take {gone:?} out of KNOWN_UPWARD"
    );
}
