//! The recent-writes index: the newest commit timestamp of every key written since a horizon,
//! kept in memory so that commit-time validation rarely touches the storage engine.
//!
//! Role: the commit path records each committed key here (under the commit mutex) before the
//! write reaches the engine; validation and early-abort checks ask it "was `key` (or any key
//! in a range) written after `ts`?". When the question reaches below the horizon (a
//! transaction older than the index's memory), the caller falls back to reading versions
//! from the engine, which holds every applied write; the index still answers for writes not
//! applied yet.
//!
//! Invariants:
//! 1. Every commit with timestamp `> horizon` has all its keys in `newest`, with at least that
//!    timestamp (`evicts_oldest_and_raises_horizon`).
//! 2. Entries are only evicted once their commit is applied to the engine (the caller passes
//!    the applied bound), so the engine answers for everything at or below the horizon.
//! 3. Memory is bounded: at most `capacity` entries beyond those not yet applied.
//!
//! Concurrency: not synchronised; the owner keeps it behind the commit mutex.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use cairn_types::Timestamp;

pub struct RecentWrites {
    newest: BTreeMap<Vec<u8>, Timestamp>,
    order: VecDeque<(Timestamp, Vec<u8>)>,
    horizon: Timestamp,
    capacity: usize,
}

impl RecentWrites {
    /// An index that remembers about `capacity` keys; writes at or below `horizon` (e.g. all
    /// that were in the engine at open) are not in it.
    pub fn new(capacity: usize, horizon: Timestamp) -> RecentWrites {
        RecentWrites {
            newest: BTreeMap::new(),
            order: VecDeque::new(),
            horizon,
            capacity: capacity.max(1),
        }
    }

    /// True when the index alone knows every write newer than `ts`.
    pub fn covers(&self, ts: Timestamp) -> bool {
        ts >= self.horizon
    }

    pub fn horizon(&self) -> Timestamp {
        self.horizon
    }

    pub fn len(&self) -> usize {
        self.newest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.newest.is_empty()
    }

    /// Records that `key` was written at `ts`. Timestamps must rise across calls.
    pub fn record(&mut self, key: &[u8], ts: Timestamp) {
        if let Some(&(last, _)) = self.order.back() {
            assert!(
                ts >= last,
                "commit timestamps out of order: {ts} after {last}"
            );
        }
        self.newest.insert(key.to_vec(), ts);
        self.order.push_back((ts, key.to_vec()));
    }

    /// Newest recorded write of `key`, if newer than the horizon.
    pub fn newest(&self, key: &[u8]) -> Option<Timestamp> {
        self.newest.get(key).copied()
    }

    /// Some key in `[start, end)` written after `after`, with its timestamp.
    pub fn first_write_after(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        after: Timestamp,
    ) -> Option<(Vec<u8>, Timestamp)> {
        let hi = match end {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        self.newest
            .range::<[u8], _>((Bound::Included(start), hi))
            .find(|(_, &t)| t > after)
            .map(|(k, &t)| (k.clone(), t))
    }

    /// Forgets the oldest entries beyond capacity whose commits are at or below `applied`.
    pub fn evict(&mut self, applied: Timestamp) {
        while self.order.len() > self.capacity {
            let Some(&(ts, _)) = self.order.front() else {
                break;
            };
            if ts > applied {
                break;
            }
            if let Some((ts, key)) = self.order.pop_front() {
                if self.newest.get(&key) == Some(&ts) {
                    self.newest.remove(&key);
                }
                if ts > self.horizon {
                    self.horizon = ts;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(w: u64) -> Timestamp {
        Timestamp::new(w, 0)
    }

    #[test]
    fn answers_point_and_range_questions() {
        let mut r = RecentWrites::new(10, t(0));
        r.record(b"b", t(5));
        r.record(b"d", t(7));
        r.record(b"b", t(9));
        assert_eq!(r.newest(b"b"), Some(t(9)));
        assert_eq!(r.newest(b"c"), None);
        assert_eq!(
            r.first_write_after(b"a", Some(b"c"), t(8)),
            Some((b"b".to_vec(), t(9)))
        );
        assert_eq!(r.first_write_after(b"c", Some(b"d"), t(0)), None);
        assert_eq!(
            r.first_write_after(b"c", None, t(6)),
            Some((b"d".to_vec(), t(7)))
        );
        assert_eq!(r.first_write_after(b"c", None, t(7)), None);
    }

    #[test]
    fn evicts_oldest_and_raises_horizon() {
        let mut r = RecentWrites::new(2, t(0));
        for (i, k) in [b"a", b"b", b"c", b"d"].iter().enumerate() {
            r.record(*k, t(i as u64 + 1));
        }
        // Nothing applied yet: nothing may go.
        r.evict(t(0));
        assert_eq!(r.len(), 4);
        assert!(r.covers(t(0)));
        r.evict(t(3));
        assert_eq!(r.len(), 2);
        assert_eq!(r.horizon(), t(2));
        assert!(!r.covers(t(1)));
        assert!(r.covers(t(2)));
        assert_eq!(r.newest(b"a"), None);
        assert_eq!(r.newest(b"c"), Some(t(3)));
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn timestamps_must_rise() {
        let mut r = RecentWrites::new(2, t(0));
        r.record(b"a", t(5));
        r.record(b"b", t(4));
    }
}
