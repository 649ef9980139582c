//! cairn-lsm: Cairn's storage engine, a log-structured merge tree.
//!
//! Layer 2: depends on `cairn-codec`; the MVCC layer builds on it. See `docs/storage.md` for
//! the design as built and `docs/formats.md` for every on-disk byte.
//!
//! Main types: [`Db`] (open, write, read, iterate, snapshot, flush, compact, ingest,
//! checkpoint), [`WriteBatch`], [`Options`]. Internally: [`wal`] (write-ahead log),
//! `memtable` (skip list), [`sst`] (tables), [`manifest`] (manifest edits), `file_set` (the
//! set of live files), `compaction`.
//!
//! ```
//! use cairn_lsm::{Db, Options, ReadOptions, WriteBatch, WriteOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;
//! db.put(b"hello", b"world", &WriteOptions { sync: true })?;
//! let mut batch = WriteBatch::new();
//! batch.put(b"a", b"1");
//! batch.delete_range(b"h", b"i"); // removes "hello"
//! db.write(batch, &WriteOptions::default())?;
//! assert_eq!(db.get(b"hello", &ReadOptions::default())?, None);
//! let mut it = db.iter(ReadOptions::default())?;
//! it.seek_to_first()?;
//! assert_eq!((it.key(), it.value()), (&b"a"[..], &b"1"[..]));
//! db.close()?;
//! # Ok(())
//! # }
//! ```
//!
//! Threading: `Db` is `Send + Sync`; any number of threads write (group commit) and read
//! concurrently. One background thread flushes memtables; `Options::compaction_threads`
//! threads compact.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )
)]

mod batch;
pub mod check;
mod compaction;
pub mod compaction_filter;
mod db;
mod db_iter;
pub mod error;
pub mod file_meta;
mod file_set;
pub mod filename;
pub mod ikey;
pub mod iter;
pub mod manifest;
mod memtable;
pub mod options;
pub mod range_del;
pub mod sst;
mod stats;
pub mod wal;

pub use batch::{BatchOp, BatchOps, WriteBatch, BATCH_BYTES_MAX, KEY_BYTES_MAX, VALUE_BYTES_MAX};
pub use compaction_filter::{
    CompactionContext, CompactionFilter, CompactionFilterFactory, Decision, InputRange,
};
pub use db::{Db, Snapshot, Visit, Visitor};
pub use db_iter::DbIterator;
pub use error::{CorruptionKind, Error, Result};
pub use file_meta::FileMeta;
pub use ikey::SeqNo;
pub use options::{Compression, Options, ReadOptions, WriteOptions};
pub use range_del::RangeTombstone;
pub use stats::{LevelStats, Stats};
