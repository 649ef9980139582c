//! cairn-mvcc: multi-version concurrency control over the storage engine, and the embedded
//! transactional database built on it.
//!
//! Layer 3: depends on `cairn-lsm` (storage), `cairn-codec`, `cairn-types`, and `cairn-env`
//! (the clock). The replicated layer will apply the same version and intent commands
//! (`versions`) through Raft; nothing here assumes a single node except [`Db`]'s one-batch
//! commit.
//!
//! Main types: [`Db`] (open, transactions with automatic retry, snapshots, `AS OF` reads),
//! [`Transaction`] (get, put, delete, scan, atomic ops, row locks, commit, rollback),
//! [`Hlc`] (hybrid logical clock), [`LockTable`] (row locks, deadlock detection), and the
//! format of versions and intents in [`key`] (`docs/format/mvcc.md`).
//!
//! Threading: `Db` is `Send + Sync`; each `Transaction` is `Send` and used by one thread at
//! a time; lock waits block the calling thread.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )
)]

pub use cairn_codec::atomic;
pub mod conflict;
mod db;
pub mod error;
pub mod gc;
pub mod hlc;
pub mod key;
pub mod lock_table;
pub mod pipeline;
mod txn;
pub mod versions;

pub use atomic::AtomicOp;
pub use cairn_types::{IsolationLevel, Timestamp, TxnId};
pub use db::{
    Db, DbOptions, DbStats, Replicator, RetryPolicy, KEY_BYTES_MAX, VALUE_BYTES_LIMIT_MAX,
};
pub use error::{Error, Result};
pub use gc::GcStats;
pub use hlc::{ClockOffsetError, Hlc};
pub use lock_table::{LockMode, LockTable, LockTableConfig};
pub use txn::{CommitInfo, LockWait, Locked, SavepointId, ScanOptions, Transaction, TxnOptions};
