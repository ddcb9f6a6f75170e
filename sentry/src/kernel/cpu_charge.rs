//! What a task is charged for the time its application code ran.
//!
//! The task loop times each platform switch by the wall clock: cheap, and
//! exact while the host runs the application's thread the whole time. On
//! a busy host it is not: the wall time of a switch also holds the time
//! the stub thread waited for a CPU, and a thread that sleeps 100 ms
//! around a few system calls could be charged tens of milliseconds it
//! never ran (CPython's test_time expects under 20 ms). Linux charges
//! only time on a CPU.
//!
//! So a switch that took long enough for waiting to matter is checked
//! against the host's own CPU clock of the process that runs the code
//! (the platform names it): the task is charged what that clock says it
//! used since the last check, less what short switches were already
//! charged, and never more than the wall time. Short switches cost no
//! extra system call. When several threads of the application run at once
//! the process clock counts them all, so the charge falls back to the wall
//! time, as before.

use std::time::Duration;

/// Switches shorter than this are charged their wall time unchecked:
/// a host scheduler delay is a time slice or more, and one clock read per
/// half millisecond of application time costs nothing measurable.
const CHECK_ABOVE: Duration = Duration::from_micros(500);

/// Per task: the last reading of the host clock and what was charged since.
#[derive(Debug, Default)]
pub struct CpuCharge {
    clock: Option<libc::clockid_t>,
    synced: Duration,
    charged: Duration,
}

impl CpuCharge {
    /// The time to charge for a switch that took `wall`, with `clock` the
    /// host CPU clock of the code it ran (None: the platform has none).
    pub fn charge(&mut self, wall: Duration, clock: Option<libc::clockid_t>) -> Duration {
        let Some(clock) = clock else {
            return wall;
        };
        if self.clock != Some(clock) {
            // A new context (after exec, or the first switch): the reading
            // comes after this switch, so the next check starts from here.
            self.sync(clock);
            return wall;
        }
        if wall < CHECK_ABOVE {
            self.charged += wall;
            return wall;
        }
        let since = self.synced;
        let charged = self.charged;
        if !self.sync(clock) {
            return wall;
        }
        let used = self.synced.saturating_sub(since).saturating_sub(charged);
        used.min(wall)
    }

    fn sync(&mut self, clock: libc::clockid_t) -> bool {
        self.charged = Duration::ZERO;
        match read(clock) {
            Some(now) => {
                self.clock = Some(clock);
                self.synced = now;
                true
            }
            None => {
                self.clock = None;
                false
            }
        }
    }
}

fn read(clock: libc::clockid_t) -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec to the valid local `ts`.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(d: Duration) {
        let t = std::time::Instant::now();
        while t.elapsed() < d {
            std::hint::black_box(0u64);
        }
    }

    #[test]
    fn a_long_wait_is_not_charged_as_cpu_time() {
        let mut c = CpuCharge::default();
        // The thread's clock: other tests run in this process at once.
        let clock = libc::CLOCK_THREAD_CPUTIME_ID;
        // The first switch on a clock only takes a reading.
        assert_eq!(
            c.charge(Duration::from_millis(3), Some(clock)),
            Duration::from_millis(3)
        );
        std::thread::sleep(Duration::from_millis(50));
        // 50 ms of wall time with almost no CPU time spent in it.
        let charged = c.charge(Duration::from_millis(50), Some(clock));
        assert!(charged < Duration::from_millis(25), "{charged:?}");
    }

    #[test]
    fn time_really_spent_is_charged() {
        let mut c = CpuCharge::default();
        let clock = libc::CLOCK_THREAD_CPUTIME_ID;
        c.charge(Duration::ZERO, Some(clock));
        let before = read(clock).unwrap();
        busy(Duration::from_millis(30));
        let used = read(clock).unwrap() - before;
        // The wall time given is only a ceiling: what is charged is the
        // CPU time between the two readings, which hold `used`.
        let charged = c.charge(Duration::from_secs(1), Some(clock));
        assert!(charged >= used, "{charged:?} < {used:?}");
        assert!(
            charged < used + Duration::from_millis(5),
            "{charged:?} vs {used:?}"
        );
    }

    #[test]
    fn short_switches_are_charged_their_wall_time_and_later_corrected() {
        let mut c = CpuCharge::default();
        let clock = libc::CLOCK_THREAD_CPUTIME_ID;
        c.charge(Duration::ZERO, Some(clock));
        // Ten short switches charged 1 ms of wall time that was not CPU.
        for _ in 0..10 {
            assert_eq!(
                c.charge(Duration::from_micros(100), Some(clock)),
                Duration::from_micros(100)
            );
        }
        // The check takes what was over-charged back from the long one.
        let charged = c.charge(Duration::from_millis(1), Some(clock));
        assert!(charged < Duration::from_millis(1), "{charged:?}");
        assert_eq!(
            c.charge(Duration::from_millis(5), None),
            Duration::from_millis(5)
        );
    }
}
