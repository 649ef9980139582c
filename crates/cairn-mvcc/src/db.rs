//! The embedded transactional database: one node's MVCC store over the storage engine.
//!
//! Role: the public entry point of the crate (re-exported by the `cairn` crate). It owns the
//! storage engine, the hybrid logical clock, the lock table, the recent-writes index, the
//! commit pipeline and the GC registry, and hands out [`Transaction`]s.
//!
//! Commit protocol (single node, one atomic engine batch per transaction, "1PC"):
//! 1. lock every written key exclusively in the lock table (READ COMMITTED writers already
//!    hold theirs), in key order;
//! 2. under the commit mutex: validate (SNAPSHOT: no written key has a commit newer than the
//!    read timestamp; SERIALIZABLE: also no key read and no range scanned has), take the
//!    commit timestamp from the pipeline, record the written keys in the recent-writes index;
//! 3. evaluate atomic operations against the newest committed values and write all versions
//!    at the commit timestamp in one engine batch (fsync'd when `sync_commits`);
//! 4. finish in the pipeline (wait for earlier commits), release the locks.
//!
//! Invariants:
//! 1. For every key, versions reach the engine in commit-timestamp order: writers of a key
//!    hold its exclusive lock from before their timestamp is taken until their batch is
//!    applied. GC's tombstone dropping relies on it.
//! 2. Every commit timestamp is above the HLC ceiling persisted in the engine before the
//!    commit, and a reopened database starts its clock above that ceiling, so timestamps never
//!    repeat across restarts even when the wall clock goes back (`reopen_keeps_clock_ahead`).
//! 3. A transaction that returned from `commit` is visible to every transaction begun after
//!    (pipeline invariant 2).
//!
//! Replication ([`Replicator`], `DbOptions::replicator`): the database can be the state of one
//! replicated range. Then only the range's leader serves: every transaction begins, and every
//! commit validates, after [`Replicator::barrier`] confirmed this node leads and has applied
//! every entry committed before; step 3 hands the batch to [`Replicator::replicate`] instead
//! of writing it, tagged with the leader's term, and the replicas' state machines write it
//! into their engines (the same engine this database reads) only if it was appended in that
//! term. When the term changes, the in-memory state that only the leader kept (the
//! recent-writes index, the HLC ceiling) is rebuilt from the engine before anything is
//! served: the engine then holds every commit of earlier terms, and the new leader's clock
//! moves above their ceiling.
//!
//! Concurrency: `Db` is `Send + Sync` and cheap to clone; transactions are `Send` and used by
//! one thread at a time. The commit mutex guards the recent-writes index and is never held
//! while waiting for a lock or for the engine's WAL.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cairn_env::{Clock, SystemClock};
use cairn_lsm::{ReadOptions, WriteBatch};
use cairn_types::{IsolationLevel, Timestamp};
use parking_lot::Mutex;

use crate::conflict::RecentWrites;
use crate::error::{Error, Result};
use crate::gc::{Gc, GcFilterFactory, GcStats, ThresholdSource};
use crate::hlc::Hlc;
use crate::key::{self, Slot};
use crate::lock_table::{LockTable, LockTableConfig};
use crate::pipeline::Pipeline;
use crate::txn::{Transaction, TxnOptions};

/// The largest key a transaction may write (10 KiB).
pub const KEY_BYTES_MAX: usize = 10 << 10;
/// The largest value limit that may be configured (16 MiB).
pub const VALUE_BYTES_LIMIT_MAX: usize = 16 << 20;

/// Prefix of the engine keys that hold the persisted HLC ceiling. `00 00` never begins an
/// MVCC key (the escape turns `00` into `00 FF` and the terminator is `00 01`), and it sorts
/// before all of them, so scans never meet it.
const CEILING_PREFIX: &[u8] = b"\x00\x00hlc-ceiling/";
/// How far ahead of the newest commit the persisted ceiling is set.
const CEILING_LEAD_NANOS: u64 = 2_000_000_000;
/// The ceiling is moved when a commit comes within this distance of it.
const CEILING_REFRESH_NANOS: u64 = 1_000_000_000;

/// Where a replicated database sends its commits (see the module comment). Implemented by the
/// node over its Raft loop; both calls block the calling thread.
pub trait Replicator: Send + Sync {
    /// Returns once this node leads the range (under a lease or a confirmed ReadIndex round)
    /// and has applied every entry committed before: reads of the engine are then current.
    /// Returns the leader's term. [`Error::Unavailable`] when this node does not lead.
    fn barrier(&self) -> Result<u64>;
    /// Replicates `batch`, validated while leading in `term`, and returns once it is applied
    /// to this node's engine. The replicas apply it only if it was appended in `term`.
    /// [`Error::Unavailable`] when it was certainly not applied; [`Error::AmbiguousCommit`]
    /// when it may have been.
    fn replicate(&self, term: u64, batch: WriteBatch) -> Result<()>;
}

/// How `Db::transaction` retries conflicting transactions.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 50).
    pub attempts_max: u32,
    /// First back-off sleep (default 1 ms); doubles each retry, with jitter.
    pub backoff_initial: Duration,
    /// Largest back-off sleep (default 100 ms).
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts_max: 50,
            backoff_initial: Duration::from_millis(1),
            backoff_max: Duration::from_millis(100),
        }
    }
}

/// Settings of an embedded database.
#[derive(Clone)]
pub struct DbOptions {
    /// Storage engine settings (its compaction filter is set by the MVCC layer).
    pub engine: cairn_lsm::Options,
    /// fsync the WAL before a commit returns (default true).
    pub sync_commits: bool,
    /// Largest tolerated clock offset between nodes (default 500 ms).
    pub max_clock_offset: Duration,
    /// Largest value (default 100 KiB; at most 16 MiB).
    pub value_bytes_max: usize,
    /// Largest write set of one transaction, keys plus values (default 10 MB).
    pub write_set_bytes_max: u64,
    /// How far back `AS OF` reads may go: GC keeps what readers in this window see
    /// (default 60 s).
    pub gc_history: Duration,
    /// Lock waits longer than this fail with `LockTimeout`; `None` waits without limit
    /// (deadlocks are still detected). Default `None`, as PostgreSQL's `lock_timeout = 0`.
    pub lock_timeout: Option<Duration>,
    /// Keys remembered by the recent-writes index (default 262,144).
    pub recent_writes_capacity: usize,
    pub retry: RetryPolicy,
    /// The wall clock under the HLC (tests pass a `ManualClock`).
    pub clock: Arc<dyn Clock>,
    pub lock_table: LockTableConfig,
    /// Set when the database is a replicated range's state (default `None`: commits are
    /// written to the engine directly).
    pub replicator: Option<Arc<dyn Replicator>>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            engine: cairn_lsm::Options::default(),
            sync_commits: true,
            max_clock_offset: Duration::from_millis(500),
            value_bytes_max: 100 << 10,
            write_set_bytes_max: 10_000_000,
            gc_history: Duration::from_secs(60),
            lock_timeout: None,
            recent_writes_capacity: 1 << 18,
            retry: RetryPolicy::default(),
            clock: Arc::new(SystemClock),
            lock_table: LockTableConfig::default(),
            replicator: None,
        }
    }
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("engine", &self.engine)
            .field("sync_commits", &self.sync_commits)
            .field("max_clock_offset", &self.max_clock_offset)
            .field("value_bytes_max", &self.value_bytes_max)
            .field("write_set_bytes_max", &self.write_set_bytes_max)
            .field("gc_history", &self.gc_history)
            .field("lock_timeout", &self.lock_timeout)
            .field("replicated", &self.replicator.is_some())
            .finish_non_exhaustive()
    }
}

/// Counters since open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    pub commits: u64,
    pub read_only_commits: u64,
    pub rollbacks: u64,
    pub write_conflicts: u64,
    pub read_conflicts: u64,
    pub retries: u64,
    /// Times a write or row lock moved a transaction's snapshot forward past a newer commit
    /// instead of failing with a conflict.
    pub snapshot_moves: u64,
    pub deadlocks: u64,
    pub gc: GcStats,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub commits: AtomicU64,
    pub read_only_commits: AtomicU64,
    pub rollbacks: AtomicU64,
    pub write_conflicts: AtomicU64,
    pub read_conflicts: AtomicU64,
    pub retries: AtomicU64,
    pub snapshot_moves: AtomicU64,
}

/// Clock, pipeline and GC registry: what the compaction filter needs, shared without the
/// engine so that the engine can hold it.
pub(crate) struct Clocks {
    pub hlc: Hlc,
    pub pipeline: Pipeline,
    pub gc: Arc<Gc>,
}

impl ThresholdSource for Clocks {
    fn gc_threshold(&self) -> Timestamp {
        self.gc.advance(|| self.pipeline.readable(&self.hlc))
    }
}

pub(crate) struct Committing {
    pub recent: RecentWrites,
    /// Persisted HLC ceiling (wall nanos): every commit timestamp is below it.
    pub ceiling_nanos: u64,
}

pub(crate) struct Shared {
    pub engine: cairn_lsm::Db,
    pub clocks: Arc<Clocks>,
    pub locks: LockTable,
    pub committing: Mutex<Committing>,
    pub opts: DbOptions,
    pub counters: Counters,
    /// The leader term the in-memory state was last rebuilt for (replicated databases).
    pub served_term: AtomicU64,
}

impl Shared {
    /// With a replicator: waits for [`Replicator::barrier`] and, when the term is new,
    /// rebuilds the leader-only state from the engine. Returns the term (0 unreplicated).
    pub(crate) fn serve(&self) -> Result<u64> {
        let Some(r) = &self.opts.replicator else {
            return Ok(0);
        };
        let term = r.barrier()?;
        if term > self.served_term.load(Ordering::Acquire) {
            let mut c = self.committing.lock();
            if term > self.served_term.load(Ordering::Acquire) {
                let ceiling = read_ceiling(&self.engine)?;
                self.clocks.hlc.ensure_after(Timestamp::new(ceiling, 0));
                c.ceiling_nanos = c.ceiling_nanos.max(ceiling);
                // Commits of earlier terms are in the engine, not in the index; everything
                // this leader commits from now on is above the clock's current reading.
                c.recent =
                    RecentWrites::new(self.opts.recent_writes_capacity, self.clocks.hlc.now());
                self.served_term.store(term, Ordering::Release);
            }
        }
        Ok(term)
    }

    pub(crate) fn readable(&self) -> Timestamp {
        self.clocks.pipeline.readable(&self.clocks.hlc)
    }

    /// Newest commit timestamp of `key` if it is newer than `after` (committed or on its way
    /// to the engine). Called with the commit mutex held.
    pub(crate) fn written_after(
        &self,
        c: &Committing,
        key: &[u8],
        after: Timestamp,
    ) -> Result<Option<Timestamp>> {
        if let Some(ts) = c.recent.newest(key) {
            if ts > after {
                return Ok(Some(ts));
            }
        }
        if c.recent.covers(after) {
            return Ok(None);
        }
        let ts = crate::versions::newest_version_ts(&self.engine, key)?;
        Ok(ts.filter(|t| *t > after))
    }

    /// Some key in `[start, end)` written after `after`. Called with the commit mutex held.
    pub(crate) fn range_written_after(
        &self,
        c: &Committing,
        start: &[u8],
        end: Option<&[u8]>,
        after: Timestamp,
    ) -> Result<Option<(Vec<u8>, Timestamp)>> {
        if let Some(hit) = c.recent.first_write_after(start, end, after) {
            return Ok(Some(hit));
        }
        if c.recent.covers(after) {
            return Ok(None);
        }
        crate::versions::first_write_after(&self.engine, start, end, after)
    }

    /// Adds a ceiling move to `batch` when `commit_ts` comes near the persisted ceiling.
    pub(crate) fn maybe_raise_ceiling(
        &self,
        c: &mut Committing,
        commit_ts: Timestamp,
        batch: &mut WriteBatch,
    ) {
        if commit_ts.wall_nanos.saturating_add(CEILING_REFRESH_NANOS) < c.ceiling_nanos {
            return;
        }
        let new = commit_ts.wall_nanos.saturating_add(CEILING_LEAD_NANOS);
        batch.put(&ceiling_key(new), &[]);
        batch.delete(&ceiling_key(c.ceiling_nanos));
        c.ceiling_nanos = new;
    }
}

fn ceiling_key(nanos: u64) -> Vec<u8> {
    let mut k = CEILING_PREFIX.to_vec();
    k.extend_from_slice(&nanos.to_be_bytes());
    k
}

/// The largest persisted ceiling (0 in a new database).
fn read_ceiling(engine: &cairn_lsm::Db) -> Result<u64> {
    let mut upper = CEILING_PREFIX.to_vec();
    upper.push(0xFF);
    let mut it = engine.iter(ReadOptions {
        lower_bound: Some(CEILING_PREFIX.to_vec()),
        upper_bound: Some(upper),
        ..ReadOptions::default()
    })?;
    it.seek_to_last()?;
    if !it.valid() {
        return Ok(0);
    }
    let raw = it.key().get(CEILING_PREFIX.len()..).unwrap_or(&[]);
    let bytes: [u8; 8] = raw
        .try_into()
        .map_err(|_| Error::corrupt(it.key(), crate::key::FormatError::BadKey))?;
    Ok(u64::from_be_bytes(bytes))
}

/// An embedded Cairn database: serializable transactions over a local directory.
///
/// ```
/// use cairn_mvcc::{Db, DbOptions};
///
/// # fn main() -> Result<(), cairn_mvcc::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path(), DbOptions::default())?;
/// db.transaction(|txn| {
///     txn.put(b"alice", b"100")?;
///     txn.put(b"bob", b"50")
/// })?;
/// // Runs again automatically if another transaction conflicts with it.
/// let total = db.transaction(|txn| {
///     let a: i64 = String::from_utf8_lossy(&txn.get(b"alice")?.unwrap_or_default()).parse().unwrap_or(0);
///     let b: i64 = String::from_utf8_lossy(&txn.get(b"bob")?.unwrap_or_default()).parse().unwrap_or(0);
///     Ok(a + b)
/// })?;
/// assert_eq!(total, 150);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Db {
    pub(crate) shared: Arc<Shared>,
}

impl Db {
    /// Opens (creating if missing) the database in `path`.
    pub fn open(path: impl AsRef<Path>, opts: DbOptions) -> Result<Db> {
        if opts.value_bytes_max > VALUE_BYTES_LIMIT_MAX {
            return Err(Error::InvalidArgument(
                "value_bytes_max must be at most 16 MiB",
            ));
        }
        let history_nanos = u64::try_from(opts.gc_history.as_nanos()).unwrap_or(u64::MAX);
        let clocks = Arc::new(Clocks {
            hlc: Hlc::new(Arc::clone(&opts.clock), opts.max_clock_offset),
            pipeline: Pipeline::default(),
            gc: Arc::new(Gc::new(history_nanos)),
        });
        let mut engine_opts = opts.engine.clone();
        // Filters hold keys without their timestamp suffix, so a point read skips tables
        // that have no version of its key.
        engine_opts.bloom_strip_suffix_bytes = key::SUFFIX_BYTES_U32;
        engine_opts.compaction_filter = Some(Arc::new(GcFilterFactory {
            source: clocks.clone(),
            gc: Arc::clone(&clocks.gc),
        }));
        let engine = cairn_lsm::Db::open(path, engine_opts)?;
        let ceiling = read_ceiling(&engine)?;
        let floor = Timestamp::new(ceiling, 0);
        clocks.hlc.ensure_after(floor);
        let committing = Committing {
            recent: RecentWrites::new(opts.recent_writes_capacity, floor),
            ceiling_nanos: ceiling,
        };
        Ok(Db {
            shared: Arc::new(Shared {
                engine,
                locks: LockTable::new(opts.lock_table.clone()),
                clocks,
                committing: Mutex::new(committing),
                opts,
                counters: Counters::default(),
                served_term: AtomicU64::new(0),
            }),
        })
    }

    /// Closes the database, flushing nothing that is not already durable. Fails if
    /// transactions or clones of this handle are still alive.
    pub fn close(self) -> Result<()> {
        match Arc::try_unwrap(self.shared) {
            Ok(shared) => Ok(shared.engine.close()?),
            Err(_) => Err(Error::InvalidArgument(
                "close: transactions or other handles of the database are still open",
            )),
        }
    }

    /// Begins a transaction at `isolation`, reading at the current timestamp.
    pub fn begin(&self, isolation: IsolationLevel) -> Result<Transaction> {
        self.begin_with(TxnOptions {
            isolation,
            ..TxnOptions::default()
        })
    }

    /// Begins a transaction with explicit options (a past read timestamp, read-only, ...).
    pub fn begin_with(&self, opts: TxnOptions) -> Result<Transaction> {
        Transaction::begin(Arc::clone(&self.shared), opts)
    }

    /// A read-only view at the current timestamp that stays consistent while it lives.
    pub fn snapshot(&self) -> Result<Transaction> {
        self.begin_with(TxnOptions {
            read_only: true,
            isolation: IsolationLevel::Snapshot,
            ..TxnOptions::default()
        })
    }

    /// A read-only view as of `ts` (`AS OF SYSTEM TIME`); refused when `ts` is older than
    /// the GC threshold.
    pub fn snapshot_at(&self, ts: Timestamp) -> Result<Transaction> {
        self.begin_with(TxnOptions {
            read_only: true,
            isolation: IsolationLevel::Snapshot,
            read_ts: Some(ts),
            ..TxnOptions::default()
        })
    }

    /// Runs `f` in a SERIALIZABLE transaction and commits it, retrying the whole closure
    /// (with back-off) while it fails with a retryable error.
    pub fn transaction<T>(&self, f: impl FnMut(&mut Transaction) -> Result<T>) -> Result<T> {
        self.transaction_with(TxnOptions::default(), f)
    }

    /// [`Db::transaction`] with explicit options.
    pub fn transaction_with<T>(
        &self,
        opts: TxnOptions,
        mut f: impl FnMut(&mut Transaction) -> Result<T>,
    ) -> Result<T> {
        let policy = &self.shared.opts.retry;
        let mut backoff = policy.backoff_initial;
        let mut opts = opts;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut txn = self.begin_with(opts.clone())?;
            let result = f(&mut txn).and_then(|v| txn.commit().map(|_| v));
            let err = match result {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            txn.rollback();
            if !err.is_retryable() {
                return Err(err);
            }
            if attempt >= policy.attempts_max.max(1) {
                return Err(Error::RetriesExhausted {
                    attempts: attempt,
                    last: Box::new(err),
                });
            }
            self.shared.counters.retries.fetch_add(1, Ordering::Relaxed);
            if let Error::Uncertain { value_ts, .. } = err {
                // Restart at the uncertain value's timestamp, keeping the original limit.
                opts.uncertainty_limit = opts.uncertainty_limit.or(Some(txn.uncertainty_limit()));
                opts.read_ts = Some(value_ts);
                continue;
            }
            let jitter = rand::random::<f64>() * 0.5 + 0.75;
            std::thread::sleep(backoff.mul_f64(jitter));
            backoff = (backoff * 2).min(policy.backoff_max);
        }
    }

    /// The newest timestamp at which every commit is visible: `snapshot_at` it sees all
    /// transactions that have returned from `commit`.
    pub fn now(&self) -> Timestamp {
        self.shared.readable()
    }

    /// The hybrid logical clock; feed it every timestamp received from elsewhere
    /// (`hlc().update(ts)`).
    pub fn hlc(&self) -> &Hlc {
        &self.shared.clocks.hlc
    }

    /// With a replicator: returns once this node leads its range and has applied everything
    /// committed before (a READ COMMITTED statement calls it before reading). A no-op
    /// otherwise.
    pub fn confirm_leadership(&self) -> Result<()> {
        self.shared.serve().map(|_| ())
    }

    /// The underlying storage engine (tests and `cairn debug` look at it directly).
    pub fn engine(&self) -> &cairn_lsm::Db {
        &self.shared.engine
    }

    /// The lock table (tests and `cairn debug`).
    pub fn lock_table(&self) -> &LockTable {
        &self.shared.locks
    }

    /// Timestamps of every stored version of `key`, newest first, read straight from the
    /// engine (GC tests count them).
    pub fn stored_versions(&self, user_key: &[u8]) -> Result<Vec<Timestamp>> {
        let pfx = key::prefix(user_key);
        let mut it = self.shared.engine.iter(ReadOptions {
            lower_bound: Some(pfx.clone()),
            upper_bound: Some(key::prefix_end(&pfx)),
            ..ReadOptions::default()
        })?;
        it.seek(&pfx)?;
        let mut out = Vec::new();
        while it.valid() {
            if let (_, Slot::Version(ts)) =
                key::split(it.key()).map_err(|e| Error::corrupt(it.key(), e))?
            {
                out.push(ts);
            }
            it.next()?;
        }
        Ok(out)
    }

    /// Raises the GC threshold as far as readers allow and compacts the whole engine, so
    /// that every version GC may drop is dropped now.
    pub fn compact_all(&self) -> Result<()> {
        self.shared.clocks.gc_threshold();
        Ok(self.shared.engine.compact_all()?)
    }

    pub fn stats(&self) -> DbStats {
        let c = &self.shared.counters;
        DbStats {
            commits: c.commits.load(Ordering::Relaxed),
            read_only_commits: c.read_only_commits.load(Ordering::Relaxed),
            rollbacks: c.rollbacks.load(Ordering::Relaxed),
            write_conflicts: c.write_conflicts.load(Ordering::Relaxed),
            read_conflicts: c.read_conflicts.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            snapshot_moves: c.snapshot_moves.load(Ordering::Relaxed),
            deadlocks: self.shared.locks.deadlocks_detected(),
            gc: self.shared.clocks.gc.stats(),
        }
    }
}
