//! The Sentry's side of a handoff: spin while a spare CPU can watch the
//! stub, then sleep on a futex the stub wakes.
//!
//! Spinning is what makes a round trip cost a fraction of a futex
//! wake-up (0.22 us against 5 to 47 us on these machines, DESIGN.md),
//! but a spinning Sentry thread takes a whole CPU from everyone else. So
//! at most one Sentry thread per spare CPU spins at a time (a CPU is
//! spare when the sandbox may use more than one: the application needs
//! the other); the rest sleep at once. A sleeper wakes up only for its
//! stub's event, or once every [`CHECK`] to see whether its stub died
//! without a word: an idle sandbox (every task blocked in the Sentry, or
//! every stub asleep in the Sentry's reply) spends no CPU.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

/// Spin iterations before sleeping (each a `pause`, about 10-40 ns).
const SPIN: u32 = 4000;
/// How often a sleeper checks that its stub lives.
pub const CHECK: Duration = Duration::from_secs(1);

/// Sentry threads spinning now.
static SPINNERS: AtomicUsize = AtomicUsize::new(0);

fn spare_cpus() -> usize {
    super::sandbox_cpus().len().saturating_sub(1)
}

/// FUTEX_WAKE on a shared (cross-process) word.
pub fn wake(word: &AtomicU32) {
    // SAFETY: futex reads the word's address only; the word is in memory
    // mapped for the life of the process.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            1,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Waits until `word` differs from `old` and returns its new value;
/// `waiting` tells the stub to wake us. `dead` is asked after each
/// wake-up without a change and each [`CHECK`] of sleep; when it says
/// so, None.
pub fn until_changed(
    word: &AtomicU32,
    old: u32,
    waiting: &AtomicU32,
    dead: impl Fn() -> bool,
) -> Option<u32> {
    until_changed_spin(word, old, waiting, true, dead)
}

/// [`until_changed`], without the spin when `spin` is false (the stub
/// thread waited for runs on this CPU once we sleep).
pub fn until_changed_spin(
    word: &AtomicU32,
    old: u32,
    waiting: &AtomicU32,
    spin: bool,
    dead: impl Fn() -> bool,
) -> Option<u32> {
    if spin && SPINNERS.fetch_add(1, Ordering::Relaxed) < spare_cpus() {
        for _ in 0..SPIN {
            let v = word.load(Ordering::Acquire);
            if v != old {
                SPINNERS.fetch_sub(1, Ordering::Relaxed);
                return Some(v);
            }
            std::hint::spin_loop();
        }
    }
    if spin {
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
    }
    loop {
        waiting.store(1, Ordering::SeqCst);
        let v = word.load(Ordering::SeqCst);
        if v != old {
            waiting.store(0, Ordering::Relaxed);
            return Some(v);
        }
        let ts = libc::timespec {
            tv_sec: CHECK.as_secs() as i64,
            tv_nsec: 0,
        };
        // SAFETY: futex reads the word (mapped for the life of the
        // process) and the timeout on our stack. Its result does not
        // matter: the word says whether the event came.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                old,
                &ts as *const libc::timespec,
            );
        }
        waiting.store(0, Ordering::Relaxed);
        let v = word.load(Ordering::Acquire);
        if v != old {
            return Some(v);
        }
        // Woken without an event (the address space was destroyed), or
        // the check is due.
        if dead() {
            return None;
        }
    }
}
