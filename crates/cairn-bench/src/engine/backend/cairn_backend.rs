//! The `cairn` backend: Cairn's own LSM engine, `cairn_lsm::Db`, with default options except
//! the block cache size.
//!
//! Write amplification comes from the engine's own counters (`flush_bytes_written +
//! compaction_bytes_written`), live bytes from `live_sst_bytes`.

use std::path::Path;

use cairn_lsm::{Db, Options, ReadOptions, WriteOptions};

use super::{BenchEngine, EngineConfig};
use crate::error::{BenchError, Result};

const NAME: &str = "cairn";

pub struct CairnBenchEngine {
    db: Db,
}

impl CairnBenchEngine {
    pub fn open(dir: &Path, config: &EngineConfig) -> Result<CairnBenchEngine> {
        let options = Options {
            block_cache_bytes: config.cache_bytes,
            ..Options::default()
        };
        let db =
            Db::open(dir, options).map_err(|e| BenchError::engine(NAME, "open database", e))?;
        Ok(CairnBenchEngine { db })
    }
}

impl BenchEngine for CairnBenchEngine {
    fn name(&self) -> &'static str {
        NAME
    }

    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        self.db
            .put(key, value, &WriteOptions { sync })
            .map_err(|e| BenchError::engine(NAME, "put", e))
    }

    fn get(&self, key: &[u8]) -> Result<Option<usize>> {
        let value = self
            .db
            .get(key, &ReadOptions::default())
            .map_err(|e| BenchError::engine(NAME, "get", e))?;
        Ok(value.map(|v| v.len()))
    }

    fn seek_scan(&self, key: &[u8], entry_count_max: usize) -> Result<usize> {
        let iter_err = |e| BenchError::engine(NAME, "iterate", e);
        let mut iter = self.db.iter(ReadOptions::default()).map_err(iter_err)?;
        iter.seek(key).map_err(iter_err)?;
        let mut entry_count = 0;
        let mut touched_bytes = 0usize;
        while entry_count < entry_count_max && iter.valid() {
            touched_bytes += iter.key().len() + iter.value().len();
            entry_count += 1;
            iter.next().map_err(iter_err)?;
        }
        std::hint::black_box(touched_bytes);
        Ok(entry_count)
    }

    fn settle(&self) -> Result<()> {
        self.db
            .flush()
            .map_err(|e| BenchError::engine(NAME, "flush", e))?;
        self.db
            .wait_for_compactions()
            .map_err(|e| BenchError::engine(NAME, "wait for compactions", e))
    }

    fn table_bytes_written(&self) -> Result<Option<u64>> {
        let stats = self.db.stats();
        Ok(Some(
            stats.flush_bytes_written + stats.compaction_bytes_written,
        ))
    }

    fn live_table_bytes(&self) -> Result<u64> {
        Ok(self.db.stats().live_sst_bytes)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db
            .close()
            .map_err(|e| BenchError::engine(NAME, "close database", e))
    }
}
