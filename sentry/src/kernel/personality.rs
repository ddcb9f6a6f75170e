//! personality(2): the execution domain (PER_LINUX, PER_LINUX32) and the
//! flags beside it, kept per task as Linux keeps them and inherited by a
//! new thread or process. What the Sentry honours:
//!
//! * PER_LINUX32: uname's machine reads `i686` (Linux's
//!   override_architecture);
//! * UNAME26: uname's release reads `2.6.(60 + minor)` (override_release);
//! * READ_IMPLIES_EXEC: mmap and mprotect add PROT_EXEC to PROT_READ; an
//!   exec of a 64-bit program clears it, as x86-64's SET_PERSONALITY does;
//! * ADDR_NO_RANDOMIZE: nothing to do: the Sentry's layout is not
//!   randomized;
//! * a set-user-ID or set-group-ID exec clears PER_CLEAR_ON_SETID.
//!
//! Any other value is kept and reported back, as Linux does.

use std::sync::atomic::Ordering;

use crate::kernel::task::Task;

/// The query value: returns the persona without changing it.
pub const QUERY: u32 = 0xffff_ffff;
/// The execution domain's bits (Linux's PER_MASK).
pub const PER_MASK: u32 = 0xff;
/// Linux's PER_LINUX32 (the execution domain of `setarch i686`).
pub const PER_LINUX32: u32 = 0x0008;
/// Linux's UNAME26: uname reports a 2.6 release.
pub const UNAME26: u32 = 0x0020000;
pub const READ_IMPLIES_EXEC: u32 = libc::READ_IMPLIES_EXEC as u32;
/// What a set-id exec drops (Linux's PER_CLEAR_ON_SETID).
const PER_CLEAR_ON_SETID: u32 = (libc::READ_IMPLIES_EXEC
    | libc::ADDR_NO_RANDOMIZE
    | libc::ADDR_COMPAT_LAYOUT
    | libc::MMAP_PAGE_ZERO) as u32;

/// uname's machine for a persona.
pub fn machine(persona: u32) -> &'static [u8] {
    if persona & PER_MASK == PER_LINUX32 {
        b"i686"
    } else {
        b"x86_64"
    }
}

/// uname's release for a persona: `release` itself, or under UNAME26
/// `2.6.N` with N = 60 + its minor number, followed by whatever follows
/// its numeric part.
pub fn release(persona: u32, release: &str) -> String {
    if persona & UNAME26 == 0 {
        return release.to_string();
    }
    let mut dots = 0;
    let end = release
        .char_indices()
        .find(|&(_, c)| {
            if c == '.' {
                dots += 1;
                dots >= 3
            } else {
                !c.is_ascii_digit()
            }
        })
        .map_or(release.len(), |(i, _)| i);
    let minor: u32 = release
        .split('.')
        .nth(1)
        .and_then(|m| {
            m.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .ok()
        })
        .unwrap_or(0);
    format!("2.6.{}{}", 60 + minor, &release[end..])
}

/// The persona after an exec of a 64-bit program (`setid`: the exec
/// changed ids).
pub fn after_exec(persona: u32, setid: bool) -> u32 {
    let mut p = persona & !READ_IMPLIES_EXEC;
    if setid {
        p &= !PER_CLEAR_ON_SETID;
    }
    p
}

impl crate::kernel::TaskHandle {
    /// A new task's persona: its creator's.
    pub fn set_personality_from(&self, parent: &crate::kernel::TaskHandle) {
        let p = parent.personality.load(Ordering::Relaxed);
        self.personality.store(p, Ordering::Relaxed);
    }
}

impl Task {
    pub fn personality(&self) -> u32 {
        self.handle.personality.load(Ordering::Relaxed)
    }

    pub fn set_personality(&self, persona: u32) {
        self.handle.personality.store(persona, Ordering::Relaxed);
    }

    /// mmap's and mprotect's protection under this persona.
    pub fn effective_prot(&self, prot: i32) -> i32 {
        if prot & libc::PROT_READ != 0 && self.personality() & READ_IMPLIES_EXEC != 0 {
            prot | libc::PROT_EXEC
        } else {
            prot
        }
    }
}
