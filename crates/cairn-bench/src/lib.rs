//! cairn-bench: the workloads behind `cairn bench`.
//!
//! Layer T (tooling): may depend on any crate below it; only the `cairn` binary depends on it.
//! It is not a test harness for correctness, though it refuses to report figures for wrong
//! answers.
//!
//! Today it holds [`engine`], the db_bench-style storage benchmark (`cairn bench engine`)
//! that runs Cairn's LSM engine and, behind the cargo features `rocksdb` and `fjall`, peer
//! engines through one trait, [`engine::BenchEngine`].
//!
//! [`txn`] is `cairn bench txn`: YCSB workloads as transactions on the embedded
//! transactional database, against RocksDB's `OptimisticTransactionDB` behind `rocksdb`.
//!
//! Threading: a benchmark runs on the caller's thread and spawns `--threads` scoped worker
//! threads per workload; nothing outlives [`engine::run`].

pub mod engine;
pub mod error;
pub mod txn;

pub use error::{BenchError, Result};
