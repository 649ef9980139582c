//! `cairn-sql-exec`: the back half of Cairn's SQL engine.
//!
//! What it is: the catalog stored in the key space ([`catalog`], [`keys`]) and its caches
//! ([`catalog_cache`] for descriptors, [`plan_cache`] for prepared statements), row encoding
//! ([`row`]), DDL ([`ddl`]), the executor ([`exec`]), foreign keys ([`fk`]), PostgreSQL's system catalogs as
//! read-only virtual tables ([`pg_catalog`]), table statistics ([`analyze`], refreshed in
//! the background by [`auto_analyze`]) and SQL sessions ([`session`]), all over the
//! transactional key-value interface [`kv::KvTxn`]. What it is not: it knows nothing of the
//! PostgreSQL wire protocol (the `cairn` binary adapts a [`session::Session`] to
//! `cairn-pgwire`) nor of how transactions are implemented (the binary implements
//! [`kv::KvStore`] over `cairn-mvcc`).
//!
//! Layer 6 (STYLE.md §1). Threading: an [`session::Engine`] is shared (`Send + Sync`); a
//! [`session::Session`] belongs to one connection and is used from one task at a time.

pub mod alter;
pub mod analyze;
pub mod auto_analyze;
pub mod catalog;
pub mod catalog_cache;
pub mod copy;
pub mod ddl;
pub mod exec;
pub mod fk;
pub mod index;
pub mod keys;
pub mod kv;
pub mod pg_catalog;
pub mod pg_stats;
pub mod plan_cache;
pub mod row;
pub mod sequence;
pub mod session;
pub mod volatile;

pub use session::{Engine, ExecResult, Prepared, Session, TxStatus};
