//! Engine statistics: counters updated on the hot paths with relaxed atomics, and the
//! [`Stats`] snapshot that the metrics layer and `cairn bench` read.

use std::sync::atomic::AtomicU64;

/// Live counters (monotonic since open).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub user_bytes_written: AtomicU64,
    pub writes: AtomicU64,
    pub write_groups: AtomicU64,
    pub wal_bytes_written: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub flushes: AtomicU64,
    pub flush_bytes_written: AtomicU64,
    pub compactions: AtomicU64,
    pub trivial_moves: AtomicU64,
    pub compaction_bytes_read: AtomicU64,
    pub compaction_bytes_written: AtomicU64,
    pub stall_micros: AtomicU64,
    pub prefix_filter_skips: AtomicU64,
}

/// One level's files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelStats {
    pub file_count: u64,
    pub size_bytes: u64,
}

/// A snapshot of the engine's statistics. Byte counters are since open.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Key and value bytes of user writes.
    pub user_bytes_written: u64,
    /// Write calls, and groups they were committed in (writes / groups = group size).
    pub writes: u64,
    pub write_groups: u64,
    pub wal_bytes_written: u64,
    pub wal_syncs: u64,
    pub flushes: u64,
    /// Bytes of tables written by flushes.
    pub flush_bytes_written: u64,
    pub compactions: u64,
    /// Compactions that moved files to the next level without rewriting them.
    pub trivial_moves: u64,
    pub compaction_bytes_read: u64,
    pub compaction_bytes_written: u64,
    /// Time writers spent stalled or slowed down, in microseconds.
    pub stall_micros: u64,
    /// Tables an iterator with `ReadOptions::prefix` left out because their bloom filter
    /// ruled the prefix out.
    pub prefix_filter_skips: u64,
    pub block_cache_hits: u64,
    pub block_cache_misses: u64,
    pub block_cache_used_bytes: u64,
    /// Bytes held by the active and frozen memtables.
    pub memtable_bytes: u64,
    pub immutable_memtables: u64,
    /// Bytes of live tables.
    pub live_sst_bytes: u64,
    /// Per level, L0 first.
    pub levels: Vec<LevelStats>,
    pub last_seqno: u64,
}

impl Stats {
    /// (flush + compaction bytes written) / user bytes written; 0 before any write.
    pub fn write_amplification(&self) -> f64 {
        if self.user_bytes_written == 0 {
            return 0.0;
        }
        (self.flush_bytes_written + self.compaction_bytes_written) as f64
            / self.user_bytes_written as f64
    }
}
