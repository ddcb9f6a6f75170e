//! A permission event's answer ([`Perm`]): the acting task waits on it
//! until the listener writes one, the group goes, or a signal comes.

use std::sync::{Arc, Mutex, Weak};

use crate::errno::Errno;
use crate::vfs::Caller;
use crate::waiter::WaitQueue;

/// Where a question waits to be read, so an asker who gives up can take
/// it back (the group's queue).
pub trait Withdraw: Send + Sync {
    fn withdraw(&self, p: &Arc<Perm>);
}

/// A permission event's answer, which the acting task waits for.
pub struct Perm {
    /// FAN_ALLOW or FAN_DENY once answered.
    answer: Mutex<Option<u32>>,
    queue: WaitQueue,
    group: Weak<dyn Withdraw>,
}

impl Perm {
    pub fn new(group: Weak<dyn Withdraw>) -> Perm {
        Perm {
            answer: Mutex::new(None),
            queue: WaitQueue::new(),
            group,
        }
    }

    pub fn answer(&self, a: u32) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
        self.queue.notify_all();
    }

    pub fn answered(&self) -> Option<u32> {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the answer (interruptibly): EPERM if denied. A signal
    /// withdraws the question.
    pub fn wait(self: &Arc<Self>, t: &dyn Caller) -> Result<(), Errno> {
        let r = t.block(&[&self.queue], None, &mut || self.answered().is_some());
        if let Err(e) = r {
            if let Some(g) = self.group.upgrade() {
                g.withdraw(self);
            }
            if self.answered().is_none() {
                return Err(e);
            }
        }
        match self.answered() {
            Some(libc::FAN_DENY) => Err(Errno::EPERM),
            _ => Ok(()),
        }
    }
}
