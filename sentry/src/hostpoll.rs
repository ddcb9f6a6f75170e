//! Readiness of host descriptors as wait-queue wake-ups: one thread per
//! kernel waits in an epoll set on every host descriptor a task may sleep
//! on (the host sockets of `--network=host`), and notifies the descriptor's
//! wait queue when it becomes ready. Tasks then block on the queue as they
//! do for the Sentry's own files, and the application's epoll works on
//! host sockets without polling in slices.
//!
//! Edge-triggered: a wake-up says "look again", and the waiter's
//! condition polls the descriptor itself.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::errno::Errno;
use crate::waiter::WaitQueue;

/// The epoll token of the eventfd that tells the thread to end.
const STOP: u64 = 0;

struct Shared {
    epoll: OwnedFd,
    stop: OwnedFd,
    queues: Mutex<HashMap<u64, Weak<WaitQueue>>>,
    next: Mutex<u64>,
}

/// A kernel's host poller. The thread starts with the first registration,
/// so a sandbox without host descriptors has none.
#[derive(Default)]
pub struct HostPoller {
    shared: OnceLock<Result<Arc<Shared>, Errno>>,
}

/// A descriptor's place in the set; dropping it takes the descriptor out
/// by number, so it must be dropped before the descriptor is closed.
pub struct Registration {
    shared: Arc<Shared>,
    fd: RawFd,
    token: u64,
}

fn errno_of(r: i32) -> Result<i32, Errno> {
    if r < 0 {
        Err(Errno(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        ))
    } else {
        Ok(r)
    }
}

impl HostPoller {
    pub fn new() -> HostPoller {
        HostPoller::default()
    }

    fn shared(&self) -> Result<Arc<Shared>, Errno> {
        self.shared.get_or_init(start).clone()
    }

    /// Wakes `queue` whenever `fd` becomes readable, writable, or hangs up,
    /// until the registration is dropped.
    pub fn register(&self, fd: RawFd, queue: &Arc<WaitQueue>) -> Result<Registration, Errno> {
        let shared = self.shared()?;
        let token = {
            let mut n = shared.next.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n
        };
        shared
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token, Arc::downgrade(queue));
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN
                | libc::EPOLLOUT
                | libc::EPOLLRDHUP
                | libc::EPOLLPRI
                | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: `ev` is a live epoll_event; both descriptors are open.
        let r =
            unsafe { libc::epoll_ctl(shared.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        if let Err(e) = errno_of(r) {
            shared
                .queues
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&token);
            return Err(e);
        }
        Ok(Registration { shared, fd, token })
    }
}

impl Drop for HostPoller {
    fn drop(&mut self) {
        if let Some(Ok(shared)) = self.shared.get() {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a live u64 to the eventfd.
            unsafe { libc::write(shared.stop.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: EPOLL_CTL_DEL takes no event; a descriptor already closed
        // is simply not in the set any more.
        unsafe {
            libc::epoll_ctl(
                self.shared.epoll.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                self.fd,
                std::ptr::null_mut(),
            )
        };
        self.shared
            .queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.token);
    }
}

fn start() -> Result<Arc<Shared>, Errno> {
    // SAFETY: plain descriptor-creating calls; each result is checked
    // before it is owned.
    let epoll =
        unsafe { OwnedFd::from_raw_fd(errno_of(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
    // SAFETY: as above.
    let stop = unsafe {
        OwnedFd::from_raw_fd(errno_of(libc::eventfd(
            0,
            libc::EFD_CLOEXEC | libc::EFD_NONBLOCK,
        ))?)
    };
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: STOP,
    };
    // SAFETY: `ev` is live; both descriptors are open.
    errno_of(unsafe {
        libc::epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            stop.as_raw_fd(),
            &mut ev,
        )
    })?;
    let shared = Arc::new(Shared {
        epoll,
        stop,
        queues: Mutex::new(HashMap::new()),
        next: Mutex::new(STOP),
    });
    let s = shared.clone();
    std::thread::Builder::new()
        .name("hostpoll".into())
        .spawn(move || run(&s))
        .map_err(|_| Errno::EAGAIN)?;
    Ok(shared)
}

fn run(s: &Shared) {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    loop {
        // SAFETY: `events` is a live array of the length passed.
        let n = unsafe {
            libc::epoll_wait(
                s.epoll.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                -1,
            )
        };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        let queues: Vec<Arc<WaitQueue>> = {
            let map = s.queues.lock().unwrap_or_else(|e| e.into_inner());
            let mut v = Vec::new();
            for ev in &events[..n as usize] {
                let token = ev.u64;
                if token == STOP {
                    return;
                }
                if let Some(q) = map.get(&token).and_then(Weak::upgrade) {
                    v.push(q);
                }
            }
            v
        };
        for q in queues {
            q.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::waiter::Waiter;
    use std::time::{Duration, Instant};

    #[test]
    fn a_pipe_becoming_readable_wakes_its_queue_and_the_thread_ends() {
        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: pipe2 gave us these descriptors.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let poller = HostPoller::new();
        let queue = Arc::new(WaitQueue::new());
        let reg = poller.register(r.as_raw_fd(), &queue).unwrap();
        let waiter = Waiter::new();
        queue.add(&waiter);
        waiter.clear();
        // SAFETY: writes one byte from a live buffer.
        let n = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(n, 1);
        assert!(waiter.wait(Some(Instant::now() + Duration::from_secs(10))));
        drop(reg);
        let weak = Arc::downgrade(poller.shared.get().unwrap().as_ref().unwrap());
        drop(poller);
        let end = Instant::now() + Duration::from_secs(10);
        while weak.strong_count() > 0 && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(weak.strong_count(), 0, "the poller's thread did not end");
    }
}
