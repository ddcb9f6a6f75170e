//! The stack's thread: it reads frames from the Ethernet interfaces and
//! runs smoltcp's timers (retransmission, TIME_WAIT, keep-alive, ARP
//! retries). Application threads run the stack inline and kick this one
//! through an eventfd only when they move its next deadline earlier;
//! `Shared` is what they and the thread hold in common.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::engine;
use crate::state::Inner;
use crate::sys::{self, EventFd};

/// What the stack's thread shares with the callers.
pub(crate) struct Shared {
    inner: Mutex<Inner>,
    pub kick: EventFd,
    pub stop: AtomicBool,
}

impl Shared {
    pub(crate) fn new(inner: Inner) -> std::io::Result<Shared> {
        Ok(Shared {
            inner: Mutex::new(inner),
            kick: EventFd::new()?,
            stop: AtomicBool::new(false),
        })
    }

    /// A panic under the lock leaves the stack as it was mid-call; later
    /// calls still get it rather than poisoning every socket for good.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// After this many wake-ups in a row with nothing to wait for, sleep a
/// millisecond: a socket smoltcp keeps asking to poll "now" without
/// progress must not spin a core.
const SPIN_LIMIT: u32 = 64;

pub(crate) fn run(shared: Arc<Shared>) {
    let mut spins = 0;
    loop {
        let (fds, timeout, hooks) = {
            let mut g = shared.lock();
            if shared.stop.load(Ordering::Acquire) {
                return;
            }
            for n in 1..g.ifaces.len() {
                engine::read_frames(&mut g, n);
            }
            engine::poll(&mut g);
            if !g.orphans.is_empty() {
                g.reap();
            }
            let hooks = engine::settle(&mut g);
            g.polled = false;
            let now = g.now();
            let next = engine::next_poll(&mut g);
            g.deadline = next;
            let timeout = next.map(|t| {
                if t > now {
                    Duration::from_micros((t - now).total_micros())
                } else {
                    Duration::ZERO
                }
            });
            let mut fds = vec![shared.kick.raw()];
            fds.extend(g.ifaces.iter().filter_map(|f| f.dev.fd()));
            (fds, timeout, hooks)
        };
        for h in hooks {
            h();
        }
        let timeout = match timeout {
            Some(d) if d.is_zero() => {
                spins += 1;
                if spins > SPIN_LIMIT {
                    Some(Duration::from_millis(1))
                } else {
                    Some(d)
                }
            }
            t => {
                spins = 0;
                t
            }
        };
        sys::poll_readable(&fds, timeout);
        shared.kick.drain();
    }
}
