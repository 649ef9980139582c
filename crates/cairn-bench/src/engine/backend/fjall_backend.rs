//! The `fjall` backend (cargo feature `fjall`): fjall with its defaults (LZ4, bloom filters,
//! leveled compaction) and a block cache of `--cache-mb`, one keyspace named `bench`.
//!
//! Sync writes: fjall has no per-write sync flag, so a sync put is `insert` followed by
//! `Database::persist(PersistMode::SyncData)`, i.e. an fdatasync of the journal, which is
//! what RocksDB's `sync = true` does. Concurrent persists do not share an fsync the way a
//! group commit would; that cost is fjall's and is what `fillsync --threads N` measures.
//!
//! Write amplification: fjall exposes no count of bytes written to tables, so it is `None`
//! (reported as null). Live bytes are `Keyspace::disk_space` (its table and blob files).
//!
//! Settle: fjall has no public "wait for compactions". We seal the memtable and wait for its
//! flush (`rotate_memtable_and_wait`, public but documented as test-only), then poll until
//! no flush is queued, no compaction runs, and the table count has not changed for
//! [`SETTLE_QUIET_POLLS`] polls in a row. The quiet window covers the gap between a flush
//! finishing and the compaction it triggers starting; it is a heuristic, bounded by
//! [`SETTLE_WAIT_MAX`].

use std::path::Path;
use std::time::{Duration, Instant};

use fjall::{Database, Keyspace, KeyspaceCreateOptions, PersistMode};

use super::{BenchEngine, EngineConfig};
use crate::error::{BenchError, Result};

const NAME: &str = "fjall";

const KEYSPACE_NAME: &str = "bench";

/// Longest a settle may wait for background work before we call the engine stuck.
const SETTLE_WAIT_MAX: Duration = Duration::from_secs(30 * 60);

/// Pause between polls of fjall's background-work counters while settling.
const SETTLE_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Consecutive idle polls (with an unchanged table count) that count as settled.
const SETTLE_QUIET_POLLS: u32 = 6;

pub struct FjallBenchEngine {
    db: Database,
    keyspace: Keyspace,
}

impl FjallBenchEngine {
    pub fn open(dir: &Path, config: &EngineConfig) -> Result<FjallBenchEngine> {
        let db = Database::builder(dir)
            .cache_size(config.cache_bytes)
            .open()
            .map_err(|e| BenchError::engine(NAME, "open database", e))?;
        let keyspace = db
            .keyspace(KEYSPACE_NAME, KeyspaceCreateOptions::default)
            .map_err(|e| BenchError::engine(NAME, "open keyspace", e))?;
        Ok(FjallBenchEngine { db, keyspace })
    }
}

impl BenchEngine for FjallBenchEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        self.keyspace
            .insert(key, value)
            .map_err(|e| BenchError::engine(NAME, "put", e))?;
        if sync {
            self.db
                .persist(PersistMode::SyncData)
                .map_err(|e| BenchError::engine(NAME, "persist journal", e))?;
        }
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let value = self
            .keyspace
            .get(key)
            .map_err(|e| BenchError::engine(NAME, "get", e))?;
        Ok(value.map(|v| v.len()))
    }

    fn seek_scan(&self, key: &[u8], entry_count_max: usize) -> Result<usize> {
        let mut entry_count = 0;
        let mut touched_bytes = 0usize;
        for guard in self.keyspace.range(key..).take(entry_count_max) {
            let (k, v) = guard
                .into_inner()
                .map_err(|e| BenchError::engine(NAME, "iterate", e))?;
            touched_bytes += k.len() + v.len();
            entry_count += 1;
        }
        std::hint::black_box(touched_bytes);
        Ok(entry_count)
    }

    fn settle(&self) -> Result<()> {
        self.keyspace
            .rotate_memtable_and_wait()
            .map_err(|e| BenchError::engine(NAME, "flush", e))?;
        let started = Instant::now();
        let mut quiet_polls = 0;
        let mut table_count = self.keyspace.table_count();
        while quiet_polls < SETTLE_QUIET_POLLS {
            if started.elapsed() > SETTLE_WAIT_MAX {
                return Err(BenchError::SettleTimeout {
                    engine: NAME,
                    waited_secs: SETTLE_WAIT_MAX.as_secs(),
                });
            }
            std::thread::sleep(SETTLE_POLL_INTERVAL);
            let now_table_count = self.keyspace.table_count();
            let idle = self.db.outstanding_flushes() == 0
                && self.db.active_compactions() == 0
                && now_table_count == table_count;
            quiet_polls = if idle { quiet_polls + 1 } else { 0 };
            table_count = now_table_count;
        }
        Ok(())
    }

    fn table_bytes_written(&self) -> Result<Option<u64>> {
        Ok(None)
    }

    fn live_table_bytes(&self) -> Result<u64> {
        Ok(self.keyspace.disk_space())
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db
            .persist(PersistMode::SyncAll)
            .map_err(|e| BenchError::engine(NAME, "persist journal before close", e))?;
        drop(self);
        Ok(())
    }
}
