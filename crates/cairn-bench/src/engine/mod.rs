//! `cairn bench engine`: db_bench-style workloads against Cairn's LSM engine and, behind
//! cargo features, RocksDB and fjall.
//!
//! **What**: runs a list of [`Workload`]s on each engine and reports throughput, latency
//! percentiles, write and space amplification, and peak RSS per workload.
//! **Role**: the `cairn` binary parses flags into an [`EngineBenchConfig`] and calls [`run`];
//! `runner` drives the engines through [`BenchEngine`]; `kv_gen` makes the data.
//!
//! # Data
//! Keys are 16 ASCII digits (the key index, zero-padded decimal), values `--value-size`
//! bytes (default 100), half random and half one repeated byte so they compress to about
//! half. See [`kv_gen`] for the exact bytes; a seed always means the same data.
//!
//! # Database lifetime rules
//! Each engine gets one database directory, `DIR/<engine>` (`DIR` = `--db`, else a temporary
//! directory removed at exit; an existing `DIR/<engine>` is deleted first). Within one
//! invocation the workloads run in the order given, on that one database:
//! - `fillseq` and `fillrandom` first empty the database, then write keys `0..num` once
//!   each: `fillseq` in key order, `fillrandom` in a seeded random order (a permutation, not
//!   db_bench's draws with replacement, so both fills leave the same data and every later
//!   read has a known answer). Afterwards the database holds exactly `num` keys.
//! - `overwrite` writes `num` keys drawn uniformly with replacement from the keys present.
//! - `fillsync` writes `min(num, 20_000)` keys in random order, each with `sync = true`, in a
//!   scratch database `DIR/<engine>-fillsync` of its own, so it never changes what the other
//!   workloads see. With `--threads N` the writes are split across the threads: this measures
//!   group commit.
//! - `readrandom` gets `num` keys drawn uniformly from those present; all must be found.
//! - `readmissing` gets `num` absent keys that sort between present keys; none may be found.
//! - `seekrandom` seeks `num` times to a present key and reads the next 100 entries.
//! - A workload that needs data (`overwrite`, reads) on an empty database first loads `num`
//!   keys as `fillseq` does, untimed and unreported.
//!
//! A wrong answer (a present key not found, a value of the wrong length, a scan returning the
//! wrong number of entries) stops the run with [`BenchError::WrongResult`]: figures for wrong
//! work are worse than none.
//!
//! # Threads and timing
//! Each workload's `num` operations are split evenly across `--threads` threads sharing one
//! engine, so `ops_per_sec` is total throughput. Each operation is timed with `Instant`
//! around the engine call alone (making the key and value is outside) and recorded in an
//! HDR histogram in nanoseconds (many operations take under a microsecond, which a
//! microsecond histogram would round to 0); percentiles are reported in microseconds.
//! `ops_per_sec` divides by the wall time of the whole loop, which excludes the settle.
//!
//! # Amplification
//! After each fill (`fillseq`, `fillrandom`, `overwrite`, `fillsync`) the engine settles:
//! flush, then wait until no flush or compaction is running or pending. Then
//! - `write_amp` = bytes written to table files by flushes and compactions during the
//!   workload / user bytes written (key + value bytes of its puts). The WAL is not counted.
//! - `space_amp` = live table bytes on disk / (present keys x (key + value bytes)).
//!
//! Table bytes are what reaches the disk, after compression, while user bytes are raw, so
//! with the default half-compressible values a fill's `write_amp` is about 0.6 per time the
//! data is written (RocksDB's own statistics count the same way). Engines that do not count
//! table writes (fjall) report `write_amp` as null.
//! `peak_rss_mb` is the process's VmHWM, so it covers everything this process did so far; for
//! a per-engine figure run one process per engine (as `bench/engine.sh` does).

mod backend;
pub mod kv_gen;
mod report;
mod runner;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use backend::{BenchEngine, EngineConfig, EngineKind, UnknownEngine};
pub use report::{peak_rss_mb, WorkloadReport};
pub use runner::run;

use crate::error::BenchError;

/// Writes of `fillsync`, as in db_bench (fewer if `num` is smaller).
pub const FILLSYNC_WRITE_COUNT: u64 = 20_000;

/// Entries read after each seek of `seekrandom`.
pub const SEEK_NEXT_ENTRIES: usize = 100;

/// Largest `--threads`: every thread owns a histogram and a stack, and two cores gain nothing
/// from thousands of them.
pub const THREADS_MAX: usize = 1024;

/// A db_bench-style workload; see the module doc for what each does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workload {
    FillSeq,
    FillRandom,
    Overwrite,
    FillSync,
    ReadRandom,
    ReadMissing,
    SeekRandom,
}

impl Workload {
    pub const ALL: [Workload; 7] = [
        Workload::FillSeq,
        Workload::FillRandom,
        Workload::Overwrite,
        Workload::FillSync,
        Workload::ReadRandom,
        Workload::ReadMissing,
        Workload::SeekRandom,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::FillSync => "fillsync",
            Workload::ReadRandom => "readrandom",
            Workload::ReadMissing => "readmissing",
            Workload::SeekRandom => "seekrandom",
        }
    }

    /// Whether the workload writes (and so settles and reports amplification).
    pub fn is_write(self) -> bool {
        matches!(
            self,
            Workload::FillSeq | Workload::FillRandom | Workload::Overwrite | Workload::FillSync
        )
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error of parsing a workload name.
#[derive(Debug, thiserror::Error)]
#[error("unknown workload {name:?} (known: fillseq, fillrandom, overwrite, fillsync, readrandom, readmissing, seekrandom)")]
pub struct UnknownWorkload {
    pub name: String,
}

impl FromStr for Workload {
    type Err = UnknownWorkload;

    fn from_str(s: &str) -> Result<Workload, UnknownWorkload> {
        Workload::ALL
            .into_iter()
            .find(|workload| workload.name() == s)
            .ok_or_else(|| UnknownWorkload { name: s.to_owned() })
    }
}

/// Everything one `cairn bench engine` invocation runs.
#[derive(Debug, Clone)]
pub struct EngineBenchConfig {
    pub workloads: Vec<Workload>,
    pub engines: Vec<EngineKind>,
    /// Threads per workload, in `1..=THREADS_MAX`.
    pub threads: usize,
    /// Operations per workload (keys loaded by a fill), at least 1.
    pub num: u64,
    /// Parent of the database directories; `None` = a temporary directory.
    pub db_dir: Option<PathBuf>,
    /// Value size in bytes, in `1..=kv_gen::VALUE_BYTES_MAX`.
    pub value_bytes: usize,
    /// Block cache capacity of each engine in bytes.
    pub cache_bytes: u64,
    pub seed: u64,
}

impl EngineBenchConfig {
    /// Checks the ranges documented on the fields and that every engine is built in, so a
    /// caller can refuse before printing anything (and [`run`] refuses before running).
    pub fn validate(&self) -> Result<(), BenchError> {
        if let Some(kind) = self.engines.iter().find(|kind| !kind.is_built()) {
            return Err(BenchError::EngineNotBuilt {
                engine: kind.name(),
            });
        }
        let reason = if self.workloads.is_empty() {
            "no workloads"
        } else if self.engines.is_empty() {
            "no engines"
        } else if self.threads == 0 {
            "threads must be at least 1"
        } else if self.threads > THREADS_MAX {
            "threads above THREADS_MAX (1024)"
        } else if self.num == 0 {
            "num must be at least 1"
        } else if self.num >= 1_000_000_000_000_000 {
            "num must stay below 10^15 so keys and missing keys fit 16 digits"
        } else if self.value_bytes == 0 {
            "value size must be at least 1"
        } else if self.value_bytes > kv_gen::VALUE_BYTES_MAX {
            "value size above 1 MiB"
        } else {
            return Ok(());
        };
        Err(BenchError::Config { reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_names_round_trip() {
        for workload in Workload::ALL {
            assert_eq!(workload.name().parse::<Workload>().ok(), Some(workload));
        }
        assert!("fillrandomly".parse::<Workload>().is_err());
    }

    #[test]
    fn validate_rejects_zero_threads_and_empty_values() {
        let good = EngineBenchConfig {
            workloads: vec![Workload::FillSeq],
            engines: vec![EngineKind::Cairn],
            threads: 1,
            num: 10,
            db_dir: None,
            value_bytes: 100,
            cache_bytes: 1 << 20,
            seed: 1,
        };
        assert!(good.validate().is_ok());
        assert!(EngineBenchConfig {
            threads: 0,
            ..good.clone()
        }
        .validate()
        .is_err());
        assert!(EngineBenchConfig {
            value_bytes: 0,
            ..good.clone()
        }
        .validate()
        .is_err());
        assert!(EngineBenchConfig {
            num: 0,
            ..good.clone()
        }
        .validate()
        .is_err());
        assert!(EngineBenchConfig {
            workloads: vec![],
            ..good
        }
        .validate()
        .is_err());
    }
}
