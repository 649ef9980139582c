//! End-to-end tests against a real `cairn start` process over TCP, with real PostgreSQL
//! clients: tokio-postgres (Rust), psql and pgbench (installed by Debian's postgresql-client;
//! the tests that need them say so and skip with a message when the binary is missing), and
//! the project's sqllogictest files (`tests/slt/*.slt`).

mod catalog;
mod clients;
mod drivers;
mod psql;
mod server;
mod slt;
mod types;
