//! `cairn bench kv`: puts and linearizable gets against a running replicated key-value
//! service, Cairn's (`cairn.kv.Kv`) or etcd's (`etcdserverpb.KV`), over gRPC.
//!
//! **What**: a closed-loop load generator. `--clients` concurrent client tasks (tokio) each
//! issue one request at a time; every operation's latency (retries included) goes into an HDR
//! histogram. **Role**: `cairn bench kv` calls [`run`]; `bench/kv.sh` runs it against a
//! three-node Cairn cluster and a three-member etcd cluster on loopback, side by side.
//!
//! **Data** (both systems get identical bytes):
//! - key of index `i`, [`KEY_BYTES`] = 16 bytes: `mix64(i)` big-endian, then `i` big-endian.
//!   The hashed half spreads keys evenly over Cairn's ranges, which split the key space on the
//!   first byte; the plain half keeps keys unique. Index 1 is
//!   `5692161d100b05e5 0000000000000001`.
//! - value of `(i, round)`: `--value-size` (default 100) bytes from `engine::kv_gen::ValueGen`
//!   (half seeded random, half one repeated byte).
//! - keys are drawn uniformly from `0..--keys`.
//!
//! **Runs**: for each workload in order, for each client count in order: `put` writes round
//! `r` values (a new round per run); `get` first loads every key of `0..--keys` with round 0
//! (untimed, [`LOAD_CLIENTS`] at a time), then reads. A run ends after `--num` operations (split
//! dynamically among clients: each claims the next operation number), or after `--duration`
//! if given.
//!
//! **Retries**: an attempt that fails in a retryable way (see `client`: no leader, leader
//! changed, node dead, outcome unknown) is repeated on the next host, at once the first time
//! and after [`RETRY_BACKOFF`] after that; an operation still failing after
//! [`OP_RETRY_DEADLINE`] stops the run with [`BenchError::Unavailable`]. Repeating a put whose
//! outcome is unknown is safe because it writes the same bytes.
//!
//! **Measures**: ops/s over the run's wall time; p50/p99/p99.9/max latency; `retries`
//! (attempts beyond the first); `max_gap_ms`, the longest time between two consecutive
//! acknowledgements of any client — the unavailability window when a node is killed under
//! load (in steady state a few milliseconds).
//!
//! **Invariants**:
//! 1. A get returns exactly the loaded value of its key, or the run stops with
//!    [`BenchError::WrongResult`] (`get_checks_every_value`, and the fake-server tests).
//! 2. Keys of distinct indexes differ (`keys_are_distinct_and_spread_over_first_bytes`).
//! 3. Every buffer is bounded: acknowledgement times by [`ACK_TIMES_MAX`] in all; past it the
//!    gap is not reported (`None`) rather than computed from a partial record.
//!
//! **Concurrency**: one tokio multi-thread runtime per [`run`]; client tasks share the
//! connections (HTTP/2 multiplexing) and one atomic operation counter; each owns its
//! histogram and acknowledgement times, merged when all have finished.

mod client;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::engine::kv_gen::{self, SplitMix64, ValueGen};
use crate::error::{BenchError, EngineSource, Result};
pub use client::{etcd, Attempt, Conn, KvApiError};

/// Bytes of every key.
pub const KEY_BYTES: usize = 16;

/// Concurrent writers of the untimed load before a get workload.
pub const LOAD_CLIENTS: usize = 32;

/// Most client tasks of one run.
pub const CLIENTS_MAX: usize = 4096;

/// Most connections per host.
pub const CONNS_MAX: usize = 64;

/// An operation that has not succeeded after this long stops the benchmark.
pub const OP_RETRY_DEADLINE: Duration = Duration::from_secs(30);

/// Pause before the second and later retries of one operation (the first retry goes to the
/// next host at once: the usual cause is a dead or leaderless node there).
pub const RETRY_BACKOFF: Duration = Duration::from_millis(10);

/// Most acknowledgement times kept in one run, over all clients (8 bytes each: 32 MiB).
pub const ACK_TIMES_MAX: usize = 1 << 22;

/// The system under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Cairn,
    Etcd,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Cairn => "cairn",
            Target::Etcd => "etcd",
        }
    }
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "cairn" => Ok(Target::Cairn),
            "etcd" => Ok(Target::Etcd),
            _ => Err(format!("unknown target {s:?} (known: cairn, etcd)")),
        }
    }
}

/// One workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvWorkload {
    /// Put a 100-byte value under a random key.
    Put,
    /// Linearizable get of a random loaded key.
    Get,
}

impl KvWorkload {
    pub fn name(self) -> &'static str {
        match self {
            KvWorkload::Put => "put",
            KvWorkload::Get => "get",
        }
    }
}

impl std::str::FromStr for KvWorkload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "put" => Ok(KvWorkload::Put),
            "get" => Ok(KvWorkload::Get),
            _ => Err(format!("unknown workload {s:?} (known: put, get)")),
        }
    }
}

/// Settings of one `cairn bench kv` invocation.
#[derive(Debug, Clone)]
pub struct KvBenchConfig {
    pub target: Target,
    /// gRPC addresses (`HOST:PORT`) of the cluster's nodes.
    pub hosts: Vec<String>,
    /// Client counts; each workload runs once per count.
    pub clients: Vec<usize>,
    pub workloads: Vec<KvWorkload>,
    /// Operations per run (ignored when `duration` is set).
    pub num: u64,
    /// Run each (workload, clients) for this long instead of `num` operations.
    pub duration: Option<Duration>,
    /// Key space: indexes `0..keys`.
    pub keys: u64,
    pub value_bytes: usize,
    /// Connections per host, shared by the clients.
    pub conns: usize,
    pub seed: u64,
}

impl KvBenchConfig {
    pub fn validate(&self) -> Result<()> {
        let fail = |reason| Err(BenchError::Config { reason });
        if self.hosts.is_empty() {
            return fail("--hosts must name at least one node");
        }
        if self.clients.is_empty() || self.clients.iter().any(|&c| c == 0 || c > CLIENTS_MAX) {
            return fail("--clients must list counts between 1 and 4096");
        }
        if self.workloads.is_empty() {
            return fail("--workload must name put or get");
        }
        if self.duration.is_none() && self.num == 0 {
            return fail("--num must be positive (or give --duration)");
        }
        if self.duration.is_some_and(|d| d.is_zero()) {
            return fail("--duration must be positive");
        }
        if self.keys == 0 {
            return fail("--keys must be positive");
        }
        if self.value_bytes == 0 || self.value_bytes > kv_gen::VALUE_BYTES_MAX {
            return fail("--value-size must be between 1 and 1 MiB");
        }
        if self.conns == 0 || self.conns > CONNS_MAX {
            return fail("--conns must be between 1 and 64");
        }
        Ok(())
    }
}

/// Result of one (target, workload, clients). Field names are an interface (`--json`).
#[derive(Debug, Clone, Serialize)]
pub struct KvReport {
    pub target: &'static str,
    pub workload: &'static str,
    pub clients: usize,
    pub ops: u64,
    /// Attempts beyond the first, over all operations.
    pub retries: u64,
    pub elapsed_secs: f64,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
    /// Longest time between consecutive acknowledgements; `None` when more than
    /// [`ACK_TIMES_MAX`] operations ran.
    pub max_gap_ms: Option<f64>,
}

impl KvReport {
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    pub fn table_header() -> String {
        format!(
            "{:<6} {:<4} {:>4} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>8}",
            "target",
            "op",
            "cli",
            "ops",
            "ops/s",
            "p50 us",
            "p99 us",
            "p99.9 us",
            "max us",
            "retries",
            "gap ms"
        )
    }

    pub fn table_row(&self) -> String {
        format!(
            "{:<6} {:<4} {:>4} {:>9} {:>10.0} {:>9.0} {:>9.0} {:>9.0} {:>9.0} {:>8} {:>8}",
            self.target,
            self.workload,
            self.clients,
            self.ops,
            self.ops_per_sec,
            self.p50_us,
            self.p99_us,
            self.p999_us,
            self.max_us,
            self.retries,
            self.max_gap_ms
                .map_or_else(|| "-".to_owned(), |g| format!("{g:.1}")),
        )
    }
}

/// The key of index `index` (see the module doc).
pub fn key_of(index: u64) -> [u8; KEY_BYTES] {
    let mut k = [0u8; KEY_BYTES];
    let (hashed, plain) = k.split_at_mut(8);
    hashed.copy_from_slice(&kv_gen::mix64(index).to_be_bytes());
    plain.copy_from_slice(&index.to_be_bytes());
    k
}

/// Runs the whole benchmark, calling `on_report` after each (workload, clients).
pub fn run(config: &KvBenchConfig, on_report: &mut dyn FnMut(&KvReport)) -> Result<()> {
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| BenchError::Runtime { source })?;
    runtime.block_on(run_async(config, on_report))
}

/// [`run`] on the caller's tokio runtime (which must be multi-threaded or the clients share
/// one thread).
pub async fn run_async(config: &KvBenchConfig, on_report: &mut dyn FnMut(&KvReport)) -> Result<()> {
    config.validate()?;
    let pool = connect(config).await?;
    let values = Arc::new(ValueGen::new(config.value_bytes, config.seed));
    let mut round = 1;
    for &workload in &config.workloads {
        if workload == KvWorkload::Get {
            load(config, &pool, &values).await?;
        }
        for &clients in &config.clients {
            let report = run_one(config, &pool, &values, workload, clients, round).await?;
            on_report(&report);
            round += 1;
        }
    }
    Ok(())
}

/// `pool[host][conn]`.
type Pool = Vec<Vec<Conn>>;

async fn connect(config: &KvBenchConfig) -> Result<Pool> {
    let mut pool = Vec::with_capacity(config.hosts.len());
    for host in &config.hosts {
        let mut conns = Vec::with_capacity(config.conns);
        for _ in 0..config.conns {
            let conn =
                Conn::connect(config.target, host)
                    .await
                    .map_err(|source| BenchError::Connect {
                        target: config.target.name(),
                        host: host.clone(),
                        source,
                    })?;
            conns.push(conn);
        }
        pool.push(conns);
    }
    Ok(pool)
}

/// The connections client `client` uses, one per host, starting with its own host.
fn conns_of(pool: &Pool, client: usize) -> Vec<Conn> {
    let hosts = pool.len().max(1);
    let n = pool.len();
    (0..n)
        .filter_map(|i| {
            let per_host = pool.get((client + i) % hosts)?;
            per_host
                .get((client / hosts) % per_host.len().max(1))
                .cloned()
        })
        .collect()
}

/// One operation's request.
#[derive(Clone, Copy)]
enum Op<'a> {
    Put { key: &'a [u8], value: &'a [u8] },
    Get { key: &'a [u8] },
}

/// A client's view: its connections and which one it tries next.
struct ClientConns {
    conns: Vec<Conn>,
    turn: usize,
}

impl ClientConns {
    /// Runs `op` until it succeeds, moving to the next host after each failed attempt.
    /// Returns the get's value (`None` for puts and missing keys) and the retry count.
    async fn run(
        &mut self,
        target: Target,
        workload: KvWorkload,
        op: Op<'_>,
    ) -> Result<(Option<Vec<u8>>, u64)> {
        let started = Instant::now();
        let mut retries = 0u64;
        loop {
            let n = self.conns.len().max(1);
            let Some(conn) = self.conns.get_mut(self.turn % n) else {
                return Err(BenchError::Config {
                    reason: "no connection to any host",
                });
            };
            let attempt = match op {
                Op::Put { key, value } => conn.put(key, value).await.map(|()| None),
                Op::Get { key } => conn.get(key).await,
            };
            let last: EngineSource = match attempt {
                Ok(v) => return Ok((v, retries)),
                Err(Attempt::Fatal(source)) => {
                    return Err(BenchError::engine(target.name(), workload.name(), source))
                }
                Err(Attempt::Retry(source)) => source,
            };
            if started.elapsed() >= OP_RETRY_DEADLINE {
                return Err(BenchError::Unavailable {
                    target: target.name(),
                    workload: workload.name(),
                    waited_secs: OP_RETRY_DEADLINE.as_secs(),
                    source: last,
                });
            }
            self.turn = self.turn.wrapping_add(1);
            if retries > 0 {
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
            retries += 1;
        }
    }
}

/// Writes round-0 values under every key of `0..keys`, [`LOAD_CLIENTS`] at a time.
async fn load(config: &KvBenchConfig, pool: &Pool, values: &Arc<ValueGen>) -> Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..LOAD_CLIENTS {
        let mut conns = ClientConns {
            conns: conns_of(pool, c),
            turn: 0,
        };
        let next = next.clone();
        let values = values.clone();
        let (target, keys) = (config.target, config.keys);
        tasks.spawn(async move {
            let mut value = vec![0u8; values.value_bytes()];
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= keys {
                    return Ok::<(), BenchError>(());
                }
                values.value_into(i, 0, &mut value);
                let key = key_of(i);
                let op = Op::Put {
                    key: &key,
                    value: &value,
                };
                conns.run(target, KvWorkload::Put, op).await?;
            }
        });
    }
    join_all(tasks).await.map(|_: Vec<()>| ())
}

/// What one client task hands back.
struct ClientResult {
    hist: Histogram<u64>,
    /// Acknowledgement times, µs since the run started; `None` once over its share of
    /// [`ACK_TIMES_MAX`].
    acks: Option<Vec<u64>>,
    ops: u64,
    retries: u64,
}

async fn run_one(
    config: &KvBenchConfig,
    pool: &Pool,
    values: &Arc<ValueGen>,
    workload: KvWorkload,
    clients: usize,
    round: u64,
) -> Result<KvReport> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = config.duration.map(|d| started + d);
    let num = if deadline.is_some() {
        u64::MAX
    } else {
        config.num
    };
    let ack_share = ACK_TIMES_MAX / clients;
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let mut conns = ClientConns {
            conns: conns_of(pool, c),
            turn: 0,
        };
        let next = next.clone();
        let values = values.clone();
        let (target, keys, seed) = (config.target, config.keys, config.seed);
        tasks.spawn(async move {
            let mut rng = SplitMix64::new(seed ^ (round << 32) ^ c as u64);
            let mut hist = new_histogram()?;
            let mut acks = Some(Vec::new());
            let mut value = vec![0u8; values.value_bytes()];
            let mut expected = vec![0u8; values.value_bytes()];
            let (mut ops, mut retries) = (0u64, 0u64);
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                if next.fetch_add(1, Ordering::Relaxed) >= num {
                    break;
                }
                let i = rng.below(keys);
                let key = key_of(i);
                let t0 = Instant::now();
                let (got, r) = match workload {
                    KvWorkload::Put => {
                        values.value_into(i, round, &mut value);
                        let op = Op::Put {
                            key: &key,
                            value: &value,
                        };
                        conns.run(target, workload, op).await?
                    }
                    KvWorkload::Get => conns.run(target, workload, Op::Get { key: &key }).await?,
                };
                let done = Instant::now();
                if workload == KvWorkload::Get {
                    values.value_into(i, 0, &mut expected);
                    check_value(target, got.as_deref(), &expected)?;
                }
                let ns = u64::try_from(done.duration_since(t0).as_nanos()).unwrap_or(u64::MAX);
                hist.saturating_record(ns.max(1));
                if let Some(a) = &mut acks {
                    if a.len() < ack_share {
                        let us = done.duration_since(started).as_micros();
                        a.push(u64::try_from(us).unwrap_or(u64::MAX));
                    } else {
                        acks = None;
                    }
                }
                ops += 1;
                retries += r;
            }
            Ok::<ClientResult, BenchError>(ClientResult {
                hist,
                acks,
                ops,
                retries,
            })
        });
    }
    let results = join_all(tasks).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let mut all = new_histogram()?;
    let (mut ops, mut retries) = (0u64, 0u64);
    let mut acks = Some(Vec::new());
    for r in results {
        all.add(&r.hist).map_err(|_| BenchError::Config {
            reason: "histogram merge",
        })?;
        ops += r.ops;
        retries += r.retries;
        acks = match (acks, r.acks) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
    }
    let us = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    Ok(KvReport {
        target: config.target.name(),
        workload: workload.name(),
        clients,
        ops,
        retries,
        elapsed_secs: elapsed,
        ops_per_sec: ops as f64 / elapsed.max(1e-9),
        p50_us: us(0.5),
        p99_us: us(0.99),
        p999_us: us(0.999),
        max_us: all.max() as f64 / 1000.0,
        max_gap_ms: acks.map(|a| longest_gap_us(a) as f64 / 1000.0),
    })
}

/// A get must return exactly the value loaded under its key.
fn check_value(target: Target, got: Option<&[u8]>, expected: &[u8]) -> Result<()> {
    match got {
        Some(v) if v == expected => Ok(()),
        Some(v) if v.len() == expected.len() => Err(BenchError::WrongResult {
            engine: target.name(),
            workload: "get",
            what: "values equal to the loaded one (1 = equal)",
            expected: 1,
            actual: 0,
        }),
        other => Err(BenchError::WrongResult {
            engine: target.name(),
            workload: "get",
            what: "value bytes",
            expected: expected.len() as u64,
            actual: other.map_or(0, |v| v.len() as u64),
        }),
    }
}

/// The longest interval between consecutive times (in any order); 0 for fewer than two.
fn longest_gap_us(mut times: Vec<u64>) -> u64 {
    times.sort_unstable();
    times
        .windows(2)
        .map(|w| match w {
            [a, b] => b.saturating_sub(*a),
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

/// Waits for every task; the first error (or panic) wins.
async fn join_all<T: 'static>(mut tasks: tokio::task::JoinSet<Result<T>>) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(tasks.len());
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(v)) => out.push(v),
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(BenchError::Config {
                    reason: "a benchmark client task panicked",
                })
            }
        }
    }
    Ok(out)
}

/// Latencies from 1 ns to 60 s at 3 significant digits.
fn new_histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).map_err(|_| BenchError::Config {
        reason: "histogram bounds",
    })
}

#[cfg(test)]
mod tests;
