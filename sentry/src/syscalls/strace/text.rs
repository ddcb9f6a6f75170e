//! The text every part prints with: named constants (flags joined by
//! `|`, enums), numbers and pointers as C's printf prints them, quoted
//! strings, signals.

/// The longest path printed: paths are printed whole, as strace does.
pub const PATH_MAX: usize = libc::PATH_MAX as usize;

/// Stands for an argument a call does not take in this form (fcntl's
/// F_GETFD has no third argument); left out of the line.
pub const OMIT: &str = "\0";

/// (value, name) pairs, in the order strace prints flags.
pub type Set = [(u64, &'static str)];

/// Bits of `v` by name, joined by `|`, the unnamed rest in hex; `zero`
/// when `v` is 0.
pub fn flags(v: u64, set: &Set, zero: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = v;
    for &(bit, name) in set {
        if bit != 0 && rest & bit == bit {
            parts.push(name.to_string());
            rest &= !bit;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    if parts.is_empty() {
        return zero.to_string();
    }
    parts.join("|")
}

/// `v` by name (compared as a C int, as the kernel reads it), else as a
/// number.
pub fn name(v: u64, set: &Set) -> Option<&'static str> {
    set.iter()
        .find(|&&(c, _)| c as u32 == v as u32)
        .map(|&(_, n)| n)
}

pub fn enum_or_int(v: u64, set: &Set) -> String {
    name(v, set).map_or_else(|| (v as i32).to_string(), str::to_string)
}

pub fn enum_or_hex(v: u64, set: &Set) -> String {
    name(v, set).map_or_else(|| format!("{:#x}", v as u32), str::to_string)
}

/// An `int` of flags whose low bits are an enum (open's access mode,
/// mmap's sharing type, socket's type): the enum, then the flags.
pub fn enum_and_flags(v: u64, mask: u64, kinds: &Set, set: &Set) -> String {
    let kind = enum_or_hex(v & mask, kinds);
    let rest = v & !mask & u64::from(u32::MAX);
    if rest == 0 {
        kind
    } else {
        format!("{kind}|{}", flags(rest, set, "0"))
    }
}

/// A number in hex as C's `%#x` prints it: `0` for zero.
pub fn hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// A pointer as strace prints one it does not follow.
pub fn ptr(v: u64) -> String {
    if v == 0 {
        "NULL".into()
    } else {
        format!("{v:#x}")
    }
}

/// A string as strace quotes it: C escapes, other bytes in octal, cut at
/// `max` bytes with `...` after the quote.
pub fn quote(b: &[u8], max: usize) -> String {
    let mut s = String::from("\"");
    let shown = &b[..b.len().min(max)];
    for (i, &c) in shown.iter().enumerate() {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            b'\r' => s.push_str("\\r"),
            0x0b => s.push_str("\\v"),
            0x0c => s.push_str("\\f"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                // Three digits when an octal digit follows, so it cannot
                // be read as part of the escape.
                let next_is_digit = shown.get(i + 1).is_some_and(|n| (b'0'..=b'7').contains(n));
                if next_is_digit {
                    s.push_str(&format!("\\{c:03o}"));
                } else {
                    s.push_str(&format!("\\{c:o}"));
                }
            }
        }
    }
    s.push('"');
    if b.len() > max {
        s.push_str("...");
    }
    s
}

/// A signal number as strace names it: `SIGUSR1`, `SIGRTMIN`, `SIGRT_3`.
pub fn signal(s: u64) -> String {
    format!("SIG{}", signal_short(s))
}

/// The name without `SIG`, as in signal sets: `USR1`, `RT_3`.
fn signal_short(s: u64) -> String {
    let rtmin = 32;
    match s {
        0 => "0".into(),
        1..=31 => {
            let n = crate::kernel::signal::signal_name(s as i64);
            n.strip_prefix("SIG").unwrap_or(&n).to_string()
        }
        s if s == rtmin => "RTMIN".into(),
        s if s <= 64 => format!("RT_{}", s - rtmin),
        s => s.to_string(),
    }
}

/// A 64-bit signal set: `[INT TERM]`, or its complement `~[...]` when more
/// than half the signals are in it.
pub fn sigset_value(mask: u64) -> String {
    let (mask, prefix) = if mask.count_ones() > 32 {
        (!mask, "~")
    } else {
        (mask, "")
    };
    let names: Vec<String> = (1..=64u64)
        .filter(|s| mask & (1 << (s - 1)) != 0)
        .map(signal_short)
        .collect();
    format!("{prefix}[{}]", names.join(" "))
}
