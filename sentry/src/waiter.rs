//! Wait queues: how a Sentry thread sleeps until something happens.
//!
//! Every task owns one [`Waiter`]. To block, a task registers its waiter on
//! the queues of the objects it waits for (a pipe, a futex, its children),
//! re-checks its condition, and sleeps. Anything that may make a condition
//! true notifies the queue; a signal or kill notifies the waiter directly.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// What a [`Waiter`] made by [`Waiter::with_hook`] runs when notified.
type Hook = Box<dyn Fn() + Send + Sync>;

/// One sleeping thread's wake-up flag, or a hook a queue runs instead of
/// waking anyone.
#[derive(Default)]
pub struct Waiter {
    woken: Mutex<bool>,
    cv: Condvar,
    hook: Option<Hook>,
}

impl Waiter {
    pub fn new() -> Arc<Waiter> {
        Arc::new(Waiter::default())
    }

    /// A waiter nobody sleeps on: each notification runs `hook` (epoll's
    /// interests use one to put themselves on their epoll's ready list, as
    /// Linux's ep_poll_callback does). The hook runs with the notifying
    /// queue's lock held: it must not touch that queue, nor take a lock
    /// held by anyone who adds to or removes from a queue.
    pub fn with_hook(hook: impl Fn() + Send + Sync + 'static) -> Arc<Waiter> {
        Arc::new(Waiter {
            hook: Some(Box::new(hook)),
            ..Waiter::default()
        })
    }

    pub fn notify(&self) {
        if let Some(hook) = &self.hook {
            return hook();
        }
        let mut w = self.woken.lock().unwrap();
        *w = true;
        self.cv.notify_all();
    }

    /// Sleeps until notified or `deadline`; consumes the notification.
    /// Returns false on timeout.
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut w = self.woken.lock().unwrap();
        loop {
            if *w {
                *w = false;
                return true;
            }
            match deadline {
                None => w = self.cv.wait(w).unwrap(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    w = self.cv.wait_timeout(w, d - now).unwrap().0;
                }
            }
        }
    }

    /// Drops a pending notification before a fresh wait.
    pub fn clear(&self) {
        *self.woken.lock().unwrap() = false;
    }
}

/// A set of waiters to notify when an object's state changes.
#[derive(Default)]
pub struct WaitQueue {
    waiters: Mutex<Vec<Arc<Waiter>>>,
}

impl WaitQueue {
    pub fn new() -> WaitQueue {
        WaitQueue::default()
    }

    pub fn add(&self, w: &Arc<Waiter>) {
        self.waiters.lock().unwrap().push(w.clone());
    }

    pub fn remove(&self, w: &Arc<Waiter>) {
        let mut v = self.waiters.lock().unwrap();
        if let Some(i) = v.iter().position(|x| Arc::ptr_eq(x, w)) {
            v.swap_remove(i);
        }
    }

    pub fn notify_all(&self) {
        for w in self.waiters.lock().unwrap().iter() {
            w.notify();
        }
    }
}

impl std::fmt::Debug for WaitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WaitQueue")
    }
}

/// How the Sentry thread that runs a task sleeps where the task is not at
/// hand: an access of the MM to an application page that a userfaultfd
/// must fill first (`mm::userfault`, a read(2) into such a buffer) waits
/// for it as any blocking call does, and a signal or a kill ends the wait.
/// The kernel sets one for each task thread ([`set_thread_sleeper`]).
pub trait ThreadSleeper {
    /// The task's thread id, as its own PID namespace numbers it.
    fn tid(&self) -> i32;
    /// Sleeps until `cond` holds (Ok) or the task is interrupted
    /// (`ERESTARTSYS`), notified by `queues`.
    fn block(
        &self,
        queues: &[&WaitQueue],
        cond: &mut dyn FnMut() -> bool,
    ) -> Result<(), crate::errno::Errno>;
}

thread_local! {
    static SLEEPER: std::cell::RefCell<Option<Arc<dyn ThreadSleeper>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes `s` this thread's [`ThreadSleeper`] (None: the thread runs no
/// task, and an access that would have to wait fails instead).
pub fn set_thread_sleeper(s: Option<Arc<dyn ThreadSleeper>>) {
    SLEEPER.with(|x| *x.borrow_mut() = s);
}

/// This thread's [`ThreadSleeper`], if it runs a task.
pub fn thread_sleeper() -> Option<Arc<dyn ThreadSleeper>> {
    SLEEPER.with(|x| x.borrow().clone())
}
