//! docs/compatibility.md is generated from the syscall table; this test
//! fails when the two drift. Regenerate with
//! `RUNSC_UPDATE_DOCS=1 cargo test -p sentry --test compatibility_doc`.

use sentry::syscalls::Support;

fn render() -> String {
    let table = sentry::syscalls::table();
    let mut full = 0;
    let mut partial = 0;
    let mut rows = String::new();
    for (nr, e) in table.entries() {
        if e.name == "unknown" {
            continue;
        }
        let (state, note) = match e.support {
            Support::Full if e.handler.is_some() => {
                full += 1;
                ("implemented", "")
            }
            Support::Partial(n) if e.handler.is_some() => {
                partial += 1;
                ("partial", n)
            }
            Support::Missing(n) => ("missing", n),
            _ => ("missing", "no handler"),
        };
        rows.push_str(&format!("| {nr} | `{}` | {state} | {note} |\n", e.name));
    }
    format!(
        "# System call compatibility (x86-64)\n\n\
         Generated from the Sentry's syscall table (`sentry/src/syscalls/`) by\n\
         `RUNSC_UPDATE_DOCS=1 cargo test -p sentry --test compatibility_doc`; a test\n\
         fails when this page and the table disagree.\n\n\
         A missing call returns `ENOSYS` and is named once in the debug log\n\
         (`unsupported syscall NAME`); `--strace` shows every call.\n\n\
         Implemented: {full}. Partial: {partial}.\n\n\
         | nr | name | state | notes |\n|---|---|---|---|\n{rows}"
    )
}

#[test]
fn compatibility_page_matches_the_syscall_table() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/compatibility.md");
    let want = render();
    if std::env::var_os("RUNSC_UPDATE_DOCS").is_some() {
        std::fs::write(path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/compatibility.md is out of date: run RUNSC_UPDATE_DOCS=1 cargo test -p sentry --test compatibility_doc"
    );
}
