//! Cairn's embedded API: a transactional key-value database in your process.
//!
//! This crate is also the `cairn` binary (server and CLI); as a library it re-exports the
//! embedded database from `cairn-mvcc`. Transactions are SERIALIZABLE by default, retried
//! automatically on conflict by [`Db::transaction`], and durable when `commit` returns.
//!
//! ```
//! use cairn::{AtomicOp, Db, DbOptions, IsolationLevel, ScanOptions};
//!
//! # fn main() -> Result<(), cairn::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! let db = Db::open(dir.path(), DbOptions::default())?;
//!
//! // A transfer: runs again by itself if a concurrent transaction conflicts with it.
//! db.transaction(|txn| {
//!     txn.put(b"account/alice", &100i64.to_le_bytes())?;
//!     txn.put(b"account/bob", &50i64.to_le_bytes())?;
//!     txn.atomic_op(b"stats/transfers", AtomicOp::Add, &1u64.to_le_bytes())
//! })?;
//!
//! // Manual control, at another isolation level.
//! let mut txn = db.begin(IsolationLevel::Snapshot)?;
//! let rows = txn.scan(b"account/", Some(b"account0"), ScanOptions::default())?;
//! assert_eq!(rows.len(), 2);
//! txn.commit()?;
//!
//! // A consistent read-only view; `db.snapshot_at(ts)` reads the past.
//! let mut view = db.snapshot()?;
//! assert_eq!(view.get(b"stats/transfers")?, Some(1u64.to_le_bytes().to_vec()));
//! # Ok(())
//! # }
//! ```

pub use cairn_mvcc::{
    AtomicOp, CommitInfo, Db, DbOptions, DbStats, Error, IsolationLevel, LockMode, LockWait,
    Locked, Result, RetryPolicy, ScanOptions, Timestamp, Transaction, TxnId, TxnOptions,
};

pub mod cluster_store;
pub mod pg_session;
pub mod sql_store;
pub mod start;
