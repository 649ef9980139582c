//! The `rocksdb` backend (cargo feature `rocksdb`): RocksDB through the `rocksdb` crate.
//!
//! Configuration: RocksDB defaults (leveled compaction, 64 MiB write buffer, 2 background
//! jobs, WAL on) except LZ4 table compression (Cairn's default; RocksDB would pick Snappy),
//! a full 10 bits/key bloom filter and an LRU block cache of `--cache-mb`.
//!
//! Write amplification comes from the statistics tickers `rocksdb.flush.write.bytes` and
//! `rocksdb.compact.write.bytes`; statistics cost a few percent of throughput, which we
//! accept so every engine reports the same figure. Live bytes are the property
//! `rocksdb.live-sst-files-size`.
//!
//! Settle: `flush`, then `wait_for_compact`, then poll until the properties
//! `rocksdb.compaction-pending`, `rocksdb.num-running-compactions`,
//! `rocksdb.num-running-flushes` and `rocksdb.mem-table-flush-pending` are all 0.

use std::path::Path;
use std::time::{Duration, Instant};

use rocksdb::properties::{self, PropName};
use rocksdb::statistics::Ticker;
use rocksdb::{
    BlockBasedOptions, Cache, DBCompressionType, Options, WaitForCompactOptions, WriteOptions, DB,
};

use super::{BenchEngine, EngineConfig};
use crate::error::{BenchError, Result};

const NAME: &str = "rocksdb";

/// Bits per key of the bloom filter, equal to Cairn's default.
const BLOOM_BITS_PER_KEY: f64 = 10.0;

/// Longest a settle may wait for background work before we call the engine stuck.
const SETTLE_WAIT_MAX: Duration = Duration::from_secs(30 * 60);

/// Pause between polls of the background-work properties while settling.
const SETTLE_POLL_INTERVAL: Duration = Duration::from_millis(20);

pub struct RocksDbBenchEngine {
    db: DB,
    /// Kept to read the statistics tickers: the statistics object is shared between the
    /// `Options` and the database opened with it.
    options: Options,
    write_async: WriteOptions,
    write_sync: WriteOptions,
}

impl RocksDbBenchEngine {
    pub fn open(dir: &Path, config: &EngineConfig) -> Result<RocksDbBenchEngine> {
        let cache_bytes = usize::try_from(config.cache_bytes).map_err(|_| BenchError::Config {
            reason: "block cache larger than the address space",
        })?;
        let mut table = BlockBasedOptions::default();
        table.set_bloom_filter(BLOOM_BITS_PER_KEY, false);
        table.set_block_cache(&Cache::new_lru_cache(cache_bytes));

        let mut options = Options::default();
        options.create_if_missing(true);
        options.set_compression_type(DBCompressionType::Lz4);
        options.set_block_based_table_factory(&table);
        options.enable_statistics();

        let db =
            DB::open(&options, dir).map_err(|e| BenchError::engine(NAME, "open database", e))?;
        let mut write_sync = WriteOptions::default();
        write_sync.set_sync(true);
        Ok(RocksDbBenchEngine {
            db,
            options,
            write_async: WriteOptions::default(),
            write_sync,
        })
    }

    fn property(&self, name: &PropName) -> Result<u64> {
        let value = self
            .db
            .property_int_value(name)
            .map_err(|e| BenchError::engine(NAME, "read property", e))?;
        // Every property we read is an integer RocksDB always defines; a missing one would
        // mean the build dropped it, and 0 keeps the benchmark running with a visible figure.
        Ok(value.unwrap_or(0))
    }

    fn background_work_pending(&self) -> Result<bool> {
        for name in [
            properties::COMPACTION_PENDING,
            properties::NUM_RUNNING_COMPACTIONS,
            properties::NUM_RUNNING_FLUSHES,
            properties::MEM_TABLE_FLUSH_PENDING,
        ] {
            if self.property(name)? != 0 {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl BenchEngine for RocksDbBenchEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        let options = if sync {
            &self.write_sync
        } else {
            &self.write_async
        };
        self.db
            .put_opt(key, value, options)
            .map_err(|e| BenchError::engine(NAME, "put", e))
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let value = self
            .db
            .get_pinned(key)
            .map_err(|e| BenchError::engine(NAME, "get", e))?;
        Ok(value.map(|v| v.len()))
    }

    fn seek_scan(&self, key: &[u8], entry_count_max: usize) -> Result<usize> {
        let mut iter = self.db.raw_iterator();
        iter.seek(key);
        let mut entry_count = 0;
        let mut touched_bytes = 0usize;
        while entry_count < entry_count_max {
            let (Some(k), Some(v)) = (iter.key(), iter.value()) else {
                break;
            };
            touched_bytes += k.len() + v.len();
            entry_count += 1;
            iter.next();
        }
        iter.status()
            .map_err(|e| BenchError::engine(NAME, "iterate", e))?;
        std::hint::black_box(touched_bytes);
        Ok(entry_count)
    }

    fn settle(&self) -> Result<()> {
        self.db
            .flush()
            .map_err(|e| BenchError::engine(NAME, "flush", e))?;
        self.db
            .wait_for_compact(&WaitForCompactOptions::default())
            .map_err(|e| BenchError::engine(NAME, "wait for compactions", e))?;
        let started = Instant::now();
        while self.background_work_pending()? {
            if started.elapsed() > SETTLE_WAIT_MAX {
                return Err(BenchError::SettleTimeout {
                    engine: NAME,
                    waited_secs: SETTLE_WAIT_MAX.as_secs(),
                });
            }
            std::thread::sleep(SETTLE_POLL_INTERVAL);
        }
        Ok(())
    }

    fn table_bytes_written(&self) -> Result<Option<u64>> {
        let flushed = self.options.get_ticker_count(Ticker::FlushWriteBytes);
        let compacted = self.options.get_ticker_count(Ticker::CompactWriteBytes);
        Ok(Some(flushed + compacted))
    }

    fn live_table_bytes(&self) -> Result<u64> {
        self.property(properties::LIVE_SST_FILES_SIZE)
    }

    fn close(self: Box<Self>) -> Result<()> {
        // Flushing is not needed for correctness (the WAL is on) but makes the close cost
        // land here rather than in the next open's WAL replay.
        self.db
            .flush()
            .map_err(|e| BenchError::engine(NAME, "flush before close", e))?;
        drop(self);
        Ok(())
    }
}
