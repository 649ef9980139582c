//! The commit pipeline: hands out commit timestamps and tells readers which timestamp is safe
//! to read at, so that no reader misses a commit that is still on its way to the engine.
//!
//! Role: the commit path calls [`Pipeline::assign`] (under the commit mutex) and
//! [`Pipeline::finish`] once its write is in the engine; transactions take read timestamps
//! from [`Pipeline::readable`].
//!
//! Invariants:
//! 1. `readable()` is below every commit timestamp still pending, and at least every
//!    timestamp it returned before (monotonic): a reader never misses a commit at or below
//!    its timestamp (`readable_stays_below_pending_commits`).
//! 2. `finish(ts)` returns only when no commit below `ts` is pending, so a committer that
//!    returns to its caller is visible to every transaction that starts afterwards
//!    (`finish_waits_for_earlier_commits`).
//!
//! Concurrency: one mutex guards the pending set; the clock is read under it so that a
//! timestamp is handed out and registered as pending atomically. One condvar wakes waiters.

use std::collections::BTreeSet;

use std::sync::atomic::{AtomicUsize, Ordering};

use cairn_types::Timestamp;
use parking_lot::{Condvar, Mutex};

use crate::hlc::Hlc;

#[derive(Default)]
pub struct Pipeline {
    pending: Mutex<BTreeSet<Timestamp>>,
    /// Size of `pending`, raised before a commit takes its timestamp and lowered after it
    /// leaves the set, so that `readable` can skip the lock when nothing is in flight.
    pending_count: AtomicUsize,
    cv: Condvar,
}

impl Pipeline {
    /// A new commit timestamp, registered as pending.
    pub fn assign(&self, hlc: &Hlc) -> Timestamp {
        let mut p = self.pending.lock();
        // Counted before the clock is read: a reader whose clock reading comes after ours
        // then sees the count (the clock's mutex orders the two readings).
        self.pending_count.fetch_add(1, Ordering::SeqCst);
        let ts = hlc.now();
        p.insert(ts);
        ts
    }

    /// The newest timestamp at which every commit is already in the engine.
    pub fn readable(&self, hlc: &Hlc) -> Timestamp {
        // Fast path: a clock reading taken while no commit is counted is above every commit
        // that has a timestamp, and every later commit's timestamp is above it.
        let now = hlc.now();
        if self.pending_count.load(Ordering::SeqCst) == 0 {
            return now;
        }
        let p = self.pending.lock();
        match p.first() {
            Some(first) => first.prev(),
            None => hlc.now(),
        }
    }

    /// Marks `ts` applied and waits until every earlier commit is applied too.
    pub fn finish(&self, ts: Timestamp) {
        let mut p = self.pending.lock();
        let removed = p.remove(&ts);
        assert!(removed, "commit {ts} finished twice or never assigned");
        self.pending_count.fetch_sub(1, Ordering::SeqCst);
        self.cv.notify_all();
        while p.first().is_some_and(|first| *first < ts) {
            self.cv.wait(&mut p);
        }
    }

    /// Waits until no commit at or below `ts` is pending (the caller has already moved the
    /// clock past `ts`, so no new commit can land at or below it).
    pub fn wait_readable(&self, ts: Timestamp) {
        let mut p = self.pending.lock();
        while p.first().is_some_and(|first| *first <= ts) {
            self.cv.wait(&mut p);
        }
    }

    pub fn pending_count(&self) -> usize {
        self.pending.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_env::ManualClock;
    use std::sync::Arc;
    use std::time::Duration;

    fn hlc() -> Hlc {
        Hlc::new(
            Arc::new(ManualClock::new(1_000)),
            Duration::from_millis(500),
        )
    }

    #[test]
    fn readable_stays_below_pending_commits() {
        let h = hlc();
        let p = Pipeline::default();
        let r0 = p.readable(&h);
        let c1 = p.assign(&h);
        let c2 = p.assign(&h);
        let r1 = p.readable(&h);
        assert!(r0 <= r1 && r1 < c1, "{r0} {r1} {c1}");
        std::thread::scope(|s| {
            // c2 finishes first but must wait for c1.
            let t = s.spawn(|| p.finish(c2));
            std::thread::sleep(Duration::from_millis(20));
            assert!(!t.is_finished());
            assert!(p.readable(&h) < c1);
            p.finish(c1);
            t.join().unwrap();
        });
        let r2 = p.readable(&h);
        assert!(r2 > c2);
        assert_eq!(p.pending_count(), 0);
    }

    #[test]
    fn finish_waits_for_earlier_commits() {
        let h = hlc();
        let p = Pipeline::default();
        let c1 = p.assign(&h);
        let c2 = p.assign(&h);
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                p.finish(c2);
                done.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(30));
            assert!(!done.load(std::sync::atomic::Ordering::SeqCst));
            p.finish(c1);
        });
        assert!(done.load(std::sync::atomic::Ordering::SeqCst));
    }
}
