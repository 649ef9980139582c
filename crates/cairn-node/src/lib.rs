//! cairn-node: a Cairn node. It hosts range replicas (the Raft loop of `cairn-raft` over the
//! storage engine), talks Raft to its peers over gRPC, and serves the client KV API and the
//! node API (status, init, bootstrap, membership). See `docs/replication.md`.
//!
//! Layer 7: depends on `cairn-raft`, `cairn-proto`, `cairn-lsm` (adapted as the Raft engine),
//! `cairn-mvcc` (the SQL range's replicated database, `sql_range`) and `cairn-codec`. Threads: the Raft loop is one OS thread; gRPC runs on the caller's tokio
//! runtime; they talk through channels only.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        clippy::cast_possible_truncation
    )
)]

pub mod busy;
pub mod error;
pub mod identity;
pub mod kv_service;
pub mod lsm_engine;
pub mod node_service;
pub mod raft_loop;
pub mod server;
pub mod sql_range;
pub mod sqltxn_service;
pub mod transport;

pub use error::{NodeError, Result};
pub use lsm_engine::LsmEngine;
pub use server::{start, NodeConfig, NodeHandle};
