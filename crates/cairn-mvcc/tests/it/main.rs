//! Integration tests of cairn-mvcc: one binary (see STYLE.md §8), one module per concern.

mod anomalies;
mod bank;
mod crash;
mod db;
mod gc;
mod locks;
mod replicated;
mod serializability;
