//! cairn-env: the seams through which time (and later randomness, files and the network)
//! enter Cairn, so that tests and the simulator can replace them.
//!
//! Layer 0. Main types: the [`Clock`] trait, [`SystemClock`] (the real wall clock) and
//! [`ManualClock`] (a clock a test sets, skews and jumps).
//!
//! Threading: every clock is `Send + Sync` and may be read from any thread.
#![deny(clippy::unwrap_used, clippy::indexing_slicing)]

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time: nanoseconds since the Unix epoch. Readings may go backwards
/// (NTP steps, a test's jump); the hybrid logical clock above it never does.
pub trait Clock: Send + Sync {
    fn now_nanos(&self) -> u64;
}

/// The machine's real-time clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_nanos(&self) -> u64 {
        // A clock before 1970 reads as the epoch; one past the year 2554 saturates.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock under a test's control: it reads `base + skew`, where `base` only changes when the
/// test sets or advances it, and `skew` (possibly negative) models a badly synchronised node.
#[derive(Debug)]
pub struct ManualClock {
    base_nanos: AtomicU64,
    skew_nanos: AtomicI64,
}

impl ManualClock {
    pub fn new(start_nanos: u64) -> ManualClock {
        ManualClock {
            base_nanos: AtomicU64::new(start_nanos),
            skew_nanos: AtomicI64::new(0),
        }
    }

    /// Moves the clock forward by `nanos`.
    pub fn advance(&self, nanos: u64) {
        self.base_nanos.fetch_add(nanos, Ordering::SeqCst);
    }

    /// Sets the clock to `nanos` (it may jump backwards).
    pub fn set(&self, nanos: u64) {
        self.base_nanos.store(nanos, Ordering::SeqCst);
    }

    /// Reads are offset by `skew_nanos` from now on.
    pub fn set_skew(&self, skew_nanos: i64) {
        self.skew_nanos.store(skew_nanos, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        let base = self.base_nanos.load(Ordering::SeqCst);
        let skew = self.skew_nanos.load(Ordering::SeqCst);
        base.saturating_add_signed(skew)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_advances_jumps_and_skews() {
        let c = ManualClock::new(1_000);
        assert_eq!(c.now_nanos(), 1_000);
        c.advance(500);
        assert_eq!(c.now_nanos(), 1_500);
        c.set_skew(-2_000);
        assert_eq!(c.now_nanos(), 0, "negative skew saturates at the epoch");
        c.set_skew(250);
        assert_eq!(c.now_nanos(), 1_750);
        c.set(10);
        assert_eq!(c.now_nanos(), 260);
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now_nanos() > 1_577_836_800_000_000_000);
    }
}
