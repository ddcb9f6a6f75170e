//! The stack's thread: it reads frames from the Ethernet interfaces and
//! runs smoltcp's timers (retransmission, TIME_WAIT, keep-alive, ARP
//! retries). Application threads run the stack inline and kick this one
//! through an eventfd only when they move its next deadline earlier.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::stack::Shared;
use crate::sys;

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
                g.read_frames(n);
            }
            g.poll();
            if !g.orphans.is_empty() {
                g.reap();
            }
            let hooks = g.settle();
            g.polled = false;
            let now = g.now();
            let next = g.next_poll();
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
