//! POSIX message queues (Linux's ipc/mqueue.c): one queue's messages by
//! priority, its limits, and its notification registration. Queues are
//! named by the mqueue filesystem of the IPC namespace
//! (`fsimpl/mqueue/`), which holds them as its files; mq_open and the
//! other calls reach them there (`syscalls/mqueue.rs`).
//!
//! The state machine only, as for SysV queues: a send into a full queue
//! or a receive from an empty one is `Blocked`, and the handler sleeps on
//! the queue's wait queue (every change wakes it) until the deadline.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::msg::Outcome;
use crate::errno::Errno;
use crate::waiter::WaitQueue;

/// The limits /proc/sys/fs/mqueue shows, at Linux's defaults: a queue's
/// default and largest size in messages and in bytes per message (for a
/// caller without CAP_SYS_RESOURCE), and the most queues.
pub const MSG_DEFAULT: i64 = 10;
pub const MSG_MAX: i64 = 10;
pub const MSGSIZE_DEFAULT: i64 = 8192;
pub const MSGSIZE_MAX: i64 = 8192;
pub const QUEUES_MAX: usize = 256;
/// What CAP_SYS_RESOURCE may go up to (HARD_MSGMAX, HARD_MSGSIZEMAX).
pub const HARD_MSG_MAX: i64 = 65536;
pub const HARD_MSGSIZE_MAX: i64 = 16 << 20;
/// Priorities are below this (MQ_PRIO_MAX).
pub const PRIO_MAX: u32 = 32768;

/// `SIGEV_*` of a registration (what the queue file's NOTIFY shows).
pub const SIGEV_SIGNAL: i32 = 0;
pub const SIGEV_NONE: i32 = 1;

/// Who asked to hear of the next message into the empty queue
/// (mq_notify), and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Notify {
    /// The registering process (its thread group id).
    pub tgid: i32,
    /// `SIGEV_SIGNAL` or `SIGEV_NONE`.
    pub how: i32,
    pub signo: i32,
    /// `sigev_value`, handed back in the signal's si_value.
    pub value: u64,
}

/// A queue's size limits (`struct mq_attr`'s mq_maxmsg and mq_msgsize).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub maxmsg: i64,
    pub msgsize: i64,
}

impl Limits {
    /// The limits of a new queue: the defaults, or `asked` checked
    /// against the sysctl limits (`privileged`: CAP_SYS_RESOURCE, up to
    /// the hard ones), as Linux's mqueue_attr_ok.
    pub fn new(asked: Option<Limits>, privileged: bool) -> Result<Limits, Errno> {
        let Some(l) = asked else {
            return Ok(Limits {
                maxmsg: MSG_DEFAULT.min(MSG_MAX),
                msgsize: MSGSIZE_DEFAULT.min(MSGSIZE_MAX),
            });
        };
        if l.maxmsg <= 0 || l.msgsize <= 0 {
            return Err(Errno::EINVAL);
        }
        let (max, size) = if privileged {
            (HARD_MSG_MAX, HARD_MSGSIZE_MAX)
        } else {
            (MSG_MAX, MSGSIZE_MAX)
        };
        if l.maxmsg > max || l.msgsize > size {
            return Err(Errno::EINVAL);
        }
        Ok(l)
    }
}

struct State {
    /// Messages by priority, each priority's oldest first.
    messages: BTreeMap<u32, VecDeque<Vec<u8>>>,
    count: i64,
    bytes: u64,
    notify: Option<Notify>,
    /// Receivers asleep in mq_timedreceive: a message for one of them
    /// notifies nobody (Linux hands it over directly).
    receivers: usize,
}

/// One queue.
pub struct MessageQueue {
    pub limits: Limits,
    state: Mutex<State>,
    /// Woken by every change: sleeping senders and receivers, poll.
    pub waiters: WaitQueue,
}

/// What a send did besides queueing: the registration to notify.
pub type Notified = Option<Notify>;

impl MessageQueue {
    pub fn new(limits: Limits) -> MessageQueue {
        MessageQueue {
            limits,
            state: Mutex::new(State {
                messages: BTreeMap::new(),
                count: 0,
                bytes: 0,
                notify: None,
                receivers: 0,
            }),
            waiters: WaitQueue::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One try of mq_timedsend (the length checked already): `Blocked`
    /// while full; the registration to notify if this message is the
    /// first into an empty queue and no receiver waits (it is dropped).
    pub fn send(&self, text: &[u8], prio: u32, nonblock: bool) -> Result<Outcome<Notified>, Errno> {
        let mut s = self.lock();
        if s.count >= self.limits.maxmsg {
            return if nonblock {
                Err(Errno::EAGAIN)
            } else {
                Ok(Outcome::Blocked)
            };
        }
        let notified = if s.count == 0 && s.receivers == 0 {
            s.notify.take()
        } else {
            None
        };
        s.messages.entry(prio).or_default().push_back(text.to_vec());
        s.count += 1;
        s.bytes += text.len() as u64;
        drop(s);
        self.waiters.notify_all();
        Ok(Outcome::Done(notified))
    }

    /// One try of mq_timedreceive: the oldest message of the highest
    /// priority, with its priority; `Blocked` while empty.
    pub fn receive(&self, nonblock: bool) -> Result<Outcome<(Vec<u8>, u32)>, Errno> {
        let mut s = self.lock();
        let Some(mut e) = s.messages.last_entry() else {
            return if nonblock {
                Err(Errno::EAGAIN)
            } else {
                Ok(Outcome::Blocked)
            };
        };
        let prio = *e.key();
        let text = e.get_mut().pop_front().unwrap_or_default();
        if e.get().is_empty() {
            e.remove();
        }
        s.count -= 1;
        s.bytes -= text.len() as u64;
        drop(s);
        self.waiters.notify_all();
        Ok(Outcome::Done((text, prio)))
    }

    /// A receiver starts (`true`) or stops waiting.
    pub fn receiver_waits(&self, waiting: bool) {
        let mut s = self.lock();
        if waiting {
            s.receivers += 1;
        } else {
            s.receivers = s.receivers.saturating_sub(1);
        }
    }

    /// mq_notify: registers `n` (EBUSY if another process is registered),
    /// or with `None` drops the registration `tgid` holds.
    pub fn set_notify(&self, tgid: i32, n: Option<Notify>) -> Result<(), Errno> {
        let mut s = self.lock();
        match n {
            Some(n) => {
                if s.notify.is_some() {
                    return Err(Errno::EBUSY);
                }
                s.notify = Some(n);
            }
            None => {
                if s.notify.is_some_and(|r| r.tgid == tgid) {
                    s.notify = None;
                }
            }
        }
        Ok(())
    }

    /// Messages queued now (mq_curmsgs).
    pub fn count(&self) -> i64 {
        self.lock().count
    }

    /// poll(2) events: readable with a message, writable with room.
    pub fn readiness(&self) -> i16 {
        let s = self.lock();
        let mut ev = 0;
        if s.count > 0 {
            ev |= libc::POLLIN | libc::POLLRDNORM;
        }
        if s.count < self.limits.maxmsg {
            ev |= libc::POLLOUT | libc::POLLWRNORM;
        }
        ev
    }

    /// The queue file's text, as Linux shows it: bytes queued and the
    /// registration (`pid_of` turns its process into the reader's pid).
    pub fn describe(&self, pid_of: impl Fn(i32) -> i32) -> String {
        let s = self.lock();
        let (how, signo, pid) = match s.notify {
            Some(n) => (
                n.how,
                if n.how == SIGEV_SIGNAL { n.signo } else { 0 },
                pid_of(n.tgid),
            ),
            None => (0, 0, 0),
        };
        format!(
            "QSIZE:{:<10} NOTIFY:{:<5} SIGNO:{:<5} NOTIFY_PID:{:<6}\n",
            s.bytes, how, signo, pid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::new(None, false).unwrap()
    }

    #[test]
    fn receive_takes_the_highest_priority_oldest_first() {
        let q = MessageQueue::new(limits());
        for (t, p) in [("a", 1), ("b", 5), ("c", 1), ("d", 5)] {
            q.send(t.as_bytes(), p, true).unwrap();
        }
        let mut got = Vec::new();
        while let Ok(Outcome::Done((t, p))) = q.receive(true) {
            got.push((String::from_utf8(t).unwrap(), p));
        }
        let want = [("b", 5), ("d", 5), ("a", 1), ("c", 1)];
        assert_eq!(got, want.map(|(t, p)| (t.to_string(), p)));
        assert_eq!(q.receive(false), Ok(Outcome::Blocked));
        assert_eq!(q.receive(true), Err(Errno::EAGAIN));
    }

    #[test]
    fn a_full_queue_blocks_and_the_first_message_notifies_once() {
        let q = MessageQueue::new(Limits {
            maxmsg: 1,
            msgsize: 8,
        });
        let n = Notify {
            tgid: 7,
            how: SIGEV_SIGNAL,
            signo: libc::SIGUSR1,
            value: 3,
        };
        q.set_notify(7, Some(n)).unwrap();
        assert_eq!(q.set_notify(8, Some(n)), Err(Errno::EBUSY));
        assert_eq!(q.send(b"x", 0, false), Ok(Outcome::Done(Some(n))));
        assert_eq!(q.send(b"y", 0, false), Ok(Outcome::Blocked));
        assert_eq!(q.send(b"y", 0, true), Err(Errno::EAGAIN));
        assert_eq!(
            q.describe(|p| p),
            format!(
                "QSIZE:{:<10} NOTIFY:{:<5} SIGNO:{:<5} NOTIFY_PID:{:<6}\n",
                1, 0, 0, 0
            )
        );
        assert!(q.receive(true).is_ok());
        assert_eq!(q.send(b"z", 0, true), Ok(Outcome::Done(None)));
    }
}
