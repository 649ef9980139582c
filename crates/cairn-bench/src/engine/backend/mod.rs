//! The storage engines the benchmark can drive, behind one trait.
//!
//! **What**: [`BenchEngine`], the few operations db_bench-style workloads need, and
//! [`EngineKind`], which names an engine and opens it. **Role**: the runner opens one engine
//! per database directory and calls it from `--threads` threads at once.
//!
//! Backends: `cairn` (always built), `rocksdb` and `fjall` (cargo features of the same names,
//! off by default because they are slow to build and only this benchmark needs them).
//!
//! **Concurrency**: every method may be called from many threads at once; each backend's
//! database handle is itself thread-safe, so backends hold no locks of their own.
//!
//! **Fairness rules** every backend follows, so that figures compare engines rather than
//! configurations: the write-ahead log is on; a `sync` put returns only once the write is
//! durable; the block cache has the size given by `--cache-mb`; tables are LZ4-compressed
//! with a 10 bits/key bloom filter where the engine lets us choose; everything else is the
//! engine's default.

mod cairn_backend;
#[cfg(feature = "fjall")]
mod fjall_backend;
#[cfg(feature = "rocksdb")]
mod rocksdb_backend;

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::Result;

/// Settings shared by every backend.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Block cache capacity in bytes.
    pub cache_bytes: u64,
}

/// A storage engine as the benchmark sees it.
pub trait BenchEngine: Send + Sync {
    /// Name used in reports (`cairn`, `rocksdb`, `fjall`).
    fn name(&self) -> &'static str;

    /// Writes one key. With `sync`, returns only once the write is durable.
    fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()>;

    /// Reads one key; returns the length of its value, or `None` if absent. A length rather
    /// than the bytes, so backends that can read in place (RocksDB's pinned slices) do not
    /// copy, while the runner can still check that the right value came back.
    fn get(&self, key: &[u8]) -> Result<Option<usize>>;

    /// Positions an iterator at the first key >= `key` and reads up to `entry_count_max`
    /// entries (key and value) from there; returns how many it read.
    fn seek_scan(&self, key: &[u8], entry_count_max: usize) -> Result<usize>;

    /// Flushes the memtable to a table and waits until no flush or compaction is running or
    /// pending, so the amplification figures describe a quiet database.
    fn settle(&self) -> Result<()>;

    /// Bytes written to table files by flushes and compactions since open, or `None` if the
    /// engine does not count them.
    fn table_bytes_written(&self) -> Result<Option<u64>>;

    /// Bytes of the live table files on disk (no WAL, no obsolete files).
    fn live_table_bytes(&self) -> Result<u64>;

    /// Closes the database, reporting errors that a plain drop would swallow.
    fn close(self: Box<Self>) -> Result<()>;
}

/// The engines `--engines` can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Cairn,
    RocksDb,
    Fjall,
}

impl EngineKind {
    pub const ALL: [EngineKind; 3] = [EngineKind::Cairn, EngineKind::RocksDb, EngineKind::Fjall];

    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Cairn => "cairn",
            EngineKind::RocksDb => "rocksdb",
            EngineKind::Fjall => "fjall",
        }
    }

    /// Whether this binary was built with the engine.
    pub fn is_built(self) -> bool {
        match self {
            EngineKind::Cairn => true,
            EngineKind::RocksDb => cfg!(feature = "rocksdb"),
            EngineKind::Fjall => cfg!(feature = "fjall"),
        }
    }

    /// Opens (creating if needed) a database of this engine in `dir`.
    pub fn open(self, dir: &Path, config: &EngineConfig) -> Result<Box<dyn BenchEngine>> {
        match self {
            EngineKind::Cairn => Ok(Box::new(cairn_backend::CairnBenchEngine::open(
                dir, config,
            )?)),
            #[cfg(feature = "rocksdb")]
            EngineKind::RocksDb => Ok(Box::new(rocksdb_backend::RocksDbBenchEngine::open(
                dir, config,
            )?)),
            #[cfg(not(feature = "rocksdb"))]
            EngineKind::RocksDb => Err(crate::error::BenchError::EngineNotBuilt {
                engine: self.name(),
            }),
            #[cfg(feature = "fjall")]
            EngineKind::Fjall => Ok(Box::new(fjall_backend::FjallBenchEngine::open(
                dir, config,
            )?)),
            #[cfg(not(feature = "fjall"))]
            EngineKind::Fjall => Err(crate::error::BenchError::EngineNotBuilt {
                engine: self.name(),
            }),
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of parsing an engine name.
#[derive(Debug, thiserror::Error)]
#[error("unknown engine {name:?} (known: cairn, rocksdb, fjall)")]
pub struct UnknownEngine {
    pub name: String,
}

impl FromStr for EngineKind {
    type Err = UnknownEngine;

    fn from_str(s: &str) -> std::result::Result<EngineKind, UnknownEngine> {
        EngineKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| UnknownEngine { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_round_trip() {
        for kind in EngineKind::ALL {
            assert_eq!(kind.name().parse::<EngineKind>().ok(), Some(kind));
        }
        assert!("leveldb".parse::<EngineKind>().is_err());
    }

    #[test]
    fn engine_not_built_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("create temp dir");
        for kind in EngineKind::ALL.into_iter().filter(|kind| !kind.is_built()) {
            let config = EngineConfig {
                cache_bytes: 1 << 20,
            };
            assert!(
                kind.open(dir.path(), &config).is_err(),
                "{kind} opened without being built"
            );
        }
    }
}
