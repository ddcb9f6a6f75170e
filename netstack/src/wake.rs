//! Which endpoints smoltcp touched. Each smoltcp socket carries a waker
//! naming the endpoint that owns it; smoltcp wakes it on every state
//! change, arriving byte and freed byte of send room. Wakers fire inside
//! `Interface::poll`, where the stack's state is mutably borrowed, so
//! they only note the id here; the stack then brings each noted endpoint
//! up to date and calls its Notify hook after unlocking.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Wake, Waker};

/// The id that orphaned connections (closed endpoints still finishing
/// their FIN or TIME_WAIT) report under: it asks for a reap.
pub(crate) const ORPHAN: usize = usize::MAX;

#[derive(Default)]
pub(crate) struct WakeQueue {
    ids: Mutex<Vec<usize>>,
}

impl WakeQueue {
    pub(crate) fn take(&self) -> Vec<usize> {
        std::mem::take(&mut *self.ids.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn push(&self, id: usize) {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).push(id);
    }
}

struct Target {
    id: usize,
    queue: Arc<WakeQueue>,
    /// Set while the id sits in the queue, so a busy socket notes it once
    /// per poll rather than once per segment.
    queued: AtomicBool,
}

impl Wake for Target {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.queue.push(self.id);
        }
    }
}

/// An endpoint's waker together with the flag behind it.
pub(crate) struct EpWaker {
    target: Arc<Target>,
    waker: Waker,
}

impl EpWaker {
    pub(crate) fn new(queue: &Arc<WakeQueue>, id: usize) -> EpWaker {
        let target = Arc::new(Target {
            id,
            queue: queue.clone(),
            queued: AtomicBool::new(false),
        });
        EpWaker {
            waker: Waker::from(target.clone()),
            target,
        }
    }

    pub(crate) fn waker(&self) -> &Waker {
        &self.waker
    }

    /// The stack has taken this endpoint's id from the queue: the next
    /// wake must note it again.
    pub(crate) fn rearm(&self) {
        self.target.queued.store(false, Ordering::Release);
    }
}
