//! Host signals a sandbox takes instead of dying of them: the parent
//! (`do`, the supervisor) passes them on to the Sentry, whose forwarder
//! thread passes them on to the sandbox's init; the Gofer ignores them.

use std::sync::atomic::{AtomicI32, Ordering};

/// Signals `do` and the Sentry pass on to the sandbox instead of dying of
/// them: what `kill`, `docker stop` and a terminal send.
pub const FORWARDED: [i32; 7] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

/// Passes the signals a sandbox takes (SIGTERM, SIGINT ...) on to `pid`
/// instead of dying of them.
pub fn forward_signals_to(pid: i32) {
    BOOT_PID.store(pid, Ordering::SeqCst);
    set_disposition(
        &FORWARDED,
        forward_to_boot as *const () as usize,
        libc::SA_SIGINFO | libc::SA_RESTART,
    );
}

/// The Sentry's pid, for `do`'s signal handler.
static BOOT_PID: AtomicI32 = AtomicI32::new(0);

/// `do`'s handler: a signal sent by a process goes on to the Sentry. One from
/// the terminal driver (SI_KERNEL) reached the Sentry already: the whole
/// foreground process group gets it.
extern "C" fn forward_to_boot(
    sig: libc::c_int,
    info: *mut libc::siginfo_t,
    _ctx: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    let code = unsafe { (*info).si_code };
    let pid = BOOT_PID.load(Ordering::SeqCst);
    if code != libc::SI_KERNEL && pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

pub fn set_disposition(sigs: &[i32], handler: usize, flags: i32) {
    for &s in sigs {
        // SAFETY: installs a handler that only makes async-signal-safe calls,
        // or SIG_IGN.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler;
            sa.sa_flags = flags;
            libc::sigaction(s, &sa, std::ptr::null_mut());
        }
    }
}

/// Blocks the forwarded signals in the calling thread (and so in every
/// thread it starts later).
pub fn block_forwarded() {
    // SAFETY: sigset_t is plain data; the calls only fill and apply it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in FORWARDED {
            libc::sigaddset(&mut set, s);
        }
        // Taken by the Sentry's forwarder thread too: it writes the task
        // dump.
        libc::sigaddset(&mut set, sentry::boot::DUMP_SIGNAL);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}
