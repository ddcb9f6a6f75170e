//! Signals as data: actions, siginfo, pending sets, default actions, the
//! alternate stack. Sending is [`super::signal_send`]; delivery is the run
//! loop's ([`super::task_run`]) with the frame of [`super::signal_frame`].

use std::collections::VecDeque;

use crate::usermem::Pod;

pub const NSIG: usize = 64;
pub const SA_RESTORER: u64 = 0x0400_0000;

pub fn bit(sig: i32) -> u64 {
    1u64 << (sig - 1)
}

/// Signals that can be neither blocked nor caught.
pub const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));

/// The kernel's `struct sigaction` for rt_sigaction on x86-64.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}
// SAFETY: four u64 fields, any bit pattern is valid.
unsafe impl Pod for SigAction {}

/// `siginfo_t`, 128 bytes, with the union laid out as raw words.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pad: i32,
    pub fields: [u64; 14],
}
// SAFETY: integers only, any bit pattern is valid.
unsafe impl Pod for SigInfo {}

impl SigInfo {
    pub fn new(signo: i32, code: i32) -> SigInfo {
        SigInfo {
            signo,
            errno: 0,
            code,
            pad: 0,
            fields: [0; 14],
        }
    }

    /// A signal sent by a process (kill, tgkill): si_pid, si_uid.
    pub fn user(signo: i32, code: i32, pid: i32, uid: u32) -> SigInfo {
        let mut s = SigInfo::new(signo, code);
        s.fields[0] = (pid as u32 as u64) | ((uid as u64) << 32);
        s
    }

    /// A fault: si_addr.
    pub fn fault(signo: i32, code: i32, addr: u64) -> SigInfo {
        let mut s = SigInfo::new(signo, code);
        s.fields[0] = addr;
        s
    }

    /// SIGCHLD: si_pid, si_uid, si_status.
    pub fn child(code: i32, pid: i32, uid: u32, status: i32) -> SigInfo {
        let mut s = SigInfo::user(libc::SIGCHLD, code, pid, uid);
        s.fields[1] = status as u32 as u64;
        s
    }
}

/// What happens to a signal with SIG_DFL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    Ignore,
    Terminate,
    Core,
    Stop,
    Continue,
}

pub fn default_action(sig: i32) -> DefaultAction {
    match sig {
        libc::SIGCHLD | libc::SIGURG | libc::SIGWINCH => DefaultAction::Ignore,
        libc::SIGCONT => DefaultAction::Continue,
        libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU => DefaultAction::Stop,
        libc::SIGQUIT
        | libc::SIGILL
        | libc::SIGTRAP
        | libc::SIGABRT
        | libc::SIGBUS
        | libc::SIGFPE
        | libc::SIGSEGV
        | libc::SIGXCPU
        | libc::SIGXFSZ
        | libc::SIGSYS => DefaultAction::Core,
        _ => DefaultAction::Terminate,
    }
}

/// Pending signals of a task or of a thread group.
#[derive(Default, Debug)]
pub struct Pending {
    pub set: u64,
    queue: VecDeque<SigInfo>,
}

impl Pending {
    /// Queues a signal. Standard signals coalesce; real-time ones queue.
    pub fn push(&mut self, info: SigInfo) {
        let b = bit(info.signo);
        if info.signo < libc::SIGRTMIN() && self.set & b != 0 {
            return;
        }
        self.set |= b;
        self.queue.push_back(info);
    }

    /// Takes the lowest-numbered pending signal not in `blocked`.
    pub fn take(&mut self, blocked: u64) -> Option<SigInfo> {
        let ready = self.set & !blocked;
        if ready == 0 {
            return None;
        }
        let sig = ready.trailing_zeros() as i32 + 1;
        let i = self.queue.iter().position(|s| s.signo == sig)?;
        let info = self.queue.remove(i)?;
        if !self.queue.iter().any(|s| s.signo == sig) {
            self.set &= !bit(sig);
        }
        Some(info)
    }

    pub fn remove(&mut self, sig: i32) {
        self.queue.retain(|s| s.signo != sig);
        self.set &= !bit(sig);
    }
}

/// An alternate signal stack (sigaltstack).
#[derive(Clone, Copy, Debug, Default)]
pub struct AltStack {
    pub sp: u64,
    pub size: u64,
    pub flags: i32,
}

impl AltStack {
    pub fn on_stack(&self, sp: u64) -> bool {
        self.size != 0 && sp > self.sp && sp - self.sp <= self.size
    }
}

/// A signal's name as strace prints it (`SIGCHLD`), or its number.
pub fn signal_name(s: i64) -> String {
    let names = [
        "0",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    names
        .get(usize::try_from(s).unwrap_or(usize::MAX))
        .map(|n| n.to_string())
        .unwrap_or_else(|| s.to_string())
}
