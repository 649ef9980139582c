//! The engines `cairn bench txn` drives: Cairn's embedded transactional `Db` and, behind the
//! cargo feature `rocksdb`, RocksDB's `OptimisticTransactionDB`.
//!
//! Equal work per operation: every YCSB operation is one transaction on both engines.
//! - read: begin, get, commit (Cairn: a SERIALIZABLE transaction that reads one key, whose
//!   commit is free; RocksDB: an optimistic transaction's `get`, then the transaction is
//!   dropped, because its `commit` would write and fsync an empty batch);
//! - update: begin, put (a blind write), commit;
//! - read-modify-write: begin, get that joins the read set (Cairn: every SERIALIZABLE read
//!   does; RocksDB: `get_for_update`), put, commit with validation.
//!
//! Both take a snapshot at begin (RocksDB: `set_snapshot(true)`) and validate writes against
//! it, and both fsync the WAL at each commit when `sync` is set (the default, Cairn's default
//! durability).

use std::path::Path;

use super::TxnBenchConfig;
use crate::error::{BenchError, Result};

/// How one transaction attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Committed,
    /// A conflict aborted the attempt; the caller retries.
    Aborted,
}

/// One engine under test. Implementations are shared by the worker threads.
pub trait TxnEngine: Send + Sync {
    fn name(&self) -> &'static str;
    /// Writes `rows` in one transaction (the untimed load phase).
    fn load(&self, rows: &[(Vec<u8>, Vec<u8>)]) -> Result<()>;
    /// Reads `key` in a transaction; `Ok((outcome, value length))`.
    fn read(&self, key: &[u8]) -> Result<(Outcome, Option<usize>)>;
    fn update(&self, key: &[u8], value: &[u8]) -> Result<Outcome>;
    /// Reads `key` and writes `value` to it; the returned length is the value read.
    fn read_modify_write(&self, key: &[u8], value: &[u8]) -> Result<(Outcome, Option<usize>)>;
}

pub fn open(name: &str, dir: &Path, config: &TxnBenchConfig) -> Result<Box<dyn TxnEngine>> {
    match name {
        "cairn" => Ok(Box::new(CairnTxn::open(dir, config)?)),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Ok(Box::new(rocks::RocksTxn::open(dir, config)?)),
        #[cfg(not(feature = "rocksdb"))]
        "rocksdb" => Err(BenchError::EngineNotBuilt { engine: "rocksdb" }),
        _ => Err(BenchError::Config {
            reason: "unknown engine (known: cairn, rocksdb)",
        }),
    }
}

const CAIRN: &str = "cairn";

pub struct CairnTxn {
    db: cairn_mvcc::Db,
}

impl CairnTxn {
    pub fn open(dir: &Path, config: &TxnBenchConfig) -> Result<CairnTxn> {
        let mut opts = cairn_mvcc::DbOptions {
            sync_commits: config.sync,
            ..cairn_mvcc::DbOptions::default()
        };
        opts.engine.block_cache_bytes = config.cache_bytes;
        let db = cairn_mvcc::Db::open(dir, opts)
            .map_err(|e| BenchError::engine(CAIRN, "open database", e))?;
        Ok(CairnTxn { db })
    }

    fn begin(&self) -> Result<cairn_mvcc::Transaction> {
        self.db
            .begin(cairn_mvcc::IsolationLevel::Serializable)
            .map_err(|e| BenchError::engine(CAIRN, "begin", e))
    }
}

/// Maps a Cairn result: retryable errors are aborts, anything else fails the run.
fn cairn_outcome<T>(r: cairn_mvcc::Result<T>, action: &'static str) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_retryable() => Ok(None),
        Err(e) => Err(BenchError::engine(CAIRN, action, e)),
    }
}

impl TxnEngine for CairnTxn {
    fn name(&self) -> &'static str {
        CAIRN
    }

    fn load(&self, rows: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
        let mut t = self.begin()?;
        for (k, v) in rows {
            t.put(k, v)
                .map_err(|e| BenchError::engine(CAIRN, "load put", e))?;
        }
        t.commit()
            .map_err(|e| BenchError::engine(CAIRN, "load commit", e))?;
        Ok(())
    }

    fn read(&self, key: &[u8]) -> Result<(Outcome, Option<usize>)> {
        let mut t = self.begin()?;
        let Some(v) = cairn_outcome(t.get(key), "get")? else {
            return Ok((Outcome::Aborted, None));
        };
        match cairn_outcome(t.commit(), "commit")? {
            Some(_) => Ok((Outcome::Committed, v.map(|v| v.len()))),
            None => Ok((Outcome::Aborted, None)),
        }
    }

    fn update(&self, key: &[u8], value: &[u8]) -> Result<Outcome> {
        let mut t = self.begin()?;
        if cairn_outcome(t.put(key, value), "put")?.is_none() {
            return Ok(Outcome::Aborted);
        }
        Ok(match cairn_outcome(t.commit(), "commit")? {
            Some(_) => Outcome::Committed,
            None => Outcome::Aborted,
        })
    }

    fn read_modify_write(&self, key: &[u8], value: &[u8]) -> Result<(Outcome, Option<usize>)> {
        let mut t = self.begin()?;
        let Some(old) = cairn_outcome(t.get(key), "get")? else {
            return Ok((Outcome::Aborted, None));
        };
        if cairn_outcome(t.put(key, value), "put")?.is_none() {
            return Ok((Outcome::Aborted, None));
        }
        match cairn_outcome(t.commit(), "commit")? {
            Some(_) => Ok((Outcome::Committed, old.map(|v| v.len()))),
            None => Ok((Outcome::Aborted, None)),
        }
    }
}

#[cfg(feature = "rocksdb")]
mod rocks {
    use std::path::Path;

    use rocksdb::{
        BlockBasedOptions, Cache, DBCompressionType, ErrorKind, OptimisticTransactionDB,
        OptimisticTransactionOptions, Options, WriteOptions,
    };

    use super::{Outcome, TxnEngine};
    use crate::error::{BenchError, Result};
    use crate::txn::TxnBenchConfig;

    const NAME: &str = "rocksdb";

    /// RocksDB defaults except LZ4, a 10 bits/key bloom filter and the block cache size, as
    /// in `cairn bench engine`.
    pub struct RocksTxn {
        db: OptimisticTransactionDB,
        write: WriteOptions,
        txn_opts: OptimisticTransactionOptions,
    }

    impl RocksTxn {
        pub fn open(dir: &Path, config: &TxnBenchConfig) -> Result<RocksTxn> {
            let cache_bytes =
                usize::try_from(config.cache_bytes).map_err(|_| BenchError::Config {
                    reason: "block cache larger than the address space",
                })?;
            let mut table = BlockBasedOptions::default();
            table.set_bloom_filter(10.0, false);
            table.set_block_cache(&Cache::new_lru_cache(cache_bytes));
            let mut options = Options::default();
            options.create_if_missing(true);
            options.set_compression_type(DBCompressionType::Lz4);
            options.set_block_based_table_factory(&table);
            let db = OptimisticTransactionDB::open(&options, dir)
                .map_err(|e| BenchError::engine(NAME, "open database", e))?;
            let mut write = WriteOptions::default();
            write.set_sync(config.sync);
            let mut txn_opts = OptimisticTransactionOptions::new();
            txn_opts.set_snapshot(true);
            Ok(RocksTxn {
                db,
                write,
                txn_opts,
            })
        }
    }

    fn outcome<T>(r: Result<T, rocksdb::Error>, action: &'static str) -> Result<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if matches!(e.kind(), ErrorKind::Busy | ErrorKind::TryAgain) => Ok(None),
            Err(e) => Err(BenchError::engine(NAME, action, e)),
        }
    }

    impl TxnEngine for RocksTxn {
        fn name(&self) -> &'static str {
            NAME
        }

        fn load(&self, rows: &[(Vec<u8>, Vec<u8>)]) -> Result<()> {
            let t = self.db.transaction_opt(&self.write, &self.txn_opts);
            for (k, v) in rows {
                t.put(k, v)
                    .map_err(|e| BenchError::engine(NAME, "load put", e))?;
            }
            t.commit()
                .map_err(|e| BenchError::engine(NAME, "load commit", e))
        }

        /// A read-only transaction ends without `commit`: RocksDB would write (and fsync) an
        /// empty batch for it, which Cairn's free read-only commit does not do either.
        fn read(&self, key: &[u8]) -> Result<(Outcome, Option<usize>)> {
            let t = self.db.transaction_opt(&self.write, &self.txn_opts);
            let Some(v) = outcome(t.get_pinned(key).map(|v| v.map(|s| s.len())), "get")? else {
                return Ok((Outcome::Aborted, None));
            };
            drop(t);
            Ok((Outcome::Committed, v))
        }

        fn update(&self, key: &[u8], value: &[u8]) -> Result<Outcome> {
            let t = self.db.transaction_opt(&self.write, &self.txn_opts);
            if outcome(t.put(key, value), "put")?.is_none() {
                return Ok(Outcome::Aborted);
            }
            Ok(match outcome(t.commit(), "commit")? {
                Some(()) => Outcome::Committed,
                None => Outcome::Aborted,
            })
        }

        fn read_modify_write(&self, key: &[u8], value: &[u8]) -> Result<(Outcome, Option<usize>)> {
            let t = self.db.transaction_opt(&self.write, &self.txn_opts);
            let Some(old) = outcome(
                t.get_pinned_for_update(key, true)
                    .map(|v| v.map(|s| s.len())),
                "get_for_update",
            )?
            else {
                return Ok((Outcome::Aborted, None));
            };
            if outcome(t.put(key, value), "put")?.is_none() {
                return Ok((Outcome::Aborted, None));
            }
            match outcome(t.commit(), "commit")? {
                Some(()) => Ok((Outcome::Committed, old)),
                None => Ok((Outcome::Aborted, None)),
            }
        }
    }
}
