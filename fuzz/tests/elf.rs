//! The ELF loader's header checks and segment arithmetic, on bytes
//! (sentry::loader::check_elf_bytes): an errno for any file, never a
//! panic. The seeds are built by [`tiny_elf`]; `RUNSC_FUZZ_WRITE_CORPUS=1`
//! rewrites them.

use std::path::Path;

/// Where the code of a tiny image starts, after the headers.
const CODE_AT: usize = 0xb0;

#[test]
fn fuzz_elf() {
    fuzz::run("elf", |bytes| {
        let _ = sentry::loader::check_elf_bytes(bytes);
    });
}

/// A static x86-64 ELF of one PT_LOAD (plus a PT_INTERP naming `interp`
/// if given) whose code is exit(42).
fn tiny_elf(e_type: u16, interp: Option<&[u8]>) -> Vec<u8> {
    let vaddr: u64 = if e_type == 2 { 0x40_0000 } else { 0 };
    let phnum: u16 = if interp.is_some() { 2 } else { 1 };
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01");
    f.resize(16, 0);
    f.extend_from_slice(&e_type.to_le_bytes());
    f.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&(vaddr + CODE_AT as u64).to_le_bytes()); // e_entry
    f.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for half in [64u16, 56, phnum, 64, 0, 0] {
        f.extend_from_slice(&half.to_le_bytes());
    }
    let code: &[u8] = b"\xbf\x2a\x00\x00\x00\xb8\x3c\x00\x00\x00\x0f\x05";
    let interp_at = CODE_AT + code.len();
    let total = interp_at + interp.map_or(0, |i| i.len() + 1);
    let phdr = |f: &mut Vec<u8>, ty: u32, flags: u32, off: u64, va: u64, len: u64, align: u64| {
        f.extend_from_slice(&ty.to_le_bytes());
        f.extend_from_slice(&flags.to_le_bytes());
        for v in [off, va, va, len, len, align] {
            f.extend_from_slice(&v.to_le_bytes());
        }
    };
    phdr(&mut f, 1, 5, 0, vaddr, total as u64, 0x1000);
    if let Some(i) = interp {
        phdr(
            &mut f,
            3,
            4,
            interp_at as u64,
            vaddr + interp_at as u64,
            i.len() as u64 + 1,
            1,
        );
    }
    f.resize(CODE_AT, 0);
    f.extend_from_slice(code);
    if let Some(i) = interp {
        f.extend_from_slice(i);
        f.push(0);
    }
    f
}

#[test]
fn write_corpus_when_asked() {
    if std::env::var_os("RUNSC_FUZZ_WRITE_CORPUS").is_none() {
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/elf");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).expect("write");
    write("exec", tiny_elf(2, None));
    write("dyn", tiny_elf(3, None));
    write(
        "exec-interp",
        tiny_elf(2, Some(b"/lib64/ld-linux-x86-64.so.2")),
    );
}

#[test]
fn the_tiny_seed_elf_passes_the_checks() {
    assert_eq!(sentry::loader::check_elf_bytes(&tiny_elf(2, None)), Ok(()));
    assert_eq!(sentry::loader::check_elf_bytes(&tiny_elf(3, None)), Ok(()));
}
