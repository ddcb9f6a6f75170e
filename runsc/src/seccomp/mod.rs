//! Seccomp filters of the Sentry and the Gofer: allow-lists as data, one
//! entry per host syscall with the reason it is needed and, where they
//! narrow the surface, the argument forms allowed (`rules.rs`).
//!
//! The Sentry's filter goes on in `boot` after the Sentry has cut itself
//! off from the host filesystem and before any application code runs;
//! every thread and every stub process inherits it. Application system
//! calls never reach it: under PTRACE_SYSEMU the kernel stops them before
//! seccomp runs. A call outside the list, or with arguments outside its
//! forms, raises SIGSYS, which the handler below reports with its number
//! and arguments before the sandbox dies, so a missing entry is easy to
//! find.

#[cfg(test)]
mod doc;
mod gofer;
mod kvm_rules;
pub mod rules;
mod sentry_rules;
mod systrap_rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::os::fd::RawFd;

use anyhow::{Context, Result};
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, SeccompRule, TargetArch};

use platform::PlatformKind;
use rules::{compile, let_refusals_through, merge, Allowed, Entry, Facts, Refusal};

/// What a Sentry's filter depends on: its platform and what of the host's
/// network it may reach.
#[derive(Clone, Copy, Debug)]
pub struct SentryProfile {
    pub platform: PlatformKind,
    /// `--network=host`: the application's inet sockets are host sockets.
    pub host_network: bool,
    /// Host Unix sockets reach the sandbox through the Gofer.
    pub host_uds: bool,
}

impl SentryProfile {
    /// The lists this Sentry's filter merges, each with its name.
    pub fn lists(&self) -> Vec<(&'static str, &'static [Entry])> {
        let mut lists = vec![("every Sentry", sentry_rules::SENTRY_ALLOW)];
        match self.platform {
            PlatformKind::Ptrace => lists.push(("the ptrace platform", sentry_rules::PTRACE_ALLOW)),
            PlatformKind::Kvm => lists.push(("the KVM platform", kvm_rules::KVM_ALLOW)),
            PlatformKind::Systrap => {
                lists.push(("the ptrace platform", sentry_rules::PTRACE_ALLOW));
                lists.push(("the systrap platform", systrap_rules::SYSTRAP_ALLOW));
            }
        }
        if self.host_network {
            lists.push(("--network=host", sentry_rules::HOST_NETWORK_ALLOW));
        }
        if self.host_uds {
            lists.push(("host Unix sockets", sentry_rules::HOST_UDS_ALLOW));
        }
        lists
    }

    fn allowed(&self) -> Allowed {
        let lists: Vec<&[Entry]> = self.lists().into_iter().map(|(_, l)| l).collect();
        let mut allowed = merge(&lists);
        let_refusals_through(&mut allowed, sentry_rules::SENTRY_REFUSE);
        allowed
    }
}

fn build(rules: BTreeMap<i64, Vec<SeccompRule>>) -> Result<BpfProgram> {
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Trap,
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .context("building the seccomp filter")?;
    BpfProgram::try_from(filter).context("compiling the seccomp filter")
}

/// The Sentry's allow-list filter for `profile` with the facts `f`.
pub fn sentry_filter(profile: &SentryProfile, f: &Facts) -> Result<BpfProgram> {
    build(compile(&profile.allowed(), f)?)
}

/// The filters answering `list`'s calls with their errno: one per errno
/// (a filter has one match action).
fn refusal_filters(list: &[Refusal], f: &Facts) -> Result<Vec<BpfProgram>> {
    let mut by_errno: BTreeMap<i32, Vec<&Refusal>> = BTreeMap::new();
    for r in list {
        by_errno.entry(r.errno).or_default().push(r);
    }
    by_errno
        .into_iter()
        .map(|(errno, refusals)| {
            let mut refused = Allowed::new();
            let_refusals_through(&mut refused, refusals);
            let f = SeccompFilter::new(
                compile(&refused, f)?,
                SeccompAction::Allow,
                SeccompAction::Errno(errno as u32),
                TargetArch::x86_64,
            )
            .context("building a refusal filter")?;
            BpfProgram::try_from(f).context("compiling a refusal filter")
        })
        .collect()
}

/// Every filter of a Sentry, in the order they go on (the allow-list
/// last).
pub fn sentry_filters(profile: &SentryProfile, f: &Facts) -> Result<Vec<BpfProgram>> {
    let mut out = refusal_filters(sentry_rules::SENTRY_REFUSE, f)?;
    out.push(sentry_filter(profile, f)?);
    Ok(out)
}

/// Every filter of the Gofer, in the order they go on.
pub fn gofer_filters(f: &Facts) -> Result<Vec<BpfProgram>> {
    let mut out = refusal_filters(gofer::GOFER_REFUSE, f)?;
    out.push(gofer_filter(f)?);
    Ok(out)
}

/// The Gofer's allow-list filter.
pub fn gofer_filter(f: &Facts) -> Result<BpfProgram> {
    let mut allowed = merge(&[gofer::GOFER_ALLOW]);
    let_refusals_through(&mut allowed, gofer::GOFER_REFUSE);
    build(compile(&allowed, f)?)
}

/// Installs `filters` in order on every thread.
fn install(filters: &[BpfProgram]) -> Result<()> {
    install_reporter();
    for f in filters {
        seccompiler::apply_filter_all_threads(f).context("installing a seccomp filter")?;
    }
    Ok(())
}

fn own_pid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// Installs the Gofer's filter (after it has confined itself). `proc_fd`:
/// the p9 server's descriptor of /proc, through which it reopens fids.
pub fn install_gofer(proc_fd: Option<RawFd>) -> Result<()> {
    install(&gofer_filters(&Facts {
        pid: own_pid(),
        proc_fd,
        ..Facts::default()
    })?)
}

/// Installs the filter on every thread of the Sentry. `memfd` is the
/// memory file, the one descriptor besides the platform's that stubs may
/// map.
pub fn install_sentry(profile: &SentryProfile, memfd: RawFd) -> Result<()> {
    let facts = Facts {
        memfd: Some(memfd),
        scratch_fd: platform::ptrace::scratch_fd(),
        pid: own_pid(),
        proc_fd: None,
    };
    // The allow-list last: after it, not even seccomp(2) itself is
    // allowed.
    install(&sentry_filters(profile, &facts)?)
}

/// Appends `v` in hex to `buf` at `*at`.
fn put_hex(buf: &mut [u8], at: &mut usize, v: u64) {
    let digits = b"0123456789abcdef";
    for b in b"0x" {
        buf[*at] = *b;
        *at += 1;
    }
    let mut started = false;
    for i in (0..16).rev() {
        let d = ((v >> (i * 4)) & 0xf) as usize;
        if d != 0 || started || i == 0 {
            started = true;
            buf[*at] = digits[d];
            *at += 1;
        }
    }
}

/// Appends `v` in decimal to `buf` at `*at`.
fn put_dec(buf: &mut [u8], at: &mut usize, v: u32) {
    let mut digits = [0u8; 10];
    let (mut n, mut len) = (v, 0);
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in digits[..len].iter().rev() {
        buf[*at] = *d;
        *at += 1;
    }
}

fn put(buf: &mut [u8], at: &mut usize, s: &[u8]) {
    buf[*at..*at + s.len()].copy_from_slice(s);
    *at += s.len();
}

/// Reports which syscall the filter refused, with its arguments, then
/// ends the process.
extern "C" fn on_sigsys(_sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // siginfo for SIGSYS: si_syscall is the int at byte offset 24.
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let nr = unsafe { *((info as *const u8).add(24) as *const i32) };
    // SAFETY: and a valid ucontext, holding the registers of the call.
    let regs = unsafe { (*(ctx as *const libc::ucontext_t)).uc_mcontext.gregs };
    let args = [
        libc::REG_RDI,
        libc::REG_RSI,
        libc::REG_RDX,
        libc::REG_R10,
        libc::REG_R8,
        libc::REG_R9,
    ]
    .map(|r| regs[r as usize] as u64);
    let mut buf = [0u8; 512];
    let mut at = 0;
    put(
        &mut buf,
        &mut at,
        b"runsc-rs: seccomp refused host syscall ",
    );
    put_dec(&mut buf, &mut at, nr.unsigned_abs());
    put(&mut buf, &mut at, b" (");
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            put(&mut buf, &mut at, b", ");
        }
        put_hex(&mut buf, &mut at, *a);
    }
    put(&mut buf, &mut at, b")");
    // Which file an open was for says who made it.
    let path = match nr as i64 {
        libc::SYS_open => Some(args[0]),
        libc::SYS_openat => Some(args[1]),
        _ => None,
    };
    if let Some(p) = path.filter(|p| *p != 0) {
        put(&mut buf, &mut at, b" path ");
        for i in 0..128 {
            // SAFETY: the process passed this pointer to the kernel as a
            // path; it is its own memory (a bad one faults here, ending the
            // process as the SIGSYS would).
            let c = unsafe { *((p as *const u8).add(i)) };
            if c == 0 {
                break;
            }
            buf[at] = c;
            at += 1;
        }
    }
    put(
        &mut buf,
        &mut at,
        b" (a Sentry/Gofer bug; please report it)\n",
    );
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), at);
        libc::_exit(125);
    }
}

fn install_reporter() {
    // SAFETY: installs a handler that only makes async-signal-safe calls.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigsys as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO;
        libc::sigaction(libc::SIGSYS, &sa, std::ptr::null_mut());
    }
}
