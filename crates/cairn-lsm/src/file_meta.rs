//! Metadata of one live SSTable, as the MANIFEST records it and file sets hold it.

use crate::ikey::SeqNo;

/// One SSTable in a file set. Invariant: `smallest <= largest` in internal-key order, and
/// every entry and range tombstone of the file lies within them (a range tombstone's exclusive
/// end is recorded as the internal key `(end, SEQNO_MAX, RangeDelete)`, which sorts before
/// every real entry of `end`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// File number: names the file `{number:06}.sst`; unique within a database, never reused.
    pub number: u64,
    /// Size of the file in bytes.
    pub size_bytes: u64,
    /// Smallest internal key in the file.
    pub smallest: Vec<u8>,
    /// Largest internal key in the file.
    pub largest: Vec<u8>,
    /// Smallest and largest sequence number of the file's entries.
    pub seqno_smallest: SeqNo,
    pub seqno_largest: SeqNo,
    /// Point entries (puts and deletes) in the file.
    pub entry_count: u64,
    /// Point deletes plus range tombstones in the file.
    pub tombstone_count: u64,
    /// For an ingested file written with every seqno 0: the seqno every entry is read with.
    /// 0 = entries carry their own seqnos.
    pub global_seqno: SeqNo,
}
