//! The block cache: decompressed data blocks shared by every table of an engine.
//!
//! Role: [`super::Table`] looks a data block up here before reading it from disk and inserts
//! what it read. A hit hands out an `Arc` to the cached block: no copy, no decompression.
//!
//! Keys are `(file_number, block offset)`. File numbers are unique within one database and
//! never reused, so a cache must not be shared by two databases (their numbers collide).
//! Entries are weighted by their decoded bytes plus [`ENTRY_OVERHEAD_BYTES`], so
//! `capacity_bytes` bounds memory, not a block count. Eviction is quick_cache's CLOCK-Pro
//! variant, which resists one-off scans better than LRU.
//!
//! Invariants:
//! 1. `used_bytes() <= capacity_bytes()` once inserts settle (quick_cache's weight bound;
//!    test `cache_stays_within_capacity`).
//! 2. A cached block was checksum-verified and decoded before insertion (only
//!    [`super::table`] inserts, after `Block::new`).
//!
//! Concurrency: `Send + Sync`; quick_cache shards the map and locks one shard per call. The
//! hit and miss counters are relaxed atomics (statistics only).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::block::Block;

/// Weight added to each entry for the map slot, `Arc` header and `Block` fields.
const ENTRY_OVERHEAD_BYTES: u64 = 96;

/// Typical decoded block size, used only to pre-size the map.
const TYPICAL_BLOCK_BYTES: u64 = 4096;

#[derive(Debug, Clone, Copy, Default)]
struct BlockWeighter;

impl quick_cache::Weighter<(u64, u64), Arc<Block>> for BlockWeighter {
    fn weight(&self, _key: &(u64, u64), block: &Arc<Block>) -> u64 {
        block.size_bytes() as u64 + ENTRY_OVERHEAD_BYTES
    }
}

/// Sharded cache of decompressed data blocks keyed by (file_number, block offset).
pub struct BlockCache {
    cache: quick_cache::sync::Cache<(u64, u64), Arc<Block>, BlockWeighter>,
    capacity_bytes: u64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl std::fmt::Debug for BlockCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockCache")
            .field("capacity_bytes", &self.capacity_bytes)
            .field("used_bytes", &self.used_bytes())
            .field("hits", &self.hits())
            .field("misses", &self.misses())
            .finish()
    }
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` of blocks.
    pub fn new(capacity_bytes: u64) -> Arc<BlockCache> {
        let items = usize::try_from(capacity_bytes / TYPICAL_BLOCK_BYTES)
            .unwrap_or(usize::MAX)
            .max(16);
        Arc::new(BlockCache {
            cache: quick_cache::sync::Cache::with_weighter(items, capacity_bytes, BlockWeighter),
            capacity_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    pub(crate) fn get(&self, file_number: u64, offset: u64) -> Option<Arc<Block>> {
        let found = self.cache.get(&(file_number, offset));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub(crate) fn insert(&self, file_number: u64, offset: u64, block: Arc<Block>) {
        self.cache.insert((file_number, offset), block);
    }

    /// Lookups that found their block.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    pub fn capacity_bytes(&self) -> u64 {
        self.capacity_bytes
    }

    /// Weight of the blocks currently cached.
    pub fn used_bytes(&self) -> u64 {
        self.cache.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(value_bytes: usize) -> Arc<Block> {
        let mut b = super::super::block::BlockBuilder::new(16);
        let key = crate::ikey::encode(b"k", 1, crate::ikey::ValueKind::Put);
        b.add(&key, &vec![0; value_bytes]);
        Arc::new(Block::new(b.finish().to_vec(), 0, false).expect("valid block"))
    }

    #[test]
    fn hits_and_misses_are_counted() {
        let c = BlockCache::new(1 << 20);
        assert!(c.get(1, 0).is_none());
        c.insert(1, 0, block(0));
        assert!(c.get(1, 0).is_some());
        assert!(c.get(2, 0).is_none());
        assert_eq!((c.hits(), c.misses()), (1, 2));
    }

    #[test]
    fn cache_stays_within_capacity() {
        let c = BlockCache::new(64 << 10);
        for i in 0..1000 {
            c.insert(1, i, block(1000));
        }
        assert!(
            c.used_bytes() <= c.capacity_bytes(),
            "{} > {}",
            c.used_bytes(),
            c.capacity_bytes()
        );
        assert!(c.used_bytes() > 0);
    }

    #[test]
    fn zero_capacity_cache_holds_nothing() {
        let c = BlockCache::new(0);
        c.insert(1, 0, block(10));
        assert_eq!(c.used_bytes(), 0);
        assert!(c.get(1, 0).is_none());
    }
}
