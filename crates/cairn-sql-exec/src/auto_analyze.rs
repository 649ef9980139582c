//! Automatic statistics refresh: per-table change counters and a background worker that
//! re-analyses a table once enough of it has changed (PostgreSQL's autovacuum ANALYZE).
//!
//! Role: sessions call [`Activity::note`] with the rows each INSERT/UPDATE/DELETE/COPY
//! changed once its transaction has ended (so the worker, woken by them, analyses a snapshot
//! that has them: `tests/slt/analyze.slt` flaked when it was called before the commit); when a table's changes since its last ANALYZE exceed
//! `threshold_rows + scale_factor × rows at that ANALYZE` (PostgreSQL's
//! `autovacuum_analyze_threshold` 50 and `autovacuum_analyze_scale_factor` 0.1), the table is
//! queued and the worker thread ([`Worker`]) wakes, analyses it in its own transactions
//! (`analyze::analyze_table`) and resets the counter. `pg_stat_user_tables` reads the
//! counters through [`Activity::get`].
//!
//! A table is analysed automatically at most once per `min_interval_ms` (default 60 s, as
//! PostgreSQL's `autovacuum_naptime` spaces its visits): a table that is due again sooner
//! waits in the queue until the interval since its last automatic analysis has passed. The
//! first analysis of a table is not delayed. Without the spacing, pgbench's 10-row
//! `pgbench_branches`, updated thousands of times a second, crossed its threshold of 51
//! changes about a hundred times a second and was analysed each time (6,215 times in a few
//! minutes, with 5,382 of `pgbench_tellers`), taking CPU from the clients' transactions.
//!
//! The counters are per node, in memory, and approximate: changes of a transaction that
//! later rolls back are counted; a restart forgets them (the next changes start counting from
//! zero, and the row count of the last ANALYZE is read back from its stored statistics).
//!
//! Concurrency: one mutex guards the counters and the queue; `note` holds it for a hash-map
//! update, never across I/O, so the request path does not wait on analysis. The worker takes
//! the queue under the lock and analyses with the lock released.
//!
//! Invariants:
//! 1. The queue holds each table at most once and only tables whose counter crossed the
//!    threshold; it is bounded by the number of tables. Test: `threshold_queues_once`.
//! 3. The worker takes a table at most once per `min_interval_ms`. Test:
//!    `a_table_is_taken_at_most_once_per_interval`.
//! 2. [`Worker::stop`] returns only after the thread has exited, and no analysis starts after
//!    it was called; dropping the `Engine` stops it. Test (cairn): `auto_analyze_...`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::kv::KvStore;

/// Settings of the automatic refresh (`Engine` config; docs/operations.md).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AutoAnalyzeConfig {
    /// Run the background worker at all.
    pub enabled: bool,
    /// Fraction of the table's rows (at its last ANALYZE) that must change.
    pub scale_factor: f64,
    /// Changed rows needed on top of the fraction.
    pub threshold_rows: u64,
    /// Longest the idle worker sleeps before checking its stop flag and queue again.
    pub naptime_ms: u64,
    /// Shortest time between two automatic analyses of one table.
    pub min_interval_ms: u64,
}

impl Default for AutoAnalyzeConfig {
    fn default() -> Self {
        AutoAnalyzeConfig {
            enabled: true,
            scale_factor: 0.1,
            threshold_rows: 50,
            naptime_ms: 1000,
            min_interval_ms: 60_000,
        }
    }
}

/// What one node knows of a table's activity.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableActivity {
    pub database_id: u32,
    /// Rows changed since this node started.
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    /// Rows changed since the last ANALYZE (`pg_stat_user_tables.n_mod_since_analyze`).
    pub mod_since_analyze: u64,
    /// Rows inserted minus rows deleted since the last ANALYZE (for `n_live_tup`).
    pub live_delta_since_analyze: i64,
    /// Rows at the last ANALYZE (`None`: not known yet on this node).
    pub reltuples: Option<f64>,
    pub last_analyze_micros: Option<i64>,
    pub last_autoanalyze_micros: Option<i64>,
    pub analyze_count: u64,
    pub autoanalyze_count: u64,
}

/// Which kind of change a DML statement made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Insert,
    Update,
    Delete,
}

#[derive(Default)]
struct State {
    tables: HashMap<u32, TableActivity>,
    /// Tables whose changes crossed the threshold, waiting for the worker.
    due: BTreeSet<u32>,
    /// When the worker last took each table.
    taken_at: HashMap<u32, Instant>,
    stop: bool,
}

impl State {
    /// Takes the due tables whose last automatic analysis is at least `interval` before
    /// `now`; when there are none, `Err` with the earliest time one of the others becomes
    /// ready (`None`: nothing is due).
    fn take_ready(
        &mut self,
        now: Instant,
        interval: Duration,
    ) -> Result<Vec<u32>, Option<Instant>> {
        let mut ready = Vec::new();
        let mut next: Option<Instant> = None;
        for &t in &self.due {
            match self.taken_at.get(&t).map(|&at| at + interval) {
                Some(at) if now < at => next = Some(next.map_or(at, |n| n.min(at))),
                _ => ready.push(t),
            }
        }
        if ready.is_empty() {
            return Err(next);
        }
        for t in &ready {
            self.due.remove(t);
            self.taken_at.insert(*t, now);
        }
        Ok(ready)
    }
}

/// Change counters and the auto-analyze queue of one engine.
pub struct Activity {
    config: AutoAnalyzeConfig,
    state: Mutex<State>,
    wake: Condvar,
}

impl Activity {
    pub fn new(config: AutoAnalyzeConfig) -> Self {
        Activity {
            config,
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        }
    }

    pub fn config(&self) -> AutoAnalyzeConfig {
        self.config
    }

    /// The number of changed rows that makes a table of `reltuples` rows due.
    pub fn threshold(&self, reltuples: Option<f64>) -> f64 {
        self.config.threshold_rows as f64
            + self.config.scale_factor * reltuples.unwrap_or(0.0).max(0.0)
    }

    /// Counts `rows` changed rows of a table; queues it for the worker when due.
    pub fn note(&self, database_id: u32, table_id: u32, change: Change, rows: u64) {
        if rows == 0 {
            return;
        }
        let mut st = self.state.lock();
        let a = st.tables.entry(table_id).or_default();
        a.database_id = database_id;
        let signed = i64::try_from(rows).unwrap_or(i64::MAX);
        match change {
            Change::Insert => {
                a.inserted += rows;
                a.live_delta_since_analyze = a.live_delta_since_analyze.saturating_add(signed);
            }
            Change::Update => a.updated += rows,
            Change::Delete => {
                a.deleted += rows;
                a.live_delta_since_analyze = a.live_delta_since_analyze.saturating_sub(signed);
            }
        }
        a.mod_since_analyze += rows;
        let due = a.mod_since_analyze as f64 > self.threshold(a.reltuples);
        if due && self.config.enabled && st.due.insert(table_id) {
            self.wake.notify_one();
        }
    }

    /// Records an ANALYZE that started when the counter read `mods_at_start`: changes made
    /// while it ran stay counted.
    pub fn analyzed(
        &self,
        table_id: u32,
        row_count: f64,
        at_micros: i64,
        auto: bool,
        mods_at_start: u64,
    ) {
        let threshold = self.threshold(Some(row_count));
        let mut st = self.state.lock();
        let a = st.tables.entry(table_id).or_default();
        a.mod_since_analyze = a.mod_since_analyze.saturating_sub(mods_at_start);
        a.live_delta_since_analyze = 0;
        a.reltuples = Some(row_count);
        if auto {
            a.last_autoanalyze_micros = Some(at_micros);
            a.autoanalyze_count += 1;
        } else {
            a.last_analyze_micros = Some(at_micros);
            a.analyze_count += 1;
        }
        // An explicit ANALYZE of a queued table makes the worker's pass unnecessary.
        if a.mod_since_analyze as f64 <= threshold {
            st.due.remove(&table_id);
        }
    }

    /// Whether the table's changes since its last ANALYZE are still above the threshold
    /// (true when this node does not know its row count yet).
    pub fn still_due(&self, table_id: u32) -> bool {
        let st = self.state.lock();
        st.tables.get(&table_id).is_none_or(|a| {
            a.reltuples.is_none() || a.mod_since_analyze as f64 > self.threshold(a.reltuples)
        })
    }

    /// Sets the row count of the last ANALYZE when this node learns it from storage; returns
    /// whether the table is (still) due.
    pub fn learn_reltuples(&self, table_id: u32, reltuples: f64) -> bool {
        let mut st = self.state.lock();
        let a = st.tables.entry(table_id).or_default();
        if a.reltuples.is_none() {
            a.reltuples = Some(reltuples);
        }
        let r = a.reltuples;
        a.mod_since_analyze as f64 > self.threshold(r)
    }

    pub fn get(&self, table_id: u32) -> Option<TableActivity> {
        self.state.lock().tables.get(&table_id).cloned()
    }

    /// Forgets a table that no longer exists.
    pub fn forget(&self, table_id: u32) {
        let mut st = self.state.lock();
        st.tables.remove(&table_id);
        st.due.remove(&table_id);
        st.taken_at.remove(&table_id);
    }

    /// Waits until some due table may be analysed (invariant 3) and takes those; `None`
    /// once stopped. Wakes at least every `naptime` to look at the stop flag.
    fn take_due(&self) -> Option<Vec<u32>> {
        let nap = Duration::from_millis(self.config.naptime_ms.max(1));
        let interval = Duration::from_millis(self.config.min_interval_ms);
        let mut st = self.state.lock();
        loop {
            if st.stop {
                return None;
            }
            let now = Instant::now();
            let wait = match st.take_ready(now, interval) {
                Ok(ready) => return Some(ready),
                Err(None) => nap,
                Err(Some(at)) => at.saturating_duration_since(now).min(nap),
            };
            self.wake
                .wait_for(&mut st, wait.max(Duration::from_millis(1)));
        }
    }

    fn stopped(&self) -> bool {
        self.state.lock().stop
    }

    fn request_stop(&self) {
        self.state.lock().stop = true;
        self.wake.notify_all();
    }
}

/// The background auto-analyze thread.
pub struct Worker {
    activity: Arc<Activity>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Worker {
    /// Starts the thread (if the config enables it).
    pub fn start(store: Arc<dyn KvStore>, activity: Arc<Activity>) -> std::io::Result<Worker> {
        let handle = if activity.config.enabled {
            let a = activity.clone();
            Some(
                std::thread::Builder::new()
                    .name("cairn-auto-analyze".into())
                    .spawn(move || run(&*store, &a))?,
            )
        } else {
            None
        };
        Ok(Worker {
            activity,
            handle: Mutex::new(handle),
        })
    }

    /// Stops the thread and waits for it (invariant 2). Idempotent.
    pub fn stop(&self) {
        self.activity.request_stop();
        let handle = self.handle.lock().take();
        if let Some(h) = handle {
            if h.thread().id() != std::thread::current().id() && h.join().is_err() {
                tracing::error!("auto-analyze worker panicked");
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(store: &dyn KvStore, activity: &Activity) {
    while let Some(due) = activity.take_due() {
        for table_id in due {
            if activity.stopped() {
                return;
            }
            let span = tracing::debug_span!("auto_analyze", table_id);
            let _g = span.enter();
            if let Err(e) = crate::analyze::auto_analyze_one(store, activity, table_id) {
                // Handled here: the table stays counted and is queued again by later changes.
                if e.is_retryable() {
                    tracing::debug!(code = %e.code, "auto-analyze of table {table_id} lost a race: {}", e.message);
                } else {
                    tracing::warn!(code = %e.code, "auto-analyze of table {table_id} failed: {}", e.message);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_queues_once() {
        let a = Activity::new(AutoAnalyzeConfig {
            min_interval_ms: 0,
            ..Default::default()
        });
        a.note(1, 100, Change::Insert, 50);
        assert!(
            a.state.lock().due.is_empty(),
            "50 is not above the threshold of 50"
        );
        a.note(1, 100, Change::Update, 1);
        a.note(1, 100, Change::Delete, 10);
        assert_eq!(
            a.state.lock().due.iter().copied().collect::<Vec<_>>(),
            vec![100]
        );
        assert_eq!(a.take_due(), Some(vec![100]));
        // Analysed at 1000 rows with 61 changes counted at its start: threshold is now 150.
        a.analyzed(100, 1000.0, 5, true, 61);
        a.note(1, 100, Change::Insert, 150);
        assert!(a.state.lock().due.is_empty());
        a.note(1, 100, Change::Insert, 1);
        assert_eq!(a.take_due(), Some(vec![100]));
        let t = a.get(100).expect("activity");
        assert_eq!((t.inserted, t.updated, t.deleted), (201, 1, 10));
        assert_eq!(t.autoanalyze_count, 1);
        a.request_stop();
        assert_eq!(a.take_due(), None);
    }

    #[test]
    fn a_table_is_taken_at_most_once_per_interval() {
        let a = Activity::new(AutoAnalyzeConfig::default());
        let minute = Duration::from_secs(60);
        let t0 = Instant::now();
        let take = |at: Instant| a.state.lock().take_ready(at, minute);
        assert_eq!(take(t0), Err(None), "nothing is due");
        a.note(1, 100, Change::Insert, 51);
        // The first time at once.
        assert_eq!(take(t0), Ok(vec![100]));
        a.analyzed(100, 10.0, 0, true, 51);
        a.note(1, 100, Change::Update, 52);
        a.note(1, 200, Change::Update, 51);
        // Table 200 is new; 100 was taken at t0 and waits until t0 + 60 s.
        assert_eq!(take(t0 + Duration::from_secs(1)), Ok(vec![200]));
        assert_eq!(
            take(t0 + Duration::from_secs(2)),
            Err(Some(t0 + minute)),
            "taken again within the interval"
        );
        assert_eq!(take(t0 + minute), Ok(vec![100]));
        assert_eq!(take(t0 + minute), Err(None));
    }

    /// A table queued by a bulk load and then analysed by an explicit ANALYZE leaves the
    /// queue, and the worker skips a table it had already taken (`still_due`): a second
    /// full pass right after the user's own ANALYZE would only compete with queries.
    #[test]
    fn explicit_analyze_unqueues() {
        let a = Activity::new(AutoAnalyzeConfig::default());
        a.note(1, 100, Change::Insert, 600_000);
        assert!(a.still_due(100));
        assert_eq!(a.state.lock().due.len(), 1);
        a.analyzed(100, 600_000.0, 5, false, 600_000);
        assert!(a.state.lock().due.is_empty());
        assert!(!a.still_due(100));
        // Changes during that ANALYZE beyond the threshold keep it queued.
        a.note(1, 200, Change::Insert, 1_000);
        a.note(1, 200, Change::Insert, 100_000);
        a.analyzed(200, 1_000.0, 6, false, 1_000);
        assert!(a.still_due(200));
        assert_eq!(
            a.state.lock().due.iter().copied().collect::<Vec<_>>(),
            vec![200]
        );
    }

    #[test]
    fn disabled_config_never_queues() {
        let a = Activity::new(AutoAnalyzeConfig {
            enabled: false,
            ..Default::default()
        });
        a.note(1, 100, Change::Insert, 1_000);
        assert!(a.state.lock().due.is_empty());
        assert_eq!(a.get(100).map(|t| t.mod_since_analyze), Some(1_000));
    }
}
