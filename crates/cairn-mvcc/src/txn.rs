//! A transaction: reads at a snapshot, buffered writes, locks, and the commit protocol
//! (described in `db.rs`).
//!
//! Isolation, as PostgreSQL users know it:
//! - SERIALIZABLE: one snapshot (the read timestamp); every key read and every range scanned
//!   is remembered and validated at commit: if any was written by a transaction that
//!   committed after the snapshot, the commit fails with `ReadConflict` (40001). Written
//!   keys are validated the same way (`WriteConflict`, first committer wins).
//! - SNAPSHOT (REPEATABLE READ): one snapshot; only written keys are validated.
//! - READ COMMITTED: every read takes a fresh snapshot; every write (and every explicit row
//!   lock) takes the key's lock first, waiting behind other writers; no validation.
//! - SNAPSHOT and SERIALIZABLE abort early: a write or row lock of a key whose newest commit
//!   is newer than the snapshot fails at once, unless the snapshot can move forward past
//!   that commit (`move_snapshot`): at SERIALIZABLE when nothing the transaction read or
//!   wrote changed since its snapshot (a read refresh: every read it made is still what it
//!   would read at the later snapshot, so it is as if it had begun there), at SNAPSHOT only
//!   while it has read nothing. `start_ts` stays the timestamp it began at.
//! - Atomic operations are buffered and evaluated at commit against the newest committed
//!   value; they add no read to the read set and never conflict.
//! - A transaction reads its own writes.
//! - Savepoints (`savepoint`, `rollback_to_savepoint`, `release_savepoint`) put the write set
//!   back as it was; reads made after a savepoint stay in the read set (their results may
//!   have been used) and locks taken after it stay held until the transaction ends, which
//!   is stricter than PostgreSQL (it drops a rolled-back subtransaction's row locks).
//!
//! Failure: an error that ends a transaction (a conflict, a deadlock, a lock error, a storage
//! error) leaves it failed: its locks are released and every later call returns
//! `NotActive`, as after an error in a PostgreSQL transaction. Size-limit errors are
//! rejected before any effect and leave the transaction usable.
//!
//! Concurrency: a transaction is used by one thread at a time (`&mut self`); many
//! transactions run at once.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cairn_lsm::{WriteBatch, WriteOptions};
use cairn_types::{IsolationLevel, Timestamp, TxnId};

use crate::atomic::{self, AtomicOp};
use crate::db::{Shared, KEY_BYTES_MAX};
use crate::error::{Error, Result};
use crate::gc::Pin;
use crate::lock_table::{LockError, LockMode, LockOutcome, WaitPolicy};
use crate::versions::{self, ReadAt, Row};

/// How many times one write or row lock may move the snapshot forward before giving up with
/// a conflict (each move waits for one commit to land).
const SNAPSHOT_MOVES_MAX: usize = 4;

/// How a transaction starts.
#[derive(Debug, Clone, Default)]
pub struct TxnOptions {
    pub isolation: IsolationLevel,
    /// Writes are refused; commit is free.
    pub read_only: bool,
    /// Read as of this timestamp (`AS OF SYSTEM TIME`, or a timestamp chosen on another
    /// node). `None` reads at the current timestamp.
    pub read_ts: Option<Timestamp>,
    /// Versions above the read timestamp up to this one make reads uncertain (the reader
    /// restarts above them). `None`: the read timestamp came from this node's clock, so
    /// there is no uncertainty; with `read_ts` from elsewhere pass `read_ts + max offset`.
    pub uncertainty_limit: Option<Timestamp>,
}

/// Options of a scan.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// At most this many rows (default: no limit).
    pub limit: usize,
    /// Descending key order.
    pub reverse: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            limit: usize::MAX,
            reverse: false,
        }
    }
}

/// What an explicit row lock with `SKIP LOCKED` produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locked<T> {
    Acquired(T),
    Skipped,
}

/// How a row-lock request waits: the KV form of `FOR UPDATE [NOWAIT | SKIP LOCKED]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockWait {
    /// Wait behind holders, up to the database's lock timeout.
    #[default]
    Block,
    NoWait,
    SkipLocked,
}

/// What a successful commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitInfo {
    /// The commit timestamp, or `None` for a transaction that wrote nothing.
    pub commit_ts: Option<Timestamp>,
}

#[derive(Debug, Clone)]
enum Pending {
    Put(Vec<u8>),
    Delete,
    Ops(Vec<(AtomicOp, Vec<u8>)>),
}

impl Pending {
    fn bytes(&self) -> u64 {
        match self {
            Pending::Put(v) => v.len() as u64,
            Pending::Delete => 0,
            Pending::Ops(ops) => ops.iter().map(|(_, p)| p.len() as u64 + 1).sum(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Committed,
    RolledBack,
    Failed,
}

/// An open savepoint, as `Transaction::savepoint` returns it: its depth in the stack of
/// open savepoints (0 is the oldest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavepointId(pub usize);

/// How to put the write set back as it was when a savepoint was taken.
struct SavepointFrame {
    /// For each key changed since the savepoint (by this frame, not by newer ones), its
    /// buffered write before the first such change (`None`: it had none).
    undo: BTreeMap<Vec<u8>, Option<Pending>>,
    write_bytes: u64,
}

/// One transaction. Dropping an unfinished transaction rolls it back.
pub struct Transaction {
    shared: Arc<Shared>,
    id: TxnId,
    isolation: IsolationLevel,
    read_only: bool,
    /// The snapshot (SNAPSHOT, SERIALIZABLE) or the first statement's timestamp (READ
    /// COMMITTED); registered with GC until the transaction ends.
    read_ts: Timestamp,
    /// `read_ts` as the transaction began (it stays when the snapshot moves).
    start_ts: Timestamp,
    uncertainty_limit: Timestamp,
    writes: BTreeMap<Vec<u8>, Pending>,
    write_bytes: u64,
    read_keys: Vec<Vec<u8>>,
    read_ranges: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    holds_locks: bool,
    /// Open savepoints, oldest first.
    savepoints: Vec<SavepointFrame>,
    /// Whether any read has been served from storage (then the snapshot cannot move).
    has_read: bool,
    /// The hold on GC that keeps `read_ts` readable (until commit, rollback or drop).
    pin: Option<Pin>,
    state: State,
}

impl Transaction {
    pub(crate) fn begin(shared: Arc<Shared>, opts: TxnOptions) -> Result<Transaction> {
        shared.serve()?;
        let clocks = &shared.clocks;
        let (pin, read_ts) = match opts.read_ts {
            Some(ts) => {
                // A timestamp from elsewhere: move the clock past it (so no later commit
                // lands at or below it), then wait for commits below it to land.
                clocks.hlc.update(ts)?;
                clocks.pipeline.wait_readable(ts);
                let pin = clocks
                    .gc
                    .pin_at(ts)
                    .map_err(|threshold| Error::TimestampTooOld {
                        requested: ts,
                        threshold,
                    })?;
                (pin, ts)
            }
            None => clocks.gc.pin_fresh(|| shared.readable()),
        };
        let uncertainty_limit = opts.uncertainty_limit.unwrap_or(read_ts).max(read_ts);
        let id = loop {
            let id = TxnId(rand::random());
            if id != TxnId::NONE {
                break id;
            }
        };
        Ok(Transaction {
            shared,
            id,
            isolation: opts.isolation,
            read_only: opts.read_only,
            read_ts,
            start_ts: read_ts,
            uncertainty_limit,
            writes: BTreeMap::new(),
            write_bytes: 0,
            read_keys: Vec::new(),
            read_ranges: Vec::new(),
            holds_locks: false,
            savepoints: Vec::new(),
            has_read: false,
            pin: Some(pin),
            state: State::Active,
        })
    }

    pub fn id(&self) -> TxnId {
        self.id
    }

    pub fn isolation(&self) -> IsolationLevel {
        self.isolation
    }

    /// The snapshot timestamp (READ COMMITTED: the first statement's).
    pub fn read_ts(&self) -> Timestamp {
        self.read_ts
    }

    /// The read timestamp the transaction began with; unlike [`Self::read_ts`] it never
    /// moves (what `now()` reports).
    pub fn start_ts(&self) -> Timestamp {
        self.start_ts
    }

    pub fn uncertainty_limit(&self) -> Timestamp {
        self.uncertainty_limit
    }

    /// Bytes of keys and values buffered for commit.
    pub fn write_set_bytes(&self) -> u64 {
        self.write_bytes
    }

    fn check_active(&self) -> Result<()> {
        match self.state {
            State::Active => Ok(()),
            State::Committed => Err(Error::NotActive("has committed")),
            State::RolledBack => Err(Error::NotActive("was rolled back")),
            State::Failed => Err(Error::NotActive("failed; roll it back")),
        }
    }

    fn check_key(key: &[u8]) -> Result<()> {
        if key.len() > KEY_BYTES_MAX {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                max: KEY_BYTES_MAX,
            });
        }
        Ok(())
    }

    fn check_writable(&self, key: &[u8], value_len: usize) -> Result<()> {
        self.check_active()?;
        if self.read_only {
            return Err(Error::InvalidArgument("write in a read-only transaction"));
        }
        Self::check_key(key)?;
        let max = self.shared.opts.value_bytes_max;
        if value_len > max {
            return Err(Error::ValueTooLarge {
                len: value_len,
                max,
            });
        }
        Ok(())
    }

    /// Ends the transaction after an error that must end it; passes the error through.
    ///
    /// After a conflict with a commit that is still on its way to the engine, it waits for
    /// that commit to land before returning: a retry started earlier would read below it and
    /// fail the same way, spinning for as long as the other commit's fsync takes.
    fn fail(&mut self, e: Error) -> Error {
        let counters = &self.shared.counters;
        let conflicting = match &e {
            Error::WriteConflict { committed_ts, .. } => {
                counters.write_conflicts.fetch_add(1, Ordering::Relaxed);
                Some(*committed_ts)
            }
            Error::ReadConflict { committed_ts, .. } => {
                counters.read_conflicts.fetch_add(1, Ordering::Relaxed);
                Some(*committed_ts)
            }
            _ => None,
        };
        if self.state == State::Active {
            self.state = State::Failed;
            self.release();
            self.unpin();
        }
        if let Some(ts) = conflicting {
            self.shared.clocks.pipeline.wait_readable(ts);
        }
        e
    }

    /// Releases locks; the snapshot stays pinned while the transaction may still read.
    fn release(&mut self) {
        if self.holds_locks {
            self.shared.locks.release_all(self.id);
            self.holds_locks = false;
        }
    }

    /// Ends the transaction's hold on GC.
    fn unpin(&mut self) {
        if let Some(pin) = self.pin.take() {
            self.shared.clocks.gc.unpin(pin);
        }
    }

    /// Where this statement reads: the snapshot, or a fresh one at READ COMMITTED.
    fn read_at(&self) -> ReadAt {
        match self.isolation {
            IsolationLevel::ReadCommitted => ReadAt {
                read_ts: self.shared.readable(),
                uncertainty_limit: Timestamp::ZERO,
                txn: Some(self.id),
            },
            _ => ReadAt {
                read_ts: self.read_ts,
                uncertainty_limit: self.uncertainty_limit,
                txn: Some(self.id),
            },
        }
        .normalised()
    }

    fn records_reads(&self) -> bool {
        self.isolation == IsolationLevel::Serializable && !self.read_only
    }

    fn committed_value(&mut self, key: &[u8], at: &ReadAt) -> Result<Option<Vec<u8>>> {
        match versions::get(&self.shared.engine, key, at) {
            Ok(v) => Ok(v.and_then(|v| v.value)),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// The value of `key` as this transaction sees it.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_inner(key, true)
    }

    /// [`Self::get`] without adding `key` to the read set: a SERIALIZABLE commit does not
    /// fail because `key` changed after the snapshot. For a value that only says which cached
    /// copy of other keys is current (the SQL catalog generation); the caller then reports the
    /// keys it used from that copy with [`Self::track_read`]. Like any read, it pins the
    /// snapshot (it cannot move forward afterwards).
    pub fn get_untracked(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_inner(key, false)
    }

    /// Adds `key` to the read set as if it had been read now, without reading it: for a
    /// caller that knows the key's value at this snapshot from a cache (see
    /// [`Self::get_untracked`]). Pins the snapshot as a read does.
    pub fn track_read(&mut self, key: &[u8]) -> Result<()> {
        self.check_active()?;
        Self::check_key(key)?;
        self.has_read = true;
        if self.records_reads() {
            self.read_keys.push(key.to_vec());
        }
        Ok(())
    }

    fn get_inner(&mut self, key: &[u8], track: bool) -> Result<Option<Vec<u8>>> {
        self.check_active()?;
        Self::check_key(key)?;
        let pending = self.writes.get(key).cloned();
        match pending {
            Some(Pending::Put(v)) => return Ok(Some(v)),
            Some(Pending::Delete) => return Ok(None),
            _ => {}
        }
        let at = self.read_at();
        self.has_read = true;
        let base = self.committed_value(key, &at)?;
        if track && self.records_reads() {
            self.read_keys.push(key.to_vec());
        }
        Ok(match pending {
            Some(Pending::Ops(ops)) => Some(apply_ops(base.as_deref(), &ops)),
            _ => base,
        })
    }

    /// Rows with keys in `[start, end)` (`end = None`: to the end), as this transaction sees
    /// them, in key order (or reverse), at most `opts.limit`.
    pub fn scan(
        &mut self,
        start: &[u8],
        end: Option<&[u8]>,
        opts: ScanOptions,
    ) -> Result<Vec<Row>> {
        self.check_active()?;
        let hi = match end {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        let buffered: Vec<(Vec<u8>, Pending)> = self
            .writes
            .range::<[u8], _>((Bound::Included(start), hi))
            .map(|(k, p)| (k.clone(), p.clone()))
            .collect();
        let at = self.read_at();
        self.has_read = true;
        let fetch = opts.limit.saturating_add(buffered.len());
        let stored = match versions::scan(&self.shared.engine, start, end, &at, fetch, opts.reverse)
        {
            Ok(s) => s,
            Err(e) => return Err(self.fail(e)),
        };
        // The part of the range the stored rows describe completely.
        let boundary: Option<Vec<u8>> = if stored.truncated {
            stored.rows.last().map(|r| r.0.clone())
        } else {
            None
        };
        let in_covered = |k: &[u8]| match &boundary {
            None => true,
            Some(b) if opts.reverse => k >= b.as_slice(),
            Some(b) => k <= b.as_slice(),
        };
        if self.records_reads() {
            let range = match (&boundary, opts.reverse) {
                (None, _) => (start.to_vec(), end.map(<[u8]>::to_vec)),
                (Some(b), false) => {
                    let mut past = b.clone();
                    past.push(0);
                    (start.to_vec(), Some(past))
                }
                (Some(b), true) => (b.clone(), end.map(<[u8]>::to_vec)),
            };
            self.read_ranges.push(range);
        }
        if buffered.is_empty() {
            // Nothing of ours to merge: the stored rows are already in order, at most
            // `limit` of them.
            return Ok(stored.rows);
        }
        let mut merged: BTreeMap<Vec<u8>, Vec<u8>> = stored.rows.into_iter().collect();
        for (k, p) in buffered {
            if !in_covered(&k) {
                continue;
            }
            match p {
                Pending::Put(v) => {
                    merged.insert(k, v);
                }
                Pending::Delete => {
                    merged.remove(&k);
                }
                Pending::Ops(ops) => {
                    let v = apply_ops(merged.get(&k).map(Vec::as_slice), &ops);
                    merged.insert(k, v);
                }
            }
        }
        let rows: Vec<Row> = if opts.reverse {
            merged.into_iter().rev().take(opts.limit).collect()
        } else {
            merged.into_iter().take(opts.limit).collect()
        };
        Ok(rows)
    }

    /// Early abort (SNAPSHOT, SERIALIZABLE): fails if `key` has a commit newer than the
    /// snapshot, unless the snapshot can move forward past that commit (`move_snapshot`).
    /// This spares blind writers an abort against commits still on their way to the engine,
    /// and a SERIALIZABLE transaction that locks a row before reading it (`get_for_update`)
    /// an abort against the writer it waited for, when nothing it had read changed.
    fn check_no_newer_commit(&mut self, key: &[u8]) -> Result<()> {
        if self.isolation == IsolationLevel::ReadCommitted {
            return Ok(());
        }
        for _ in 0..SNAPSHOT_MOVES_MAX {
            let found = {
                let c = self.shared.committing.lock();
                self.shared.written_after(&c, key, self.read_ts)
            };
            let committed_ts = match found {
                Ok(None) => return Ok(()),
                Ok(Some(ts)) => ts,
                Err(e) => return Err(self.fail(e)),
            };
            if !self.may_move_snapshot() || !self.move_snapshot(committed_ts)? {
                return Err(self.fail(Error::WriteConflict {
                    key: key.to_vec(),
                    committed_ts,
                }));
            }
        }
        let err = Error::WriteConflict {
            key: key.to_vec(),
            committed_ts: self.read_ts,
        };
        Err(self.fail(err))
    }

    /// Whether the snapshot may move forward at all: a SERIALIZABLE transaction records
    /// every read, so a move can check them; a SNAPSHOT one records none, so it may move only
    /// while it has read nothing.
    fn may_move_snapshot(&self) -> bool {
        !self.read_only && (self.records_reads() || !self.has_read)
    }

    /// Moves the snapshot up to `to` when what the transaction did so far would be the same
    /// at `to`: no key it wrote, read or scanned (SERIALIZABLE) has a commit newer than the
    /// snapshot, exactly the commit-time validation. Returns whether it moved.
    ///
    /// Why that keeps SERIALIZABLE: every value read at the old snapshot is also the value at
    /// `to`, so the transaction is indistinguishable from one that began at `to`, and its
    /// commit validates the same reads from `to` on.
    fn move_snapshot(&mut self, to: Timestamp) -> Result<bool> {
        let clocks = &self.shared.clocks;
        // `to` is a commit that may still be on its way to the engine: wait for it.
        clocks.pipeline.wait_readable(to);
        {
            let c = self.shared.committing.lock();
            match self.validate(&self.shared, &c) {
                Ok(()) => {}
                Err(Error::WriteConflict { .. } | Error::ReadConflict { .. }) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        let Ok(pin) = clocks.gc.pin_at(to) else {
            return Ok(false);
        };
        if let Some(old) = self.pin.replace(pin) {
            clocks.gc.unpin(old);
        }
        self.read_ts = to;
        self.uncertainty_limit = self.uncertainty_limit.max(to);
        self.shared
            .counters
            .snapshot_moves
            .fetch_add(1, Ordering::Relaxed);
        Ok(true)
    }

    fn lock(&mut self, key: &[u8], mode: LockMode, wait: LockWait) -> Result<LockOutcome> {
        let policy = match wait {
            LockWait::Block => WaitPolicy::Block {
                timeout: self.shared.opts.lock_timeout,
            },
            LockWait::NoWait => WaitPolicy::NoWait,
            LockWait::SkipLocked => WaitPolicy::SkipLocked,
        };
        match self.shared.locks.acquire(self.id, key, mode, policy) {
            Ok(outcome) => {
                if outcome == LockOutcome::Acquired {
                    self.holds_locks = true;
                }
                Ok(outcome)
            }
            Err(e) => {
                let err = match e {
                    LockError::NotAvailable { holder } => Error::LockNotAvailable {
                        key: key.to_vec(),
                        holder,
                    },
                    LockError::Timeout { waited_ms } => Error::LockTimeout {
                        key: key.to_vec(),
                        waited_ms,
                    },
                    LockError::Deadlock { cycle, .. } => Error::Deadlock { cycle },
                    LockError::Cancelled { .. } => Error::NotActive("was cancelled"),
                };
                Err(self.fail(err))
            }
        }
    }

    fn buffer(&mut self, key: &[u8], p: Pending) -> Result<()> {
        let old = self
            .writes
            .get(key)
            .map_or(0, |o| o.bytes() + key.len() as u64);
        let new = p.bytes() + key.len() as u64;
        let total = self.write_bytes - old + new;
        let max = self.shared.opts.write_set_bytes_max;
        if total > max {
            return Err(Error::TxnTooLarge { bytes: total, max });
        }
        self.write_bytes = total;
        if let Some(top) = self.savepoints.last_mut() {
            if !top.undo.contains_key(key) {
                top.undo.insert(key.to_vec(), self.writes.get(key).cloned());
            }
        }
        self.writes.insert(key.to_vec(), p);
        Ok(())
    }

    /// Opens a savepoint: a later `rollback_to_savepoint` puts the buffered writes back as
    /// they are now.
    pub fn savepoint(&mut self) -> Result<SavepointId> {
        self.check_active()?;
        self.savepoints.push(SavepointFrame {
            undo: BTreeMap::new(),
            write_bytes: self.write_bytes,
        });
        Ok(SavepointId(self.savepoints.len() - 1))
    }

    fn check_savepoint(&self, sp: SavepointId) -> Result<()> {
        self.check_active()?;
        if sp.0 >= self.savepoints.len() {
            return Err(Error::InvalidArgument("no such savepoint"));
        }
        Ok(())
    }

    /// Undoes every write made since `sp` was opened and closes the savepoints opened after
    /// it; `sp` stays open (as `ROLLBACK TO SAVEPOINT` leaves it).
    pub fn rollback_to_savepoint(&mut self, sp: SavepointId) -> Result<()> {
        self.check_savepoint(sp)?;
        // Newest first, so an older frame's (older) value of a key wins.
        while self.savepoints.len() > sp.0 {
            let Some(frame) = self.savepoints.pop() else {
                break;
            };
            for (key, old) in frame.undo {
                match old {
                    Some(p) => {
                        self.writes.insert(key, p);
                    }
                    None => {
                        self.writes.remove(&key);
                    }
                }
            }
            self.write_bytes = frame.write_bytes;
        }
        self.savepoints.push(SavepointFrame {
            undo: BTreeMap::new(),
            write_bytes: self.write_bytes,
        });
        Ok(())
    }

    /// Closes `sp` and every savepoint opened after it, keeping their writes (they become
    /// part of the enclosing savepoint, or of the transaction).
    pub fn release_savepoint(&mut self, sp: SavepointId) -> Result<()> {
        self.check_savepoint(sp)?;
        while self.savepoints.len() > sp.0 {
            let Some(frame) = self.savepoints.pop() else {
                break;
            };
            if let Some(parent) = self.savepoints.last_mut() {
                for (key, old) in frame.undo {
                    parent.undo.entry(key).or_insert(old);
                }
            }
        }
        Ok(())
    }

    /// How many savepoints are open.
    pub fn savepoint_depth(&self) -> usize {
        self.savepoints.len()
    }

    fn write(&mut self, key: &[u8], p: Pending) -> Result<()> {
        let len = match &p {
            Pending::Put(v) => v.len(),
            _ => 0,
        };
        self.check_writable(key, len)?;
        let projected = self.write_bytes + key.len() as u64 + p.bytes();
        if projected > self.shared.opts.write_set_bytes_max && !self.writes.contains_key(key) {
            return Err(Error::TxnTooLarge {
                bytes: projected,
                max: self.shared.opts.write_set_bytes_max,
            });
        }
        if self.isolation == IsolationLevel::ReadCommitted {
            self.lock(key, LockMode::Exclusive, LockWait::Block)?;
        } else {
            self.check_no_newer_commit(key)?;
        }
        self.buffer(key, p)
    }

    /// Sets `key` to `value` at commit.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.write(key, Pending::Put(value.to_vec()))
    }

    /// Deletes `key` at commit.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.write(key, Pending::Delete)
    }

    /// Applies `op` with operand `param` to `key` at commit (FoundationDB semantics; no read
    /// conflict, no lock wait).
    pub fn atomic_op(&mut self, key: &[u8], op: AtomicOp, param: &[u8]) -> Result<()> {
        self.check_writable(key, param.len())?;
        let next = match self.writes.get(key) {
            Some(Pending::Put(v)) => Pending::Put(atomic::apply(op, Some(v), param)),
            Some(Pending::Delete) => Pending::Put(atomic::apply(op, None, param)),
            Some(Pending::Ops(ops)) => {
                let mut ops = ops.clone();
                ops.push((op, param.to_vec()));
                Pending::Ops(ops)
            }
            None => Pending::Ops(vec![(op, param.to_vec())]),
        };
        self.buffer(key, next)
    }

    /// Locks `key` (the KV form of `SELECT ... FOR UPDATE` / `FOR SHARE`) and reads it. At
    /// READ COMMITTED the read happens after the lock is granted and sees the newest commit;
    /// at SNAPSHOT and SERIALIZABLE a commit newer than the snapshot is a `WriteConflict`
    /// unless the snapshot can move past it (`check_no_newer_commit`), and the read is at
    /// the snapshot after the lock.
    pub fn get_for_update(
        &mut self,
        key: &[u8],
        mode: LockMode,
        wait: LockWait,
    ) -> Result<Locked<Option<Vec<u8>>>> {
        self.check_active()?;
        Self::check_key(key)?;
        if self.lock(key, mode, wait)? == LockOutcome::Skipped {
            return Ok(Locked::Skipped);
        }
        self.check_no_newer_commit(key)?;
        Ok(Locked::Acquired(self.get(key)?))
    }

    /// Locks and returns the rows in `[start, end)`, at most `opts.limit` of them; with
    /// `SkipLocked`, rows locked by others are left out. At READ COMMITTED each row is re-read
    /// after its lock is granted, and rows deleted meanwhile are left out.
    pub fn scan_for_update(
        &mut self,
        start: &[u8],
        end: Option<&[u8]>,
        opts: ScanOptions,
        mode: LockMode,
        wait: LockWait,
    ) -> Result<Vec<Row>> {
        let candidates = self.scan(
            start,
            end,
            ScanOptions {
                limit: usize::MAX,
                reverse: opts.reverse,
            },
        )?;
        let mut out = Vec::new();
        for (k, _) in candidates {
            if out.len() >= opts.limit {
                break;
            }
            if let Locked::Acquired(Some(v)) = self.get_for_update(&k, mode, wait)? {
                out.push((k, v));
            }
        }
        Ok(out)
    }

    /// Commits: validates, writes every buffered change at one commit timestamp, releases
    /// locks. A retryable error means nothing was written.
    pub fn commit(&mut self) -> Result<CommitInfo> {
        self.check_active()?;
        if self.writes.is_empty() {
            self.state = State::Committed;
            self.release();
            self.unpin();
            self.shared
                .counters
                .read_only_commits
                .fetch_add(1, Ordering::Relaxed);
            return Ok(CommitInfo { commit_ts: None });
        }
        // 1. Exclusive locks on every written key, in key order.
        let keys: Vec<Vec<u8>> = self.writes.keys().cloned().collect();
        for k in &keys {
            self.lock(k, LockMode::Exclusive, LockWait::Block)?;
        }
        // 2. Validate and take the commit timestamp (a replicated database first confirms it
        // leads and has applied every earlier term's commits, which validation reads).
        let shared = Arc::clone(&self.shared);
        let term = match shared.serve() {
            Ok(t) => t,
            Err(e) => return Err(self.fail(e)),
        };
        let mut batch = WriteBatch::new();
        let commit_ts = {
            let mut c = shared.committing.lock();
            if let Err(e) = self.validate(&shared, &c) {
                drop(c);
                return Err(self.fail(e));
            }
            let ts = shared.clocks.pipeline.assign(&shared.clocks.hlc);
            for k in &keys {
                c.recent.record(k, ts);
            }
            shared.maybe_raise_ceiling(&mut c, ts, &mut batch);
            ts
        };
        // 3. Build and write the batch; 4. finish in the pipeline whatever happened.
        let written =
            self.fill_batch(&mut batch, commit_ts)
                .and_then(|()| match &shared.opts.replicator {
                    Some(r) => r.replicate(term, batch),
                    None => {
                        let wo = WriteOptions {
                            sync: shared.opts.sync_commits,
                        };
                        Ok(shared.engine.write(batch, &wo)?)
                    }
                });
        shared.clocks.pipeline.finish(commit_ts);
        let applied = shared.readable();
        shared.committing.lock().recent.evict(applied);
        match written {
            Ok(()) => {
                self.state = State::Committed;
                self.release();
                self.unpin();
                shared.counters.commits.fetch_add(1, Ordering::Relaxed);
                Ok(CommitInfo {
                    commit_ts: Some(commit_ts),
                })
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    fn validate(&self, shared: &Shared, c: &crate::db::Committing) -> Result<()> {
        if self.isolation == IsolationLevel::ReadCommitted {
            return Ok(());
        }
        for (k, p) in &self.writes {
            if matches!(p, Pending::Ops(_)) {
                continue;
            }
            if let Some(ts) = shared.written_after(c, k, self.read_ts)? {
                return Err(Error::WriteConflict {
                    key: k.clone(),
                    committed_ts: ts,
                });
            }
        }
        if self.isolation == IsolationLevel::Serializable {
            for k in &self.read_keys {
                if let Some(ts) = shared.written_after(c, k, self.read_ts)? {
                    return Err(Error::ReadConflict {
                        key: k.clone(),
                        committed_ts: ts,
                    });
                }
            }
            for (s, e) in &self.read_ranges {
                if let Some((k, ts)) =
                    shared.range_written_after(c, s, e.as_deref(), self.read_ts)?
                {
                    return Err(Error::ReadConflict {
                        key: k,
                        committed_ts: ts,
                    });
                }
            }
        }
        Ok(())
    }

    fn fill_batch(&self, batch: &mut WriteBatch, commit_ts: Timestamp) -> Result<()> {
        for (k, p) in &self.writes {
            match p {
                Pending::Put(v) => versions::put_version(batch, k, commit_ts, Some(v)),
                Pending::Delete => versions::put_version(batch, k, commit_ts, None),
                Pending::Ops(ops) => {
                    // We hold the key's exclusive lock, so its newest version is final.
                    let base = versions::get(&self.shared.engine, k, &ReadAt::latest())?
                        .and_then(|v| v.value);
                    let v = apply_ops(base.as_deref(), ops);
                    versions::put_version(batch, k, commit_ts, Some(&v));
                }
            }
        }
        Ok(())
    }

    /// Abandons the transaction: drops buffered writes, releases locks. Idempotent.
    pub fn rollback(&mut self) {
        if matches!(self.state, State::Active | State::Failed) {
            if self.state == State::Active {
                self.shared
                    .counters
                    .rollbacks
                    .fetch_add(1, Ordering::Relaxed);
            }
            self.state = State::RolledBack;
        }
        self.release();
        self.unpin();
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        self.rollback();
    }
}

fn apply_ops(base: Option<&[u8]>, ops: &[(AtomicOp, Vec<u8>)]) -> Vec<u8> {
    let mut cur: Option<Vec<u8>> = base.map(<[u8]>::to_vec);
    for (op, param) in ops {
        cur = Some(atomic::apply(*op, cur.as_deref(), param));
    }
    cur.unwrap_or_default()
}

impl ReadAt {
    /// Makes the uncertainty limit at least the read timestamp.
    fn normalised(mut self) -> ReadAt {
        if self.uncertainty_limit < self.read_ts {
            self.uncertainty_limit = self.read_ts;
        }
        self
    }
}
