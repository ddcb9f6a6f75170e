//! The stack's engine: it polls smoltcp's interfaces, hands each arriving
//! frame to smoltcp or an endpoint (through `steer`), and afterwards
//! brings every endpoint smoltcp woke up to date. Application threads run
//! it at the end of each call (see `Stack::with`), the stack's thread for
//! timers and frames read from the Ethernet interfaces (see `poller`).

use smoltcp::iface::PollResult;
use smoltcp::time::Instant;

use crate::device::{frames, Sink};
use crate::fragment6;
use crate::iface::LO;
use crate::reassembly::Offer;
use crate::socket::Notify;
use crate::state::{Inner, Kind};
use crate::steer::{self, Verdict};
use crate::wake::ORPHAN;
use crate::{dgram, tcp, unreach};

/// How many times one call cycles loopback before leaving the rest to
/// the stack's thread: enough for a send buffer's worth of segments and
/// their ACKs.
const LOOP_ROUNDS: usize = 64;

/// Runs the interfaces: loopback until its queue is quiet (so a send has
/// reached its peer's buffer when the call returns), then each Ethernet
/// interface, its egress until quiet or LOOP_ROUNDS passes (frames in
/// arrive on the stack's thread).
pub(crate) fn poll(inner: &mut Inner) {
    let now = inner.now();
    inner.polled = true;
    inner.poll_requested = false;
    for _ in 0..LOOP_ROUNDS {
        feed(inner, LO);
        let lo = &mut inner.ifaces[LO];
        lo.iface.poll_egress(now, &mut lo.dev, &mut lo.sockets);
        if loopback_quiet(inner) {
            break;
        }
    }
    for i in 1..inner.ifaces.len() {
        let f = &mut inner.ifaces[i];
        f.iface.poll(now, &mut f.dev, &mut f.sockets);
        // smoltcp sends at most one segment per socket per egress pass:
        // pass again while something left, or a sender whose window is
        // open would move one segment per wake-up of the stack.
        for _ in 0..LOOP_ROUNDS {
            if f.iface.poll_egress(now, &mut f.dev, &mut f.sockets) == PollResult::None {
                break;
            }
        }
        f.dev.flush();
        for who in std::mem::take(&mut f.dev.solicited) {
            inner.neigh.asked(i, who, now);
        }
    }
    for (i, who) in inner.neigh.failed(now) {
        unreach::neighbour_failed(inner, i, who);
    }
}

fn loopback_quiet(inner: &Inner) -> bool {
    match &inner.ifaces[LO].dev.sink {
        Sink::Queue(q) => q.is_empty(),
        Sink::Fd(_) => true,
    }
}

/// Moves frames loopback sent to its receive side, through `steer`.
fn feed(inner: &mut Inner, n: usize) {
    let frames = match &mut inner.ifaces[n].dev.sink {
        Sink::Queue(q) => std::mem::take(q),
        Sink::Fd(_) => return,
    };
    for f in frames {
        admit(inner, n, f);
    }
}

/// Frames read from an Ethernet interface's descriptor.
pub(crate) fn read_frames(inner: &mut Inner, n: usize) -> bool {
    let frames = frames::read_batch(&inner.ifaces[n].dev);
    let any = !frames.is_empty();
    for f in frames {
        admit(inner, n, f);
    }
    // What smoltcp answered straight away (an RST, an ARP reply).
    inner.ifaces[n].dev.flush();
    any
}

/// Hands one arriving frame to smoltcp, to an endpoint, or to no one.
/// smoltcp takes each frame before the next is steered: a SYN's fate
/// depends on the sockets the ones before it made or used up.
fn admit(inner: &mut Inner, n: usize, frame: Vec<u8>) {
    // Fragments were counted as they came; the whole packet is not a
    // frame of its own.
    let (mut frame, counted) = match inner.frags.offer(n, &mut inner.ifaces[n], frame) {
        Offer::Whole(f) => (f, false),
        Offer::Held => return,
        Offer::Reassembled(f) => (f, true),
    };
    if counted && fragment6::answer_echo(&mut inner.ifaces[n], &frame) {
        inner.ifaces[n].dev.recycle(frame);
        inner.request_poll();
        return;
    }
    let verdict = steer::steer(inner, n, &frame);
    if !counted && !matches!(verdict, Verdict::Echo) {
        inner.ifaces[n].dev.arrived(&frame);
    }
    match verdict {
        Verdict::Pass => {
            let now = inner.now();
            let f = &mut inner.ifaces[n];
            f.dev.rx.push_back(frame);
            while f.dev.rx.front().is_some() {
                f.iface.poll_ingress_single(now, &mut f.dev, &mut f.sockets);
            }
        }
        Verdict::Drop | Verdict::Echo => inner.ifaces[n].dev.recycle(frame),
        Verdict::Deliver(d) => dgram::deliver(inner, d, frame),
        Verdict::DeliverAll(all) => {
            let last = all.len() - 1;
            for (i, d) in all.into_iter().enumerate() {
                let copy = if i == last {
                    std::mem::take(&mut frame)
                } else {
                    frame.clone()
                };
                dgram::deliver(inner, d, copy);
            }
        }
    }
}

/// The earliest time any interface needs polling.
pub(crate) fn next_poll(inner: &mut Inner) -> Option<Instant> {
    let now = inner.now();
    if !loopback_quiet(inner) {
        return Some(now);
    }
    let mut next: Option<Instant> = inner.neigh.next_deadline();
    for f in &mut inner.ifaces {
        if let Some(t) = f.iface.poll_at(now, &f.sockets) {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
    }
    next
}

/// Brings every endpoint smoltcp woke up to date; returns the hooks to
/// call once the lock is released.
pub(crate) fn settle(inner: &mut Inner) -> Vec<Notify> {
    let mut hooks: Vec<(usize, Notify)> = Vec::new();
    loop {
        let ids = inner.wq.take();
        if ids.is_empty() {
            break;
        }
        for id in ids {
            if id == ORPHAN {
                inner.orphans.rearm();
                inner.reap();
                continue;
            }
            let Some(Some(ep)) = inner.eps.get(id) else {
                continue;
            };
            ep.waker.rearm();
            if matches!(ep.kind, Kind::Tcp(_)) {
                tcp::sync(inner, id);
            }
            inner.noted.push(id);
        }
    }
    // The resets noted while polling have been read by `tcp::sync`.
    inner.resets.clear();
    for id in std::mem::take(&mut inner.noted) {
        if let Some(Some(ep)) = inner.eps.get(id) {
            if !hooks.iter().any(|(i, _)| *i == id) {
                hooks.push((id, ep.notify.clone()));
            }
        }
    }
    hooks.into_iter().map(|(_, h)| h).collect()
}
