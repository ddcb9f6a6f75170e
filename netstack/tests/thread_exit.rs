//! The stack's thread ends with the stack. Alone in its own test binary,
//! so no other test's stack is counted.

mod common;

use common::*;
use netstack::{Stack, StackConfig};

#[test]
fn thread_ends_when_the_stack_is_dropped() {
    assert_eq!(netstack_threads(), 0);
    let s = Stack::new(StackConfig::default()).unwrap();
    // The thread names itself once it runs.
    let deadline = std::time::Instant::now() + PATIENCE;
    while netstack_threads() != 1 {
        assert!(std::time::Instant::now() < deadline, "no netstack thread");
        std::thread::yield_now();
    }
    let (l, bound) = listener(&s, "127.0.0.1:0", 1);
    let c = tcp(&s, false);
    c.connect(bound).unwrap();
    let (a, _) = l.accept();
    // Endpoints hold the stack; the last one going takes the thread.
    let weak = std::sync::Arc::downgrade(&s);
    drop(s);
    assert!(weak.upgrade().is_some());
    drop((l, c, a));
    assert!(weak.upgrade().is_none());
    assert_eq!(netstack_threads(), 0);
}
