//! Range tombstones: `delete_range(start, end)` is one O(1) write that hides every key in
//! `[start, end)` written before it.
//!
//! Each source (memtable, SSTable) keeps its range tombstones apart from its point entries.
//! Readers combine them: a point entry with seqno `s` for user key `k` is hidden at snapshot
//! `S` when some tombstone with `start <= k < end` has `s < t.seqno <= S`.

use crate::ikey::SeqNo;

/// One range tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTombstone {
    /// First deleted user key (inclusive).
    pub start: Vec<u8>,
    /// End of the deleted range (exclusive); `start < end`.
    pub end: Vec<u8>,
    /// Sequence number of the deletion.
    pub seqno: SeqNo,
}

impl RangeTombstone {
    /// True when the tombstone covers `user_key` and is visible at `snapshot`.
    pub fn covers(&self, user_key: &[u8], snapshot: SeqNo) -> bool {
        self.seqno <= snapshot
            && self.start.as_slice() <= user_key
            && user_key < self.end.as_slice()
    }
}

/// Tombstones from many sources, cut into non-overlapping fragments so that "which tombstones
/// cover this key" is one binary search.
///
/// Each fragment `[start, end)` lists (ascending) the seqnos of every tombstone that covers it.
/// Readers build it from the tombstones visible at their snapshot; compaction builds it from
/// all tombstones of its inputs and asks for the lowest covering seqno above an entry's, to
/// decide whether that tombstone sits in the entry's snapshot stripe.
///
/// Invariant: fragments are sorted, non-empty (`start < end`) and do not overlap; each
/// `seqnos` list is non-empty and sorted (test `fragments_are_disjoint_and_cover_inputs`).
#[derive(Debug, Default, Clone)]
pub struct RangeDelIndex {
    frags: Vec<Fragment>,
}

#[derive(Debug, Clone)]
struct Fragment {
    start: Vec<u8>,
    end: Vec<u8>,
    seqnos: Vec<SeqNo>,
}

impl RangeDelIndex {
    /// Builds the index in O(n log n) with a sweep over the tombstones' boundaries.
    pub fn new(mut tombstones: Vec<RangeTombstone>) -> RangeDelIndex {
        tombstones.retain(|t| t.start < t.end);
        if tombstones.is_empty() {
            return RangeDelIndex::default();
        }
        tombstones.sort_by(|a, b| a.start.cmp(&b.start));
        let mut bounds: Vec<&[u8]> = Vec::with_capacity(tombstones.len() * 2);
        for t in &tombstones {
            bounds.push(&t.start);
            bounds.push(&t.end);
        }
        bounds.sort_unstable();
        bounds.dedup();
        // Active tombstones as (end, seqno); a fragment starting at bound b gets the seqnos of
        // those with start <= b < end.
        let mut active: Vec<(&[u8], SeqNo)> = Vec::new();
        let mut next = 0;
        let mut frags = Vec::new();
        for pair in bounds.windows(2) {
            let (Some(&lo), Some(&hi)) = (pair.first(), pair.get(1)) else {
                continue;
            };
            while let Some(t) = tombstones.get(next) {
                if t.start.as_slice() > lo {
                    break;
                }
                active.push((t.end.as_slice(), t.seqno));
                next += 1;
            }
            active.retain(|(end, _)| *end > lo);
            if active.is_empty() {
                continue;
            }
            let mut seqnos: Vec<SeqNo> = active.iter().map(|(_, s)| *s).collect();
            seqnos.sort_unstable();
            seqnos.dedup();
            frags.push(Fragment {
                start: lo.to_vec(),
                end: hi.to_vec(),
                seqnos,
            });
        }
        RangeDelIndex { frags }
    }

    pub fn is_empty(&self) -> bool {
        self.frags.is_empty()
    }

    fn fragment(&self, user_key: &[u8]) -> Option<&Fragment> {
        let idx = self
            .frags
            .partition_point(|f| f.start.as_slice() <= user_key);
        let f = self.frags.get(idx.checked_sub(1)?)?;
        (user_key < f.end.as_slice()).then_some(f)
    }

    /// The lowest seqno above `seqno` among tombstones covering `user_key`, if any.
    pub fn covering_seqno_above(&self, user_key: &[u8], seqno: SeqNo) -> Option<SeqNo> {
        let f = self.fragment(user_key)?;
        let i = f.seqnos.partition_point(|s| *s <= seqno);
        f.seqnos.get(i).copied()
    }

    /// True when a tombstone in the index hides an entry of `user_key` written at `seqno`.
    pub fn covers(&self, user_key: &[u8], seqno: SeqNo) -> bool {
        self.covering_seqno_above(user_key, seqno).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(start: &[u8], end: &[u8], seqno: SeqNo) -> RangeTombstone {
        RangeTombstone {
            start: start.to_vec(),
            end: end.to_vec(),
            seqno,
        }
    }

    #[test]
    fn overlapping_tombstones_fragment() {
        let idx = RangeDelIndex::new(vec![t(b"a", b"m", 5), t(b"f", b"z", 9)]);
        assert!(idx.covers(b"a", 4));
        assert!(!idx.covers(b"a", 5));
        assert_eq!(idx.covering_seqno_above(b"g", 1), Some(5));
        assert_eq!(idx.covering_seqno_above(b"g", 5), Some(9));
        assert_eq!(idx.covering_seqno_above(b"m", 1), Some(9));
        assert_eq!(idx.covering_seqno_above(b"z", 1), None);
        assert_eq!(idx.covering_seqno_above(b"0", 1), None);
    }

    proptest! {
        #[test]
        fn fragments_are_disjoint_and_cover_inputs(
            ts in proptest::collection::vec((0u8..20, 0u8..20, 1u64..10), 0..12),
            probes in proptest::collection::vec((0u8..21, 0u64..10), 1..30),
        ) {
            let tombs: Vec<RangeTombstone> =
                ts.iter().map(|(a, b, s)| t(&[*a], &[*b], *s)).collect();
            let idx = RangeDelIndex::new(tombs.clone());
            for w in idx.frags.windows(2) {
                prop_assert!(w[0].start < w[0].end);
                prop_assert!(w[0].end <= w[1].start);
            }
            for (k, s) in probes {
                let key = [k];
                let expected = tombs
                    .iter()
                    .filter(|t| t.start.as_slice() <= &key[..] && &key[..] < t.end.as_slice() && t.seqno > s)
                    .map(|t| t.seqno)
                    .min();
                prop_assert_eq!(idx.covering_seqno_above(&key, s), expected);
            }
        }
    }
}
