//! De-risking spike: PostgreSQL wire protocol for Cairn on top of `pgwire`.
//!
//! * [`cairn_types`] — stand-in for the `cairn-types` crate.
//! * [`session`]     — the proposed `cairn_pgwire::Session` trait.
//! * [`pg_adapter`]  — pgwire handlers driving a `Session` (would be `cairn-pgwire`).
//! * [`fake_engine`] — a toy engine implementing `Session` for the tests.

pub mod cairn_types;
pub mod fake_engine;
pub mod pg_adapter;
pub mod session;
