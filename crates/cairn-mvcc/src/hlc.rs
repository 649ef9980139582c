//! The hybrid logical clock: timestamps that follow wall time closely yet never go backwards
//! and order causally related events across nodes.
//!
//! Role: the transaction layer takes read and commit timestamps from [`Hlc::now`]; every
//! timestamp that arrives from elsewhere (another node, a client's causality token) goes
//! through [`Hlc::update`] first.
//!
//! Invariants:
//! 1. `now()` is strictly increasing across all calls on one `Hlc`, even when the wall clock
//!    jumps back (`hlc_never_goes_backwards_when_wall_clock_jumps_back`).
//! 2. After `update(r)` succeeds, every later `now()` is greater than `r`
//!    (`update_moves_clock_past_remote`).
//! 3. A remote timestamp more than `max_offset` ahead of the local wall clock is refused and
//!    counted, and the clock does not move (`remote_too_far_ahead_is_refused_and_counted`).
//!
//! Concurrency: one mutex guards the last timestamp handed out; the wall clock is read
//! under it so that the sequence of readings is totally ordered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_env::Clock;
use cairn_types::Timestamp;
use parking_lot::Mutex;

/// A remote clock ahead of ours by more than the allowed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("remote timestamp {remote} is {ahead_nanos} ns ahead of the local clock {local}, more than the maximum offset of {max_offset_nanos} ns")]
pub struct ClockOffsetError {
    pub remote: Timestamp,
    pub local: Timestamp,
    pub ahead_nanos: u64,
    pub max_offset_nanos: u64,
}

/// A hybrid logical clock over a [`Clock`].
pub struct Hlc {
    clock: Arc<dyn Clock>,
    last: Mutex<Timestamp>,
    max_offset_nanos: u64,
    refused: AtomicU64,
}

impl Hlc {
    pub fn new(clock: Arc<dyn Clock>, max_offset: Duration) -> Hlc {
        Hlc {
            clock,
            last: Mutex::new(Timestamp::ZERO),
            max_offset_nanos: u64::try_from(max_offset.as_nanos()).unwrap_or(u64::MAX),
            refused: AtomicU64::new(0),
        }
    }

    /// The maximum clock offset tolerated between nodes.
    pub fn max_offset_nanos(&self) -> u64 {
        self.max_offset_nanos
    }

    /// A fresh timestamp, greater than every one handed out or observed before.
    pub fn now(&self) -> Timestamp {
        let wall = self.clock.now_nanos();
        let mut last = self.last.lock();
        let next = if wall > last.wall_nanos {
            Timestamp::new(wall, 0)
        } else {
            last.next()
        };
        debug_assert!(next > *last, "hlc went backwards: {next} after {last}");
        *last = next;
        next
    }

    /// The newest timestamp handed out or observed, without advancing the clock.
    pub fn peek(&self) -> Timestamp {
        *self.last.lock()
    }

    /// Observes a timestamp received from elsewhere; later `now()` readings exceed it.
    pub fn update(&self, remote: Timestamp) -> Result<(), ClockOffsetError> {
        let wall = self.clock.now_nanos();
        let mut last = self.last.lock();
        if remote.wall_nanos > wall.saturating_add(self.max_offset_nanos) {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(ClockOffsetError {
                remote,
                local: Timestamp::new(wall.max(last.wall_nanos), 0),
                ahead_nanos: remote.wall_nanos - wall,
                max_offset_nanos: self.max_offset_nanos,
            });
        }
        if remote > *last {
            *last = remote;
        }
        Ok(())
    }

    /// Moves the clock past `ts` without the offset check: for timestamps this node itself
    /// persisted before a restart.
    pub fn ensure_after(&self, ts: Timestamp) {
        let mut last = self.last.lock();
        if ts > *last {
            *last = ts;
        }
    }

    /// Remote timestamps refused for being too far ahead, since creation.
    pub fn refused_count(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_env::ManualClock;

    fn hlc(start: u64) -> (Arc<ManualClock>, Hlc) {
        let clock = Arc::new(ManualClock::new(start));
        let h = Hlc::new(clock.clone(), Duration::from_millis(500));
        (clock, h)
    }

    #[test]
    fn hlc_never_goes_backwards_when_wall_clock_jumps_back() {
        let (clock, h) = hlc(1_000_000);
        let a = h.now();
        clock.set(10);
        let b = h.now();
        let c = h.now();
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(
            b.wall_nanos, 1_000_000,
            "logical ticks while the wall clock lags"
        );
        clock.set(2_000_000);
        let d = h.now();
        assert_eq!(d, Timestamp::new(2_000_000, 0));
    }

    #[test]
    fn update_moves_clock_past_remote() {
        let (_clock, h) = hlc(1_000_000_000);
        let remote = Timestamp::new(1_200_000_000, 7);
        h.update(remote).unwrap();
        let t = h.now();
        assert!(t > remote, "{t} <= {remote}");
        // An older remote changes nothing.
        h.update(Timestamp::new(5, 0)).unwrap();
        assert!(h.now() > t);
    }

    #[test]
    fn remote_too_far_ahead_is_refused_and_counted() {
        let (_clock, h) = hlc(1_000_000_000);
        let before = h.now();
        let err = h
            .update(Timestamp::new(1_000_000_000 + 500_000_001, 0))
            .unwrap_err();
        assert_eq!(err.max_offset_nanos, 500_000_000);
        assert_eq!(err.ahead_nanos, 500_000_001);
        assert_eq!(h.refused_count(), 1);
        assert!(h.now().wall_nanos < 1_500_000_000, "clock did not move");
        assert!(h.now() > before);
        // Exactly at the bound is accepted.
        h.update(Timestamp::new(1_500_000_000, 0)).unwrap();
        assert_eq!(h.refused_count(), 1);
    }
}
