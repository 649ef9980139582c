//! Engine options. Defaults are the documented production defaults (docs/storage.md).

use std::sync::Arc;

use crate::compaction_filter::CompactionFilterFactory;
use crate::ikey::SeqNo;

/// Per-block compression of SSTable blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lz4,
    /// zstd at the given level (1..=22).
    Zstd(i32),
}

impl Compression {
    /// Byte stored in each block trailer.
    pub fn to_byte(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd(_) => 2,
        }
    }
}

/// Options for opening an engine.
#[derive(Clone)]
pub struct Options {
    /// Create the directory and an empty database if none exists.
    pub create_if_missing: bool,
    /// Bytes of memtable before it is frozen and flushed (default 64 MiB).
    pub memtable_bytes: usize,
    /// Frozen memtables that may wait for flush before writers stall (default 2, so at most
    /// 3 memtables exist).
    pub immutable_memtables_max: usize,
    /// Target uncompressed size of an SSTable data block (default 4 KiB).
    pub block_bytes: usize,
    /// Keys between restart points in a block (default 16).
    pub block_restart_interval: usize,
    /// Compression of data blocks (default LZ4).
    pub compression: Compression,
    /// Bloom filter bits per key; 0 disables filters (default 10).
    pub bloom_bits_per_key: u32,
    /// Bloom filters hold each user key without its last `n` bytes (default 0: whole keys).
    /// A layer whose keys end in a fixed-size suffix (MVCC's 12-byte timestamp) sets it, so
    /// that an iterator confined to one prefix (`ReadOptions::prefix`) skips tables that do
    /// not hold it. Each table records the value it was built with.
    pub bloom_strip_suffix_bytes: u32,
    /// Block cache capacity in bytes (default 256 MiB).
    pub block_cache_bytes: u64,
    /// Open SSTables kept in the table cache (default 1000).
    pub table_cache_files_max: usize,
    /// Target size of an SSTable written by compaction (default 64 MiB).
    pub sst_bytes_target: u64,
    /// L0 file count that triggers a compaction into L1 (default 4).
    pub l0_compaction_trigger: usize,
    /// L0 file count at which each write is delayed (default 20).
    pub l0_slowdown_trigger: usize,
    /// L0 file count at which writes stop until compaction catches up (default 36).
    pub l0_stop_trigger: usize,
    /// Target bytes of L1; each deeper level is `level_size_multiplier` times larger (256 MiB).
    pub l1_bytes_target: u64,
    /// Growth factor between levels (default 10).
    pub level_size_multiplier: u64,
    /// Number of levels, L0..L(n-1) (default 7).
    pub levels: usize,
    /// Background compaction threads (default 2). One more thread does flushes.
    pub compaction_threads: usize,
    /// Compaction write rate limit in bytes/s; 0 = unlimited (default 0).
    pub compaction_bytes_per_sec: u64,
    /// Estimated pending compaction bytes at which writes slow down (default 64 GiB).
    pub pending_compaction_slowdown_bytes: u64,
    /// Estimated pending compaction bytes at which writes stop (default 256 GiB).
    pub pending_compaction_stop_bytes: u64,
    /// Compaction filter supplied by a higher layer (MVCC garbage collection).
    pub compaction_filter: Option<Arc<dyn CompactionFilterFactory>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create_if_missing: true,
            memtable_bytes: 64 << 20,
            immutable_memtables_max: 2,
            block_bytes: 4096,
            block_restart_interval: 16,
            compression: Compression::Lz4,
            bloom_bits_per_key: 10,
            bloom_strip_suffix_bytes: 0,
            block_cache_bytes: 256 << 20,
            table_cache_files_max: 1000,
            sst_bytes_target: 64 << 20,
            l0_compaction_trigger: 4,
            l0_slowdown_trigger: 20,
            l0_stop_trigger: 36,
            l1_bytes_target: 256 << 20,
            level_size_multiplier: 10,
            levels: 7,
            compaction_threads: 2,
            compaction_bytes_per_sec: 0,
            pending_compaction_slowdown_bytes: 64 << 30,
            pending_compaction_stop_bytes: 256 << 30,
            compaction_filter: None,
        }
    }
}

impl Options {
    /// Checks the settings that would make the engine misbehave (deadlock, empty tables).
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.levels < 2 || self.levels > 64 {
            return Err("levels must be between 2 and 64");
        }
        if self.memtable_bytes < 1024 {
            return Err("memtable_bytes must be at least 1 KiB");
        }
        if self.immutable_memtables_max == 0 {
            return Err("immutable_memtables_max must be at least 1");
        }
        if self.block_bytes < 64 || self.block_restart_interval == 0 {
            return Err("block_bytes must be at least 64 and block_restart_interval at least 1");
        }
        if self.l0_compaction_trigger == 0
            || self.l0_slowdown_trigger < self.l0_compaction_trigger
            || self.l0_stop_trigger < self.l0_slowdown_trigger
        {
            return Err("L0 triggers must satisfy 0 < compaction <= slowdown <= stop");
        }
        if self.level_size_multiplier < 2 || self.l1_bytes_target == 0 || self.sst_bytes_target == 0
        {
            return Err("level_size_multiplier must be at least 2 and size targets non-zero");
        }
        if let Compression::Zstd(level) = self.compression {
            if !(1..=22).contains(&level) {
                return Err("zstd level must be between 1 and 22");
            }
        }
        Ok(())
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("memtable_bytes", &self.memtable_bytes)
            .field("compression", &self.compression)
            .field("bloom_bits_per_key", &self.bloom_bits_per_key)
            .field("block_cache_bytes", &self.block_cache_bytes)
            .field("compaction_filter", &self.compaction_filter.is_some())
            .finish_non_exhaustive()
    }
}

/// Options for one write.
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// Wait until the write is on stable storage (fsync of the WAL) before returning.
    pub sync: bool,
}

impl WriteOptions {
    pub const SYNC: WriteOptions = WriteOptions { sync: true };
    pub const NO_SYNC: WriteOptions = WriteOptions { sync: false };
}

/// Options for a read or an iterator.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Read as of this sequence number (from [`crate::Snapshot::seqno`]); `None` = latest.
    pub snapshot: Option<SeqNo>,
    /// Iterators: first key that may be returned (inclusive).
    pub lower_bound: Option<Vec<u8>>,
    /// Iterators: keys >= this are not returned (exclusive).
    pub upper_bound: Option<Vec<u8>>,
    /// Iterators: the caller only wants keys that equal this once their last
    /// `Options::bloom_strip_suffix_bytes` bytes are removed, so tables whose bloom filter
    /// rules it out are skipped. Keys outside it may still be returned (bound the iterator
    /// to be sure); with `bloom_strip_suffix_bytes` = 0 it has no effect.
    pub prefix: Option<Vec<u8>>,
}
