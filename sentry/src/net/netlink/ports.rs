//! Netlink port ids of one network namespace: each bound socket holds one
//! per protocol, unique, as Linux's nl_table does.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::errno::Errno;

/// The first port id an autobind tries when the caller's tgid is taken
/// (Linux's rover counts down from -4097).
const ROVER_START: i32 = -4097;

#[derive(Default)]
pub struct Ports {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// (protocol, port id).
    used: HashSet<(i32, u32)>,
    rover: Option<i32>,
}

impl Ports {
    pub fn new() -> std::sync::Arc<Ports> {
        Default::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `port` for a bind(2) that names it: EADDRINUSE when held.
    pub fn take(&self, protocol: i32, port: u32) -> Result<(), Errno> {
        if self.lock().used.insert((protocol, port)) {
            Ok(())
        } else {
            Err(Errno::EADDRINUSE)
        }
    }

    /// netlink_autobind: the caller's tgid if free, else a negative id
    /// nobody holds.
    pub fn autobind(&self, protocol: i32, tgid: i32) -> u32 {
        let mut inner = self.lock();
        if inner.used.insert((protocol, tgid as u32)) {
            return tgid as u32;
        }
        loop {
            let next = inner.rover.unwrap_or(ROVER_START);
            // Wrapping past i32::MIN starts again below -4096.
            inner.rover = Some(next.checked_sub(1).unwrap_or(ROVER_START));
            if inner.used.insert((protocol, next as u32)) {
                return next as u32;
            }
        }
    }

    pub fn release(&self, protocol: i32, port: u32) {
        self.lock().used.remove(&(protocol, port));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autobind_takes_the_tgid_then_negative_ids() {
        let p = Ports::default();
        assert_eq!(p.autobind(0, 42), 42);
        assert_eq!(p.autobind(0, 42), (-4097i32) as u32);
        assert_eq!(p.autobind(0, 42), (-4098i32) as u32);
        assert_eq!(p.autobind(15, 42), 42, "ports are per protocol");
        assert_eq!(p.take(0, 42), Err(Errno::EADDRINUSE));
        p.release(0, 42);
        assert_eq!(p.take(0, 42), Ok(()));
    }
}
