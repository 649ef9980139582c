//! Runs workloads on engines: database lifetime, threads, timing, amplification.
//!
//! **What**: the loop behind [`run`], following the rules of the parent module's doc.
//! **Role**: called by the `cairn` binary; calls [`BenchEngine`] backends and `kv_gen`.
//!
//! **Invariants**:
//! 1. After a fill, keys `0..present_keys` are exactly the keys in the database, so every
//!    read has a known answer. Checked on each read (`WrongResult`); exercised by
//!    `every_workload_runs_on_the_model_engine`.
//! 2. Each operation is timed around the engine call only.
//!
//! **Concurrency**: one engine at a time; within a workload, `threads` scoped threads share
//! `&dyn BenchEngine` and each owns its histogram, buffers and random stream. The first
//! thread to fail raises a stop flag the others poll once per operation.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::backend::{BenchEngine, EngineConfig};
use super::kv_gen::{
    key_into, missing_key_into, mix64, KeyPermutation, SplitMix64, ValueGen, KEY_BYTES,
};
use super::report::{peak_rss_mb, WorkloadReport};
use super::{EngineBenchConfig, Workload, FILLSYNC_WRITE_COUNT, SEEK_NEXT_ENTRIES};
use crate::error::{BenchError, Result};

/// Largest latency the histograms hold, in nanoseconds (1 hour); longer ones saturate.
const LATENCY_NANOS_MAX: u64 = 3_600_000_000_000;

/// Significant decimal digits the latency histograms keep.
const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Runs every workload of `config` on every engine, calling `on_report` after each one.
pub fn run(config: &EngineBenchConfig, on_report: &mut dyn FnMut(&WorkloadReport)) -> Result<()> {
    config.validate()?;
    // Refuse before running anything, rather than after an hour of the first engine.
    if let Some(kind) = config.engines.iter().find(|kind| !kind.is_built()) {
        return Err(BenchError::EngineNotBuilt {
            engine: kind.name(),
        });
    }
    let temp_dir;
    let base_dir = match &config.db_dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = tempfile::Builder::new()
                .prefix("cairn-bench-")
                .tempdir()
                .map_err(|source| BenchError::Dir {
                    path: std::env::temp_dir(),
                    source,
                })?;
            temp_dir.path().to_path_buf()
        }
    };
    let values = ValueGen::new(config.value_bytes, config.seed);
    let engine_config = EngineConfig {
        cache_bytes: config.cache_bytes,
    };
    for &kind in &config.engines {
        let open = |dir: &Path| kind.open(dir, &engine_config);
        run_engine(kind.name(), &open, &base_dir, config, &values, on_report)?;
    }
    Ok(())
}

/// Opens an engine in an (empty) directory.
type Opener<'a> = &'a dyn Fn(&Path) -> Result<Box<dyn BenchEngine>>;

/// Runs every workload on one engine, which `open` opens by directory.
fn run_engine(
    name: &'static str,
    open: Opener<'_>,
    base_dir: &Path,
    config: &EngineBenchConfig,
    values: &ValueGen,
    on_report: &mut dyn FnMut(&WorkloadReport),
) -> Result<()> {
    let mut engine_run = EngineRun::start(name, open, base_dir, config, values)?;
    for (ordinal, &workload) in config.workloads.iter().enumerate() {
        let report = engine_run.run_workload(workload, ordinal as u64)?;
        on_report(&report);
    }
    engine_run.finish()
}

/// One engine's database across the workloads of an invocation.
struct EngineRun<'a> {
    name: &'static str,
    open: Opener<'a>,
    dir: PathBuf,
    scratch_dir: PathBuf,
    config: &'a EngineBenchConfig,
    values: &'a ValueGen,
    /// Always `Some` between calls; an `Option` so a reset can close it by value.
    engine: Option<Box<dyn BenchEngine>>,
    /// Keys `0..present_keys` are in the database, and no others (invariant 1).
    present_keys: u64,
}

/// What one operation of a phase does.
enum OpPlan {
    /// Put each key of `0..op_count` once, in the given order.
    Fill { order: FillOrder, sync: bool },
    /// Put keys drawn uniformly from `0..present_keys`.
    Overwrite { present_keys: u64 },
    /// Get keys drawn uniformly from `0..present_keys`.
    Get { present_keys: u64 },
    /// Get missing keys from the range of `0..present_keys`.
    GetMissing { present_keys: u64 },
    /// Seek to keys drawn from `0..present_keys` and read `SEEK_NEXT_ENTRIES`.
    SeekScan { present_keys: u64 },
}

enum FillOrder {
    Sequential,
    Permuted(KeyPermutation),
}

impl FillOrder {
    fn at(&self, position: u64) -> u64 {
        match self {
            FillOrder::Sequential => position,
            FillOrder::Permuted(permutation) => permutation.at(position),
        }
    }
}

/// Write round of overwrites: values differ from those of the fill (round 0).
const OVERWRITE_ROUND: u64 = 1;

struct PhaseOutcome {
    elapsed: Duration,
    latency_nanos: Histogram<u64>,
    found: u64,
}

impl<'a> EngineRun<'a> {
    fn start(
        name: &'static str,
        open: Opener<'a>,
        base_dir: &Path,
        config: &'a EngineBenchConfig,
        values: &'a ValueGen,
    ) -> Result<EngineRun<'a>> {
        let dir = base_dir.join(name);
        let scratch_dir = base_dir.join(format!("{name}-fillsync"));
        let engine = open_empty(open, &dir)?;
        Ok(EngineRun {
            name,
            open,
            dir,
            scratch_dir,
            config,
            values,
            engine: Some(engine),
            present_keys: 0,
        })
    }

    fn engine(&self) -> &dyn BenchEngine {
        self.engine
            .as_deref()
            .expect("engine is open between calls")
    }

    /// Closes the database and opens an empty one in its place.
    fn reset(&mut self) -> Result<()> {
        if let Some(engine) = self.engine.take() {
            engine.close()?;
        }
        self.present_keys = 0;
        self.engine = Some(open_empty(self.open, &self.dir)?);
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        match self.engine.take() {
            Some(engine) => engine.close(),
            None => Ok(()),
        }
    }

    /// Loads `num` keys in order, untimed, if the database is empty.
    fn ensure_present_keys(&mut self, ordinal: u64) -> Result<()> {
        if self.present_keys > 0 {
            return Ok(());
        }
        let plan = OpPlan::Fill {
            order: FillOrder::Sequential,
            sync: false,
        };
        self.phase(
            self.engine(),
            Workload::FillSeq,
            &plan,
            self.config.num,
            ordinal,
        )?;
        self.engine().settle()?;
        self.present_keys = self.config.num;
        Ok(())
    }

    fn run_workload(&mut self, workload: Workload, ordinal: u64) -> Result<WorkloadReport> {
        let num = self.config.num;
        let seed = self.config.seed;
        match workload {
            Workload::FillSeq | Workload::FillRandom => {
                self.reset()?;
                let order = if workload == Workload::FillSeq {
                    FillOrder::Sequential
                } else {
                    FillOrder::Permuted(KeyPermutation::new(num, mix64(seed ^ ordinal)))
                };
                let plan = OpPlan::Fill { order, sync: false };
                let report = self.write_phase(self.engine(), workload, &plan, num, num, ordinal)?;
                self.present_keys = num;
                Ok(report)
            }
            Workload::Overwrite => {
                self.ensure_present_keys(ordinal)?;
                let plan = OpPlan::Overwrite {
                    present_keys: self.present_keys,
                };
                self.write_phase(
                    self.engine(),
                    workload,
                    &plan,
                    num,
                    self.present_keys,
                    ordinal,
                )
            }
            Workload::FillSync => {
                let write_count = num.min(FILLSYNC_WRITE_COUNT);
                let scratch = open_empty(self.open, &self.scratch_dir)?;
                let order =
                    FillOrder::Permuted(KeyPermutation::new(write_count, mix64(seed ^ ordinal)));
                let plan = OpPlan::Fill { order, sync: true };
                let report = self.write_phase(
                    scratch.as_ref(),
                    workload,
                    &plan,
                    write_count,
                    write_count,
                    ordinal,
                );
                scratch.close()?;
                remove_dir_if_present(&self.scratch_dir)?;
                report
            }
            Workload::ReadRandom | Workload::ReadMissing | Workload::SeekRandom => {
                self.ensure_present_keys(ordinal)?;
                let present_keys = self.present_keys;
                let plan = match workload {
                    Workload::ReadRandom => OpPlan::Get { present_keys },
                    Workload::ReadMissing => OpPlan::GetMissing { present_keys },
                    _ => OpPlan::SeekScan { present_keys },
                };
                let outcome = self.phase(self.engine(), workload, &plan, num, ordinal)?;
                self.check_read_count(workload, num, outcome.found)?;
                Ok(self.report(workload, num, &outcome, None, None, None))
            }
        }
    }

    /// Whole-phase answer checks (per-operation ones are in `run_thread`).
    fn check_read_count(&self, workload: Workload, op_count: u64, found: u64) -> Result<()> {
        let expected = match workload {
            Workload::ReadRandom => op_count,
            Workload::ReadMissing => 0,
            _ => return Ok(()),
        };
        if found != expected {
            return Err(BenchError::WrongResult {
                engine: self.name,
                workload: workload.name(),
                what: "keys found",
                expected,
                actual: found,
            });
        }
        Ok(())
    }

    /// Runs a write phase on `engine`, settles, and measures amplification; after it the
    /// database holds `present_keys` keys.
    fn write_phase(
        &self,
        engine: &dyn BenchEngine,
        workload: Workload,
        plan: &OpPlan,
        op_count: u64,
        present_keys: u64,
        ordinal: u64,
    ) -> Result<WorkloadReport> {
        let table_bytes_before = engine.table_bytes_written()?;
        let outcome = self.phase(engine, workload, plan, op_count, ordinal)?;
        let settle_started = Instant::now();
        engine.settle()?;
        let settle_secs = settle_started.elapsed().as_secs_f64();
        let table_bytes_after = engine.table_bytes_written()?;

        let entry_bytes = (KEY_BYTES + self.values.value_bytes()) as u64;
        let user_bytes = op_count * entry_bytes;
        let write_amp = match (table_bytes_before, table_bytes_after) {
            (Some(before), Some(after)) => {
                Some(after.saturating_sub(before) as f64 / user_bytes as f64)
            }
            _ => None,
        };
        let live_bytes = engine.live_table_bytes()?;
        let space_amp = live_bytes as f64 / (present_keys * entry_bytes) as f64;
        Ok(self.report(
            workload,
            op_count,
            &outcome,
            write_amp,
            Some(space_amp),
            Some(settle_secs),
        ))
    }

    fn report(
        &self,
        workload: Workload,
        op_count: u64,
        outcome: &PhaseOutcome,
        write_amp: Option<f64>,
        space_amp: Option<f64>,
        settle_secs: Option<f64>,
    ) -> WorkloadReport {
        let micros =
            |quantile: f64| outcome.latency_nanos.value_at_quantile(quantile) as f64 / 1000.0;
        let elapsed_secs = outcome.elapsed.as_secs_f64();
        WorkloadReport {
            engine: self.name,
            workload: workload.name(),
            threads: self.config.threads,
            num: op_count,
            ops_per_sec: op_count as f64 / elapsed_secs.max(f64::MIN_POSITIVE),
            p50_us: micros(0.5),
            p99_us: micros(0.99),
            p999_us: micros(0.999),
            write_amp,
            space_amp,
            peak_rss_mb: peak_rss_mb(),
            elapsed_secs,
            settle_secs,
            found: (!workload.is_write()).then_some(outcome.found),
        }
    }

    /// Runs `op_count` operations of `plan` on `engine`, split across the threads.
    fn phase(
        &self,
        engine: &dyn BenchEngine,
        workload: Workload,
        plan: &OpPlan,
        op_count: u64,
        ordinal: u64,
    ) -> Result<PhaseOutcome> {
        let threads = self.config.threads as u64;
        let stop = AtomicBool::new(false);
        let started = Instant::now();
        let thread_outcomes: Vec<Result<(Histogram<u64>, u64)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|thread| {
                    let positions =
                        (op_count * thread / threads)..(op_count * (thread + 1) / threads);
                    let rng_seed = mix64(self.config.seed ^ mix64(ordinal ^ mix64(thread)));
                    let context = ThreadContext {
                        engine,
                        workload,
                        plan,
                        values: self.values,
                        stop: &stop,
                    };
                    scope.spawn(move || {
                        let outcome = context.run(positions, rng_seed);
                        if outcome.is_err() {
                            context.stop.store(true, Ordering::Relaxed);
                        }
                        outcome
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|handle| {
                    handle
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        });
        let elapsed = started.elapsed();

        let mut latency_nanos = new_latency_histogram();
        let mut found = 0;
        for outcome in thread_outcomes {
            let (histogram, thread_found) = outcome?;
            latency_nanos
                .add(&histogram)
                .expect("histograms share bounds, so adding cannot fail");
            found += thread_found;
        }
        Ok(PhaseOutcome {
            elapsed,
            latency_nanos,
            found,
        })
    }
}

/// What each benchmark thread shares with the others.
#[derive(Clone, Copy)]
struct ThreadContext<'a> {
    engine: &'a dyn BenchEngine,
    workload: Workload,
    plan: &'a OpPlan,
    values: &'a ValueGen,
    stop: &'a AtomicBool,
}

impl ThreadContext<'_> {
    /// Runs the operations at `positions`; returns their latencies and the read count
    /// (keys found, or entries scanned).
    fn run(&self, positions: Range<u64>, rng_seed: u64) -> Result<(Histogram<u64>, u64)> {
        let mut latency_nanos = new_latency_histogram();
        let mut rng = SplitMix64::new(rng_seed);
        let mut key = [0u8; KEY_BYTES];
        let mut value = vec![0u8; self.values.value_bytes()];
        let mut found = 0u64;
        for position in positions {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let elapsed = match *self.plan {
                OpPlan::Fill { ref order, sync } => {
                    let index = order.at(position);
                    key_into(index, &mut key);
                    self.values.value_into(index, 0, &mut value);
                    let started = Instant::now();
                    self.engine.put(&key, &value, sync)?;
                    started.elapsed()
                }
                OpPlan::Overwrite { present_keys } => {
                    let index = rng.below(present_keys);
                    key_into(index, &mut key);
                    self.values.value_into(index, OVERWRITE_ROUND, &mut value);
                    let started = Instant::now();
                    self.engine.put(&key, &value, false)?;
                    started.elapsed()
                }
                OpPlan::Get { present_keys } => {
                    key_into(rng.below(present_keys), &mut key);
                    let started = Instant::now();
                    let value_len = self.engine.get(&key)?;
                    let elapsed = started.elapsed();
                    if let Some(len) = value_len {
                        self.expect(len as u64, self.values.value_bytes() as u64, "value bytes")?;
                        found += 1;
                    }
                    elapsed
                }
                OpPlan::GetMissing { present_keys } => {
                    missing_key_into(rng.below(present_keys.div_ceil(10)), &mut key);
                    let started = Instant::now();
                    let value_len = self.engine.get(&key)?;
                    let elapsed = started.elapsed();
                    found += u64::from(value_len.is_some());
                    elapsed
                }
                OpPlan::SeekScan { present_keys } => {
                    let index = rng.below(present_keys);
                    key_into(index, &mut key);
                    let started = Instant::now();
                    let entry_count = self.engine.seek_scan(&key, SEEK_NEXT_ENTRIES)?;
                    let elapsed = started.elapsed();
                    let expected = (present_keys - index).min(SEEK_NEXT_ENTRIES as u64);
                    self.expect(entry_count as u64, expected, "entries scanned")?;
                    found += entry_count as u64;
                    elapsed
                }
            };
            let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            latency_nanos.saturating_record(nanos.max(1));
        }
        Ok((latency_nanos, found))
    }

    fn expect(&self, actual: u64, expected: u64, what: &'static str) -> Result<()> {
        if actual == expected {
            return Ok(());
        }
        Err(BenchError::WrongResult {
            engine: self.engine.name(),
            workload: self.workload.name(),
            what,
            expected,
            actual,
        })
    }
}

fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_NANOS_MAX, LATENCY_SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// Opens an engine on an empty directory, deleting what `dir` held.
fn open_empty(open: Opener<'_>, dir: &Path) -> Result<Box<dyn BenchEngine>> {
    remove_dir_if_present(dir)?;
    std::fs::create_dir_all(dir).map_err(|source| BenchError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    open(dir)
}

fn remove_dir_if_present(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(BenchError::Dir {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::AtomicU64;
    use std::sync::RwLock;

    use super::*;
    use crate::engine::EngineKind;

    /// A `BTreeMap` engine whose "tables" are the map itself: each settle "writes" the bytes
    /// put since the last one, so write and space amplification are exactly 1 for a fill.
    /// With `drop_every = Some(n)` it loses every n-th put, to show wrong answers are caught.
    #[derive(Default)]
    struct ModelEngine {
        map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
        put_count: AtomicU64,
        unsettled_bytes: AtomicU64,
        settled_bytes: AtomicU64,
        drop_every: Option<u64>,
    }

    impl BenchEngine for ModelEngine {
        fn name(&self) -> &'static str {
            "model"
        }

        fn put(&self, key: &[u8], value: &[u8], _sync: bool) -> Result<()> {
            let put_index = self.put_count.fetch_add(1, Ordering::Relaxed);
            if self.drop_every.is_some_and(|n| put_index % n == n - 1) {
                return Ok(());
            }
            self.unsettled_bytes
                .fetch_add((key.len() + value.len()) as u64, Ordering::Relaxed);
            self.map
                .write()
                .expect("model lock")
                .insert(key.to_vec(), value.to_vec());
            Ok(())
        }

        fn get(&self, key: &[u8]) -> Result<Option<usize>> {
            Ok(self.map.read().expect("model lock").get(key).map(Vec::len))
        }

        fn seek_scan(&self, key: &[u8], entry_count_max: usize) -> Result<usize> {
            let map = self.map.read().expect("model lock");
            Ok(map.range(key.to_vec()..).take(entry_count_max).count())
        }

        fn settle(&self) -> Result<()> {
            let bytes = self.unsettled_bytes.swap(0, Ordering::Relaxed);
            self.settled_bytes.fetch_add(bytes, Ordering::Relaxed);
            Ok(())
        }

        fn table_bytes_written(&self) -> Result<Option<u64>> {
            Ok(Some(self.settled_bytes.load(Ordering::Relaxed)))
        }

        fn live_table_bytes(&self) -> Result<u64> {
            let map = self.map.read().expect("model lock");
            Ok(map.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum())
        }

        fn close(self: Box<Self>) -> Result<()> {
            Ok(())
        }
    }

    fn tiny_config(workloads: Vec<Workload>, threads: usize) -> EngineBenchConfig {
        EngineBenchConfig {
            workloads,
            engines: vec![EngineKind::Cairn],
            threads,
            num: 2_000,
            db_dir: None,
            value_bytes: 100,
            cache_bytes: 8 << 20,
            seed: 42,
        }
    }

    fn run_model(
        config: &EngineBenchConfig,
        drop_every: Option<u64>,
    ) -> Result<Vec<WorkloadReport>> {
        let base = tempfile::tempdir().expect("create temp dir");
        let values = ValueGen::new(config.value_bytes, config.seed);
        let open = |_: &Path| -> Result<Box<dyn BenchEngine>> {
            Ok(Box::new(ModelEngine {
                drop_every,
                ..ModelEngine::default()
            }))
        };
        let mut reports = Vec::new();
        run_engine("model", &open, base.path(), config, &values, &mut |r| {
            reports.push(r.clone())
        })?;
        Ok(reports)
    }

    fn find<'r>(reports: &'r [WorkloadReport], workload: &str) -> &'r WorkloadReport {
        reports
            .iter()
            .find(|r| r.workload == workload)
            .expect("workload reported")
    }

    #[test]
    fn every_workload_runs_on_the_model_engine() {
        let config = tiny_config(Workload::ALL.to_vec(), 3);
        let reports = run_model(&config, None).expect("model run");
        assert_eq!(reports.len(), Workload::ALL.len());
        for report in &reports {
            assert_eq!(report.threads, 3);
            assert!(
                report.ops_per_sec > 0.0,
                "{} has no throughput",
                report.workload
            );
            assert!(report.p50_us <= report.p99_us && report.p99_us <= report.p999_us);
        }
        for fill in ["fillseq", "fillrandom", "fillsync"] {
            let report = find(&reports, fill);
            assert_eq!(report.write_amp, Some(1.0), "{fill} write amp");
            assert_eq!(report.space_amp, Some(1.0), "{fill} space amp");
        }
        // Overwrites replace values of equal size: the live data stays the same size.
        assert_eq!(find(&reports, "overwrite").space_amp, Some(1.0));
        assert_eq!(find(&reports, "fillsync").num, 2_000);
        assert_eq!(find(&reports, "readrandom").found, Some(2_000));
        assert_eq!(find(&reports, "readmissing").found, Some(0));
        assert!(
            find(&reports, "seekrandom").found > Some(2_000 * 50),
            "seeks read few entries"
        );
        assert_eq!(find(&reports, "readrandom").write_amp, None);
    }

    /// The real thing, tiny: every workload through `run` on Cairn's engine, two threads,
    /// so the benchmark cannot rot as the engine's API moves.
    #[test]
    fn every_workload_runs_on_cairn() {
        let dir = tempfile::tempdir().expect("create temp dir");
        let config = EngineBenchConfig {
            db_dir: Some(dir.path().to_path_buf()),
            ..tiny_config(Workload::ALL.to_vec(), 2)
        };
        let mut reports = Vec::new();
        run(&config, &mut |r| reports.push(r.clone())).expect("cairn run");
        assert_eq!(reports.len(), Workload::ALL.len());
        assert!(reports.iter().all(|r| r.engine == "cairn"));
        for fill in ["fillseq", "fillrandom", "overwrite", "fillsync"] {
            let report = find(&reports, fill);
            let write_amp = report.write_amp.expect("cairn counts table writes");
            let space_amp = report.space_amp.expect("fills measure space");
            assert!(write_amp > 0.0, "{fill}: write amp {write_amp}");
            assert!(space_amp > 0.0, "{fill}: space amp {space_amp}");
        }
        assert_eq!(find(&reports, "readrandom").found, Some(2_000));
        assert_eq!(find(&reports, "readmissing").found, Some(0));
        assert!(
            dir.path().join("cairn").is_dir(),
            "--db keeps the database for inspection"
        );
        assert!(
            !dir.path().join("cairn-fillsync").exists(),
            "fillsync scratch left behind"
        );
    }

    /// Peer engines, when built in (`cargo test --release --features rocksdb,fjall` reuses
    /// the release build of RocksDB): every workload, with the same answer checks.
    #[test]
    fn every_workload_runs_on_each_built_peer_engine() {
        let peers: Vec<EngineKind> = EngineKind::ALL
            .into_iter()
            .filter(|kind| *kind != EngineKind::Cairn && kind.is_built())
            .collect();
        if peers.is_empty() {
            return;
        }
        let config = EngineBenchConfig {
            engines: peers.clone(),
            ..tiny_config(Workload::ALL.to_vec(), 2)
        };
        let mut reports = Vec::new();
        run(&config, &mut |r| reports.push(r.clone())).expect("peer run");
        assert_eq!(reports.len(), Workload::ALL.len() * peers.len());
        assert!(reports
            .iter()
            .filter(|r| r.workload == "readrandom")
            .all(|r| r.found == Some(2_000)));
    }

    #[test]
    fn reads_on_an_empty_database_load_keys_first() {
        let config = tiny_config(vec![Workload::ReadRandom], 1);
        let reports = run_model(&config, None).expect("model run");
        assert_eq!(reports.len(), 1, "the untimed load is not reported");
        assert_eq!(reports[0].found, Some(2_000));
    }

    #[test]
    fn lost_writes_are_reported_as_wrong_results() {
        let config = tiny_config(vec![Workload::FillRandom, Workload::ReadRandom], 2);
        let error = run_model(&config, Some(7)).expect_err("lost writes go unnoticed");
        assert!(
            matches!(
                error,
                BenchError::WrongResult {
                    what: "keys found",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn fill_random_and_fill_seq_leave_the_same_keys() {
        // Both fills write each key of 0..num once, so scans after either see all of them.
        for fill in [Workload::FillSeq, Workload::FillRandom] {
            let config = tiny_config(vec![fill, Workload::SeekRandom], 2);
            run_model(&config, None).expect("scans return the expected entry counts");
        }
    }
}
