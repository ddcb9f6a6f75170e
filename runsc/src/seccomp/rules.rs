//! The shape of an allow-list: entries of (syscall, reason, argument
//! rules), each rule a reason and the conditions its arguments meet. One
//! shape serves the filter ([`compile`]), the kill tests and the page in
//! docs/security.md, so they cannot disagree.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use seccompiler::{SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompRule};

/// A value an argument is compared with: a constant with the name it has
/// in C, or a fact of the running process known only when the filter is
/// built.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    // The name is for the documentation (the doc test).
    Const(#[cfg_attr(not(test), allow(dead_code))] &'static str, u64),
    /// The memory file's descriptor.
    MemFd,
    /// The ptrace platform's scratch memfd (stubs map their slot of it).
    ScratchFd,
    /// The filtered process's own pid (its thread group).
    OwnPid,
    /// The Gofer's descriptor of /proc (the `p9` server's).
    ProcFd,
}

/// What a filter is built for: the descriptors and ids it may name.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    pub memfd: Option<i32>,
    pub scratch_fd: Option<i32>,
    pub pid: i32,
    pub proc_fd: Option<i32>,
}

impl Value {
    fn resolve(self, f: &Facts) -> Option<u64> {
        match self {
            Value::Const(_, v) => Some(v),
            Value::MemFd => f.memfd.map(|fd| fd as u64),
            Value::ScratchFd => f.scratch_fd.map(|fd| fd as u64),
            Value::OwnPid => Some(f.pid as u64),
            Value::ProcFd => f.proc_fd.map(|fd| fd as u64),
        }
    }

    #[cfg(test)]
    pub fn describe(self) -> String {
        match self {
            // `libc::A | libc::B` as written in the table reads `A | B`.
            Value::Const(name, _) => name
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .replace("libc :: ", "")
                .replace("libc::", ""),
            Value::MemFd => "the memory file's fd".into(),
            Value::ScratchFd => "the stub scratch memfd".into(),
            Value::OwnPid => "the process's own pid".into(),
            Value::ProcFd => "the p9 server's /proc fd".into(),
        }
    }
}

/// A comparison of one argument. `Dword` compares the low 32 bits, which
/// is all the kernel reads of an `int` argument.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    Eq,
    Gt,
    Lt,
    /// `(arg & mask) == value`.
    MaskedEq(Value),
}

#[derive(Clone, Copy, Debug)]
pub struct Cond {
    pub arg: u8,
    pub wide: bool,
    pub op: Op,
    pub value: Value,
}

/// `arg == v` on an `int` argument.
pub const fn eq(arg: u8, value: Value) -> Cond {
    Cond {
        arg,
        wide: false,
        op: Op::Eq,
        value,
    }
}

/// `arg == v` on a `long` argument (all 64 bits).
pub const fn eq64(arg: u8, value: Value) -> Cond {
    Cond {
        arg,
        wide: true,
        op: Op::Eq,
        value,
    }
}

/// `(arg & mask) == v` on an `int` argument.
pub const fn masked(arg: u8, mask: Value, value: Value) -> Cond {
    Cond {
        arg,
        wide: false,
        op: Op::MaskedEq(mask),
        value,
    }
}

/// `arg > v` on an `int` argument, unsigned.
pub const fn gt(arg: u8, value: Value) -> Cond {
    Cond {
        arg,
        wide: false,
        op: Op::Gt,
        value,
    }
}

/// `arg < v` on an `int` argument, unsigned.
pub const fn lt(arg: u8, value: Value) -> Cond {
    Cond {
        arg,
        wide: false,
        op: Op::Lt,
        value,
    }
}

/// A constant named as written: `k!(libc::SIGKILL)`,
/// `k!(libc::CLONE_VM | libc::CLONE_FS)`.
macro_rules! k {
    ($($e:tt)+) => {
        $crate::seccomp::rules::Value::Const(stringify!($($e)+), ($($e)+) as u64)
    };
}
pub(crate) use k;

/// One allowed form of a call: every condition holds.
#[derive(Debug)]
pub struct Rule {
    #[cfg_attr(not(test), allow(dead_code))]
    pub why: &'static str,
    pub conds: &'static [Cond],
}

/// Which arguments an entry allows.
#[derive(Debug)]
pub enum Args {
    Any,
    /// Any one of these forms.
    OneOf(&'static [Rule]),
    /// Forms made from another module's data when the filter is built
    /// (`what` says which, for the documentation).
    Generated {
        #[cfg_attr(not(test), allow(dead_code))]
        what: &'static str,
        rules: fn() -> Vec<Vec<Cond>>,
    },
}

/// One allowed syscall.
#[derive(Debug)]
pub struct Entry {
    pub nr: i64,
    #[cfg_attr(not(test), allow(dead_code))]
    pub why: &'static str,
    pub args: Args,
}

/// An entry allowing any arguments.
pub const fn any(nr: i64, why: &'static str) -> Entry {
    Entry {
        nr,
        why,
        args: Args::Any,
    }
}

/// An entry allowing the forms `rules`.
pub const fn only(nr: i64, why: &'static str, rules: &'static [Rule]) -> Entry {
    Entry {
        nr,
        why,
        args: Args::OneOf(rules),
    }
}

/// A form with its reason.
pub const fn form(why: &'static str, conds: &'static [Cond]) -> Rule {
    Rule { why, conds }
}

/// A call answered with an errno instead of being run or killing the
/// process: a filter of its own, stacked before the allow-list (the
/// strictest answer wins), and a form of the allow-list so the call gets
/// that far.
#[derive(Debug)]
pub struct Refusal {
    pub nr: i64,
    pub errno: i32,
    #[cfg_attr(not(test), allow(dead_code))]
    pub why: &'static str,
    /// The arguments refused; empty: any.
    pub conds: &'static [Cond],
}

/// Adds the refused forms to `allowed`, so they pass the allow-list and
/// take their errno from the refusal filter.
pub fn let_refusals_through<'a>(
    allowed: &mut Allowed,
    refusals: impl IntoIterator<Item = &'a Refusal>,
) {
    for r in refusals {
        if r.conds.is_empty() {
            allowed.insert(r.nr, None);
            continue;
        }
        match allowed.get_mut(&r.nr) {
            Some(Some(forms)) => forms.push(r.conds.to_vec()),
            Some(None) => {}
            None => {
                allowed.insert(r.nr, Some(vec![r.conds.to_vec()]));
            }
        }
    }
}

/// What a set of lists allows, per syscall: `None` for any arguments,
/// else the union of the forms. Lists are merged, so a platform's or a
/// network mode's list can widen an entry of the base list.
pub type Allowed = BTreeMap<i64, Option<Vec<Vec<Cond>>>>;

pub fn merge(lists: &[&[Entry]]) -> Allowed {
    let mut out: Allowed = BTreeMap::new();
    for e in lists.iter().flat_map(|l| l.iter()) {
        let forms = match &e.args {
            Args::Any => None,
            Args::OneOf(rules) => Some(rules.iter().map(|r| r.conds.to_vec()).collect()),
            Args::Generated { rules, .. } => Some(rules()),
        };
        match (out.get_mut(&e.nr), forms) {
            (Some(slot), Some(forms)) => {
                if let Some(have) = slot {
                    have.extend(forms);
                }
            }
            (Some(slot), None) => *slot = None,
            (None, forms) => {
                out.insert(e.nr, forms);
            }
        }
    }
    out
}

fn condition(c: &Cond, f: &Facts) -> Result<Option<SeccompCondition>> {
    let Some(value) = c.value.resolve(f) else {
        return Ok(None);
    };
    let op = match c.op {
        Op::Eq => SeccompCmpOp::Eq,
        Op::Gt => SeccompCmpOp::Gt,
        Op::Lt => SeccompCmpOp::Lt,
        Op::MaskedEq(mask) => match mask.resolve(f) {
            Some(m) => SeccompCmpOp::MaskedEq(m),
            None => return Ok(None),
        },
    };
    let len = if c.wide {
        SeccompCmpArgLen::Qword
    } else {
        SeccompCmpArgLen::Dword
    };
    let value = if c.wide { value } else { value & 0xffff_ffff };
    Ok(Some(
        SeccompCondition::new(c.arg, len, op, value).context("an argument condition")?,
    ))
}

/// seccompiler's rules for `allowed` with the facts of this process. A
/// form naming a fact the process does not have (no memory file yet) is
/// left out: it could match nothing.
pub fn compile(allowed: &Allowed, f: &Facts) -> Result<BTreeMap<i64, Vec<SeccompRule>>> {
    let mut out = BTreeMap::new();
    for (nr, forms) in allowed {
        let mut rules = Vec::new();
        if let Some(forms) = forms {
            'form: for conds in forms {
                let mut cs = Vec::new();
                for c in conds {
                    match condition(c, f)? {
                        Some(c) => cs.push(c),
                        None => continue 'form,
                    }
                }
                rules.push(SeccompRule::new(cs).context("an argument rule")?);
            }
            if rules.is_empty() {
                // Every form needs a fact this process lacks: nothing of
                // this call is allowed.
                continue;
            }
        }
        out.insert(*nr, rules);
    }
    Ok(out)
}

/// The name of syscall `nr` on x86-64.
#[cfg(test)]
pub fn name(nr: i64) -> &'static str {
    syscalls::Sysno::new(nr as usize).map_or("?", |s| s.name())
}

/// A condition as the documentation shows it: `arg0 == PTRACE_CONT`.
#[cfg(test)]
pub fn describe(c: &Cond) -> String {
    let a = format!("arg{}", c.arg);
    let v = c.value.describe();
    match c.op {
        Op::Eq => format!("{a} == {v}"),
        Op::Gt => format!("{a} > {v}"),
        Op::Lt => format!("{a} < {v}"),
        Op::MaskedEq(m) => format!("{a} & ({}) == {v}", m.describe()),
    }
}
