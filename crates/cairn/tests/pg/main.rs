//! The `cairn` crate's integration tests, in one binary (STYLE.md §8: one link of the whole
//! stack instead of one per file, which is most of CI's build time):
//! - end to end against a real `cairn start` process over TCP, with real PostgreSQL clients:
//!   tokio-postgres (Rust), psql and pgbench (installed by Debian's postgresql-client; the
//!   tests that need them say so and skip with a message when the binary is missing), drivers
//!   in other languages (`drivers`), and the project's sqllogictest files (`tests/slt/*.slt`);
//! - SQL sessions in process over the real storage stack (`sql_session`, `sql_types`);
//! - the `cairn debug` tools (`debug_cli`);
//! - a real three-node cluster over gRPC (`cluster`);
//! - `cairn bench kv` against a real one-node cluster (`bench_kv`).

mod bench_kv;
mod catalog;
mod clients;
mod cluster;
mod debug_cli;
mod drivers;
mod planner;
mod psql;
mod server;
mod session_fixture;
mod slt;
mod sql_session;
mod sql_types;
mod types;
