//! Classic BPF as seccomp runs it: the load-time check (Linux's
//! `bpf_check_classic` and `seccomp_check_filter`) and an interpreter over
//! `struct seccomp_data`.
//!
//! No maintained crate evaluates classic BPF (the Rust BPF crates run eBPF,
//! or compile seccomp programs without running them), so this is ours. A
//! program that passed [`check`] has only forward jumps that land inside
//! it, ends in a return, loads only aligned 32-bit words of
//! `seccomp_data`, and reads no scratch word before storing it on every
//! path; [`run`] still checks every index, so a bug here costs a filter
//! verdict, never the Sentry.

use crate::errno::Errno;

/// One instruction, as `struct sock_filter` lays it out.
pub type Insn = libc::sock_filter;

/// The words a filter reads: `struct seccomp_data`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Data {
    pub nr: i32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

/// `sizeof(struct seccomp_data)`: what a load of the packet length gives.
pub const DATA_LEN: u32 = std::mem::size_of::<libc::seccomp_data>() as u32;

impl Data {
    /// The 32-bit word at byte `off` (aligned and in range: [`check`]
    /// allows no other load), in the host's byte order as Linux reads it.
    fn word(&self, off: u32) -> Option<u32> {
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        Some(match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 => lo(self.instruction_pointer),
            12 => hi(self.instruction_pointer),
            16..=63 if off.is_multiple_of(4) => {
                let arg = self.args[((off - 16) / 8) as usize];
                if off.is_multiple_of(8) {
                    lo(arg)
                } else {
                    hi(arg)
                }
            }
            _ => return None,
        })
    }
}

const MEMWORDS: usize = libc::BPF_MEMWORDS as usize;
pub const MAX_INSNS: usize = libc::BPF_MAXINSNS as usize;

// Opcode parts, as u16 like `sock_filter.code`.
const fn op(v: u32) -> u16 {
    v as u16
}
const LD: u16 = op(libc::BPF_LD);
const LDX: u16 = op(libc::BPF_LDX);
const ST: u16 = op(libc::BPF_ST);
const STX: u16 = op(libc::BPF_STX);
const ALU: u16 = op(libc::BPF_ALU);
const JMP: u16 = op(libc::BPF_JMP);
const RET: u16 = op(libc::BPF_RET);
const MISC: u16 = op(libc::BPF_MISC);
const W: u16 = op(libc::BPF_W);
const IMM: u16 = op(libc::BPF_IMM);
const ABS: u16 = op(libc::BPF_ABS);
const MEM: u16 = op(libc::BPF_MEM);
const LEN: u16 = op(libc::BPF_LEN);
const K: u16 = op(libc::BPF_K);
const X: u16 = op(libc::BPF_X);
const A: u16 = op(libc::BPF_A);
const ADD: u16 = op(libc::BPF_ADD);
const SUB: u16 = op(libc::BPF_SUB);
const MUL: u16 = op(libc::BPF_MUL);
const DIV: u16 = op(libc::BPF_DIV);
const OR: u16 = op(libc::BPF_OR);
const AND: u16 = op(libc::BPF_AND);
const LSH: u16 = op(libc::BPF_LSH);
const RSH: u16 = op(libc::BPF_RSH);
const NEG: u16 = op(libc::BPF_NEG);
const XOR: u16 = op(libc::BPF_XOR);
const JA: u16 = op(libc::BPF_JA);
const JEQ: u16 = op(libc::BPF_JEQ);
const JGT: u16 = op(libc::BPF_JGT);
const JGE: u16 = op(libc::BPF_JGE);
const JSET: u16 = op(libc::BPF_JSET);
const TAX: u16 = op(libc::BPF_TAX);
const TXA: u16 = op(libc::BPF_TXA);

/// The ALU operations seccomp accepts (no MOD: seccomp's list leaves it
/// out).
const ALU_OPS: [u16; 9] = [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, XOR];
const COND_JUMPS: [u16; 4] = [JEQ, JGT, JGE, JSET];

/// Whether seccomp accepts opcode `code` (the rest of its checks are on
/// the operands).
fn allowed(code: u16) -> bool {
    let alu = ALU_OPS
        .iter()
        .any(|o| code == ALU | o | K || code == ALU | o | X);
    let cond = COND_JUMPS
        .iter()
        .any(|o| code == JMP | o | K || code == JMP | o | X);
    alu || cond
        || [
            LD | W | ABS,
            LD | W | LEN,
            LDX | W | LEN,
            RET | K,
            RET | A,
            ALU | NEG,
            LD | IMM,
            LDX | IMM,
            MISC | TAX,
            MISC | TXA,
            LD | MEM,
            LDX | MEM,
            ST,
            STX,
            JMP | JA,
        ]
        .contains(&code)
}

/// Checks a program as Linux does before it accepts it: EINVAL for an
/// empty or too long program, an opcode seccomp does not run, a load
/// outside `seccomp_data` or not word-aligned, a jump backwards or out of
/// the program, a division or shift by an invalid constant, a scratch word
/// read before it is written on some path, or a last instruction that
/// does not return.
pub fn check(prog: &[Insn]) -> Result<(), Errno> {
    let len = prog.len();
    if len == 0 || len > MAX_INSNS {
        return Err(Errno::EINVAL);
    }
    for (pc, i) in prog.iter().enumerate() {
        if !allowed(i.code) {
            return Err(Errno::EINVAL);
        }
        let left = (len - 1 - pc) as u32;
        match i.code {
            c if c == LD | W | ABS && (i.k >= DATA_LEN || i.k % 4 != 0) => {
                return Err(Errno::EINVAL)
            }
            c if (c == ALU | DIV | K) && i.k == 0 => return Err(Errno::EINVAL),
            c if (c == ALU | LSH | K || c == ALU | RSH | K) && i.k >= 32 => {
                return Err(Errno::EINVAL)
            }
            c if [LD | MEM, LDX | MEM, ST, STX].contains(&c) && i.k as usize >= MEMWORDS => {
                return Err(Errno::EINVAL)
            }
            c if c == JMP | JA && i.k >= left => return Err(Errno::EINVAL),
            c if c & 0x07 == JMP
                && c != JMP | JA
                && (u32::from(i.jt) >= left || u32::from(i.jf) >= left) =>
            {
                return Err(Errno::EINVAL)
            }
            _ => {}
        }
    }
    if ![RET | K, RET | A].contains(&prog[len - 1].code) {
        return Err(Errno::EINVAL);
    }
    check_scratch(prog)
}

/// Every load of a scratch word must follow a store to it on every path
/// that reaches it (jumps only go forward, so one pass sees every
/// predecessor first).
fn check_scratch(prog: &[Insn]) -> Result<(), Errno> {
    // What every jump into an instruction leaves stored; and what is
    // stored on the way here (nothing at the start; after a jump or a
    // return the next instruction is reached only by jumps).
    let mut incoming = vec![u16::MAX; prog.len()];
    let mut valid = 0u16;
    for (pc, i) in prog.iter().enumerate() {
        valid &= incoming[pc];
        let mut branch = |to: usize, valid: u16| {
            if let Some(m) = incoming.get_mut(to) {
                *m &= valid;
            }
        };
        match i.code {
            c if c == ST || c == STX => valid |= 1 << (i.k as usize % MEMWORDS),
            c if (c == LD | MEM || c == LDX | MEM)
                && valid & (1 << (i.k as usize % MEMWORDS)) == 0 =>
            {
                return Err(Errno::EINVAL)
            }
            c if c == RET | K || c == RET | A => valid = u16::MAX,
            c if c == JMP | JA => {
                branch(pc + 1 + i.k as usize, valid);
                valid = u16::MAX;
            }
            c if c & 0x07 == JMP => {
                branch(pc + 1 + i.jt as usize, valid);
                branch(pc + 1 + i.jf as usize, valid);
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The length Linux gives the program once it has translated it to its
/// internal eBPF, which is what its per-thread limit counts: three
/// instructions of prologue; two per return (a move and an exit); four per
/// division by X (a zero test and an early exit); for a conditional jump,
/// one more when a K operand is negative as a signed number (it goes
/// through a register), and two when neither branch falls through (a jump
/// and a JA) unless a negated jump can express it (JEQ, JGT, JGE with a
/// true branch of 0); one for anything else.
pub fn linux_len(prog: &[Insn]) -> usize {
    const PROLOGUE: usize = 3;
    let one = |i: &Insn| -> usize {
        let code = i.code;
        if code == RET | K || code == RET | A {
            return 2;
        }
        if code == ALU | DIV | X {
            return 4;
        }
        if code & 0x07 != JMP || code == JMP | JA {
            return 1;
        }
        let signed_k = usize::from(code & X == 0 && (i.k as i32) < 0);
        let negatable = [JEQ, JGT, JGE].contains(&(code & 0xf0));
        let two = i.jf != 0 && !(i.jt == 0 && negatable);
        signed_k + if two { 2 } else { 1 }
    };
    PROLOGUE + prog.iter().map(one).sum::<usize>()
}

/// Runs a checked program over `d` and returns its verdict. An index out
/// of range (impossible after [`check`]) gives 0, SECCOMP_RET_KILL_THREAD,
/// as does a division by a zero X (classic BPF's rule).
pub fn run(prog: &[Insn], d: &Data) -> u32 {
    const KILL: u32 = libc::SECCOMP_RET_KILL_THREAD;
    let (mut a, mut x) = (0u32, 0u32);
    let mut mem = [0u32; MEMWORDS];
    let mut pc = 0usize;
    loop {
        let Some(i) = prog.get(pc) else { return KILL };
        pc += 1;
        let src = if i.code & X != 0 { x } else { i.k };
        match i.code & 0x07 {
            LD => match i.code {
                c if c == LD | W | ABS => match d.word(i.k) {
                    Some(v) => a = v,
                    None => return KILL,
                },
                c if c == LD | W | LEN => a = DATA_LEN,
                c if c == LD | IMM => a = i.k,
                c if c == LD | MEM => a = mem.get(i.k as usize).copied().unwrap_or(0),
                _ => return KILL,
            },
            LDX => match i.code {
                c if c == LDX | W | LEN => x = DATA_LEN,
                c if c == LDX | IMM => x = i.k,
                c if c == LDX | MEM => x = mem.get(i.k as usize).copied().unwrap_or(0),
                _ => return KILL,
            },
            ST | STX => {
                let v = if i.code == ST { a } else { x };
                match mem.get_mut(i.k as usize) {
                    Some(m) => *m = v,
                    None => return KILL,
                }
            }
            ALU => {
                a = match i.code & 0xf0 {
                    ADD => a.wrapping_add(src),
                    SUB => a.wrapping_sub(src),
                    MUL => a.wrapping_mul(src),
                    DIV => match a.checked_div(src) {
                        Some(v) => v,
                        None => return KILL,
                    },
                    OR => a | src,
                    AND => a & src,
                    LSH => a.wrapping_shl(src),
                    RSH => a.wrapping_shr(src),
                    XOR => a ^ src,
                    NEG => a.wrapping_neg(),
                    _ => return KILL,
                }
            }
            JMP => {
                let skip = match i.code & 0xf0 {
                    JA => i.k as usize,
                    op => {
                        let taken = match op {
                            JEQ => a == src,
                            JGT => a > src,
                            JGE => a >= src,
                            JSET => a & src != 0,
                            _ => return KILL,
                        };
                        usize::from(if taken { i.jt } else { i.jf })
                    }
                };
                pc += skip;
            }
            RET => return if i.code == RET | A { a } else { i.k },
            MISC => match i.code {
                c if c == MISC | TAX => x = a,
                c if c == MISC | TXA => a = x,
                _ => return KILL,
            },
            _ => return KILL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ins(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
        Insn { code, jt, jf, k }
    }

    fn getpid_errno() -> Vec<Insn> {
        vec![
            ins(LD | W | ABS, 0, 0, 0),
            ins(JMP | JEQ | K, 0, 1, libc::SYS_getpid as u32),
            ins(RET | K, 0, 0, libc::SECCOMP_RET_ERRNO | 7),
            ins(RET | K, 0, 0, libc::SECCOMP_RET_ALLOW),
        ]
    }

    #[test]
    fn a_matching_call_gets_the_filters_verdict_and_others_pass() {
        let p = getpid_errno();
        check(&p).unwrap();
        let mut d = Data {
            nr: libc::SYS_getpid as i32,
            ..Default::default()
        };
        assert_eq!(run(&p, &d), libc::SECCOMP_RET_ERRNO | 7);
        d.nr = libc::SYS_getppid as i32;
        assert_eq!(run(&p, &d), libc::SECCOMP_RET_ALLOW);
    }

    #[test]
    fn argument_words_are_read_low_then_high() {
        let p = vec![ins(LD | W | ABS, 0, 0, 16 + 8 + 4), ins(RET | A, 0, 0, 0)];
        check(&p).unwrap();
        let d = Data {
            args: [0, 0xaaaa_bbbb_cccc_dddd, 0, 0, 0, 0],
            ..Default::default()
        };
        assert_eq!(run(&p, &d), 0xaaaa_bbbb);
    }

    #[test]
    fn bad_programs_are_refused() {
        let ret = ins(RET | K, 0, 0, 0);
        let bad: Vec<Vec<Insn>> = vec![
            vec![],
            vec![ins(LD | W | ABS, 0, 0, 2), ret],
            vec![ins(LD | W | ABS, 0, 0, 64), ret],
            vec![ins(JMP | JA, 0, 0, 1), ret],
            vec![ins(JMP | JEQ | K, 1, 0, 0), ret],
            vec![ins(LD | MEM, 0, 0, 0), ret],
            vec![ins(ALU | DIV | K, 0, 0, 0), ret],
            vec![ins(ALU | op(libc::BPF_MOD) | K, 0, 0, 3), ret],
            vec![ins(LD | W | ABS, 0, 0, 0)],
            vec![ret; MAX_INSNS + 1],
        ];
        for p in bad {
            assert_eq!(
                check(&p),
                Err(Errno::EINVAL),
                "{:?}",
                p.first().map(|i| i.code)
            );
        }
    }

    #[test]
    fn a_scratch_word_stored_on_one_branch_only_may_not_be_loaded() {
        let p = vec![
            ins(JMP | JEQ | K, 0, 1, 0),
            ins(ST, 0, 0, 3),
            ins(LD | MEM, 0, 0, 3),
            ins(RET | A, 0, 0, 0),
        ];
        assert_eq!(check(&p), Err(Errno::EINVAL));
        let ok = vec![
            ins(ST, 0, 0, 3),
            ins(LD | MEM, 0, 0, 3),
            ins(RET | A, 0, 0, 0),
        ];
        check(&ok).unwrap();
    }

    #[test]
    fn linux_counts_the_translated_length() {
        assert_eq!(
            linux_len(&[ins(RET | K, 0, 0, 0); MAX_INSNS]),
            3 + 2 * MAX_INSNS
        );
        // Load, a jump whose false branch falls through, a jump needing a
        // JA, a negative K, a return.
        let p = [
            ins(LD | W | ABS, 0, 0, 0),
            ins(JMP | JEQ | K, 1, 0, 0),
            ins(JMP | JSET | K, 0, 1, 0),
            ins(JMP | JEQ | K, 0, 0, u32::MAX),
            ins(RET | A, 0, 0, 0),
        ];
        assert_eq!(linux_len(&p), 3 + 1 + 1 + 2 + 2 + 2);
    }

    #[test]
    fn division_by_a_zero_x_kills() {
        let p = vec![
            ins(LD | IMM, 0, 0, 5),
            ins(ALU | DIV | X, 0, 0, 0),
            ins(RET | K, 0, 0, libc::SECCOMP_RET_ALLOW),
        ];
        check(&p).unwrap();
        assert_eq!(run(&p, &Data::default()), libc::SECCOMP_RET_KILL_THREAD);
    }
}
