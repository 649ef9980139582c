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
        self.seqno <= snapshot && self.start.as_slice() <= user_key && user_key < self.end.as_slice()
    }
}
