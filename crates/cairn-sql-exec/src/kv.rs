//! The transactional key-value interface the SQL layer runs on.
//!
//! Role: the executor and the catalog read and write only through [`KvTxn`]; the binary crate
//! implements [`KvStore`] over the single-node MVCC engine today and over the distributed
//! transaction coordinator later, so SQL never reaches around the transaction layer.
//!
//! Invariants (what implementations promise):
//! 1. A `KvTxn` sees its own writes, and reads a consistent snapshot at SNAPSHOT and
//!    SERIALIZABLE (a fresh one per statement at READ COMMITTED, see [`KvTxn::new_statement`]).
//! 2. Errors come back as `SqlError`s with PostgreSQL SQLSTATEs already chosen (40001 for
//!    serialization failures, 40P01 deadlocks, 55P03 lock timeouts, 54000 size limits), so
//!    drivers' retry loops work unchanged.
//! 3. After `commit` returns `Ok` the writes are durable (fsync'd) and visible to every
//!    transaction that starts afterwards.

use cairn_sql_plan::plan::{RowLockStrength, RowLockWait};
use cairn_sql_plan::Result;
pub use cairn_types::IsolationLevel;

/// A key/value pair as scans return it.
pub type KvPair = (Vec<u8>, Vec<u8>);

/// Opens transactions.
pub trait KvStore: Send + Sync + 'static {
    fn begin(&self, isolation: IsolationLevel, read_only: bool) -> Result<Box<dyn KvTxn>>;
}

/// One open transaction. Dropping it without `commit` rolls it back.
pub trait KvTxn: Send {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// [`KvTxn::get`] without adding `key` to a SERIALIZABLE transaction's read set: a later
    /// change of `key` does not fail the commit. Only for a value that says which cached copy
    /// of other keys is current (the catalog generation, `catalog_cache.rs`); the caller reports
    /// the keys it used from the copy with [`KvTxn::track_read`].
    fn get_untracked(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Adds `key` to the read set as if it had been read now, without reading it: the caller
    /// knows the key's value at this snapshot from a cache validated by a `get_untracked`.
    fn track_read(&mut self, key: &[u8]) -> Result<()>;
    /// Adds `delta` to the 8-byte little-endian counter at `key` (missing = 0) at commit,
    /// against the newest committed value: concurrent adders never conflict, and the
    /// transaction reads its own pending addition.
    fn add_u64(&mut self, key: &[u8], delta: u64) -> Result<()>;
    /// Locks `key` exclusively (waiting behind other writers) and reads it, as
    /// [`KvTxn::lock_row`] does.
    fn get_for_update(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// `SELECT ... FOR UPDATE / FOR SHARE` on one row: locks `key` as `strength` asks,
    /// waiting as `wait` says, and reads it. At READ COMMITTED it reads the newest committed
    /// value. At SNAPSHOT/SERIALIZABLE a commit of `key` newer than the snapshot is a 40001,
    /// except that a SERIALIZABLE transaction whose reads so far all still hold moves its
    /// snapshot past that commit and reads at the new snapshot (a transaction that has read
    /// nothing may move at SNAPSHOT too). `None`: the row was skipped (`SKIP LOCKED`);
    /// `Some(None)`: it does not exist.
    fn lock_row(
        &mut self,
        key: &[u8],
        strength: RowLockStrength,
        wait: RowLockWait,
    ) -> Result<Option<Option<Vec<u8>>>>;
    /// Pairs with keys in `[start, end)`, in key order (or reverse), at most `limit`.
    fn scan(
        &mut self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Vec<KvPair>>;
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    fn delete(&mut self, key: &[u8]) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self);
    /// Opens a savepoint at depth `savepoint_depth()` (0 is the oldest open one).
    fn savepoint(&mut self) -> Result<()>;
    /// Undoes the writes made since the savepoint at `depth` was opened and closes the
    /// newer ones; the one at `depth` stays open.
    fn rollback_to_savepoint(&mut self, depth: usize) -> Result<()>;
    /// Closes the savepoint at `depth` and the newer ones, keeping their writes.
    fn release_savepoint(&mut self, depth: usize) -> Result<()>;
    fn isolation(&self) -> IsolationLevel;
    /// Called before each statement: at READ COMMITTED the statement reads a fresh snapshot.
    fn new_statement(&mut self) -> Result<()>;
    /// Called after each statement of a transaction block, whether it succeeded or not. An
    /// implementation may report a write's error late (a gateway pipelines writes to a
    /// remote leader without waiting for each answer); it reports any such error here at
    /// the latest, so the statement that wrote fails, not a later one. An error of a
    /// statement that already failed is dropped with it.
    fn end_statement(&mut self) -> Result<()> {
        Ok(())
    }
    /// Wall-clock time of the transaction's read timestamp, in microseconds since the Unix
    /// epoch (`now()` is constant within a transaction).
    fn timestamp_micros(&self) -> i64;
}
