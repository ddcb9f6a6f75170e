//! Syscall handlers read their arguments through `SyscallArgs`'s typed
//! accessors (`int`, `uint`, `usize`, `ulong`, `long`, `addr`, `ptr`),
//! never the raw registers with a cast (../shared/STYLE.md, "Application
//! memory is typed"): the accessor says what Linux's prototype says the
//! argument is, and a user pointer stays a `UserAddr`/`UserPtr<T>` until
//! memory is copied through it.
//!
//! This test fails on any use of the register array (`.a[N]`, `= a.a;`,
//! `.a.iter()` ...) in `src/syscalls/` outside [`RAW_OK`].

use std::path::{Path, PathBuf};

mod common;
use common::strip;

/// Files that may read the raw registers, and why. The test fails if one
/// no longer does, so the list can only shrink.
const RAW_OK: &[(&str, &str)] = &[];

/// The lines (1-based) where `code` reaches a field named `a`: `x.a`
/// followed by anything but more of an identifier. In the handlers that
/// field is only ever `SyscallArgs::a`, the raw registers.
fn raw_register_uses(code: &str) -> Vec<usize> {
    let mut lines = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        while let Some(j) = line[i..].find(".a") {
            let at = i + j;
            let before = at.checked_sub(1).map(|k| b[k]);
            let after = b.get(at + 2).copied();
            let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
            // `x.a` where x ends in an identifier or a closing bracket (a
            // field access, not `..a` or a float), and the field is `a`.
            if before.is_some_and(|c| ident(c) || c == b')' || c == b']')
                && !after.is_some_and(ident)
            {
                lines.push(n + 1);
                break;
            }
            i = at + 2;
        }
    }
    lines
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read syscalls").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn handlers_read_arguments_through_typed_accessors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/syscalls");
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    files.sort();
    let mut bad = Vec::new();
    let mut still_raw = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&dir).unwrap().display().to_string();
        let code = std::fs::read_to_string(f).expect("read a source file");
        let uses = raw_register_uses(&strip(&code));
        if RAW_OK.iter().any(|(name, _)| *name == rel) {
            if !uses.is_empty() {
                still_raw.push(rel);
            }
            continue;
        }
        for line in uses {
            bad.push(format!("src/syscalls/{rel}:{line}"));
        }
    }
    assert!(
        bad.is_empty(),
        "raw register reads (use a.int(n), a.uint(n), a.usize(n), a.ulong(n), \
         a.long(n), a.addr(n) or a.ptr::<T>(n), typed as Linux's prototype \
         types the argument):\n{}",
        bad.join("\n")
    );
    let gone: Vec<&str> = RAW_OK
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !still_raw.iter().any(|r| r == name))
        .collect();
    assert!(
        gone.is_empty(),
        "no longer reads the raw registers: take {gone:?} out of RAW_OK"
    );
}

#[test]
fn the_scan_sees_raw_reads() {
    assert_eq!(raw_register_uses("let fd = a.a[0] as i32;"), vec![1]);
    assert_eq!(raw_register_uses("x\nlet [p, n, ..] = a.a;"), vec![2]);
    assert_eq!(raw_register_uses("args.a.iter()"), vec![1]);
    assert!(raw_register_uses("a.addr(1); a.int(0); 0..a; t.args").is_empty());
    let quoted = strip("b'\"' => x, '\\'' => y, \"a.a[0]\" // a.a[1]\nz.a[2]");
    assert_eq!(raw_register_uses(&quoted), vec![2]);
    assert_eq!(
        raw_register_uses(&strip("fn f<'a>(x: &'a A) { x.a[0] }")),
        vec![1]
    );
}
