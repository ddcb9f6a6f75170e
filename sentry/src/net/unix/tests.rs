//! The collector and the in-flight counts, on sockets whose queues the
//! tests fill directly (as a send would: counted under the lock). A file
//! is known released when a `Weak` to it no longer upgrades.

use std::sync::{Arc, Weak};

use super::inflight::Sender;
use super::queue::Message;
use super::{Listener, Names, UnixSocket, NO_CRED};
use crate::errno::Errno;
use crate::hostpoll::HostPoller;
use crate::net::socket::SocketFile;
use crate::vfs::File;

const USER: Sender = Sender {
    uid: 1000,
    limit: libc::RLIM_INFINITY,
    exempt: false,
};

struct World {
    names: Arc<Names>,
    stack: Arc<netstack::Stack>,
}

impl World {
    fn new() -> World {
        let stack = netstack::Stack::new(netstack::StackConfig {
            interfaces: Vec::new(),
            routes: Vec::new(),
            log_packets: false,
            shown: None,
        })
        .expect("a loopback stack");
        World {
            names: Names::new(Arc::new(HostPoller::new())),
            stack,
        }
    }

    /// A stream socket's file.
    fn socket(&self) -> Arc<File> {
        let s = UnixSocket::new(libc::SOCK_STREAM, self.names.clone()).expect("a socket");
        File::new(SocketFile::new(s, self.stack.clone()), None, libc::O_RDWR)
    }

    /// Queues a message carrying `files` to `to`, as a send from USER.
    fn queue(&self, to: &UnixSocket, files: &[&Arc<File>]) {
        let rights: Vec<Arc<File>> = files.iter().map(|f| Arc::clone(f)).collect();
        let mut g = self.names.inflight().lock();
        g.charge(&USER, &rights);
        to.lock().recv.push(Message {
            data: vec![1],
            taken: 0,
            rights,
            charged_to: USER.uid,
            creds: NO_CRED,
            from: Vec::new(),
        });
    }

    /// Sockets and USER's descriptors in flight.
    fn in_flight(&self) -> (usize, usize) {
        let i = self.names.inflight();
        (i.sockets(), i.user_count(USER.uid))
    }
}

fn unix(f: &File) -> &UnixSocket {
    SocketFile::of(f)
        .expect("a socket")
        .sock
        .as_any()
        .and_then(|a| a.downcast_ref::<UnixSocket>())
        .expect("an AF_UNIX socket")
}

/// A file to carry, and how to tell it was released.
fn carried(w: &World) -> (Arc<File>, Weak<File>) {
    let f = w.socket();
    let weak = Arc::downgrade(&f);
    (f, weak)
}

fn released(f: &Weak<File>) -> bool {
    f.upgrade().is_none()
}

#[test]
fn a_socket_queued_in_itself_is_collected_with_what_it_carries() {
    let w = World::new();
    let a = w.socket();
    let (pw, r) = carried(&w);
    w.queue(unix(&a), &[&a, &pw]);
    drop(pw);
    assert_eq!(w.in_flight(), (2, 2));
    // Held by the test: reachable.
    w.names.inflight().collect();
    assert!(!released(&r));
    drop(a);
    assert!(
        !released(&r),
        "nothing collects before a socket is released"
    );
    // Releasing any socket runs the collector while sockets are in flight.
    drop(w.socket());
    assert!(released(&r));
    assert_eq!(w.in_flight(), (0, 0));
}

#[test]
fn a_cycle_of_two_is_collected_and_a_socket_queued_in_a_held_one_is_not() {
    let w = World::new();
    let (x, y) = (w.socket(), w.socket());
    let (w1, r1) = carried(&w);
    w.queue(unix(&x), &[&y]);
    w.queue(unix(&y), &[&x, &w1]);
    let held = w.socket();
    let z = w.socket();
    let (w2, r2) = carried(&w);
    w.queue(unix(&held), &[&z]);
    w.queue(unix(&z), &[&w2]);
    drop((x, y, z, w1, w2));
    w.names.inflight().collect();
    assert!(released(&r1));
    assert!(!released(&r2));
    assert_eq!(w.in_flight(), (2, 2), "z and w2");
    drop(held);
    assert!(released(&r2));
    assert_eq!(w.in_flight(), (0, 0));
}

#[test]
fn a_cycle_hanging_from_a_held_socket_lives_until_that_socket_goes() {
    let w = World::new();
    let held = w.socket();
    let (c1, c2) = (w.socket(), w.socket());
    let (pw, r) = carried(&w);
    w.queue(unix(&held), &[&c1]);
    w.queue(unix(&c1), &[&c2]);
    w.queue(unix(&c2), &[&c1, &pw]);
    drop((c1, c2, pw));
    w.names.inflight().collect();
    assert!(!released(&r));
    assert_eq!(w.in_flight().0, 3);
    // Its release drops c1's outside reference: the cycle is garbage.
    drop(held);
    assert!(released(&r));
    assert_eq!(w.in_flight(), (0, 0));
}

#[test]
fn a_listener_queued_in_its_own_unaccepted_connection_is_collected() {
    let w = World::new();
    let l = w.socket();
    let embryo = UnixSocket::new(libc::SOCK_STREAM, w.names.clone()).expect("a socket");
    unix(&l).lock().listener = Some(Listener {
        backlog: [embryo.clone()].into(),
        max: 1,
    });
    let (pw, r) = carried(&w);
    w.queue(&embryo, &[&l, &pw]);
    drop((embryo, pw));
    w.names.inflight().collect();
    assert!(!released(&r));
    drop(l);
    w.names.inflight().collect();
    assert!(released(&r));
    assert_eq!(w.in_flight(), (0, 0));
}

#[test]
fn a_long_chain_of_queued_sockets_is_released_without_recursion() {
    const CHAIN: usize = 20_000;
    let w = World::new();
    let (pw, r) = carried(&w);
    let head = w.socket();
    let mut last = head.clone();
    for _ in 0..CHAIN {
        let next = w.socket();
        w.queue(unix(&last), &[&next]);
        last = next;
    }
    w.queue(unix(&last), &[&pw]);
    drop((last, pw));
    assert_eq!(w.in_flight().0, CHAIN + 1);
    // A recursion as deep as the chain would need far more than this.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || drop(head))
        .expect("a thread")
        .join()
        .expect("no stack overflow");
    assert!(released(&r));
    assert_eq!(w.in_flight(), (0, 0));
}

#[test]
fn a_user_past_its_limit_queues_no_more_descriptors() {
    let w = World::new();
    let inflight = w.names.inflight();
    let limited = Sender { limit: 2, ..USER };
    let (f, _) = carried(&w);
    let files = vec![f.clone(), f.clone(), f];
    assert_eq!(inflight.check(&limited), Ok(()));
    inflight.lock().charge(&limited, &files);
    // Three in flight, limit two: refused, as Linux's "more than".
    assert_eq!(inflight.check(&limited), Err(Errno::ETOOMANYREFS));
    assert_eq!(
        inflight.check(&Sender {
            exempt: true,
            ..limited
        }),
        Ok(())
    );
    inflight.lock().uncharge(limited.uid, &files[..1]);
    assert_eq!(inflight.check(&limited), Ok(()));
    inflight.lock().uncharge(limited.uid, &files[1..]);
    assert_eq!(w.in_flight(), (0, 0));
}
