//! Application seccomp, enforced by the Sentry itself: a thread's mode
//! (strict or filter), its stack of classic-BPF filters, and the verdict
//! they give on each call before its handler runs.
//!
//! The host's filter on the Sentry (`runsc/src/sandbox/`) is a different
//! thing and stays under this one: the application's filters never reach
//! the host, and the host's never see application calls.
//!
//! Filters form a chain, newest first, shared by every thread and child
//! that inherited them (an `Arc` per filter, as Linux's refcounted
//! `seccomp_filter` list): a new filter points at the ones it was stacked
//! on, so TSYNC can tell whether another thread's chain is a prefix of the
//! caller's.

pub mod bpf;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::errno::{Errno, SysResult};
use crate::kernel::signal::SigInfo;
use crate::kernel::task::{SyscallArgs, Task};
use crate::kernel::thread_group::signal_status;

/// `AUDIT_ARCH_X86_64` (linux/audit.h: EM_X86_64 | 64-bit | little
/// endian), the arch a filter sees; not in the libc crate.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// SIGSYS's si_code for a seccomp trap (`SYS_SECCOMP`); not in libc.
pub const SYS_SECCOMP: i32 = 1;
/// The largest errno a filter can return (Linux's MAX_ERRNO).
const MAX_ERRNO: u16 = 4095;
/// Instructions one thread's filters may hold in all, each filter after
/// the first counted with 4 more (Linux's MAX_INSNS_PER_PATH and its
/// penalty), in the length Linux's translation gives them
/// ([`bpf::linux_len`]): past it a new filter gets ENOMEM.
const MAX_INSNS_PER_PATH: usize = (1 << 18) / std::mem::size_of::<bpf::Insn>();
const FILTER_PENALTY: usize = 4;

/// The kernel-internal restart codes (ERESTARTSYS to
/// ERESTART_RESTARTBLOCK), which a filter may return as an errno.
const RESTART_CODES: std::ops::RangeInclusive<u16> = 512..=516;

/// The calls strict mode leaves a thread (Linux's mode1_syscalls).
const STRICT_ALLOWED: [i64; 4] = [
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_exit,
    libc::SYS_rt_sigreturn,
];

/// A thread's seccomp mode, numbered as PR_GET_SECCOMP and /proc report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Disabled,
    Strict,
    Filter,
}

impl Mode {
    pub fn number(self) -> u32 {
        match self {
            Mode::Disabled => libc::SECCOMP_MODE_DISABLED,
            Mode::Strict => libc::SECCOMP_MODE_STRICT,
            Mode::Filter => libc::SECCOMP_MODE_FILTER,
        }
    }
}

/// One installed filter and those it was stacked on.
pub struct Filter {
    prog: Vec<bpf::Insn>,
    /// SECCOMP_FILTER_FLAG_LOG: log the actions it takes (but ALLOW).
    log: bool,
    prev: Option<Arc<Filter>>,
    /// Filters in the chain ending here (/proc's Seccomp_filters).
    depth: usize,
    /// Instructions in the chain as Linux counts them, with the per-filter
    /// penalty.
    insns: usize,
}

impl Filter {
    fn chain(self: &Arc<Self>) -> impl Iterator<Item = &Arc<Filter>> {
        std::iter::successors(Some(self), |f| f.prev.as_ref())
    }
}

/// Whether `older` (None: no filter) is `newer` or one of the filters
/// `newer` was stacked on.
fn is_prefix(older: &Option<Arc<Filter>>, newer: &Option<Arc<Filter>>) -> bool {
    match (older, newer) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(o), Some(n)) => n.chain().any(|f| Arc::ptr_eq(f, o)),
    }
}

#[derive(Clone, Default)]
struct State {
    mode: Mode,
    filter: Option<Arc<Filter>>,
}

/// A thread's seccomp state, in its shared handle: TSYNC sets it from
/// another thread and /proc reads it.
#[derive(Default)]
pub struct TaskSeccomp {
    /// Any mode set: the run loop's one check per call when none is.
    on: AtomicBool,
    state: Mutex<State>,
}

impl TaskSeccomp {
    pub fn active(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// A new thread or child starts with its creator's mode and filters.
    pub fn inherit(&self, from: &TaskSeccomp) {
        let s = from.state.lock().unwrap().clone();
        self.set(s);
    }

    fn set(&self, s: State) {
        let on = s.mode != Mode::Disabled;
        *self.state.lock().unwrap() = s;
        self.on.store(on, Ordering::Relaxed);
    }

    pub fn mode(&self) -> Mode {
        self.state.lock().unwrap().mode
    }

    /// How many filters the thread runs (/proc's Seccomp_filters).
    pub fn filter_count(&self) -> usize {
        let s = self.state.lock().unwrap();
        s.filter.as_ref().map_or(0, |f| f.depth)
    }
}

/// A filter's verdict, decoded (SECCOMP_RET_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    KillProcess,
    KillThread,
    Trap(u16),
    Errno(u16),
    UserNotif,
    Trace(u16),
    Log,
    Allow,
}

impl Action {
    fn of(ret: u32) -> Action {
        let data = (ret & libc::SECCOMP_RET_DATA) as u16;
        match ret & libc::SECCOMP_RET_ACTION_FULL {
            libc::SECCOMP_RET_KILL_THREAD => Action::KillThread,
            libc::SECCOMP_RET_TRAP => Action::Trap(data),
            libc::SECCOMP_RET_ERRNO => Action::Errno(data),
            libc::SECCOMP_RET_USER_NOTIF => Action::UserNotif,
            libc::SECCOMP_RET_TRACE => Action::Trace(data),
            libc::SECCOMP_RET_LOG => Action::Log,
            libc::SECCOMP_RET_ALLOW => Action::Allow,
            // KILL_PROCESS, and any action Linux does not know, which it
            // treats as KILL_PROCESS too.
            _ => Action::KillProcess,
        }
    }
}

/// Whether SECCOMP_GET_ACTION_AVAIL reports `action` as available.
/// USER_NOTIF is not: no listener can be made (NEW_LISTENER is refused),
/// though a filter that returns it gets Linux's ENOSYS for the call.
pub fn action_available(action: u32) -> bool {
    matches!(
        action,
        libc::SECCOMP_RET_KILL_PROCESS
            | libc::SECCOMP_RET_KILL_THREAD
            | libc::SECCOMP_RET_TRAP
            | libc::SECCOMP_RET_ERRNO
            | libc::SECCOMP_RET_TRACE
            | libc::SECCOMP_RET_LOG
            | libc::SECCOMP_RET_ALLOW
    )
}

/// Runs every filter of the chain, newest first, and keeps the verdict of
/// highest precedence: the lowest action as a signed number (KILL_PROCESS
/// first, ALLOW last); among equals, the newest filter's. Returns it and
/// whether that filter asked for logging.
fn evaluate(top: &Arc<Filter>, d: &bpf::Data) -> (u32, bool) {
    let mut best: Option<(u32, bool)> = None;
    for f in top.chain() {
        let ret = bpf::run(&f.prog, d);
        let rank = |r: u32| (r & libc::SECCOMP_RET_ACTION_FULL) as i32;
        if best.is_none_or(|(b, _)| rank(ret) < rank(b)) {
            best = Some((ret, f.log));
        }
    }
    best.unwrap_or((libc::SECCOMP_RET_ALLOW, false))
}

/// Sets strict mode (read, write, _exit and sigreturn only). EINVAL if a
/// filter is already installed.
pub fn set_strict(t: &Task) -> Result<(), Errno> {
    let sc = &t.handle.seccomp;
    let mut s = sc.state.lock().unwrap().clone();
    if s.mode != Mode::Disabled {
        return Err(Errno::EINVAL);
    }
    s.mode = Mode::Strict;
    sc.set(s);
    Ok(())
}

/// What SECCOMP_SET_MODE_FILTER asked for beyond the program.
#[derive(Clone, Copy, Debug, Default)]
pub struct FilterFlags {
    pub tsync: bool,
    /// With TSYNC: a thread that cannot follow gives ESRCH, not its tid.
    pub tsync_esrch: bool,
    pub log: bool,
}

/// Stacks a checked program on the calling thread's filters (and, with
/// TSYNC, makes every thread of the group run the same chain). Returns 0,
/// or with TSYNC the id of a thread whose own filters are not a prefix of
/// the caller's (nothing is installed then).
pub fn attach(t: &Task, prog: Vec<bpf::Insn>, flags: FilterFlags) -> SysResult {
    // The group's lock serializes TSYNC callers, as Linux's siglock does;
    // each thread's own state lock is taken under it, never the reverse.
    let group = t.tg.inner.lock().unwrap();
    let sc = &t.handle.seccomp;
    let mine = sc.state.lock().unwrap().clone();
    if mine.mode == Mode::Strict {
        return Err(Errno::EINVAL);
    }
    let others: Vec<_> = group
        .tasks
        .iter()
        .filter(|h| h.tid != t.tid)
        .cloned()
        .collect();
    if flags.tsync {
        for h in &others {
            let theirs = h.seccomp.state.lock().unwrap().clone();
            let follows = match theirs.mode {
                Mode::Disabled => true,
                Mode::Filter => is_prefix(&theirs.filter, &mine.filter),
                Mode::Strict => false,
            };
            if !follows {
                return if flags.tsync_esrch {
                    Err(Errno::ESRCH)
                } else {
                    Ok(h.tid as u64)
                };
            }
        }
    }
    let below = mine.filter.as_ref().map_or(0, |f| f.insns + FILTER_PENALTY);
    let insns = bpf::linux_len(&prog) + below;
    if insns > MAX_INSNS_PER_PATH {
        return Err(Errno::ENOMEM);
    }
    let filter = Arc::new(Filter {
        prog,
        log: flags.log,
        depth: mine.filter.as_ref().map_or(0, |f| f.depth) + 1,
        prev: mine.filter,
        insns,
    });
    let new = State {
        mode: Mode::Filter,
        filter: Some(filter),
    };
    if flags.tsync {
        let nnp = t.handle.creds.lock().unwrap().no_new_privs;
        for h in &others {
            h.seccomp.set(new.clone());
            if nnp {
                h.creds.lock().unwrap().no_new_privs = true;
            }
            // Its calls must meet the filter from now on, also those a
            // platform would answer in place.
            h.revoke_guest_answers();
        }
    }
    sc.set(new);
    Ok(0)
}

impl Task {
    /// The thread's seccomp verdict on the call about to be served. None:
    /// serve it; Some: its result instead (the handler does not run). May
    /// end the thread or its group (`exit_code` is then set) or queue
    /// SIGSYS. Called only when [`TaskSeccomp::active`].
    pub fn seccomp_verdict(&mut self, nr: u64, args: &SyscallArgs) -> Option<SysResult> {
        let s = self.handle.seccomp.state.lock().unwrap().clone();
        let filter = match (s.mode, s.filter) {
            (Mode::Disabled, _) => return None,
            (Mode::Strict, _) => {
                if STRICT_ALLOWED.iter().any(|n| *n as u64 == nr) {
                    return None;
                }
                // Linux ends just this thread, as if by SIGKILL.
                self.exit_code = Some(signal_status(libc::SIGKILL, false));
                return Some(Ok(0));
            }
            (Mode::Filter, Some(f)) => f,
            (Mode::Filter, None) => return None,
        };
        let data = bpf::Data {
            nr: nr as i32,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: self.regs.rip,
            args: args.a,
        };
        let (ret, log) = evaluate(&filter, &data);
        let action = Action::of(ret);
        if (log && action != Action::Allow) || action == Action::Log {
            tracing::info!("seccomp: task {} syscall {nr}: {action:?}", self.tid);
        }
        match action {
            Action::Allow | Action::Log => None,
            Action::Errno(0) => Some(Ok(0)),
            Action::Errno(e) if RESTART_CODES.contains(&e) => {
                // Given to the application as it is: through the Sentry's
                // restart logic it would restart the call for ever.
                self.regs.rax = Errno(i32::from(e)).to_ret();
                self.regs_replaced = true;
                Some(Ok(0))
            }
            Action::Errno(e) => Some(Err(Errno(i32::from(e.min(MAX_ERRNO))))),
            Action::Trap(reason) => {
                let mut info = SigInfo::new(libc::SIGSYS, SYS_SECCOMP);
                info.errno = i32::from(reason);
                info.fields[0] = self.regs.rip;
                info.fields[1] = u64::from(nr as u32) | (u64::from(AUDIT_ARCH_X86_64) << 32);
                self.force_signal(info);
                // rax holds the call's number, as Linux's rollback leaves
                // it for the handler to see and change.
                Some(Ok(nr))
            }
            Action::Trace(_) => Some(self.seccomp_trace_event()),
            // Nothing can listen: Linux answers ENOSYS without a listener.
            Action::UserNotif => Some(Err(Errno::ENOSYS)),
            Action::KillThread => {
                let alone = self.tg.inner.lock().unwrap().tasks.len() <= 1;
                if alone {
                    self.group_exit(signal_status(libc::SIGSYS, true));
                } else {
                    self.exit_code = Some(signal_status(libc::SIGSYS, false));
                }
                Some(Ok(0))
            }
            Action::KillProcess => {
                self.group_exit(signal_status(libc::SIGSYS, true));
                Some(Ok(0))
            }
        }
    }

    /// SECCOMP_RET_TRACE: a tracer that asked for PTRACE_O_TRACESECCOMP
    /// would be stopped here with PTRACE_EVENT_SECCOMP and the action's
    /// data, and decide whether the call runs. Without a tracer (there is
    /// no ptrace yet) Linux fails the call with ENOSYS.
    fn seccomp_trace_event(&mut self) -> SysResult {
        Err(Errno::ENOSYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(ret: u32, prev: Option<Arc<Filter>>) -> Arc<Filter> {
        let prog = vec![bpf::Insn {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: ret,
        }];
        Arc::new(Filter {
            depth: prev.as_ref().map_or(0, |f| f.depth) + 1,
            insns: 1,
            prog,
            log: false,
            prev,
        })
    }

    #[test]
    fn the_verdict_of_highest_precedence_wins_over_the_order_of_filters() {
        let errno = filter(libc::SECCOMP_RET_ERRNO | 1, None);
        let trap = filter(libc::SECCOMP_RET_TRAP | 2, Some(errno.clone()));
        let allow = filter(libc::SECCOMP_RET_ALLOW, Some(trap.clone()));
        let d = bpf::Data::default();
        assert_eq!(evaluate(&allow, &d).0, libc::SECCOMP_RET_TRAP | 2);
        let kill = filter(libc::SECCOMP_RET_KILL_PROCESS, Some(allow));
        assert_eq!(evaluate(&kill, &d).0, libc::SECCOMP_RET_KILL_PROCESS);
        assert_eq!(kill.depth, 4);
    }

    #[test]
    fn a_chain_is_a_prefix_of_the_chains_stacked_on_it_only() {
        let a = filter(libc::SECCOMP_RET_ALLOW, None);
        let b = filter(libc::SECCOMP_RET_ALLOW, Some(a.clone()));
        let other = filter(libc::SECCOMP_RET_ALLOW, None);
        assert!(is_prefix(&None, &Some(b.clone())));
        assert!(is_prefix(&Some(a.clone()), &Some(b.clone())));
        assert!(!is_prefix(&Some(b), &Some(a.clone())));
        assert!(!is_prefix(&Some(other), &Some(a)));
    }

    #[test]
    fn unknown_actions_kill_the_process() {
        assert_eq!(Action::of(0x1234_0000), Action::KillProcess);
        assert_eq!(
            Action::of(libc::SECCOMP_RET_ERRNO | 0xffff),
            Action::Errno(0xffff)
        );
    }
}
