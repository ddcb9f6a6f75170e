//! One platform per test process, for platforms whose stubs inherit the
//! memory file by number from a master stub made once (ptrace, systrap),
//! as in a Sentry: the first test makes the memory file and the platform,
//! and tests take turns at them.
//!
//! A platform's test file includes this module after `event_paths` and
//! declares `static SHARED: OnceLock<Option<Shared<ItsPlatform>>>`; its
//! `setup()` is [`take_turn`] and its `Mem` a [`Turn`].

use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::event_paths::{memory_file, put};

/// The memory file and the platform made over it.
pub struct Shared<P> {
    _fd: OwnedFd,
    base: usize,
    p: P,
}

/// A test's turn at the shared platform.
pub struct Turn<P: 'static> {
    pub base: *mut u8,
    pub p: &'static P,
    _turn: MutexGuard<'static, ()>,
}

impl<P> Turn<P> {
    /// Copies `bytes` to file offset `off`.
    pub fn put(&self, off: u64, bytes: &[u8]) {
        put(self.base, off, bytes);
    }
}

static TURN: Mutex<()> = Mutex::new(());

/// Waits for this test's turn; the first makes the platform with `new`
/// once `available` said the host can run it (None: skipped, and every
/// later test too).
pub fn take_turn<P>(
    shared: &'static OnceLock<Option<Shared<P>>>,
    available: impl FnOnce() -> bool,
    new: impl FnOnce(RawFd) -> P,
) -> Option<Turn<P>>
where
    P: Send + Sync,
{
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let shared = shared
        .get_or_init(|| {
            if !available() {
                return None;
            }
            let (fd, base) = memory_file();
            let p = new(fd.as_raw_fd());
            Some(Shared {
                _fd: fd,
                base: base as usize,
                p,
            })
        })
        .as_ref()?;
    Some(Turn {
        base: shared.base as *mut u8,
        p: &shared.p,
        _turn: turn,
    })
}
