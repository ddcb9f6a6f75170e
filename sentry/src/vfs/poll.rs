//! Waiting for files to become ready: the core of poll, select and epoll.
//!
//! Files report readiness with [`FileOps::readiness`] and, if something
//! can change it, name the queue notified then ([`FileOps::wait_queue`]).
//! Files without a queue (host descriptors) are polled again every
//! [`SLICE`] while the task waits.
//!
//! [`FileOps::readiness`]: super::FileOps::readiness
//! [`FileOps::wait_queue`]: super::FileOps::wait_queue

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::File;
use crate::errno::Errno;
use crate::vfs::Caller;
use crate::waiter::WaitQueue;

/// How often files without a wait queue are polled while waiting.
pub const SLICE: Duration = Duration::from_millis(20);

/// Events reported whether asked for or not.
const ALWAYS: i16 = libc::POLLERR | libc::POLLHUP | libc::POLLNVAL;

/// The ready events of each `(file, events)` pair, `None` standing for a
/// descriptor that is not open (POLLNVAL, as poll(2) reports it).
pub fn ready_now(files: &[(Option<Arc<File>>, i16)]) -> Vec<i16> {
    files
        .iter()
        .map(|(f, ev)| match f {
            Some(f) => f.ops().readiness(*ev | ALWAYS) & (*ev | ALWAYS),
            None => libc::POLLNVAL,
        })
        .collect()
}

/// Waits until at least one of `files` is ready or `deadline` passes, and
/// returns every file's ready events (all zero at the deadline). A signal
/// ends the wait with ERESTARTSYS (poll(2) turns that into EINTR or a
/// restart). `deadline` of now polls without waiting.
pub fn wait_ready(
    t: &dyn Caller,
    files: &[(Option<Arc<File>>, i16)],
    deadline: Option<Instant>,
) -> Result<Vec<i16>, Errno> {
    let ready = ready_now(files);
    if ready.iter().any(|&r| r != 0) {
        return Ok(ready);
    }
    let queues: Vec<&WaitQueue> = files
        .iter()
        .filter_map(|(f, _)| f.as_ref().and_then(|f| f.ops().wait_queue()))
        .collect();
    let unqueued = files
        .iter()
        .any(|(f, _)| f.as_ref().is_some_and(|f| f.ops().needs_polling()));
    loop {
        // Files without a queue are looked at again after each slice.
        let slice_end = unqueued.then(|| Instant::now() + SLICE);
        let until = match (deadline, slice_end) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        let r = t.block(&queues, until, &mut || {
            ready_now(files).iter().any(|&r| r != 0)
        });
        match r {
            Ok(()) => return Ok(ready_now(files)),
            Err(Errno::ETIMEDOUT) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(ready_now(files));
                }
                let ready = ready_now(files);
                if ready.iter().any(|&r| r != 0) {
                    return Ok(ready);
                }
            }
            Err(e) => return Err(e),
        }
    }
}
