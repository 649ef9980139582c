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
//! [`kv`] is `cairn bench kv`: puts and linearizable gets against a running replicated KV
//! service over gRPC, a Cairn cluster or an etcd cluster (etcd's client is generated here from
//! `proto/etcd_kv.proto` by protox and tonic, without `protoc`).
//!
//! Threading: `engine` and `txn` run on the caller's thread and spawn `--threads` scoped
//! worker threads per workload; nothing outlives [`engine::run`]. `kv` runs its client tasks
//! on a tokio runtime of its own that ends with [`kv::run`].

pub mod engine;
pub mod error;
pub mod kv;
pub mod txn;

pub use error::{BenchError, Result};
