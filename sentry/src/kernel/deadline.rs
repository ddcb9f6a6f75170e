//! Deadlines of timed calls, made from times the application gives.
//!
//! An application may pass any time: `tv_sec = i64::MAX`, relative or
//! absolute. `Instant + Duration` panics when the sum overflows, and a
//! panic ends the whole sandbox. So every timed call makes its deadline
//! here, where the sum saturates: a time beyond [`FOREVER`] from now waits
//! as long as [`FOREVER`], which no sandbox outlives.

use std::time::{Duration, Instant};

use crate::errno::Errno;

/// The furthest a deadline lies: 2^40 s (about 34,800 years). Far beyond
/// any run, and small enough that adding it to the monotonic clock cannot
/// overflow.
pub const FOREVER: Duration = Duration::from_secs(1 << 40);

/// `d` from now, or [`FOREVER`] from now if `d` is longer.
pub fn after(d: Duration) -> Instant {
    Instant::now() + d.min(FOREVER)
}

/// The deadline of the absolute time `target` on a clock that reads `now`
/// (a time already past is a deadline of now).
pub fn at(target: Duration, now: Duration) -> Instant {
    after(target.saturating_sub(now))
}

/// `deadline + d` (a periodic timer's next expiry), saturating as [`after`]
/// does.
pub fn later(deadline: Instant, d: Duration) -> Instant {
    deadline
        .checked_add(d.min(FOREVER))
        .unwrap_or_else(|| after(FOREVER))
}

/// A `timespec` as a duration: EINVAL for negative seconds or nanoseconds
/// outside 0..1e9, as Linux's timespec64_valid.
pub fn duration_of(ts: &libc::timespec) -> Result<Duration, Errno> {
    if ts.tv_sec < 0 || !(0..1_000_000_000).contains(&ts.tv_nsec) {
        return Err(Errno::EINVAL);
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extreme_times_saturate_instead_of_overflowing() {
        let max = Duration::new(u64::MAX, 999_999_999);
        let far = after(max);
        assert!(far > Instant::now() + Duration::from_secs(1 << 39));
        assert!(at(max, Duration::ZERO) > Instant::now());
        assert!(at(Duration::ZERO, max) <= Instant::now());
        assert!(later(far, max) >= far);
    }

    #[test]
    fn timespecs_are_checked_as_linux_checks_them() {
        let ts = |s, ns| libc::timespec {
            tv_sec: s,
            tv_nsec: ns,
        };
        assert_eq!(
            duration_of(&ts(i64::MAX, 999_999_999)),
            Ok(Duration::new(i64::MAX as u64, 999_999_999))
        );
        assert_eq!(duration_of(&ts(-1, 0)), Err(Errno::EINVAL));
        assert_eq!(duration_of(&ts(0, 1_000_000_000)), Err(Errno::EINVAL));
        assert_eq!(duration_of(&ts(0, -1)), Err(Errno::EINVAL));
    }
}
