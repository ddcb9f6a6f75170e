//! The seccomp filter of every application thread: each system call
//! traps (SIGSYS, handled by the stub) except the few the stub's own code
//! page makes, and those only with the arguments the stub uses. The
//! filter is stacked on whatever the stub process inherited (the
//! Sentry's own filter): the kernel takes the strictest answer, so an
//! application call always traps.
//!
//! An application that jumps to one of the stub's `syscall` instructions
//! with registers of its choosing gets one of these calls and nothing
//! else; what each could do to it is the entry's reason.

/// A call the stub's code page may make, with why it is harmless when the
/// application makes it there.
pub struct Allowed {
    pub nr: i64,
    /// The low 32 bits of argument 1 must be one of these (empty: any).
    pub arg1: &'static [u32],
    pub why: &'static str,
}

/// The stub's own calls from an application thread.
pub const STUB_CALLS: &[Allowed] = &[
    Allowed {
        nr: libc::SYS_futex,
        arg1: &[libc::FUTEX_WAIT as u32, libc::FUTEX_WAKE as u32],
        why: "waiting for the Sentry's reply and waking the Sentry; from the application: \
              a wait or a spurious wake-up on memory it can already write",
    },
    Allowed {
        nr: libc::SYS_rt_sigreturn,
        arg1: &[],
        why: "resuming the application from the rewritten frame; from the application: \
              registers and a signal mask of its choosing, which it has anyway \
              (blocking SIGSYS makes its next call kill it)",
    },
    Allowed {
        nr: libc::SYS_rt_sigprocmask,
        arg1: &[],
        why: "blocking signals in the patched-call trampoline until its rt_sigreturn; from the \
              application: a signal mask of its choosing, which rt_sigreturn gives it anyway",
    },
    Allowed {
        nr: libc::SYS_exit,
        arg1: &[],
        why: "a thread the Sentry ends; from the application: ending its own thread",
    },
];

/// linux/audit.h: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE (libc
/// has no name for it on this target).
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// Offsets in struct seccomp_data.
const NR: u32 = 0;
const ARCH: u32 = 4;
const IP_LO: u32 = 8;
const IP_HI: u32 = 12;
const ARG1_LO: u32 = 24;

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

const LD: u32 = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
const JEQ: u32 = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
const JGE: u32 = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
const RET: u32 = libc::BPF_RET | libc::BPF_K;

/// The filter for code page `[code, code + len)` (one 4 GiB-aligned
/// window: the page never straddles one).
pub fn program(code: u64, len: u64) -> Vec<libc::sock_filter> {
    assert_eq!(code >> 32, (code + len) >> 32);
    let trap = stmt(RET, libc::SECCOMP_RET_TRAP);
    let allow = stmt(RET, libc::SECCOMP_RET_ALLOW);
    let mut p = vec![
        stmt(LD, ARCH),
        jump(JEQ, AUDIT_ARCH_X86_64, 1, 0),
        trap,
        // The instruction pointer (after the `syscall`) in the code page.
        stmt(LD, IP_HI),
        jump(JEQ, (code >> 32) as u32, 1, 0),
        trap,
        stmt(LD, IP_LO),
        jump(JGE, code as u32, 1, 0),
        trap,
        jump(JGE, (code + len) as u32, 0, 1),
        trap,
    ];
    for a in STUB_CALLS {
        // ld nr; jeq nr ? next : skip this entry.
        let body: Vec<libc::sock_filter> = if a.arg1.is_empty() {
            vec![allow]
        } else {
            let mut b = vec![stmt(LD, ARG1_LO)];
            for (i, v) in a.arg1.iter().enumerate() {
                // Match: jump to the allow at the end of this body.
                let to_allow = (a.arg1.len() - i) as u8;
                b.push(jump(JEQ, *v, to_allow, 0));
            }
            b.push(trap);
            b.push(allow);
            b
        };
        p.push(stmt(LD, NR));
        p.push(jump(JEQ, a.nr as u32, 0, body.len() as u8));
        p.extend(body);
    }
    p.push(trap);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_fits_the_control_page() {
        let p = program(0x7ffe_0000_0000, 4096);
        let room = (super::super::region::ctl::FILTER_END - super::super::region::ctl::FILTER) / 8;
        assert!(p.len() <= room);
    }
}
