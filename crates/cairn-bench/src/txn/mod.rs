//! `cairn bench txn`: YCSB workloads A, B, C and F run as transactions, on Cairn's embedded
//! transactional database and, behind the cargo feature `rocksdb`, RocksDB's
//! `OptimisticTransactionDB`, side by side in one process.
//!
//! **Data**: `--records` keys (16 ASCII digits, as in `cairn bench engine`) with
//! `--value-size`-byte values (default 100), loaded untimed in transactions of 1,000 rows.
//! **Key choice**: YCSB's scrambled zipfian (constant 0.99): a zipfian rank is hashed onto the
//! key space so that the popular keys are spread out rather than adjacent.
//! **Workloads** (YCSB's core mixes; each operation is one transaction, see `backend`):
//! A = 50% read / 50% update; B = 95% read / 5% update; C = 100% read; F = 50% read / 50%
//! read-modify-write.
//! **Runs**: for each engine, load once, then each workload at each thread count, in order;
//! `--ops` operations per (workload, threads), split across the threads.
//! **Measures**: throughput over the whole run, latency per operation including its retries
//! (HDR histogram, ns, reported in µs), and `abort_rate` = aborted attempts / operations.
//! A conflicting operation is retried until it commits.
//! **Check**: every read must find its key with a value of the loaded length, or the run
//! stops with `WrongResult`.

mod backend;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::engine::kv_gen::{self, SplitMix64, ValueGen, KEY_BYTES};
use crate::error::{BenchError, Result};
pub use backend::{open, Outcome, TxnEngine};

/// One YCSB mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    A,
    B,
    C,
    F,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::A => "A",
            Workload::B => "B",
            Workload::C => "C",
            Workload::F => "F",
        }
    }

    /// Percent of operations that read (the rest update, or read-modify-write for F).
    fn read_percent(self) -> u64 {
        match self {
            Workload::A | Workload::F => 50,
            Workload::B => 95,
            Workload::C => 100,
        }
    }
}

impl std::str::FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "A" => Ok(Workload::A),
            "B" => Ok(Workload::B),
            "C" => Ok(Workload::C),
            "F" => Ok(Workload::F),
            _ => Err(format!("unknown YCSB workload {s:?} (known: A, B, C, F)")),
        }
    }
}

/// Settings of one `cairn bench txn` run.
#[derive(Debug, Clone)]
pub struct TxnBenchConfig {
    pub engines: Vec<String>,
    pub workloads: Vec<Workload>,
    pub threads: Vec<usize>,
    pub records: u64,
    pub ops: u64,
    pub value_bytes: usize,
    pub cache_bytes: u64,
    /// fsync the WAL at each commit (both engines).
    pub sync: bool,
    pub db_dir: Option<PathBuf>,
    pub seed: u64,
}

impl TxnBenchConfig {
    pub fn validate(&self) -> Result<()> {
        if self.records == 0 || self.ops == 0 {
            return Err(BenchError::Config {
                reason: "--records and --ops must be positive",
            });
        }
        if self.threads.is_empty() || self.threads.contains(&0) {
            return Err(BenchError::Config {
                reason: "--threads must list positive counts",
            });
        }
        if self.value_bytes == 0 || self.value_bytes > kv_gen::VALUE_BYTES_MAX {
            return Err(BenchError::Config {
                reason: "--value-size must be between 1 and 1 MiB",
            });
        }
        Ok(())
    }
}

/// Result of one (engine, workload, threads). Field names are an interface (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct TxnReport {
    pub engine: &'static str,
    pub workload: &'static str,
    pub threads: usize,
    pub ops: u64,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub abort_rate: f64,
}

impl TxnReport {
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    pub fn table_header() -> String {
        format!(
            "{:<8} {:<8} {:>3} {:>9} {:>11} {:>9} {:>9} {:>8}",
            "engine", "workload", "thr", "ops", "ops/s", "p50 us", "p99 us", "aborts"
        )
    }

    pub fn table_row(&self) -> String {
        format!(
            "{:<8} {:<8} {:>3} {:>9} {:>11.0} {:>9.1} {:>9.1} {:>8.4}",
            self.engine,
            self.workload,
            self.threads,
            self.ops,
            self.ops_per_sec,
            self.p50_us,
            self.p99_us,
            self.abort_rate
        )
    }
}

/// YCSB's zipfian generator over `0..n` (Gray et al., "Quickly generating billion-record
/// synthetic databases"), with the constant 0.99.
pub struct Zipfian {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    pub const THETA: f64 = 0.99;

    pub fn new(n: u64) -> Zipfian {
        let theta = Self::THETA;
        let zeta = |k: u64| (1..=k).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2.min(n));
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Zipfian {
            n,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zetan,
            eta,
        }
    }

    /// A rank in `0..n`; rank 0 is the most popular.
    pub fn rank(&self, u: f64) -> u64 {
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.n - 1);
        }
        let r = (self.n as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64;
        r.min(self.n - 1)
    }

    /// A key index in `0..n`: the rank scattered over the key space.
    pub fn index(&self, u: f64) -> u64 {
        kv_gen::mix64(self.rank(u)) % self.n
    }
}

fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

fn key_of(index: u64) -> Vec<u8> {
    let mut k = [0u8; KEY_BYTES];
    kv_gen::key_into(index, &mut k);
    k.to_vec()
}

const LOAD_BATCH_ROWS: u64 = 1_000;

fn load(engine: &dyn TxnEngine, config: &TxnBenchConfig, values: &ValueGen) -> Result<()> {
    let mut start = 0;
    while start < config.records {
        let end = (start + LOAD_BATCH_ROWS).min(config.records);
        let rows: Vec<(Vec<u8>, Vec<u8>)> = (start..end)
            .map(|i| {
                let mut v = vec![0u8; config.value_bytes];
                values.value_into(i, 0, &mut v);
                (key_of(i), v)
            })
            .collect();
        engine.load(&rows)?;
        start = end;
    }
    Ok(())
}

fn check_found(
    engine: &'static str,
    workload: Workload,
    len: Option<usize>,
    want: usize,
) -> Result<()> {
    match len {
        Some(l) if l == want => Ok(()),
        other => Err(BenchError::WrongResult {
            engine,
            workload: workload.name(),
            what: "value bytes",
            expected: want as u64,
            actual: other.map_or(0, |l| l as u64),
        }),
    }
}

fn run_one(
    engine: &dyn TxnEngine,
    config: &TxnBenchConfig,
    workload: Workload,
    threads: usize,
    zipf: &Zipfian,
    values: &ValueGen,
    round: u64,
) -> Result<TxnReport> {
    let aborts = AtomicU64::new(0);
    let per_thread = config.ops / threads as u64;
    let started = Instant::now();
    let hists: Vec<Result<Histogram<u64>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let aborts = &aborts;
                s.spawn(move || -> Result<Histogram<u64>> {
                    let mut hist = new_histogram()?;
                    let mut rng = SplitMix64::new(config.seed ^ (round << 32) ^ t as u64);
                    let mut value = vec![0u8; config.value_bytes];
                    for op in 0..per_thread {
                        let index = zipf.index(uniform(&mut rng));
                        let key = key_of(index);
                        let is_read = rng.below(100) < workload.read_percent();
                        if !is_read {
                            values.value_into(index, round * 1_000_000 + op, &mut value);
                        }
                        let t0 = Instant::now();
                        loop {
                            let outcome = if is_read {
                                let (o, len) = engine.read(&key)?;
                                if o == Outcome::Committed {
                                    check_found(engine.name(), workload, len, config.value_bytes)?;
                                }
                                o
                            } else if workload == Workload::F {
                                let (o, len) = engine.read_modify_write(&key, &value)?;
                                if o == Outcome::Committed {
                                    check_found(engine.name(), workload, len, config.value_bytes)?;
                                }
                                o
                            } else {
                                engine.update(&key, &value)?
                            };
                            if outcome == Outcome::Committed {
                                break;
                            }
                            aborts.fetch_add(1, Ordering::Relaxed);
                        }
                        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        hist.saturating_record(ns.max(1));
                    }
                    Ok(hist)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(Err(BenchError::Config {
                    reason: "a benchmark thread panicked",
                }))
            })
            .collect()
    });
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = new_histogram()?;
    for h in hists {
        all.add(h?).map_err(|_| BenchError::Config {
            reason: "histogram merge",
        })?;
    }
    let ops = per_thread * threads as u64;
    Ok(TxnReport {
        engine: engine.name(),
        workload: workload.name(),
        threads,
        ops,
        ops_per_sec: ops as f64 / elapsed.max(1e-9),
        p50_us: all.value_at_quantile(0.5) as f64 / 1000.0,
        p99_us: all.value_at_quantile(0.99) as f64 / 1000.0,
        abort_rate: aborts.load(Ordering::Relaxed) as f64 / ops.max(1) as f64,
    })
}

/// Latencies from 1 ns to 60 s at 3 significant digits.
fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|_| BenchError::Config {
        reason: "histogram bounds",
    })
}

fn prepare_dir(base: &Path, engine: &str) -> Result<PathBuf> {
    let dir = base.join(format!("txn-{engine}"));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|source| BenchError::Dir {
            path: dir.clone(),
            source,
        })?;
    }
    Ok(dir)
}

/// Runs the whole benchmark, calling `on_report` after each (engine, workload, threads).
pub fn run(config: &TxnBenchConfig, on_report: &mut dyn FnMut(&TxnReport)) -> Result<()> {
    config.validate()?;
    let tmp;
    let base: &Path = match &config.db_dir {
        Some(d) => d,
        None => {
            tmp = tempfile::tempdir().map_err(|source| BenchError::Dir {
                path: std::env::temp_dir(),
                source,
            })?;
            tmp.path()
        }
    };
    let zipf = Zipfian::new(config.records);
    let values = ValueGen::new(config.value_bytes, config.seed);
    for name in &config.engines {
        let dir = prepare_dir(base, name)?;
        let engine = backend::open(name, &dir, config)?;
        load(engine.as_ref(), config, &values)?;
        let mut round = 1;
        for &w in &config.workloads {
            for &threads in &config.threads {
                let report = run_one(engine.as_ref(), config, w, threads, &zipf, &values, round)?;
                on_report(&report);
                round += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipfian_prefers_low_ranks_and_stays_in_range() {
        let z = Zipfian::new(1000);
        let mut rng = SplitMix64::new(7);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            let r = z.rank(uniform(&mut rng));
            counts[r as usize] += 1;
            assert!(z.index(uniform(&mut rng)) < 1000);
        }
        assert!(counts[0] > counts[10] && counts[10] > counts[500]);
        // With theta 0.99 over 1000 items, rank 0 takes roughly 1/zeta(1000) ~ 13%.
        assert!((8_000..20_000).contains(&counts[0]), "{}", counts[0]);
    }

    #[test]
    fn tiny_run_of_every_workload_on_cairn() {
        let dir = tempfile::tempdir().unwrap();
        let config = TxnBenchConfig {
            engines: vec!["cairn".into()],
            workloads: vec![Workload::A, Workload::B, Workload::C, Workload::F],
            threads: vec![1, 2],
            records: 2_000,
            ops: 400,
            value_bytes: 100,
            cache_bytes: 8 << 20,
            sync: false,
            db_dir: Some(dir.path().to_path_buf()),
            seed: 1,
        };
        let mut reports = Vec::new();
        run(&config, &mut |r| reports.push(r.clone())).unwrap();
        assert_eq!(reports.len(), 8);
        for r in &reports {
            assert_eq!(r.ops, 400);
            assert!(r.ops_per_sec > 0.0);
            assert!(r.p99_us >= r.p50_us);
        }
    }
}
